#include "fakes/fake_runtime.hpp"

namespace berth::testing {

int FakeContainerRuntime::run_pending() {
  // Only what is queued now: completions that these queue wait for the next call.
  const int n = static_cast<int>(queue_.size());
  for (int i = 0; i < n; ++i) {
    auto f = std::move(queue_.front());
    queue_.pop_front();
    f();
  }
  return n;
}

std::optional<runtime::RuntimeError> FakeContainerRuntime::take_failure(const std::string& op) {
  auto it = failures_.find(op);
  if (it == failures_.end() || it->second.empty()) {
    return std::nullopt;
  }
  auto e = it->second.front();
  it->second.erase(it->second.begin());
  return e;
}

bool FakeContainerRuntime::is_running(const std::string& id) const {
  auto it = containers_.find(id);
  return it != containers_.end() && it->second.running;
}

void FakeContainerRuntime::exit(const std::string& container_id, int code, bool overtake) {
  auto it = containers_.find(container_id);
  if (it == containers_.end()) {
    return;
  }
  it->second.running = false;
  it->second.exit_code = code;
  runtime::RuntimeEvent e;
  e.type = runtime::RuntimeEvent::Type::kDie;
  e.container_id = container_id;
  e.exit_code = code;
  e.labels = it->second.spec.labels;
  if (overtake) {
    queue_.push_front([this, e] {
      if (on_event_) {
        on_event_(e);
      }
    });
    return;
  }
  emit(std::move(e));
}

void FakeContainerRuntime::emit(runtime::RuntimeEvent event) {
  later([this, event = std::move(event)] {
    if (on_event_) {
      on_event_(event);
    }
  });
}

void FakeContainerRuntime::ensure_image(std::string image, std::optional<std::string> registry_auth,
                                        std::function<void(runtime::ImageOutcome)> done) {
  actions_.push_back("ensure_image " + image);
  last_registry_auth_ = std::move(registry_auth);
  auto failure = take_failure("ensure_image");
  later([failure, image, done = std::move(done)] {
    runtime::ImageOutcome out;
    out.error = failure;
    out.image_id = "sha256:" + std::string(64, 'a');
    done(out);
  });
}

void FakeContainerRuntime::import_image(std::string reference, std::string rootfs_tar,
                                        std::function<void(runtime::Done)> done) {
  actions_.push_back("import_image " + reference);
  auto failure = take_failure("import_image");
  if (!failure && !rootfs_tar.empty()) {
    images_[reference] = true;
  }
  later([failure, done = std::move(done)] { done(runtime::Done{failure}); });
}

void FakeContainerRuntime::ensure_network(runtime::NetworkSpec spec,
                                          std::function<void(runtime::Done)> done) {
  actions_.push_back("ensure_network " + spec.name);
  auto failure = take_failure("ensure_network");
  if (!failure) {
    networks_.insert(spec.name);
  }
  network_specs_[spec.name] = spec;
  later([failure, done = std::move(done)] { done(runtime::Done{failure}); });
}

void FakeContainerRuntime::remove_network(std::string name, std::function<void(runtime::Done)> done) {
  actions_.push_back("remove_network " + name);
  networks_.erase(name);
  later([done = std::move(done)] { done(runtime::Done{}); });
}

void FakeContainerRuntime::ensure_volume(runtime::VolumeSpec spec, std::function<void(runtime::Done)> done) {
  actions_.push_back("ensure_volume " + spec.name);
  auto failure = take_failure("ensure_volume");
  if (!failure) {
    volumes_.insert(spec.name);
  }
  later([failure, done = std::move(done)] { done(runtime::Done{failure}); });
}

void FakeContainerRuntime::remove_volume(std::string name, std::function<void(runtime::Done)> done) {
  actions_.push_back("remove_volume " + name);
  volumes_.erase(name);
  later([done = std::move(done)] { done(runtime::Done{}); });
}

void FakeContainerRuntime::ensure_cgroup(runtime::CgroupSpec spec,
                                         std::function<void(runtime::CgroupOutcome)> done) {
  actions_.push_back("ensure_cgroup " + spec.name);
  auto failure = take_failure("ensure_cgroup");
  runtime::CgroupOutcome out;
  out.error = failure;
  if (!failure) {
    cgroups_[spec.name] = spec;
    if (cgroup_note_.empty()) {
      out.parent = "/" + spec.name;
    } else {
      out.note = cgroup_note_;
    }
  }
  later([out, done = std::move(done)] { done(out); });
}

void FakeContainerRuntime::remove_cgroup(std::string name, std::function<void(runtime::Done)> done) {
  actions_.push_back("remove_cgroup " + name);
  cgroups_.erase(name);
  later([done = std::move(done)] { done(runtime::Done{}); });
}

void FakeContainerRuntime::set_health(const std::string& container_id, const std::string& health) {
  auto it = containers_.find(container_id);
  if (it == containers_.end()) {
    return;
  }
  runtime::RuntimeEvent e;
  e.type = runtime::RuntimeEvent::Type::kHealth;
  e.container_id = container_id;
  e.health = health;
  e.labels = it->second.spec.labels;
  emit(std::move(e));
}

void FakeContainerRuntime::create(runtime::ContainerSpec spec,
                                  std::function<void(runtime::CreateOutcome)> done) {
  auto failure = take_failure("create");
  std::string id = "c" + std::to_string(next_id_++);
  actions_.push_back("create " + spec.labels["com.amazonaws.ecs.container-name"] +
                     (failure ? "" : " -> " + id));
  specs_.push_back(spec);
  if (!failure) {
    containers_[id] = FakeContainer{std::move(spec), false, std::nullopt, ""};
  }
  later([failure, id, done = std::move(done)] {
    runtime::CreateOutcome out;
    out.error = failure;
    if (!failure) {
      out.container_id = id;
    }
    done(out);
  });
}

void FakeContainerRuntime::start(std::string id, std::function<void(runtime::StartOutcome)> done) {
  actions_.push_back("start " + id);
  auto failure = take_failure("start");
  std::vector<runtime::PortBinding> bindings;
  auto it = containers_.find(id);
  if (!failure && it != containers_.end()) {
    it->second.running = true;
    int dynamic = 32768;
    for (auto b : it->second.spec.ports) {
      if (b.host_port == 0) {
        b.host_port = dynamic++;
      }
      bindings.push_back(b);
    }
  }
  std::string ip;
  if (!failure && it != containers_.end()) {
    const auto& mode = it->second.spec.network_mode;
    if (mode == "bridge") {
      // As docker0 hands them out.
      ip = it->second.ip.empty() ? "172.17.0." + std::to_string(next_bridge_ip_++) : it->second.ip;
    } else if (mode != "host" && mode != "none" && !mode.starts_with("container:")) {
      ip = next_ip_;
    }
    it->second.ip = ip;
  }
  later([failure, bindings, ip, done = std::move(done)] {
    runtime::StartOutcome out;
    out.error = failure;
    out.bindings = bindings;
    out.ip_address = ip;
    if (!ip.empty()) {
      out.mac_address = "02:42:0a:00:00:02";
    }
    done(out);
  });
}

void FakeContainerRuntime::kill(std::string id, std::string signal, std::function<void(runtime::Done)> done) {
  actions_.push_back("kill " + id + " " + signal);
  auto failure = take_failure("kill");
  later([failure, done = std::move(done)] { done(runtime::Done{failure}); });
  if (!failure && exit_on_signal_ && (signal == "SIGTERM" || signal == "SIGKILL") && is_running(id)) {
    exit(id, signal == "SIGTERM" ? 143 : 137);
  }
}

void FakeContainerRuntime::remove(std::string id, std::function<void(runtime::Done)> done) {
  actions_.push_back("remove " + id);
  containers_.erase(id);
  later([done = std::move(done)] { done(runtime::Done{}); });
}

void FakeContainerRuntime::inspect(std::string id, std::function<void(runtime::InspectOutcome)> done) {
  runtime::InspectOutcome out;
  auto it = containers_.find(id);
  if (it == containers_.end()) {
    out.error = runtime::RuntimeError{runtime::ErrorKind::kNotFound, "No such container: " + id};
  } else {
    out.state.id = id;
    out.state.labels = it->second.spec.labels;
    out.state.running = it->second.running;
    out.state.exit_code = it->second.exit_code;
    out.state.ip_address = it->second.ip;
  }
  later([out, done = std::move(done)] { done(out); });
}

void FakeContainerRuntime::stats(std::string id, std::function<void(runtime::StatsOutcome)> done) {
  actions_.push_back("stats " + id);
  runtime::StatsOutcome out;
  out.error = take_failure("stats");
  if (!out.error) {
    if (containers_.count(id) == 0) {
      out.error = runtime::RuntimeError{runtime::ErrorKind::kNotFound, "No such container: " + id};
    } else if (auto it = stats_.find(id); it != stats_.end()) {
      out.body = it->second;
    } else {
      out.body = R"({"id":")" + id + R"(","read":"2026-01-01T00:00:00Z","memory_stats":{"usage":1048576}})";
    }
  }
  later([out, done = std::move(done)] { done(out); });
}

void FakeContainerRuntime::list(runtime::Labels filter, std::function<void(runtime::ListOutcome)> done) {
  runtime::ListOutcome out;
  out.error = take_failure("list");
  for (const auto& [id, c] : containers_) {
    bool match = true;
    for (const auto& [k, v] : filter) {
      auto l = c.spec.labels.find(k);
      match = match && l != c.spec.labels.end() && l->second == v;
    }
    if (match) {
      runtime::ContainerState s;
      s.id = id;
      s.labels = c.spec.labels;
      s.running = c.running;
      s.exit_code = c.exit_code;
      out.containers.push_back(s);
    }
  }
  later([out, done = std::move(done)] { done(out); });
}

void FakeContainerRuntime::info(std::function<void(runtime::EngineInfo)> done) {
  later([done = std::move(done)] { done(runtime::EngineInfo{true, "fake", "1.41", ""}); });
}

void FakeContainerRuntime::watch(runtime::Labels, std::function<void(runtime::RuntimeEvent)> on_event,
                                 std::function<void()> on_connected) {
  on_event_ = std::move(on_event);
  later(std::move(on_connected));
}

}  // namespace berth::testing
