#pragma once
// ECS services and what hangs off them: the deployments[] entries, task sets, events, and the service
// deployment / service revision records of the newer history API.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <berth/common/arn.hpp>
#include <berth/common/clock.hpp>
#include <berth/common/json.hpp>

namespace berth::state {

struct RegionState;
struct TaskDefinition;

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
  // Consecutive tasks that never reached RUNNING; reset to 0 and no longer counted once one task has run.
  int failed_tasks = 0;
  bool has_run = false;  // a task of this deployment reached RUNNING (the circuit breaker's stage 2)
  // Stage 2 of the circuit breaker: consecutive tasks stopped for failing their health checks (a task found
  // healthy resets it).
  int health_failures = 0;
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
  // The deployment that last reached COMPLETED and the service revision it ran: where the circuit breaker
  // rolls back to.
  std::string last_completed_deployment_id;
  std::string last_completed_revision_arn;
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
  json rollback;                     // {reason, startedAt (ms), serviceRevisionArn} once rolled back
  int circuit_breaker_failures = 0;  // deploymentCircuitBreaker.failureCount
  bool circuit_breaker_triggered = false;
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

// A task definition revision by its full ARN (any status), or nullptr.
const TaskDefinition* find_task_definition_by_arn(const RegionState& region, std::string_view arn);

// The ECS events EventBridge would carry (source aws.ecs), kept in RegionState::ecs_events, oldest first, for
// the events work to publish. At most kMaxEcsEvents are kept.
inline constexpr std::size_t kMaxEcsEvents = 1000;
void record_ecs_event(RegionState& region, const Scope& scope, std::string detail_type,
                      std::string resource_arn, json detail, TimeMs now);
// An "ECS Service Action" event (eventType INFO | WARN | ERROR, eventName SERVICE_STEADY_STATE, ...).
void record_service_action(RegionState& region, const Scope& scope, const Service& service,
                           std::string event_type, std::string event_name, TimeMs now,
                           std::string reason = {});

// ---- The lifecycle of deployments[] (ECS deployment controller) ----

// Starts a new deployment of `svc.spec`: a PRIMARY deployments[] entry, its service revision and its service
// deployment record (PENDING); the previous PRIMARY becomes ACTIVE and an unfinished previous service
// deployment stops. Records the SERVICE_DEPLOYMENT_IN_PROGRESS event.
Deployment& start_deployment(RegionState& region, const Scope& scope, Service& svc, TimeMs now);

// The PRIMARY deployment reached a steady state: rolloutState COMPLETED, the ECS event, its service
// deployment SUCCESSFUL (ROLLBACK_SUCCESSFUL for a rollback), SERVICE_DEPLOYMENT_COMPLETED; it becomes the
// service's last completed deployment.
void complete_deployment(RegionState& region, const Scope& scope, Service& svc, TimeMs now);

// The circuit breaker tripped on the PRIMARY deployment: rolloutState FAILED (no new tasks), the ECS event
// and SERVICE_DEPLOYMENT_FAILED; with rollback, a rollback to the last COMPLETED deployment starts (when
// there is one that is not this deployment), otherwise the service deployment stops.
void fail_deployment(RegionState& region, const Scope& scope, Service& svc, bool rollback, TimeMs now);

// Rolls `sd` back to the service revision `target_revision_arn`: the deployments[] entry that ran it (same
// id; made again from the revision if it has left the list) becomes PRIMARY and IN_PROGRESS with
// `rollout_reason`, carrying `sd`, whose status becomes `sd_status` (ROLLBACK_REQUESTED or
// ROLLBACK_IN_PROGRESS). The service takes the revision's spec. False when the revision is unknown.
bool roll_back(RegionState& region, const Scope& scope, Service& svc, ServiceDeployment& sd,
               const std::string& target_revision_arn, const std::string& rollback_reason,
               const std::string& rollout_reason, const std::string& sd_status, TimeMs now);

// The deployments[] id that ran a service revision: both end in the same 19 digits.
std::string deployment_id_of_revision(std::string_view revision_arn);

// The circuit breaker's threshold for a desired count: half of it, rounded up, at least 3 and at most 200.
int circuit_breaker_threshold(int desired_count);

// Whether a deployment is under way (more than one deployment, or the PRIMARY one not yet COMPLETED or
// FAILED): Application Auto Scaling pauses scale-in meanwhile, as ECS does.
bool deployment_in_progress(const Service& service);

// The one way a service's desiredCount changes in place (UpdateService without a new deployment,
// DeleteService, Application Auto Scaling): the service and its PRIMARY deployment. Returns whether anything
// changed.
bool set_desired_count(Service& service, int desired, TimeMs now);

// ceil(service desiredCount x scale%) for a task set.
int computed_desired_count(const Service& service, const TaskSet& task_set);

// The level-triggered record keeping ECS does for services from the tasks it sees; the service scheduler
// calls it on every pass. Idempotent. It never starts or stops a task, and never decides that a deployment
// completed (that takes task health, which the scheduler judges):
//  - a DRAINING service with no task left that is not STOPPING/STOPPED becomes INACTIVE;
//  - an older (ACTIVE) deployment with no live task leaves deployments[];
//  - pending service deployments start (IN_PROGRESS, ROLLBACK_IN_PROGRESS);
//  - task sets report STEADY_STATE or STABILIZING from their counts, and a DRAINING task set with no live
//  task
//    goes away.
void settle_service(RegionState& region, Service& service, TimeMs now);
void settle_services(RegionState& region, TimeMs now);

// --data-dir persistence (used by snapshot.cpp).
json to_json(const Service& s);
Service service_from_json(const json& j);
json to_json(const ServiceDeployment& d);
ServiceDeployment service_deployment_from_json(const json& j);
json to_json(const ServiceRevision& r);
ServiceRevision service_revision_from_json(const json& j);

}  // namespace berth::state
