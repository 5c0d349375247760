#include <algorithm>

#include "ecs_common.hpp"
#include <berth/services/paging.hpp>

namespace berth::services::ecs {
namespace {

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

Result<json> create_cluster(EcsContext& ctx, const protocol::Call& call) {
  const json& in = call.input;
  const Scope& scope = call.caller.scope;
  std::string name = string_or(in, "clusterName", "default");
  if (!valid_cluster_name(name)) {
    return invalid_parameter(
        "Cluster name can have up to 255 characters: letters (upper and lower case), numbers, underscores and "
        "hyphens.");
  }
  if (in.contains("capacityProviders") || in.contains("defaultCapacityProviderStrategy")) {
    // Capacity providers arrive with their own issue; refuse rather than pretend to honour them.
    for (const auto& cp : in.value("capacityProviders", json::array())) {
      if (cp != "FARGATE" && cp != "FARGATE_SPOT") {
        return unsupported("berth does not support capacity provider " + cp.dump() + " yet.");
      }
    }
  }
  auto& region = ctx.store.region(scope);
  auto [it, inserted] = region.clusters.try_emplace(name);
  state::Cluster& c = it->second;
  // CreateCluster is idempotent: an ACTIVE cluster of that name is returned as it is.
  if (!inserted && c.status == "ACTIVE") {
    return json{{"cluster", render_cluster(c, region, json::array({"TAGS", "SETTINGS", "CONFIGURATIONS"}))}};
  }
  c = state::Cluster{};
  c.name = name;
  c.arn = ecs_arn::cluster(scope, name);
  c.status = "ACTIVE";
  c.created_at = ctx.clock.now_ms();
  c.settings = in.value("settings", json::array({{{"name", "containerInsights"}, {"value", "disabled"}}}));
  c.configuration = in.value("configuration", json());
  c.capacity_providers = in.value("capacityProviders", json::array());
  c.default_capacity_provider_strategy = in.value("defaultCapacityProviderStrategy", json::array());
  c.service_connect_defaults = in.value("serviceConnectDefaults", json());
  c.tags = in.value("tags", json::array());
  return json{{"cluster", render_cluster(c, region, json::array({"TAGS", "SETTINGS", "CONFIGURATIONS"}))}};
}

Result<json> describe_clusters(EcsContext& ctx, const protocol::Call& call) {
  const json& in = call.input;
  const Scope& scope = call.caller.scope;
  auto& region = ctx.store.region(scope);
  json refs = in.value("clusters", json::array({"default"}));
  if (refs.empty()) {
    refs = json::array({"default"});
  }
  json include = in.value("include", json::array());
  json clusters = json::array();
  json failures = json::array();
  for (const auto& ref_json : refs) {
    std::string ref = ref_json.get<std::string>();
    auto name = resource_name_from(ref, "ecs", "cluster");
    auto it = name ? region.clusters.find(*name) : region.clusters.end();
    if (it == region.clusters.end() || (ref.starts_with("arn:") && ref != it->second.arn)) {
      failures.push_back({{"arn", ref.starts_with("arn:") ? ref : ecs_arn::cluster(scope, ref)}, {"reason", "MISSING"}});
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

Result<json> delete_cluster(EcsContext& ctx, const protocol::Call& call) {
  auto& region = ctx.store.region(call.caller.scope);
  json in = call.input;
  auto cluster = resolve_cluster(region, call.caller.scope, in);
  if (!cluster) {
    return cluster.error();
  }
  state::Cluster& c = **cluster;
  if (std::any_of(region.container_instances.begin(), region.container_instances.end(), [&](const auto& kv) {
        return kv.second.cluster_name == c.name && kv.second.status != "INACTIVE";
      })) {
    return AwsError::client("ClusterContainsContainerInstancesException",
                            "The Cluster cannot be deleted while Container Instances are active or draining.");
  }
  if (has_active_tasks(region, c.name)) {
    return AwsError::client("ClusterContainsTasksException", "The Cluster cannot be deleted while Tasks are active.");
  }
  c.status = "INACTIVE";
  return json{{"cluster", render_cluster(c, region, json::array({"TAGS", "SETTINGS", "CONFIGURATIONS"}))}};
}

}  // namespace

void register_cluster_handlers(protocol::HandlerTable& table, EcsContext& ctx) {
  table.add("ecs", "CreateCluster", [&ctx](const protocol::Call& c) { return create_cluster(ctx, c); });
  table.add("ecs", "DescribeClusters", [&ctx](const protocol::Call& c) { return describe_clusters(ctx, c); });
  table.add("ecs", "ListClusters", [&ctx](const protocol::Call& c) { return list_clusters(ctx, c); });
  table.add("ecs", "DeleteCluster", [&ctx](const protocol::Call& c) { return delete_cluster(ctx, c); });
}

}  // namespace berth::services::ecs
