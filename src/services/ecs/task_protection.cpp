// Task scale-in protection (Get/UpdateTaskProtection) and ExecuteCommand, the task-level calls besides the
// task lifecycle itself.
#include <algorithm>

#include "ecs_common.hpp"

namespace berth::services::ecs {
namespace {

constexpr int kDefaultProtectionMinutes = 120;
constexpr int kMaxProtectionMinutes = 2880;

std::string full_task_arn(const Scope& scope, const state::Cluster& cluster, const std::string& ref) {
  return ref.starts_with("arn:") ? ref : ecs_arn::task(scope, cluster.name, ref);
}

// Protection exists for service tasks only (ECS answers TASK_NOT_VALID for standalone ones); a service task's
// group is `service:<name>`.
bool protectable(const state::Task& t) {
  return t.group.starts_with("service:") && t.last_status != state::TaskStatus::kStopped;
}

json protected_task(const state::Task& t, const state::RegionState& region, TimeMs now) {
  json out = {{"taskArn", t.arn}, {"protectionEnabled", false}};
  auto it = region.task_protection.find(t.id);
  if (it != region.task_protection.end() && it->second.active(now)) {
    out["protectionEnabled"] = true;
    out["expirationDate"] = to_epoch_seconds(it->second.expires_at);
  }
  return out;
}

json not_valid(const state::Task& t) {
  return {
      {"arn", t.arn},
      {"reason", "TASK_NOT_VALID"},
      {"detail", "Task scale-in protection is only supported for running tasks that belong to a service."}};
}

Result<json> get_task_protection(EcsContext& ctx, const protocol::Call& call) {
  const Scope& scope = call.caller.scope;
  auto& region = ctx.store.region(scope);
  auto cluster = resolve_cluster(region, scope, call.input);
  if (!cluster) {
    return cluster.error();
  }
  const json refs = call.input.value("tasks", json::array());
  if (refs.size() > 100) {
    return invalid_parameter("tasks can have at most 100 items.");
  }
  const TimeMs now = ctx.clock.now_ms();
  json tasks = json::array();
  json failures = json::array();
  for (const auto& ref_json : refs) {
    const std::string ref = ref_json.get<std::string>();
    const auto* t = find_task(region, **cluster, ref);
    if (t == nullptr) {
      failures.push_back({{"arn", full_task_arn(scope, **cluster, ref)}, {"reason", "MISSING"}});
    } else if (!protectable(*t)) {
      failures.push_back(not_valid(*t));
    } else {
      tasks.push_back(protected_task(*t, region, now));
    }
  }
  return json{{"protectedTasks", tasks}, {"failures", failures}};
}

Result<json> update_task_protection(EcsContext& ctx, const protocol::Call& call) {
  const json& in = call.input;
  const Scope& scope = call.caller.scope;
  auto& region = ctx.store.region(scope);
  auto cluster = resolve_cluster(region, scope, in);
  if (!cluster) {
    return cluster.error();
  }
  const json& refs = in["tasks"];
  if (refs.size() > 10) {
    return invalid_parameter("tasks can have at most 10 items.");
  }
  const bool enable = in["protectionEnabled"].get<bool>();
  const int minutes = in.value("expiresInMinutes", kDefaultProtectionMinutes);
  if (enable && (minutes < 1 || minutes > kMaxProtectionMinutes)) {
    return invalid_parameter("expiresInMinutes must be between 1 and 2880 (48 hours).");
  }
  const TimeMs now = ctx.clock.now_ms();
  json tasks = json::array();
  json failures = json::array();
  for (const auto& ref_json : refs) {
    const std::string ref = ref_json.get<std::string>();
    const auto* t = find_task(region, **cluster, ref);
    if (t == nullptr) {
      failures.push_back({{"arn", full_task_arn(scope, **cluster, ref)}, {"reason", "MISSING"}});
      continue;
    }
    if (!protectable(*t)) {
      failures.push_back(not_valid(*t));
      continue;
    }
    // Setting protection again always restarts its clock.
    if (enable) {
      region.task_protection[t->id] =
          state::TaskProtection{true, now + static_cast<TimeMs>(minutes) * 60'000};
    } else {
      region.task_protection.erase(t->id);
    }
    tasks.push_back(protected_task(*t, region, now));
  }
  return json{{"protectedTasks", tasks}, {"failures", failures}};
}

// ECS Exec needs the SSM agent in the task and a Session Manager session; berth has neither yet.
Result<json> execute_command(EcsContext& ctx, const protocol::Call& call) {
  const json& in = call.input;
  const Scope& scope = call.caller.scope;
  auto& region = ctx.store.region(scope);
  auto cluster = resolve_cluster(region, scope, in);
  if (!cluster) {
    return cluster.error();
  }
  const auto* t = find_task(region, **cluster, in["task"].get<std::string>());
  if (t == nullptr) {
    return invalid_parameter("The referenced task was not found.");
  }
  const std::string container = in.value("container", "");
  if (!container.empty() && std::none_of(t->containers.begin(), t->containers.end(),
                                         [&](const state::Container& c) { return c.name == container; })) {
    return invalid_parameter("The container " + container + " does not exist in the task.");
  }
  if (container.empty() && t->containers.size() > 1) {
    return invalid_parameter(
        "The task has more than one container: name the container to run the command in.");
  }
  return AwsError::client(
      "TargetNotConnectedException",
      "berth does not support ECS Exec (ExecuteCommand) yet: no Session Manager agent runs in "
      "berth's containers. Use `docker exec` with the container's runtimeId instead.");
}

}  // namespace

void register_task_protection_handlers(protocol::HandlerTable& table, EcsContext& ctx) {
  table.add("ecs", "GetTaskProtection",
            [&ctx](const protocol::Call& c) { return get_task_protection(ctx, c); });
  table.add("ecs", "UpdateTaskProtection",
            [&ctx](const protocol::Call& c) { return update_task_protection(ctx, c); });
  table.add("ecs", "ExecuteCommand", [&ctx](const protocol::Call& c) { return execute_command(ctx, c); });
}

}  // namespace berth::services::ecs
