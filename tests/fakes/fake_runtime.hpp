#pragma once
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <berth/runtime/container_runtime.hpp>

namespace berth::testing {

// A ContainerRuntime that records every action and completes nothing until the test says so, so tests can
// assert the exact sequence of engine calls and interleave events with completions deterministically.
class FakeContainerRuntime final : public runtime::ContainerRuntime {
 public:
  // Makes the next call of `op` ("ensure_image", "create", "start", "kill", "remove", "list") fail.
  void fail_next(const std::string& op, runtime::RuntimeError error) {
    failures_[op].push_back(std::move(error));
  }
  // Runs the completions queued so far (not the ones they queue in turn); returns how many ran.
  int run_pending();
  // The engine reports that a container exited. With `overtake`, the event is delivered before completions
  // already queued (engine events and API replies race in real life).
  void exit(const std::string& container_id, int code, bool overtake = false);
  void emit(runtime::RuntimeEvent event);
  void set_image_present(const std::string& image, bool present) { images_[image] = present; }
  // With this on, a running container that gets SIGTERM or SIGKILL exits (143 / 137) and the engine reports
  // it, as a container that honours signals would.
  void set_exit_on_signal(bool on) { exit_on_signal_ = on; }

  const std::vector<std::string>& actions() const { return actions_; }
  void clear_actions() { actions_.clear(); }
  const std::vector<runtime::ContainerSpec>& created_specs() const { return specs_; }
  bool is_running(const std::string& id) const;
  std::size_t live_containers() const { return containers_.size(); }

  void ensure_image(std::string image, std::optional<std::string> registry_auth,
                    std::function<void(runtime::ImageOutcome)> done) override;
  void import_image(std::string reference, std::string rootfs_tar,
                    std::function<void(runtime::Done)> done) override;
  void ensure_network(runtime::NetworkSpec spec, std::function<void(runtime::Done)> done) override;
  void remove_network(std::string name, std::function<void(runtime::Done)> done) override;
  void ensure_volume(runtime::VolumeSpec spec, std::function<void(runtime::Done)> done) override;
  void remove_volume(std::string name, std::function<void(runtime::Done)> done) override;
  // The engine reports a health status change ("healthy"/"unhealthy") for a container.
  void set_health(const std::string& container_id, const std::string& health);
  // The registry auth passed to the last ensure_image call, if any.
  const std::optional<std::string>& last_registry_auth() const { return last_registry_auth_; }
  bool has_image(const std::string& reference) const {
    return images_.count(reference) > 0 && images_.at(reference);
  }
  bool has_network(const std::string& name) const { return networks_.count(name) > 0; }
  // The spec of the last ensure_network call for `name`.
  const runtime::NetworkSpec* network_spec(const std::string& name) const {
    auto it = network_specs_.find(name);
    return it == network_specs_.end() ? nullptr : &it->second;
  }
  // The stats document the fake engine reports for a container (a minimal one when none was set).
  void set_stats(const std::string& container_id, std::string body) {
    stats_[container_id] = std::move(body);
  }
  // The address the fake engine gave a started container ("" when it has none).
  std::string ip_of(const std::string& container_id) const {
    auto it = containers_.find(container_id);
    return it == containers_.end() ? std::string() : it->second.ip;
  }
  bool has_volume(const std::string& name) const { return volumes_.count(name) > 0; }
  // The address the fake engine gives a container with its own network namespace.
  void set_next_ip(std::string ip) { next_ip_ = std::move(ip); }
  // ensure_cgroup answers with an empty parent and this note (as the Docker runtime does when it may not
  // write cgroups); empty: it answers "/<name>".
  void set_cgroups_unsupported(std::string note) { cgroup_note_ = std::move(note); }
  // The last spec ensure_cgroup got for `name`, or nullptr.
  const runtime::CgroupSpec* cgroup(const std::string& name) const {
    auto it = cgroups_.find(name);
    return it == cgroups_.end() ? nullptr : &it->second;
  }
  void ensure_cgroup(runtime::CgroupSpec spec, std::function<void(runtime::CgroupOutcome)> done) override;
  void remove_cgroup(std::string name, std::function<void(runtime::Done)> done) override;
  void create(runtime::ContainerSpec spec, std::function<void(runtime::CreateOutcome)> done) override;
  void start(std::string id, std::function<void(runtime::StartOutcome)> done) override;
  void kill(std::string id, std::string signal, std::function<void(runtime::Done)> done) override;
  void remove(std::string id, std::function<void(runtime::Done)> done) override;
  void inspect(std::string id, std::function<void(runtime::InspectOutcome)> done) override;
  void stats(std::string id, std::function<void(runtime::StatsOutcome)> done) override;
  void list(runtime::Labels filter, std::function<void(runtime::ListOutcome)> done) override;
  void info(std::function<void(runtime::EngineInfo)> done) override;
  void watch(runtime::Labels filter, std::function<void(runtime::RuntimeEvent)> on_event,
             std::function<void()> on_connected) override;
  void shutdown() override {}

 private:
  struct FakeContainer {
    runtime::ContainerSpec spec;
    bool running = false;
    std::optional<int> exit_code;
    std::string ip;
  };
  std::optional<runtime::RuntimeError> take_failure(const std::string& op);
  void later(std::function<void()> f) { queue_.push_back(std::move(f)); }

  std::deque<std::function<void()>> queue_;
  std::vector<std::string> actions_;
  std::vector<runtime::ContainerSpec> specs_;
  std::map<std::string, std::vector<runtime::RuntimeError>> failures_;
  std::map<std::string, bool> images_;
  std::map<std::string, FakeContainer> containers_;
  std::function<void(runtime::RuntimeEvent)> on_event_;
  std::optional<std::string> last_registry_auth_;
  std::set<std::string> networks_;
  std::map<std::string, runtime::NetworkSpec> network_specs_;
  std::map<std::string, std::string> stats_;
  int next_bridge_ip_ = 2;
  std::set<std::string> volumes_;
  std::map<std::string, runtime::CgroupSpec> cgroups_;
  std::string cgroup_note_;
  std::string next_ip_ = "10.0.0.2";
  int next_id_ = 1;
  bool exit_on_signal_ = false;
};

}  // namespace berth::testing
