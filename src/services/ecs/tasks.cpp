#include <algorithm>

#include "ecs_common.hpp"
#include <berth/services/paging.hpp>
#include <berth/scheduler/capacity_spread.hpp>
#include <berth/scheduler/placement.hpp>
#include <berth/state/tasks.hpp>
#include <berth/state/transitions.hpp>

namespace berth::services::ecs {
namespace {

bool has_value(const json& list, const char* v) {
  return list.is_array() && std::any_of(list.begin(), list.end(), [&](const json& x) { return x == v; });
}

// Every containerOverride must name a container of the task definition.
std::optional<AwsError> check_container_overrides(const json& in, const state::TaskDefinition& td) {
  const json overrides = in.value("overrides", json::object());
  const auto& defs = td.doc["containerDefinitions"];
  for (const auto& o : overrides.value("containerOverrides", json::array())) {
    const std::string name = o.value("name", "");
    if (std::none_of(defs.begin(), defs.end(), [&](const json& d) { return d.value("name", "") == name; })) {
      return invalid_parameter("Override for container named " + name + " is not a container in the TaskDefinition.");
    }
  }
  return std::nullopt;
}

// How RunTask decides where a task runs: a launch type, or capacity providers (given or the cluster's default).
struct Launch {
  std::string launch_type;
  std::vector<std::string> providers;  // one per task when capacity providers place them
};

Result<Launch> choose_launch(const json& in, const state::Cluster& cluster, int count) {
  if (in.contains("capacityProviderStrategy") && in.contains("launchType")) {
    return invalid_parameter("Specifying both a launch type and capacity provider strategy is not supported.");
  }
  Launch launch;
  json strategy = in.value("capacityProviderStrategy", json::array());
  if (!in.contains("launchType") && strategy.empty()) {
    strategy = cluster.default_capacity_provider_strategy;
  }
  if (in.contains("launchType") || strategy.empty()) {
    launch.launch_type = in.value("launchType", "EC2");
    return launch;
  }
  // The one strategy check (associated providers, base and weight rules) before berth's own limits.
  const bool from_default = !in.contains("capacityProviderStrategy");
  if (auto error = check_capacity_provider_strategy(
          cluster.capacity_providers, strategy, from_default ? StrategyUse::kDefaultPlacement : StrategyUse::kPlacement)) {
    return *error;
  }
  for (const auto& item : strategy) {
    const std::string name = item.value("capacityProvider", "");
    if (name != "FARGATE" && name != "FARGATE_SPOT") {
      return unsupported("berth does not run tasks on Auto Scaling group capacity provider " + name + " yet.");
    }
  }
  launch.providers = scheduler::spread_over_strategy(strategy, count);
  if (static_cast<int>(launch.providers.size()) < count) {
    return invalid_parameter("The capacity provider strategy must have at least one capacity provider with a weight "
                             "greater than 0.");
  }
  launch.launch_type = "FARGATE";
  return launch;
}

// The launch-type and network checks ECS makes before it places anything, plus the parts of RunTask that berth
// does not run yet.
std::optional<AwsError> check_run_task(const json& in, const state::TaskDefinition& td, const std::string& launch_type) {
  if (launch_type == "EXTERNAL" || launch_type == "MANAGED_INSTANCES") {
    return unsupported("berth does not support launch type " + launch_type + " yet.");
  }
  const std::string compat = launch_type == "FARGATE" ? "FARGATE" : "EC2";
  if (!has_value(td.doc.value("compatibilities", json::array()), compat.c_str())) {
    return invalid_parameter("Task definition does not support launch_type " + compat + ".");
  }
  const std::string mode = td.doc.value("networkMode", "bridge");
  const json awsvpc = in.value("networkConfiguration", json::object()).value("awsvpcConfiguration", json());
  if (mode == "awsvpc" && awsvpc.is_null()) {
    return invalid_parameter("Network Configuration must be provided when networkMode 'awsvpc' is specified.");
  }
  if (mode != "awsvpc" && !awsvpc.is_null()) {
    return invalid_parameter("Network Configuration is not valid for the given networkMode of this task definition.");
  }
  if (!awsvpc.is_null() && awsvpc.value("subnets", json::array()).empty()) {
    return invalid_parameter("subnets can not be empty.");
  }
  if (launch_type == "EC2" && !awsvpc.is_null() && awsvpc.value("assignPublicIp", "DISABLED") == "ENABLED") {
    return invalid_parameter("Assign public IP is not supported for this launch type.");
  }
  if (launch_type == "FARGATE") {
    // Fargate places tasks itself, spreading them across zones.
    for (const char* key : {"placementConstraints", "placementStrategy"}) {
      if (in.contains(key) && !in[key].empty()) {
        return invalid_parameter(
            std::string("Task placement is not supported for the FARGATE launch type: remove ") + key + ".");
      }
    }
  } else if (auto error = scheduler::check_placement(in.value("placementConstraints", json::array()),
                                                     in.value("placementStrategy", json::array()), &td)) {
    return *error;
  }
  for (const auto& c : td.doc["containerDefinitions"]) {
    for (const char* key : {"links", "firelensConfiguration"}) {
      if (c.contains(key) && !c[key].empty()) {
        return unsupported(std::string("berth does not support container ") + key + " yet (container '" +
                           c.value("name", "") + "').");
      }
    }
    if (launch_type == "FARGATE" && c.value("privileged", false)) {
      return invalid_parameter("Privileged containers are not supported on Fargate (container '" +
                               c.value("name", "") + "').");
    }
  }
  for (const auto& v : td.doc.value("volumes", json::array())) {
    if (v.contains("fsxWindowsFileServerVolumeConfiguration")) {
      return unsupported("berth does not support FSx for Windows File Server volumes.");
    }
    if (launch_type == "FARGATE" && v.contains("host") && v["host"].contains("sourcePath")) {
      return invalid_parameter("Host volumes with a sourcePath are not supported on Fargate (volume '" +
                               v.value("name", "") + "').");
    }
  }
  return std::nullopt;
}

// Creates `count` tasks of `td` in `cluster` (the i-th on instances[i] when instances are given, as StartTask
// places them) and hands each to the scheduler.
Result<json> launch_tasks(EcsContext& ctx, const protocol::Call& call, const state::Cluster& cluster,
                          const state::TaskDefinition& td, const Launch& launch, int count,
                          const std::vector<state::ContainerInstance*>& instances, json failures = json::array()) {
  const json& in = call.input;
  const Scope& scope = call.caller.scope;
  state::NewTask spec;
  spec.launch_type = launch.launch_type;
  spec.platform_version = in.value("platformVersion", "");
  spec.network_configuration = in.value("networkConfiguration", json());
  spec.overrides = in.value("overrides", json::object());
  spec.group = in.value("group", "");
  spec.started_by = in.value("startedBy", "");
  spec.tags = in.value("tags", json::array());
  json tasks = json::array();
  const TimeMs now = ctx.clock.now_ms();
  for (int i = 0; i < count; ++i) {
    const auto n = static_cast<std::size_t>(i);
    spec.capacity_provider_name = n < launch.providers.size() ? launch.providers[n] : "";
    spec.instance = n < instances.size() ? instances[n] : nullptr;
    const std::string id = state::add_task(ctx.store, scope, cluster, td, spec, now).id;
    // Hand the task to the scheduler now, so the response already shows the status it moved to.
    ctx.task_changed(id);
    tasks.push_back(render_task(ctx.store.region(scope).tasks.at(id), true));
  }
  return json{{"tasks", tasks}, {"failures", failures}};
}


Result<json> run_task(EcsContext& ctx, const protocol::Call& call) {
  const json& in = call.input;
  const Scope& scope = call.caller.scope;
  auto& region = ctx.store.region(scope);
  auto cluster = resolve_cluster(region, scope, in);
  if (!cluster) {
    return cluster.error();
  }
  auto* td = find_task_definition(region, in["taskDefinition"].get<std::string>());
  if (td == nullptr) {
    return invalid_parameter("TaskDefinition not found.");
  }
  if (td->status != "ACTIVE") {
    return client_exception("TaskDefinition is inactive");
  }
  const int count = in.value("count", 1);
  if (count < 1 || count > 10) {
    return invalid_parameter("Count must be between 1 and 10.");
  }
  auto launch = choose_launch(in, **cluster, count);
  if (!launch) {
    return launch.error();
  }
  const std::string launch_type = launch->launch_type;
  if (auto error = check_run_task(in, *td, launch_type)) {
    return *error;
  }
  if (auto error = check_container_overrides(in, *td)) {
    return *error;
  }

  if (launch_type != "EC2") {
    return launch_tasks(ctx, call, **cluster, *td, *launch, count, {});
  }
  scheduler::PlacementRequest request;
  request.cluster = *cluster;
  request.task_definition = td;
  request.overrides = in.value("overrides", json::object());
  request.count = count;
  request.group = in.value("group", "family:" + td->family);
  request.constraints = in.value("placementConstraints", json::array());
  request.strategy = in.value("placementStrategy", json::array());  // empty: random, RunTask's default
  auto placed = scheduler::place(region, request);
  if (placed.no_active_instances) {
    return invalid_parameter("No Container Instances were found in your cluster.");
  }
  return launch_tasks(ctx, call, **cluster, *td, *launch, static_cast<int>(placed.instances.size()), placed.instances,
                      placed.failures);
}

// StartTask runs one task on each named container instance: no strategy, but the same checks as any placement
// (agent, attributes, resources, the task definition's constraints), with MISSING and INACTIVE for instances
// it cannot use.
Result<json> start_task(EcsContext& ctx, const protocol::Call& call) {
  const json& in = call.input;
  const Scope& scope = call.caller.scope;
  auto& region = ctx.store.region(scope);
  auto cluster = resolve_cluster(region, scope, in);
  if (!cluster) {
    return cluster.error();
  }
  auto* td = find_task_definition(region, in["taskDefinition"].get<std::string>());
  if (td == nullptr) {
    return invalid_parameter("TaskDefinition not found.");
  }
  if (td->status != "ACTIVE") {
    return client_exception("TaskDefinition is inactive");
  }
  const json& refs = in["containerInstances"];
  if (refs.empty() || refs.size() > 10) {
    return invalid_parameter("containerInstances must contain between 1 and 10 container instances.");
  }
  Launch launch;
  launch.launch_type = "EC2";
  if (auto error = check_run_task(in, *td, launch.launch_type)) {
    return *error;
  }
  if (auto error = check_container_overrides(in, *td)) {
    return *error;
  }
  scheduler::PlacementRequest request;
  request.cluster = *cluster;
  request.task_definition = td;
  request.overrides = in.value("overrides", json::object());
  request.group = in.value("group", "family:" + td->family);
  for (const auto& ref : refs) {
    request.only_instances.push_back(ref.get<std::string>());
  }
  auto placed = scheduler::place(region, request);
  return launch_tasks(ctx, call, **cluster, *td, launch, static_cast<int>(placed.instances.size()),
                      placed.instances, placed.failures);
}

Result<json> describe_tasks(EcsContext& ctx, const protocol::Call& call) {
  const Scope& scope = call.caller.scope;
  auto& region = ctx.store.region(scope);
  auto cluster = resolve_cluster(region, scope, call.input);
  if (!cluster) {
    return cluster.error();
  }
  const json& refs = call.input["tasks"];
  if (refs.size() > 100) {
    return invalid_parameter("Tasks cannot have more than 100 elements");
  }
  const bool with_tags = has_value(call.input.value("include", json::array()), "TAGS");
  json tasks = json::array();
  json failures = json::array();
  for (const auto& ref : refs) {
    const std::string r = ref.get<std::string>();
    auto* t = find_task(region, **cluster, r);
    if (t == nullptr) {
      failures.push_back({{"arn", r.starts_with("arn:") ? r : ecs_arn::task(scope, (*cluster)->name, r)}, {"reason", "MISSING"}});
      continue;
    }
    tasks.push_back(render_task(*t, with_tags));
  }
  return json{{"tasks", tasks}, {"failures", failures}};
}

Result<json> list_tasks(EcsContext& ctx, const protocol::Call& call) {
  const json& in = call.input;
  const Scope& scope = call.caller.scope;
  auto& region = ctx.store.region(scope);
  auto cluster = resolve_cluster(region, scope, in);
  if (!cluster) {
    return cluster.error();
  }
  std::string instance_arn;
  if (in.contains("containerInstance")) {
    auto* instance = find_container_instance(region, **cluster, in["containerInstance"].get<std::string>());
    if (instance == nullptr) {
      return invalid_parameter("The referenced container instance was not found.");
    }
    instance_arn = instance->arn;
  }
  const std::string desired = in.value("desiredStatus", "RUNNING");
  const std::string family = in.value("family", "");
  const std::string started_by = in.value("startedBy", "");
  const std::string launch_type = in.value("launchType", "");
  const std::string service = in.value("serviceName", "");
  std::vector<std::string> arns;
  for (const auto& [id, t] : region.tasks) {
    if (t.cluster_name != (*cluster)->name || state::to_string(t.desired_status) != desired) {
      continue;
    }
    if ((!family.empty() && t.family != family) || (!started_by.empty() && t.started_by != started_by) ||
        (!launch_type.empty() && t.launch_type != launch_type) ||
        (!service.empty() && t.group != "service:" + service) ||
        (!instance_arn.empty() && t.container_instance_arn != instance_arn)) {
      continue;
    }
    arns.push_back(t.arn);
  }
  std::sort(arns.begin(), arns.end());
  auto page = paginate_input(arns, in, 100);
  if (!page) {
    return page.error();
  }
  json out = {{"taskArns", page->items}};
  if (!page->next_token.empty()) {
    out["nextToken"] = page->next_token;
  }
  return out;
}

Result<json> stop_task(EcsContext& ctx, const protocol::Call& call) {
  const Scope& scope = call.caller.scope;
  auto& region = ctx.store.region(scope);
  auto cluster = resolve_cluster(region, scope, call.input);
  if (!cluster) {
    return cluster.error();
  }
  auto* t = find_task(region, **cluster, call.input["task"].get<std::string>());
  if (t == nullptr) {
    return invalid_parameter("The referenced task was not found.");
  }
  std::string reason = call.input.value("reason", "");
  state::request_task_stop(*t, "UserInitiated", reason.empty() ? "Task stopped by user" : reason, ctx.clock.now_ms());
  const std::string id = t->id;
  ctx.task_changed(id);
  return json{{"task", render_task(region.tasks.at(id), true)}};
}

}  // namespace

void register_task_handlers(protocol::HandlerTable& table, EcsContext& ctx) {
  table.add("ecs", "RunTask", [&ctx](const protocol::Call& c) { return run_task(ctx, c); });
  table.add("ecs", "StartTask", [&ctx](const protocol::Call& c) { return start_task(ctx, c); });
  table.add("ecs", "DescribeTasks", [&ctx](const protocol::Call& c) { return describe_tasks(ctx, c); });
  table.add("ecs", "ListTasks", [&ctx](const protocol::Call& c) { return list_tasks(ctx, c); });
  table.add("ecs", "StopTask", [&ctx](const protocol::Call& c) { return stop_task(ctx, c); });
}

}  // namespace berth::services::ecs
