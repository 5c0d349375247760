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

}  // namespace berth::services
