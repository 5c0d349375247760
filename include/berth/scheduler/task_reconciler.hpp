#pragma once
#include <functional>
#include <set>
#include <string>

#include <berth/common/clock.hpp>
#include <berth/runtime/container_runtime.hpp>
#include <berth/state/store.hpp>

namespace berth::scheduler {

// The labels berth puts on every container it starts. The ECS ones are what the ECS agent sets; the berth ones
// let berth find its own containers (and never touch anything else on the engine).
inline constexpr char kLabelCluster[] = "com.amazonaws.ecs.cluster";
inline constexpr char kLabelTaskArn[] = "com.amazonaws.ecs.task-arn";
inline constexpr char kLabelContainerName[] = "com.amazonaws.ecs.container-name";
inline constexpr char kLabelFamily[] = "com.amazonaws.ecs.task-definition-family";
inline constexpr char kLabelRevision[] = "com.amazonaws.ecs.task-definition-version";
inline constexpr char kLabelInstance[] = "dev.berth.instance";
inline constexpr char kLabelTaskId[] = "dev.berth.task-id";

struct ReconcilerOptions {
  std::string instance_id;              // value of dev.berth.instance on every container
  std::string host_ip = "127.0.0.1";    // where bridge-mode host ports are published
};

// The container an engine should run for one container of a task (pure; unit-tested on its own).
runtime::ContainerSpec build_container_spec(const state::Task& task, const state::Container& container,
                                            const ReconcilerOptions& options, const std::string& name_suffix);

// Makes the engine match the tasks in the store, one task at a time, by level: reconcile() compares what a
// task wants with what it has and issues the next runtime actions; completions and engine events update the
// task and reconcile it again. Everything runs on the control strand (completions arrive through the runtime's
// poster), so there are no locks; every completion re-reads the store because the world may have moved.
class TaskReconciler {
 public:
  TaskReconciler(state::Store& store, runtime::ContainerRuntime& runtime, const Clock& clock,
                 ReconcilerOptions options);

  // Subscribes to the engine's container events.
  void start();
  // Brings one task a step closer to its desired status. Idempotent.
  void reconcile(const std::string& task_id);
  // Time-driven work (SIGKILL after stopTimeout) and a level pass over every task that is not yet STOPPED.
  void tick();
  // Compares every live task with what the engine reports (after the event stream connects), and removes
  // containers of this instance whose task berth no longer knows.
  void resync();
  void on_event(const runtime::RuntimeEvent& event);
  // Force-removes every container this berth instance started; `done` runs when all are gone.
  void remove_all_containers(std::function<void()> done);
  // For shutdown: issues nothing new, waits for the pulls/creates/starts under way to land (a create that
  // lands now is removed too), then removes every container of this instance.
  void drain_and_remove_all(std::function<void()> done);
  // Forgets all tasks (the store was cleared).
  void forget_all() { active_.clear(); }
  // Takes on every task of the store that is not STOPPED (after a restore from --data-dir).
  void adopt_all();

  const ReconcilerOptions& options() const { return options_; }
  std::size_t active_task_count() const { return active_.size(); }

 private:
  state::Container* find_container(state::Task& task, const std::string& name);
  void stop_task(state::Task& task, const std::string& stop_code, const std::string& reason);
  void fail_container(state::Task& task, state::Container& c, const std::string& reason);
  void mark_exited(state::Task& task, state::Container& c, std::optional<int> exit_code);
  void reconcile_running(state::Task& task);
  void reconcile_stopping(state::Task& task);
  void pull(state::Task& task, state::Container& c);
  void create(state::Task& task, state::Container& c);
  void start_container(state::Task& task, state::Container& c);
  void signal(state::Task& task, state::Container& c, const char* sig);
  // Called first in every pull/create/start completion; true while draining (the completion must then only
  // clean up).
  bool op_completed();

  state::Store& store_;
  runtime::ContainerRuntime& runtime_;
  const Clock& clock_;
  ReconcilerOptions options_;
  std::set<std::string> active_;  // ids of tasks that are not STOPPED yet
  int in_flight_ = 0;             // pulls, creates and starts issued and not yet completed
  std::function<void()> drain_done_;
};

}  // namespace berth::scheduler
