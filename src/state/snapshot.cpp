#include <berth/state/snapshot.hpp>

#include "detail/instances_snapshot.hpp"

namespace berth::state {
namespace {

constexpr int kFormat = 1;

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

ContainerPhase rolled_back(ContainerPhase p) {
  switch (p) {
    case ContainerPhase::kPulling:
      return ContainerPhase::kNew;
    case ContainerPhase::kCreating:
      return ContainerPhase::kPulled;
    case ContainerPhase::kStarting:
      return ContainerPhase::kCreated;
    default:
      return p;
  }
}

json to_json(const Container& c) {
  json bindings = json::array();
  for (const auto& b : c.network_bindings) {
    bindings.push_back({{"bindIP", b.bind_ip}, {"containerPort", b.container_port}, {"hostPort", b.host_port},
                        {"protocol", b.protocol}});
  }
  json j = {{"name", c.name},
            {"arn", c.arn},
            {"image", c.image},
            {"imageDigest", c.image_digest},
            {"definition", c.definition},
            {"essential", c.essential},
            {"lastStatus", static_cast<int>(c.last_status)},
            {"reason", c.reason},
            {"runtimeId", c.runtime_id},
            {"networkBindings", bindings},
            {"phase", static_cast<int>(c.phase)},
            {"sigkillSent", c.sigkill_sent},
            {"stopTimeout", c.stop_timeout_s},
            {"healthStatus", c.health_status},
            {"ipAddress", c.ip_address},
            {"dockerName", c.docker_name},
            {"metadataToken", c.metadata_token}};
  put_opt(j, "exitCode", c.exit_code);
  put_opt(j, "createdAt", c.created_at);
  put_opt(j, "startedAt", c.started_at);
  put_opt(j, "finishedAt", c.finished_at);
  put_opt(j, "sigtermAt", c.sigterm_at);
  return j;
}

Container container_from(const json& j) {
  Container c;
  c.name = j.at("name").get<std::string>();
  c.arn = j.at("arn").get<std::string>();
  c.image = j.at("image").get<std::string>();
  c.image_digest = j.value("imageDigest", "");
  c.definition = j.at("definition");
  c.essential = j.at("essential").get<bool>();
  c.last_status = static_cast<ContainerStatus>(j.at("lastStatus").get<int>());
  c.reason = j.value("reason", "");
  c.runtime_id = j.value("runtimeId", "");
  for (const auto& b : j.value("networkBindings", json::array())) {
    c.network_bindings.push_back(NetworkBinding{b.at("bindIP").get<std::string>(), b.at("containerPort").get<int>(),
                                                b.at("hostPort").get<int>(), b.at("protocol").get<std::string>()});
  }
  c.phase = static_cast<ContainerPhase>(j.at("phase").get<int>());
  c.sigkill_sent = j.value("sigkillSent", false);
  c.stop_timeout_s = j.value("stopTimeout", 30);
  get_opt(j, "exitCode", c.exit_code);
  get_opt(j, "sigtermAt", c.sigterm_at);
  get_opt(j, "startedAt", c.started_at);
  get_opt(j, "createdAt", c.created_at);
  get_opt(j, "finishedAt", c.finished_at);
  c.health_status = j.value("healthStatus", "UNKNOWN");
  c.ip_address = j.value("ipAddress", "");
  c.docker_name = j.value("dockerName", "");
  c.metadata_token = j.value("metadataToken", "");
  // An operation under way at snapshot time never completed: go back to the last repeatable step.
  c.phase = rolled_back(c.phase);
  c.op_in_flight = false;
  return c;
}

json to_json(const TaskEni& e) {
  return {{"attachmentId", e.attachment_id}, {"eniId", e.eni_id},     {"network", e.network},
          {"status", e.status},              {"pauseId", e.pause_id}, {"pausePhase", static_cast<int>(e.pause_phase)},
          {"ip", e.ip},                      {"mac", e.mac},          {"subnet", e.subnet},
          {"securityGroups", e.security_groups}};
}

TaskEni eni_from(const json& j) {
  TaskEni e;
  e.attachment_id = j.at("attachmentId").get<std::string>();
  e.eni_id = j.at("eniId").get<std::string>();
  e.network = j.at("network").get<std::string>();
  e.status = j.at("status").get<std::string>();
  e.pause_id = j.value("pauseId", "");
  e.pause_phase = rolled_back(static_cast<ContainerPhase>(j.at("pausePhase").get<int>()));
  e.ip = j.value("ip", "");
  e.mac = j.value("mac", "");
  e.subnet = j.value("subnet", "");
  e.security_groups = j.value("securityGroups", json::array());
  return e;
}

json to_json(const VolumeSource& v) {
  return {{"bind", v.bind},     {"source", v.source},          {"taskScoped", v.task_scoped},
          {"driver", v.driver}, {"driverOpts", v.driver_opts}, {"labels", v.labels}};
}

VolumeSource volume_from(const json& j) {
  VolumeSource v;
  v.bind = j.at("bind").get<bool>();
  v.source = j.at("source").get<std::string>();
  v.task_scoped = j.value("taskScoped", false);
  v.driver = j.value("driver", "");
  v.driver_opts = j.value("driverOpts", std::map<std::string, std::string>{});
  v.labels = j.value("labels", std::map<std::string, std::string>{});
  return v;
}

json to_json(const Task& t) {
  json containers = json::array();
  for (const auto& c : t.containers) {
    containers.push_back(to_json(c));
  }
  json j = {{"id", t.id},
            {"arn", t.arn},
            {"account", t.scope.account},
            {"region", t.scope.region},
            {"clusterName", t.cluster_name},
            {"clusterArn", t.cluster_arn},
            {"taskDefinitionArn", t.task_definition_arn},
            {"family", t.family},
            {"revision", t.revision},
            {"launchType", t.launch_type},
            {"networkMode", t.network_mode},
            {"group", t.group},
            {"startedBy", t.started_by},
            {"taskRoleArn", t.task_role_arn},
            {"executionRoleArn", t.execution_role_arn},
            {"credentialsId", t.credentials_id},
            {"cpu", t.cpu},
            {"memory", t.memory},
            {"overrides", t.overrides},
            {"tags", t.tags},
            {"lastStatus", static_cast<int>(t.last_status)},
            {"desiredStatus", static_cast<int>(t.desired_status)},
            {"stopCode", t.stop_code},
            {"stoppedReason", t.stopped_reason},
            {"createdAt", t.created_at},
            {"version", t.version},
            {"containers", containers},
            {"platformVersion", t.platform_version},
            {"containerInstanceArn", t.container_instance_arn},
            {"availabilityZone", t.availability_zone},
            {"ephemeralStorageGiB", t.ephemeral_storage_gib},
            {"capacityProviderName", t.capacity_provider_name},
            {"networkConfiguration", t.network_configuration},
            {"volumesReady", t.volumes_ready},
            {"volumeDefinitions", t.volume_definitions},
            {"admitted", t.admitted}};
  json volumes = json::object();
  for (const auto& [name, v] : t.volumes) {
    volumes[name] = to_json(v);
  }
  j["volumes"] = volumes;
  if (t.eni) {
    j["eni"] = to_json(*t.eni);
  }
  put_opt(j, "activatingAt", t.activating_at);
  put_opt(j, "pullStartedAt", t.pull_started_at);
  put_opt(j, "pullStoppedAt", t.pull_stopped_at);
  put_opt(j, "startedAt", t.started_at);
  put_opt(j, "stoppingAt", t.stopping_at);
  put_opt(j, "executionStoppedAt", t.execution_stopped_at);
  put_opt(j, "stoppedAt", t.stopped_at);
  return j;
}

Task task_from(const json& j) {
  Task t;
  t.id = j.at("id").get<std::string>();
  t.arn = j.at("arn").get<std::string>();
  t.scope = Scope{j.at("account").get<std::string>(), j.at("region").get<std::string>()};
  t.cluster_name = j.at("clusterName").get<std::string>();
  t.cluster_arn = j.at("clusterArn").get<std::string>();
  t.task_definition_arn = j.at("taskDefinitionArn").get<std::string>();
  t.family = j.at("family").get<std::string>();
  t.revision = j.at("revision").get<int>();
  t.launch_type = j.at("launchType").get<std::string>();
  t.network_mode = j.at("networkMode").get<std::string>();
  t.group = j.at("group").get<std::string>();
  t.started_by = j.value("startedBy", "");
  t.task_role_arn = j.value("taskRoleArn", "");
  t.execution_role_arn = j.value("executionRoleArn", "");
  t.credentials_id = j.value("credentialsId", "");
  t.cpu = j.value("cpu", "");
  t.memory = j.value("memory", "");
  t.overrides = j.value("overrides", json::object());
  t.tags = j.value("tags", json::array());
  t.last_status = static_cast<TaskStatus>(j.at("lastStatus").get<int>());
  t.desired_status = static_cast<TaskStatus>(j.at("desiredStatus").get<int>());
  t.stop_code = j.value("stopCode", "");
  t.stopped_reason = j.value("stoppedReason", "");
  t.created_at = j.at("createdAt").get<TimeMs>();
  t.version = j.at("version").get<std::int64_t>();
  for (const auto& c : j.at("containers")) {
    t.containers.push_back(container_from(c));
  }
  t.platform_version = j.value("platformVersion", "");
  t.container_instance_arn = j.value("containerInstanceArn", "");
  t.availability_zone = j.value("availabilityZone", t.scope.region + "a");
  t.ephemeral_storage_gib = j.value("ephemeralStorageGiB", 20);
  t.capacity_provider_name = j.value("capacityProviderName", "");
  t.network_configuration = j.value("networkConfiguration", json());
  t.volumes_ready = j.value("volumesReady", false);
  t.volume_definitions = j.value("volumeDefinitions", json::array());
  t.admitted = j.value("admitted", false);
  // Held in a named value: items() over a temporary would outlive it.
  const json volumes = j.value("volumes", json::object());
  for (const auto& [name, v] : volumes.items()) {
    t.volumes[name] = volume_from(v);
  }
  if (j.contains("eni")) {
    t.eni = eni_from(j["eni"]);
  }
  get_opt(j, "activatingAt", t.activating_at);
  get_opt(j, "pullStartedAt", t.pull_started_at);
  get_opt(j, "pullStoppedAt", t.pull_stopped_at);
  get_opt(j, "startedAt", t.started_at);
  get_opt(j, "stoppingAt", t.stopping_at);
  get_opt(j, "executionStoppedAt", t.execution_stopped_at);
  get_opt(j, "stoppedAt", t.stopped_at);
  return t;
}

json to_json(const Cluster& c) {
  return {{"name", c.name},
          {"arn", c.arn},
          {"status", c.status},
          {"settings", c.settings},
          {"configuration", c.configuration},
          {"capacityProviders", c.capacity_providers},
          {"defaultCapacityProviderStrategy", c.default_capacity_provider_strategy},
          {"serviceConnectDefaults", c.service_connect_defaults},
          {"tags", c.tags},
          {"createdAt", c.created_at}};
}

Cluster cluster_from(const json& j) {
  Cluster c;
  c.name = j.at("name").get<std::string>();
  c.arn = j.at("arn").get<std::string>();
  c.status = j.at("status").get<std::string>();
  c.settings = j.value("settings", json::array());
  c.configuration = j.value("configuration", json());
  c.capacity_providers = j.value("capacityProviders", json::array());
  c.default_capacity_provider_strategy = j.value("defaultCapacityProviderStrategy", json::array());
  c.service_connect_defaults = j.value("serviceConnectDefaults", json());
  c.tags = j.value("tags", json::array());
  c.created_at = j.value("createdAt", TimeMs{0});
  return c;
}

json to_json(const TaskDefinition& td) {
  return {{"family", td.family}, {"revision", td.revision}, {"arn", td.arn},
          {"status", td.status}, {"doc", td.doc},           {"tags", td.tags}};
}

TaskDefinition task_definition_from(const json& j) {
  TaskDefinition td;
  td.family = j.at("family").get<std::string>();
  td.revision = j.at("revision").get<int>();
  td.arn = j.at("arn").get<std::string>();
  td.status = j.at("status").get<std::string>();
  td.doc = j.at("doc");
  td.tags = j.value("tags", json::array());
  return td;
}

json to_json(const CapacityProvider& cp) {
  return {{"name", cp.name},
          {"arn", cp.arn},
          {"type", cp.type},
          {"status", cp.status},
          {"updateStatus", cp.update_status},
          {"updateStatusReason", cp.update_status_reason},
          {"cluster", cp.cluster},
          {"autoScalingGroupProvider", cp.auto_scaling_group_provider},
          {"managedInstancesProvider", cp.managed_instances_provider},
          {"tags", cp.tags},
          {"createdAt", cp.created_at}};
}

CapacityProvider capacity_provider_from(const json& j) {
  CapacityProvider cp;
  cp.name = j.at("name").get<std::string>();
  cp.arn = j.at("arn").get<std::string>();
  cp.type = j.at("type").get<std::string>();
  cp.status = j.at("status").get<std::string>();
  cp.update_status = j.value("updateStatus", "");
  cp.update_status_reason = j.value("updateStatusReason", "");
  cp.cluster = j.value("cluster", "");
  cp.auto_scaling_group_provider = j.value("autoScalingGroupProvider", json());
  cp.managed_instances_provider = j.value("managedInstancesProvider", json());
  cp.tags = j.value("tags", json::array());
  cp.created_at = j.value("createdAt", TimeMs{0});
  return cp;
}

}  // namespace

json snapshot(Store& store) {
  json regions = json::array();
  store.for_each_region([&](const Scope& scope, RegionState& r) {
    json clusters = json::array();
    for (const auto& [name, c] : r.clusters) {
      clusters.push_back(to_json(c));
    }
    json defs = json::array();
    for (const auto& [family, revisions] : r.task_definitions) {
      for (const auto& td : revisions) {
        defs.push_back(to_json(td));
      }
    }
    json tasks = json::array();
    for (const auto& [id, t] : r.tasks) {
      tasks.push_back(to_json(t));
    }
    json services = json::array();
    for (const auto& [key, svc] : r.services) {
      services.push_back(to_json(svc));
    }
    json service_deployments = json::array();
    for (const auto& [arn, d] : r.service_deployments) {
      service_deployments.push_back(to_json(d));
    }
    json service_revisions = json::array();
    for (const auto& [arn, rev] : r.service_revisions) {
      service_revisions.push_back(to_json(rev));
    }
    json providers = json::array();
    for (const auto& [name, cp] : r.capacity_providers) {
      providers.push_back(to_json(cp));
    }
    json region_json = {{"account", scope.account},
                       {"region", scope.region},
                       {"clusters", clusters},
                       {"taskDefinitions", defs},
                       {"tasks", tasks},
                       {"services", services},
                       {"serviceDeployments", service_deployments},
                       {"serviceRevisions", service_revisions},
                       {"capacityProviders", providers},
                       {"accountSettings", r.account_settings.by_principal}};
    detail::put_instances_and_daemons(region_json, r);
    regions.push_back(std::move(region_json));
  });
  return {{"format", kFormat}, {"regions", regions}};
}

Result<Unit> restore(Store& store, const json& snap) {
  Store fresh;
  try {
    if (snap.value("format", 0) != kFormat) {
      return AwsError::client("InvalidSnapshot", "unknown snapshot format");
    }
    for (const auto& r : snap.at("regions")) {
      Scope scope{r.at("account").get<std::string>(), r.at("region").get<std::string>()};
      auto& region = fresh.region(scope);
      for (const auto& c : r.at("clusters")) {
        auto cluster = cluster_from(c);
        region.clusters.emplace(cluster.name, std::move(cluster));
      }
      for (const auto& d : r.at("taskDefinitions")) {
        auto td = task_definition_from(d);
        auto& revisions = region.task_definitions[td.family];
        if (td.revision != static_cast<int>(revisions.size()) + 1) {
          return AwsError::client("InvalidSnapshot", "task definition revisions out of order for " + td.family);
        }
        revisions.push_back(std::move(td));
      }
      for (const auto& tj : r.at("tasks")) {
        auto t = task_from(tj);
        fresh.index_task(t);
        region.tasks.emplace(t.id, std::move(t));
      }
      // Snapshots written before services existed have none of these.
      for (const auto& sj : r.value("services", json::array())) {
        auto svc = service_from_json(sj);
        region.services.emplace(service_key(svc.cluster_name, svc.name), std::move(svc));
      }
      for (const auto& dj : r.value("serviceDeployments", json::array())) {
        auto d = service_deployment_from_json(dj);
        region.service_deployments.emplace(d.arn, std::move(d));
      }
      for (const auto& rj : r.value("serviceRevisions", json::array())) {
        auto rev = service_revision_from_json(rj);
        region.service_revisions.emplace(rev.arn, std::move(rev));
      }
      // Absent in snapshots written before capacity providers and account settings existed.
      for (const auto& cj : r.value("capacityProviders", json::array())) {
        auto cp = capacity_provider_from(cj);
        region.capacity_providers.emplace(cp.name, std::move(cp));
      }
      region.account_settings.by_principal =
          r.value("accountSettings", json::object()).get<decltype(region.account_settings.by_principal)>();
      detail::get_instances_and_daemons(r, region);
    }
  } catch (const std::exception& e) {
    return AwsError::client("InvalidSnapshot", e.what());
  }
  store = std::move(fresh);
  return Unit{};
}

}  // namespace berth::state
