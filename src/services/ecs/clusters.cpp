// Clusters: CreateCluster, DescribeClusters, ListClusters, UpdateCluster, UpdateClusterSettings,
// PutClusterCapacityProviders and DeleteCluster.
#include <algorithm>

#include <berth/services/paging.hpp>
#include "ecs_common.hpp"

namespace berth::services::ecs {
namespace {

constexpr std::size_t kMaxDescribeClusters = 100;

const json kFullView = json::array({"TAGS", "SETTINGS", "CONFIGURATIONS"});

bool valid_cluster_name(const std::string& name) {
  return !name.empty() && name.size() <= 255 && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

bool has_active_tasks(const state::RegionState& region, const std::string& cluster) {
  return std::any_of(region.tasks.begin(), region.tasks.end(), [&](const auto& kv) {
    return kv.second.cluster_name == cluster && kv.second.last_status != state::TaskStatus::kStopped;
  });
}

// Cluster settings: today only containerInsights, whose values the model leaves open.
std::optional<AwsError> check_settings(const json& settings) {
  for (const auto& s : settings) {
    if (!s.contains("name") || !s.contains("value")) {
      return invalid_parameter("A cluster setting needs both a name and a value.");
    }
    const std::string value = s.value("value", "");
    if (value != "enabled" && value != "disabled" && value != "enhanced") {
      return invalid_parameter("The value '" + value + "' is not valid for the cluster setting " +
                               s.value("name", "") + ". Valid values: enabled, disabled, enhanced.");
    }
  }
  return std::nullopt;
}

// `settings` merged into `base` by name (a later setting of a name replaces an earlier one).
json merge_settings(json base, const json& settings) {
  for (const auto& s : settings) {
    auto it = std::find_if(base.begin(), base.end(),
                           [&](const json& b) { return b.value("name", "") == s.value("name", ""); });
    if (it != base.end()) {
      *it = s;
    } else {
      base.push_back(s);
    }
  }
  return base;
}

std::optional<AwsError> check_configuration(const json& configuration) {
  const json exec = configuration.value("executeCommandConfiguration", json::object());
  if (exec.value("logging", "DEFAULT") == "OVERRIDE" && !exec.contains("logConfiguration")) {
    return invalid_parameter(
        "executeCommandConfiguration.logConfiguration is required when executeCommandConfiguration.logging "
        "is "
        "OVERRIDE.");
  }
  return std::nullopt;
}

// The providers a cluster ends up with after PutClusterCapacityProviders: the ones given, plus its Managed
// Instances providers, which belong to it until they are deleted and cannot be detached.
json with_cluster_scoped(const state::RegionState& region, const state::Cluster& c, json providers) {
  for (const auto& existing : c.capacity_providers) {
    const auto* cp = find_capacity_provider(region, existing.get<std::string>());
    if (cp != nullptr && cp->cluster == c.name &&
        std::find(providers.begin(), providers.end(), existing) == providers.end()) {
      providers.push_back(existing);
    }
  }
  return providers;
}

Result<json> create_cluster(EcsContext& ctx, const protocol::Call& call) {
  const json& in = call.input;
  const Scope& scope = call.caller.scope;
  auto& region = ctx.store.region(scope);
  std::string name = string_or(in, "clusterName", "default");
  if (!valid_cluster_name(name)) {
    return invalid_parameter(
        "Cluster name can have up to 255 characters: letters (upper and lower case), numbers, underscores "
        "and "
        "hyphens.");
  }
  const json tags = in.value("tags", json::array());
  if (auto error = check_tags(tags)) {
    return *error;
  }
  const json given_settings = in.value("settings", json::array());
  if (auto error = check_settings(given_settings)) {
    return *error;
  }
  // Without a containerInsights setting, the cluster takes the account's (PutAccountSetting[Default]).
  json settings = merge_settings(
      json::array({{{"name", "containerInsights"},
                    {"value", effective_account_setting(region, scope, "containerInsights")}}}),
      given_settings);
  const json configuration = in.value("configuration", json());
  if (!configuration.is_null()) {
    if (auto error = check_configuration(configuration)) {
      return *error;
    }
  }
  const json providers = in.value("capacityProviders", json::array());
  if (auto error = check_cluster_capacity_providers(region, providers, name)) {
    return *error;
  }
  const json strategy =
      normalize_capacity_provider_strategy(in.value("defaultCapacityProviderStrategy", json::array()));
  if (auto error = check_capacity_provider_strategy(providers, strategy, StrategyUse::kClusterDefault)) {
    return *error;
  }
  json service_connect;
  if (in.contains("serviceConnectDefaults") && !in["serviceConnectDefaults"].value("namespace", "").empty()) {
    service_connect = {{"namespace", in["serviceConnectDefaults"].value("namespace", "")}};
  }

  auto [it, inserted] = region.clusters.try_emplace(name);
  state::Cluster& c = it->second;
  // CreateCluster is idempotent: an ACTIVE cluster of that name is returned as it is, provided the request
  // asks for nothing different from what it has.
  if (!inserted && c.status == "ACTIVE") {
    const bool consistent =
        (!in.contains("tags") || tags == c.tags) && (!in.contains("settings") || settings == c.settings) &&
        (!in.contains("configuration") || configuration == c.configuration) &&
        (!in.contains("capacityProviders") ||
         with_cluster_scoped(region, c, providers) == c.capacity_providers) &&
        (!in.contains("defaultCapacityProviderStrategy") ||
         strategy == c.default_capacity_provider_strategy) &&
        (!in.contains("serviceConnectDefaults") || service_connect == c.service_connect_defaults);
    if (!consistent) {
      return invalid_parameter(
          "Arguments on this idempotent request are inconsistent with arguments used in previous "
          "request(s).");
    }
    return json{{"cluster", render_cluster(c, region, kFullView)}};
  }
  c = state::Cluster{};
  c.name = name;
  c.arn = ecs_arn::cluster(scope, name);
  c.status = "ACTIVE";
  c.created_at = ctx.clock.now_ms();
  c.settings = settings;
  c.configuration = configuration;
  c.capacity_providers = providers;
  c.default_capacity_provider_strategy = strategy;
  c.service_connect_defaults = service_connect;
  c.tags = tags;
  return json{{"cluster", render_cluster(c, region, kFullView)}};
}

Result<json> describe_clusters(EcsContext& ctx, const protocol::Call& call) {
  const json& in = call.input;
  const Scope& scope = call.caller.scope;
  auto& region = ctx.store.region(scope);
  json refs = in.value("clusters", json::array({"default"}));
  if (refs.empty()) {
    refs = json::array({"default"});
  }
  if (refs.size() > kMaxDescribeClusters) {
    return invalid_parameter("clusters can have at most 100 items.");
  }
  json include = in.value("include", json::array());
  json clusters = json::array();
  json failures = json::array();
  for (const auto& ref_json : refs) {
    std::string ref = ref_json.get<std::string>();
    auto name = resource_name_from(ref, "ecs", "cluster");
    auto it = name ? region.clusters.find(*name) : region.clusters.end();
    if (it == region.clusters.end() || (ref.starts_with("arn:") && ref != it->second.arn)) {
      failures.push_back(
          {{"arn", ref.starts_with("arn:") ? ref : ecs_arn::cluster(scope, ref)}, {"reason", "MISSING"}});
      continue;
    }
    clusters.push_back(render_cluster(it->second, region, include));
  }
  return json{{"clusters", clusters}, {"failures", failures}};
}

Result<json> list_clusters(EcsContext& ctx, const protocol::Call& call) {
  auto& region = ctx.store.region(call.caller.scope);
  std::vector<std::string> arns;
  for (const auto& [name, c] : region.clusters) {
    if (c.status != "INACTIVE") {
      arns.push_back(c.arn);
    }
  }
  std::sort(arns.begin(), arns.end());
  auto page = paginate_input(arns, call.input, 100);
  if (!page) {
    return page.error();
  }
  json out = {{"clusterArns", page->items}};
  if (!page->next_token.empty()) {
    out["nextToken"] = page->next_token;
  }
  return out;
}

Result<json> update_cluster(EcsContext& ctx, const protocol::Call& call) {
  const json& in = call.input;
  auto& region = ctx.store.region(call.caller.scope);
  auto cluster = resolve_cluster(region, call.caller.scope, in);
  if (!cluster) {
    return cluster.error();
  }
  state::Cluster& c = **cluster;
  const json settings = in.value("settings", json::array());
  if (auto error = check_settings(settings)) {
    return *error;
  }
  json configuration = c.configuration.is_null() ? json::object() : c.configuration;
  if (in.contains("configuration")) {
    // Each part of the configuration that is given replaces the stored one.
    for (const auto& [key, value] : in["configuration"].items()) {
      configuration[key] = value;
    }
    if (auto error = check_configuration(configuration)) {
      return *error;
    }
  }
  c.settings = merge_settings(c.settings, settings);
  if (in.contains("configuration")) {
    c.configuration = configuration;
  }
  if (in.contains("serviceConnectDefaults")) {
    // An empty namespace removes the cluster's Service Connect default.
    const std::string ns = in["serviceConnectDefaults"].value("namespace", "");
    c.service_connect_defaults = ns.empty() ? json() : json{{"namespace", ns}};
  }
  return json{{"cluster", render_cluster(c, region, kFullView)}};
}

Result<json> update_cluster_settings(EcsContext& ctx, const protocol::Call& call) {
  const json& in = call.input;
  auto& region = ctx.store.region(call.caller.scope);
  auto cluster = resolve_cluster(region, call.caller.scope, in);
  if (!cluster) {
    return cluster.error();
  }
  if (auto error = check_settings(in.at("settings"))) {
    return *error;
  }
  (*cluster)->settings = merge_settings((*cluster)->settings, in.at("settings"));
  return json{{"cluster", render_cluster(**cluster, region, kFullView)}};
}

Result<json> put_cluster_capacity_providers(EcsContext& ctx, const protocol::Call& call) {
  const json& in = call.input;
  auto& region = ctx.store.region(call.caller.scope);
  auto cluster = resolve_cluster(region, call.caller.scope, in);
  if (!cluster) {
    return cluster.error();
  }
  state::Cluster& c = **cluster;
  const json providers = with_cluster_scoped(region, c, in.at("capacityProviders"));
  if (auto error = check_cluster_capacity_providers(region, providers, c.name)) {
    return *error;
  }
  const json strategy = normalize_capacity_provider_strategy(in.at("defaultCapacityProviderStrategy"));
  if (auto error = check_capacity_provider_strategy(providers, strategy, StrategyUse::kClusterDefault)) {
    return *error;
  }
  for (const auto& old : c.capacity_providers) {
    if (std::find(providers.begin(), providers.end(), old) == providers.end() &&
        capacity_provider_in_use(region, c.name, old.get<std::string>())) {
      return AwsError::client("ResourceInUseException",
                              "The specified capacity provider is in use and cannot be removed.");
    }
  }
  c.capacity_providers = providers;
  c.default_capacity_provider_strategy = strategy;
  return json{{"cluster", render_cluster(c, region, kFullView)}};
}

Result<json> delete_cluster(EcsContext& ctx, const protocol::Call& call) {
  auto& region = ctx.store.region(call.caller.scope);
  auto cluster = resolve_cluster(region, call.caller.scope, call.input);
  if (!cluster) {
    return cluster.error();
  }
  state::Cluster& c = **cluster;
  if (cluster_container_instance_count(region, c.name) > 0) {
    return AwsError::client("ClusterContainsContainerInstancesException",
                            "The Cluster cannot be deleted while Container Instances are active or draining.");
  }
  if (cluster_has_active_services(region, c.name)) {
    return AwsError::client("ClusterContainsServicesException",
                            "The Cluster cannot be deleted while Services are active.");
  }
  if (has_active_tasks(region, c.name)) {
    return AwsError::client("ClusterContainsTasksException",
                            "The Cluster cannot be deleted while Tasks are active.");
  }
  const bool scoped_providers = std::any_of(
      region.capacity_providers.begin(), region.capacity_providers.end(),
      [&](const auto& kv) { return kv.second.cluster == c.name && kv.second.status != "INACTIVE"; });
  if (scoped_providers) {
    return client_exception(
        "The Cluster cannot be deleted while Cluster Scoped Capacity Providers are attached to "
        "the cluster.");
  }
  // Deleting a cluster detaches its capacity providers (they may join another cluster) and drops its tags.
  c.status = "INACTIVE";
  c.capacity_providers = json::array();
  c.default_capacity_provider_strategy = json::array();
  c.tags = json::array();
  return json{{"cluster", render_cluster(c, region, kFullView)}};
}

}  // namespace

void register_cluster_handlers(protocol::HandlerTable& table, EcsContext& ctx) {
  table.add("ecs", "CreateCluster",
            [&ctx](const protocol::Call& c) { return create_cluster(ctx, c); });
  table.add("ecs", "DescribeClusters",
            [&ctx](const protocol::Call& c) { return describe_clusters(ctx, c); });
  table.add("ecs", "ListClusters",
            [&ctx](const protocol::Call& c) { return list_clusters(ctx, c); });
  table.add("ecs", "UpdateCluster",
            [&ctx](const protocol::Call& c) { return update_cluster(ctx, c); });
  table.add("ecs", "UpdateClusterSettings",
            [&ctx](const protocol::Call& c) { return update_cluster_settings(ctx, c); });
  table.add("ecs", "PutClusterCapacityProviders", [&ctx](const protocol::Call& c) {
    return put_cluster_capacity_providers(ctx, c);
  });
  table.add("ecs", "DeleteCluster",
            [&ctx](const protocol::Call& c) { return delete_cluster(ctx, c); });
}

}  // namespace berth::services::ecs
