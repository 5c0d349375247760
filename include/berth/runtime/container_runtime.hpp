#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace berth::runtime {

using Labels = std::map<std::string, std::string>;

struct PortBinding {
  int container_port = 0;
  int host_port = 0;  // 0 asks the engine for a dynamic port
  std::string protocol = "tcp";
  std::string host_ip;  // empty: all interfaces
};

// What berth asks the engine to create. Optional fields left empty keep the image's defaults.
struct ContainerSpec {
  std::string name;  // engine container name
  std::string image;
  std::optional<std::vector<std::string>> entrypoint;
  std::optional<std::vector<std::string>> command;
  std::vector<std::string> env;  // KEY=VALUE
  Labels labels;
  std::vector<PortBinding> ports;
  std::string network_mode = "bridge";  // bridge | host | none
  std::optional<std::int64_t> memory_bytes;              // hard limit
  std::optional<std::int64_t> memory_reservation_bytes;  // soft limit
  std::optional<std::int64_t> cpu_shares;
  std::optional<std::string> working_dir;
  std::optional<std::string> user;
  std::optional<std::string> hostname;
};

enum class ErrorKind {
  kEngineUnavailable,  // the socket did not answer
  kImageNotFound,      // pull failed: no such image or registry unreachable
  kNotFound,           // no such container
  kConflict,           // name in use, already stopped, ...
  kOther,
};

struct RuntimeError {
  ErrorKind kind = ErrorKind::kOther;
  std::string message;  // the engine's own message, e.g. "Error response from daemon: ..."
};

struct ImageOutcome {
  std::optional<RuntimeError> error;
  std::string image_id;  // sha256:... of the local image
  bool pulled = false;   // false when it was already present
};
struct CreateOutcome {
  std::optional<RuntimeError> error;
  std::string container_id;
};
struct StartOutcome {
  std::optional<RuntimeError> error;
  std::vector<PortBinding> bindings;  // as the engine assigned them (dynamic host ports resolved)
};
struct Done {
  std::optional<RuntimeError> error;
};

struct ContainerState {
  std::string id;
  std::string name;
  Labels labels;
  bool running = false;
  std::optional<int> exit_code;  // set when the container has exited
  bool oom_killed = false;
  std::vector<PortBinding> bindings;
};
struct ListOutcome {
  std::optional<RuntimeError> error;
  std::vector<ContainerState> containers;
};
struct InspectOutcome {
  std::optional<RuntimeError> error;
  ContainerState state;
};

struct RuntimeEvent {
  enum class Type { kStart, kDie, kOom, kDestroy };
  Type type = Type::kDie;
  std::string container_id;
  std::optional<int> exit_code;  // kDie
  Labels labels;
};

struct EngineInfo {
  bool reachable = false;
  std::string version;      // engine version when reachable
  std::string api_version;  // negotiated API version
  std::string error;        // why not, when unreachable
};

// The seam between the reconciler and a container engine. Every operation is asynchronous and calls its
// completion exactly once, never inline, always through the poster the implementation was given (in
// production: onto the control strand). Callers must therefore re-read state in completions.
class ContainerRuntime {
 public:
  using Poster = std::function<void(std::function<void()>)>;

  virtual ~ContainerRuntime() = default;

  // Makes the image present locally: a no-op when it is, a pull when it is not.
  virtual void ensure_image(std::string image, std::function<void(ImageOutcome)> done) = 0;
  virtual void create(ContainerSpec spec, std::function<void(CreateOutcome)> done) = 0;
  virtual void start(std::string id, std::function<void(StartOutcome)> done) = 0;
  // Sends a signal ("SIGTERM", "SIGKILL"); a container that is not running is not an error.
  virtual void kill(std::string id, std::string signal, std::function<void(Done)> done) = 0;
  // Force-removes the container (and its anonymous volumes); a missing container is not an error.
  virtual void remove(std::string id, std::function<void(Done)> done) = 0;
  virtual void inspect(std::string id, std::function<void(InspectOutcome)> done) = 0;
  // All containers, running or not, that carry every label in `filter`.
  virtual void list(Labels filter, std::function<void(ListOutcome)> done) = 0;
  virtual void info(std::function<void(EngineInfo)> done) = 0;

  // Streams container events for containers carrying every label in `filter`, reconnecting with backoff
  // when the engine goes away. `on_connected` runs after each (re)connect, so the caller can resync by level.
  virtual void watch(Labels filter, std::function<void(RuntimeEvent)> on_event,
                     std::function<void()> on_connected) = 0;

  // Stops the event stream and worker threads; pending completions may be dropped.
  virtual void shutdown() = 0;
};

}  // namespace berth::runtime
