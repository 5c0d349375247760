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
};

// Registers a handler for every ECS operation berth implements.
void register_ecs_handlers(protocol::HandlerTable& table, EcsContext& ctx);

}  // namespace berth::services
