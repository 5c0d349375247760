// ECS Managed Daemons: daemon task definitions, daemons, daemon revisions and daemon deployments. berth
// stores and describes them as ECS does; no daemon task runs behind them (there are no Managed Instances
// here), so a deployment completes at once with no instance to roll out to.
#include <algorithm>
#include <set>

#include <berth/common/ids.hpp>
#include <berth/protocol/projection.hpp>
#include <berth/services/paging.hpp>
#include "ecs_common.hpp"

namespace berth::services::ecs {
namespace {

bool valid_name(const std::string& s) {
  return !s.empty() && s.size() <= 255 && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

std::string key_of(const std::string& cluster, const std::string& name) { return cluster + "/" + name; }

// A page over a list whose order is not the keys' own (newest first, family then revision): tokens name a
// zero-padded position, which sorts as a string.
Result<std::pair<std::size_t, std::size_t>> page_range(std::size_t total, const json& input, int default_max,
                                                       std::string& next_token) {
  std::vector<std::string> positions;
  positions.reserve(total);
  for (std::size_t i = 0; i < total; ++i) {
    char pos[24];
    std::snprintf(pos, sizeof(pos), "%012zu", i);
    positions.emplace_back(pos);
  }
  auto page = paginate_input(positions, input, default_max);
  if (!page) {
    return page.error();
  }
  next_token = page->next_token;
  if (page->items.empty()) {
    return std::pair<std::size_t, std::size_t>{total, total};
  }
  return std::pair<std::size_t, std::size_t>{std::stoul(page->items.front()),
                                             std::stoul(page->items.back()) + 1};
}

// ---- Daemon task definitions

// family (latest ACTIVE revision), family:revision or an ARN; an explicit revision is found in any status.
state::DaemonTaskDefinition* find_daemon_td(state::RegionState& region, const Scope& scope,
                                            const std::string& ref) {
  std::string family_rev = ref;
  if (ref.starts_with("arn:")) {
    auto parsed = parse_arn(ref);
    if (!parsed || parsed->service != "ecs" || !parsed->resource.starts_with("daemon-task-definition/") ||
        parsed->account != scope.account || parsed->region != scope.region) {
      return nullptr;
    }
    family_rev = parsed->resource.substr(std::string("daemon-task-definition/").size());
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
  auto it = region.daemon_task_definitions.find(family);
  if (it == region.daemon_task_definitions.end()) {
    return nullptr;
  }
  auto& revisions = it->second;
  if (revision > 0) {
    return revision <= static_cast<int>(revisions.size()) ? &revisions[revision - 1] : nullptr;
  }
  for (auto rit = revisions.rbegin(); rit != revisions.rend(); ++rit) {
    if (rit->status == "ACTIVE") {
      return &*rit;
    }
  }
  return nullptr;
}

json render_daemon_td(const state::DaemonTaskDefinition& td) {
  json out = td.doc;
  out["status"] = td.status;
  if (td.delete_requested_at) {
    out["deleteRequestedAt"] = to_epoch_seconds(*td.delete_requested_at);
  }
  return out;
}

Result<json> register_daemon_task_definition(EcsContext& ctx, const protocol::Call& call) {
  const json& in = call.input;
  const Scope& scope = call.caller.scope;
  const std::string family = in["family"].get<std::string>();
  if (!valid_name(family)) {
    return client_exception("Family contains invalid characters.");
  }
  json doc = protocol::project_to_shape(*call.service, "DaemonTaskDefinition", in);
  for (const char* key : {"cpu", "memory"}) {
    if (doc.contains(key)) {
      const std::string raw = doc[key].get<std::string>();
      const std::string norm =
          std::string(key) == "cpu" ? normalize_task_cpu(raw) : normalize_task_memory(raw);
      if (norm.empty()) {
        return client_exception("Invalid '" + std::string(key) + "' setting for daemon task.");
      }
      doc[key] = norm;
    }
  }
  if (doc["containerDefinitions"].empty()) {
    return client_exception("Container list cannot be empty.");
  }
  std::set<std::string> names;
  bool any_essential = false;
  for (auto& c : doc["containerDefinitions"]) {
    const std::string name = c.value("name", "");
    if (name.empty()) {
      return client_exception("Container.name should not be null or empty.");
    }
    if (!valid_name(name)) {
      return client_exception("Container name contains invalid characters.");
    }
    if (!names.insert(name).second) {
      return client_exception("Duplicate container names are not allowed.");
    }
    if (c.value("image", "").empty()) {
      return client_exception("Container.image should not be null or empty.");
    }
    if (c.contains("memory") && c.contains("memoryReservation") &&
        c["memory"].get<long>() <= c["memoryReservation"].get<long>()) {
      return client_exception("Invalid setting for container '" + name +
                              "'. 'memory' must be greater than 'memoryReservation'.");
    }
    c["essential"] = c.value("essential", true);
    any_essential = any_essential || c["essential"].get<bool>();
  }
  if (!any_essential) {
    return client_exception("A daemon task definition must have at least one essential container.");
  }
  auto& revisions = ctx.store.region(scope).daemon_task_definitions[family];
  state::DaemonTaskDefinition td;
  td.family = family;
  td.revision = static_cast<int>(revisions.size()) + 1;
  td.arn = ecs_arn::daemon_task_definition(scope, family, td.revision);
  td.registered_at = ctx.clock.now_ms();
  td.tags = in.value("tags", json::array());
  doc["daemonTaskDefinitionArn"] = td.arn;
  doc["revision"] = td.revision;
  doc["registeredAt"] = to_epoch_seconds(td.registered_at);
  doc["registeredBy"] = make_arn("iam", Scope{scope.account, ""}, "root");
  td.doc = std::move(doc);
  revisions.push_back(std::move(td));
  return json{{"daemonTaskDefinitionArn", revisions.back().arn}};
}

Result<json> describe_daemon_task_definition(EcsContext& ctx, const protocol::Call& call) {
  auto* td = find_daemon_td(ctx.store.region(call.caller.scope), call.caller.scope,
                            call.input["daemonTaskDefinition"].get<std::string>());
  if (td == nullptr) {
    return client_exception("Unable to describe daemon task definition.");
  }
  return json{{"daemonTaskDefinition", render_daemon_td(*td)}};
}

Result<json> delete_daemon_task_definition(EcsContext& ctx, const protocol::Call& call) {
  const std::string ref = call.input["daemonTaskDefinition"].get<std::string>();
  auto* td = find_daemon_td(ctx.store.region(call.caller.scope), call.caller.scope, ref);
  if (td == nullptr) {
    return client_exception("The specified daemon task definition does not exist.");
  }
  if (td->status != "ACTIVE") {
    return client_exception("The daemon task definition " + td->arn + " is " + td->status +
                            ": only an ACTIVE daemon task definition can be deleted.");
  }
  td->status = "DELETE_IN_PROGRESS";
  td->delete_requested_at = ctx.clock.now_ms();
  return json{{"daemonTaskDefinitionArn", td->arn}};
}

Result<json> list_daemon_task_definitions(EcsContext& ctx, const protocol::Call& call) {
  const json& in = call.input;
  auto& region = ctx.store.region(call.caller.scope);
  const std::string prefix = in.value("familyPrefix", "");
  const std::string family_filter = in.value("family", "");
  const bool last_only = in.value("revision", "") == "LAST_REGISTERED";
  const std::string status = in.value("status", "ACTIVE");
  std::vector<const state::DaemonTaskDefinition*> found;
  for (const auto& [family, revisions] : region.daemon_task_definitions) {
    if (!family.starts_with(prefix) || (!family_filter.empty() && family != family_filter) ||
        revisions.empty()) {
      continue;
    }
    for (auto it = last_only ? revisions.end() - 1 : revisions.begin(); it != revisions.end(); ++it) {
      if (status == "ALL" || it->status == status) {
        found.push_back(&*it);
      }
    }
  }
  // Family order, then revision order (the map and the vectors already give it); DESC reverses both.
  if (in.value("sort", "ASC") == "DESC") {
    std::reverse(found.begin(), found.end());
  }
  std::string next;
  auto range = page_range(found.size(), in, 100, next);
  if (!range) {
    return range.error();
  }
  json items = json::array();
  for (std::size_t i = range->first; i < range->second; ++i) {
    const auto& td = *found[i];
    json s = {{"arn", td.arn},
              {"registeredAt", to_epoch_seconds(td.registered_at)},
              {"registeredBy", td.doc.value("registeredBy", "")},
              {"status", td.status}};
    if (td.delete_requested_at) {
      s["deleteRequestedAt"] = to_epoch_seconds(*td.delete_requested_at);
    }
    items.push_back(s);
  }
  json out = {{"daemonTaskDefinitions", items}};
  if (!next.empty()) {
    out["nextToken"] = next;
  }
  return out;
}

// ---- Daemons

// A daemon by its ARN (`daemon/<cluster>/<name>` in this account and region).
state::Daemon* find_daemon(state::RegionState& region, const Scope& scope, const std::string& arn) {
  auto parsed = parse_arn(arn);
  if (!parsed || parsed->service != "ecs" || parsed->account != scope.account ||
      parsed->region != scope.region || !parsed->resource.starts_with("daemon/")) {
    return nullptr;
  }
  auto it = region.daemons.find(parsed->resource.substr(std::string("daemon/").size()));
  return it == region.daemons.end() ? nullptr : &it->second;
}

AwsError daemon_not_found(const std::string& arn) {
  return AwsError::client("DaemonNotFoundException", "The daemon " + arn + " does not exist.");
}

Result<json> check_capacity_providers(const json& arns, const Scope& scope) {
  if (arns.empty()) {
    return invalid_parameter("At least one capacity provider ARN must be specified.");
  }
  for (const auto& a : arns) {
    const std::string arn = a.get<std::string>();
    auto parsed = parse_arn(arn);
    if (!parsed || parsed->service != "ecs" || !parsed->resource.starts_with("capacity-provider/") ||
        parsed->account != scope.account || parsed->region != scope.region) {
      return invalid_parameter("Invalid capacity provider ARN: " + arn);
    }
  }
  return arns;
}

Result<state::DaemonTaskDefinition*> active_daemon_td(state::RegionState& region, const Scope& scope,
                                                      const std::string& ref) {
  auto* td = find_daemon_td(region, scope, ref);
  if (td == nullptr) {
    return client_exception("The daemon task definition " + ref + " does not exist.");
  }
  if (td->status != "ACTIVE") {
    return client_exception("The daemon task definition " + td->arn + " is not ACTIVE.");
  }
  return td;
}

// A new revision of the daemon's current configuration and a deployment that rolls it out. With no instance
// to roll out to, the deployment succeeds at once.
void deploy(state::Daemon& d, const Scope& scope, const state::DaemonTaskDefinition& td, TimeMs now) {
  state::DaemonRevision rev;
  rev.id = ids::digits(19);
  rev.arn = ecs_arn::daemon_revision(scope, d.cluster_name, d.name, rev.id);
  rev.daemon_task_definition_arn = td.arn;
  for (const auto& c : td.doc["containerDefinitions"]) {
    rev.container_images.push_back({{"containerName", c.value("name", "")}, {"image", c.value("image", "")}});
  }
  rev.capacity_provider_arns = d.capacity_provider_arns;
  rev.propagate_tags = d.propagate_tags;
  rev.enable_ecs_managed_tags = d.enable_ecs_managed_tags;
  rev.enable_execute_command = d.enable_execute_command;
  rev.created_at = now;

  state::DaemonDeployment dep;
  dep.id = ids::alnum(16);
  dep.arn = ecs_arn::daemon_deployment(scope, d.cluster_name, d.name, dep.id);
  dep.status = "SUCCESSFUL";
  dep.status_reason =
      "Deployment completed: no container instance is managed by the daemon's capacity providers.";
  dep.target_revision_arn = rev.arn;
  if (!d.revisions.empty()) {
    dep.source_revision_arns.push_back(d.revisions.back().arn);
  }
  dep.deployment_configuration = d.deployment_configuration;
  dep.created_at = now;
  dep.started_at = now;
  dep.finished_at = now;

  d.daemon_task_definition_arn = td.arn;
  d.revisions.push_back(std::move(rev));
  d.deployments.push_back(std::move(dep));
}

// The optional members CreateDaemon and UpdateDaemon share.
Result<Unit> apply_settings(state::Daemon& d, const json& in) {
  if (in.contains("deploymentConfiguration")) {
    const json& dc = in["deploymentConfiguration"];
    if (dc.contains("bakeTimeInMinutes") && dc["bakeTimeInMinutes"].get<long>() < 0) {
      return invalid_parameter("bakeTimeInMinutes must not be negative.");
    }
    d.deployment_configuration = dc;
  }
  if (in.contains("propagateTags")) {
    d.propagate_tags = in["propagateTags"].get<std::string>();
  }
  if (in.contains("enableECSManagedTags")) {
    d.enable_ecs_managed_tags = in["enableECSManagedTags"].get<bool>();
  }
  if (in.contains("enableExecuteCommand")) {
    d.enable_execute_command = in["enableExecuteCommand"].get<bool>();
  }
  return Unit{};
}

Result<json> create_daemon(EcsContext& ctx, const protocol::Call& call) {
  const json& in = call.input;
  const Scope& scope = call.caller.scope;
  auto& region = ctx.store.region(scope);
  const std::string name = in["daemonName"].get<std::string>();
  if (!valid_name(name)) {
    return invalid_parameter(
        "Daemon name can have up to 255 characters: letters (upper and lower case), numbers, underscores and "
        "hyphens.");
  }
  auto cluster = resolve_cluster(region, scope, in, "clusterArn");
  if (!cluster) {
    return cluster.error();
  }
  const std::string token = in.value("clientToken", "");
  if (token.size() > 36 ||
      std::any_of(token.begin(), token.end(), [](char c) { return c < 33 || c > 126; })) {
    return invalid_parameter("clientToken can have up to 36 ASCII characters from 33 to 126.");
  }
  const std::string key = key_of((*cluster)->name, name);
  if (auto it = region.daemons.find(key); it != region.daemons.end() && it->second.status == "ACTIVE") {
    // A retried request (same client token) gets the daemon it created.
    if (!token.empty() && token == it->second.client_token) {
      const auto& d = it->second;
      return json{{"daemonArn", d.arn},
                  {"status", d.status},
                  {"createdAt", to_epoch_seconds(d.created_at)},
                  {"deploymentArn", d.deployments.back().arn}};
    }
    return invalid_parameter("Creation of daemon was not idempotent: daemon " + name + " already exists.");
  }
  auto td = active_daemon_td(region, scope, in["daemonTaskDefinitionArn"].get<std::string>());
  if (!td) {
    return td.error();
  }
  auto providers = check_capacity_providers(in["capacityProviderArns"], scope);
  if (!providers) {
    return providers.error();
  }
  const TimeMs now = ctx.clock.now_ms();
  state::Daemon d;
  d.name = name;
  d.arn = ecs_arn::daemon(scope, (*cluster)->name, name);
  d.cluster_name = (*cluster)->name;
  d.cluster_arn = (*cluster)->arn;
  d.capacity_provider_arns = *providers;
  d.tags = in.value("tags", json::array());
  d.client_token = token;
  d.created_at = now;
  d.updated_at = now;
  if (auto applied = apply_settings(d, in); !applied) {
    return applied.error();
  }
  deploy(d, scope, **td, now);
  auto& stored = region.daemons[key] = std::move(d);
  return json{{"daemonArn", stored.arn},
              {"status", stored.status},
              {"createdAt", to_epoch_seconds(stored.created_at)},
              {"deploymentArn", stored.deployments.back().arn}};
}

json daemon_answer(const state::Daemon& d) {
  return {{"daemonArn", d.arn},
          {"status", d.status},
          {"createdAt", to_epoch_seconds(d.created_at)},
          {"updatedAt", to_epoch_seconds(d.updated_at)},
          {"deploymentArn", d.deployments.back().arn}};
}

Result<json> update_daemon(EcsContext& ctx, const protocol::Call& call) {
  const json& in = call.input;
  const Scope& scope = call.caller.scope;
  auto& region = ctx.store.region(scope);
  const std::string arn = in["daemonArn"].get<std::string>();
  auto* d = find_daemon(region, scope, arn);
  if (d == nullptr) {
    return daemon_not_found(arn);
  }
  if (d->status != "ACTIVE") {
    return AwsError::client("DaemonNotActiveException", "The daemon " + arn + " is not ACTIVE.");
  }
  auto td = active_daemon_td(region, scope, in["daemonTaskDefinitionArn"].get<std::string>());
  if (!td) {
    return td.error();
  }
  auto providers = check_capacity_providers(in["capacityProviderArns"], scope);
  if (!providers) {
    return providers.error();
  }
  state::Daemon updated = *d;
  updated.capacity_provider_arns = *providers;
  if (auto applied = apply_settings(updated, in); !applied) {
    return applied.error();
  }
  const TimeMs now = ctx.clock.now_ms();
  updated.updated_at = now;
  deploy(updated, scope, **td, now);
  *d = std::move(updated);
  return daemon_answer(*d);
}

Result<json> delete_daemon(EcsContext& ctx, const protocol::Call& call) {
  const Scope& scope = call.caller.scope;
  const std::string arn = call.input["daemonArn"].get<std::string>();
  auto* d = find_daemon(ctx.store.region(scope), scope, arn);
  if (d == nullptr) {
    return daemon_not_found(arn);
  }
  if (d->status != "ACTIVE") {
    return AwsError::client("DaemonNotActiveException", "The daemon " + arn + " is not ACTIVE.");
  }
  d->status = "DELETE_IN_PROGRESS";
  d->updated_at = ctx.clock.now_ms();
  return daemon_answer(*d);
}

json revision_detail_for_describe(const state::DaemonRevision& r) {
  json providers = json::array();
  for (const auto& cp : r.capacity_provider_arns) {
    providers.push_back({{"arn", cp}, {"runningCount", 0}});
  }
  return {{"arn", r.arn}, {"capacityProviders", providers}, {"totalRunningCount", 0}};
}

Result<json> describe_daemon(EcsContext& ctx, const protocol::Call& call) {
  const Scope& scope = call.caller.scope;
  const std::string arn = call.input["daemonArn"].get<std::string>();
  const auto* d = find_daemon(ctx.store.region(scope), scope, arn);
  if (d == nullptr) {
    return daemon_not_found(arn);
  }
  json current = json::array();
  if (d->status == "ACTIVE") {
    current.push_back(revision_detail_for_describe(d->revisions.back()));
  }
  return json{{"daemon",
               {{"daemonArn", d->arn},
                {"clusterArn", d->cluster_arn},
                {"status", d->status},
                {"currentRevisions", current},
                {"deploymentArn", d->deployments.back().arn},
                {"createdAt", to_epoch_seconds(d->created_at)},
                {"updatedAt", to_epoch_seconds(d->updated_at)}}}};
}

Result<json> list_daemons(EcsContext& ctx, const protocol::Call& call) {
  const json& in = call.input;
  const Scope& scope = call.caller.scope;
  auto& region = ctx.store.region(scope);
  std::string cluster_name;
  if (in.contains("clusterArn")) {
    auto cluster = resolve_cluster(region, scope, in, "clusterArn");
    if (!cluster) {
      return cluster.error();
    }
    cluster_name = (*cluster)->name;
  }
  const json providers = in.value("capacityProviderArns", json::array());
  std::map<std::string, const state::Daemon*> by_arn;
  for (const auto& [key, d] : region.daemons) {
    if (!cluster_name.empty() && d.cluster_name != cluster_name) {
      continue;
    }
    if (!providers.empty() && std::none_of(providers.begin(), providers.end(), [&](const json& p) {
          return std::find(d.capacity_provider_arns.begin(), d.capacity_provider_arns.end(), p) !=
                 d.capacity_provider_arns.end();
        })) {
      continue;
    }
    by_arn.emplace(d.arn, &d);
  }
  std::vector<std::string> arns;
  for (const auto& [arn, d] : by_arn) {
    arns.push_back(arn);
  }
  auto page = paginate_input(arns, in, 100);
  if (!page) {
    return page.error();
  }
  json items = json::array();
  for (const auto& arn : page->items) {
    const auto* d = by_arn.at(arn);
    items.push_back({{"daemonArn", d->arn},
                     {"status", d->status},
                     {"createdAt", to_epoch_seconds(d->created_at)},
                     {"updatedAt", to_epoch_seconds(d->updated_at)}});
  }
  json out = {{"daemonSummariesList", items}};
  if (!page->next_token.empty()) {
    out["nextToken"] = page->next_token;
  }
  return out;
}

// ---- Revisions and deployments

// `<kind>/<cluster>/<daemon>/<id>` -> the daemon and the id.
std::pair<const state::Daemon*, std::string> daemon_part_of(const state::RegionState& region,
                                                            const Scope& scope, const std::string& arn,
                                                            std::string_view kind) {
  auto parsed = parse_arn(arn);
  if (!parsed || parsed->service != "ecs" || parsed->account != scope.account ||
      parsed->region != scope.region || !parsed->resource.starts_with(std::string(kind) + "/")) {
    return {nullptr, ""};
  }
  const std::string rest = parsed->resource.substr(kind.size() + 1);
  const auto slash = rest.rfind('/');
  if (slash == std::string::npos) {
    return {nullptr, ""};
  }
  auto it = region.daemons.find(rest.substr(0, slash));
  return {it == region.daemons.end() ? nullptr : &it->second, rest.substr(slash + 1)};
}

const state::DaemonRevision* find_revision(const state::Daemon& d, const std::string& arn) {
  for (const auto& r : d.revisions) {
    if (r.arn == arn) {
      return &r;
    }
  }
  return nullptr;
}

json deployment_revision_detail(const state::Daemon& d, const std::string& revision_arn) {
  json providers = json::array();
  if (const auto* r = find_revision(d, revision_arn)) {
    for (const auto& cp : r->capacity_provider_arns) {
      providers.push_back({{"arn", cp}, {"runningInstanceCount", 0}, {"drainingInstanceCount", 0}});
    }
  }
  return {{"arn", revision_arn},
          {"capacityProviders", providers},
          {"totalRunningInstanceCount", 0},
          {"totalDrainingInstanceCount", 0}};
}

void put_time(json& out, const char* key, const std::optional<TimeMs>& t) {
  if (t) {
    out[key] = to_epoch_seconds(*t);
  }
}

json render_deployment(const state::Daemon& d, const state::DaemonDeployment& dep) {
  json sources = json::array();
  for (const auto& arn : dep.source_revision_arns) {
    sources.push_back(deployment_revision_detail(d, arn));
  }
  const json alarms_cfg = dep.deployment_configuration.value("alarms", json::object());
  const bool alarms_on = alarms_cfg.value("enable", false);
  json out = {{"daemonDeploymentArn", dep.arn},
              {"clusterArn", d.cluster_arn},
              {"status", dep.status},
              {"targetDaemonRevision", deployment_revision_detail(d, dep.target_revision_arn)},
              {"sourceDaemonRevisions", sources},
              {"circuitBreaker", {{"failureCount", 0}, {"status", "MONITORING_COMPLETE"}}},
              {"alarms",
               {{"status", alarms_on ? "MONITORING_COMPLETE" : "DISABLED"},
                {"alarmNames", alarms_cfg.value("alarmNames", json::array())},
                {"triggeredAlarmNames", json::array()}}},
              {"deploymentConfiguration", dep.deployment_configuration},
              {"createdAt", to_epoch_seconds(dep.created_at)}};
  if (!dep.status_reason.empty()) {
    out["statusReason"] = dep.status_reason;
  }
  put_time(out, "startedAt", dep.started_at);
  put_time(out, "stoppedAt", dep.stopped_at);
  put_time(out, "finishedAt", dep.finished_at);
  return out;
}

Result<json> describe_daemon_deployments(EcsContext& ctx, const protocol::Call& call) {
  const Scope& scope = call.caller.scope;
  const auto& region = ctx.store.region(scope);
  const json& arns = call.input["daemonDeploymentArns"];
  if (arns.size() > 20) {
    return invalid_parameter("You can specify up to 20 daemon deployment ARNs.");
  }
  json deployments = json::array();
  json failures = json::array();
  for (const auto& a : arns) {
    const std::string arn = a.get<std::string>();
    auto [d, id] = daemon_part_of(region, scope, arn, "daemon-deployment");
    const state::DaemonDeployment* found = nullptr;
    if (d != nullptr) {
      for (const auto& dep : d->deployments) {
        if (dep.arn == arn) {
          found = &dep;
        }
      }
    }
    if (found == nullptr) {
      failures.push_back({{"arn", arn}, {"reason", "MISSING"}});
      continue;
    }
    deployments.push_back(render_deployment(*d, *found));
  }
  return json{{"daemonDeployments", deployments}, {"failures", failures}};
}

Result<json> describe_daemon_revisions(EcsContext& ctx, const protocol::Call& call) {
  const Scope& scope = call.caller.scope;
  const auto& region = ctx.store.region(scope);
  const json& arns = call.input["daemonRevisionArns"];
  if (arns.size() > 20) {
    return invalid_parameter("You can specify up to 20 daemon revision ARNs.");
  }
  json revisions = json::array();
  json failures = json::array();
  for (const auto& a : arns) {
    const std::string arn = a.get<std::string>();
    auto [d, id] = daemon_part_of(region, scope, arn, "daemon-revision");
    const state::DaemonRevision* r = d == nullptr ? nullptr : find_revision(*d, arn);
    if (r == nullptr) {
      failures.push_back({{"arn", arn}, {"reason", "MISSING"}});
      continue;
    }
    revisions.push_back({{"daemonRevisionArn", r->arn},
                         {"clusterArn", d->cluster_arn},
                         {"daemonArn", d->arn},
                         {"daemonTaskDefinitionArn", r->daemon_task_definition_arn},
                         {"createdAt", to_epoch_seconds(r->created_at)},
                         {"containerImages", r->container_images},
                         {"propagateTags", r->propagate_tags},
                         {"enableECSManagedTags", r->enable_ecs_managed_tags},
                         {"enableExecuteCommand", r->enable_execute_command}});
  }
  return json{{"daemonRevisions", revisions}, {"failures", failures}};
}

Result<json> list_daemon_deployments(EcsContext& ctx, const protocol::Call& call) {
  const json& in = call.input;
  const Scope& scope = call.caller.scope;
  const std::string arn = in["daemonArn"].get<std::string>();
  const auto* d = find_daemon(ctx.store.region(scope), scope, arn);
  if (d == nullptr) {
    return client_exception("The daemon " + arn + " does not exist.");
  }
  const json statuses = in.value("status", json::array());
  const json created = in.value("createdAt", json::object());
  std::vector<const state::DaemonDeployment*> found;
  // Newest first.
  for (auto it = d->deployments.rbegin(); it != d->deployments.rend(); ++it) {
    if (!statuses.empty() && std::find(statuses.begin(), statuses.end(), it->status) == statuses.end()) {
      continue;
    }
    const double at = to_epoch_seconds(it->created_at);
    auto bound = [&](const char* k) { return created.contains(k) && created[k].is_number(); };
    if ((bound("before") && at >= created["before"].get<double>()) ||
        (bound("after") && at <= created["after"].get<double>())) {
      continue;
    }
    found.push_back(&*it);
  }
  std::string next;
  auto range = page_range(found.size(), in, 20, next);
  if (!range) {
    return range.error();
  }
  json items = json::array();
  for (std::size_t i = range->first; i < range->second; ++i) {
    const auto& dep = *found[i];
    json s = {{"daemonDeploymentArn", dep.arn},
              {"daemonArn", d->arn},
              {"clusterArn", d->cluster_arn},
              {"status", dep.status},
              {"targetDaemonRevisionArn", dep.target_revision_arn},
              {"createdAt", to_epoch_seconds(dep.created_at)}};
    if (!dep.status_reason.empty()) {
      s["statusReason"] = dep.status_reason;
    }
    put_time(s, "startedAt", dep.started_at);
    put_time(s, "stoppedAt", dep.stopped_at);
    put_time(s, "finishedAt", dep.finished_at);
    items.push_back(s);
  }
  json out = {{"daemonDeployments", items}};
  if (!next.empty()) {
    out["nextToken"] = next;
  }
  return out;
}

}  // namespace

void register_daemon_handlers(protocol::HandlerTable& table, EcsContext& ctx) {
  auto add = [&](const char* op, Result<json> (*fn)(EcsContext&, const protocol::Call&)) {
    table.add("ecs", op, [&ctx, fn](const protocol::Call& c) { return fn(ctx, c); });
  };
  add("RegisterDaemonTaskDefinition", register_daemon_task_definition);
  add("DescribeDaemonTaskDefinition", describe_daemon_task_definition);
  add("DeleteDaemonTaskDefinition", delete_daemon_task_definition);
  add("ListDaemonTaskDefinitions", list_daemon_task_definitions);
  add("CreateDaemon", create_daemon);
  add("UpdateDaemon", update_daemon);
  add("DeleteDaemon", delete_daemon);
  add("DescribeDaemon", describe_daemon);
  add("ListDaemons", list_daemons);
  add("DescribeDaemonDeployments", describe_daemon_deployments);
  add("DescribeDaemonRevisions", describe_daemon_revisions);
  add("ListDaemonDeployments", list_daemon_deployments);
}

}  // namespace berth::services::ecs
