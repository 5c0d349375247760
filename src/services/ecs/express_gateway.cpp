// Express gateway services: a Fargate service behind a managed Application Load Balancer. berth stores and
// describes them as ECS does; no task runs and no load balancer, endpoint or scaling policy exists behind
// them.
#include <algorithm>

#include <berth/common/ids.hpp>
#include <berth/protocol/projection.hpp>
#include "ecs_common.hpp"

namespace berth::services::ecs {
namespace {

constexpr char kDefaultCpu[] = "256";
constexpr char kDefaultMemory[] = "512";
constexpr char kDefaultHealthCheckPath[] = "/ping";
constexpr int kDefaultContainerPort = 80;

bool valid_name(const std::string& s) {
  return !s.empty() && s.size() <= 255 && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

std::string key_of(const std::string& cluster, const std::string& name) { return cluster + "/" + name; }

std::optional<AwsError> check_role(const json& in, const char* key) {
  if (!in.contains(key)) {
    return std::nullopt;
  }
  const std::string arn = in[key].get<std::string>();
  auto parsed = parse_arn(arn);
  if (!parsed || parsed->service != "iam" || !parsed->resource.starts_with("role/")) {
    return invalid_parameter(std::string(key) + " must be the ARN of an IAM role: " + arn);
  }
  return std::nullopt;
}

// Validates the configurable members and fills ECS's defaults into `config` (an
// ExpressGatewayServiceConfiguration document without its revision ARN and time).
std::optional<AwsError> apply_configuration(json& config, const json& in,
                                            const protocol::ServiceModel& model) {
  for (const char* role : {"executionRoleArn", "taskRoleArn"}) {
    if (auto bad = check_role(in, role)) {
      return bad;
    }
    if (in.contains(role)) {
      config[role] = in[role];
    }
  }
  if (in.contains("primaryContainer")) {
    config["primaryContainer"] =
        protocol::project_to_shape(model, "ExpressGatewayContainer", in["primaryContainer"]);
  }
  json& container = config["primaryContainer"];
  if (container.value("image", "").empty()) {
    return invalid_parameter("primaryContainer.image should not be null or empty.");
  }
  const int port = container.value("containerPort", kDefaultContainerPort);
  if (port < 1 || port > 65535) {
    return invalid_parameter("primaryContainer.containerPort must be between 1 and 65535.");
  }
  container["containerPort"] = port;
  if (in.contains("healthCheckPath")) {
    config["healthCheckPath"] = in["healthCheckPath"];
  }
  if (!config.value("healthCheckPath", "").starts_with("/")) {
    return invalid_parameter("healthCheckPath must start with a forward slash (/).");
  }
  for (const char* key : {"cpu", "memory"}) {
    if (in.contains(key)) {
      const std::string raw = in[key].get<std::string>();
      const std::string norm =
          std::string(key) == "cpu" ? normalize_task_cpu(raw) : normalize_task_memory(raw);
      if (norm.empty()) {
        return invalid_parameter("Invalid '" + std::string(key) + "' setting: " + raw);
      }
      config[key] = norm;
    }
  }
  const long cpu = std::stol(config["cpu"].get<std::string>());
  const long memory = std::stol(config["memory"].get<std::string>());
  if (!fargate_combination_valid(cpu, memory)) {
    return invalid_parameter("No Fargate configuration exists for given values: " + std::to_string(cpu) +
                             " CPU, " + std::to_string(memory) + " memory.");
  }
  if (in.contains("networkConfiguration")) {
    config["networkConfiguration"] = in["networkConfiguration"];
  }
  if (in.contains("scalingTarget")) {
    json target = config.value("scalingTarget", json::object());
    target.update(in["scalingTarget"]);
    config["scalingTarget"] = target;
  }
  json& target = config["scalingTarget"];
  if (!target.contains("autoScalingMetric")) {
    target["autoScalingMetric"] = "AVERAGE_CPU";
  }
  if (!target.contains("autoScalingTargetValue")) {
    target["autoScalingTargetValue"] = 60;
  }
  if (target.value("minTaskCount", 0) < 0 ||
      (target.contains("minTaskCount") && target.contains("maxTaskCount") &&
       target["minTaskCount"].get<int>() > target["maxTaskCount"].get<int>())) {
    return invalid_parameter("scalingTarget.minTaskCount must be between 0 and maxTaskCount.");
  }
  // No load balancer is created, so the service has no entry point.
  config["ingressPaths"] = json::array();
  return std::nullopt;
}

json render_status(const state::ExpressGatewayService& s, const std::string& status) {
  json out = {{"statusCode", status}};
  if (!s.status_reason.empty()) {
    out["statusReason"] = s.status_reason;
  }
  return out;
}

json render_service(const state::ExpressGatewayService& s, bool with_tags, const std::string& status) {
  json out = {{"cluster", s.cluster_name},
              {"serviceName", s.name},
              {"serviceArn", s.arn},
              {"infrastructureRoleArn", s.infrastructure_role_arn},
              {"status", render_status(s, status)},
              {"currentDeployment", s.current_deployment},
              {"activeConfigurations", json::array({s.configurations.back()})},
              {"createdAt", to_epoch_seconds(s.created_at)},
              {"updatedAt", to_epoch_seconds(s.updated_at)}};
  if (with_tags) {
    out["tags"] = s.tags;
  }
  return out;
}

// A new service revision holding `config`, rolled out by a new deployment.
void deploy(state::ExpressGatewayService& s, const Scope& scope, json config, TimeMs now) {
  config["serviceRevisionArn"] = ecs_arn::service_revision(scope, s.cluster_name, s.name, ids::digits(19));
  config["createdAt"] = to_epoch_seconds(now);
  s.configurations.push_back(std::move(config));
  s.current_deployment = ecs_arn::service_deployment(scope, s.cluster_name, s.name, ids::alnum(21));
  s.updated_at = now;
}

// An Express service by its service ARN (`service/<cluster>/<name>` in this account and region).
Result<state::ExpressGatewayService*> find_service(state::RegionState& region, const Scope& scope,
                                                   const std::string& arn, const char* not_found_type) {
  auto parsed = parse_arn(arn);
  if (!parsed || parsed->service != "ecs" || !parsed->resource.starts_with("service/")) {
    return invalid_parameter("Invalid service ARN: " + arn);
  }
  auto it = region.express_gateway_services.find(parsed->resource.substr(std::string("service/").size()));
  if (it == region.express_gateway_services.end() || it->second.arn != arn ||
      (parsed->account != scope.account || parsed->region != scope.region)) {
    return AwsError::client(not_found_type, "Service not found.");
  }
  return &it->second;
}

Result<json> create_express_gateway_service(EcsContext& ctx, const protocol::Call& call) {
  const json& in = call.input;
  const Scope& scope = call.caller.scope;
  auto& region = ctx.store.region(scope);
  auto cluster = resolve_cluster(region, scope, in);
  if (!cluster) {
    return cluster.error();
  }
  std::string name = in.value("serviceName", "");
  if (name.empty()) {
    name = "express-" + ids::hex32().substr(0, 12);
  } else if (!valid_name(name)) {
    return invalid_parameter(
        "Service name can have up to 255 characters: letters (upper and lower case), numbers, underscores "
        "and "
        "hyphens.");
  }
  if (auto bad = check_role(in, "infrastructureRoleArn")) {
    return *bad;
  }
  const std::string key = key_of((*cluster)->name, name);
  if (auto it = region.express_gateway_services.find(key);
      it != region.express_gateway_services.end() && it->second.status != "INACTIVE") {
    return invalid_parameter("Creation of service was not idempotent.");
  }
  json config = {
      {"cpu", kDefaultCpu}, {"memory", kDefaultMemory}, {"healthCheckPath", kDefaultHealthCheckPath}};
  if (auto bad = apply_configuration(config, in, *call.service)) {
    return *bad;
  }
  const TimeMs now = ctx.clock.now_ms();
  state::ExpressGatewayService s;
  s.name = name;
  s.arn = ecs_arn::service(scope, (*cluster)->name, name);
  s.cluster_name = (*cluster)->name;
  s.cluster_arn = (*cluster)->arn;
  s.infrastructure_role_arn = in["infrastructureRoleArn"].get<std::string>();
  s.tags = in.value("tags", json::array());
  s.created_at = now;
  deploy(s, scope, std::move(config), now);
  auto& stored = region.express_gateway_services[key] = std::move(s);
  return json{{"service", render_service(stored, true, stored.status)}};
}

Result<json> describe_express_gateway_service(EcsContext& ctx, const protocol::Call& call) {
  const Scope& scope = call.caller.scope;
  auto s = find_service(ctx.store.region(scope), scope, call.input["serviceArn"].get<std::string>(),
                        "ResourceNotFoundException");
  if (!s) {
    return s.error();
  }
  const json include = call.input.value("include", json::array());
  const bool with_tags = std::find(include.begin(), include.end(), "TAGS") != include.end();
  return json{{"service", render_service(**s, with_tags, (*s)->status)}};
}

Result<json> update_express_gateway_service(EcsContext& ctx, const protocol::Call& call) {
  const json& in = call.input;
  const Scope& scope = call.caller.scope;
  auto s = find_service(ctx.store.region(scope), scope, in["serviceArn"].get<std::string>(),
                        "ServiceNotFoundException");
  if (!s) {
    return s.error();
  }
  if ((*s)->status != "ACTIVE") {
    return AwsError::client("ServiceNotActiveException", "Service was not ACTIVE.");
  }
  // The new configuration is the current one with the given members changed.
  json config = (*s)->configurations.back();
  config.erase("serviceRevisionArn");
  config.erase("createdAt");
  if (auto bad = apply_configuration(config, in, *call.service)) {
    return *bad;
  }
  deploy(**s, scope, std::move(config), ctx.clock.now_ms());
  const auto& svc = **s;
  return json{{"service",
               {{"serviceArn", svc.arn},
                {"cluster", svc.cluster_name},
                {"serviceName", svc.name},
                {"status", render_status(svc, svc.status)},
                {"targetConfiguration", svc.configurations.back()},
                {"createdAt", to_epoch_seconds(svc.created_at)},
                {"updatedAt", to_epoch_seconds(svc.updated_at)}}}};
}

Result<json> delete_express_gateway_service(EcsContext& ctx, const protocol::Call& call) {
  const Scope& scope = call.caller.scope;
  auto s = find_service(ctx.store.region(scope), scope, call.input["serviceArn"].get<std::string>(),
                        "ServiceNotFoundException");
  if (!s) {
    return s.error();
  }
  if ((*s)->status != "ACTIVE") {
    return AwsError::client("ServiceNotActiveException", "Service was not ACTIVE.");
  }
  // ECS drains the service and makes it INACTIVE once its tasks have stopped; berth runs none, so the drain
  // is over at once: the answer says DRAINING, every later describe INACTIVE.
  (*s)->updated_at = ctx.clock.now_ms();
  json answer = render_service(**s, true, "DRAINING");
  (*s)->status = "INACTIVE";
  return json{{"service", answer}};
}

}  // namespace

void register_express_gateway_handlers(protocol::HandlerTable& table, EcsContext& ctx) {
  auto add = [&](const char* op, Result<json> (*fn)(EcsContext&, const protocol::Call&)) {
    table.add("ecs", op, [&ctx, fn](const protocol::Call& c) { return fn(ctx, c); });
  };
  add("CreateExpressGatewayService", create_express_gateway_service);
  add("DescribeExpressGatewayService", describe_express_gateway_service);
  add("UpdateExpressGatewayService", update_express_gateway_service);
  add("DeleteExpressGatewayService", delete_express_gateway_service);
}

}  // namespace berth::services::ecs
