#pragma once
// Where EC2 tasks go: ECS task placement over a cluster's container instances (resource filter, then
// constraints, then strategies in order). Pure: it reads the region and decides; the caller creates the tasks
// (state::add_task) on the instances it returns. RunTask, StartTask and the service scheduler all ask here.
#include <string>
#include <vector>

#include <berth/common/json.hpp>
#include <berth/state/store.hpp>

namespace berth::scheduler {

struct PlacementRequest {
  const state::Cluster* cluster = nullptr;
  const state::TaskDefinition* task_definition = nullptr;
  json overrides = json::object();  // task-level cpu/memory and containerOverrides change what a task needs
  int count = 1;
  std::string group;                 // the tasks' group (task:group, distinctInstance and spread count by it)
  json constraints = json::array();  // the request's placementConstraints (the task definition's apply too)
  json strategy = json::array();     // placementStrategy, in order
  std::vector<std::string> only_instances;  // StartTask: exactly these container instance ids, in order
};

struct PlacementResult {
  // One entry per task placed, in order. nullptr means the task runs on berth's engine without a container
  // instance (the cluster has none registered).
  std::vector<state::ContainerInstance*> instances;
  json failures = json::array();  // [{arn, reason, detail?}] as RunTask and StartTask report them
};

// Decides where `request.count` tasks go. Fewer entries than asked for mean the rest could not be placed; the
// failures say why.
PlacementResult place(state::RegionState& region, const PlacementRequest& request);

}  // namespace berth::scheduler
