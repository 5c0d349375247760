#include <berth/state/model.hpp>

namespace berth::state {

std::string_view to_string(TaskStatus s) {
  switch (s) {
    case TaskStatus::kProvisioning:
      return "PROVISIONING";
    case TaskStatus::kPending:
      return "PENDING";
    case TaskStatus::kActivating:
      return "ACTIVATING";
    case TaskStatus::kRunning:
      return "RUNNING";
    case TaskStatus::kDeactivating:
      return "DEACTIVATING";
    case TaskStatus::kStopping:
      return "STOPPING";
    case TaskStatus::kDeprovisioning:
      return "DEPROVISIONING";
    case TaskStatus::kStopped:
      return "STOPPED";
  }
  return "UNKNOWN";
}

std::string_view to_string(ContainerStatus s) {
  switch (s) {
    case ContainerStatus::kPending:
      return "PENDING";
    case ContainerStatus::kRunning:
      return "RUNNING";
    case ContainerStatus::kStopped:
      return "STOPPED";
  }
  return "UNKNOWN";
}

}  // namespace berth::state
