#include <berth/state/services.hpp>

#include <algorithm>
#include <cmath>

#include <berth/common/ids.hpp>
#include <berth/common/time_format.hpp>
#include <berth/state/store.hpp>

namespace berth::state {

bool starts_new_deployment(const ServiceSpec& before, const ServiceSpec& after, bool force_new_deployment) {
  // Every member of ServiceSpec is one that the model documents as "triggers a new service deployment" (or,
  // for the capacity provider strategy and launch type, one ECS refuses to change without forcing one).
  return force_new_deployment || !(before == after);
}

bool is_terminal(const ServiceDeployment& d) {
  return d.status == "SUCCESSFUL" || d.status == "STOPPED" || d.status == "ROLLBACK_SUCCESSFUL" ||
         d.status == "ROLLBACK_FAILED";
}

TaskCounts service_task_counts(const RegionState& region, std::string_view cluster_name,
                               std::string_view service_name, std::string_view started_by) {
  const std::string group = "service:" + std::string(service_name);
  TaskCounts counts;
  for (const auto& [id, t] : region.tasks) {
    if (t.cluster_name != cluster_name || t.group != group || t.last_status >= TaskStatus::kStopping) {
      continue;
    }
    if (!started_by.empty() && t.started_by != started_by) {
      continue;
    }
    if (t.last_status == TaskStatus::kRunning) {
      ++counts.running;
    } else if (t.last_status < TaskStatus::kRunning) {
      ++counts.pending;
    } else {
      ++counts.deactivating;
    }
  }
  return counts;
}

void post_service_event(Service& service, std::string message, TimeMs now) {
  service.events.insert(service.events.begin(), ServiceEvent{ids::uuid4(), now, std::move(message)});
  if (service.events.size() > kMaxServiceEvents) {
    service.events.resize(kMaxServiceEvents);
  }
}

bool set_desired_count(Service& service, int desired, TimeMs now) {
  bool changed = service.desired_count != desired;
  service.desired_count = desired;
  for (auto& d : service.deployments) {
    if (d.status == "PRIMARY" && d.desired_count != desired) {
      d.desired_count = desired;
      d.updated_at = now;
      changed = true;
    }
  }
  return changed;
}

int computed_desired_count(const Service& service, const TaskSet& task_set) {
  if (task_set.status == "DRAINING") {
    return 0;
  }
  // ECS rounds up: 1.2 tasks is 2 tasks. The epsilon keeps 3 x 33.333...% from becoming 2.0000001 -> 3.
  const double exact = service.desired_count * task_set.scale_value / 100.0;
  return static_cast<int>(std::ceil(exact - 1e-9));
}

const TaskDefinition* find_task_definition_by_arn(const RegionState& region, std::string_view arn) {
  const auto slash = arn.rfind('/');
  const auto colon = arn.rfind(':');
  if (slash == std::string_view::npos || colon == std::string_view::npos || colon < slash) {
    return nullptr;
  }
  auto it = region.task_definitions.find(arn.substr(slash + 1, colon - slash - 1));
  if (it == region.task_definitions.end()) {
    return nullptr;
  }
  for (const auto& td : it->second) {
    if (td.arn == arn) {
      return &td;
    }
  }
  return nullptr;
}

namespace {

// EventBridge's envelope `time` has whole seconds.
std::string event_time(TimeMs now) {
  std::string t = format_rfc3339(now);
  return t.substr(0, 19) + "Z";
}

}  // namespace

void record_ecs_event(RegionState& region, const Scope& scope, std::string detail_type,
                      std::string resource_arn, json detail, TimeMs now) {
  region.ecs_events.push_back({{"version", "0"},
                               {"id", ids::uuid4()},
                               {"detail-type", std::move(detail_type)},
                               {"source", "aws.ecs"},
                               {"account", scope.account},
                               {"time", event_time(now)},
                               {"region", scope.region},
                               {"resources", json::array({std::move(resource_arn)})},
                               {"detail", std::move(detail)}});
  while (region.ecs_events.size() > kMaxEcsEvents) {
    region.ecs_events.pop_front();
  }
}

void record_service_action(RegionState& region, const Scope& scope, const Service& service,
                           std::string event_type, std::string event_name, TimeMs now, std::string reason) {
  json detail = {{"eventType", std::move(event_type)},
                 {"eventName", std::move(event_name)},
                 {"clusterArn", service.cluster_arn},
                 {"createdAt", format_rfc3339(now)}};
  if (!reason.empty()) {
    detail["reason"] = std::move(reason);
  }
  record_ecs_event(region, scope, "ECS Service Action", service.arn, std::move(detail), now);
}

namespace {

void record_deployment_event(RegionState& region, const Scope& scope, const Service& svc, const Deployment& d,
                             const char* event_type, const char* event_name, TimeMs now) {
  record_ecs_event(region, scope, "ECS Deployment State Change", svc.arn,
                   {{"eventType", event_type},
                    {"eventName", event_name},
                    {"deploymentId", d.id},
                    {"updatedAt", format_rfc3339(now)},
                    {"reason", d.rollout_state_reason}},
                   now);
}

Deployment* primary_of(Service& svc) {
  return !svc.deployments.empty() && svc.deployments.front().status == "PRIMARY" ? &svc.deployments.front()
                                                                                 : nullptr;
}

void finish(ServiceDeployment& d, std::string status, TimeMs now) {
  d.status = std::move(status);
  if (!d.started_at) {
    d.started_at = now;
  }
  d.finished_at = now;
  d.updated_at = now;
}

}  // namespace

std::string deployment_id_of_revision(std::string_view revision_arn) {
  return "ecs-svc/" + std::string(revision_arn.substr(revision_arn.rfind('/') + 1));
}

int circuit_breaker_threshold(int desired_count) { return std::clamp((desired_count + 1) / 2, 3, 200); }

bool deployment_in_progress(const Service& service) {
  if (service.deployments.size() > 1) {
    return true;
  }
  return !service.deployments.empty() && service.deployments.front().rollout_state == "IN_PROGRESS";
}

Deployment& start_deployment(RegionState& region, const Scope& scope, Service& svc, TimeMs now) {
  const std::string digits = ids::digits(19);
  Deployment d;
  d.id = "ecs-svc/" + digits;
  d.status = "PRIMARY";
  d.spec = svc.spec;
  d.desired_count = svc.desired_count;
  d.created_at = now;
  d.updated_at = now;
  d.rollout_state = "IN_PROGRESS";
  d.rollout_state_reason = "ECS deployment " + d.id + " in progress.";

  ServiceRevision rev;
  rev.arn = ecs_arn::service_revision(scope, svc.cluster_name, svc.name, digits);
  rev.service_arn = svc.arn;
  rev.cluster_arn = svc.cluster_arn;
  rev.spec = svc.spec;
  rev.created_at = now;
  if (const auto* td = find_task_definition_by_arn(region, svc.spec.task_definition_arn)) {
    for (const auto& c : td->doc.value("containerDefinitions", json::array())) {
      rev.container_images.push_back(
          {{"containerName", c.value("name", "")}, {"image", c.value("image", "")}});
    }
  }
  d.service_revision_arn = rev.arn;

  std::vector<std::string> sources;
  for (auto& old : svc.deployments) {
    sources.push_back(old.service_revision_arn);
    if (old.status == "PRIMARY") {
      old.status = "ACTIVE";
      old.updated_at = now;
    }
  }
  // A deployment that was still under way is superseded by this one.
  for (auto& [arn, sd] : region.service_deployments) {
    if (sd.service_arn == svc.arn && !is_terminal(sd)) {
      sd.status = "STOPPED";
      sd.status_reason = "Service deployment stopped because a newer deployment started.";
      sd.stopped_at = now;
      sd.finished_at = now;
      sd.updated_at = now;
    }
  }
  ServiceDeployment sd;
  sd.arn = ecs_arn::service_deployment(scope, svc.cluster_name, svc.name, ids::url_safe(21));
  sd.service_arn = svc.arn;
  sd.cluster_arn = svc.cluster_arn;
  sd.deployment_id = d.id;
  sd.status = "PENDING";
  sd.source_revision_arns = sources;
  sd.target_revision_arn = rev.arn;
  sd.deployment_configuration = svc.deployment_configuration;
  sd.created_at = now;
  sd.updated_at = now;
  d.service_deployment_arn = sd.arn;
  region.service_deployments.emplace(sd.arn, std::move(sd));
  region.service_revisions.emplace(rev.arn, std::move(rev));
  svc.deployments.insert(svc.deployments.begin(), std::move(d));
  record_deployment_event(region, scope, svc, svc.deployments.front(), "INFO",
                          "SERVICE_DEPLOYMENT_IN_PROGRESS", now);
  return svc.deployments.front();
}

void complete_deployment(RegionState& region, const Scope& scope, Service& svc, TimeMs now) {
  Deployment* primary = primary_of(svc);
  if (primary == nullptr || primary->rollout_state != "IN_PROGRESS") {
    return;
  }
  primary->rollout_state = "COMPLETED";
  primary->rollout_state_reason = "ECS deployment " + primary->id + " completed.";
  primary->updated_at = now;
  svc.last_completed_deployment_id = primary->id;
  svc.last_completed_revision_arn = primary->service_revision_arn;
  post_service_event(svc, "(service " + svc.name + ") (deployment " + primary->id + ") deployment completed.",
                     now);
  record_deployment_event(region, scope, svc, *primary, "INFO", "SERVICE_DEPLOYMENT_COMPLETED", now);
  auto it = region.service_deployments.find(primary->service_deployment_arn);
  if (it != region.service_deployments.end() && !is_terminal(it->second)) {
    ServiceDeployment& d = it->second;
    finish(d, d.status.starts_with("ROLLBACK") ? "ROLLBACK_SUCCESSFUL" : "SUCCESSFUL", now);
  }
}

void fail_deployment(RegionState& region, const Scope& scope, Service& svc, bool rollback, TimeMs now) {
  Deployment* primary = primary_of(svc);
  if (primary == nullptr || primary->rollout_state != "IN_PROGRESS") {
    return;
  }
  const std::string reason = "ECS deployment circuit breaker: task failed to start.";
  primary->rollout_state = "FAILED";
  primary->rollout_state_reason = reason;
  primary->updated_at = now;
  const std::string failed_id = primary->id;
  post_service_event(
      svc,
      "(service " + svc.name + ") (deployment " + failed_id + ") deployment failed: tasks failed to start.",
      now);
  record_deployment_event(region, scope, svc, *primary, "ERROR", "SERVICE_DEPLOYMENT_FAILED", now);
  auto it = region.service_deployments.find(primary->service_deployment_arn);
  if (it == region.service_deployments.end()) {
    return;
  }
  ServiceDeployment& sd = it->second;
  sd.circuit_breaker_triggered = true;
  sd.status_reason = reason;
  sd.updated_at = now;
  // A rollback goes to the last COMPLETED deployment; one that is itself rolling back has no such place to go
  // (ECS: the deployment is stalled).
  const bool can_roll_back =
      rollback && !svc.last_completed_revision_arn.empty() && svc.last_completed_deployment_id != failed_id;
  if (can_roll_back && roll_back(region, scope, svc, sd, svc.last_completed_revision_arn, reason,
                                 "ECS deployment circuit breaker: rolling back to deploymentId " +
                                     svc.last_completed_deployment_id + ".",
                                 "ROLLBACK_IN_PROGRESS", now)) {
    return;
  }
  if (!is_terminal(sd)) {
    finish(sd, "STOPPED", now);
    sd.stopped_at = now;
  }
}

bool roll_back(RegionState& region, const Scope& scope, Service& svc, ServiceDeployment& sd,
               const std::string& target_revision_arn, const std::string& rollback_reason,
               const std::string& rollout_reason, const std::string& sd_status, TimeMs now) {
  auto rev = region.service_revisions.find(target_revision_arn);
  if (rev == region.service_revisions.end()) {
    return false;
  }
  const std::string target_id = deployment_id_of_revision(target_revision_arn);
  for (auto& d : svc.deployments) {
    if (d.status == "PRIMARY") {
      d.status = "ACTIVE";
      d.updated_at = now;
    }
  }
  auto it = std::find_if(svc.deployments.begin(), svc.deployments.end(),
                         [&](const Deployment& d) { return d.id == target_id; });
  Deployment target;
  if (it != svc.deployments.end()) {
    target = std::move(*it);
    svc.deployments.erase(it);
  } else {
    // The entry left deployments[] when its last task went: it comes back, as ECS brings the COMPLETED
    // deployment back to IN_PROGRESS.
    target.id = target_id;
    target.spec = rev->second.spec;
    target.created_at = now;
    target.service_revision_arn = target_revision_arn;
  }
  target.status = "PRIMARY";
  target.desired_count = svc.desired_count;
  target.rollout_state = "IN_PROGRESS";
  target.rollout_state_reason = rollout_reason;
  target.failed_tasks = 0;
  target.has_run = false;
  target.health_failures = 0;
  target.updated_at = now;
  target.service_deployment_arn = sd.arn;
  svc.spec = rev->second.spec;
  svc.deployments.insert(svc.deployments.begin(), std::move(target));

  sd.status = sd_status;
  sd.deployment_id = target_id;
  sd.rollback = {
      {"reason", rollback_reason}, {"startedAt", now}, {"serviceRevisionArn", target_revision_arn}};
  sd.updated_at = now;
  post_service_event(svc, "(service " + svc.name + ") rolling back to deployment " + target_id + ".", now);
  record_deployment_event(region, scope, svc, svc.deployments.front(), "INFO",
                          "SERVICE_DEPLOYMENT_IN_PROGRESS", now);
  return true;
}

namespace {

void settle_deployments(RegionState& region, Service& s) {
  // Older deployments leave the list once none of their tasks is left.
  std::erase_if(s.deployments, [&](const Deployment& d) {
    return d.status != "PRIMARY" && service_task_counts(region, s.cluster_name, s.name, d.id).live() == 0;
  });
}

void settle_task_sets(RegionState& region, Service& s, TimeMs now) {
  std::erase_if(s.task_sets, [&](const TaskSet& ts) {
    return ts.status == "DRAINING" && service_task_counts(region, s.cluster_name, s.name, ts.id).live() == 0;
  });
  for (auto& ts : s.task_sets) {
    if (ts.status == "DRAINING") {
      continue;
    }
    const TaskCounts c = service_task_counts(region, s.cluster_name, s.name, ts.id);
    const bool steady = c.pending == 0 && c.running == computed_desired_count(s, ts);
    const std::string status = steady ? "STEADY_STATE" : "STABILIZING";
    if (status != ts.stability_status) {
      ts.stability_status = status;
      ts.stability_status_at = now;
    }
  }
}

}  // namespace

void settle_service(RegionState& region, Service& s, TimeMs now) {
  if (s.status == "DRAINING" && service_task_counts(region, s.cluster_name, s.name).live() == 0) {
    s.status = "INACTIVE";
    s.task_sets.clear();
  }
  if (s.status == "ACTIVE") {
    if (s.deployment_controller == "ECS") {
      settle_deployments(region, s);
    }
    settle_task_sets(region, s, now);
  }
  for (auto& [arn, d] : region.service_deployments) {
    if (d.service_arn != s.arn) {
      continue;
    }
    if (d.status == "PENDING") {
      d.status = "IN_PROGRESS";
      d.started_at = now;
      d.updated_at = now;
    } else if (d.status == "ROLLBACK_REQUESTED") {
      d.status = "ROLLBACK_IN_PROGRESS";
      d.updated_at = now;
    }
  }
}

void settle_services(RegionState& region, TimeMs now) {
  for (auto& [key, s] : region.services) {
    settle_service(region, s, now);
  }
}

// ---- persistence ------------------------------------------------------------------------------------------

namespace {

json spec_to_json(const ServiceSpec& s) {
  return {{"taskDefinition", s.task_definition_arn},
          {"launchType", s.launch_type},
          {"capacityProviderStrategy", s.capacity_provider_strategy},
          {"platformVersion", s.platform_version},
          {"platformFamily", s.platform_family},
          {"networkConfiguration", s.network_configuration},
          {"loadBalancers", s.load_balancers},
          {"serviceRegistries", s.service_registries},
          {"serviceConnectConfiguration", s.service_connect_configuration},
          {"volumeConfigurations", s.volume_configurations},
          {"vpcLatticeConfigurations", s.vpc_lattice_configurations}};
}

ServiceSpec spec_from_json(const json& j) {
  ServiceSpec s;
  s.task_definition_arn = j.value("taskDefinition", "");
  s.launch_type = j.value("launchType", "");
  s.capacity_provider_strategy = j.value("capacityProviderStrategy", json::array());
  s.platform_version = j.value("platformVersion", "");
  s.platform_family = j.value("platformFamily", "");
  s.network_configuration = j.value("networkConfiguration", json());
  s.load_balancers = j.value("loadBalancers", json::array());
  s.service_registries = j.value("serviceRegistries", json::array());
  s.service_connect_configuration = j.value("serviceConnectConfiguration", json());
  s.volume_configurations = j.value("volumeConfigurations", json());
  s.vpc_lattice_configurations = j.value("vpcLatticeConfigurations", json());
  return s;
}

template <typename T>
void put_opt(json& j, const char* key, const std::optional<T>& v) {
  if (v) {
    j[key] = *v;
  }
}

template <typename T>
void get_opt(const json& j, const char* key, std::optional<T>& v) {
  if (auto it = j.find(key); it != j.end() && !it->is_null()) {
    v = it->get<T>();
  }
}

json deployment_to_json(const Deployment& d) {
  return {{"id", d.id},
          {"status", d.status},
          {"spec", spec_to_json(d.spec)},
          {"desiredCount", d.desired_count},
          {"failedTasks", d.failed_tasks},
          {"hasRun", d.has_run},
          {"healthFailures", d.health_failures},
          {"createdAt", d.created_at},
          {"updatedAt", d.updated_at},
          {"rolloutState", d.rollout_state},
          {"rolloutStateReason", d.rollout_state_reason},
          {"serviceDeploymentArn", d.service_deployment_arn},
          {"serviceRevisionArn", d.service_revision_arn}};
}

Deployment deployment_from_json(const json& j) {
  Deployment d;
  d.id = j.at("id").get<std::string>();
  d.status = j.at("status").get<std::string>();
  d.spec = spec_from_json(j.at("spec"));
  d.desired_count = j.at("desiredCount").get<int>();
  d.failed_tasks = j.value("failedTasks", 0);
  d.has_run = j.value("hasRun", false);
  d.health_failures = j.value("healthFailures", 0);
  d.created_at = j.at("createdAt").get<TimeMs>();
  d.updated_at = j.at("updatedAt").get<TimeMs>();
  d.rollout_state = j.value("rolloutState", "IN_PROGRESS");
  d.rollout_state_reason = j.value("rolloutStateReason", "");
  d.service_deployment_arn = j.value("serviceDeploymentArn", "");
  d.service_revision_arn = j.value("serviceRevisionArn", "");
  return d;
}

json task_set_to_json(const TaskSet& t) {
  return {{"id", t.id},
          {"arn", t.arn},
          {"status", t.status},
          {"externalId", t.external_id},
          {"startedBy", t.started_by},
          {"spec", spec_to_json(t.spec)},
          {"scaleValue", t.scale_value},
          {"scaleUnit", t.scale_unit},
          {"stabilityStatus", t.stability_status},
          {"stabilityStatusAt", t.stability_status_at},
          {"createdAt", t.created_at},
          {"updatedAt", t.updated_at},
          {"clientToken", t.client_token},
          {"tags", t.tags}};
}

TaskSet task_set_from_json(const json& j) {
  TaskSet t;
  t.id = j.at("id").get<std::string>();
  t.arn = j.at("arn").get<std::string>();
  t.status = j.at("status").get<std::string>();
  t.external_id = j.value("externalId", "");
  t.started_by = j.value("startedBy", "");
  t.spec = spec_from_json(j.at("spec"));
  t.scale_value = j.value("scaleValue", 0.0);
  t.scale_unit = j.value("scaleUnit", "PERCENT");
  t.stability_status = j.value("stabilityStatus", "STABILIZING");
  t.stability_status_at = j.value("stabilityStatusAt", TimeMs{0});
  t.created_at = j.at("createdAt").get<TimeMs>();
  t.updated_at = j.at("updatedAt").get<TimeMs>();
  t.client_token = j.value("clientToken", "");
  t.tags = j.value("tags", json::array());
  return t;
}

}  // namespace

json to_json(const Service& s) {
  json deployments = json::array();
  for (const auto& d : s.deployments) {
    deployments.push_back(deployment_to_json(d));
  }
  json task_sets = json::array();
  for (const auto& t : s.task_sets) {
    task_sets.push_back(task_set_to_json(t));
  }
  json events = json::array();
  for (const auto& e : s.events) {
    events.push_back({{"id", e.id}, {"createdAt", e.created_at}, {"message", e.message}});
  }
  return {{"name", s.name},
          {"arn", s.arn},
          {"clusterName", s.cluster_name},
          {"clusterArn", s.cluster_arn},
          {"status", s.status},
          {"desiredCount", s.desired_count},
          {"spec", spec_to_json(s.spec)},
          {"schedulingStrategy", s.scheduling_strategy},
          {"deploymentController", s.deployment_controller},
          {"deploymentConfiguration", s.deployment_configuration},
          {"placementConstraints", s.placement_constraints},
          {"placementStrategy", s.placement_strategy},
          {"healthCheckGracePeriodSeconds", s.health_check_grace_period_seconds},
          {"propagateTags", s.propagate_tags},
          {"enableECSManagedTags", s.enable_ecs_managed_tags},
          {"enableExecuteCommand", s.enable_execute_command},
          {"availabilityZoneRebalancing", s.availability_zone_rebalancing},
          {"roleArn", s.role_arn},
          {"createdBy", s.created_by},
          {"createdAt", s.created_at},
          {"tags", s.tags},
          {"clientToken", s.client_token},
          {"createRequest", s.create_request},
          {"deployments", deployments},
          {"taskSets", task_sets},
          {"events", events},
          {"lastCompletedDeploymentId", s.last_completed_deployment_id},
          {"lastCompletedRevisionArn", s.last_completed_revision_arn}};
}

Service service_from_json(const json& j) {
  Service s;
  s.name = j.at("name").get<std::string>();
  s.arn = j.at("arn").get<std::string>();
  s.cluster_name = j.at("clusterName").get<std::string>();
  s.cluster_arn = j.at("clusterArn").get<std::string>();
  s.status = j.at("status").get<std::string>();
  s.desired_count = j.at("desiredCount").get<int>();
  s.spec = spec_from_json(j.at("spec"));
  s.scheduling_strategy = j.value("schedulingStrategy", "REPLICA");
  s.deployment_controller = j.value("deploymentController", "ECS");
  s.deployment_configuration = j.value("deploymentConfiguration", json::object());
  s.placement_constraints = j.value("placementConstraints", json::array());
  s.placement_strategy = j.value("placementStrategy", json::array());
  s.health_check_grace_period_seconds = j.value("healthCheckGracePeriodSeconds", 0);
  s.propagate_tags = j.value("propagateTags", "NONE");
  s.enable_ecs_managed_tags = j.value("enableECSManagedTags", false);
  s.enable_execute_command = j.value("enableExecuteCommand", false);
  s.availability_zone_rebalancing = j.value("availabilityZoneRebalancing", "ENABLED");
  s.role_arn = j.value("roleArn", "");
  s.created_by = j.value("createdBy", "");
  s.created_at = j.at("createdAt").get<TimeMs>();
  s.tags = j.value("tags", json::array());
  s.client_token = j.value("clientToken", "");
  s.create_request = j.value("createRequest", json());
  for (const auto& d : j.value("deployments", json::array())) {
    s.deployments.push_back(deployment_from_json(d));
  }
  for (const auto& t : j.value("taskSets", json::array())) {
    s.task_sets.push_back(task_set_from_json(t));
  }
  for (const auto& e : j.value("events", json::array())) {
    s.events.push_back(ServiceEvent{e.at("id").get<std::string>(), e.at("createdAt").get<TimeMs>(),
                                    e.at("message").get<std::string>()});
  }
  s.last_completed_deployment_id = j.value("lastCompletedDeploymentId", "");
  s.last_completed_revision_arn = j.value("lastCompletedRevisionArn", "");
  return s;
}

json to_json(const ServiceDeployment& d) {
  json j = {{"arn", d.arn},
            {"serviceArn", d.service_arn},
            {"clusterArn", d.cluster_arn},
            {"deploymentId", d.deployment_id},
            {"status", d.status},
            {"statusReason", d.status_reason},
            {"sourceRevisionArns", d.source_revision_arns},
            {"targetRevisionArn", d.target_revision_arn},
            {"deploymentConfiguration", d.deployment_configuration},
            {"rollback", d.rollback},
            {"circuitBreakerFailures", d.circuit_breaker_failures},
            {"circuitBreakerTriggered", d.circuit_breaker_triggered},
            {"createdAt", d.created_at},
            {"updatedAt", d.updated_at}};
  put_opt(j, "startedAt", d.started_at);
  put_opt(j, "finishedAt", d.finished_at);
  put_opt(j, "stoppedAt", d.stopped_at);
  return j;
}

ServiceDeployment service_deployment_from_json(const json& j) {
  ServiceDeployment d;
  d.arn = j.at("arn").get<std::string>();
  d.service_arn = j.at("serviceArn").get<std::string>();
  d.cluster_arn = j.at("clusterArn").get<std::string>();
  d.deployment_id = j.value("deploymentId", "");
  d.status = j.at("status").get<std::string>();
  d.status_reason = j.value("statusReason", "");
  d.source_revision_arns = j.value("sourceRevisionArns", std::vector<std::string>{});
  d.target_revision_arn = j.value("targetRevisionArn", "");
  d.deployment_configuration = j.value("deploymentConfiguration", json::object());
  d.rollback = j.value("rollback", json());
  d.circuit_breaker_failures = j.value("circuitBreakerFailures", 0);
  d.circuit_breaker_triggered = j.value("circuitBreakerTriggered", false);
  d.created_at = j.at("createdAt").get<TimeMs>();
  d.updated_at = j.value("updatedAt", d.created_at);
  get_opt(j, "startedAt", d.started_at);
  get_opt(j, "finishedAt", d.finished_at);
  get_opt(j, "stoppedAt", d.stopped_at);
  return d;
}

json to_json(const ServiceRevision& r) {
  return {{"arn", r.arn},
          {"serviceArn", r.service_arn},
          {"clusterArn", r.cluster_arn},
          {"spec", spec_to_json(r.spec)},
          {"containerImages", r.container_images},
          {"createdAt", r.created_at}};
}

ServiceRevision service_revision_from_json(const json& j) {
  ServiceRevision r;
  r.arn = j.at("arn").get<std::string>();
  r.service_arn = j.at("serviceArn").get<std::string>();
  r.cluster_arn = j.at("clusterArn").get<std::string>();
  r.spec = spec_from_json(j.at("spec"));
  r.container_images = j.value("containerImages", json::array());
  r.created_at = j.at("createdAt").get<TimeMs>();
  return r;
}

}  // namespace berth::state
