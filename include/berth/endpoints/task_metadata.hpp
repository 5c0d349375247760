#pragma once
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <berth/common/clock.hpp>
#include <berth/common/json.hpp>
#include <berth/endpoints/credentials.hpp>
#include <berth/runtime/container_runtime.hpp>
#include <berth/state/store.hpp>

namespace berth::endpoints {

// The metadata address ECS containers know, and where berth serves it by default.
inline constexpr char kMetadataAddress[] = "169.254.170.2";

struct EndpointOptions {
  // True for an address of this host: the host itself and host-mode containers, which may ask for any task.
  std::function<bool(const std::string& ip)> is_local_address;
  // A task role's credentials (`account` is the role's); nullopt when none can be had.
  std::function<std::optional<RoleCredentials>(const std::string& role_arn, const std::string& account, TimeMs now)>
      credentials;
};

struct EndpointReply {
  int status = 200;
  std::string body;  // JSON
};

// What containers find at http://169.254.170.2: task metadata v3 and v4 (${ECS_CONTAINER_METADATA_URI[_V4]},
// /task, /taskWithTags, /stats, /task/stats), the task role's credentials (/v2/credentials/<id>) and the agent
// API of ECS_AGENT_URI (answered as unsupported). The ids in the paths are unguessable and bound to one task;
// a request must also come from one of that task's addresses or from this host, else it gets a 403.
// Credentials end when the task is STOPPED; metadata lasts as long as berth keeps the task.
// Lives on the control strand with the Store; engine calls (stats, an address not yet known) complete there too.
class TaskMetadataService {
 public:
  TaskMetadataService(state::Store& store, runtime::ContainerRuntime& runtime, const Clock& clock,
                      EndpointOptions options);

  // Answers one request; `done` runs exactly once, inline or after engine calls. `path` excludes the query.
  void handle(const std::string& method, const std::string& path, const std::string& peer,
              std::function<void(EndpointReply)> done);

  // The documents themselves (pure), `version` 3 or 4.
  static json container_document(const state::Task& task, const state::Container& container, int version);
  static json pause_document(const state::Task& task, int version);
  static json task_document(const state::Task& task, int version, bool with_tags);

 private:
  struct Located {
    state::Task* task = nullptr;
    state::Container* container = nullptr;  // null for a credentials id
  };
  struct NetSample {
    TimeMs at = 0;
    std::uint64_t rx = 0;
    std::uint64_t tx = 0;
  };

  Located find_by_token(const std::string& token);
  state::Task* find_by_credentials_id(const std::string& id);
  bool peer_known(const state::Task& task, const std::string& peer) const;
  // Calls `then(true)` when `peer` is the task's or this host's; asks the engine for addresses not recorded yet.
  void check_peer(const state::Task& task, const std::string& peer, std::function<void(bool)> then);
  void metadata(const std::string& token, int version, const std::string& rest, const std::string& peer,
                std::function<void(EndpointReply)> done);
  void credentials(const std::string& id, std::function<void(EndpointReply)> done);
  void stats(const std::string& task_id, std::vector<std::string> docker_ids, bool task_wide,
             std::function<void(EndpointReply)> done);
  json with_rates(const std::string& docker_id, json stats);

  state::Store& store_;
  runtime::ContainerRuntime& runtime_;
  const Clock& clock_;
  EndpointOptions options_;
  std::map<std::string, NetSample> last_net_;  // by Docker id: the previous sample, for network_rate_stats
};

// True when `ip` is an address of one of this host's interfaces (getifaddrs), loopback included.
bool is_host_address(const std::string& ip);

}  // namespace berth::endpoints
