#pragma once
// Private to the ECS handlers: reference resolution and rendering shared by several operations.
#include <optional>
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

// A container instance by id or ARN within a cluster (INACTIVE ones included).
state::ContainerInstance* find_container_instance(state::RegionState& region, const state::Cluster& cluster,
                                                  const std::string& ref);

// Task-definition cpu ("1 vCPU", "1024") and memory ("2GB", "2048") notation -> units / MiB; "" if invalid.
std::string normalize_task_cpu(const std::string& raw);
std::string normalize_task_memory(const std::string& raw);
// Whether Fargate offers this task cpu (units) / memory (MiB) pair.
bool fargate_combination_valid(long cpu, long memory);

json render_cluster(const state::Cluster& c, const state::RegionState& region, const json& include);
json render_capacity_provider(const state::CapacityProvider& cp, bool with_tags);
json render_task(const state::Task& t, bool with_tags);
json render_task_definition(const state::TaskDefinition& td);

// ---- Facts that other resource kinds own, asked by the cluster handlers (DeleteCluster, the counters,
// PutClusterCapacityProviders, DeleteCapacityProvider).

// Services of `cluster` in `status` (ACTIVE | DRAINING) with `launch_type` (empty: any).
int cluster_service_count(const state::RegionState& region, std::string_view cluster, std::string_view status,
                          std::string_view launch_type = "");
// Whether `cluster` has services that keep it from being deleted (ACTIVE or DRAINING ones).
bool cluster_has_active_services(const state::RegionState& region, std::string_view cluster);
// Container instances registered to `cluster` (ACTIVE or DRAINING).
int cluster_container_instance_count(const state::RegionState& region, std::string_view cluster);
// Whether tasks or services of `cluster` (empty: any cluster) were placed with, or name in their strategy,
// the capacity provider `provider`.
bool capacity_provider_in_use(const state::RegionState& region, std::string_view cluster, std::string_view provider);

// ---- Capacity providers (capacity_providers.cpp)

inline constexpr std::string_view kFargateProvider = "FARGATE";
inline constexpr std::string_view kFargateSpotProvider = "FARGATE_SPOT";
bool is_fargate_provider(std::string_view name);

// The stored provider called `name` in any status, or nullptr (FARGATE and FARGATE_SPOT are never stored).
const state::CapacityProvider* find_capacity_provider(const state::RegionState& region, std::string_view name);

// Checks the capacityProviders a cluster is given (CreateCluster, PutClusterCapacityProviders): at most 20, each
// FARGATE, FARGATE_SPOT or an ACTIVE provider that no other cluster has.
std::optional<AwsError> check_cluster_capacity_providers(const state::RegionState& region, const json& providers,
                                                         std::string_view cluster);

// Where a capacity provider strategy is being used; the rules differ slightly.
enum class StrategyUse {
  kClusterDefault,    // CreateCluster / PutClusterCapacityProviders set it as the cluster's default
  kPlacement,         // RunTask / CreateService / UpdateService pass it explicitly to place tasks
  kDefaultPlacement,  // no strategy and no launch type: the cluster's default is about to place tasks
};
// Checks a strategy as ECS does: at most 20 items, each naming a provider in `associated` (the cluster's
// capacityProviders), no provider twice, at most one with a base, no mix of Fargate and Auto Scaling group
// providers, and, when it places tasks, at least one weight above zero.
std::optional<AwsError> check_capacity_provider_strategy(const json& associated, const json& strategy,
                                                         StrategyUse use);
// The strategy as ECS stores and describes it: every item carries base and weight (0 when not given).
json normalize_capacity_provider_strategy(const json& strategy);

// ---- Account settings (account_settings.cpp)

// The value of setting `name` for `principal_arn` (empty: the caller, which berth takes to be the account's
// root): the principal's own setting, else the account default, else ECS's default.
std::string effective_account_setting(const state::RegionState& region, const Scope& scope, std::string_view name,
                                      std::string_view principal_arn = "");

// ---- Tags (tags.cpp)

// Checks tags given to a resource (the model already bounds their number and lengths): keys and values may
// not start with the reserved aws: prefix, in any case.
std::optional<AwsError> check_tags(const json& tags);

// The tag list of the ECS resource named by `arn`, or the error ECS answers for that ARN. The one place that
// maps ARNs to taggable resources: add a resource kind there and TagResource, UntagResource and
// ListTagsForResource all know it.
Result<json*> resource_tags(state::RegionState& region, const Scope& scope, std::string_view arn);

void register_cluster_handlers(protocol::HandlerTable& table, EcsContext& ctx);
void register_capacity_provider_handlers(protocol::HandlerTable& table, EcsContext& ctx);
void register_account_setting_handlers(protocol::HandlerTable& table, EcsContext& ctx);
void register_tag_handlers(protocol::HandlerTable& table, EcsContext& ctx);
void register_task_definition_handlers(protocol::HandlerTable& table, EcsContext& ctx);
void register_task_handlers(protocol::HandlerTable& table, EcsContext& ctx);
// Services, service deployments and revisions, task sets.
void register_service_handlers(protocol::HandlerTable& table, EcsContext& ctx);


void register_container_instance_handlers(protocol::HandlerTable& table, EcsContext& ctx);
void register_task_protection_handlers(protocol::HandlerTable& table, EcsContext& ctx);
void register_daemon_handlers(protocol::HandlerTable& table, EcsContext& ctx);
void register_express_gateway_handlers(protocol::HandlerTable& table, EcsContext& ctx);

}  // namespace berth::services::ecs
