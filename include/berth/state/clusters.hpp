#pragma once
// Cluster-level resources besides the Cluster itself: capacity providers and account settings.
#include <map>
#include <string>

#include <berth/common/clock.hpp>
#include <berth/common/json.hpp>

namespace berth::state {

// A capacity provider created with CreateCapacityProvider. FARGATE and FARGATE_SPOT are built in and never
// stored. The provider documents are kept as ECS describes them (defaults filled in), so rendering is a copy.
struct CapacityProvider {
  std::string name;
  std::string arn;
  std::string type;               // EC2_AUTOSCALING | MANAGED_INSTANCES
  std::string status = "ACTIVE";  // ACTIVE | INACTIVE (deleted)
  std::string update_status;      // empty until an update or delete, then e.g. UPDATE_COMPLETE, DELETE_FAILED
  std::string update_status_reason;
  std::string cluster;  // managed instances providers belong to one cluster (by name); else empty
  json auto_scaling_group_provider;  // null unless type is EC2_AUTOSCALING
  json managed_instances_provider;   // null unless type is MANAGED_INSTANCES
  json tags = json::array();
  TimeMs created_at = 0;
};

// Account settings set explicitly, per principal ARN (the root principal's are the account defaults). What a
// setting is worth when nobody set it is ECS's default, which the handlers know.
struct AccountSettings {
  std::map<std::string, std::map<std::string, std::string>, std::less<>> by_principal;
};

}  // namespace berth::state
