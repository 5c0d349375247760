#pragma once
// Private to the ECS handlers: reference resolution and rendering shared by several operations.
#include <string>
#include <string_view>

#include <berth/common/json.hpp>
#include <berth/common/result.hpp>
#include <berth/protocol/aws_json.hpp>
#include <berth/services/ecs.hpp>
#include <berth/state/store.hpp>

namespace berth::services::ecs {

inline AwsError invalid_parameter(std::string message) {
  return AwsError::client("InvalidParameterException", std::move(message));
}
inline AwsError client_exception(std::string message) {
  return AwsError::client("ClientException", std::move(message));
}
inline AwsError unsupported(std::string message) {
  return AwsError::client("UnsupportedFeatureException", std::move(message));
}

std::string string_or(const json& input, const char* key, std::string fallback);

// The cluster named by input[key] (a name or an ARN; absent means "default"). Unknown or INACTIVE clusters are
// ClusterNotFoundException, as ECS answers.
Result<state::Cluster*> resolve_cluster(state::RegionState& region, const Scope& scope, const json& input,
                                        const char* key = "cluster");

// A task definition reference: family (latest ACTIVE revision), family:revision, or an ARN.
state::TaskDefinition* find_task_definition(state::RegionState& region, const std::string& ref);

// A task by id or ARN within a cluster.
state::Task* find_task(state::RegionState& region, const state::Cluster& cluster, const std::string& ref);

json render_cluster(const state::Cluster& c, const state::RegionState& region, const json& include);
json render_task(const state::Task& t, bool with_tags);
json render_task_definition(const state::TaskDefinition& td);

void register_cluster_handlers(protocol::HandlerTable& table, EcsContext& ctx);
void register_task_definition_handlers(protocol::HandlerTable& table, EcsContext& ctx);
void register_task_handlers(protocol::HandlerTable& table, EcsContext& ctx);
// Services, service deployments and revisions, task sets.
void register_service_handlers(protocol::HandlerTable& table, EcsContext& ctx);

// ACTIVE services in a cluster: the cluster's activeServicesCount, and what DeleteCluster refuses to delete
// (ClusterContainsServicesException).
int active_services_count(const state::RegionState& region, std::string_view cluster);

}  // namespace berth::services::ecs
