#pragma once
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <berth/runtime/container_runtime.hpp>

namespace berth::runtime {

// An image reference as the docker CLI reads it: [registry[:port]/]path[:tag][@digest].
struct ImageReference {
  std::string registry;  // "docker.io" when the reference names none
  std::string path;      // "library/busybox" for the official image "busybox"
  std::string tag;       // "latest" when neither a tag nor a digest is given
  std::string digest;    // "sha256:<hex>", or empty

  // The short name the engine and the CLI print: "busybox", "localhost:5000/team/app".
  std::string familiar_name() const;
  // What the engine's pull endpoint takes as `tag`: the digest when there is one, else the tag.
  std::string pull_tag() const;
  // familiar_name() with "@digest" or ":tag", the form to inspect after a pull.
  std::string pinned() const;
};

// Parses a reference by the distribution/reference grammar; nullopt with `error` set when it is malformed.
std::optional<ImageReference> parse_image_reference(std::string_view reference, std::string* error = nullptr);

// ContainerRuntime over the Docker Engine HTTP API (unix socket or plain tcp). One I/O thread drives every
// request through a curl multi handle, so a slow pull never holds up a kill and shutdown() aborts all of them
// at once. Construction does no I/O: the API version is negotiated on the first operation. Operations may be
// called from any thread; calls after shutdown() are dropped without a completion.
class DockerRuntime final : public ContainerRuntime {
 public:
  // Returns the X-Registry-Auth header value (base64url of the auth JSON) for a registry host, or nullopt
  // to pull anonymously. The value is sent as is and never logged.
  using RegistryAuth = std::function<std::optional<std::string>(const std::string& registry)>;

  struct Options {
    std::string host;  // DOCKER_HOST form: unix:///path or tcp://host:port; empty means host_from_env()
    Poster post;       // required; called from the runtime's I/O thread, so it must be thread-safe
    int max_connections = 16;  // open connections to the engine; further requests queue (event streams count)
    std::chrono::milliseconds connect_timeout{2'000};
    std::chrono::milliseconds request_timeout{30'000};
    std::chrono::milliseconds pull_timeout{600'000};
    std::chrono::milliseconds reconnect_min{200};  // event stream backoff, doubling up to reconnect_max
    std::chrono::milliseconds reconnect_max{5'000};
    RegistryAuth registry_auth;
    // Where the host's cgroup hierarchies are mounted (ensure_cgroup writes there for a local engine).
    std::string cgroup_root = "/sys/fs/cgroup";
  };

  // Throws std::invalid_argument when `post` is empty. A malformed host is reported by every operation.
  explicit DockerRuntime(Options options);
  ~DockerRuntime() override;
  DockerRuntime(const DockerRuntime&) = delete;
  DockerRuntime& operator=(const DockerRuntime&) = delete;

  // DOCKER_HOST when set and non-empty, else unix:///var/run/docker.sock.
  static std::string host_from_env();
  // The host this runtime talks to, in DOCKER_HOST form.
  const std::string& host() const;

  // `registry_auth`, when set, is sent instead of what Options::registry_auth would give.
  void ensure_image(std::string image, std::optional<std::string> registry_auth,
                    std::function<void(ImageOutcome)> done) override;
  void import_image(std::string reference, std::string rootfs_tar, std::function<void(Done)> done) override;
  void ensure_network(NetworkSpec spec, std::function<void(Done)> done) override;
  void remove_network(std::string name, std::function<void(Done)> done) override;
  void ensure_volume(VolumeSpec spec, std::function<void(Done)> done) override;
  void remove_volume(std::string name, std::function<void(Done)> done) override;
  // Writes the cgroup where the engine's cgroupfs driver (cgroup v1 or v2) finds a container's parent, when
  // the engine is on this machine; the systemd driver, a remote engine or a read-only cgroup mount get an
  // empty parent and a note (logged once).
  void ensure_cgroup(CgroupSpec spec, std::function<void(CgroupOutcome)> done) override;
  void remove_cgroup(std::string name, std::function<void(Done)> done) override;
  void create(ContainerSpec spec, std::function<void(CreateOutcome)> done) override;
  void start(std::string id, std::function<void(StartOutcome)> done) override;
  void kill(std::string id, std::string signal, std::function<void(Done)> done) override;
  void remove(std::string id, std::function<void(Done)> done) override;
  void inspect(std::string id, std::function<void(InspectOutcome)> done) override;
  void stats(std::string id, std::function<void(StatsOutcome)> done) override;
  void list(Labels filter, std::function<void(ListOutcome)> done) override;
  void info(std::function<void(EngineInfo)> done) override;
  // Each call opens its own event stream (and its own connection to the engine).
  void watch(Labels filter, std::function<void(RuntimeEvent)> on_event,
             std::function<void()> on_connected) override;
  // Aborts every request and stream and joins the I/O thread; completions not yet posted are dropped.
  // Idempotent. Must not be called from the I/O thread (it never is when `post` does not run inline).
  void shutdown() override;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::runtime
