#include <berth/state/transitions.hpp>

namespace berth::state {

bool advance_task(Task& task, TaskStatus to, TimeMs now) {
  if (to <= task.last_status) {
    return false;
  }
  // Stamps follow ECS: startedAt when the task first runs, stoppingAt when it starts to stop (StopTask stamps it
  // earlier through request_task_stop), executionStoppedAt/stoppedAt when every container has stopped.
  if (to == TaskStatus::kRunning) {
    task.started_at = now;
  }
  if (to >= TaskStatus::kDeactivating && !task.stopping_at) {
    task.stopping_at = now;
  }
  if (to >= TaskStatus::kDeprovisioning && !task.execution_stopped_at) {
    task.execution_stopped_at = now;
  }
  if (to == TaskStatus::kStopped) {
    task.stopped_at = now;
    task.desired_status = TaskStatus::kStopped;
  }
  task.last_status = to;
  ++task.version;
  return true;
}

bool request_task_stop(Task& task, std::string stop_code, std::string reason, TimeMs now) {
  if (task.desired_status == TaskStatus::kStopped) {
    return false;
  }
  task.desired_status = TaskStatus::kStopped;
  task.stop_code = std::move(stop_code);
  task.stopped_reason = std::move(reason);
  if (!task.stopping_at) {
    task.stopping_at = now;
  }
  ++task.version;
  return true;
}

bool advance_container(Task& task, Container& container, ContainerStatus to, TimeMs now) {
  if (to <= container.last_status) {
    return false;
  }
  container.last_status = to;
  if (to == ContainerStatus::kStopped && container.started_at && !container.finished_at) {
    container.finished_at = now;  // only a container that ran has finished (as the engine's FinishedAt)
  }
  ++task.version;
  return true;
}

}  // namespace berth::state
