#pragma once
// Container instances (what an ECS agent registers), their attributes, and task scale-in protection.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <berth/common/clock.hpp>
#include <berth/common/json.hpp>

namespace berth::state {

// A registered container instance. Placement (scheduler::place) puts tasks on it and state::add_task records them
// in `task_ids`; what it has left is derived from those tasks (state::instance_usage).
struct ContainerInstance {
  std::string id;  // 32 lowercase hex characters
  std::string arn;
  std::string cluster_name;
  std::string ec2_instance_id;    // from the instance identity document; empty when none was sent
  std::string instance_type;      // likewise; re-registration may not change it
  std::string status = "ACTIVE";  // ACTIVE | DRAINING | INACTIVE
  std::string status_reason;
  bool agent_connected = true;
  json version_info = json::object();
  json registered_resources = json::array();  // ECS Resource shapes, as registered
  std::map<std::string, std::optional<std::string>, std::less<>>
      attributes;  // name -> value (value optional)
  json platform_devices = json::array();
  json tags = json::array();
  std::vector<std::string> task_ids;  // tasks placed on this instance
  TimeMs registered_at = 0;
  std::int64_t version = 1;
};

// UpdateTaskProtection's record for one task; protection lapses by itself at `expires_at`.
struct TaskProtection {
  bool enabled = false;
  TimeMs expires_at = 0;
  // Protection lapses by itself once it expires.
  bool active(TimeMs now) const { return enabled && expires_at > now; }
};

}  // namespace berth::state
