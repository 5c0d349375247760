#include <berth/state/services.hpp>

#include <algorithm>
#include <cmath>

#include <berth/common/ids.hpp>
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

namespace {

void complete_primary(RegionState& region, Service& s, Deployment& primary, TimeMs now) {
  primary.rollout_state = "COMPLETED";
  primary.rollout_state_reason = "ECS deployment " + primary.id + " completed.";
  primary.updated_at = now;
  post_service_event(s, "(service " + s.name + ") (deployment " + primary.id + ") deployment completed.",
                     now);
  post_service_event(s, "(service " + s.name + ") has reached a steady state.", now);
  auto it = region.service_deployments.find(primary.service_deployment_arn);
  if (it == region.service_deployments.end() || is_terminal(it->second)) {
    return;
  }
  ServiceDeployment& d = it->second;
  d.status = d.status.starts_with("ROLLBACK") ? "ROLLBACK_SUCCESSFUL" : "SUCCESSFUL";
  if (!d.started_at) {
    d.started_at = now;
  }
  d.finished_at = now;
  d.updated_at = now;
}

void settle_deployments(RegionState& region, Service& s, TimeMs now) {
  // Older deployments leave the list once none of their tasks is left.
  std::erase_if(s.deployments, [&](const Deployment& d) {
    return d.status != "PRIMARY" && service_task_counts(region, s.cluster_name, s.name, d.id).live() == 0;
  });
  if (s.deployments.size() != 1 || s.deployments.front().status != "PRIMARY") {
    return;
  }
  Deployment& primary = s.deployments.front();
  if (primary.rollout_state != "IN_PROGRESS") {
    return;
  }
  const TaskCounts all = service_task_counts(region, s.cluster_name, s.name);
  const TaskCounts mine = service_task_counts(region, s.cluster_name, s.name, primary.id);
  if (all.live() == all.running && all.running == s.desired_count && mine.running == s.desired_count) {
    complete_primary(region, s, primary, now);
  }
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

void settle_services(RegionState& region, TimeMs now) {
  for (auto& [key, s] : region.services) {
    if (s.status == "DRAINING" && service_task_counts(region, s.cluster_name, s.name).live() == 0) {
      s.status = "INACTIVE";
      s.task_sets.clear();
      continue;
    }
    if (s.status != "ACTIVE") {
      continue;
    }
    if (s.deployment_controller == "ECS") {
      settle_deployments(region, s, now);
    }
    settle_task_sets(region, s, now);
  }
  for (auto& [arn, d] : region.service_deployments) {
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
          {"events", events}};
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
