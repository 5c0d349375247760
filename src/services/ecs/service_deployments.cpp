// ListServiceDeployments, DescribeServiceDeployments, DescribeServiceRevisions, StopServiceDeployment,
// ContinueServiceDeployment: the service history API. A service deployment and its target service revision are
// recorded for every deployment of a service that uses the ECS deployment controller.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <ctime>

#include "service_support.hpp"
#include <berth/services/paging.hpp>

namespace berth::services::ecs {
namespace {

constexpr std::size_t kMaxDescribeArns = 20;

AwsError deployment_not_found() {
  return AwsError::client("ServiceDeploymentNotFoundException", "Service deployment not found.");
}

// A timestamp member as epoch seconds. Clients send numbers; the validator also lets RFC 3339 strings through
// (2024-05-01T12:00:00.5+02:00), which are converted here.
double epoch_seconds_of(const json& v) {
  if (v.is_number()) {
    return v.get<double>();
  }
  const std::string s = v.get<std::string>();
  std::tm tm{};
  tm.tm_year = std::atoi(s.substr(0, 4).c_str()) - 1900;
  tm.tm_mon = std::atoi(s.substr(5, 2).c_str()) - 1;
  tm.tm_mday = std::atoi(s.substr(8, 2).c_str());
  tm.tm_hour = std::atoi(s.substr(11, 2).c_str());
  tm.tm_min = std::atoi(s.substr(14, 2).c_str());
  tm.tm_sec = std::atoi(s.substr(17, 2).c_str());
  double seconds = static_cast<double>(timegm(&tm));
  std::size_t i = 19;
  if (i < s.size() && s[i] == '.') {
    std::size_t end = s.find_first_not_of("0123456789", i + 1);
    end = end == std::string::npos ? s.size() : end;
    seconds += std::atof(("0" + s.substr(i, end - i)).c_str());
    i = end;
  }
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    const std::string zone = s.substr(i + 1);
    const int hours = std::atoi(zone.substr(0, 2).c_str());
    const int minutes = std::atoi(zone.substr(zone.size() - 2).c_str());
    const double offset = hours * 3600.0 + minutes * 60.0;
    seconds += s[i] == '+' ? -offset : offset;
  }
  return seconds;
}

// The service a service deployment or revision belongs to, if it still exists under that ARN.
const state::Service* service_by_arn(const state::RegionState& region, const std::string& service_arn) {
  for (const auto& [key, svc] : region.services) {
    if (svc.arn == service_arn) {
      return &svc;
    }
  }
  return nullptr;
}

json revision_summary(const state::RegionState& region, const std::string& revision_arn) {
  json out = {{"arn", revision_arn}, {"requestedTaskCount", 0}, {"runningTaskCount", 0}, {"pendingTaskCount", 0}};
  auto rev = region.service_revisions.find(revision_arn);
  if (rev == region.service_revisions.end()) {
    return out;
  }
  const state::Service* svc = service_by_arn(region, rev->second.service_arn);
  if (svc == nullptr) {
    return out;
  }
  const std::string id = state::deployment_id_of_revision(revision_arn);
  for (const auto& d : svc->deployments) {
    if (d.id == id) {
      out["requestedTaskCount"] = d.desired_count;
    }
  }
  const state::TaskCounts c = state::service_task_counts(region, svc->cluster_name, svc->name, id);
  out["runningTaskCount"] = c.running;
  out["pendingTaskCount"] = c.pending;
  return out;
}

void put_times(json& out, const state::ServiceDeployment& d) {
  out["createdAt"] = to_epoch_seconds(d.created_at);
  if (d.started_at) {
    out["startedAt"] = to_epoch_seconds(*d.started_at);
  }
  if (d.finished_at) {
    out["finishedAt"] = to_epoch_seconds(*d.finished_at);
  }
}

json render_brief(const state::ServiceDeployment& d) {
  json out = {{"serviceDeploymentArn", d.arn},
              {"serviceArn", d.service_arn},
              {"clusterArn", d.cluster_arn},
              {"targetServiceRevisionArn", d.target_revision_arn},
              {"status", d.status}};
  put_times(out, d);
  if (!d.status_reason.empty()) {
    out["statusReason"] = d.status_reason;
  }
  return out;
}

json render_full(const state::RegionState& region, const state::ServiceDeployment& d) {
  json sources = json::array();
  for (const auto& arn : d.source_revision_arns) {
    sources.push_back(revision_summary(region, arn));
  }
  json out = {{"serviceDeploymentArn", d.arn},
              {"serviceArn", d.service_arn},
              {"clusterArn", d.cluster_arn},
              {"updatedAt", to_epoch_seconds(d.updated_at)},
              {"sourceServiceRevisions", sources},
              {"targetServiceRevision", revision_summary(region, d.target_revision_arn)},
              {"status", d.status},
              {"deploymentConfiguration", d.deployment_configuration}};
  put_times(out, d);
  if (d.stopped_at) {
    out["stoppedAt"] = to_epoch_seconds(*d.stopped_at);
  }
  if (!d.status_reason.empty()) {
    out["statusReason"] = d.status_reason;
  }
  if (d.rollback.is_object()) {
    json rb = d.rollback;
    rb["startedAt"] = to_epoch_seconds(d.rollback.value("startedAt", TimeMs{0}));
    out["rollback"] = rb;
  }
  const json& cb = d.deployment_configuration.value("deploymentCircuitBreaker", json::object());
  if (cb.value("enable", false)) {
    const int requested = out["targetServiceRevision"]["requestedTaskCount"].get<int>();
    const char* status = d.circuit_breaker_triggered ? "TRIGGERED"
                         : state::is_terminal(d)     ? "MONITORING_COMPLETE"
                                                     : "MONITORING";
    out["deploymentCircuitBreaker"] = {{"status", status},
                                       {"failureCount", d.circuit_breaker_failures},
                                       {"threshold", state::circuit_breaker_threshold(requested)}};
  }
  const json& alarms = d.deployment_configuration.value("alarms", json::object());
  if (alarms.value("enable", false)) {
    out["alarms"] = {{"status", state::is_terminal(d) ? "MONITORING_COMPLETE" : "MONITORING"},
                     {"alarmNames", alarms.value("alarmNames", json::array())},
                     {"triggeredAlarmNames", json::array()}};
  }
  return out;
}

json render_revision(const state::ServiceRevision& r) {
  json out = {{"serviceRevisionArn", r.arn},
              {"serviceArn", r.service_arn},
              {"clusterArn", r.cluster_arn},
              {"taskDefinition", r.spec.task_definition_arn}};
  put_spec_placement(out, r.spec, true);
  out["loadBalancers"] = r.spec.load_balancers;
  out["serviceRegistries"] = r.spec.service_registries;
  out["containerImages"] = r.container_images;
  out["guardDutyEnabled"] = false;
  if (!r.spec.service_connect_configuration.is_null()) {
    out["serviceConnectConfiguration"] = r.spec.service_connect_configuration;
  }
  if (!r.spec.volume_configurations.is_null()) {
    out["volumeConfigurations"] = r.spec.volume_configurations;
  }
  if (!r.spec.vpc_lattice_configurations.is_null()) {
    out["vpcLatticeConfigurations"] = r.spec.vpc_lattice_configurations;
  }
  out["createdAt"] = to_epoch_seconds(r.created_at);
  return out;
}

Result<json> list_service_deployments(EcsContext& ctx, const protocol::Call& call) {
  const json& in = call.input;
  const Scope& scope = call.caller.scope;
  auto& region = ctx.store.region(scope);
  auto cluster = resolve_cluster(region, scope, in);
  if (!cluster) {
    return cluster.error();
  }
  const auto* svc = find_service(region, scope, **cluster, in["service"].get<std::string>());
  if (svc == nullptr) {
    return service_not_found();
  }
  const json statuses = in.value("status", json::array());
  std::optional<double> before;
  std::optional<double> after;
  if (auto it = in.find("createdAt"); it != in.end()) {
    if (it->contains("before")) {
      before = epoch_seconds_of((*it)["before"]);
    }
    if (it->contains("after")) {
      after = epoch_seconds_of((*it)["after"]);
    }
  }
  // Newest first; the page token is a position in that order.
  std::vector<const state::ServiceDeployment*> found;
  for (const auto& [arn, d] : region.service_deployments) {
    if (d.service_arn != svc->arn) {
      continue;
    }
    if (!statuses.empty() && std::find(statuses.begin(), statuses.end(), d.status) == statuses.end()) {
      continue;
    }
    const double created = to_epoch_seconds(d.created_at);
    if ((before && created >= *before) || (after && created <= *after)) {
      continue;
    }
    found.push_back(&d);
  }
  std::stable_sort(found.begin(), found.end(), [](const auto* a, const auto* b) { return a->created_at > b->created_at; });
  std::vector<std::string> positions;
  for (std::size_t i = 0; i < found.size(); ++i) {
    char pos[24];
    std::snprintf(pos, sizeof(pos), "%012zu", i);
    positions.emplace_back(pos);
  }
  auto page = paginate_input(positions, in, 20);
  if (!page) {
    return page.error();
  }
  json items = json::array();
  for (const auto& p : page->items) {
    items.push_back(render_brief(*found[std::stoul(p)]));
  }
  json out = {{"serviceDeployments", items}};
  if (!page->next_token.empty()) {
    out["nextToken"] = page->next_token;
  }
  return out;
}

Result<json> describe_service_deployments(EcsContext& ctx, const protocol::Call& call) {
  auto& region = ctx.store.region(call.caller.scope);
  const json& arns = call.input["serviceDeploymentArns"];
  if (arns.empty() || arns.size() > kMaxDescribeArns) {
    return invalid_parameter("serviceDeploymentArns should have between 1 and 20 elements.");
  }
  json items = json::array();
  json failures = json::array();
  for (const auto& a : arns) {
    const std::string arn = a.get<std::string>();
    auto it = region.service_deployments.find(arn);
    if (it == region.service_deployments.end()) {
      failures.push_back({{"arn", arn}, {"reason", "MISSING"}});
      continue;
    }
    items.push_back(render_full(region, it->second));
  }
  return json{{"serviceDeployments", items}, {"failures", failures}};
}

Result<json> describe_service_revisions(EcsContext& ctx, const protocol::Call& call) {
  auto& region = ctx.store.region(call.caller.scope);
  const json& arns = call.input["serviceRevisionArns"];
  if (arns.empty() || arns.size() > kMaxDescribeArns) {
    return invalid_parameter("serviceRevisionArns should have between 1 and 20 elements.");
  }
  json items = json::array();
  json failures = json::array();
  for (const auto& a : arns) {
    const std::string arn = a.get<std::string>();
    auto it = region.service_revisions.find(arn);
    if (it == region.service_revisions.end()) {
      failures.push_back({{"arn", arn}, {"reason", "MISSING"}});
      continue;
    }
    items.push_back(render_revision(it->second));
  }
  return json{{"serviceRevisions", items}, {"failures", failures}};
}

// ROLLBACK: the service goes back to the revision it ran before this deployment, as a new deployments[] entry
// that carries the same service deployment (ROLLBACK_REQUESTED, then ROLLBACK_SUCCESSFUL once steady).
Result<json> stop_service_deployment(EcsContext& ctx, const protocol::Call& call) {
  const Scope& scope = call.caller.scope;
  auto& region = ctx.store.region(scope);
  const std::string arn = call.input["serviceDeploymentArn"].get<std::string>();
  auto it = region.service_deployments.find(arn);
  if (it == region.service_deployments.end()) {
    return deployment_not_found();
  }
  state::ServiceDeployment& d = it->second;
  if (call.input.value("stopType", "ROLLBACK") != "ROLLBACK") {
    return invalid_parameter("The stop type ABORT isn't supported. The valid value is ROLLBACK.");
  }
  if (state::is_terminal(d)) {
    return AwsError::client("ConflictException", "The service deployment " + d.arn + " is " + d.status +
                                                     " and can no longer be stopped.");
  }
  if (d.status == "STOP_REQUESTED" || d.status.starts_with("ROLLBACK_")) {
    return json{{"serviceDeploymentArn", d.arn}};  // already being stopped: it carries on
  }
  auto svc_it = std::find_if(region.services.begin(), region.services.end(),
                             [&](const auto& kv) { return kv.second.arn == d.service_arn; });
  if (svc_it == region.services.end() || svc_it->second.status != "ACTIVE") {
    return AwsError::client("ConflictException", "The service of this service deployment is not ACTIVE.");
  }
  state::Service& svc = svc_it->second;
  if (d.source_revision_arns.empty()) {
    return AwsError::client("ConflictException",
                            "The service deployment has no previous service revision to roll back to.");
  }
  const std::string source = d.source_revision_arns.front();
  auto rev = region.service_revisions.find(source);
  if (rev == region.service_revisions.end()) {
    return AwsError::client("ConflictException", "The previous service revision " + source + " no longer exists.");
  }
  const TimeMs now = ctx.clock.now_ms();
  const std::string failed_id = d.deployment_id;
  for (auto& dep : svc.deployments) {
    if (dep.id == failed_id) {
      dep.rollout_state = "FAILED";
      dep.rollout_state_reason = "ECS deployment " + dep.id + " stopped: rolling back.";
      dep.updated_at = now;
    }
  }
  d.status_reason = "Service deployment rollback requested by StopServiceDeployment.";
  state::roll_back(region, scope, svc, d, source, "Service deployment stopped with stop type ROLLBACK.",
                   "ECS deployment " + state::deployment_id_of_revision(source) + " in progress.", "ROLLBACK_REQUESTED",
                   now);
  ctx.notify_service(scope, state::service_key(svc.cluster_name, svc.name));
  return json{{"serviceDeploymentArn", d.arn}};
}

// berth runs no lifecycle hooks (blue/green traffic shifting is not simulated), so no deployment ever waits on
// one: every hook id is unknown.
Result<json> continue_service_deployment(EcsContext& ctx, const protocol::Call& call) {
  auto& region = ctx.store.region(call.caller.scope);
  const std::string arn = call.input["serviceDeploymentArn"].get<std::string>();
  if (region.service_deployments.find(arn) == region.service_deployments.end()) {
    return deployment_not_found();
  }
  return invalid_parameter("The service deployment is not paused at lifecycle hook " +
                           call.input["hookId"].get<std::string>() + ".");
}

}  // namespace

void register_service_deployment_api_handlers(protocol::HandlerTable& table, EcsContext& ctx) {
  table.add("ecs", "ListServiceDeployments", [&ctx](const protocol::Call& c) { return list_service_deployments(ctx, c); });
  table.add("ecs", "DescribeServiceDeployments",
            [&ctx](const protocol::Call& c) { return describe_service_deployments(ctx, c); });
  table.add("ecs", "DescribeServiceRevisions",
            [&ctx](const protocol::Call& c) { return describe_service_revisions(ctx, c); });
  table.add("ecs", "StopServiceDeployment", [&ctx](const protocol::Call& c) { return stop_service_deployment(ctx, c); });
  table.add("ecs", "ContinueServiceDeployment",
            [&ctx](const protocol::Call& c) { return continue_service_deployment(ctx, c); });
}

}  // namespace berth::services::ecs
