#pragma once
// The ECS service scheduler: keeps every service at its desired state by creating and stopping tasks (which
// the task reconciler then runs on the engine), rolls deployments within
// minimumHealthyPercent/maximumPercent, throttles tasks that keep failing to start, trips the deployment
// circuit breaker and posts ECS's service events. Level-triggered, one service at a time: plan_service()
// decides from the store alone; the ServiceScheduler applies the plan, and is woken by task changes (through
// the reconciler), by the API, and by the tick for what only time changes (health waits, backoff, repeated
// events).
#include <functional>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <berth/common/arn.hpp>
#include <berth/common/clock.hpp>
#include <berth/state/store.hpp>

namespace berth::scheduler {

struct ServiceSchedulerOptions {
  // A RUNNING task whose essential containers have no health check counts as healthy this long after it
  // started (ECS waits 40 s before counting it towards minimumHealthyPercent).
  TimeMs healthy_after_ms = 40'000;
  // Tasks that keep failing to start (never reaching RUNNING) are throttled: after `throttle_after_failures`
  // consecutive failures, launches wait throttle_base_ms, doubling with each further failure up to
  // throttle_max_ms (ECS: at most 27 minutes).
  int throttle_after_failures = 2;
  TimeMs throttle_base_ms = 5'000;
  TimeMs throttle_max_ms = 27 * 60'000;
  // A duplicate event (steady state, unable to place, ...) is posted again only after this long, or once its
  // cause went away and came back (ECS: six hours).
  TimeMs repeat_event_after_ms = 6 * 3600'000;
};

// Stops and starts one service should make now, and what its state is.
struct ServicePlan {
  struct Stop {
    std::string task_id;
    std::string reason;          // stoppedReason (stop code ServiceSchedulerInitiated)
    bool failed_health = false;  // stopped for failing its container health checks
  };
  struct Start {
    std::string started_by;                    // the deployment or task set the tasks belong to
    const state::ServiceSpec* spec = nullptr;  // what they run (points into the service)
    int count = 0;
    std::string instance_id;  // DAEMON: the container instance it must run on
  };
  std::vector<Stop> stops;
  std::vector<Start> starts;
  // ACTIVE (older) deployments: how many of their tasks stay once the stops are made.
  std::map<std::string, int> old_deployment_counts;
  int daemon_desired_count = -1;  // DAEMON: one task per ACTIVE container instance; -1 for REPLICA
  // Exactly the desired tasks run, all healthy, nothing else is left: the PRIMARY deployment has completed.
  bool steady = false;
  // A deployment cannot move: minimumHealthyPercent lets no task stop and maximumPercent lets none start.
  bool blocked_by_configuration = false;
  // Scale-in wanted to stop tasks that are protected (UpdateTaskProtection): the deployment or task set id.
  std::string scale_in_blocked_by_protection;
};

// What one service should do now (pure: reads the region, changes nothing). `launches_paused` holds back new
// tasks while start failures are being throttled.
ServicePlan plan_service(const state::RegionState& region, const state::Service& service, TimeMs now,
                         bool launches_paused, const ServiceSchedulerOptions& options);

// Whether a task counts as healthy for minimumHealthyPercent (RUNNING, and its health checks pass, or it has
// none and has run for options.healthy_after_ms).
bool counts_as_healthy(const state::Task& task, TimeMs now, const ServiceSchedulerOptions& options);

class ServiceScheduler {
 public:
  // `task_changed` hands a task the scheduler created or stopped to the task reconciler. `post` runs a
  // function later on the control strand (to reconcile the services that task changes touched, once per
  // burst); without one, run_dirty() must be called.
  ServiceScheduler(state::Store& store, const Clock& clock,
                   std::function<void(const std::string& task_id)> task_changed,
                   std::function<void(std::function<void()>)> post, ServiceSchedulerOptions options = {});

  // A task changed (the reconciler's observer): its service is reconciled soon.
  void task_changed(const state::Task& task);
  // A service's desired state changed (the API): it is reconciled soon.
  void service_changed(const Scope& scope, const std::string& service_key);
  // Reconciles the services marked by task_changed/service_changed.
  void run_dirty();
  // A level pass over every service that is not INACTIVE (what time alone changes).
  void tick();
  // Brings one service a step closer to its desired state. Idempotent.
  void reconcile(const Scope& scope, const std::string& service_key);
  // After a restore from --data-dir: what the tasks already did was counted by the berth that saw it.
  void adopt_all();
  // The store was cleared.
  void forget_all();
  // berth is shutting down: no service is reconciled any more (tasks stopped by the shutdown are not
  // replaced).
  void stop() { stopped_ = true; }

  const ServiceSchedulerOptions& options() const { return options_; }

 private:
  // What the scheduler remembers of a service between passes (not persisted: a restart forgets a backoff).
  struct Memory {
    int start_failures = 0;  // consecutive tasks that never reached RUNNING
    TimeMs launches_paused_until = 0;
    std::string primary_id;  // the PRIMARY deployment the throttle applies to; a new one resets it
    std::map<std::string, TimeMs> open_conditions;  // event message -> when it was last posted
  };

  void account(state::RegionState& region, const Scope& scope, state::Service& svc, Memory& memory,
               TimeMs now);
  bool apply(state::RegionState& region, const Scope& scope, state::Service& svc, Memory& memory,
             const ServicePlan& plan, TimeMs now);
  std::vector<std::string> launch(state::RegionState& region, const Scope& scope, state::Service& svc,
                                  Memory& memory, const ServicePlan::Start& start, TimeMs now);
  // Posts `message` unless the same condition was posted less than repeat_event_after_ms ago; true if posted.
  bool open_condition(state::Service& svc, Memory& memory, const std::string& message, TimeMs now);
  static void close_condition(Memory& memory, const std::string& message);
  void forget_missing_tasks();

  state::Store& store_;
  const Clock& clock_;
  std::function<void(const std::string&)> task_changed_;
  std::function<void(std::function<void()>)> post_;
  ServiceSchedulerOptions options_;
  std::map<std::string, Memory> memory_;  // by "<account>|<region>|<service key>"
  std::set<std::tuple<std::string, std::string, std::string>> dirty_;  // account, region, service key
  bool run_posted_ = false;
  bool stopped_ = false;
  // Task ids whose stop, first RUNNING and first healthy moment have been counted (each counts once).
  std::set<std::string> counted_stopped_;
  std::set<std::string> counted_running_;
  std::set<std::string> counted_healthy_;
};

}  // namespace berth::scheduler
