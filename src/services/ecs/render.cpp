// How ECS shapes its resources in responses. Optional members are left out when unset, as AWS does.
#include "ecs_common.hpp"

#include <algorithm>

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
      {"healthStatus", "UNKNOWN"},
  };
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
  int running = 0;
  int pending = 0;
  for (const auto& [id, t] : region.tasks) {
    if (t.cluster_name != c.name || t.last_status == state::TaskStatus::kStopped) {
      continue;
    }
    if (t.last_status == state::TaskStatus::kRunning) {
      ++running;
    } else if (t.last_status < state::TaskStatus::kRunning) {
      ++pending;
    }
  }
  const auto instances = std::count_if(region.container_instances.begin(), region.container_instances.end(),
                                       [&](const auto& kv) {
                                         return kv.second.cluster_name == c.name && kv.second.status != "INACTIVE";
                                       });
  json out = {
      {"clusterArn", c.arn},
      {"clusterName", c.name},
      {"status", c.status},
      {"registeredContainerInstancesCount", instances},
      {"runningTasksCount", running},
      {"pendingTasksCount", pending},
      {"activeServicesCount", 0},
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
    out["statistics"] = json::array();
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
      {"availabilityZone", t.scope.region + "a"},
      {"healthStatus", "UNKNOWN"},
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
