// CreateService, DescribeServices, ListServices, UpdateService, DeleteService, ListServicesByNamespace.
//
// These handlers change a service's desired state and tell the service scheduler (scheduler/service_scheduler),
// which starts and stops its tasks. Counts come from the tasks whose group is "service:<name>".
#include <algorithm>

#include <berth/common/ids.hpp>
#include <berth/scheduler/placement.hpp>
#include <berth/services/paging.hpp>
#include "service_support.hpp"

namespace berth::services::ecs {
namespace {

constexpr int kMaxDescribeServices = 10;

bool valid_service_name(const std::string& name) {
  return !name.empty() && name.size() <= 255 && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

template <typename T>
std::optional<T> optional_member(const json& in, const char* key) {
  auto it = in.find(key);
  if (it == in.end() || it->is_null()) {
    return std::nullopt;
  }
  return it->get<T>();
}

PlacementInput placement_input(const json& in) {
  PlacementInput p;
  p.launch_type = optional_member<std::string>(in, "launchType");
  p.capacity_provider_strategy = optional_member<json>(in, "capacityProviderStrategy");
  p.platform_version = optional_member<std::string>(in, "platformVersion");
  p.network_configuration = optional_member<json>(in, "networkConfiguration");
  return p;
}

// Defaults ECS fills into deploymentConfiguration. DAEMON services default to 100/0.
json deployment_configuration_with_defaults(json dc, const std::string& scheduling,
                                            const std::string& controller) {
  if (!dc.is_object()) {
    dc = json::object();
  }
  const bool daemon = scheduling == "DAEMON";
  if (controller == "ECS" && !dc.contains("deploymentCircuitBreaker")) {
    dc["deploymentCircuitBreaker"] = {{"enable", false}, {"rollback", false}};
  }
  if (!dc.contains("maximumPercent")) {
    dc["maximumPercent"] = daemon ? 100 : 200;
  }
  if (!dc.contains("minimumHealthyPercent")) {
    dc["minimumHealthyPercent"] = daemon ? 0 : 100;
  }
  if (controller == "ECS") {
    if (!dc.contains("strategy")) {
      dc["strategy"] = "ROLLING";
    }
    if (!dc.contains("bakeTimeInMinutes")) {
      dc["bakeTimeInMinutes"] = 0;
    }
  }
  return dc;
}

Result<Unit> check_deployment_configuration(const json& dc) {
  const int max = dc.value("maximumPercent", 200);
  const int min = dc.value("minimumHealthyPercent", 100);
  if (min < 0 || min > 100) {
    return invalid_parameter("minimumHealthyPercent must be between 0 and 100.");
  }
  if (max < min) {
    return invalid_parameter("maximumPercent must be greater than or equal to minimumHealthyPercent.");
  }
  return Unit{};
}

// Service Connect without a namespace uses the cluster's default namespace.
json service_connect_with_default(json sc, const state::Cluster& cluster) {
  if (sc.is_object() && sc.value("enabled", false) && !sc.contains("namespace") &&
      cluster.service_connect_defaults.is_object() &&
      cluster.service_connect_defaults.contains("namespace")) {
    sc["namespace"] = cluster.service_connect_defaults["namespace"];
  }
  return sc;
}

std::string role_arn_for(const Scope& scope, const std::string& role) {
  if (role.starts_with("arn:")) {
    return role;
  }
  // A role with a path is given as "/path/name".
  return make_arn("iam", Scope{scope.account, ""}, "role/" + (role.starts_with("/") ? role.substr(1) : role));
}

Result<json> create_service(EcsContext& ctx, const protocol::Call& call) {
  const json& in = call.input;
  const Scope& scope = call.caller.scope;
  auto& region = ctx.store.region(scope);
  auto cluster_r = resolve_cluster(region, scope, in);
  if (!cluster_r) {
    return cluster_r.error();
  }
  const state::Cluster& cluster = **cluster_r;
  const std::string name = in["serviceName"].get<std::string>();
  if (!valid_service_name(name)) {
    return invalid_parameter(
        "Service name can have up to 255 characters: letters (upper and lower case), numbers, underscores "
        "and "
        "hyphens.");
  }
  const std::string client_token = string_or(in, "clientToken", "");
  const std::string key = state::service_key(cluster.name, name);
  if (auto it = region.services.find(key); it != region.services.end() && it->second.status != "INACTIVE") {
    // A retry with the same client token and the same request returns the service it created.
    const state::Service& existing = it->second;
    if (existing.status == "ACTIVE" && !client_token.empty() && client_token == existing.client_token &&
        in == existing.create_request) {
      return json{{"service", render_service(region, existing, !existing.tags.empty())}};
    }
    return invalid_parameter("Creation of service was not idempotent.");
  }

  const std::string scheduling = in.value("schedulingStrategy", "REPLICA");
  const std::string controller =
      in.contains("deploymentController") ? in["deploymentController"]["type"].get<std::string>() : "ECS";
  int desired = 0;
  if (scheduling == "DAEMON") {
    if (in.contains("desiredCount")) {
      return invalid_parameter(
          "The daemon scheduling strategy does not support a desired count for services. Remove the desired "
          "count "
          "value and try again");
    }
    if (!in.value("placementStrategy", json::array()).empty()) {
      return invalid_parameter(
          "The daemon scheduling strategy does not support placement strategies. Remove the placement "
          "strategy and "
          "try again");
    }
    if (controller != "ECS") {
      return invalid_parameter(
          "The daemon scheduling strategy is only supported with the ECS deployment controller.");
    }
    const bool explicit_cps = !in.value("capacityProviderStrategy", json::array()).empty();
    const bool default_cps = !in.contains("launchType") &&
                             cluster.default_capacity_provider_strategy.is_array() &&
                             !cluster.default_capacity_provider_strategy.empty();
    if (explicit_cps || default_cps) {
      return invalid_parameter(
          "Specifying a capacity provider strategy is not supported when you create a service using the "
          "DAEMON "
          "scheduling strategy.");
    }
    if (in.value("launchType", "") == "FARGATE") {
      return invalid_parameter("The daemon scheduling strategy does not support the FARGATE launch type.");
    }
  } else {
    if (!in.contains("desiredCount")) {
      return invalid_parameter(
          "The desired count must be specified for services with the REPLICA scheduling strategy.");
    }
    desired = in["desiredCount"].get<int>();
    if (desired < 0) {
      return invalid_parameter("The desired count must be greater than or equal to 0.");
    }
  }

  state::TaskDefinition* td = nullptr;
  if (in.contains("taskDefinition")) {
    const std::string ref = in["taskDefinition"].get<std::string>();
    if (ref.empty()) {
      return invalid_parameter("Family should not be null or empty.");
    }
    if (controller == "EXTERNAL") {
      // EXTERNAL services run what their task sets say.
      return invalid_parameter("TaskDefinition must be blank.");
    }
    auto found = usable_task_definition(region, ref);
    if (!found) {
      return found.error();
    }
    td = *found;
  } else if (controller != "EXTERNAL") {
    return invalid_parameter("A task definition must be specified for services that use the " + controller +
                             " deployment controller.");
  }

  state::Service svc;
  svc.name = name;
  svc.arn = ecs_arn::service(scope, cluster.name, name);
  svc.cluster_name = cluster.name;
  svc.cluster_arn = cluster.arn;
  svc.status = "ACTIVE";
  svc.desired_count = desired;
  svc.scheduling_strategy = scheduling;
  svc.deployment_controller = controller;
  if (td != nullptr) {
    svc.spec.task_definition_arn = td->arn;
  }
  if (auto placed = apply_placement(svc.spec, placement_input(in), cluster, td, true); !placed) {
    return placed.error();
  }
  svc.spec.load_balancers = in.value("loadBalancers", json::array());
  svc.spec.service_registries = in.value("serviceRegistries", json::array());
  svc.spec.service_connect_configuration =
      service_connect_with_default(in.value("serviceConnectConfiguration", json()), cluster);
  svc.spec.volume_configurations = in.value("volumeConfigurations", json());
  svc.spec.vpc_lattice_configurations = in.value("vpcLatticeConfigurations", json());

  const bool awsvpc = td != nullptr && td->doc.value("networkMode", "bridge") == "awsvpc";
  const bool needs_service_linked_role =
      awsvpc || !svc.spec.service_registries.empty() || controller == "EXTERNAL";
  if (in.contains("role")) {
    if (needs_service_linked_role) {
      return invalid_parameter(
          "You cannot specify an IAM role for services that require a service linked role.");
    }
    svc.role_arn = role_arn_for(scope, in["role"].get<std::string>());
  } else if (needs_service_linked_role || !svc.spec.load_balancers.empty()) {
    svc.role_arn = service_linked_role_arn(scope);
  }

  svc.deployment_configuration = deployment_configuration_with_defaults(
      in.value("deploymentConfiguration", json::object()), scheduling, controller);
  if (auto ok = check_deployment_configuration(svc.deployment_configuration); !ok) {
    return ok.error();
  }
  svc.placement_constraints = in.value("placementConstraints", json::array());
  svc.placement_strategy = in.value("placementStrategy", json::array());
  if (auto error = scheduler::check_placement(svc.placement_constraints, svc.placement_strategy, td)) {
    return *error;
  }
  svc.health_check_grace_period_seconds = in.value("healthCheckGracePeriodSeconds", 0);
  svc.propagate_tags = in.value("propagateTags", "NONE");
  svc.enable_ecs_managed_tags = in.value("enableECSManagedTags", false);
  svc.enable_execute_command = in.value("enableExecuteCommand", false);
  svc.availability_zone_rebalancing = in.value("availabilityZoneRebalancing", "ENABLED");
  svc.created_by = make_arn("iam", Scope{scope.account, ""}, "root");
  svc.created_at = ctx.clock.now_ms();
  svc.tags = in.value("tags", json::array());
  svc.client_token = client_token;
  svc.create_request = in;

  const TimeMs now = svc.created_at;
  if (controller == "ECS") {
    state::start_deployment(region, scope, svc, now);
  } else if (controller == "CODE_DEPLOY") {
    // A blue/green service starts with one PRIMARY task set running its task definition at full scale.
    state::TaskSet ts;
    ts.id = "ecs-svc/" + ids::digits(19);
    ts.arn = ecs_arn::task_set(scope, cluster.name, name, ts.id);
    ts.status = "PRIMARY";
    ts.spec = svc.spec;
    ts.scale_value = 100;
    ts.created_at = now;
    ts.updated_at = now;
    ts.stability_status_at = now;
    svc.task_sets.push_back(std::move(ts));
  }
  auto [it, inserted] = region.services.insert_or_assign(key, std::move(svc));
  ctx.notify_service(scope, key);
  return json{{"service", render_service(region, it->second, !it->second.tags.empty())}};
}

Result<json> describe_services(EcsContext& ctx, const protocol::Call& call) {
  const json& in = call.input;
  const Scope& scope = call.caller.scope;
  auto& region = ctx.store.region(scope);
  auto cluster = resolve_cluster(region, scope, in);
  if (!cluster) {
    return cluster.error();
  }
  const json& refs = in["services"];
  if (refs.empty() || refs.size() > kMaxDescribeServices) {
    return invalid_parameter("services should have between 1 and 10 elements.");
  }
  const json include = in.value("include", json::array());
  const bool with_tags = std::find(include.begin(), include.end(), "TAGS") != include.end();
  json services = json::array();
  json failures = json::array();
  for (const auto& r : refs) {
    const std::string ref = r.get<std::string>();
    auto* svc = find_service(region, scope, **cluster, ref);
    if (svc == nullptr) {
      failures.push_back(
          {{"arn", ref.starts_with("arn:") ? ref : ecs_arn::service(scope, (*cluster)->name, ref)},
           {"reason", "MISSING"}});
      continue;
    }
    services.push_back(render_service(region, *svc, with_tags));
  }
  return json{{"services", services}, {"failures", failures}};
}

Result<json> list_services(EcsContext& ctx, const protocol::Call& call) {
  const json& in = call.input;
  const Scope& scope = call.caller.scope;
  auto& region = ctx.store.region(scope);
  auto cluster = resolve_cluster(region, scope, in);
  if (!cluster) {
    return cluster.error();
  }
  const std::string launch_type = in.value("launchType", "");
  const std::string scheduling = in.value("schedulingStrategy", "");
  // berth has no ECS-managed (Express) services.
  const bool ecs_managed_only = in.value("resourceManagementType", "CUSTOMER") == "ECS";
  std::vector<std::string> arns;
  for (const auto& [key, svc] : region.services) {
    if (svc.cluster_name != (*cluster)->name || svc.status != "ACTIVE" || ecs_managed_only) {
      continue;
    }
    if ((!launch_type.empty() && svc.spec.launch_type != launch_type) ||
        (!scheduling.empty() && svc.scheduling_strategy != scheduling)) {
      continue;
    }
    arns.push_back(svc.arn);
  }
  std::sort(arns.begin(), arns.end());
  auto page = paginate_input(arns, in, 10);
  if (!page) {
    return page.error();
  }
  json out = {{"serviceArns", page->items}};
  if (!page->next_token.empty()) {
    out["nextToken"] = page->next_token;
  }
  return out;
}

// What UpdateService may change depends on who deploys the service.
Result<Unit> check_controller_allows(const state::Service& svc, const json& in) {
  if (svc.deployment_controller == "ECS") {
    return Unit{};
  }
  const bool code_deploy = svc.deployment_controller == "CODE_DEPLOY";
  if (in.contains("taskDefinition")) {
    if (code_deploy) {
      return invalid_parameter(
          "Unable to update task definition on services with a CODE_DEPLOY deployment controller. Use AWS "
          "CodeDeploy to trigger a new deployment.");
    }
    return invalid_parameter(
        "Unable to update task definition on services with an EXTERNAL deployment controller. Create a new "
        "task set "
        "instead.");
  }
  for (const char* key : {"networkConfiguration", "platformVersion", "loadBalancers",
                          "capacityProviderStrategy", "serviceRegistries", "serviceConnectConfiguration",
                          "volumeConfigurations", "vpcLatticeConfigurations", "forceNewDeployment"}) {
    if (in.contains(key)) {
      return invalid_parameter(std::string("Unable to update ") + key + " on services with a " +
                               svc.deployment_controller + " deployment controller." +
                               (code_deploy ? " Use AWS CodeDeploy to trigger a new deployment."
                                            : " Create a new task set instead."));
    }
  }
  return Unit{};
}

Result<json> update_service(EcsContext& ctx, const protocol::Call& call) {
  const json& in = call.input;
  const Scope& scope = call.caller.scope;
  auto& region = ctx.store.region(scope);
  auto cluster_r = resolve_cluster(region, scope, in);
  if (!cluster_r) {
    return cluster_r.error();
  }
  const state::Cluster& cluster = **cluster_r;
  auto* svc = find_service(region, scope, cluster, in["service"].get<std::string>());
  if (svc == nullptr) {
    return service_not_found();
  }
  if (svc->status != "ACTIVE") {
    return service_not_active();
  }
  if (in.contains("deploymentController") &&
      in["deploymentController"]["type"] != svc->deployment_controller) {
    return unsupported(
        "berth does not support changing the deployment controller of an existing service yet.");
  }
  if (auto ok = check_controller_allows(*svc, in); !ok) {
    return ok.error();
  }
  const bool daemon = svc->scheduling_strategy == "DAEMON";
  int desired = svc->desired_count;
  if (in.contains("desiredCount")) {
    if (daemon) {
      return invalid_parameter(
          "The daemon scheduling strategy does not support a desired count for services. Remove the desired "
          "count "
          "value and try again");
    }
    desired = in["desiredCount"].get<int>();
    if (desired < 0) {
      return invalid_parameter("The desired count must be greater than or equal to 0.");
    }
  }
  if (daemon && !in.value("placementStrategy", json::array()).empty()) {
    return invalid_parameter(
        "The daemon scheduling strategy does not support placement strategies. Remove the placement strategy "
        "and try "
        "again");
  }
  const bool force = in.value("forceNewDeployment", false);

  state::ServiceSpec after = svc->spec;
  state::TaskDefinition* td = nullptr;
  if (in.contains("taskDefinition")) {
    auto found = usable_task_definition(region, in["taskDefinition"].get<std::string>());
    if (!found) {
      return found.error();
    }
    td = *found;
    after.task_definition_arn = td->arn;
  } else if (!after.task_definition_arn.empty()) {
    // The current revision stays usable even after it was deregistered.
    td = find_task_definition(region, after.task_definition_arn);
  }
  PlacementInput placement = placement_input(in);
  if (daemon && placement.capacity_provider_strategy && !placement.capacity_provider_strategy->empty()) {
    return invalid_parameter(
        "Specifying a capacity provider strategy is not supported when you create a service using the DAEMON "
        "scheduling strategy.");
  }
  if (auto placed = apply_placement(after, placement, cluster, td, false); !placed) {
    return placed.error();
  }
  const bool capacity_changed = after.launch_type != svc->spec.launch_type ||
                                after.capacity_provider_strategy != svc->spec.capacity_provider_strategy;
  if (capacity_changed && !force) {
    return invalid_parameter(
        "When switching from launch type to capacity provider strategy on an existing service, or making a "
        "change to "
        "a capacity provider strategy on a service that is already using one, you must force a new "
        "deployment.");
  }
  if (in.contains("loadBalancers")) {
    after.load_balancers = in["loadBalancers"];
  }
  if (in.contains("serviceRegistries")) {
    after.service_registries = in["serviceRegistries"];
  }
  if (in.contains("serviceConnectConfiguration")) {
    after.service_connect_configuration =
        service_connect_with_default(in["serviceConnectConfiguration"], cluster);
  }
  if (in.contains("volumeConfigurations")) {
    after.volume_configurations = in["volumeConfigurations"];
  }
  if (in.contains("vpcLatticeConfigurations")) {
    after.vpc_lattice_configurations = in["vpcLatticeConfigurations"];
  }
  if (auto error = scheduler::check_placement(in.value("placementConstraints", svc->placement_constraints),
                                              in.value("placementStrategy", svc->placement_strategy), td)) {
    return *error;
  }
  json dc = svc->deployment_configuration;
  if (in.contains("deploymentConfiguration")) {
    dc.update(in["deploymentConfiguration"]);
    if (auto ok = check_deployment_configuration(dc); !ok) {
      return ok.error();
    }
  }

  // Everything is valid: apply.
  const TimeMs now = ctx.clock.now_ms();
  const bool new_deployment =
      svc->deployment_controller == "ECS" && state::starts_new_deployment(svc->spec, after, force);
  svc->spec = after;
  svc->deployment_configuration = dc;
  if (in.contains("placementConstraints")) {
    svc->placement_constraints = in["placementConstraints"];
  }
  if (in.contains("placementStrategy")) {
    svc->placement_strategy = in["placementStrategy"];
  }
  svc->health_check_grace_period_seconds =
      in.value("healthCheckGracePeriodSeconds", svc->health_check_grace_period_seconds);
  svc->enable_execute_command = in.value("enableExecuteCommand", svc->enable_execute_command);
  svc->enable_ecs_managed_tags = in.value("enableECSManagedTags", svc->enable_ecs_managed_tags);
  svc->propagate_tags = in.value("propagateTags", svc->propagate_tags);
  svc->availability_zone_rebalancing =
      in.value("availabilityZoneRebalancing", svc->availability_zone_rebalancing);
  if (new_deployment) {
    svc->desired_count = desired;
    state::start_deployment(region, scope, *svc, now);
  } else {
    // A desiredCount-only change scales the PRIMARY deployment in place.
    state::set_desired_count(*svc, desired, now);
  }
  ctx.notify_service(scope, state::service_key(svc->cluster_name, svc->name));
  return json{{"service", render_service(region, *svc, false)}};
}

Result<json> delete_service(EcsContext& ctx, const protocol::Call& call) {
  const json& in = call.input;
  const Scope& scope = call.caller.scope;
  auto& region = ctx.store.region(scope);
  auto cluster = resolve_cluster(region, scope, in);
  if (!cluster) {
    return cluster.error();
  }
  auto* svc = find_service(region, scope, **cluster, in["service"].get<std::string>());
  if (svc == nullptr || svc->status == "INACTIVE") {
    return service_not_found();
  }
  if (svc->status == "ACTIVE") {
    if (svc->scheduling_strategy == "REPLICA" && svc->desired_count > 0 && !in.value("force", false)) {
      return invalid_parameter("The service cannot be stopped while it is scaled above 0.");
    }
    const TimeMs now = ctx.clock.now_ms();
    svc->status = "DRAINING";
    state::set_desired_count(*svc, 0, now);
    for (auto& ts : svc->task_sets) {
      ts.status = "DRAINING";
      ts.updated_at = now;
    }
    ctx.notify_service(scope, state::service_key(svc->cluster_name, svc->name));
  }
  return json{{"service", render_service(region, *svc, false)}};
}

// berth has no Cloud Map: a namespace exists for it once a cluster default or a service names it.
bool namespace_known(const state::RegionState& region, const std::string& ns) {
  for (const auto& [name, c] : region.clusters) {
    if (c.service_connect_defaults.is_object() && c.service_connect_defaults.value("namespace", "") == ns) {
      return true;
    }
  }
  return std::any_of(region.services.begin(), region.services.end(), [&](const auto& kv) {
    const json& sc = kv.second.spec.service_connect_configuration;
    return sc.is_object() && sc.value("namespace", "") == ns;
  });
}

Result<json> list_services_by_namespace(EcsContext& ctx, const protocol::Call& call) {
  const json& in = call.input;
  auto& region = ctx.store.region(call.caller.scope);
  const std::string ns = in["namespace"].get<std::string>();
  if (ns.empty()) {
    return invalid_parameter("Namespace should not be null or empty.");
  }
  if (!namespace_known(region, ns)) {
    return AwsError::client("NamespaceNotFoundException", "Namespace not found.");
  }
  std::vector<std::string> arns;
  for (const auto& [key, svc] : region.services) {
    const json& sc = svc.spec.service_connect_configuration;
    if (svc.status == "ACTIVE" && sc.is_object() && sc.value("namespace", "") == ns) {
      arns.push_back(svc.arn);
    }
  }
  std::sort(arns.begin(), arns.end());
  auto page = paginate_input(arns, in, 100);
  if (!page) {
    return page.error();
  }
  json out = {{"serviceArns", page->items}};
  if (!page->next_token.empty()) {
    out["nextToken"] = page->next_token;
  }
  return out;
}

}  // namespace

void register_service_crud_handlers(protocol::HandlerTable& table, EcsContext& ctx) {
  table.add("ecs", "CreateService", [&ctx](const protocol::Call& c) { return create_service(ctx, c); });
  table.add("ecs", "DescribeServices", [&ctx](const protocol::Call& c) { return describe_services(ctx, c); });
  table.add("ecs", "ListServices", [&ctx](const protocol::Call& c) { return list_services(ctx, c); });
  table.add("ecs", "UpdateService", [&ctx](const protocol::Call& c) { return update_service(ctx, c); });
  table.add("ecs", "DeleteService", [&ctx](const protocol::Call& c) { return delete_service(ctx, c); });
  table.add("ecs", "ListServicesByNamespace",
            [&ctx](const protocol::Call& c) { return list_services_by_namespace(ctx, c); });
}

void register_service_handlers(protocol::HandlerTable& table, EcsContext& ctx) {
  register_service_crud_handlers(table, ctx);
  register_service_deployment_api_handlers(table, ctx);
  register_task_set_api_handlers(table, ctx);
}

}  // namespace berth::services::ecs
