#include <berth/state/tasks.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>

#include <berth/common/ids.hpp>

namespace berth::state {

std::optional<std::int64_t> task_size(std::string_view text, std::string_view unit_word,
                                      std::int64_t per_unit) {
  std::string lower;
  for (char c : text) {
    if (c != ' ') {
      lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
  }
  if (lower.empty()) {
    return std::nullopt;
  }
  const bool scaled = lower.ends_with(unit_word);
  if (scaled) {
    lower.resize(lower.size() - unit_word.size());
  }
  double v = 0;
  auto [end, ec] = std::from_chars(lower.data(), lower.data() + lower.size(), v);
  if (ec != std::errc() || end != lower.data() + lower.size() || v <= 0) {
    return std::nullopt;
  }
  return static_cast<std::int64_t>(std::llround(scaled ? v * static_cast<double>(per_unit) : v));
}

void apply_container_override(json& def, const json& o) {
  for (const char* key : {"command", "cpu", "memory", "memoryReservation"}) {
    if (o.contains(key)) {
      def[key] = o[key];
    }
  }
  if (o.contains("environment")) {
    json env = def.value("environment", json::array());
    for (const auto& kv : o["environment"]) {
      auto it = std::find_if(env.begin(), env.end(),
                             [&](const json& e) { return e.value("name", "") == kv.value("name", ""); });
      if (it != env.end()) {
        *it = kv;
      } else {
        env.push_back(kv);
      }
    }
    def["environment"] = env;
  }
}

Task& add_task(Store& store, const Scope& scope, const Cluster& cluster, const TaskDefinition& td,
               const NewTask& spec, TimeMs now) {
  const json& overrides = spec.overrides.is_object() ? spec.overrides : json::object();
  Task t;
  t.id = ids::hex32();
  t.scope = scope;
  t.arn = ecs_arn::task(scope, cluster.name, t.id);
  t.cluster_name = cluster.name;
  t.cluster_arn = cluster.arn;
  t.task_definition_arn = td.arn;
  t.family = td.family;
  t.revision = td.revision;
  t.launch_type = spec.launch_type;
  t.network_mode = td.doc.value("networkMode", "bridge");
  t.group = spec.group.empty() ? "family:" + td.family : spec.group;
  t.started_by = spec.started_by;
  t.task_role_arn = overrides.value("taskRoleArn", td.doc.value("taskRoleArn", ""));
  t.execution_role_arn = overrides.value("executionRoleArn", td.doc.value("executionRoleArn", ""));
  if (!t.task_role_arn.empty()) {
    // A capability: whoever knows it may fetch the role's credentials, so it must not be guessable.
    t.credentials_id = ids::secret_uuid4();
  }
  t.cpu = overrides.value("cpu", td.doc.value("cpu", ""));
  t.memory = overrides.value("memory", td.doc.value("memory", ""));
  t.overrides = overrides;
  t.volume_definitions = td.doc.value("volumes", json::array());
  if (!spec.capacity_provider_name.empty()) {
    t.capacity_provider_name = spec.capacity_provider_name;
    t.launch_type = "FARGATE";  // FARGATE_SPOT tasks report launch type FARGATE too
  }
  if (t.launch_type == "FARGATE") {
    // LATEST is platform version 1.4.0, the one every current Fargate feature needs.
    const std::string pv = spec.platform_version.empty() ? "LATEST" : spec.platform_version;
    t.platform_version = pv == "LATEST" ? "1.4.0" : pv;
    t.ephemeral_storage_gib =
        overrides.value("ephemeralStorage", td.doc.value("ephemeralStorage", json::object()))
            .value("sizeInGiB", 20);
  }
  if (t.network_mode == "awsvpc") {
    const json& awsvpc = spec.network_configuration["awsvpcConfiguration"];
    t.network_configuration = spec.network_configuration;
    TaskEni eni;
    eni.attachment_id = ids::uuid4();
    eni.eni_id = "eni-" + ids::hex32().substr(0, 17);
    // One Docker network per cluster stands in for the VPC.
    eni.network = "berth-" + scope.account + "-" + scope.region + "-" + cluster.name;
    eni.subnet = awsvpc["subnets"][0].get<std::string>();
    eni.security_groups = awsvpc.value("securityGroups", json::array());
    t.eni = eni;
  }
  // berth's own engine stands in for zone a; an instance is in the zone it registered.
  t.availability_zone = scope.region + "a";
  if (spec.instance != nullptr) {
    t.container_instance_arn = spec.instance->arn;
    spec.instance->task_ids.push_back(t.id);
    auto az = spec.instance->attributes.find("ecs.availability-zone");
    if (az != spec.instance->attributes.end() && az->second && !az->second->empty()) {
      t.availability_zone = *az->second;
    }
  }
  t.tags = spec.tags;
  t.created_at = now;
  for (const auto& def_in : td.doc["containerDefinitions"]) {
    Container c;
    c.definition = def_in;
    for (const auto& o : overrides.value("containerOverrides", json::array())) {
      if (o.value("name", "") == def_in.value("name", "")) {
        apply_container_override(c.definition, o);
      }
    }
    c.name = def_in.value("name", "");
    c.image = def_in.value("image", "");
    c.essential = def_in.value("essential", true);
    c.arn = ecs_arn::container(scope, t.cluster_name, t.id, ids::uuid4());
    c.stop_timeout_s = def_in.value("stopTimeout", 30);
    t.containers.push_back(std::move(c));
  }
  const std::string id = t.id;
  store.index_task(t);
  auto& region = store.region(scope);
  return region.tasks.emplace(id, std::move(t)).first->second;
}

}  // namespace berth::state
