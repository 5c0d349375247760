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

struct Ulimit {
  std::string name;  // "nofile", "nproc", ...
  std::int64_t soft = 0;
  std::int64_t hard = 0;
};

struct Mount {
  enum class Type { kBind, kVolume, kTmpfs };
  Type type = Type::kBind;
  std::string source;  // host path (bind) or volume name (volume); unused for tmpfs
  std::string target;  // path in the container
  bool read_only = false;
  std::optional<std::int64_t> tmpfs_size_bytes;  // tmpfs only
  std::vector<std::string> tmpfs_options;        // tmpfs only, e.g. "noexec"
};

struct Device {
  std::string host_path;
  std::string container_path;
  std::string permissions = "rwm";
};

// Docker's health check (times in nanoseconds, as the Engine API takes them).
struct HealthCheck {
  std::vector<std::string> test;  // ["CMD", ...] or ["CMD-SHELL", "..."]
  std::int64_t interval_ns = 30'000'000'000;
  std::int64_t timeout_ns = 5'000'000'000;
  std::int64_t start_period_ns = 0;
  int retries = 3;
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
  // bridge | host | none | container:<id> (join another container's namespace) | <user network name>
  std::string network_mode = "bridge";
  std::vector<std::string> network_aliases;  // DNS names on a user network
  std::optional<std::int64_t> memory_bytes;              // hard limit
  std::optional<std::int64_t> memory_reservation_bytes;  // soft limit
  std::optional<std::int64_t> cpu_shares;
  std::optional<std::int64_t> nano_cpus;  // CPU quota (1e9 = one CPU)
  std::optional<std::string> working_dir;
  std::optional<std::string> user;
  std::optional<std::string> hostname;
  std::vector<Ulimit> ulimits;
  std::vector<std::string> cap_add;
  std::vector<std::string> cap_drop;
  bool init = false;
  std::optional<std::int64_t> shm_size_bytes;
  std::vector<Device> devices;
  bool read_only_rootfs = false;
  bool privileged = false;
  std::vector<std::string> extra_hosts;  // "host:ip"
  std::vector<std::string> dns;
  std::vector<std::string> dns_search;
  std::vector<std::string> dns_options;
  std::vector<Mount> mounts;
  std::vector<std::string> volumes_from;  // "<container id>" or "<container id>:ro"
  std::map<std::string, std::string> sysctls;
  std::optional<HealthCheck> healthcheck;
  std::optional<std::string> log_driver;
  std::map<std::string, std::string> log_options;
  std::optional<int> stop_timeout_s;  // what `docker stop` would wait; berth itself signals
  std::optional<std::string> cgroup_parent;
};

// A Docker bridge network: one that stands in for a VPC, or the one that gives the host the task metadata
// address. Subnet and gateway left empty are the engine's choice.
struct NetworkSpec {
  std::string name;
  Labels labels;
  std::string subnet;   // CIDR, e.g. "169.254.170.0/24"
  std::string gateway;  // the host's own address on the bridge, e.g. "169.254.170.2"
};

// A cgroup that caps what a group of containers uses together (a container instance's CPU and memory): the
// containers created with ContainerSpec::cgroup_parent set to CgroupOutcome::parent share its limits.
struct CgroupSpec {
  std::string name;               // a relative path, e.g. "berth/<instance id>"
  std::int64_t cpu_units = 0;     // 1024 per vCPU, applied as a CFS quota; 0: no CPU cap
  std::int64_t memory_bytes = 0;  // a hard limit on the group; 0: no memory cap
};

// A Docker volume (dockerVolumeConfiguration, empty task volumes).
struct VolumeSpec {
  std::string name;
  std::string driver = "local";
  std::map<std::string, std::string> driver_opts;
  Labels labels;
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
struct CgroupOutcome {
  std::optional<RuntimeError> error;
  // What to put in ContainerSpec::cgroup_parent. Empty when the limits could not be applied (an engine whose
  // cgroups berth cannot write, such as the systemd driver, a remote engine or a read-only /sys/fs/cgroup):
  // the containers then run without the group's cap, and `note` says why.
  std::string parent;
  std::string note;
};
struct StartOutcome {
  std::optional<RuntimeError> error;
  std::vector<PortBinding> bindings;  // as the engine assigned them (dynamic host ports resolved)
  std::string ip_address;   // on its (first) network, when it has its own network namespace
  std::string mac_address;
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
  std::string health;  // "", "starting", "healthy" or "unhealthy"
  std::string ip_address;  // inspect only: its address on its own network, empty when it shares another's
};
struct ListOutcome {
  std::optional<RuntimeError> error;
  std::vector<ContainerState> containers;
};
struct InspectOutcome {
  std::optional<RuntimeError> error;
  ContainerState state;
};
struct StatsOutcome {
  std::optional<RuntimeError> error;
  std::string body;  // the engine's stats document (JSON) for one sample, as it sent it
};

struct RuntimeEvent {
  enum class Type { kStart, kDie, kOom, kDestroy, kHealth };
  Type type = Type::kDie;
  std::string container_id;
  std::optional<int> exit_code;  // kDie
  std::string health;            // kHealth: "healthy" or "unhealthy"
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

  // Makes the image present locally: a no-op when it is, a pull when it is not. `registry_auth`, when set, is
  // the X-Registry-Auth value for the pull (base64 JSON {"username","password","serveraddress"}); never logged.
  virtual void ensure_image(std::string image, std::optional<std::string> registry_auth,
                            std::function<void(ImageOutcome)> done) = 0;
  // Loads an image from a tar of a root filesystem (as `docker import`), tagged `reference`.
  virtual void import_image(std::string reference, std::string rootfs_tar, std::function<void(Done)> done) = 0;
  // Creates the network unless one of that name exists.
  virtual void ensure_network(NetworkSpec spec, std::function<void(Done)> done) = 0;
  // Removes a network; a missing one is not an error.
  virtual void remove_network(std::string name, std::function<void(Done)> done) = 0;
  // Creates the volume unless one of that name exists.
  virtual void ensure_volume(VolumeSpec spec, std::function<void(Done)> done) = 0;
  // Removes a volume; a missing one is not an error.
  virtual void remove_volume(std::string name, std::function<void(Done)> done) = 0;
  // Creates the cgroup (or updates its limits) where the engine will place containers that name it as their
  // cgroup parent. Not being allowed to is no error: the outcome then has an empty parent and a note.
  virtual void ensure_cgroup(CgroupSpec spec, std::function<void(CgroupOutcome)> done) = 0;
  // Removes a cgroup made by ensure_cgroup once no container is left in it; a missing or busy one is no
  // error.
  virtual void remove_cgroup(std::string name, std::function<void(Done)> done) = 0;
  virtual void create(ContainerSpec spec, std::function<void(CreateOutcome)> done) = 0;
  virtual void start(std::string id, std::function<void(StartOutcome)> done) = 0;
  // Sends a signal ("SIGTERM", "SIGKILL"); a container that is not running is not an error.
  virtual void kill(std::string id, std::string signal, std::function<void(Done)> done) = 0;
  // Force-removes the container (and its anonymous volumes); a missing container is not an error.
  virtual void remove(std::string id, std::function<void(Done)> done) = 0;
  virtual void inspect(std::string id, std::function<void(InspectOutcome)> done) = 0;
  // One sample of the container's resource usage (the engine's GET /containers/{id}/stats?stream=false).
  virtual void stats(std::string id, std::function<void(StatsOutcome)> done) = 0;
  // All containers, running or not, that carry every label in `filter`.
  virtual void list(Labels filter, std::function<void(ListOutcome)> done) = 0;
  virtual void info(std::function<void(EngineInfo)> done) = 0;

  // Streams container events (start, die, oom, destroy, health_status) for containers carrying every label in
  // `filter`, reconnecting with backoff
  // when the engine goes away. `on_connected` runs after each (re)connect, so the caller can resync by level.
  virtual void watch(Labels filter, std::function<void(RuntimeEvent)> on_event,
                     std::function<void()> on_connected) = 0;

  // Stops the event stream and worker threads; pending completions may be dropped.
  virtual void shutdown() = 0;
};

}  // namespace berth::runtime
