#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <berth/common/arn.hpp>
#include <berth/common/clock.hpp>
#include <berth/common/json.hpp>

namespace berth::state {

struct Cluster {
  std::string name;
  std::string arn;
  std::string status = "ACTIVE";
  json settings = json::array();
  json configuration;  // null when not set
  json capacity_providers = json::array();
  json default_capacity_provider_strategy = json::array();
  json service_connect_defaults;  // null when not set
  json tags = json::array();
  TimeMs created_at = 0;
};

// A task definition revision. `doc` is what DescribeTaskDefinition returns under `taskDefinition`, stored
// faithfully (every field the caller sent plus the ones ECS computes); `tags` are returned beside it.
struct TaskDefinition {
  std::string family;
  int revision = 0;
  std::string arn;
  std::string status = "ACTIVE";  // ACTIVE | INACTIVE | DELETE_IN_PROGRESS
  json doc;
  json tags = json::array();
};

// Ordered as ECS moves a task forward; a task never moves back.
enum class TaskStatus {
  kProvisioning,
  kPending,
  kActivating,
  kRunning,
  kDeactivating,
  kStopping,
  kDeprovisioning,
  kStopped
};
std::string_view to_string(TaskStatus s);

enum class ContainerStatus { kPending, kRunning, kStopped };
std::string_view to_string(ContainerStatus s);

// How far the reconciler has brought a container on the engine (bookkeeping, not an ECS field).
enum class ContainerPhase { kNew, kPulling, kPulled, kCreating, kCreated, kStarting, kStarted };

struct NetworkBinding {
  std::string bind_ip;
  int container_port = 0;
  int host_port = 0;
  std::string protocol = "tcp";
};

struct Container {
  std::string name;
  std::string arn;
  std::string image;
  std::string image_digest;
  json definition;  // the container definition with RunTask overrides applied
  bool essential = true;
  std::string health_status = "UNKNOWN";  // HEALTHY | UNHEALTHY | UNKNOWN
  std::optional<TimeMs> created_at;       // when the engine created it
  std::optional<TimeMs> started_at;       // when the engine started it
  std::optional<TimeMs> finished_at;      // when it was seen to stop
  ContainerStatus last_status = ContainerStatus::kPending;
  std::optional<int> exit_code;
  std::string reason;
  std::string runtime_id;  // Docker container id once created
  std::string docker_name;  // the engine's name for it (ecs-<family>-<revision>-<name>-<suffix>)
  std::string ip_address;  // its own address on the engine (bridge mode), as the engine reported at start
  // The unguessable id in its task metadata URIs (ECS_CONTAINER_METADATA_URI[_V4], ECS_AGENT_URI), set when it
  // is created.
  std::string metadata_token;
  std::vector<NetworkBinding> network_bindings;
  // reconciler bookkeeping
  ContainerPhase phase = ContainerPhase::kNew;
  bool op_in_flight = false;
  std::optional<TimeMs> sigterm_at;
  bool sigkill_sent = false;
  int stop_timeout_s = 30;
  // KEY=VALUE from environmentFiles and secrets; resolved just before create and never saved to disk.
  std::vector<std::string> extra_env;
  bool env_resolved = false;
};

// The task's elastic network interface stand-in (awsvpc): a pause container on a per-cluster Docker network.
struct TaskEni {
  std::string attachment_id;
  std::string eni_id;
  std::string network;             // Docker network standing in for the VPC
  std::string status = "PRECREATED";  // PRECREATED -> ATTACHED -> DELETED
  std::string pause_id;            // Docker id of the pause container
  ContainerPhase pause_phase = ContainerPhase::kNew;
  bool op_in_flight = false;
  std::string ip;
  std::string mac;
  std::string subnet;
  json security_groups = json::array();
};

// Where a task volume lives on the engine.
struct VolumeSource {
  bool bind = false;   // a host path (bind mount) or a Docker volume
  std::string source;  // the path or the volume name
  bool task_scoped = false;  // removed with the task
  std::string driver;  // Docker volumes: dockerVolumeConfiguration.driver (empty: local)
  std::map<std::string, std::string> driver_opts;
  std::map<std::string, std::string> labels;
};

struct Task {
  std::string id;
  std::string arn;
  Scope scope;
  std::string cluster_name;
  std::string cluster_arn;
  std::string task_definition_arn;
  std::string family;
  int revision = 0;
  std::string launch_type = "EC2";
  std::string container_instance_arn;  // the container instance placement put it on; empty: none
  std::string availability_zone;       // its instance's zone (ecs.availability-zone), else <region>a
  std::string network_mode = "bridge";
  std::string group;
  std::string started_by;
  std::string task_role_arn;       // what its containers get credentials for (RunTask's override wins)
  std::string execution_role_arn;  // berth's own, for pulls and secrets: never handed to containers
  // The unguessable id of its role credentials (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI); empty without a role.
  std::string credentials_id;
  std::string cpu;     // task-level, as ECS reports it (string), empty when not set
  std::string memory;  // task-level
  std::string platform_version;        // Fargate only
  int ephemeral_storage_gib = 20;      // Fargate only: the task definition's (or override's), 20 GiB by default
  std::string capacity_provider_name;  // when started through a capacity provider
  json network_configuration;          // as given to RunTask (null when none)
  std::optional<TaskEni> eni;          // awsvpc tasks
  json volume_definitions = json::array();      // the task definition's `volumes`
  std::map<std::string, VolumeSource> volumes;  // where they live, planned when the task is provisioned
  bool volumes_ready = false;
  bool volumes_in_flight = false;
  bool admitted = false;  // has a place in the Fargate pool (always true for other launch types)
  std::optional<TimeMs> activating_at;  // when every container existed (dependsOn startTimeout counts from here)
  json overrides = json::object();
  json tags = json::array();
  TaskStatus last_status = TaskStatus::kProvisioning;
  TaskStatus desired_status = TaskStatus::kRunning;  // only kRunning or kStopped
  std::string stop_code;
  std::string stopped_reason;
  TimeMs created_at = 0;
  std::optional<TimeMs> pull_started_at;
  std::optional<TimeMs> pull_stopped_at;
  std::optional<TimeMs> started_at;
  std::optional<TimeMs> stopping_at;
  std::optional<TimeMs> execution_stopped_at;
  std::optional<TimeMs> stopped_at;
  std::int64_t version = 1;
  std::vector<Container> containers;
};

}  // namespace berth::state
