#include <berth/scheduler/service_scheduler.hpp>

#include <algorithm>
#include <map>
#include <utility>

#include <spdlog/spdlog.h>

#include <berth/scheduler/capacity_spread.hpp>
#include <berth/scheduler/placement.hpp>
#include <berth/scheduler/task_reconciler.hpp>
#include <berth/state/tasks.hpp>
#include <berth/state/transitions.hpp>

namespace berth::scheduler {

using state::Service;
using state::Task;
using state::TaskStatus;

namespace {

constexpr char kStopCode[] = "ServiceSchedulerInitiated";
constexpr char kFailedHealthReason[] = "Task failed container health checks";

std::string service_group(const Service& svc) { return "service:" + svc.name; }

bool is_service_task(const Task& t, const Service& svc) {
  return t.cluster_name == svc.cluster_name && t.group == service_group(svc);
}

std::string tasks_list(const std::vector<std::string>& ids) {
  std::string out;
  for (const auto& id : ids) {
    out += (out.empty() ? "" : " ") + std::string("(task ") + id + ")";
  }
  return out;
}

bool has_health_check(const Task& t) {
  return std::any_of(t.containers.begin(), t.containers.end(), [](const state::Container& c) {
    return c.essential && c.definition.contains("healthCheck");
  });
}

// Failing health checks count once the grace period (from the task's start) is over.
bool failed_health(const Task& t, const Service& svc, TimeMs now) {
  if (t.last_status != TaskStatus::kRunning || t.desired_status != TaskStatus::kRunning ||
      task_health_status(t) != "UNHEALTHY") {
    return false;
  }
  const TimeMs started = t.started_at.value_or(t.created_at);
  return now >= started + static_cast<TimeMs>(svc.health_check_grace_period_seconds) * 1000;
}

bool is_protected(const state::RegionState& region, const Task& t, TimeMs now) {
  auto it = region.task_protection.find(t.id);
  return it != region.task_protection.end() && it->second.active(now);
}

std::string instance_id_of(const std::string& arn) { return arn.substr(arn.rfind('/') + 1); }

const state::ContainerInstance* instance_of(const state::RegionState& region, const Task& t) {
  if (t.container_instance_arn.empty()) {
    return nullptr;
  }
  auto it = region.container_instances.find(instance_id_of(t.container_instance_arn));
  return it == region.container_instances.end() ? nullptr : &it->second;
}

// A task placed on an instance that is no longer ACTIVE (DRAINING, deregistered) must move elsewhere.
bool on_leaving_instance(const state::RegionState& region, const Task& t) {
  if (t.container_instance_arn.empty()) {
    return false;
  }
  const auto* ci = instance_of(region, t);
  return ci == nullptr || ci->status != "ACTIVE";
}

int percent(const state::Service& svc, const char* key, int fallback) {
  const json& dc = svc.deployment_configuration;
  auto it = dc.find(key);
  return it != dc.end() && it->is_number_integer() ? it->get<int>() : fallback;
}

// One live task as the plan sees it.
struct View {
  const Task* task = nullptr;
  bool running = false;
  bool healthy = false;
  bool is_protected = false;
  int deployment_age = 0;  // 0 for the PRIMARY deployment, higher for older ones
};

// Which tasks go first when a service scales in: ones that are not running yet, then ones not yet healthy, then
// as placement orders them under the service's strategy (spread: from the fullest zone or instance; binpack:
// from the emptiest instance).
void order_for_scale_in(const state::RegionState& region, const Service& svc, std::vector<View>& views) {
  std::vector<const Task*> tasks;
  tasks.reserve(views.size());
  for (const auto& v : views) {
    tasks.push_back(v.task);
  }
  std::map<const Task*, std::size_t> rank;
  for (const auto* t : scheduler::order_for_scale_in(region, std::move(tasks), svc.placement_strategy)) {
    rank.emplace(t, rank.size());
  }
  std::stable_sort(views.begin(), views.end(), [&](const View& a, const View& b) {
    if (a.running != b.running) {
      return !a.running;
    }
    if (a.healthy != b.healthy) {
      return !a.healthy;
    }
    return rank[a.task] < rank[b.task];
  });
}

struct Bounds {
  int desired = 0;
  int min_healthy = 0;  // ceil(desired x minimumHealthyPercent / 100)
  int cap = 0;          // floor(desired x maximumPercent / 100), never below desired
};

Bounds bounds_of(const Service& svc, int desired) {
  const bool daemon = svc.scheduling_strategy == "DAEMON";
  const int min_pct = percent(svc, "minimumHealthyPercent", daemon ? 0 : 100);
  const int max_pct = percent(svc, "maximumPercent", daemon ? 100 : 200);
  Bounds b;
  b.desired = desired;
  b.min_healthy = (desired * min_pct + 99) / 100;
  b.cap = std::max(desired, desired * max_pct / 100);
  return b;
}

// Stops outgoing tasks: those not counted healthy at once, healthy ones only while enough healthy tasks stay.
// Protected tasks stay until their protection lapses.
void stop_outgoing(const std::vector<View>& outgoing, int healthy_total, int min_healthy,
                   const std::string& reason, ServicePlan& plan) {
  std::vector<View> ordered = outgoing;
  // Within each kind the order they came in holds (scale-in extras come in scale-in order).
  std::stable_sort(ordered.begin(), ordered.end(), [](const View& a, const View& b) {
    if (a.healthy != b.healthy) {
      return !a.healthy;
    }
    return a.deployment_age > b.deployment_age;
  });
  int may_stop_healthy = std::max(0, healthy_total - min_healthy);
  for (const auto& v : ordered) {
    if (v.is_protected) {
      continue;
    }
    if (v.healthy) {
      if (may_stop_healthy == 0) {
        continue;
      }
      --may_stop_healthy;
    }
    plan.stops.push_back({v.task->id, reason, false});
  }
}

struct Census {
  std::vector<View> candidates;  // live, desired RUNNING, not failing health
  int live = 0;                  // every task not yet STOPPING (what maximumPercent counts)
  int healthy = 0;
  bool all_settled = true;  // nothing is on its way: every candidate is RUNNING and healthy, no task stopping
};

Census take_census(const state::RegionState& region, const Service& svc, TimeMs now,
                   const ServiceSchedulerOptions& options, ServicePlan& plan) {
  Census c;
  std::map<std::string, int> age;
  for (std::size_t i = 0; i < svc.deployments.size(); ++i) {
    age[svc.deployments[i].id] = static_cast<int>(i);
  }
  for (const auto& [id, t] : region.tasks) {
    if (!is_service_task(t, svc) || t.last_status >= TaskStatus::kStopping) {
      continue;
    }
    ++c.live;
    if (t.desired_status != TaskStatus::kRunning) {
      c.all_settled = false;  // still stopping
      continue;
    }
    if (failed_health(t, svc, now)) {
      plan.stops.push_back({t.id, kFailedHealthReason, true});
      c.all_settled = false;
      continue;
    }
    View v;
    v.task = &t;
    v.running = t.last_status == TaskStatus::kRunning;
    v.healthy = counts_as_healthy(t, now, options);
    // Protection holds off scale-in and deployments, not the deletion of the service.
    v.is_protected = svc.status == "ACTIVE" && is_protected(region, t, now);
    auto a = age.find(t.started_by);
    v.deployment_age = a == age.end() ? static_cast<int>(svc.deployments.size()) : a->second;
    c.healthy += v.healthy ? 1 : 0;
    c.all_settled = c.all_settled && v.healthy;
    c.candidates.push_back(v);
  }
  return c;
}

std::string scaling_reason(const Service& svc) {
  if (!svc.deployments.empty()) {
    return "Scaling activity initiated by (deployment " + svc.deployments.front().id + ")";
  }
  return "Scaling activity initiated by (service " + svc.name + ")";
}

// REPLICA services of the ECS deployment controller: the PRIMARY deployment's tasks are kept (up to the
// desired count); everything else goes, within minimumHealthyPercent and maximumPercent.
void plan_replica(const state::RegionState& region, const Service& svc, TimeMs now, bool launches_paused,
                  const ServiceSchedulerOptions& options, ServicePlan& plan) {
  const bool active = svc.status == "ACTIVE";
  const Bounds b = bounds_of(svc, active ? svc.desired_count : 0);
  const state::Deployment* primary = !svc.deployments.empty() && svc.deployments.front().status == "PRIMARY"
                                         ? &svc.deployments.front()
                                         : nullptr;
  Census c = take_census(region, svc, now, options, plan);
  std::vector<View> keep;
  std::vector<View> outgoing;
  for (const auto& v : c.candidates) {
    if (primary != nullptr && v.task->started_by == primary->id && !on_leaving_instance(region, *v.task)) {
      keep.push_back(v);
    } else {
      outgoing.push_back(v);
    }
  }
  if (static_cast<int>(keep.size()) > b.desired) {
    order_for_scale_in(region, svc, keep);
    std::vector<View> extra;
    int to_shed = static_cast<int>(keep.size()) - b.desired;
    std::vector<View> stay;
    for (const auto& v : keep) {
      if (to_shed > 0 && !v.is_protected) {
        extra.push_back(v);
        --to_shed;
      } else {
        stay.push_back(v);
      }
    }
    if (to_shed > 0 && primary != nullptr) {
      plan.scale_in_blocked_by_protection = primary->id;
    }
    // Protected tasks beyond the desired count stay, and still count as kept.
    keep = std::move(stay);
    outgoing.insert(outgoing.end(), extra.begin(), extra.end());
  }
  const int want = std::max(0, b.desired - static_cast<int>(keep.size()));
  const bool can_launch =
      active && primary != nullptr && primary->rollout_state != "FAILED" && !launches_paused;
  const int room = b.cap - c.live;
  const int starts = can_launch ? std::min(want, std::max(room, 0)) : 0;
  if (starts > 0) {
    plan.starts.push_back({primary->id, &primary->spec, starts, {}});
  }
  const std::size_t stops_before = plan.stops.size();
  stop_outgoing(outgoing, c.healthy, b.min_healthy, scaling_reason(svc), plan);
  for (const auto& d : svc.deployments) {
    if (primary == nullptr || d.id != primary->id) {
      plan.old_deployment_counts[d.id] = 0;
    }
  }
  for (const auto& v : outgoing) {
    const bool stopping =
        std::any_of(plan.stops.begin() + static_cast<std::ptrdiff_t>(stops_before), plan.stops.end(),
                    [&](const ServicePlan::Stop& s) { return s.task_id == v.task->id; });
    auto it = plan.old_deployment_counts.find(v.task->started_by);
    if (!stopping && it != plan.old_deployment_counts.end()) {
      ++it->second;
    }
  }
  const bool all_kept_healthy =
      std::all_of(keep.begin(), keep.end(), [](const View& v) { return v.healthy; });
  plan.steady = active && primary != nullptr && svc.deployments.size() == 1 && outgoing.empty() &&
                plan.stops.empty() && static_cast<int>(keep.size()) == b.desired && c.live == b.desired &&
                all_kept_healthy;
  const bool deploying =
      primary != nullptr && primary->rollout_state == "IN_PROGRESS" && (want > 0 || !outgoing.empty());
  plan.blocked_by_configuration =
      active && deploying && can_launch && want > 0 && room <= 0 && plan.stops.empty() && c.all_settled;
}

// DAEMON services: one PRIMARY task on every ACTIVE container instance of the cluster.
void plan_daemon(const state::RegionState& region, const Service& svc, TimeMs now, bool launches_paused,
                 const ServiceSchedulerOptions& options, ServicePlan& plan) {
  const bool active = svc.status == "ACTIVE";
  std::vector<const state::ContainerInstance*> instances;
  for (const auto& [id, ci] : region.container_instances) {
    if (ci.cluster_name == svc.cluster_name && ci.status == "ACTIVE") {
      instances.push_back(&ci);
    }
  }
  const Bounds b = bounds_of(svc, active ? static_cast<int>(instances.size()) : 0);
  plan.daemon_desired_count = b.desired;
  const state::Deployment* primary = !svc.deployments.empty() && svc.deployments.front().status == "PRIMARY"
                                         ? &svc.deployments.front()
                                         : nullptr;
  Census c = take_census(region, svc, now, options, plan);
  std::map<std::string, std::vector<View>> keep;  // by instance id
  std::map<std::string, std::vector<View>> old;
  std::vector<View> free_to_stop;  // stopped whatever the minimum: on instances that are leaving, duplicates
  std::vector<View> outgoing;
  for (const auto& v : c.candidates) {
    const auto* ci = instance_of(region, *v.task);
    if (ci == nullptr || ci->status != "ACTIVE" || !active) {
      // A daemon task leaves a DRAINING instance last, once the instance's other tasks are gone.
      const bool others_left =
          ci != nullptr && ci->status == "DRAINING" &&
          std::any_of(ci->task_ids.begin(), ci->task_ids.end(), [&](const std::string& id) {
            auto t = region.tasks.find(id);
            return t != region.tasks.end() && t->second.group != service_group(svc) &&
                   t->second.last_status < TaskStatus::kStopping;
          });
      if (!others_left || !active) {
        outgoing.push_back(v);
      }
      continue;
    }
    if (primary != nullptr && v.task->started_by == primary->id) {
      keep[ci->id].push_back(v);
    } else {
      old[ci->id].push_back(v);
    }
  }
  const bool can_launch =
      active && primary != nullptr && primary->rollout_state != "FAILED" && !launches_paused;
  int live = c.live;
  bool all_placed = true;
  for (const auto* ci : instances) {
    auto& mine = keep[ci->id];
    if (mine.size() > 1) {
      order_for_scale_in(region, svc, mine);
      free_to_stop.insert(free_to_stop.end(), mine.begin(), mine.end() - 1);
      mine.erase(mine.begin(), mine.end() - 1);
    }
    for (const auto& v : old[ci->id]) {
      outgoing.push_back(v);
    }
    if (!mine.empty()) {
      all_placed = all_placed && mine.front().healthy;
      continue;
    }
    all_placed = false;
    // A new task goes on an empty instance, or beside the old one when maximumPercent leaves room.
    if (can_launch && live < b.cap) {
      plan.starts.push_back({primary->id, &primary->spec, 1, ci->id});
      ++live;
    }
  }
  for (const auto& v : free_to_stop) {
    if (!v.is_protected) {
      plan.stops.push_back({v.task->id, scaling_reason(svc), false});
    }
  }
  stop_outgoing(outgoing, c.healthy, b.min_healthy, scaling_reason(svc), plan);
  for (const auto& d : svc.deployments) {
    if (primary == nullptr || d.id != primary->id) {
      int n = 0;
      for (const auto& [id, views] : old) {
        n += static_cast<int>(std::count_if(views.begin(), views.end(), [&](const View& v) {
          return v.task->started_by == d.id &&
                 std::none_of(plan.stops.begin(), plan.stops.end(),
                              [&](const ServicePlan::Stop& s) { return s.task_id == v.task->id; });
        }));
      }
      plan.old_deployment_counts[d.id] = n;
    }
  }
  plan.steady = active && primary != nullptr && svc.deployments.size() == 1 && all_placed &&
                outgoing.empty() && plan.stops.empty() && c.live == b.desired;
  const bool deploying = primary != nullptr && primary->rollout_state == "IN_PROGRESS" && !all_placed;
  plan.blocked_by_configuration = active && deploying && can_launch && plan.starts.empty() &&
                                  plan.stops.empty() && c.all_settled && !outgoing.empty();
}

// Services of the EXTERNAL (and CODE_DEPLOY) deployment controllers: every task set runs its computed desired
// count; deploymentConfiguration does not apply to task sets.
void plan_task_sets(const state::RegionState& region, const Service& svc, TimeMs now, bool launches_paused,
                    const ServiceSchedulerOptions& options, ServicePlan& plan) {
  const bool active = svc.status == "ACTIVE";
  Census c = take_census(region, svc, now, options, plan);
  std::map<std::string, std::vector<View>> by_set;
  for (const auto& v : c.candidates) {
    by_set[v.task->started_by].push_back(v);
  }
  bool steady = active && c.all_settled && plan.stops.empty();
  for (const auto& ts : svc.task_sets) {
    auto& mine = by_set[ts.id];
    const int want = active ? state::computed_desired_count(svc, ts) : 0;
    const int have = static_cast<int>(mine.size());
    if (have < want && active && !launches_paused && ts.status != "DRAINING") {
      plan.starts.push_back({ts.id, &ts.spec, want - have, {}});
    }
    if (have > want) {
      order_for_scale_in(region, svc, mine);
      int to_shed = have - want;
      for (const auto& v : mine) {
        if (to_shed > 0 && !v.is_protected) {
          plan.stops.push_back({v.task->id, "Scaling activity initiated by (task set " + ts.id + ")", false});
          --to_shed;
        }
      }
      if (to_shed > 0) {
        plan.scale_in_blocked_by_protection = ts.id;
      }
    }
    steady = steady && have == want;
    by_set.erase(ts.id);
  }
  // Tasks of task sets that are gone.
  for (const auto& [started_by, views] : by_set) {
    for (const auto& v : views) {
      plan.stops.push_back({v.task->id, scaling_reason(svc), false});
    }
  }
  plan.steady = steady && plan.stops.empty();
}

}  // namespace

bool counts_as_healthy(const Task& task, TimeMs now, const ServiceSchedulerOptions& options) {
  if (task.last_status != TaskStatus::kRunning || task.desired_status != TaskStatus::kRunning ||
      !task.started_at) {
    return false;
  }
  if (has_health_check(task)) {
    return task_health_status(task) == "HEALTHY";
  }
  return now >= *task.started_at + options.healthy_after_ms;
}

ServicePlan plan_service(const state::RegionState& region, const Service& svc, TimeMs now,
                         bool launches_paused, const ServiceSchedulerOptions& options) {
  ServicePlan plan;
  if (svc.status == "INACTIVE") {
    return plan;
  }
  if (svc.deployment_controller != "ECS") {
    plan_task_sets(region, svc, now, launches_paused, options, plan);
  } else if (svc.scheduling_strategy == "DAEMON") {
    plan_daemon(region, svc, now, launches_paused, options, plan);
  } else {
    plan_replica(region, svc, now, launches_paused, options, plan);
  }
  return plan;
}

// ---- ServiceScheduler
// ---------------------------------------------------------------------------------------

namespace {

std::string memory_key(const Scope& scope, const std::string& service_key) {
  return scope.account + "|" + scope.region + "|" + service_key;
}

state::Deployment* deployment_by_id(Service& svc, const std::string& id) {
  for (auto& d : svc.deployments) {
    if (d.id == id) {
      return &d;
    }
  }
  return nullptr;
}

int circuit_breaker_failures(const state::Deployment& d) {
  return d.has_run ? d.health_failures : d.failed_tasks;
}

bool is_fargate_provider(const std::string& name) { return name == "FARGATE" || name == "FARGATE_SPOT"; }

}  // namespace

ServiceScheduler::ServiceScheduler(state::Store& store, const Clock& clock,
                                   std::function<void(const std::string&)> task_changed,
                                   std::function<void(std::function<void()>)> post,
                                   ServiceSchedulerOptions options)
    : store_(store),
      clock_(clock),
      task_changed_(std::move(task_changed)),
      post_(std::move(post)),
      options_(options) {}

void ServiceScheduler::task_changed(const Task& task) {
  if (!task.group.starts_with("service:")) {
    return;
  }
  service_changed(task.scope, state::service_key(task.cluster_name, task.group.substr(8)));
}

void ServiceScheduler::service_changed(const Scope& scope, const std::string& service_key) {
  dirty_.emplace(scope.account, scope.region, service_key);
  if (post_ && !run_posted_) {
    run_posted_ = true;
    post_([this] {
      run_posted_ = false;
      run_dirty();
    });
  }
}

void ServiceScheduler::run_dirty() {
  // Reconciling may mark more services (its own task changes); those wait for the next run.
  auto dirty = std::exchange(dirty_, {});
  for (const auto& [account, region, key] : dirty) {
    reconcile(Scope{account, region}, key);
  }
}

void ServiceScheduler::tick() {
  std::vector<std::pair<Scope, std::string>> services;
  store_.for_each_region([&](const Scope& scope, state::RegionState& region) {
    for (const auto& [key, svc] : region.services) {
      if (svc.status != "INACTIVE") {
        services.emplace_back(scope, key);
      }
    }
  });
  for (const auto& [scope, key] : services) {
    reconcile(scope, key);
  }
  forget_missing_tasks();
}

void ServiceScheduler::forget_missing_tasks() {
  for (auto* set : {&counted_stopped_, &counted_running_, &counted_healthy_}) {
    std::erase_if(*set, [&](const std::string& id) { return store_.find_task(id) == nullptr; });
  }
}

void ServiceScheduler::adopt_all() {
  const TimeMs now = clock_.now_ms();
  store_.for_each_region([&](const Scope&, state::RegionState& region) {
    for (const auto& [id, t] : region.tasks) {
      if (t.last_status == TaskStatus::kStopped) {
        counted_stopped_.insert(id);
      }
      if (t.started_at) {
        counted_running_.insert(id);
      }
      if (counts_as_healthy(t, now, options_)) {
        counted_healthy_.insert(id);
      }
    }
  });
}

void ServiceScheduler::forget_all() {
  memory_.clear();
  dirty_.clear();
  counted_stopped_.clear();
  counted_running_.clear();
  counted_healthy_.clear();
}

bool ServiceScheduler::open_condition(Service& svc, Memory& memory, const std::string& message, TimeMs now) {
  auto it = memory.open_conditions.find(message);
  if (it != memory.open_conditions.end() && now < it->second + options_.repeat_event_after_ms) {
    return false;
  }
  memory.open_conditions[message] = now;
  state::post_service_event(svc, message, now);
  return true;
}

void ServiceScheduler::close_condition(Memory& memory, const std::string& message) {
  memory.open_conditions.erase(message);
}

// Counts, once each, what the service's tasks did since the last pass: tasks that failed to start (the
// throttle and the circuit breaker's stage 1), tasks that reached RUNNING (which reset both), tasks stopped
// for failing their health checks (stage 2) and tasks found healthy (which reset stage 2).
void ServiceScheduler::account(state::RegionState& region, const Scope& scope, Service& svc, Memory& memory,
                               TimeMs now) {
  const std::string impaired =
      "(service " + svc.name + ") is unable to consistently start tasks successfully.";
  if (!svc.deployments.empty() && svc.deployments.front().id != memory.primary_id) {
    // A new deployment (a new task definition) ends the throttle at once.
    memory.primary_id = svc.deployments.front().id;
    memory.start_failures = 0;
    memory.launches_paused_until = 0;
    close_condition(memory, impaired);
  }
  std::vector<const Task*> tasks;
  for (const auto& [id, t] : region.tasks) {
    if (is_service_task(t, svc)) {
      tasks.push_back(&t);
    }
  }
  std::sort(tasks.begin(), tasks.end(), [](const Task* a, const Task* b) {
    return a->stopped_at.value_or(a->created_at) < b->stopped_at.value_or(b->created_at);
  });
  for (const Task* t : tasks) {
    state::Deployment* d = deployment_by_id(svc, t->started_by);
    const bool evaluated = d != nullptr && d->rollout_state == "IN_PROGRESS";
    if (t->started_at && counted_running_.insert(t->id).second) {
      memory.start_failures = 0;
      memory.launches_paused_until = 0;
      close_condition(memory, impaired);
      if (d != nullptr && !d->has_run) {
        d->has_run = true;
        d->failed_tasks = 0;
        d->health_failures = 0;
        d->updated_at = now;
      }
    }
    if (counts_as_healthy(*t, now, options_) && counted_healthy_.insert(t->id).second && evaluated &&
        d->health_failures > 0) {
      d->health_failures = 0;
    }
    if (t->last_status != TaskStatus::kStopped || !counted_stopped_.insert(t->id).second) {
      continue;
    }
    const bool failed_to_start =
        !t->started_at && t->stop_code != kStopCode && t->stop_code != "UserInitiated";
    if (failed_to_start) {
      ++memory.start_failures;
      if (memory.start_failures >= options_.throttle_after_failures) {
        const int steps = std::min(memory.start_failures - options_.throttle_after_failures, 20);
        const TimeMs delay = std::min(options_.throttle_base_ms << steps, options_.throttle_max_ms);
        memory.launches_paused_until = now + delay;
        if (open_condition(svc, memory, impaired, now)) {
          state::record_service_action(region, scope, svc, "WARN", "SERVICE_TASK_START_IMPAIRED", now);
        }
      }
      if (evaluated && !d->has_run) {
        ++d->failed_tasks;
        d->updated_at = now;
      }
    } else if (evaluated && d->has_run && t->stopped_reason == kFailedHealthReason) {
      ++d->health_failures;
    }
  }
  if (svc.deployment_controller != "ECS" || svc.deployments.empty()) {
    return;
  }
  // The circuit breaker watches the PRIMARY deployment.
  state::Deployment& primary = svc.deployments.front();
  const json cb = svc.deployment_configuration.value("deploymentCircuitBreaker", json::object());
  for (const auto& d : svc.deployments) {
    auto sd = region.service_deployments.find(d.service_deployment_arn);
    if (sd != region.service_deployments.end() && d.rollout_state == "IN_PROGRESS") {
      sd->second.circuit_breaker_failures = circuit_breaker_failures(d);
    }
  }
  if (primary.status == "PRIMARY" && primary.rollout_state == "IN_PROGRESS" && cb.value("enable", false) &&
      circuit_breaker_failures(primary) >= state::circuit_breaker_threshold(svc.desired_count)) {
    spdlog::info("service {}: deployment {} failed (circuit breaker)", svc.name, primary.id);
    state::fail_deployment(region, scope, svc, cb.value("rollback", false), now);
  }
}

std::vector<std::string> ServiceScheduler::launch(state::RegionState& region, const Scope& scope,
                                                  Service& svc, Memory& memory,
                                                  const ServicePlan::Start& start, TimeMs now) {
  std::vector<std::string> ids;
  auto cluster_it = region.clusters.find(svc.cluster_name);
  const state::TaskDefinition* td =
      state::find_task_definition_by_arn(region, start.spec->task_definition_arn);
  if (cluster_it == region.clusters.end() || cluster_it->second.status != "ACTIVE" || td == nullptr) {
    return ids;
  }
  const state::Cluster& cluster = cluster_it->second;
  const state::ServiceSpec& spec = *start.spec;
  state::NewTask nt;
  nt.group = service_group(svc);
  nt.started_by = start.started_by;
  nt.platform_version = spec.platform_version;
  nt.network_configuration = spec.network_configuration;
  nt.tags = json::array();
  if (svc.propagate_tags == "SERVICE") {
    nt.tags = svc.tags;
  } else if (svc.propagate_tags == "TASK_DEFINITION") {
    nt.tags = td->tags;
  }
  if (svc.enable_ecs_managed_tags) {
    nt.tags.push_back({{"key", "aws:ecs:serviceName"}, {"value", svc.name}});
    nt.tags.push_back({{"key", "aws:ecs:clusterName"}, {"value", cluster.name}});
  }

  std::vector<std::string> providers;
  std::vector<state::ContainerInstance*> instances;
  int count = start.count;
  const std::string unsupported_prefix = "(service " + svc.name + ") was unable to place a task. Reason: ";
  if (spec.launch_type.empty()) {
    // A capacity provider strategy: berth runs FARGATE and FARGATE_SPOT, spread as the service's tasks are.
    for (const auto& item : spec.capacity_provider_strategy) {
      const std::string name = item.value("capacityProvider", "");
      if (!is_fargate_provider(name)) {
        open_condition(svc, memory,
                       unsupported_prefix +
                           "berth does not run tasks on Auto Scaling group capacity provider " + name +
                           " yet.",
                       now);
        return ids;
      }
    }
    std::map<std::string, int> placed;
    for (const auto& [id, t] : region.tasks) {
      if (is_service_task(t, svc) && t.last_status < TaskStatus::kStopping &&
          !t.capacity_provider_name.empty()) {
        ++placed[t.capacity_provider_name];
      }
    }
    providers = spread_over_strategy(spec.capacity_provider_strategy, count, placed);
    count = static_cast<int>(providers.size());
    nt.launch_type = "FARGATE";
  } else if (spec.launch_type == "FARGATE") {
    nt.launch_type = "FARGATE";
  } else if (spec.launch_type == "EC2") {
    nt.launch_type = "EC2";
    PlacementRequest request;
    request.cluster = &cluster;
    request.task_definition = td;
    request.count = count;
    request.group = nt.group;
    request.constraints = svc.placement_constraints;
    request.strategy = svc.placement_strategy.empty() && start.instance_id.empty()
                           ? default_service_strategy()
                           : svc.placement_strategy;
    if (!start.instance_id.empty()) {
      request.only_instances = {start.instance_id};
    }
    PlacementResult placed = place(region, request);
    instances = placed.instances;
    const std::string prefix = "(service " + svc.name + ") was unable to place a task because";
    if (static_cast<int>(instances.size()) < count) {
      if (open_condition(svc, memory, unplaced_event_message(svc.name, placed), now)) {
        const std::string reason =
            placed.failures.is_array() && !placed.failures.empty() && placed.failures[0].is_object()
                ? placed.failures[0].value("reason", "")
                : "";
        state::record_service_action(region, scope, svc, "ERROR", "SERVICE_TASK_PLACEMENT_FAILURE", now,
                                     reason);
      }
    } else {
      std::erase_if(memory.open_conditions, [&](const auto& kv) { return kv.first.starts_with(prefix); });
    }
    count = static_cast<int>(instances.size());
  } else {
    open_condition(svc, memory,
                   unsupported_prefix + "berth does not support launch type " + spec.launch_type + " yet.",
                   now);
    return ids;
  }
  for (int i = 0; i < count; ++i) {
    const auto n = static_cast<std::size_t>(i);
    nt.capacity_provider_name = n < providers.size() ? providers[n] : "";
    nt.instance = n < instances.size() ? instances[n] : nullptr;
    ids.push_back(state::add_task(store_, scope, cluster, *td, nt, now).id);
  }
  return ids;
}

bool ServiceScheduler::apply(state::RegionState& region, const Scope& scope, Service& svc, Memory& memory,
                             const ServicePlan& plan, TimeMs now) {
  std::vector<std::string> stopped;
  for (const auto& stop : plan.stops) {
    auto it = region.tasks.find(stop.task_id);
    if (it == region.tasks.end() || !state::request_task_stop(it->second, kStopCode, stop.reason, now)) {
      continue;
    }
    stopped.push_back(it->second.id);
    if (stop.failed_health) {
      state::post_service_event(
          svc, "(service " + svc.name + ") (task " + it->second.id + ") failed container health checks.",
          now);
    }
  }
  if (!stopped.empty()) {
    state::post_service_event(svc,
                              "(service " + svc.name + ") has stopped " + std::to_string(stopped.size()) +
                                  " running tasks: " + tasks_list(stopped) + ".",
                              now);
  }
  std::vector<std::string> started;
  for (const auto& start : plan.starts) {
    auto ids = launch(region, scope, svc, memory, start, now);
    started.insert(started.end(), ids.begin(), ids.end());
  }
  if (!started.empty()) {
    state::post_service_event(svc,
                              "(service " + svc.name + ") has started " + std::to_string(started.size()) +
                                  " tasks: " + tasks_list(started) + ".",
                              now);
  }
  // Hand every change to the task reconciler last: it may call back (through the observer), and the service's
  // record is complete by then.
  for (const auto& id : stopped) {
    task_changed_(id);
  }
  for (const auto& id : started) {
    task_changed_(id);
  }
  return !stopped.empty() || !started.empty();
}

void ServiceScheduler::reconcile(const Scope& scope, const std::string& service_key) {
  if (stopped_) {
    return;
  }
  state::RegionState* region = store_.find_region(scope);
  if (region == nullptr) {
    return;
  }
  auto it = region->services.find(service_key);
  const std::string mkey = memory_key(scope, service_key);
  if (it == region->services.end() || it->second.status == "INACTIVE") {
    memory_.erase(mkey);
    return;
  }
  Service& svc = it->second;
  Memory& memory = memory_[mkey];
  const TimeMs now = clock_.now_ms();
  account(*region, scope, svc, memory, now);
  ServicePlan plan;
  // Stops take effect at once (the reconciler moves a stopped task to STOPPING), so a pass that acted is
  // followed by another: 0/100 stops the old tasks and then starts the new ones in one reconcile.
  for (int pass = 0; pass < 3; ++pass) {
    state::settle_service(*region, svc, now);
    if (svc.status == "INACTIVE") {
      memory_.erase(mkey);
      return;
    }
    plan = plan_service(*region, svc, now, now < memory.launches_paused_until, options_);
    if (!apply(*region, scope, svc, memory, plan, now)) {
      break;
    }
  }
  if (plan.daemon_desired_count >= 0 && svc.status == "ACTIVE") {
    state::set_desired_count(svc, plan.daemon_desired_count, now);
  }
  for (auto& d : svc.deployments) {
    auto count = plan.old_deployment_counts.find(d.id);
    if (count != plan.old_deployment_counts.end() && d.desired_count != count->second) {
      d.desired_count = count->second;
      d.updated_at = now;
    }
  }
  const std::string steady = "(service " + svc.name + ") has reached a steady state.";
  if (plan.steady) {
    if (svc.deployment_controller == "ECS") {
      state::complete_deployment(*region, scope, svc, now);
    }
    if (open_condition(svc, memory, steady, now)) {
      state::record_service_action(*region, scope, svc, "INFO", "SERVICE_STEADY_STATE", now);
    }
  } else {
    close_condition(memory, steady);
  }
  const std::string blocked =
      "(service " + svc.name +
      ") was unable to stop or start tasks during a deployment because of the service "
      "deployment configuration. Update the minimumHealthyPercent or maximumPercent value "
      "and try again.";
  if (plan.blocked_by_configuration) {
    open_condition(svc, memory, blocked, now);
  } else {
    close_condition(memory, blocked);
  }
  const std::string protected_prefix =
      "(service " + svc.name + ") was unable to reach steady state because task set";
  if (!plan.scale_in_blocked_by_protection.empty()) {
    open_condition(
        svc, memory,
        protected_prefix + " (" + plan.scale_in_blocked_by_protection +
            ") was unable to scale in. Reason: The number of protected tasks are more than the desired "
            "count of tasks",
        now);
  } else {
    std::erase_if(memory.open_conditions,
                  [&](const auto& kv) { return kv.first.starts_with(protected_prefix); });
  }
}

}  // namespace berth::scheduler
