#include "service_support.hpp"

#include <algorithm>
#include <cmath>

#include <berth/common/ids.hpp>

namespace berth::services::ecs {
namespace {

bool contains_string(const json& list, std::string_view v) {
  return list.is_array() && std::any_of(list.begin(), list.end(), [&](const json& x) { return x == v; });
}

bool is_fargate_strategy(const json& cps) {
  return cps.is_array() && !cps.empty() && std::all_of(cps.begin(), cps.end(), [](const json& item) {
           const std::string p = item.value("capacityProvider", "");
           return p == "FARGATE" || p == "FARGATE_SPOT";
         });
}

bool is_fargate(const state::ServiceSpec& spec) {
  return spec.launch_type == "FARGATE" || (spec.launch_type.empty() && is_fargate_strategy(spec.capacity_provider_strategy));
}

// What launch type a task definition must be compatible with for this spec.
std::string required_compatibility(const state::ServiceSpec& spec) {
  if (is_fargate(spec)) {
    return "FARGATE";
  }
  return spec.launch_type.empty() ? "EC2" : spec.launch_type;
}

}  // namespace

std::string service_linked_role_arn(const Scope& scope) {
  return make_arn("iam", Scope{scope.account, ""}, "role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS");
}

std::optional<std::string> service_name_of(const std::string& ref) {
  return resource_name_from(ref, "ecs", "service");
}

state::Service* find_service(state::RegionState& region, const Scope& scope, const state::Cluster& cluster,
                             const std::string& ref) {
  auto name = service_name_of(ref);
  if (!name || name->empty()) {
    return nullptr;
  }
  auto it = region.services.find(state::service_key(cluster.name, *name));
  if (it == region.services.end()) {
    return nullptr;
  }
  if (ref.starts_with("arn:")) {
    // Long ARNs name the cluster; short (pre-2018) ones do not, but must still be this region and account.
    const std::string short_arn = make_arn("ecs", scope, "service/" + *name);
    if (ref != it->second.arn && ref != short_arn) {
      return nullptr;
    }
  }
  return &it->second;
}

Result<state::TaskDefinition*> usable_task_definition(state::RegionState& region, const std::string& ref) {
  if (ref.empty()) {
    return invalid_parameter("Family should not be null or empty.");
  }
  auto* td = find_task_definition(region, ref);
  if (td == nullptr) {
    return invalid_parameter("TaskDefinition not found.");
  }
  if (td->status != "ACTIVE") {
    return client_exception("TaskDefinition is inactive");
  }
  return td;
}

json normalized_network_configuration(json nc) {
  if (nc.is_object() && nc.contains("awsvpcConfiguration") && nc["awsvpcConfiguration"].is_object() &&
      !nc["awsvpcConfiguration"].contains("assignPublicIp")) {
    nc["awsvpcConfiguration"]["assignPublicIp"] = "DISABLED";
  }
  return nc;
}

Result<Unit> apply_placement(state::ServiceSpec& spec, const PlacementInput& in, const state::Cluster& cluster,
                             const state::TaskDefinition* td, bool creating) {
  const bool given_cps = in.capacity_provider_strategy && !in.capacity_provider_strategy->empty();
  if (creating) {
    if (in.launch_type && given_cps) {
      return invalid_parameter(
          "Specifying both a launch type and capacity provider strategy is not supported. Remove one and try again.");
    }
    json cps = json::array();
    if (given_cps) {
      cps = *in.capacity_provider_strategy;
    } else if (!in.launch_type) {
      // Neither given: the cluster's default strategy, and EC2 when it has none.
      cps = cluster.default_capacity_provider_strategy.is_array() ? cluster.default_capacity_provider_strategy
                                                                  : json::array();
    }
    spec.launch_type = in.launch_type ? *in.launch_type : (cps.empty() ? "EC2" : "");
    spec.capacity_provider_strategy = spec.launch_type.empty() ? cps : json::array();
  } else if (in.capacity_provider_strategy) {
    if (in.capacity_provider_strategy->empty()) {
      // An empty strategy moves the service back to a launch type.
      if (spec.launch_type.empty()) {
        spec.launch_type = is_fargate_strategy(spec.capacity_provider_strategy) ? "FARGATE" : "EC2";
      }
      spec.capacity_provider_strategy = json::array();
    } else {
      spec.launch_type.clear();
      spec.capacity_provider_strategy = *in.capacity_provider_strategy;
    }
  }
  for (const auto& item : spec.capacity_provider_strategy) {
    if (!contains_string(cluster.capacity_providers, item.value("capacityProvider", ""))) {
      return invalid_parameter(
          "The specified capacity provider strategy cannot contain a capacity provider that is not associated with "
          "the cluster. Associate the capacity provider with the cluster or specify a valid capacity provider and "
          "try again.");
    }
  }
  // What the service scheduler cannot run is refused now, rather than accepted and never started.
  if (spec.launch_type == "EXTERNAL" || spec.launch_type == "MANAGED_INSTANCES") {
    return unsupported("berth does not run service tasks with launch type " + spec.launch_type + " yet.");
  }
  for (const auto& item : spec.capacity_provider_strategy) {
    const std::string name = item.value("capacityProvider", "");
    if (!is_fargate_provider(name)) {
      return unsupported("berth does not run tasks on Auto Scaling group capacity provider " + name + " yet.");
    }
  }
  const bool fargate = is_fargate(spec);
  if (in.platform_version) {
    if (!fargate) {
      return invalid_parameter("The platform version must be null when specifying an " + required_compatibility(spec) +
                               " launch type.");
    }
    spec.platform_version = *in.platform_version;
  }
  if (fargate) {
    if (spec.platform_version.empty()) {
      spec.platform_version = "LATEST";
    }
    spec.platform_family = "Linux";
  } else {
    spec.platform_version.clear();
    spec.platform_family.clear();
  }
  if (in.network_configuration) {
    spec.network_configuration = normalized_network_configuration(*in.network_configuration);
  }
  if (td == nullptr) {
    return Unit{};
  }
  const std::string needed = required_compatibility(spec);
  if (!contains_string(td->doc.value("compatibilities", json::array()), needed)) {
    return invalid_parameter("Task definition does not support launch_type " + needed + ".");
  }
  const bool awsvpc = td->doc.value("networkMode", "bridge") == "awsvpc";
  const json& nc = spec.network_configuration;
  if (awsvpc && !(nc.is_object() && nc.contains("awsvpcConfiguration"))) {
    return invalid_parameter("Network Configuration must be provided when networkMode 'awsvpc' is specified.");
  }
  if (!awsvpc && !nc.is_null()) {
    return invalid_parameter("Network Configuration is not valid for the given networkMode of this task definition.");
  }
  return Unit{};
}

std::string resolved_platform_version(const state::ServiceSpec& spec) {
  return spec.platform_version == "LATEST" ? "1.4.0" : spec.platform_version;
}

void put_spec_placement(json& out, const state::ServiceSpec& spec, bool resolve_platform) {
  if (!spec.launch_type.empty()) {
    out["launchType"] = spec.launch_type;
  } else {
    out["capacityProviderStrategy"] = spec.capacity_provider_strategy;
  }
  if (!spec.platform_version.empty()) {
    out["platformVersion"] = resolve_platform ? resolved_platform_version(spec) : spec.platform_version;
  }
  if (!spec.platform_family.empty()) {
    out["platformFamily"] = spec.platform_family;
  }
  if (!spec.network_configuration.is_null()) {
    out["networkConfiguration"] = spec.network_configuration;
  }
}

namespace {

json render_deployment(const state::RegionState& region, const state::Service& svc, const state::Deployment& d) {
  const state::TaskCounts counts = state::service_task_counts(region, svc.cluster_name, svc.name, d.id);
  json out = {{"id", d.id},
              {"status", d.status},
              {"taskDefinition", d.spec.task_definition_arn},
              {"desiredCount", d.desired_count},
              {"pendingCount", counts.pending},
              {"runningCount", counts.running},
              {"failedTasks", d.failed_tasks},
              {"createdAt", to_epoch_seconds(d.created_at)},
              {"updatedAt", to_epoch_seconds(d.updated_at)}};
  put_spec_placement(out, d.spec, true);
  // ECS reports no rollout state for services behind a Classic Load Balancer.
  const bool classic_lb = std::any_of(d.spec.load_balancers.begin(), d.spec.load_balancers.end(),
                                      [](const json& lb) { return lb.contains("loadBalancerName"); });
  if (!classic_lb) {
    out["rolloutState"] = d.rollout_state;
    out["rolloutStateReason"] = d.rollout_state_reason;
  }
  if (!d.spec.service_connect_configuration.is_null()) {
    out["serviceConnectConfiguration"] = d.spec.service_connect_configuration;
  }
  if (!d.spec.volume_configurations.is_null()) {
    out["volumeConfigurations"] = d.spec.volume_configurations;
  }
  if (!d.spec.vpc_lattice_configurations.is_null()) {
    out["vpcLatticeConfigurations"] = d.spec.vpc_lattice_configurations;
  }
  return out;
}

}  // namespace

json render_task_set(const state::RegionState& region, const state::Service& svc, const state::TaskSet& ts,
                     bool with_tags) {
  const state::TaskCounts counts = state::service_task_counts(region, svc.cluster_name, svc.name, ts.id);
  json out = {{"id", ts.id},
              {"taskSetArn", ts.arn},
              {"serviceArn", svc.arn},
              {"clusterArn", svc.cluster_arn},
              {"status", ts.status},
              {"taskDefinition", ts.spec.task_definition_arn},
              {"computedDesiredCount", state::computed_desired_count(svc, ts)},
              {"pendingCount", counts.pending},
              {"runningCount", counts.running},
              {"createdAt", to_epoch_seconds(ts.created_at)},
              {"updatedAt", to_epoch_seconds(ts.updated_at)},
              {"loadBalancers", ts.spec.load_balancers},
              {"serviceRegistries", ts.spec.service_registries},
              {"scale", {{"value", ts.scale_value}, {"unit", ts.scale_unit}}},
              {"stabilityStatus", ts.stability_status},
              {"stabilityStatusAt", to_epoch_seconds(ts.stability_status_at)}};
  if (!ts.started_by.empty()) {
    out["startedBy"] = ts.started_by;
  }
  if (!ts.external_id.empty()) {
    out["externalId"] = ts.external_id;
  }
  put_spec_placement(out, ts.spec, true);
  if (with_tags) {
    out["tags"] = ts.tags;
  }
  return out;
}

json render_service(const state::RegionState& region, const state::Service& svc, bool with_tags) {
  const state::TaskCounts counts = state::service_task_counts(region, svc.cluster_name, svc.name);
  json out = {{"serviceArn", svc.arn},
              {"serviceName", svc.name},
              {"clusterArn", svc.cluster_arn},
              {"loadBalancers", svc.spec.load_balancers},
              {"serviceRegistries", svc.spec.service_registries},
              {"status", svc.status},
              {"desiredCount", svc.desired_count},
              {"runningCount", counts.running},
              {"pendingCount", counts.pending}};
  put_spec_placement(out, svc.spec, false);
  out.erase("networkConfiguration");  // placed below, where ECS puts it
  if (!svc.spec.task_definition_arn.empty()) {
    out["taskDefinition"] = svc.spec.task_definition_arn;
  }
  out["deploymentConfiguration"] = svc.deployment_configuration;
  if (svc.deployment_controller != "ECS") {
    json task_sets = json::array();
    for (const auto& ts : svc.task_sets) {
      task_sets.push_back(render_task_set(region, svc, ts, false));
    }
    out["taskSets"] = task_sets;
  }
  json deployments = json::array();
  json revisions = json::array();
  for (const auto& d : svc.deployments) {
    deployments.push_back(render_deployment(region, svc, d));
    const state::TaskCounts c = state::service_task_counts(region, svc.cluster_name, svc.name, d.id);
    revisions.push_back({{"arn", d.service_revision_arn},
                         {"requestedTaskCount", d.desired_count},
                         {"runningTaskCount", c.running},
                         {"pendingTaskCount", c.pending}});
  }
  out["deployments"] = deployments;
  if (!svc.role_arn.empty()) {
    out["roleArn"] = svc.role_arn;
  }
  json events = json::array();
  for (const auto& e : svc.events) {
    events.push_back({{"id", e.id}, {"createdAt", to_epoch_seconds(e.created_at)}, {"message", e.message}});
  }
  out["events"] = events;
  out["createdAt"] = to_epoch_seconds(svc.created_at);
  if (!svc.deployments.empty()) {
    out["currentServiceDeployment"] = svc.deployments.front().service_deployment_arn;
    out["currentServiceRevisions"] = revisions;
  }
  out["placementConstraints"] = svc.placement_constraints;
  out["placementStrategy"] = svc.placement_strategy;
  if (!svc.spec.network_configuration.is_null()) {
    out["networkConfiguration"] = svc.spec.network_configuration;
  }
  out["healthCheckGracePeriodSeconds"] = svc.health_check_grace_period_seconds;
  out["schedulingStrategy"] = svc.scheduling_strategy;
  out["deploymentController"] = {{"type", svc.deployment_controller}};
  if (with_tags) {
    out["tags"] = svc.tags;
  }
  out["createdBy"] = svc.created_by;
  out["enableECSManagedTags"] = svc.enable_ecs_managed_tags;
  out["propagateTags"] = svc.propagate_tags;
  out["enableExecuteCommand"] = svc.enable_execute_command;
  out["availabilityZoneRebalancing"] = svc.availability_zone_rebalancing;
  out["resourceManagementType"] = "CUSTOMER";
  return out;
}


}  // namespace berth::services::ecs
