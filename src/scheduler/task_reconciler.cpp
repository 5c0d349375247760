#include <berth/scheduler/task_reconciler.hpp>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <utility>

#include <spdlog/spdlog.h>

#include <berth/common/ids.hpp>
#include <berth/state/container_instances.hpp>
#include <berth/state/transitions.hpp>

namespace berth::scheduler {

using state::Container;
using state::ContainerPhase;
using state::ContainerStatus;
using state::Task;
using state::TaskStatus;

namespace {

bool is_fargate(const Task& t) { return t.launch_type == "FARGATE" || t.launch_type == "FARGATE_SPOT"; }

constexpr std::int64_t kMiB = 1024 * 1024;

// Every container instance's tasks share one cgroup, which caps them together at the instance's registered
// CPU and memory, as the instance's own machine would.
std::string instance_cgroup(const std::string& instance_id) { return "berth/" + instance_id; }

std::int64_t to_int(const std::string& s) {
  try {
    return s.empty() ? 0 : std::stoll(s);
  } catch (const std::exception&) {
    return 0;
  }
}

// The pause container stands in for the task's ENI; it is named and labelled as the ECS agent does.
runtime::ContainerSpec pause_spec(const Task& task, const ReconcilerOptions& options) {
  runtime::ContainerSpec spec;
  spec.name = "ecs-" + task.family + "-" + std::to_string(task.revision) + "-internalecspause-" +
              ids::hex32().substr(0, 20);
  spec.image = options.pause_image;
  spec.entrypoint = std::vector<std::string>{"/pause"};
  spec.network_mode = task.eni->network;
  if (task.group.starts_with("service:")) {
    // Tasks of one service answer to the service's name on the cluster network.
    spec.network_aliases.push_back(task.group.substr(8));
  }
  spec.labels[kLabelCluster] = task.cluster_arn;
  spec.labels[kLabelTaskArn] = task.arn;
  spec.labels[kLabelContainerName] = kPauseContainerName;
  spec.labels[kLabelFamily] = task.family;
  spec.labels[kLabelRevision] = std::to_string(task.revision);
  spec.labels[kLabelInstance] = options.instance_id;
  spec.labels[kLabelTaskId] = task.id;
  spec.cpu_shares = 2;
  spec.memory_bytes = 32 * 1024 * 1024;
  return spec;
}

}  // namespace

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

Container* TaskReconciler::landed(const std::string& task_id, const std::string& name, Task*& task) {
  task = store_.find_task(task_id);
  Container* c = task == nullptr ? nullptr : find_container(*task, name);
  if (c != nullptr) {
    c->op_in_flight = false;
  }
  return c;
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
  draining_ = true;
  if (in_flight_ == 0) {
    remove_all_containers(std::move(done));
    return;
  }
  drain_done_ = std::move(done);
}

void TaskReconciler::reconcile_all() {
  std::vector<std::string> ids(active_.begin(), active_.end());
  for (const auto& id : ids) {
    reconcile(id);
  }
}

void TaskReconciler::reconcile(const std::string& task_id) {
  if (draining_) {
    return;
  }
  Task* task = store_.find_task(task_id);
  if (task == nullptr) {
    active_.erase(task_id);
    observed_versions_.erase(task_id);
    return;
  }
  if (task->last_status != TaskStatus::kStopped) {
    active_.insert(task_id);
    if (task->desired_status == TaskStatus::kRunning) {
      reconcile_running(*task);
    }
    // reconcile_running may have decided to stop the task (an essential container already exited).
    if (task->desired_status == TaskStatus::kStopped) {
      reconcile_stopping(*task);
    }
  }
  if (task->last_status == TaskStatus::kStopped) {
    active_.erase(task_id);
    stopped_.insert(task_id);
  }
  if (observer_) {
    auto [seen, inserted] = observed_versions_.try_emplace(task_id, task->version);
    if (inserted || seen->second != task->version) {
      seen->second = task->version;
      observer_(*task);
    }
  }
}

// ---- Provisioning: the Fargate pool, the instance's cgroup, volumes, the network namespace
// -----------------

bool TaskReconciler::instance_ready(const Task& task) {
  auto* region = task.container_instance_arn.empty() ? nullptr : store_.find_region(task.scope);
  const auto* ci = region == nullptr ? nullptr : state::instance_of(*region, task);
  if (ci == nullptr) {
    return true;  // berth's own engine: no instance to cap
  }
  const std::int64_t cpu = state::registered_integer(*ci, "CPU");
  const std::int64_t memory = state::registered_integer(*ci, "MEMORY") * kMiB;
  auto& cg = cgroups_[ci->id];
  if (cg.ready && cg.cpu_units == cpu && cg.memory_bytes == memory) {
    return true;
  }
  if (cg.in_flight) {
    return false;
  }
  cg.in_flight = true;
  cg.cpu_units = cpu;
  cg.memory_bytes = memory;
  ++in_flight_;
  runtime_.ensure_cgroup(runtime::CgroupSpec{instance_cgroup(ci->id), cpu, memory},
                         [this, id = ci->id](runtime::CgroupOutcome out) {
                           if (op_completed()) {
                             return;
                           }
                           auto& c = cgroups_[id];
                           c.in_flight = false;
                           if (out.error) {
                             // Left not ready: the next pass asks again.
                             spdlog::debug("cgroup of container instance {}: {}", id, out.error->message);
                             return;
                           }
                           c.ready = true;
                           c.parent = out.parent;
                           if (!out.parent.empty()) {
                             created_cgroups_.insert(instance_cgroup(id));
                           }
                           reconcile_all();
                         });
  return false;
}

void TaskReconciler::apply_instance(const Task& task, SpecInputs& inputs) const {
  const std::string id =
      resource_name_from(task.container_instance_arn, "ecs", "container-instance").value_or("");
  if (task.container_instance_arn.empty() || id.empty()) {
    return;
  }
  if (auto it = cgroups_.find(id); it != cgroups_.end()) {
    inputs.cgroup_parent = it->second.parent;
  }
  // Each instance publishes on its own loopback address, unless berth was told to publish elsewhere.
  if (options_.host_ip.starts_with("127.")) {
    inputs.host_ip = state::instance_host_ip(id);
  }
}

bool TaskReconciler::try_admit(Task& task) {
  if (task.admitted) {
    return true;
  }
  if (!is_fargate(task) || (options_.fargate_cpu_units == 0 && options_.fargate_memory_mib == 0)) {
    task.admitted = true;
    return true;
  }
  std::int64_t cpu = 0;
  std::int64_t mem = 0;
  bool older_waiting = false;
  store_.for_each_region([&](const Scope&, state::RegionState& region) {
    for (const auto& [id, t] : region.tasks) {
      if (!is_fargate(t) || t.last_status == TaskStatus::kStopped || id == task.id) {
        continue;
      }
      if (t.admitted) {
        cpu += to_int(t.cpu);
        mem += to_int(t.memory);
      } else if (t.desired_status == TaskStatus::kRunning &&
                 (t.created_at < task.created_at || (t.created_at == task.created_at && id < task.id))) {
        older_waiting = true;  // first come, first served
      }
    }
  });
  const bool cpu_fits = options_.fargate_cpu_units == 0 || cpu + to_int(task.cpu) <= options_.fargate_cpu_units;
  const bool mem_fits = options_.fargate_memory_mib == 0 || mem + to_int(task.memory) <= options_.fargate_memory_mib;
  if (older_waiting || !cpu_fits || !mem_fits) {
    return false;
  }
  task.admitted = true;
  ++task.version;
  return true;
}

bool TaskReconciler::provision(Task& task) {
  if (!task.volumes_ready && task.volumes.empty() && !task.volume_definitions.empty()) {
    task.volumes = plan_volumes(task, task.volume_definitions, options_);
  }
  if (!task.volumes_ready) {
    // Volumes are planned when the task is created (RunTask); here they are made to exist.
    if (task.volumes_in_flight) {
      return false;
    }
    std::vector<std::pair<std::string, const state::VolumeSource*>> docker_volumes;
    for (const auto& [name, v] : task.volumes) {
      if (!v.bind) {
        docker_volumes.emplace_back(name, &v);
      } else if (!options_.efs_root.empty() && v.source.starts_with(options_.efs_root + "/")) {
        std::error_code ec;
        std::filesystem::create_directories(v.source, ec);
        if (ec) {
          stop_task(task, "TaskFailedToStart",
                    "ResourceInitializationError: failed to prepare EFS volume '" + name + "': " + ec.message());
          return false;
        }
      }
    }
    if (docker_volumes.empty()) {
      task.volumes_ready = true;
    } else {
      task.volumes_in_flight = true;
      ++in_flight_;
      auto remaining = std::make_shared<std::size_t>(docker_volumes.size());
      auto first_error = std::make_shared<std::string>();
      for (const auto& [name, v] : docker_volumes) {
        runtime::VolumeSpec spec;
        spec.name = v->source;
        spec.driver = v->driver.empty() ? "local" : v->driver;
        spec.driver_opts = v->driver_opts;
        spec.labels = v->labels;
        spec.labels[kLabelInstance] = options_.instance_id;
        if (v->task_scoped) {
          spec.labels[kLabelTaskId] = task.id;
          task_volumes_.insert(v->source);
        }
        runtime_.ensure_volume(spec, [this, id = task.id, remaining, first_error, name = name](runtime::Done d) {
          if (d.error && first_error->empty()) {
            *first_error = "ResourceInitializationError: failed to create volume '" + name + "': " + d.error->message;
          }
          if (--*remaining > 0 || op_completed()) {
            return;
          }
          Task* t = store_.find_task(id);
          if (t == nullptr) {
            return;
          }
          t->volumes_in_flight = false;
          if (!first_error->empty()) {
            stop_task(*t, "TaskFailedToStart", *first_error);
          } else {
            t->volumes_ready = true;
          }
          reconcile(id);
        });
      }
      return false;
    }
  }
  if (!task.eni) {
    return true;
  }
  return provision_network(task);
}

bool TaskReconciler::provision_network(Task& task) {
  auto& eni = *task.eni;
  if (eni.status == "ATTACHED") {
    return true;
  }
  if (eni.op_in_flight) {
    return false;
  }
  // The pause image, loaded once per berth process when an awsvpc task first needs it.
  if (pause_image_ == PauseImage::kFailed) {
    stop_task(task, "TaskFailedToStart", "ResourceInitializationError: " + pause_image_error_);
    return false;
  }
  if (pause_image_ != PauseImage::kReady) {
    if (pause_image_ == PauseImage::kUnknown) {
      pause_image_ = PauseImage::kLoading;
      auto tar = options_.pause_rootfs_tar ? options_.pause_rootfs_tar() : std::nullopt;
      if (!tar) {
        pause_image_ = PauseImage::kFailed;
        pause_image_error_ = "berth's pause image is not available (berth-pause was not found next to berth)";
        stop_task(task, "TaskFailedToStart", "ResourceInitializationError: " + pause_image_error_);
        return false;
      }
      ++in_flight_;
      runtime_.import_image(options_.pause_image, std::move(*tar), [this](runtime::Done d) {
        if (op_completed()) {
          return;
        }
        if (d.error) {
          pause_image_ = PauseImage::kFailed;
          pause_image_error_ = "cannot load berth's pause image: " + d.error->message;
        } else {
          pause_image_ = PauseImage::kReady;
        }
        reconcile_all();
      });
    }
    return false;
  }
  // The cluster's network, created once.
  auto net = networks_.find(eni.network);
  if (net == networks_.end()) {
    networks_[eni.network] = false;
    ++in_flight_;
    runtime::NetworkSpec spec;
    spec.name = eni.network;
    spec.labels[kLabelInstance] = options_.instance_id;
    spec.labels[kLabelCluster] = task.cluster_arn;
    runtime_.ensure_network(spec, [this, name = eni.network, id = task.id](runtime::Done d) {
      if (op_completed()) {
        return;
      }
      if (d.error) {
        networks_.erase(name);
        if (Task* t = store_.find_task(id)) {
          stop_task(*t, "TaskFailedToStart",
                    "ResourceInitializationError: failed to create network " + name + ": " + d.error->message);
        }
      } else {
        networks_[name] = true;
        created_networks_.insert(name);
      }
      reconcile_all();
    });
    return false;
  }
  if (!net->second) {
    return false;
  }
  if (eni.pause_phase == ContainerPhase::kNew) {
    eni.pause_phase = ContainerPhase::kCreating;
    eni.op_in_flight = true;
    ++in_flight_;
    auto spec = pause_spec(task, options_);
    SpecInputs where;
    apply_instance(task, where);
    if (!where.cgroup_parent.empty()) {
      spec.cgroup_parent = where.cgroup_parent;
    }
    runtime_.create(std::move(spec), [this, id = task.id](runtime::CreateOutcome out) {
      const bool draining = op_completed();
      Task* t = store_.find_task(id);
      if (t == nullptr || !t->eni || draining) {
        if (!out.error) {
          runtime_.remove(out.container_id, [](runtime::Done) {});
        }
        return;
      }
      t->eni->op_in_flight = false;
      if (out.error) {
        stop_task(*t, "TaskFailedToStart",
                  "ResourceInitializationError: failed to create the task's network namespace: " + out.error->message);
      } else {
        t->eni->pause_id = out.container_id;
        t->eni->pause_phase = ContainerPhase::kCreated;
      }
      reconcile(id);
    });
    return false;
  }
  if (eni.pause_phase == ContainerPhase::kCreated) {
    eni.pause_phase = ContainerPhase::kStarting;
    eni.op_in_flight = true;
    ++in_flight_;
    runtime_.start(eni.pause_id, [this, id = task.id](runtime::StartOutcome out) {
      if (op_completed()) {
        return;
      }
      Task* t = store_.find_task(id);
      if (t == nullptr || !t->eni) {
        return;
      }
      t->eni->op_in_flight = false;
      if (out.error) {
        stop_task(*t, "TaskFailedToStart",
                  "ResourceInitializationError: failed to start the task's network namespace: " + out.error->message);
      } else {
        t->eni->pause_phase = ContainerPhase::kStarted;
        t->eni->ip = out.ip_address;
        t->eni->mac = out.mac_address;
        t->eni->status = "ATTACHED";
        ++t->version;
      }
      reconcile(id);
    });
  }
  return false;
}

void TaskReconciler::deprovision(Task& task) {
  auto& eni = *task.eni;
  if (eni.op_in_flight || eni.status == "DELETED") {
    return;
  }
  if (eni.pause_id.empty()) {
    eni.status = "DELETED";
    ++task.version;
    return;
  }
  eni.op_in_flight = true;
  ++in_flight_;
  runtime_.kill(eni.pause_id, "SIGKILL", [this, id = task.id](runtime::Done) {
    if (op_completed()) {
      return;
    }
    Task* t = store_.find_task(id);
    if (t == nullptr || !t->eni) {
      return;
    }
    t->eni->op_in_flight = false;
    t->eni->status = "DELETED";
    ++t->version;
    reconcile(id);
  });
}

// ---- Running ---------------------------------------------------------------------------------------------

TaskReconciler::Dependency TaskReconciler::dependencies_met(const Task& task, const Container& c,
                                                            std::string& why) const {
  auto deps = c.definition.find("dependsOn");
  if (deps == c.definition.end() || !deps->is_array()) {
    return Dependency::kReady;
  }
  const TimeMs now = clock_.now_ms();
  Dependency verdict = Dependency::kReady;
  for (const auto& d : *deps) {
    const std::string name = d.value("containerName", "");
    const std::string condition = d.value("condition", "START");
    auto it = std::find_if(task.containers.begin(), task.containers.end(),
                           [&](const Container& x) { return x.name == name; });
    if (it == task.containers.end()) {
      why = "dependency on unknown container '" + name + "'";
      return Dependency::kNever;
    }
    const Container& dep = *it;
    const bool exited = dep.last_status == ContainerStatus::kStopped;
    bool ready = false;
    bool never = false;
    if (condition == "START") {
      ready = dep.started_at.has_value();
      never = exited && !ready;
    } else if (condition == "COMPLETE") {
      ready = exited;
    } else if (condition == "SUCCESS") {
      ready = exited && dep.exit_code == 0;
      never = exited && dep.exit_code != 0;
    } else if (condition == "HEALTHY") {
      ready = dep.health_status == "HEALTHY";
      never = exited || dep.health_status == "UNHEALTHY";
    }
    if (never) {
      why = "dependency on container '" + name + "' with condition " + condition + " can no longer be met";
      return Dependency::kNever;
    }
    if (!ready) {
      const int timeout = dep.definition.value("startTimeout", options_.default_start_timeout_s);
      if (task.activating_at && now >= *task.activating_at + static_cast<TimeMs>(timeout) * 1000) {
        why = "dependency on container '" + name + "' with condition " + condition + " was not met within " +
              std::to_string(timeout) + " seconds (startTimeout)";
        return Dependency::kNever;
      }
      verdict = Dependency::kWait;
    }
  }
  return verdict;
}

void TaskReconciler::reconcile_running(Task& task) {
  const TimeMs now = clock_.now_ms();
  if (!try_admit(task) || !instance_ready(task) || !provision(task)) {
    return;
  }
  if (task.desired_status != TaskStatus::kRunning) {
    return;
  }
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
    if (task.desired_status != TaskStatus::kRunning) {
      return;
    }
    all_pulled = all_pulled && c.phase >= ContainerPhase::kPulled;
    all_created = all_created && c.phase >= ContainerPhase::kCreated;
  }
  if (all_pulled && task.pull_started_at && !task.pull_stopped_at) {
    task.pull_stopped_at = now;
    ++task.version;
  }
  if (!all_created) {
    return;
  }
  if (!task.activating_at) {
    task.activating_at = now;
  }
  state::advance_task(task, TaskStatus::kActivating, now);
  bool settled = true;
  for (auto& c : task.containers) {
    if (c.last_status == ContainerStatus::kStopped) {
      continue;
    }
    if (!c.op_in_flight && c.phase == ContainerPhase::kCreated) {
      std::string why;
      switch (dependencies_met(task, c, why)) {
        case Dependency::kReady:
          start_container(task, c);
          break;
        case Dependency::kWait:
          break;
        case Dependency::kNever:
          c.reason = "DependencyError: " + why;
          stop_task(task, "TaskFailedToStart", "Task failed to start: container '" + c.name + "': " + why);
          return;
      }
    }
    settled = settled && c.last_status == ContainerStatus::kRunning;
  }
  if (settled) {
    state::advance_task(task, TaskStatus::kRunning, now);
  }
}

// ---- Stopping --------------------------------------------------------------------------------------------

bool TaskReconciler::dependents_running(const Task& task, const Container& c) const {
  for (const auto& other : task.containers) {
    if (other.last_status == ContainerStatus::kStopped || &other == &c) {
      continue;
    }
    for (const auto& d : other.definition.value("dependsOn", json::array())) {
      if (d.value("containerName", "") == c.name) {
        return true;
      }
    }
  }
  return false;
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
    // Shutdown runs in reverse dependency order: a container stops after every container that depends on it.
    if (dependents_running(task, c)) {
      continue;
    }
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
  if (!all_stopped) {
    return;
  }
  if (task.eni && task.eni->status != "DELETED") {
    // The containers are down: detach the ENI (stop the pause container) before the task is STOPPED.
    if (task.eni->op_in_flight) {
      return;
    }
    state::advance_task(task, TaskStatus::kDeprovisioning, now);
    deprovision(task);
    if (task.eni->status != "DELETED") {
      return;
    }
  }
  if ((task.eni && task.eni->op_in_flight) || task.volumes_in_flight) {
    return;  // a volume or pause operation is still landing
  }
  state::advance_task(task, TaskStatus::kStopped, now);
}

// ---- Engine operations -------------------------------------------------------------------------------------

void TaskReconciler::pull(Task& task, Container& c) {
  auto auth = resolve_registry_auth(c, options_);
  if (!auth) {
    fail_container(task, c, auth.error().message);
    return;
  }
  c.phase = ContainerPhase::kPulling;
  c.op_in_flight = true;
  ++in_flight_;
  if (!task.pull_started_at) {
    task.pull_started_at = clock_.now_ms();
    ++task.version;
  }
  runtime_.ensure_image(c.image, std::move(*auth), [this, id = task.id, name = c.name](runtime::ImageOutcome out) {
    if (op_completed()) {
      return;
    }
    Task* t = nullptr;
    Container* ct = landed(id, name, t);
    if (ct == nullptr) {
      return;
    }
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
  if (!c.env_resolved) {
    auto env = resolve_extra_env(c, options_);
    if (!env) {
      fail_container(task, c, env.error().message);
      return;
    }
    c.extra_env = std::move(*env);
    c.env_resolved = true;
  }
  SpecInputs inputs;
  // volumesFrom needs its source containers to exist first.
  for (const auto& vf : c.definition.value("volumesFrom", json::array())) {
    const Container* src = find_container(task, vf.value("sourceContainer", ""));
    if (src != nullptr && src->runtime_id.empty() && src->last_status != ContainerStatus::kStopped) {
      return;
    }
  }
  if (task.eni) {
    inputs.network_mode = "container:" + task.eni->pause_id;
  }
  apply_instance(task, inputs);
  inputs.extra_env = c.extra_env;
  for (const auto& [name, v] : task.volumes) {
    runtime::Mount m;
    m.type = v.bind ? runtime::Mount::Type::kBind : runtime::Mount::Type::kVolume;
    m.source = v.source;
    inputs.volumes[name] = m;
  }
  if (c.metadata_token.empty()) {
    // Its metadata URIs name it by this token; a retried create keeps the same one.
    c.metadata_token = ids::secret_hex(16);
  }
  c.phase = ContainerPhase::kCreating;
  c.op_in_flight = true;
  ++in_flight_;
  auto spec = build_container_spec(task, c, options_, ids::hex32().substr(0, 20), inputs);
  c.docker_name = spec.name;
  runtime_.create(std::move(spec), [this, id = task.id, name = c.name](runtime::CreateOutcome out) {
    const bool draining = op_completed();
    Task* t = store_.find_task(id);
    Container* ct = t == nullptr ? nullptr : find_container(*t, name);
    if (ct == nullptr || draining) {
      // The task is gone (reset) or berth is shutting down: do not leave its container behind.
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
      ct->created_at = clock_.now_ms();
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
    Task* t = nullptr;
    Container* ct = landed(id, name, t);
    if (ct == nullptr) {
      return;
    }
    if (out.error) {
      fail_container(*t, *ct, "CannotStartContainerError: " + out.error->message);
    } else {
      ct->phase = ContainerPhase::kStarted;
      if (!ct->started_at) {
        ct->started_at = clock_.now_ms();
      }
      // The metadata endpoint knows a bridge container's requests by this address.
      ct->ip_address = out.ip_address;
      ct->network_bindings.clear();
      if (t->network_mode == "host") {
        // In host mode a container port is the host port, as ECS reports it.
        for (const auto& pm : ct->definition.value("portMappings", json::array())) {
          const int port = pm.value("containerPort", 0);
          ct->network_bindings.push_back(
              state::NetworkBinding{"0.0.0.0", port, pm.value("hostPort", port), pm.value("protocol", "tcp")});
        }
      }
      for (const auto& b : out.bindings) {
        if (t->network_mode == "host") {
          break;
        }
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

// ---- Time, events, resync, clean-up --------------------------------------------------------------------

void TaskReconciler::tick() {
  reconcile_all();
  clean_up_stopped(clock_.now_ms());
}

void TaskReconciler::remove_task_resources(const Task& task) {
  std::vector<std::string> ids;
  for (const auto& c : task.containers) {
    if (!c.runtime_id.empty()) {
      ids.push_back(c.runtime_id);
    }
  }
  if (task.eni && !task.eni->pause_id.empty()) {
    ids.push_back(task.eni->pause_id);
  }
  std::vector<std::string> volumes;
  for (const auto& [name, v] : task.volumes) {
    if (v.task_scoped && !v.bind) {
      volumes.push_back(v.source);
    }
  }
  // Task-scoped volumes go after the containers that use them: the engine refuses to remove a volume in use.
  for (const auto& v : volumes) {
    task_volumes_.erase(v);
  }
  auto remove_volumes = [this, volumes] {
    for (const auto& v : volumes) {
      runtime_.remove_volume(v, [v](runtime::Done d) {
        if (d.error) {
          spdlog::warn("cannot remove volume {}: {}", v, d.error->message);
        }
      });
    }
  };
  if (ids.empty()) {
    remove_volumes();
    return;
  }
  auto remaining = std::make_shared<std::size_t>(ids.size());
  for (const auto& id : ids) {
    runtime_.remove(id, [remaining, remove_volumes](runtime::Done) {
      if (--*remaining == 0) {
        remove_volumes();
      }
    });
  }
}

void TaskReconciler::clean_up_stopped(TimeMs now) {
  std::vector<std::string> ids(stopped_.begin(), stopped_.end());
  for (const auto& id : ids) {
    Task* t = store_.find_task(id);
    if (t == nullptr || !t->stopped_at) {
      stopped_.erase(id);
      continue;
    }
    const TimeMs stopped_at = *t->stopped_at;
    const bool forget = now >= stopped_at + options_.task_retention_ms;
    if (forget || now >= stopped_at + options_.container_cleanup_wait_ms) {
      if (!t->containers.empty() || t->eni) {
        remove_task_resources(*t);
      }
      // Mark the containers as removed so the next pass does not remove them again.
      for (auto& c : t->containers) {
        c.runtime_id.clear();
      }
      if (t->eni) {
        t->eni->pause_id.clear();
      }
      for (auto& [name, v] : t->volumes) {
        v.task_scoped = false;
      }
    }
    if (forget) {
      store_.erase_task(id);
      stopped_.erase(id);
      observed_versions_.erase(id);
    }
  }
}

void TaskReconciler::on_event(const runtime::RuntimeEvent& event) {
  auto task_label = event.labels.find(kLabelTaskId);
  auto name_label = event.labels.find(kLabelContainerName);
  if (task_label == event.labels.end() || name_label == event.labels.end()) {
    return;
  }
  Task* task = store_.find_task(task_label->second);
  if (task == nullptr) {
    return;
  }
  if (name_label->second == kPauseContainerName) {
    // The network namespace went away under the task: ECS would lose the ENI; the task cannot go on.
    if (event.type == runtime::RuntimeEvent::Type::kDie && task->eni && task->eni->status == "ATTACHED" &&
        task->desired_status == TaskStatus::kRunning) {
      stop_task(*task, "TaskFailedToStart", "Task stopped because its network namespace (pause) container exited");
      reconcile(task->id);
    }
    return;
  }
  Container* c = find_container(*task, name_label->second);
  if (c == nullptr) {
    return;
  }
  const TimeMs now = clock_.now_ms();
  switch (event.type) {
    case runtime::RuntimeEvent::Type::kStart:
      if (c->phase >= ContainerPhase::kStarting) {
        if (!c->started_at) {
          c->started_at = now;
        }
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
    case runtime::RuntimeEvent::Type::kHealth:
      if (c->definition.contains("healthCheck") && c->last_status != ContainerStatus::kStopped) {
        std::string status = event.health == "healthy" ? "HEALTHY" : event.health == "unhealthy" ? "UNHEALTHY" : "";
        if (!status.empty() && status != c->health_status) {
          c->health_status = status;
          ++task->version;
        }
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
      } else {
        stopped_.insert(id);
      }
      if (task.eni && !task.eni->network.empty()) {
        networks_[task.eni->network] = true;
      }
      for (const auto& [name, v] : task.volumes) {
        if (v.task_scoped && !v.bind) {
          task_volumes_.insert(v.source);
        }
      }
    }
  });
  if (!networks_.empty()) {
    // The pause image was loaded by the berth that created those tasks.
    pause_image_ = PauseImage::kReady;
  }
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
  auto finish = [this, done = std::move(done)]() {
    // Networks and task volumes go last: the engine refuses to remove them while a container uses them.
    auto nets = std::exchange(created_networks_, {});
    auto volumes = std::exchange(task_volumes_, {});
    auto cgroups = std::exchange(created_cgroups_, {});
    networks_.clear();
    cgroups_.clear();
    if (nets.empty() && volumes.empty() && cgroups.empty()) {
      done();
      return;
    }
    auto remaining = std::make_shared<std::size_t>(nets.size() + volumes.size() + cgroups.size());
    auto one_done = [remaining, done](runtime::Done) {
      if (--*remaining == 0) {
        done();
      }
    };
    for (const auto& n : nets) {
      runtime_.remove_network(n, one_done);
    }
    for (const auto& v : volumes) {
      runtime_.remove_volume(v, one_done);
    }
    for (const auto& c : cgroups) {
      runtime_.remove_cgroup(c, one_done);
    }
  };
  runtime_.list({{kLabelInstance, options_.instance_id}}, [this, finish = std::move(finish)](runtime::ListOutcome out) {
    if (out.error || out.containers.empty()) {
      finish();
      return;
    }
    auto remaining = std::make_shared<std::size_t>(out.containers.size());
    for (const auto& s : out.containers) {
      runtime_.remove(s.id, [remaining, finish](runtime::Done) {
        if (--*remaining == 0) {
          finish();
        }
      });
    }
  });
}

}  // namespace berth::scheduler
