#pragma once
// Where EC2 tasks go: ECS task placement over a cluster's container instances (resource filter, then
// constraints, then strategies in order). Pure: it reads the region and decides; the caller creates the tasks
// (state::add_task) on the instances it returns. RunTask, StartTask and the service scheduler all ask here.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <berth/common/json.hpp>
#include <berth/common/result.hpp>
#include <berth/state/store.hpp>

namespace berth::scheduler {

// A source of random numbers for the random strategy. Tests pass a deterministic one; an empty function means
// a process-wide generator seeded from the system.
using RandomSource = std::function<std::uint64_t()>;

struct PlacementRequest {
  const state::Cluster* cluster = nullptr;
  const state::TaskDefinition* task_definition = nullptr;
  json overrides = json::object();  // task-level cpu/memory and containerOverrides change what a task needs
  int count = 1;
  std::string group;                 // the tasks' group (task:group, distinctInstance and spread count by it)
  json constraints = json::array();  // the request's placementConstraints (the task definition's apply too)
  // placementStrategy, in order; empty: random (RunTask's default; a service without a strategy passes
  // default_service_strategy()). Ties left after every strategy go to the instance registered first.
  json strategy = json::array();
  // StartTask and DAEMON services: one task on each of exactly these instances (ids or ARNs), in order, each
  // checked like any placement (resources, attributes, constraints); `count` and `strategy` are then unused.
  std::vector<std::string> only_instances;
  RandomSource random;
};

struct PlacementResult {
  // One entry per task placed, in order. nullptr means the task runs on berth's engine without a container
  // instance (the cluster has none registered).
  std::vector<state::ContainerInstance*> instances;
  // [{arn, reason}] as RunTask and StartTask report them: when a task could not be placed, one entry per
  // instance that refused it, with the first check it failed (AGENT, ATTRIBUTE, RESOURCE:CPU,
  // RESOURCE:MEMORY, RESOURCE:PORTS, RESOURCE:GPU, RESOURCE:ENI, "MemberOf placement constraint
  // unsatisfied.", "DistinctInstance placement constraint unsatisfied."); for only_instances also MISSING and
  // INACTIVE.
  json failures = json::array();
  // The cluster has container instances, but none is ACTIVE (all DRAINING): nothing can be placed. RunTask
  // answers InvalidParameterException "No Container Instances were found in your cluster."
  bool no_active_instances = false;
  // When a task was left unplaced: the instance that got furthest through the checks, and the check that
  // stopped it (one of the reasons above). Empty when nothing was tried.
  std::string closest_instance_id;
  std::string closest_reason;
};

// Decides where `request.count` tasks go (or one on each of `only_instances`). Fewer entries than asked for
// mean the rest could not be placed; the failures say why. Tasks placed earlier in the same call count
// against instances as if they already ran (resources, ports, distinctInstance, spread). Expects a request
// that check_placement accepted; a memberOf expression that does not parse matches no instance.
PlacementResult place(state::RegionState& region, const PlacementRequest& request);

// Checks placementConstraints and placementStrategy as RunTask/CreateService/UpdateService receive them,
// together with the task definition's own constraints (td may be null): at most 10 constraints and 5
// strategies, memberOf with a valid cluster query expression (the task definition's too), distinctInstance
// without one, binpack on cpu or memory, spread on instanceId, host or attribute:<name>. The error is
// InvalidParameterException.
std::optional<AwsError> check_placement(const json& constraints, const json& strategy,
                                        const state::TaskDefinition* td = nullptr);

// The strategy ECS uses for a service that names none: spread across Availability Zones, then instances.
json default_service_strategy();

// The container instance attributes a task of `td` needs, as ECS derives them for requiresAttributes
// (awsvpc -> ecs.capability.task-eni, a task role, log drivers, health checks, dependsOn, secrets,
// environment files, EFS, privileged containers, task-level cpu/memory, runtimePlatform.cpuArchitecture).
// A value, when set, must match; otherwise the attribute only has to exist. Missing ones fail with ATTRIBUTE.
std::vector<std::pair<std::string, std::optional<std::string>>> required_attributes(
    const state::TaskDefinition& td, const json& overrides);

// The service event ECS posts when a service task cannot be placed, e.g. "(service web) was unable to place a
// task because no container instance met all of its requirements. The closest matching container-instance
// 5e3c... has insufficient CPU units available. For more information, see the Troubleshooting section of the
// Amazon ECS Developer Guide." (or "... Reason: No Container Instances were found in your cluster.").
std::string unplaced_event_message(std::string_view service_name, const PlacementResult& result);

// Orders a service's live tasks for stopping when it scales in, first to stop first, as ECS chooses under the
// service's `strategy` (empty: default_service_strategy()). It takes one task at a time, re-counting after
// each: spread takes from the value (zone, instance, attribute) holding the most of these tasks; binpack from
// the instance with the most of that resource left, so lightly used instances empty first; random at random.
// Ties go to tasks not RUNNING yet, then to the newest. Tasks without an instance share one value of their
// own.
std::vector<const state::Task*> order_for_scale_in(const state::RegionState& region,
                                                   std::vector<const state::Task*> tasks,
                                                   const json& strategy, const RandomSource& random = {});

}  // namespace berth::scheduler
