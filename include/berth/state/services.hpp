#pragma once
// ECS services and what hangs off them: the deployments[] entries, task sets, events, and the service
// deployment / service revision records of the newer history API.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <berth/common/clock.hpp>
#include <berth/common/json.hpp>

namespace berth::state {

struct RegionState;

// The part of a service that a deployment rolls out: what ECS records as a service revision. Two specs that
// differ mean a new deployment (see starts_new_deployment). JSON members are null when not set.
struct ServiceSpec {
  std::string task_definition_arn;
  std::string launch_type;                          // empty when a capacity provider strategy is used
  json capacity_provider_strategy = json::array();  // empty when a launch type is used
  std::string platform_version;                     // Fargate only ("LATEST" unless given)
  std::string platform_family;                      // Fargate only ("Linux")
  json network_configuration;                       // with assignPublicIp filled in
  json load_balancers = json::array();
  json service_registries = json::array();
  json service_connect_configuration;
  json volume_configurations;
  json vpc_lattice_configurations;
  bool operator==(const ServiceSpec&) const = default;
};

// Whether an UpdateService that turns `before` into `after` starts a new deployment. Per the ECS model, the
// task definition, network configuration, platform version, load balancers, service registries, Service
// Connect, volume and VPC Lattice configurations trigger one (as does a capacity provider change, which ECS
// only accepts together with forceNewDeployment); desiredCount, deploymentConfiguration, placement, health
// check grace period, tags and execute-command settings do not: they change the service in place.
bool starts_new_deployment(const ServiceSpec& before, const ServiceSpec& after, bool force_new_deployment);

// One entry of a service's deployments[] (ECS deployment controller only).
struct Deployment {
  std::string id;                  // "ecs-svc/" + 19 digits
  std::string status = "PRIMARY";  // PRIMARY | ACTIVE
  ServiceSpec spec;
  int desired_count = 0;
  int failed_tasks = 0;
  TimeMs created_at = 0;
  TimeMs updated_at = 0;
  std::string rollout_state = "IN_PROGRESS";  // IN_PROGRESS | COMPLETED | FAILED
  std::string rollout_state_reason;
  std::string service_deployment_arn;  // the ServiceDeployment record this entry carries out
  std::string service_revision_arn;
};

// A set of tasks of a service with the EXTERNAL (or CODE_DEPLOY) deployment controller.
struct TaskSet {
  std::string id;                 // "ecs-svc/" + 19 digits
  std::string arn;                // arn:aws:ecs:R:A:task-set/<cluster>/<service>/<id>
  std::string status = "ACTIVE";  // PRIMARY | ACTIVE | DRAINING
  std::string external_id;
  std::string started_by;
  ServiceSpec spec;
  double scale_value = 0;
  std::string scale_unit = "PERCENT";
  std::string stability_status = "STABILIZING";  // STEADY_STATE | STABILIZING
  TimeMs stability_status_at = 0;
  TimeMs created_at = 0;
  TimeMs updated_at = 0;
  std::string client_token;
  json tags = json::array();
};

struct ServiceEvent {
  std::string id;  // a UUID
  TimeMs created_at = 0;
  std::string message;
};

struct Service {
  std::string name;
  std::string arn;
  std::string cluster_name;
  std::string cluster_arn;
  std::string status = "ACTIVE";  // ACTIVE | DRAINING | INACTIVE
  int desired_count = 0;
  ServiceSpec spec;
  std::string scheduling_strategy = "REPLICA";  // REPLICA | DAEMON
  std::string deployment_controller = "ECS";    // ECS | CODE_DEPLOY | EXTERNAL
  json deployment_configuration = json::object();
  json placement_constraints = json::array();
  json placement_strategy = json::array();
  int health_check_grace_period_seconds = 0;
  std::string propagate_tags = "NONE";
  bool enable_ecs_managed_tags = false;
  bool enable_execute_command = false;
  std::string availability_zone_rebalancing = "ENABLED";
  std::string role_arn;  // empty when ECS uses no role for this service
  std::string created_by;
  TimeMs created_at = 0;
  json tags = json::array();
  std::string client_token;
  json create_request;                  // the CreateService input, to recognise an idempotent retry
  std::vector<Deployment> deployments;  // PRIMARY first, then older ACTIVE ones
  std::vector<TaskSet> task_sets;
  std::vector<ServiceEvent> events;  // newest first, at most kMaxServiceEvents
};

inline constexpr std::size_t kMaxServiceEvents = 100;

// Services are unique per cluster: RegionState::services is keyed by "<cluster>/<name>".
inline std::string service_key(std::string_view cluster_name, std::string_view service_name) {
  std::string key(cluster_name);
  key.append("/").append(service_name);
  return key;
}

// The service revision a deployment targets (DescribeServiceRevisions). Its id is the digits of the
// deployment.
struct ServiceRevision {
  std::string arn;  // arn:aws:ecs:R:A:service-revision/<cluster>/<service>/<19 digits>
  std::string service_arn;
  std::string cluster_arn;
  ServiceSpec spec;
  json container_images = json::array();  // [{containerName, image}]
  TimeMs created_at = 0;
};

// A service deployment (ListServiceDeployments / DescribeServiceDeployments).
struct ServiceDeployment {
  std::string arn;  // arn:aws:ecs:R:A:service-deployment/<cluster>/<service>/<21 characters>
  std::string service_arn;
  std::string cluster_arn;
  std::string deployment_id;  // the deployments[] entry carrying it out
  // PENDING | IN_PROGRESS | SUCCESSFUL | STOPPED | STOP_REQUESTED | ROLLBACK_REQUESTED | ROLLBACK_IN_PROGRESS
  // | ROLLBACK_SUCCESSFUL | ROLLBACK_FAILED
  std::string status = "PENDING";
  std::string status_reason;
  std::vector<std::string> source_revision_arns;
  std::string target_revision_arn;
  json deployment_configuration = json::object();
  json rollback;  // {reason, startedAt (ms), serviceRevisionArn} once rolled back
  TimeMs created_at = 0;
  TimeMs updated_at = 0;
  std::optional<TimeMs> started_at;
  std::optional<TimeMs> finished_at;
  std::optional<TimeMs> stopped_at;
};

// A service deployment that has finished, one way or another.
bool is_terminal(const ServiceDeployment& d);

// Tasks of a service (group "service:<name>" in its cluster) that have not stopped, optionally only those
// started by one deployment or task set (startedBy). Pending means not yet RUNNING; a DEACTIVATING task is
// neither but still holds the service until it reaches STOPPING.
struct TaskCounts {
  int running = 0;
  int pending = 0;
  int deactivating = 0;
  int live() const { return running + pending + deactivating; }
};
TaskCounts service_task_counts(const RegionState& region, std::string_view cluster_name,
                               std::string_view service_name, std::string_view started_by = {});

// Adds an event at the front of the service's events, keeping at most kMaxServiceEvents.
void post_service_event(Service& service, std::string message, TimeMs now);

// The one way a service's desiredCount changes in place (UpdateService without a new deployment,
// DeleteService, Application Auto Scaling): the service and its PRIMARY deployment. Returns whether anything
// changed.
bool set_desired_count(Service& service, int desired, TimeMs now);

// ceil(service desiredCount x scale%) for a task set.
int computed_desired_count(const Service& service, const TaskSet& task_set);

// The level-triggered bookkeeping ECS does for services from the tasks it sees; call it on every scheduler
// tick. Idempotent. It never starts or stops a task:
//  - a DRAINING service with no task left that is not STOPPING/STOPPED becomes INACTIVE;
//  - an older (ACTIVE) deployment with no live task leaves deployments[];
//  - the PRIMARY deployment completes (rolloutState COMPLETED, service deployment SUCCESSFUL, the ECS events)
//    once it is the only one and the service runs exactly its desired count with nothing pending;
//  - pending service deployments start (IN_PROGRESS);
//  - task sets report STEADY_STATE or STABILIZING from their counts, and a DRAINING task set with no live
//  task
//    goes away.
void settle_services(RegionState& region, TimeMs now);

// --data-dir persistence (used by snapshot.cpp).
json to_json(const Service& s);
Service service_from_json(const json& j);
json to_json(const ServiceDeployment& d);
ServiceDeployment service_deployment_from_json(const json& j);
json to_json(const ServiceRevision& r);
ServiceRevision service_revision_from_json(const json& j);

}  // namespace berth::state
