#pragma once
// ECS Managed Daemons (daemon task definitions, daemons, their revisions and deployments) and Express gateway
// services. berth stores and describes them; nothing runs behind them yet (see README).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <berth/common/clock.hpp>
#include <berth/common/json.hpp>

namespace berth::state {

// One revision of a daemon task definition. `doc` is what DescribeDaemonTaskDefinition returns.
struct DaemonTaskDefinition {
  std::string family;
  int revision = 0;
  std::string arn;
  std::string status = "ACTIVE";  // ACTIVE | DELETE_IN_PROGRESS | DELETED
  json doc;
  json tags = json::array();
  TimeMs registered_at = 0;
  std::optional<TimeMs> delete_requested_at;
};

// An immutable snapshot of a daemon's configuration, taken when a deployment starts.
struct DaemonRevision {
  std::string id;  // 19 digits
  std::string arn;
  std::string daemon_task_definition_arn;
  json container_images = json::array();  // [{containerName, image}]
  json capacity_provider_arns = json::array();
  std::string propagate_tags = "NONE";
  bool enable_ecs_managed_tags = false;
  bool enable_execute_command = false;
  TimeMs created_at = 0;
};

struct DaemonDeployment {
  std::string id;  // 16 letters and digits
  std::string arn;
  std::string status;  // DaemonDeploymentStatus
  std::string status_reason;
  std::string target_revision_arn;
  std::vector<std::string> source_revision_arns;
  json deployment_configuration = json::object();
  TimeMs created_at = 0;
  std::optional<TimeMs> started_at;
  std::optional<TimeMs> finished_at;
  std::optional<TimeMs> stopped_at;
};

struct Daemon {
  std::string name;
  std::string arn;
  std::string cluster_name;
  std::string cluster_arn;
  std::string status = "ACTIVE";  // ACTIVE | DELETE_IN_PROGRESS
  std::string daemon_task_definition_arn;
  json capacity_provider_arns = json::array();
  json deployment_configuration = json::object();
  std::string propagate_tags = "NONE";
  bool enable_ecs_managed_tags = false;
  bool enable_execute_command = false;
  json tags = json::array();
  std::string client_token;
  TimeMs created_at = 0;
  TimeMs updated_at = 0;
  std::vector<DaemonRevision> revisions;      // oldest first; the last is current
  std::vector<DaemonDeployment> deployments;  // oldest first; the last is the most recent
};

// An Express gateway service. `configurations` holds ExpressGatewayServiceConfiguration documents, oldest
// first; the last one is the active configuration.
struct ExpressGatewayService {
  std::string name;
  std::string arn;
  std::string cluster_name;
  std::string cluster_arn;
  std::string infrastructure_role_arn;
  std::string status = "ACTIVE";  // ACTIVE | DRAINING | INACTIVE
  std::string status_reason;
  std::string current_deployment;
  json configurations = json::array();
  json tags = json::array();
  TimeMs created_at = 0;
  TimeMs updated_at = 0;
};

}  // namespace berth::state
