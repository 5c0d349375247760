#pragma once
#include <functional>
#include <string>

#include <berth/common/clock.hpp>
#include <berth/protocol/aws_json.hpp>
#include <berth/state/store.hpp>

namespace berth::services {

// What the ECS handlers need from the rest of berth. They change desired state in the store and then tell
// the scheduler which task to look at; they never talk to the container engine.
struct EcsContext {
  state::Store& store;
  const Clock& clock;
  std::function<void(const std::string& task_id)> task_changed;
  std::string self_url;  // where berth answers (DiscoverPollEndpoint points agents here); set once listening
  // Tells the service scheduler that a service's desired state changed (created, updated, deleted, rolled back,
  // task sets changed), so it acts now rather than on its next tick. May be empty.
  std::function<void(const Scope& scope, const std::string& service_key)> service_changed;

  void notify_service(const Scope& scope, const std::string& service_key) const {
    if (service_changed) {
      service_changed(scope, service_key);
    }
  }
};

// Registers a handler for every ECS operation berth implements.
void register_ecs_handlers(protocol::HandlerTable& table, EcsContext& ctx);

// Container instances berth starts with (`berth serve --instances cluster=count:type`).
struct InstanceLaunch {
  std::string cluster;
  int count = 0;
  std::string instance_type;  // one of state::instance_types()
};

// Makes `launch.cluster` (created when missing) hold `launch.count` container instances of the type, each
// registered through CreateCluster and RegisterContainerInstance exactly as the ECS agent on an ECS-optimized
// AMI of that type registers itself (resources, attributes, capabilities, identity document). Instance i gets
// an EC2 id derived from `seed`, the scope, the cluster, the type and i, so a berth restarted with the same
// seed
// (--data-dir) keeps the ones it has and adds only what is missing. Zones go round robin: <region>a, b, c.
// Returns how many were registered, or the first error (an unknown type, an invalid cluster name).
Result<int> launch_container_instances(const protocol::HandlerTable& table, state::Store& store,
                                       const Scope& scope, const InstanceLaunch& launch,
                                       const std::string& seed);

}  // namespace berth::services
