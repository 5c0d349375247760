// Capacity providers: FARGATE and FARGATE_SPOT built in, Auto Scaling group and Managed Instances providers
// created by the caller, and the strategy rules every operation that takes a strategy shares.
//
// berth stores and describes providers as ECS does; nothing scales behind them (no Auto Scaling group, no
// managed instances). The README says so.
#include <algorithm>
#include <set>

#include <berth/services/paging.hpp>
#include "ecs_common.hpp"

namespace berth::services::ecs {
namespace {

constexpr std::size_t kMaxStrategyItems = 20;
constexpr int kMaxDescribeNames = 100;
constexpr int kMaxDescribeResults = 10;

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

bool valid_capacity_provider_name(const std::string& name) {
  if (name.empty() || name.size() > 255) {
    return false;
  }
  if (!std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
      })) {
    return false;
  }
  const std::string l = lower(name);
  return !l.starts_with("aws") && !l.starts_with("ecs") && !l.starts_with("fargate");
}

AwsError provider_does_not_exist() {
  return client_exception(
      "The specified capacity provider does not exist. Specify a valid name or ARN and try again.");
}

AwsError reserved_provider(const char* verb) {
  return client_exception(
      std::string("The FARGATE and FARGATE_SPOT capacity providers are reserved and can't be ") + verb + ".");
}

// A capacity provider reference (short name or ARN) -> name; nullopt for an ARN of something else.
std::optional<std::string> provider_name(const Scope& scope, const std::string& ref) {
  auto name = resource_name_from(ref, "ecs", "capacity-provider");
  if (name && ref.starts_with("arn:") && ref != ecs_arn::capacity_provider(scope, *name)) {
    return std::nullopt;
  }
  return name;
}

// ECS fills in the managed scaling values the caller left out.
json with_asg_defaults(json asg) {
  json scaling = asg.value("managedScaling", json::object());
  const json defaults = {{"status", "DISABLED"},
                         {"targetCapacity", 100},
                         {"minimumScalingStepSize", 1},
                         {"maximumScalingStepSize", 10000},
                         {"instanceWarmupPeriod", 300}};
  for (const auto& [key, value] : defaults.items()) {
    if (!scaling.contains(key)) {
      scaling[key] = value;
    }
  }
  asg["managedScaling"] = scaling;
  if (!asg.contains("managedTerminationProtection")) {
    asg["managedTerminationProtection"] = "DISABLED";
  }
  if (!asg.contains("managedDraining")) {
    asg["managedDraining"] = "ENABLED";
  }
  return asg;
}

json render_builtin(const Scope& scope, std::string_view name) {
  return {{"capacityProviderArn", ecs_arn::capacity_provider(scope, name)},
          {"name", std::string(name)},
          {"status", "ACTIVE"},
          {"tags", json::array()},
          {"type", std::string(name)}};
}

// The ACTIVE cluster (other than `except`) that has `provider` among its capacity providers, if any.
const state::Cluster* associated_cluster(const state::RegionState& region, std::string_view provider,
                                         std::string_view except = "") {
  for (const auto& [name, c] : region.clusters) {
    if (c.status != "ACTIVE" || name == except) {
      continue;
    }
    const auto& list = c.capacity_providers;
    if (std::find(list.begin(), list.end(), json(provider)) != list.end()) {
      return &c;
    }
  }
  return nullptr;
}

// Whether `cp` may be addressed through the (optional) `cluster` parameter of an operation: Managed Instances
// providers belong to one cluster and are reached only through it.
Result<Unit> check_provider_scope(state::RegionState& region, const Scope& scope, const json& in,
                                  const state::CapacityProvider& cp) {
  if (cp.cluster.empty()) {
    return Unit{};
  }
  if (!in.contains("cluster")) {
    return provider_does_not_exist();
  }
  auto cluster = resolve_cluster(region, scope, in);
  if (!cluster) {
    return cluster.error();
  }
  if ((*cluster)->name != cp.cluster) {
    return provider_does_not_exist();
  }
  return Unit{};
}

Result<json> create_capacity_provider(EcsContext& ctx, const protocol::Call& call) {
  const json& in = call.input;
  const Scope& scope = call.caller.scope;
  auto& region = ctx.store.region(scope);
  const std::string name = in.at("name").get<std::string>();
  if (!valid_capacity_provider_name(name)) {
    return client_exception(
        "The specified capacity provider name is invalid. Up to 255 characters are allowed, including "
        "letters "
        "(upper and lowercase), numbers, underscores, and hyphens. The name cannot be prefixed with \"aws\", "
        "\"ecs\", or \"fargate\". Specify a valid name and try again.");
  }
  if (const auto* existing = find_capacity_provider(region, name);
      existing && existing->status != "INACTIVE") {
    return client_exception(
        "The specified capacity provider already exists. To change the configuration of an existing capacity "
        "provider, update the capacity provider.");
  }
  const bool asg = in.contains("autoScalingGroupProvider");
  const bool managed = in.contains("managedInstancesProvider");
  if (asg == managed) {
    return invalid_parameter(
        "Specify exactly one of autoScalingGroupProvider or managedInstancesProvider for the capacity "
        "provider.");
  }
  if (auto error = check_tags(in.value("tags", json::array()))) {
    return *error;
  }

  state::CapacityProvider cp;
  cp.name = name;
  cp.arn = ecs_arn::capacity_provider(scope, name);
  cp.created_at = ctx.clock.now_ms();
  cp.tags = in.value("tags", json::array());
  state::Cluster* owner = nullptr;
  if (asg) {
    if (in.contains("cluster")) {
      return invalid_parameter(
          "The cluster parameter is only supported for Amazon ECS Managed Instances capacity providers.");
    }
    const json& provider = in["autoScalingGroupProvider"];
    const std::string group = provider.at("autoScalingGroupArn").get<std::string>();
    if (group.empty()) {
      return invalid_parameter("The Auto Scaling group ARN or name can't be empty.");
    }
    for (const auto& [other_name, other] : region.capacity_providers) {
      if (other.status != "INACTIVE" && other.auto_scaling_group_provider.is_object() &&
          other.auto_scaling_group_provider.value("autoScalingGroupArn", "") == group) {
        return client_exception(
            "The specified Auto Scaling group ARN is already being used by another capacity provider. "
            "Specify a "
            "unique Auto Scaling group ARN and try again.");
      }
    }
    cp.type = "EC2_AUTOSCALING";
    cp.auto_scaling_group_provider = with_asg_defaults(provider);
  } else {
    if (!in.contains("cluster")) {
      return invalid_parameter(
          "The cluster parameter is required for Amazon ECS Managed Instances capacity providers.");
    }
    auto cluster = resolve_cluster(region, scope, in);
    if (!cluster) {
      return cluster.error();
    }
    owner = *cluster;
    if (owner->capacity_providers.size() >= kMaxStrategyItems) {
      return invalid_parameter("The maximum number of capacity providers per cluster has been exceeded.");
    }
    cp.type = "MANAGED_INSTANCES";
    cp.cluster = owner->name;
    cp.managed_instances_provider = in["managedInstancesProvider"];
  }
  if (owner != nullptr) {
    // A Managed Instances provider is usable only in its cluster, and is associated with it from the start.
    owner->capacity_providers.push_back(name);
  }
  auto& stored = region.capacity_providers[name] = std::move(cp);
  return json{{"capacityProvider", render_capacity_provider(stored, true)}};
}

// Applies an UpdateCapacityProvider request to the provider documents: given members replace stored ones.
Result<Unit> apply_update(state::CapacityProvider& cp, const json& in) {
  const bool asg = in.contains("autoScalingGroupProvider");
  const bool managed = in.contains("managedInstancesProvider");
  if (!asg && !managed) {
    return invalid_parameter("Specify autoScalingGroupProvider or managedInstancesProvider to update.");
  }
  if ((asg && cp.type != "EC2_AUTOSCALING") || (managed && cp.type != "MANAGED_INSTANCES")) {
    return invalid_parameter("The update does not match the type of capacity provider " + cp.name + " (" +
                             cp.type + ").");
  }
  if (asg) {
    const json& update = in["autoScalingGroupProvider"];
    json& doc = cp.auto_scaling_group_provider;
    if (update.contains("managedScaling")) {
      for (const auto& [key, value] : update["managedScaling"].items()) {
        doc["managedScaling"][key] = value;
      }
    }
    for (const char* key : {"managedTerminationProtection", "managedDraining"}) {
      if (update.contains(key)) {
        doc[key] = update[key];
      }
    }
  } else {
    const json& update = in["managedInstancesProvider"];
    json& doc = cp.managed_instances_provider;
    for (const auto& [key, value] : update.items()) {
      if (key == "instanceLaunchTemplate" && doc.contains(key)) {
        for (const auto& [field, field_value] : value.items()) {
          doc[key][field] = field_value;
        }
      } else {
        doc[key] = value;
      }
    }
  }
  return Unit{};
}

Result<json> update_capacity_provider(EcsContext& ctx, const protocol::Call& call) {
  const json& in = call.input;
  const Scope& scope = call.caller.scope;
  auto& region = ctx.store.region(scope);
  auto name = provider_name(scope, in.at("name").get<std::string>());
  if (name && is_fargate_provider(*name)) {
    return reserved_provider("updated");
  }
  auto it = name ? region.capacity_providers.find(*name) : region.capacity_providers.end();
  if (it == region.capacity_providers.end() || it->second.status == "INACTIVE") {
    return provider_does_not_exist();
  }
  state::CapacityProvider& cp = it->second;
  if (auto scoped = check_provider_scope(region, scope, in, cp); !scoped) {
    return scoped.error();
  }
  state::CapacityProvider updated = cp;
  if (auto applied = apply_update(updated, in); !applied) {
    return applied.error();
  }
  // ECS answers with the provider as it was and the update under way; the change shows on the next describe.
  // berth has nothing to wait for, so the stored provider is already updated and complete.
  json out = render_capacity_provider(cp, true);
  out["updateStatus"] = "UPDATE_IN_PROGRESS";
  out.erase("updateStatusReason");
  updated.update_status = "UPDATE_COMPLETE";
  updated.update_status_reason.clear();
  cp = std::move(updated);
  return json{{"capacityProvider", out}};
}

Result<json> delete_capacity_provider(EcsContext& ctx, const protocol::Call& call) {
  const json& in = call.input;
  const Scope& scope = call.caller.scope;
  auto& region = ctx.store.region(scope);
  auto name = provider_name(scope, in.at("capacityProvider").get<std::string>());
  if (name && is_fargate_provider(*name)) {
    return reserved_provider("deleted");
  }
  auto it = name ? region.capacity_providers.find(*name) : region.capacity_providers.end();
  if (it == region.capacity_providers.end() || it->second.status == "INACTIVE") {
    return provider_does_not_exist();
  }
  state::CapacityProvider& cp = it->second;
  if (auto scoped = check_provider_scope(region, scope, in, cp); !scoped) {
    return scoped.error();
  }
  // ECS accepts the request and reports the failure on the provider itself.
  std::string failure;
  if (cp.cluster.empty()) {
    if (const auto* cluster = associated_cluster(region, cp.name)) {
      failure =
          "The capacity provider cannot be deleted because it is associated with cluster: " + cluster->name +
          ". Remove the capacity provider from the cluster and try again.";
    }
  }
  if (failure.empty() && capacity_provider_in_use(region, cp.cluster, cp.name)) {
    failure =
        "The capacity provider cannot be deleted because it is in use by a service or task. Remove it from "
        "every capacity provider strategy and try again.";
  }
  if (!failure.empty()) {
    cp.update_status = "DELETE_FAILED";
    cp.update_status_reason = failure;
    return json{{"capacityProvider", render_capacity_provider(cp, true)}};
  }
  // The answer shows the deletion under way (DEPROVISIONING); with nothing to tear down it is already done.
  json out = render_capacity_provider(cp, true);
  out["status"] = "DEPROVISIONING";
  out["updateStatus"] = "DELETE_IN_PROGRESS";
  out.erase("updateStatusReason");
  if (!cp.cluster.empty()) {
    if (auto owner = region.clusters.find(cp.cluster); owner != region.clusters.end()) {
      auto& list = owner->second.capacity_providers;
      list.erase(std::remove(list.begin(), list.end(), json(cp.name)), list.end());
      auto& strategy = owner->second.default_capacity_provider_strategy;
      strategy.erase(
          std::remove_if(strategy.begin(), strategy.end(),
                         [&](const json& item) { return item.value("capacityProvider", "") == cp.name; }),
          strategy.end());
    }
  }
  cp.status = "INACTIVE";
  cp.update_status = "DELETE_COMPLETE";
  cp.update_status_reason.clear();
  cp.tags = json::array();  // a deleted resource's tags go with it
  return json{{"capacityProvider", out}};
}

Result<json> describe_capacity_providers(EcsContext& ctx, const protocol::Call& call) {
  const json& in = call.input;
  const Scope& scope = call.caller.scope;
  auto& region = ctx.store.region(scope);
  const json names = in.value("capacityProviders", json::array());
  if (names.size() > static_cast<std::size_t>(kMaxDescribeNames)) {
    return invalid_parameter("capacityProviders can have at most 100 items.");
  }
  if (auto it = in.find("maxResults"); it != in.end() && (*it < 1 || *it > kMaxDescribeResults)) {
    return invalid_parameter("maxResults must be between 1 and 10.");
  }
  const json include = in.value("include", json::array());
  const bool with_tags = std::find(include.begin(), include.end(), json("TAGS")) != include.end();
  // With a cluster, only the providers associated with it (Managed Instances ones included) are visible.
  const state::Cluster* cluster = nullptr;
  if (in.contains("cluster")) {
    auto resolved = resolve_cluster(region, scope, in);
    if (!resolved) {
      return resolved.error();
    }
    cluster = *resolved;
  }
  auto visible = [&](std::string_view name) {
    if (cluster != nullptr) {
      const auto& list = cluster->capacity_providers;
      return std::find(list.begin(), list.end(), json(name)) != list.end();
    }
    const auto* cp = find_capacity_provider(region, name);
    return cp == nullptr || cp->cluster.empty();
  };
  auto render = [&](std::string_view name) -> std::optional<json> {
    if (!visible(name)) {
      return std::nullopt;
    }
    if (is_fargate_provider(name)) {
      return render_builtin(scope, name);
    }
    const auto* cp = find_capacity_provider(region, name);
    return cp == nullptr ? std::nullopt : std::optional<json>(render_capacity_provider(*cp, with_tags));
  };

  // Page keys keep the order ECS answers in: the caller's order when names are given, else created providers
  // (by name) before the built-in ones.
  std::map<std::string, json> by_key;
  json failures = json::array();
  if (!names.empty()) {
    int index = 0;
    for (const auto& ref_json : names) {
      const std::string ref = ref_json.get<std::string>();
      auto name = provider_name(scope, ref);
      std::optional<json> rendered = name ? render(*name) : std::nullopt;
      if (!rendered) {
        failures.push_back({{"arn", ref.starts_with("arn:") ? ref : ecs_arn::capacity_provider(scope, ref)},
                            {"reason", "MISSING"}});
        continue;
      }
      char key[16];
      std::snprintf(key, sizeof key, "%06d", index++);
      by_key.emplace(key, std::move(*rendered));
    }
  } else {
    for (const auto& [name, cp] : region.capacity_providers) {
      if (cp.status != "INACTIVE") {
        if (auto rendered = render(name)) {
          by_key.emplace("0" + name, std::move(*rendered));
        }
      }
    }
    for (std::string_view builtin : {kFargateProvider, kFargateSpotProvider}) {
      if (auto rendered = render(builtin)) {
        by_key.emplace("1" + std::string(builtin), std::move(*rendered));
      }
    }
  }
  std::vector<std::string> keys;
  for (const auto& [key, value] : by_key) {
    keys.push_back(key);
  }
  auto page = paginate_input(keys, in, kMaxDescribeResults);
  if (!page) {
    return page.error();
  }
  json providers = json::array();
  for (const auto& key : page->items) {
    providers.push_back(by_key[key]);
  }
  json out = {{"capacityProviders", providers},
              {"failures", in.contains("nextToken") ? json::array() : failures}};
  if (!page->next_token.empty()) {
    out["nextToken"] = page->next_token;
  }
  return out;
}

}  // namespace

bool is_fargate_provider(std::string_view name) {
  return name == kFargateProvider || name == kFargateSpotProvider;
}

const state::CapacityProvider* find_capacity_provider(const state::RegionState& region,
                                                      std::string_view name) {
  auto it = region.capacity_providers.find(name);
  return it == region.capacity_providers.end() ? nullptr : &it->second;
}

json render_capacity_provider(const state::CapacityProvider& cp, bool with_tags) {
  json out = {{"capacityProviderArn", cp.arn},
              {"name", cp.name},
              {"status", cp.status},
              {"tags", with_tags ? cp.tags : json::array()},
              {"type", cp.type}};
  if (!cp.cluster.empty()) {
    out["cluster"] = cp.cluster;
  }
  if (!cp.auto_scaling_group_provider.is_null()) {
    out["autoScalingGroupProvider"] = cp.auto_scaling_group_provider;
  }
  if (!cp.managed_instances_provider.is_null()) {
    out["managedInstancesProvider"] = cp.managed_instances_provider;
  }
  if (!cp.update_status.empty()) {
    out["updateStatus"] = cp.update_status;
  }
  if (!cp.update_status_reason.empty()) {
    out["updateStatusReason"] = cp.update_status_reason;
  }
  return out;
}

std::optional<AwsError> check_cluster_capacity_providers(const state::RegionState& region,
                                                         const json& providers, std::string_view cluster) {
  if (providers.size() > kMaxStrategyItems) {
    return invalid_parameter("The maximum number of capacity providers per cluster has been exceeded.");
  }
  for (const auto& p : providers) {
    const std::string name = p.get<std::string>();
    if (is_fargate_provider(name)) {
      continue;
    }
    const auto* cp = find_capacity_provider(region, name);
    if (cp == nullptr || cp->status == "INACTIVE" || (!cp->cluster.empty() && cp->cluster != cluster)) {
      return invalid_parameter(
          "The specified capacity provider was not found. Specify a valid capacity provider and "
          "try again.");
    }
    if (const auto* other = associated_cluster(region, name, cluster);
        other != nullptr && cp->cluster.empty()) {
      return invalid_parameter("The specified capacity provider " + name +
                               " is already associated with cluster " + other->name +
                               ". An Auto Scaling group capacity provider can be associated with one "
                               "cluster only.");
    }
  }
  return std::nullopt;
}

json normalize_capacity_provider_strategy(const json& strategy) {
  json out = json::array();
  for (const auto& item : strategy) {
    out.push_back({{"capacityProvider", item.value("capacityProvider", "")},
                   {"weight", item.value("weight", 0)},
                   {"base", item.value("base", 0)}});
  }
  return out;
}

std::optional<AwsError> check_capacity_provider_strategy(const json& associated, const json& strategy,
                                                         StrategyUse use) {
  if (strategy.size() > kMaxStrategyItems) {
    return invalid_parameter("A capacity provider strategy can contain a maximum of 20 capacity providers.");
  }
  std::set<std::string> seen;
  int with_base = 0;
  bool any_weight = false;
  bool any_fargate = false;
  bool any_other = false;
  for (const auto& item : strategy) {
    const std::string name = item.value("capacityProvider", "");
    if (std::find(associated.begin(), associated.end(), json(name)) == associated.end()) {
      return invalid_parameter(
          "The specified capacity provider strategy cannot contain a capacity provider that is not "
          "associated with "
          "the cluster. Associate the capacity provider with the cluster or specify a valid capacity "
          "provider and "
          "try again.");
    }
    if (!seen.insert(name).second) {
      return invalid_parameter("The capacity provider strategy cannot contain the capacity provider " + name +
                               " more than once.");
    }
    with_base += item.value("base", 0) > 0 ? 1 : 0;
    any_weight = any_weight || item.value("weight", 0) > 0;
    (is_fargate_provider(name) ? any_fargate : any_other) = true;
  }
  if (with_base > 1) {
    return invalid_parameter(
        "Only one capacity provider in a capacity provider strategy can have a base defined.");
  }
  if (any_fargate && any_other) {
    return invalid_parameter(
        "A capacity provider strategy cannot contain a mix of capacity providers using Auto Scaling groups "
        "and "
        "Fargate providers. Specify one or the other and try again.");
  }
  if (use == StrategyUse::kDefaultPlacement && !any_weight) {
    return invalid_parameter(
        "There are no capacity providers with a weight value greater than zero defined in the default "
        "capacity "
        "provider strategy. At least one capacity provider must have a weight value greater than zero "
        "specified. "
        "Update the cluster's default capacity provider strategy or specify a valid capacity provider "
        "strategy and "
        "try again.");
  }
  if (use == StrategyUse::kPlacement && !any_weight) {
    return invalid_parameter(
        "There are no capacity providers with a weight value greater than zero defined in the capacity "
        "provider "
        "strategy. At least one capacity provider must have a weight value greater than zero specified. "
        "Update the "
        "capacity provider strategy and try again.");
  }
  return std::nullopt;
}

void register_capacity_provider_handlers(protocol::HandlerTable& table, EcsContext& ctx) {
  table.add("ecs", "CreateCapacityProvider",
            [&ctx](const protocol::Call& c) { return create_capacity_provider(ctx, c); });
  table.add("ecs", "UpdateCapacityProvider",
            [&ctx](const protocol::Call& c) { return update_capacity_provider(ctx, c); });
  table.add("ecs", "DeleteCapacityProvider",
            [&ctx](const protocol::Call& c) { return delete_capacity_provider(ctx, c); });
  table.add("ecs", "DescribeCapacityProviders",
            [&ctx](const protocol::Call& c) { return describe_capacity_providers(ctx, c); });
}

}  // namespace berth::services::ecs
