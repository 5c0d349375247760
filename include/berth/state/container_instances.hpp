#pragma once
// What container instances hold and have left. The one computation behind placement and behind
// DescribeContainerInstances (remainingResources, runningTasksCount, pendingTasksCount), plus the lookups the
// task and service schedulers share. Everything here is derived from the tasks in the store, so it stays
// exact through starts, stops, crashes and restarts without any counter to keep in step.
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <berth/common/json.hpp>
#include <berth/state/cluster_query.hpp>
#include <berth/state/store.hpp>

namespace berth::state {

// What one task holds on its container instance while it is not STOPPED.
struct ResourceNeeds {
  std::int64_t cpu = 0;        // CPU units
  std::int64_t memory = 0;     // MiB
  std::vector<int> tcp_ports;  // static host ports: bridge hostPort > 0, host-mode containerPort
  std::vector<int> udp_ports;
  int gpus = 0;  // resourceRequirements of type GPU
  int enis = 0;  // awsvpc tasks take one elastic network interface
};

// As ECS reserves for a task on EC2: task-level cpu/memory when set, else the sum over its containers of
// `cpu` and of `memoryReservation` (else `memory`). Dynamic host ports (hostPort 0 or absent) are not
// reserved.
ResourceNeeds task_needs(const Task& task);
// The same for a task not created yet: `td` with a RunTask/StartTask TaskOverride applied.
ResourceNeeds definition_needs(const TaskDefinition& td, const json& overrides);

// What the live tasks placed on one instance hold between them.
struct InstanceUsage {
  std::int64_t cpu = 0;
  std::int64_t memory = 0;
  std::set<int> tcp_ports;
  std::set<int> udp_ports;
  int gpus = 0;
  int enis = 0;
  int running = 0;                       // lastStatus RUNNING
  int pending = 0;                       // not RUNNING yet (PROVISIONING, PENDING, ACTIVATING)
  std::vector<std::string> task_groups;  // one entry per live task (task:group, distinctInstance, spread)

  // Counts one more task (placement adds the tasks it is about to create).
  void add(const ResourceNeeds& needs, const std::string& group, bool running_now = false);
};

// Sums the tasks recorded on `instance` that are not STOPPED. A deregistered (INACTIVE) instance holds
// nothing: ECS no longer accounts for tasks left on it.
InstanceUsage instance_usage(const ContainerInstance& instance, const RegionState& region);

// registeredResources less `usage`, as DescribeContainerInstances shows remainingResources: CPU and MEMORY
// reduced, PORTS and PORTS_UDP listing the reserved ports (registered ones plus the tasks' static host ports,
// not the free ones), GPU listing the ids not in use.
json remaining_resources(const ContainerInstance& instance, const InstanceUsage& usage);

// One registered resource: an INTEGER's value (0 when absent), or a STRINGSET's members as ports.
std::int64_t registered_integer(const ContainerInstance& instance, std::string_view name);
std::set<int> registered_ports(const ContainerInstance& instance, std::string_view name);
int registered_gpu_count(const ContainerInstance& instance);
// awsvpc tasks the instance can hold (its type's interfaces less the primary); -1 when its type is unknown.
int task_eni_limit(const ContainerInstance& instance);

// What a cluster query expression sees of the instance.
QueryTarget query_target(const ContainerInstance& instance, const InstanceUsage& usage);

// An instance of `cluster` by id or full ARN (INACTIVE ones included); nullptr when there is none.
ContainerInstance* find_container_instance(RegionState& region, std::string_view cluster,
                                           std::string_view ref);
// The instance a task was placed on; nullptr when it has none (or the record is gone).
ContainerInstance* instance_of(RegionState& region, const Task& task);
const ContainerInstance* instance_of(const RegionState& region, const Task& task);

// Live (not STOPPED, still desired RUNNING) tasks of `cluster` on DRAINING instances: the service tasks among
// them are what the service scheduler moves away (standalone tasks keep running, as in ECS).
std::vector<Task*> tasks_on_draining_instances(RegionState& region, std::string_view cluster);
// A task left on an instance that was deregistered with `force`: ECS no longer accounts for it (it keeps
// running), and the service scheduler starts a replacement elsewhere.
bool is_orphaned(const RegionState& region, const Task& task);

// Container instances registered to `cluster` (ACTIVE or DRAINING). Without any, berth runs EC2 tasks on its
// engine with no containerInstanceArn (where ECS would fail "No Container Instances were found in your
// cluster.").
int container_instance_count(const RegionState& region, std::string_view cluster);

// The loopback address an instance's bridge-mode host ports are published on: 127.x.y.z derived from its id,
// so two instances can publish the same hostPort, each on its own address, as two hosts would.
std::string instance_host_ip(std::string_view instance_id);

}  // namespace berth::state
