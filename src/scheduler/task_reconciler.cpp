#include <berth/scheduler/task_reconciler.hpp>

#include <memory>
#include <utility>

#include <spdlog/spdlog.h>

#include <berth/common/ids.hpp>
#include <berth/state/transitions.hpp>

namespace berth::scheduler {

using state::Container;
using state::ContainerPhase;
using state::ContainerStatus;
using state::Task;
using state::TaskStatus;

TaskReconciler::TaskReconciler(state::Store& store, runtime::ContainerRuntime& runtime, const Clock& clock,
                               ReconcilerOptions options)
    : store_(store), runtime_(runtime), clock_(clock), options_(std::move(options)) {}

void TaskReconciler::start() {
  runtime_.watch({{kLabelInstance, options_.instance_id}},
                 [this](runtime::RuntimeEvent e) { on_event(e); }, [this] { resync(); });
}

Container* TaskReconciler::find_container(Task& task, const std::string& name) {
  for (auto& c : task.containers) {
    if (c.name == name) {
      return &c;
    }
  }
  return nullptr;
}

void TaskReconciler::stop_task(Task& task, const std::string& stop_code, const std::string& reason) {
  state::request_task_stop(task, stop_code, reason, clock_.now_ms());
}

void TaskReconciler::fail_container(Task& task, Container& c, const std::string& reason) {
  c.reason = reason;
  state::advance_container(task, c, ContainerStatus::kStopped, clock_.now_ms());
  stop_task(task, "TaskFailedToStart", reason);
}

void TaskReconciler::mark_exited(Task& task, Container& c, std::optional<int> exit_code) {
  if (c.last_status == ContainerStatus::kStopped) {
    return;
  }
  if (exit_code) {
    c.exit_code = exit_code;
  }
  state::advance_container(task, c, ContainerStatus::kStopped, clock_.now_ms());
  if (c.essential && task.desired_status != TaskStatus::kStopped) {
    stop_task(task, "EssentialContainerExited", "Essential container in task exited");
  }
}

bool TaskReconciler::op_completed() {
  --in_flight_;
  if (!drain_done_) {
    return false;
  }
  if (in_flight_ == 0) {
    // Every operation has landed: now the engine holds every container this instance will ever have.
    remove_all_containers(std::exchange(drain_done_, nullptr));
  }
  return true;
}

void TaskReconciler::drain_and_remove_all(std::function<void()> done) {
  if (in_flight_ == 0) {
    remove_all_containers(std::move(done));
    return;
  }
  drain_done_ = std::move(done);
}

void TaskReconciler::reconcile(const std::string& task_id) {
  if (drain_done_) {
    return;
  }
  Task* task = store_.find_task(task_id);
  if (task == nullptr) {
    active_.erase(task_id);
    return;
  }
  if (task->last_status == TaskStatus::kStopped) {
    active_.erase(task_id);
    return;
  }
  active_.insert(task_id);
  if (task->desired_status == TaskStatus::kRunning) {
    reconcile_running(*task);
  }
  // reconcile_running may have decided to stop the task (an essential container already exited).
  if (task->desired_status == TaskStatus::kStopped) {
    reconcile_stopping(*task);
  }
  if (task->last_status == TaskStatus::kStopped) {
    active_.erase(task_id);
  }
}

void TaskReconciler::reconcile_running(Task& task) {
  const TimeMs now = clock_.now_ms();
  state::advance_task(task, TaskStatus::kPending, now);

  bool all_created = true;
  bool all_pulled = true;
  for (auto& c : task.containers) {
    if (c.last_status == ContainerStatus::kStopped) {
      continue;
    }
    if (!c.op_in_flight && c.phase == ContainerPhase::kNew) {
      pull(task, c);
    } else if (!c.op_in_flight && c.phase == ContainerPhase::kPulled) {
      create(task, c);
    }
    all_pulled = all_pulled && c.phase >= ContainerPhase::kPulled;
    all_created = all_created && c.phase >= ContainerPhase::kCreated;
  }
  if (all_pulled && task.pull_started_at && !task.pull_stopped_at) {
    task.pull_stopped_at = now;
    ++task.version;
  }
  if (task.desired_status != TaskStatus::kRunning || !all_created) {
    return;
  }
  // Every container exists: start them together (dependsOn ordering comes with the task-runtime work).
  state::advance_task(task, TaskStatus::kActivating, now);
  bool all_running = true;
  for (auto& c : task.containers) {
    if (!c.op_in_flight && c.phase == ContainerPhase::kCreated) {
      start_container(task, c);
    }
    // A non-essential container that has already exited (an init step) does not hold the task back.
    const bool done_non_essential = !c.essential && c.last_status == ContainerStatus::kStopped;
    all_running = all_running && (c.last_status == ContainerStatus::kRunning || done_non_essential);
  }
  if (all_running) {
    state::advance_task(task, TaskStatus::kRunning, now);
  }
}

void TaskReconciler::reconcile_stopping(Task& task) {
  const TimeMs now = clock_.now_ms();
  bool all_stopped = true;
  for (auto& c : task.containers) {
    if (c.last_status == ContainerStatus::kStopped) {
      continue;
    }
    if (c.op_in_flight) {
      all_stopped = false;  // wait for the pull/create/start under way to land
      continue;
    }
    if (c.phase < ContainerPhase::kStarting) {
      // Never started: nothing runs, so it is stopped as it stands.
      state::advance_container(task, c, ContainerStatus::kStopped, now);
      continue;
    }
    all_stopped = false;
    if (!c.sigterm_at) {
      signal(task, c, "SIGTERM");
      c.sigterm_at = now;
    } else if (!c.sigkill_sent && now >= *c.sigterm_at + static_cast<TimeMs>(c.stop_timeout_s) * 1000) {
      signal(task, c, "SIGKILL");
      c.sigkill_sent = true;
    }
  }
  if (task.last_status < TaskStatus::kStopping && task.last_status >= TaskStatus::kPending) {
    state::advance_task(task, TaskStatus::kStopping, now);
  }
  if (all_stopped) {
    state::advance_task(task, TaskStatus::kStopped, now);
  }
}

void TaskReconciler::pull(Task& task, Container& c) {
  c.phase = ContainerPhase::kPulling;
  c.op_in_flight = true;
  ++in_flight_;
  if (!task.pull_started_at) {
    task.pull_started_at = clock_.now_ms();
    ++task.version;
  }
  runtime_.ensure_image(c.image, [this, id = task.id, name = c.name](runtime::ImageOutcome out) {
    if (op_completed()) {
      return;
    }
    Task* t = store_.find_task(id);
    Container* ct = t == nullptr ? nullptr : find_container(*t, name);
    if (ct == nullptr) {
      return;
    }
    ct->op_in_flight = false;
    if (out.error) {
      fail_container(*t, *ct, "CannotPullContainerError: " + out.error->message);
    } else {
      ct->phase = ContainerPhase::kPulled;
      ct->image_digest = out.image_id;
    }
    reconcile(id);
  });
}

void TaskReconciler::create(Task& task, Container& c) {
  c.phase = ContainerPhase::kCreating;
  c.op_in_flight = true;
  ++in_flight_;
  auto spec = build_container_spec(task, c, options_, ids::hex32().substr(0, 20));
  runtime_.create(std::move(spec), [this, id = task.id, name = c.name](runtime::CreateOutcome out) {
    const bool draining = op_completed();
    Task* t = store_.find_task(id);
    Container* ct = t == nullptr ? nullptr : find_container(*t, name);
    if (ct == nullptr || draining) {
      // The task is gone (reset): do not leave its container behind.
      if (!out.error) {
        runtime_.remove(out.container_id, [](runtime::Done) {});
      }
      return;
    }
    ct->op_in_flight = false;
    if (out.error) {
      fail_container(*t, *ct, "CannotCreateContainerError: " + out.error->message);
    } else {
      ct->phase = ContainerPhase::kCreated;
      ct->runtime_id = out.container_id;
      ++t->version;
    }
    reconcile(id);
  });
}

void TaskReconciler::start_container(Task& task, Container& c) {
  c.phase = ContainerPhase::kStarting;
  c.op_in_flight = true;
  ++in_flight_;
  runtime_.start(c.runtime_id, [this, id = task.id, name = c.name](runtime::StartOutcome out) {
    if (op_completed()) {
      return;
    }
    Task* t = store_.find_task(id);
    Container* ct = t == nullptr ? nullptr : find_container(*t, name);
    if (ct == nullptr) {
      return;
    }
    ct->op_in_flight = false;
    if (out.error) {
      fail_container(*t, *ct, "CannotStartContainerError: " + out.error->message);
    } else {
      ct->phase = ContainerPhase::kStarted;
      ct->network_bindings.clear();
      for (const auto& b : out.bindings) {
        ct->network_bindings.push_back(state::NetworkBinding{b.host_ip.empty() ? "0.0.0.0" : b.host_ip,
                                                             b.container_port, b.host_port, b.protocol});
      }
      state::advance_container(*t, *ct, ContainerStatus::kRunning, clock_.now_ms());
    }
    reconcile(id);
  });
}

void TaskReconciler::signal(Task& task, Container& c, const char* sig) {
  runtime_.kill(c.runtime_id, sig, [id = task.id, sig](runtime::Done out) {
    if (out.error && out.error->kind != runtime::ErrorKind::kNotFound) {
      spdlog::warn("task {}: {} failed: {}", id, sig, out.error->message);
    }
  });
}

void TaskReconciler::tick() {
  // Copy: reconcile() edits active_.
  std::vector<std::string> ids(active_.begin(), active_.end());
  for (const auto& id : ids) {
    reconcile(id);
  }
}

void TaskReconciler::on_event(const runtime::RuntimeEvent& event) {
  auto task_label = event.labels.find(kLabelTaskId);
  auto name_label = event.labels.find(kLabelContainerName);
  if (task_label == event.labels.end() || name_label == event.labels.end()) {
    return;
  }
  Task* task = store_.find_task(task_label->second);
  Container* c = task == nullptr ? nullptr : find_container(*task, name_label->second);
  if (c == nullptr) {
    return;
  }
  const TimeMs now = clock_.now_ms();
  switch (event.type) {
    case runtime::RuntimeEvent::Type::kStart:
      if (c->phase >= ContainerPhase::kStarting) {
        state::advance_container(*task, *c, ContainerStatus::kRunning, now);
      }
      break;
    case runtime::RuntimeEvent::Type::kOom:
      c->reason = "OutOfMemoryError: Container killed due to memory usage";
      break;
    case runtime::RuntimeEvent::Type::kDie:
      mark_exited(*task, *c, event.exit_code);
      break;
    case runtime::RuntimeEvent::Type::kDestroy:
      if (c->last_status != ContainerStatus::kStopped && c->phase >= ContainerPhase::kCreated && !c->op_in_flight) {
        if (c->reason.empty()) {
          c->reason = "Container was removed from the Docker engine outside berth";
        }
        mark_exited(*task, *c, std::nullopt);
      }
      break;
  }
  reconcile(task->id);
}

void TaskReconciler::adopt_all() {
  store_.for_each_region([this](const Scope&, state::RegionState& region) {
    for (const auto& [id, task] : region.tasks) {
      if (task.last_status != TaskStatus::kStopped) {
        active_.insert(id);
      }
    }
  });
}

void TaskReconciler::resync() {
  runtime_.list({{kLabelInstance, options_.instance_id}}, [this](runtime::ListOutcome out) {
    if (out.error) {
      spdlog::warn("resync with the engine failed: {}", out.error->message);
      return;
    }
    std::map<std::string, const runtime::ContainerState*> by_id;
    for (const auto& s : out.containers) {
      by_id[s.id] = &s;
      auto task_label = s.labels.find(kLabelTaskId);
      if (task_label == s.labels.end() || store_.find_task(task_label->second) == nullptr) {
        spdlog::info("removing container {} of a task berth no longer knows", s.id.substr(0, 12));
        runtime_.remove(s.id, [](runtime::Done) {});
      }
    }
    std::vector<std::string> ids(active_.begin(), active_.end());
    for (const auto& id : ids) {
      Task* task = store_.find_task(id);
      if (task == nullptr) {
        continue;
      }
      for (auto& c : task->containers) {
        if (c.runtime_id.empty() || c.op_in_flight || c.last_status == ContainerStatus::kStopped ||
            c.phase < ContainerPhase::kStarted) {
          continue;
        }
        auto it = by_id.find(c.runtime_id);
        if (it == by_id.end()) {
          if (c.reason.empty()) {
            c.reason = "Container was removed from the Docker engine outside berth";
          }
          mark_exited(*task, c, std::nullopt);
        } else if (!it->second->running) {
          if (it->second->oom_killed && c.reason.empty()) {
            c.reason = "OutOfMemoryError: Container killed due to memory usage";
          }
          mark_exited(*task, c, it->second->exit_code);
        } else {
          state::advance_container(*task, c, ContainerStatus::kRunning, clock_.now_ms());
        }
      }
      reconcile(id);
    }
  });
}

void TaskReconciler::remove_all_containers(std::function<void()> done) {
  runtime_.list({{kLabelInstance, options_.instance_id}}, [this, done = std::move(done)](runtime::ListOutcome out) {
    if (out.error || out.containers.empty()) {
      done();
      return;
    }
    auto remaining = std::make_shared<std::size_t>(out.containers.size());
    for (const auto& s : out.containers) {
      runtime_.remove(s.id, [remaining, done](runtime::Done) {
        if (--*remaining == 0) {
          done();
        }
      });
    }
  });
}

}  // namespace berth::scheduler
