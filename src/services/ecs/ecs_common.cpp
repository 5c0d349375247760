#include "ecs_common.hpp"

#include <berth/state/container_instances.hpp>

#include <algorithm>

namespace berth::services::ecs {

std::string string_or(const json& input, const char* key, std::string fallback) {
  auto it = input.find(key);
  if (it == input.end() || !it->is_string()) {
    return fallback;
  }
  return it->get<std::string>();
}

Result<state::Cluster*> resolve_cluster(state::RegionState& region, const Scope& scope, const json& input,
                                        const char* key) {
  std::string ref = string_or(input, key, "default");
  if (ref.empty()) {
    ref = "default";
  }
  auto name = resource_name_from(ref, "ecs", "cluster");
  if (!name) {
    return invalid_parameter("Invalid cluster identifier: " + ref);
  }
  if (ref.starts_with("arn:") && ref != ecs_arn::cluster(scope, *name)) {
    return AwsError::client("ClusterNotFoundException", "Cluster not found.");
  }
  auto it = region.clusters.find(*name);
  if (it == region.clusters.end()) {
    return AwsError::client("ClusterNotFoundException", "Cluster not found.");
  }
  if (it->second.status == "INACTIVE") {
    return AwsError::client("ClusterNotFoundException", "The referenced cluster was inactive.");
  }
  return &it->second;
}

state::TaskDefinition* find_task_definition(state::RegionState& region, const std::string& ref) {
  std::string family_rev = ref;
  if (ref.starts_with("arn:")) {
    auto parsed = parse_arn(ref);
    if (!parsed || parsed->service != "ecs" || !parsed->resource.starts_with("task-definition/")) {
      return nullptr;
    }
    family_rev = parsed->resource.substr(std::string("task-definition/").size());
  }
  std::string family = family_rev;
  int revision = 0;
  if (auto colon = family_rev.rfind(':'); colon != std::string::npos) {
    family = family_rev.substr(0, colon);
    const std::string rev = family_rev.substr(colon + 1);
    if (rev.empty() || rev.size() > 9 || !std::all_of(rev.begin(), rev.end(), ::isdigit)) {
      return nullptr;
    }
    revision = std::stoi(rev);
  }
  auto it = region.task_definitions.find(family);
  if (it == region.task_definitions.end() || it->second.empty()) {
    return nullptr;
  }
  auto& revisions = it->second;
  if (revision > 0) {
    if (revision > static_cast<int>(revisions.size()) || revisions[revision - 1].status == "DELETE_IN_PROGRESS") {
      return nullptr;
    }
    return &revisions[revision - 1];
  }
  for (auto rit = revisions.rbegin(); rit != revisions.rend(); ++rit) {
    if (rit->status == "ACTIVE") {
      return &*rit;
    }
  }
  return nullptr;
}

state::Task* find_task(state::RegionState& region, const state::Cluster& cluster, const std::string& ref) {
  std::string id = ref;
  if (ref.starts_with("arn:")) {
    auto parsed = parse_arn(ref);
    if (!parsed || parsed->service != "ecs" || !parsed->resource.starts_with("task/")) {
      return nullptr;
    }
    id = parsed->resource.substr(parsed->resource.rfind('/') + 1);
  }
  auto it = region.tasks.find(id);
  if (it == region.tasks.end() || it->second.cluster_name != cluster.name) {
    return nullptr;
  }
  if (ref.starts_with("arn:") && ref != it->second.arn) {
    return nullptr;
  }
  return &it->second;
}

// Facts that belong to services, container instances and capacity providers, asked by the cluster handlers.
int cluster_service_count(const state::RegionState& region, std::string_view cluster, std::string_view status,
                          std::string_view launch_type) {
  return static_cast<int>(std::count_if(region.services.begin(), region.services.end(), [&](const auto& kv) {
    const auto& svc = kv.second;
    return svc.cluster_name == cluster && svc.status == status &&
           (launch_type.empty() || svc.spec.launch_type == launch_type);
  }));
}

bool cluster_has_active_services(const state::RegionState& region, std::string_view cluster) {
  return cluster_service_count(region, cluster, "ACTIVE") + cluster_service_count(region, cluster, "DRAINING") > 0;
}

int cluster_container_instance_count(const state::RegionState& region, std::string_view cluster) {
  return state::container_instance_count(region, cluster);
}

bool capacity_provider_in_use(const state::RegionState& region, std::string_view cluster, std::string_view provider) {
  for (const auto& [id, t] : region.tasks) {
    if ((cluster.empty() || t.cluster_name == cluster) && t.capacity_provider_name == provider &&
        t.last_status != state::TaskStatus::kStopped) {
      return true;
    }
  }
  for (const auto& [key, svc] : region.services) {
    if ((!cluster.empty() && svc.cluster_name != cluster) || svc.status == "INACTIVE") {
      continue;
    }
    for (const auto& item : svc.spec.capacity_provider_strategy) {
      if (item.value("capacityProvider", "") == provider) {
        return true;
      }
    }
  }
  return false;
}

}  // namespace berth::services::ecs
