#pragma once
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <berth/common/clock.hpp>
#include <berth/common/json.hpp>
#include <berth/common/result.hpp>
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

inline constexpr char kPauseContainerName[] = "~internal~ecs~pause";  // as the ECS agent names it

struct ReconcilerOptions {
  std::string instance_id;              // value of dev.berth.instance on every container
  std::string host_ip = "127.0.0.1";    // where bridge-mode host ports are published
  std::string efs_root;                 // directory holding EFS file systems (<efs_root>/<fs id>/...)
  std::string pause_image = "berth/pause:" BERTH_VERSION;
  // The root filesystem tar of the pause image, loaded into the engine the first time an awsvpc task needs it.
  std::function<std::optional<std::string>()> pause_rootfs_tar;
  // Fargate pool capacity in CPU units and MiB; 0 means unbounded. Tasks beyond it wait in PROVISIONING.
  std::int64_t fargate_cpu_units = 0;
  std::int64_t fargate_memory_mib = 0;
  // How long after STOPPED a task's containers are removed, and its record forgotten (the record never
  // outlives its containers' clean-up).
  TimeMs container_cleanup_wait_ms = 3 * 3600 * 1000;
  TimeMs task_retention_ms = 3600 * 1000;
  // Default for dependsOn when the dependency sets no startTimeout (the ECS agent's ECS_CONTAINER_START_TIMEOUT).
  int default_start_timeout_s = 180;
  // Where secrets (`valueFrom`) and environmentFiles (S3 objects) come from; empty functions find nothing.
  std::function<std::optional<std::string>(const std::string& value_from)> secret_lookup;
  std::function<std::optional<std::string>(const std::string& bucket, const std::string& key)> s3_lookup;
  // Where containers reach the task metadata and credentials endpoint, e.g. "http://169.254.170.2"; empty
  // leaves ECS_CONTAINER_METADATA_URI*, ECS_AGENT_URI and AWS_CONTAINER_CREDENTIALS_RELATIVE_URI out.
  std::string metadata_base_url;
};

// What the reconciler resolved for one container before asking the engine to create it.
struct SpecInputs {
  // Empty: the task's network mode. For awsvpc tasks: "container:<pause container id>".
  std::string network_mode;
  // KEY=VALUE pairs from environmentFiles and secrets, in that order; `environment` wins over them.
  std::vector<std::string> extra_env;
  // Task volume name -> where it lives on the engine: type kBind with a host path, or kVolume with a Docker
  // volume name (targets and read-only flags come from each container's mountPoints).
  std::map<std::string, runtime::Mount> volumes;
  // Where bridge-mode host ports are published; empty: ReconcilerOptions::host_ip. A task on a container
  // instance publishes on the instance's own loopback address.
  std::string host_ip;
  // The container instance's cgroup (its CPU and memory cap); empty: none.
  std::string cgroup_parent;
};

// The environment ECS itself gives every container of a task: the metadata URIs (v3, v4) and agent URI with the
// container's token, the credentials path when the task has a role, AWS_EXECUTION_ENV and the region.
std::vector<std::string> ecs_environment(const state::Task& task, const state::Container& container,
                                         const ReconcilerOptions& options);

// The container an engine should run for one container of a task (pure; unit-tested on its own).
runtime::ContainerSpec build_container_spec(const state::Task& task, const state::Container& container,
                                            const ReconcilerOptions& options, const std::string& name_suffix,
                                            const SpecInputs& inputs = {});

// Resolves a container's environmentFiles and secrets into KEY=VALUE pairs (environment files first, in order,
// then secrets), or the ECS-style reason the task cannot start.
Result<std::vector<std::string>> resolve_extra_env(const state::Container& container,
                                                   const ReconcilerOptions& options);

// The registry credentials of a container's repositoryCredentials, as an X-Registry-Auth header value.
Result<std::optional<std::string>> resolve_registry_auth(const state::Container& container,
                                                         const ReconcilerOptions& options);

// Where each task volume lives on the engine (pure apart from naming).
std::map<std::string, state::VolumeSource> plan_volumes(const state::Task& task, const json& task_definition_volumes,
                                                       const ReconcilerOptions& options);

// Where ECS would send a container's awslogs output: {group, stream}; the stream is
// <awslogs-stream-prefix>/<container name>/<task id> (just the task id without a prefix). Empty for other drivers.
std::pair<std::string, std::string> awslogs_destination(const state::Task& task, const state::Container& container);

// The task's health as ECS rolls it up from its essential containers that have health checks.
std::string task_health_status(const state::Task& task);

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
  // Called once the reconciler has acted on a task whose version moved (it started, stopped, changed health):
  // how the service scheduler hears about its tasks without polling. It must not reconcile tasks itself.
  void set_task_observer(std::function<void(const state::Task&)> observer) { observer_ = std::move(observer); }
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
  void forget_all() {
    active_.clear();
    stopped_.clear();
    observed_versions_.clear();
  }
  // Takes on every task of the store that is not STOPPED (after a restore from --data-dir).
  void adopt_all();

  const ReconcilerOptions& options() const { return options_; }
  std::size_t active_task_count() const { return active_.size(); }

 private:
  state::Container* find_container(state::Task& task, const std::string& name);
  // The task and container an engine operation just completed for, with the container's operation marked as
  // landed; null when either is gone (reset, retention).
  state::Container* landed(const std::string& task_id, const std::string& name, state::Task*& task);
  void stop_task(state::Task& task, const std::string& stop_code, const std::string& reason);
  void fail_container(state::Task& task, state::Container& c, const std::string& reason);
  void mark_exited(state::Task& task, state::Container& c, std::optional<int> exit_code);
  void reconcile_running(state::Task& task);
  void reconcile_stopping(state::Task& task);
  bool try_admit(state::Task& task);
  bool provision(state::Task& task);
  // The task's container instance has its cgroup (true), or it is being made; fills where the task's
  // containers go (cgroup parent, host address).
  bool instance_ready(const state::Task& task);
  void apply_instance(const state::Task& task, SpecInputs& inputs) const;
  bool provision_network(state::Task& task);
  void deprovision(state::Task& task);
  enum class Dependency { kReady, kWait, kNever };
  Dependency dependencies_met(const state::Task& task, const state::Container& c, std::string& why) const;
  bool dependents_running(const state::Task& task, const state::Container& c) const;
  void pull(state::Task& task, state::Container& c);
  void create(state::Task& task, state::Container& c);
  void start_container(state::Task& task, state::Container& c);
  void clean_up_stopped(TimeMs now);
  void remove_task_resources(const state::Task& task);
  void reconcile_all();
  void signal(state::Task& task, state::Container& c, const char* sig);
  // Called first in every pull/create/start completion; true while draining (the completion must then only
  // clean up).
  bool op_completed();

  state::Store& store_;
  runtime::ContainerRuntime& runtime_;
  const Clock& clock_;
  ReconcilerOptions options_;
  std::set<std::string> active_;  // ids of tasks that are not STOPPED yet
  std::set<std::string> stopped_;  // ids of STOPPED tasks whose record or containers still need cleaning up
  enum class PauseImage { kUnknown, kLoading, kReady, kFailed };
  PauseImage pause_image_ = PauseImage::kUnknown;
  std::string pause_image_error_;
  std::map<std::string, bool> networks_;  // Docker networks: name -> ready (false while being created)
  std::set<std::string> created_networks_;
  std::set<std::string> task_volumes_;  // task-scoped Docker volumes not yet removed (reset/shutdown remove them)
  // Container instances' cgroups, by instance id: the limits asked for, and the parent the engine gave (empty
  // while being made, or when the engine's cgroups cannot be written).
  struct InstanceCgroup {
    std::int64_t cpu_units = 0;
    std::int64_t memory_bytes = 0;
    bool ready = false;
    bool in_flight = false;
    std::string parent;
  };
  std::map<std::string, InstanceCgroup> cgroups_;
  std::set<std::string> created_cgroups_;  // removed with the containers (reset, shutdown without a data dir)
  int in_flight_ = 0;             // pulls, creates and starts issued and not yet completed
  std::function<void()> drain_done_;
  bool draining_ = false;  // shutting down: nothing new is issued, whatever happens to the tasks meanwhile
  std::function<void(const state::Task&)> observer_;
  std::map<std::string, std::int64_t> observed_versions_;  // task id -> version the observer last saw
};

}  // namespace berth::scheduler
