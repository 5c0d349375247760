// CreateTaskSet, DescribeTaskSets, UpdateTaskSet, DeleteTaskSet, UpdateServicePrimaryTaskSet: task sets of
// services that use the EXTERNAL deployment controller (CODE_DEPLOY services' task sets can be described).
#include <algorithm>

#include "service_support.hpp"
#include <berth/common/ids.hpp>

namespace berth::services::ecs {
namespace {

constexpr std::size_t kMaxTaskSets = 5;

AwsError task_set_not_found() { return AwsError::client("TaskSetNotFoundException", "The specified task set was not found."); }

AwsError not_external() {
  return invalid_parameter(
      "Amazon ECS only supports task set management on services configured to use external deployment controllers.");
}

// The service named by `cluster` and `service`; it must be ACTIVE. With `describe_only`, CODE_DEPLOY services
// are accepted too (their task sets are CodeDeploy's to manage, but can be looked at).
Result<state::Service*> task_set_service(state::RegionState& region, const Scope& scope, const json& in,
                                         bool describe_only) {
  auto cluster = resolve_cluster(region, scope, in);
  if (!cluster) {
    return cluster.error();
  }
  auto* svc = find_service(region, scope, **cluster, in["service"].get<std::string>());
  if (svc == nullptr) {
    return service_not_found();
  }
  if (svc->status != "ACTIVE") {
    return service_not_active();
  }
  const bool allowed = svc->deployment_controller == "EXTERNAL" ||
                       (describe_only && svc->deployment_controller == "CODE_DEPLOY");
  if (!allowed) {
    return not_external();
  }
  return svc;
}

// A task set by id ("ecs-svc/123...") or ARN (".../task-set/<cluster>/<service>/ecs-svc/123...").
state::TaskSet* find_task_set(state::Service& svc, const std::string& ref) {
  for (auto& ts : svc.task_sets) {
    if (ts.id == ref || ts.arn == ref) {
      return &ts;
    }
  }
  return nullptr;
}

Result<Unit> check_scale(const json& scale) {
  const double v = scale.value("value", 0.0);
  if (v < 0 || v > 100) {
    return invalid_parameter("Scale value must be between 0 and 100 percent.");
  }
  return Unit{};
}

Result<json> create_task_set(EcsContext& ctx, const protocol::Call& call) {
  const json& in = call.input;
  const Scope& scope = call.caller.scope;
  auto& region = ctx.store.region(scope);
  auto svc_r = task_set_service(region, scope, in, false);
  if (!svc_r) {
    return svc_r.error();
  }
  state::Service& svc = **svc_r;
  const std::string client_token = in.value("clientToken", "");
  if (!client_token.empty()) {
    for (const auto& ts : svc.task_sets) {
      if (ts.client_token == client_token) {
        return json{{"taskSet", render_task_set(region, svc, ts, !ts.tags.empty())}};
      }
    }
  }
  if (svc.task_sets.size() >= kMaxTaskSets) {
    return invalid_parameter(std::to_string(svc.task_sets.size()) +
                             " deployments exist on the service. Unable to create new TaskSet since this exceeds "
                             "the maximum limit.");
  }
  auto td = usable_task_definition(region, in["taskDefinition"].get<std::string>());
  if (!td) {
    return td.error();
  }
  const state::Cluster& cluster = region.clusters.at(svc.cluster_name);  // resolved ACTIVE above
  state::TaskSet ts;
  ts.spec.task_definition_arn = (*td)->arn;
  PlacementInput placement;
  if (in.contains("launchType")) {
    placement.launch_type = in["launchType"].get<std::string>();
  }
  if (in.contains("capacityProviderStrategy")) {
    placement.capacity_provider_strategy = in["capacityProviderStrategy"];
  }
  if (in.contains("platformVersion")) {
    placement.platform_version = in["platformVersion"].get<std::string>();
  }
  if (in.contains("networkConfiguration")) {
    placement.network_configuration = in["networkConfiguration"];
  }
  if (auto placed = apply_placement(ts.spec, placement, cluster, *td, true); !placed) {
    return placed.error();
  }
  ts.spec.load_balancers = in.value("loadBalancers", json::array());
  ts.spec.service_registries = in.value("serviceRegistries", json::array());
  const json scale = in.value("scale", json{{"value", 0.0}, {"unit", "PERCENT"}});
  if (auto ok = check_scale(scale); !ok) {
    return ok.error();
  }
  const TimeMs now = ctx.clock.now_ms();
  ts.id = "ecs-svc/" + ids::digits(19);
  ts.arn = ecs_arn::task_set(scope, svc.cluster_name, svc.name, ts.id);
  ts.status = "ACTIVE";
  ts.external_id = in.value("externalId", "");
  ts.scale_value = scale.value("value", 0.0);
  ts.scale_unit = scale.value("unit", "PERCENT");
  ts.stability_status = "STABILIZING";
  ts.stability_status_at = now;
  ts.created_at = now;
  ts.updated_at = now;
  ts.client_token = client_token;
  ts.tags = in.value("tags", json::array());
  svc.task_sets.push_back(std::move(ts));
  ctx.notify_service(scope, state::service_key(svc.cluster_name, svc.name));
  const auto& created = svc.task_sets.back();
  return json{{"taskSet", render_task_set(region, svc, created, !created.tags.empty())}};
}

Result<json> describe_task_sets(EcsContext& ctx, const protocol::Call& call) {
  const json& in = call.input;
  const Scope& scope = call.caller.scope;
  auto& region = ctx.store.region(scope);
  auto svc_r = task_set_service(region, scope, in, true);
  if (!svc_r) {
    return svc_r.error();
  }
  state::Service& svc = **svc_r;
  const json include = in.value("include", json::array());
  const bool with_tags = std::find(include.begin(), include.end(), "TAGS") != include.end();
  json items = json::array();
  json failures = json::array();
  if (!in.contains("taskSets")) {
    for (const auto& ts : svc.task_sets) {
      items.push_back(render_task_set(region, svc, ts, with_tags));
    }
  } else {
    for (const auto& r : in["taskSets"]) {
      const std::string ref = r.get<std::string>();
      if (auto* ts = find_task_set(svc, ref)) {
        items.push_back(render_task_set(region, svc, *ts, with_tags));
      } else {
        failures.push_back({{"arn", ref}, {"reason", "MISSING"}});
      }
    }
  }
  return json{{"taskSets", items}, {"failures", failures}};
}

Result<json> update_task_set(EcsContext& ctx, const protocol::Call& call) {
  const json& in = call.input;
  const Scope& scope = call.caller.scope;
  auto& region = ctx.store.region(scope);
  auto svc_r = task_set_service(region, scope, in, false);
  if (!svc_r) {
    return svc_r.error();
  }
  state::Service& svc = **svc_r;
  auto* ts = find_task_set(svc, in["taskSet"].get<std::string>());
  if (ts == nullptr) {
    return task_set_not_found();
  }
  if (auto ok = check_scale(in["scale"]); !ok) {
    return ok.error();
  }
  ts->scale_value = in["scale"].value("value", 0.0);
  ts->scale_unit = in["scale"].value("unit", "PERCENT");
  ts->updated_at = ctx.clock.now_ms();
  ctx.notify_service(scope, state::service_key(svc.cluster_name, svc.name));
  return json{{"taskSet", render_task_set(region, svc, *ts, false)}};
}

Result<json> delete_task_set(EcsContext& ctx, const protocol::Call& call) {
  const json& in = call.input;
  const Scope& scope = call.caller.scope;
  auto& region = ctx.store.region(scope);
  auto svc_r = task_set_service(region, scope, in, false);
  if (!svc_r) {
    return svc_r.error();
  }
  state::Service& svc = **svc_r;
  auto* ts = find_task_set(svc, in["taskSet"].get<std::string>());
  if (ts == nullptr) {
    return task_set_not_found();
  }
  if (ts->status != "DRAINING") {
    if (state::computed_desired_count(svc, *ts) > 0 && !in.value("force", false)) {
      return invalid_parameter("The task set cannot be deleted while it is scaled above 0. Scale it to 0 or use force.");
    }
    ts->status = "DRAINING";
    ts->updated_at = ctx.clock.now_ms();
    ctx.notify_service(scope, state::service_key(svc.cluster_name, svc.name));
  }
  return json{{"taskSet", render_task_set(region, svc, *ts, false)}};
}

// The primary task set serves production traffic; what it runs becomes what the service reports.
Result<json> update_service_primary_task_set(EcsContext& ctx, const protocol::Call& call) {
  const json& in = call.input;
  const Scope& scope = call.caller.scope;
  auto& region = ctx.store.region(scope);
  auto svc_r = task_set_service(region, scope, in, false);
  if (!svc_r) {
    return svc_r.error();
  }
  state::Service& svc = **svc_r;
  auto* ts = find_task_set(svc, in["primaryTaskSet"].get<std::string>());
  if (ts == nullptr) {
    return task_set_not_found();
  }
  if (ts->status == "DRAINING") {
    return invalid_parameter("The task set " + ts->arn + " is DRAINING and cannot become the primary task set.");
  }
  const TimeMs now = ctx.clock.now_ms();
  if (ts->status != "PRIMARY") {
    for (auto& other : svc.task_sets) {
      if (other.status == "PRIMARY") {
        other.status = "ACTIVE";
        other.updated_at = now;
      }
    }
    ts->status = "PRIMARY";
    ts->updated_at = now;
  }
  svc.spec = ts->spec;
  return json{{"taskSet", render_task_set(region, svc, *ts, false)}};
}

}  // namespace

void register_task_set_api_handlers(protocol::HandlerTable& table, EcsContext& ctx) {
  table.add("ecs", "CreateTaskSet", [&ctx](const protocol::Call& c) { return create_task_set(ctx, c); });
  table.add("ecs", "DescribeTaskSets", [&ctx](const protocol::Call& c) { return describe_task_sets(ctx, c); });
  table.add("ecs", "UpdateTaskSet", [&ctx](const protocol::Call& c) { return update_task_set(ctx, c); });
  table.add("ecs", "DeleteTaskSet", [&ctx](const protocol::Call& c) { return delete_task_set(ctx, c); });
  table.add("ecs", "UpdateServicePrimaryTaskSet",
            [&ctx](const protocol::Call& c) { return update_service_primary_task_set(ctx, c); });
}

}  // namespace berth::services::ecs
