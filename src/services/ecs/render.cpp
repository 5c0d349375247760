// How ECS shapes its resources in responses. Optional members are left out when unset, as AWS does.
#include "ecs_common.hpp"

#include <algorithm>
#include <map>

#include <berth/scheduler/task_reconciler.hpp>

namespace berth::services::ecs {
namespace {

bool includes(const json& include, const char* what) {
  return include.is_array() && std::any_of(include.begin(), include.end(), [&](const json& v) { return v == what; });
}

void put_time(json& out, const char* key, const std::optional<TimeMs>& t) {
  if (t) {
    out[key] = to_epoch_seconds(*t);
  }
}

json render_container(const state::Task& t, const state::Container& c) {
  json out = {
      {"containerArn", c.arn},
      {"taskArn", t.arn},
      {"name", c.name},
      {"image", c.image},
      {"lastStatus", std::string(state::to_string(c.last_status))},
      {"networkInterfaces", json::array()},
      {"healthStatus", c.health_status},
  };
  if (t.eni && !t.eni->ip.empty()) {
    out["networkInterfaces"] = json::array({{{"attachmentId", t.eni->attachment_id}, {"privateIpv4Address", t.eni->ip}}});
  }
  if (!c.runtime_id.empty()) {
    out["runtimeId"] = c.runtime_id;
  }
  if (c.exit_code) {
    out["exitCode"] = *c.exit_code;
  }
  if (!c.reason.empty()) {
    out["reason"] = c.reason;
  }
  json bindings = json::array();
  for (const auto& b : c.network_bindings) {
    bindings.push_back(
        {{"bindIP", b.bind_ip}, {"containerPort", b.container_port}, {"hostPort", b.host_port}, {"protocol", b.protocol}});
  }
  out["networkBindings"] = bindings;
  const json& def = c.definition;
  out["cpu"] = std::to_string(def.value("cpu", 0));
  if (def.contains("memory")) {
    out["memory"] = std::to_string(def.value("memory", 0));
  }
  if (def.contains("memoryReservation")) {
    out["memoryReservation"] = std::to_string(def.value("memoryReservation", 0));
  }
  return out;
}

}  // namespace

json render_cluster(const state::Cluster& c, const state::RegionState& region, const json& include) {
  // Tasks by launch type: those not yet RUNNING count as pending, as in ECS's pendingTasksCount.
  std::map<std::string, std::pair<int, int>, std::less<>> tasks;  // launch type -> {running, pending}
  for (const auto& [id, t] : region.tasks) {
    if (t.cluster_name != c.name || t.last_status > state::TaskStatus::kRunning) {
      continue;
    }
    auto& counts = tasks[t.launch_type];
    (t.last_status == state::TaskStatus::kRunning ? counts.first : counts.second) += 1;
  }
  int running = 0;
  int pending = 0;
  for (const auto& [type, counts] : tasks) {
    running += counts.first;
    pending += counts.second;
  }
  json out = {
      {"clusterArn", c.arn},
      {"clusterName", c.name},
      {"status", c.status},
      {"registeredContainerInstancesCount", cluster_container_instance_count(region, c.name)},
      {"runningTasksCount", running},
      {"pendingTasksCount", pending},
      {"activeServicesCount", cluster_service_count(region, c.name, "ACTIVE")},
      {"statistics", json::array()},
      {"tags", json::array()},
      {"settings", json::array()},
      {"capacityProviders", c.capacity_providers},
      {"defaultCapacityProviderStrategy", c.default_capacity_provider_strategy},
  };
  if (includes(include, "TAGS")) {
    out["tags"] = c.tags;
  }
  if (includes(include, "SETTINGS")) {
    out["settings"] = c.settings;
  }
  if (includes(include, "CONFIGURATIONS") && !c.configuration.is_null()) {
    out["configuration"] = c.configuration;
  }
  if (includes(include, "STATISTICS")) {
    // The split ECS answers with, by launch type, in its order and spelling.
    json stats = json::array();
    auto add = [&](const char* name, int value) {
      stats.push_back({{"name", name}, {"value", std::to_string(value)}});
    };
    auto running_of = [&](std::string_view type) { auto it = tasks.find(type); return it == tasks.end() ? 0 : it->second.first; };
    auto pending_of = [&](std::string_view type) { auto it = tasks.find(type); return it == tasks.end() ? 0 : it->second.second; };
    auto services = [&](const char* status, std::string_view type) {
      return cluster_service_count(region, c.name, status, type);
    };
    add("runningEC2TasksCount", running_of("EC2"));
    add("runningFargateTasksCount", running_of("FARGATE"));
    add("pendingEC2TasksCount", pending_of("EC2"));
    add("pendingFargateTasksCount", pending_of("FARGATE"));
    add("runningExternalTasksCount", running_of("EXTERNAL"));
    add("pendingExternalTasksCount", pending_of("EXTERNAL"));
    add("runningManagedInstancesTasksCount", running_of("MANAGED_INSTANCES"));
    add("pendingManagedInstancesTasksCount", pending_of("MANAGED_INSTANCES"));
    add("activeEC2ServiceCount", services("ACTIVE", "EC2"));
    add("activeFargateServiceCount", services("ACTIVE", "FARGATE"));
    add("drainingEC2ServiceCount", services("DRAINING", "EC2"));
    add("drainingFargateServiceCount", services("DRAINING", "FARGATE"));
    add("activeExternalServiceCount", services("ACTIVE", "EXTERNAL"));
    add("drainingExternalServiceCount", services("DRAINING", "EXTERNAL"));
    add("activeManagedInstancesServiceCount", services("ACTIVE", "MANAGED_INSTANCES"));
    add("drainingManagedInstancesServiceCount", services("DRAINING", "MANAGED_INSTANCES"));
    out["statistics"] = stats;
  }
  if (includes(include, "ATTACHMENTS")) {
    // ECS lists here the Auto Scaling policies and lifecycle hooks it made for the cluster's providers; berth
    // makes none.
    out["attachments"] = json::array();
  }
  if (!c.service_connect_defaults.is_null()) {
    out["serviceConnectDefaults"] = c.service_connect_defaults;
  }
  return out;
}

json render_task(const state::Task& t, bool with_tags) {
  json containers = json::array();
  json container_overrides = json::array();
  for (const auto& c : t.containers) {
    containers.push_back(render_container(t, c));
  }
  json overrides = t.overrides;
  if (!overrides.contains("containerOverrides")) {
    for (const auto& c : t.containers) {
      container_overrides.push_back({{"name", c.name}});
    }
    overrides["containerOverrides"] = container_overrides;
  }
  if (!overrides.contains("inferenceAcceleratorOverrides")) {
    overrides["inferenceAcceleratorOverrides"] = json::array();
  }
  json out = {
      {"taskArn", t.arn},
      {"clusterArn", t.cluster_arn},
      {"taskDefinitionArn", t.task_definition_arn},
      {"containers", containers},
      {"overrides", overrides},
      {"lastStatus", std::string(state::to_string(t.last_status))},
      {"desiredStatus", std::string(state::to_string(t.desired_status))},
      {"launchType", t.launch_type},
      {"group", t.group},
      {"createdAt", to_epoch_seconds(t.created_at)},
      {"version", t.version},
      {"attachments", json::array()},
      {"attributes", json::array({{{"name", "ecs.cpu-architecture"}, {"value", "x86_64"}}})},
      {"availabilityZone", t.availability_zone},
      {"healthStatus", scheduler::task_health_status(t)},
      {"enableExecuteCommand", false},
      {"tags", with_tags ? t.tags : json::array()},
  };
  if (!t.cpu.empty()) {
    out["cpu"] = t.cpu;
  }
  if (!t.memory.empty()) {
    out["memory"] = t.memory;
  }
  if (!t.started_by.empty()) {
    out["startedBy"] = t.started_by;
  }
  if (!t.stop_code.empty()) {
    out["stopCode"] = t.stop_code;
  }
  if (!t.stopped_reason.empty()) {
    out["stoppedReason"] = t.stopped_reason;
  }
  if (t.eni) {
    const auto& e = *t.eni;
    json details = json::array({{{"name", "subnetId"}, {"value", e.subnet}}});
    if (e.status != "PRECREATED") {
      details.push_back({{"name", "networkInterfaceId"}, {"value", e.eni_id}});
      details.push_back({{"name", "macAddress"}, {"value", e.mac}});
      details.push_back({{"name", "privateIPv4Address"}, {"value", e.ip}});
      std::string dns = e.ip;
      std::replace(dns.begin(), dns.end(), '.', '-');
      // EC2's internal names: ip-a-b-c-d.ec2.internal in us-east-1, ip-a-b-c-d.<region>.compute.internal elsewhere.
      const std::string domain = t.scope.region == "us-east-1" ? "ec2.internal" : t.scope.region + ".compute.internal";
      details.push_back({{"name", "privateDnsName"}, {"value", "ip-" + dns + "." + domain}});
    }
    out["attachments"] = json::array(
        {{{"id", e.attachment_id}, {"type", "ElasticNetworkInterface"}, {"status", e.status}, {"details", details}}});
    if (e.status == "ATTACHED" || e.status == "DELETED") {
      out["connectivity"] = "CONNECTED";
    }
  }
  if (!t.platform_version.empty()) {
    out["platformVersion"] = t.platform_version;
    out["platformFamily"] = "Linux";
    out["ephemeralStorage"] = {{"sizeInGiB", t.ephemeral_storage_gib}};
  }
  if (!t.container_instance_arn.empty()) {
    out["containerInstanceArn"] = t.container_instance_arn;
  }
  if (!t.capacity_provider_name.empty()) {
    out["capacityProviderName"] = t.capacity_provider_name;
  }
  put_time(out, "pullStartedAt", t.pull_started_at);
  put_time(out, "pullStoppedAt", t.pull_stopped_at);
  put_time(out, "startedAt", t.started_at);
  put_time(out, "stoppingAt", t.stopping_at);
  put_time(out, "executionStoppedAt", t.execution_stopped_at);
  put_time(out, "stoppedAt", t.stopped_at);
  return out;
}

json render_task_definition(const state::TaskDefinition& td) {
  json out = td.doc;
  out["status"] = td.status;
  return out;
}

}  // namespace berth::services::ecs
