#pragma once
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <berth/common/arn.hpp>
#include <berth/state/clusters.hpp>
#include <berth/state/daemons.hpp>
#include <berth/state/instances.hpp>
#include <berth/state/model.hpp>
#include <berth/state/services.hpp>

namespace berth::state {

// Everything one account holds in one region.
struct RegionState {
  std::map<std::string, Cluster, std::less<>> clusters;                           // by name
  std::map<std::string, std::vector<TaskDefinition>, std::less<>> task_definitions;  // family -> revisions (rev-1)
  std::map<std::string, Task, std::less<>> tasks;                                  // by task id
  std::map<std::string, Service, std::less<>> services;                            // by service_key()
  std::map<std::string, ServiceDeployment, std::less<>> service_deployments;       // by ARN
  std::map<std::string, ServiceRevision, std::less<>> service_revisions;           // by ARN
  std::map<std::string, CapacityProvider, std::less<>> capacity_providers;          // by name
  AccountSettings account_settings;
  std::map<std::string, ContainerInstance, std::less<>> container_instances;       // by instance id
  std::map<std::string, TaskProtection, std::less<>> task_protection;              // by task id
  std::map<std::string, std::vector<DaemonTaskDefinition>, std::less<>> daemon_task_definitions;  // family
  std::map<std::string, Daemon, std::less<>> daemons;                              // by "cluster/name"
  std::map<std::string, ExpressGatewayService, std::less<>> express_gateway_services;  // "cluster/name"
  // EventBridge-shaped "aws.ecs" events (deployment state changes, service actions), oldest first, waiting for
  // the events work to publish them (see record_ecs_event).
  std::deque<json> ecs_events;
};

// The in-memory model of every account and region. No I/O and no locks: it belongs to the control strand.
class Store {
 public:
  RegionState& region(const Scope& scope);
  RegionState* find_region(const Scope& scope);

  // Tasks are also found by id alone (ids are random and unique across scopes): runtime events carry only ids.
  Task* find_task(std::string_view task_id);
  void index_task(const Task& task);
  // Forgets a task (after its retention ran out).
  void erase_task(std::string_view task_id);

  template <typename F>
  void for_each_region(F&& f) {
    for (auto& [key, region] : regions_) {
      f(Scope{key.first, key.second}, region);
    }
  }

  void clear();

 private:
  std::map<std::pair<std::string, std::string>, RegionState, std::less<>> regions_;
  std::map<std::string, Scope, std::less<>> task_scopes_;
};

}  // namespace berth::state
