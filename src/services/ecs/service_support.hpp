#pragma once
// Private to the service, service deployment and task set handlers: resolution, validation of what a service
// runs, deployments and rendering.
#include <optional>
#include <string>

#include "ecs_common.hpp"

namespace berth::services::ecs {

inline AwsError service_not_found() { return AwsError::client("ServiceNotFoundException", "Service not found."); }
inline AwsError service_not_active() {
  return AwsError::client("ServiceNotActiveException", "Service was not ACTIVE.");
}

// The ECS service-linked role that services using awsvpc, service discovery or load balancers report.
std::string service_linked_role_arn(const Scope& scope);

// A service by name or ARN within a cluster (any status). nullptr when there is none, or when an ARN names
// another cluster, region or account.
state::Service* find_service(state::RegionState& region, const Scope& scope, const state::Cluster& cluster,
                             const std::string& ref);

// The name part of a service reference (name or ARN), or nullopt when an ARN is not an ECS service ARN.
std::optional<std::string> service_name_of(const std::string& ref);

// A task definition that a new service, deployment or task set may use: ACTIVE and known.
Result<state::TaskDefinition*> usable_task_definition(state::RegionState& region, const std::string& ref);

// Applies a request's launch type / capacity provider strategy / platform version / network configuration to
// `spec` and checks the result against the cluster and the task definition as ECS does. With `creating`
// (CreateService, CreateTaskSet) an absent launch type and strategy mean the cluster's default strategy, else
// EC2; otherwise (UpdateService) what the request leaves out is kept, and an empty strategy goes back to a
// launch type.
struct PlacementInput {
  std::optional<std::string> launch_type;
  std::optional<json> capacity_provider_strategy;
  std::optional<std::string> platform_version;
  std::optional<json> network_configuration;
};
Result<Unit> apply_placement(state::ServiceSpec& spec, const PlacementInput& in, const state::Cluster& cluster,
                             const state::TaskDefinition* td, bool creating);

// Fills assignPublicIp (DISABLED) as ECS echoes it back.
json normalized_network_configuration(json network_configuration);

// The Fargate platform version ECS resolves LATEST to.
std::string resolved_platform_version(const state::ServiceSpec& spec);

json render_service(const state::RegionState& region, const state::Service& svc, bool with_tags);
json render_task_set(const state::RegionState& region, const state::Service& svc, const state::TaskSet& ts,
                     bool with_tags);

// Adds launchType or capacityProviderStrategy, platformVersion/platformFamily and the other spec members that
// are set to `out` (as Service, Deployment, TaskSet and ServiceRevision shapes carry them).
void put_spec_placement(json& out, const state::ServiceSpec& spec, bool resolve_platform);

// Registration of the three handler files of this group.
void register_service_crud_handlers(protocol::HandlerTable& table, EcsContext& ctx);
void register_service_deployment_api_handlers(protocol::HandlerTable& table, EcsContext& ctx);
void register_task_set_api_handlers(protocol::HandlerTable& table, EcsContext& ctx);

}  // namespace berth::services::ecs
