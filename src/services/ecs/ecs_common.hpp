#pragma once
// Private to the ECS handlers: reference resolution and rendering shared by several operations.
#include <string>

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

// A container instance by id or ARN within a cluster (INACTIVE ones included).
state::ContainerInstance* find_container_instance(state::RegionState& region, const state::Cluster& cluster,
                                                  const std::string& ref);

// Task-definition cpu ("1 vCPU", "1024") and memory ("2GB", "2048") notation -> units / MiB; "" if invalid.
std::string normalize_task_cpu(const std::string& raw);
std::string normalize_task_memory(const std::string& raw);
// Whether Fargate offers this task cpu (units) / memory (MiB) pair.
bool fargate_combination_valid(long cpu, long memory);

json render_cluster(const state::Cluster& c, const state::RegionState& region, const json& include);
json render_task(const state::Task& t, bool with_tags);
json render_task_definition(const state::TaskDefinition& td);

void register_cluster_handlers(protocol::HandlerTable& table, EcsContext& ctx);
void register_task_definition_handlers(protocol::HandlerTable& table, EcsContext& ctx);
void register_task_handlers(protocol::HandlerTable& table, EcsContext& ctx);
void register_container_instance_handlers(protocol::HandlerTable& table, EcsContext& ctx);
void register_task_protection_handlers(protocol::HandlerTable& table, EcsContext& ctx);
void register_daemon_handlers(protocol::HandlerTable& table, EcsContext& ctx);
void register_express_gateway_handlers(protocol::HandlerTable& table, EcsContext& ctx);

}  // namespace berth::services::ecs
