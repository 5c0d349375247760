#include "detail/instances_snapshot.hpp"

#include <stdexcept>

namespace berth::state::detail {
namespace {

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

json to_json(const ContainerInstance& ci) {
  json attributes = json::array();
  for (const auto& [name, value] : ci.attributes) {
    json a = {{"name", name}};
    put_opt(a, "value", value);
    attributes.push_back(a);
  }
  return {{"id", ci.id},
          {"arn", ci.arn},
          {"clusterName", ci.cluster_name},
          {"ec2InstanceId", ci.ec2_instance_id},
          {"instanceType", ci.instance_type},
          {"status", ci.status},
          {"statusReason", ci.status_reason},
          {"agentConnected", ci.agent_connected},
          {"versionInfo", ci.version_info},
          {"registeredResources", ci.registered_resources},
          {"attributes", attributes},
          {"platformDevices", ci.platform_devices},
          {"tags", ci.tags},
          {"taskIds", ci.task_ids},
          {"registeredAt", ci.registered_at},
          {"version", ci.version}};
}

ContainerInstance container_instance_from(const json& j) {
  ContainerInstance ci;
  ci.id = j.at("id").get<std::string>();
  ci.arn = j.at("arn").get<std::string>();
  ci.cluster_name = j.at("clusterName").get<std::string>();
  ci.ec2_instance_id = j.value("ec2InstanceId", "");
  ci.instance_type = j.value("instanceType", "");
  ci.status = j.at("status").get<std::string>();
  ci.status_reason = j.value("statusReason", "");
  ci.agent_connected = j.value("agentConnected", true);
  ci.version_info = j.value("versionInfo", json::object());
  ci.registered_resources = j.value("registeredResources", json::array());
  for (const auto& a : j.value("attributes", json::array())) {
    std::optional<std::string> value;
    get_opt(a, "value", value);
    ci.attributes[a.at("name").get<std::string>()] = value;
  }
  ci.platform_devices = j.value("platformDevices", json::array());
  ci.tags = j.value("tags", json::array());
  ci.task_ids = j.value("taskIds", std::vector<std::string>{});
  ci.registered_at = j.value("registeredAt", TimeMs{0});
  ci.version = j.value("version", std::int64_t{1});
  return ci;
}

json to_json(const DaemonTaskDefinition& d) {
  json j = {{"family", d.family},
            {"revision", d.revision},
            {"arn", d.arn},
            {"status", d.status},
            {"doc", d.doc},
            {"tags", d.tags},
            {"registeredAt", d.registered_at}};
  put_opt(j, "deleteRequestedAt", d.delete_requested_at);
  return j;
}

DaemonTaskDefinition daemon_task_definition_from(const json& j) {
  DaemonTaskDefinition d;
  d.family = j.at("family").get<std::string>();
  d.revision = j.at("revision").get<int>();
  d.arn = j.at("arn").get<std::string>();
  d.status = j.at("status").get<std::string>();
  d.doc = j.at("doc");
  d.tags = j.value("tags", json::array());
  d.registered_at = j.value("registeredAt", TimeMs{0});
  get_opt(j, "deleteRequestedAt", d.delete_requested_at);
  return d;
}

json to_json(const DaemonRevision& r) {
  return {{"id", r.id},
          {"arn", r.arn},
          {"daemonTaskDefinitionArn", r.daemon_task_definition_arn},
          {"containerImages", r.container_images},
          {"capacityProviderArns", r.capacity_provider_arns},
          {"propagateTags", r.propagate_tags},
          {"enableECSManagedTags", r.enable_ecs_managed_tags},
          {"enableExecuteCommand", r.enable_execute_command},
          {"createdAt", r.created_at}};
}

DaemonRevision daemon_revision_from(const json& j) {
  DaemonRevision r;
  r.id = j.at("id").get<std::string>();
  r.arn = j.at("arn").get<std::string>();
  r.daemon_task_definition_arn = j.at("daemonTaskDefinitionArn").get<std::string>();
  r.container_images = j.value("containerImages", json::array());
  r.capacity_provider_arns = j.value("capacityProviderArns", json::array());
  r.propagate_tags = j.value("propagateTags", "NONE");
  r.enable_ecs_managed_tags = j.value("enableECSManagedTags", false);
  r.enable_execute_command = j.value("enableExecuteCommand", false);
  r.created_at = j.value("createdAt", TimeMs{0});
  return r;
}

json to_json(const DaemonDeployment& d) {
  json j = {{"id", d.id},
            {"arn", d.arn},
            {"status", d.status},
            {"statusReason", d.status_reason},
            {"targetRevisionArn", d.target_revision_arn},
            {"sourceRevisionArns", d.source_revision_arns},
            {"deploymentConfiguration", d.deployment_configuration},
            {"createdAt", d.created_at}};
  put_opt(j, "startedAt", d.started_at);
  put_opt(j, "finishedAt", d.finished_at);
  put_opt(j, "stoppedAt", d.stopped_at);
  return j;
}

DaemonDeployment daemon_deployment_from(const json& j) {
  DaemonDeployment d;
  d.id = j.at("id").get<std::string>();
  d.arn = j.at("arn").get<std::string>();
  d.status = j.at("status").get<std::string>();
  d.status_reason = j.value("statusReason", "");
  d.target_revision_arn = j.at("targetRevisionArn").get<std::string>();
  d.source_revision_arns = j.value("sourceRevisionArns", std::vector<std::string>{});
  d.deployment_configuration = j.value("deploymentConfiguration", json::object());
  d.created_at = j.value("createdAt", TimeMs{0});
  get_opt(j, "startedAt", d.started_at);
  get_opt(j, "finishedAt", d.finished_at);
  get_opt(j, "stoppedAt", d.stopped_at);
  return d;
}

json to_json(const Daemon& d) {
  json revisions = json::array();
  for (const auto& r : d.revisions) {
    revisions.push_back(to_json(r));
  }
  json deployments = json::array();
  for (const auto& dep : d.deployments) {
    deployments.push_back(to_json(dep));
  }
  return {{"name", d.name},
          {"arn", d.arn},
          {"clusterName", d.cluster_name},
          {"clusterArn", d.cluster_arn},
          {"status", d.status},
          {"daemonTaskDefinitionArn", d.daemon_task_definition_arn},
          {"capacityProviderArns", d.capacity_provider_arns},
          {"deploymentConfiguration", d.deployment_configuration},
          {"propagateTags", d.propagate_tags},
          {"enableECSManagedTags", d.enable_ecs_managed_tags},
          {"enableExecuteCommand", d.enable_execute_command},
          {"tags", d.tags},
          {"clientToken", d.client_token},
          {"createdAt", d.created_at},
          {"updatedAt", d.updated_at},
          {"revisions", revisions},
          {"deployments", deployments}};
}

Daemon daemon_from(const json& j) {
  Daemon d;
  d.name = j.at("name").get<std::string>();
  d.arn = j.at("arn").get<std::string>();
  d.cluster_name = j.at("clusterName").get<std::string>();
  d.cluster_arn = j.at("clusterArn").get<std::string>();
  d.status = j.at("status").get<std::string>();
  d.daemon_task_definition_arn = j.at("daemonTaskDefinitionArn").get<std::string>();
  d.capacity_provider_arns = j.value("capacityProviderArns", json::array());
  d.deployment_configuration = j.value("deploymentConfiguration", json::object());
  d.propagate_tags = j.value("propagateTags", "NONE");
  d.enable_ecs_managed_tags = j.value("enableECSManagedTags", false);
  d.enable_execute_command = j.value("enableExecuteCommand", false);
  d.tags = j.value("tags", json::array());
  d.client_token = j.value("clientToken", "");
  d.created_at = j.value("createdAt", TimeMs{0});
  d.updated_at = j.value("updatedAt", TimeMs{0});
  for (const auto& r : j.value("revisions", json::array())) {
    d.revisions.push_back(daemon_revision_from(r));
  }
  for (const auto& dep : j.value("deployments", json::array())) {
    d.deployments.push_back(daemon_deployment_from(dep));
  }
  return d;
}

json to_json(const ExpressGatewayService& s) {
  return {{"name", s.name},
          {"arn", s.arn},
          {"clusterName", s.cluster_name},
          {"clusterArn", s.cluster_arn},
          {"infrastructureRoleArn", s.infrastructure_role_arn},
          {"status", s.status},
          {"statusReason", s.status_reason},
          {"currentDeployment", s.current_deployment},
          {"configurations", s.configurations},
          {"tags", s.tags},
          {"createdAt", s.created_at},
          {"updatedAt", s.updated_at}};
}

ExpressGatewayService express_gateway_service_from(const json& j) {
  ExpressGatewayService s;
  s.name = j.at("name").get<std::string>();
  s.arn = j.at("arn").get<std::string>();
  s.cluster_name = j.at("clusterName").get<std::string>();
  s.cluster_arn = j.at("clusterArn").get<std::string>();
  s.infrastructure_role_arn = j.value("infrastructureRoleArn", "");
  s.status = j.at("status").get<std::string>();
  s.status_reason = j.value("statusReason", "");
  s.current_deployment = j.value("currentDeployment", "");
  s.configurations = j.value("configurations", json::array());
  s.tags = j.value("tags", json::array());
  s.created_at = j.value("createdAt", TimeMs{0});
  s.updated_at = j.value("updatedAt", TimeMs{0});
  return s;
}

std::string key_of(const std::string& cluster, const std::string& name) { return cluster + "/" + name; }

}  // namespace

void put_instances_and_daemons(json& out, const RegionState& region) {
  json instances = json::array();
  for (const auto& [id, ci] : region.container_instances) {
    instances.push_back(to_json(ci));
  }
  json protection = json::array();
  for (const auto& [task_id, p] : region.task_protection) {
    protection.push_back({{"taskId", task_id}, {"enabled", p.enabled}, {"expiresAt", p.expires_at}});
  }
  json daemon_defs = json::array();
  for (const auto& [family, revisions] : region.daemon_task_definitions) {
    for (const auto& d : revisions) {
      daemon_defs.push_back(to_json(d));
    }
  }
  json daemons = json::array();
  for (const auto& [key, d] : region.daemons) {
    daemons.push_back(to_json(d));
  }
  json express = json::array();
  for (const auto& [key, s] : region.express_gateway_services) {
    express.push_back(to_json(s));
  }
  out["containerInstances"] = instances;
  out["taskProtection"] = protection;
  out["daemonTaskDefinitions"] = daemon_defs;
  out["daemons"] = daemons;
  out["expressGatewayServices"] = express;
}

void get_instances_and_daemons(const json& in, RegionState& region) {
  for (const auto& j : in.value("containerInstances", json::array())) {
    auto ci = container_instance_from(j);
    region.container_instances.emplace(ci.id, std::move(ci));
  }
  for (const auto& j : in.value("taskProtection", json::array())) {
    region.task_protection[j.at("taskId").get<std::string>()] =
        TaskProtection{j.at("enabled").get<bool>(), j.at("expiresAt").get<TimeMs>()};
  }
  for (const auto& j : in.value("daemonTaskDefinitions", json::array())) {
    auto d = daemon_task_definition_from(j);
    auto& revisions = region.daemon_task_definitions[d.family];
    if (d.revision != static_cast<int>(revisions.size()) + 1) {
      throw std::runtime_error("daemon task definition revisions out of order for " + d.family);
    }
    revisions.push_back(std::move(d));
  }
  for (const auto& j : in.value("daemons", json::array())) {
    auto d = daemon_from(j);
    region.daemons.emplace(key_of(d.cluster_name, d.name), std::move(d));
  }
  for (const auto& j : in.value("expressGatewayServices", json::array())) {
    auto s = express_gateway_service_from(j);
    region.express_gateway_services.emplace(key_of(s.cluster_name, s.name), std::move(s));
  }
}

}  // namespace berth::state::detail
