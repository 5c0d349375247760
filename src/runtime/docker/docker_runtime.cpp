#include <berth/runtime/docker_runtime.hpp>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <map>
#include <stdexcept>
#include <utility>

#include <spdlog/spdlog.h>

#include "cgroups.hpp"
#include "curl_loop.hpp"
#include "docker_wire.hpp"

namespace berth::runtime {
namespace {

using docker_detail::CurlLoop;
using docker_detail::daemon_error_text;
using docker_detail::Endpoint;
using docker_detail::HttpRequest;
using docker_detail::HttpResponse;
using docker_detail::json;
using docker_detail::LineSplitter;
using docker_detail::Transport;
using docker_detail::url_encode;

constexpr std::string_view kDefaultHost = "unix:///var/run/docker.sock";
constexpr std::size_t kMaxStreamLine = std::size_t{1} << 20;
// Characters an image reference keeps unescaped in a path, as the docker CLI sends it.
constexpr std::string_view kImagePathKeep = "/:@";

using ApiReady = std::function<void(std::optional<RuntimeError>)>;

RuntimeError make_error(ErrorKind kind, std::string message) {
  return RuntimeError{kind, std::move(message)};
}

// The docker CLI's wording for the same failures, so operators recognise them.
RuntimeError transport_error(const Endpoint& endpoint, const HttpResponse& r) {
  switch (r.transport) {
    case Transport::kCannotConnect:
      return make_error(ErrorKind::kEngineUnavailable, "Cannot connect to the Docker daemon at " +
                                                           endpoint.host + ". Is the docker daemon running?");
    case Transport::kPermissionDenied:
      return make_error(ErrorKind::kEngineUnavailable,
                        "Got permission denied while trying to connect to the Docker daemon socket at " +
                            endpoint.host + ": " + r.transport_message);
    case Transport::kTimeout:
      return make_error(ErrorKind::kEngineUnavailable, "error during connect: the Docker daemon at " +
                                                           endpoint.host +
                                                           " did not answer in time: " + r.transport_message);
    case Transport::kTooLarge:
    case Transport::kAborted:
      return make_error(ErrorKind::kOther,
                        "error reading the Docker daemon's response: " + r.transport_message);
    case Transport::kOk:
    case Transport::kOther:
      break;
  }
  return make_error(ErrorKind::kEngineUnavailable, "error during connect: " + r.transport_message);
}

RuntimeError daemon_error(const HttpResponse& r, ErrorKind kind) {
  return make_error(kind, daemon_error_text(r.status, r.body));
}

ErrorKind kind_for_status(long status) {
  switch (status) {
    case 404:
      return ErrorKind::kNotFound;
    case 409:
      return ErrorKind::kConflict;
    default:
      return ErrorKind::kOther;
  }
}

// Transport failure, or an HTTP error mapped by `kind_for_status` unless overridden.
RuntimeError failure(const Endpoint& endpoint, const HttpResponse& r, std::optional<ErrorKind> kind = {}) {
  if (r.transport != Transport::kOk) {
    return transport_error(endpoint, r);
  }
  return daemon_error(r, kind.value_or(kind_for_status(r.status)));
}

// Parses an engine body; a malformed one becomes a kOther error instead of an exception.
std::optional<json> parse_body(const HttpResponse& r, RuntimeError* error) {
  json j = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    *error = make_error(ErrorKind::kOther, "unreadable response from the Docker daemon (HTTP " +
                                               std::to_string(r.status) + "): " + r.body.substr(0, 200));
    return std::nullopt;
  }
  return j;
}

bool contains_ci(std::string_view haystack, std::string_view needle) {
  auto it = std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
  });
  return it != haystack.end();
}

// An image id rather than a reference: nothing to pull, only to find.
bool is_image_id(std::string_view image) {
  if (image.starts_with("sha256:")) {
    image.remove_prefix(7);
  } else {
    return false;
  }
  return image.size() == 64 && image.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

std::string id_of(const json& j) {
  auto it = j.find("Id");
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Consumes the JSON-lines body of a pull or an import: keeps the first error and logs progress (one line per
// layer and status change, so "Downloading" ticks don't flood the debug log).
class ImageProgress {
 public:
  ImageProgress(std::string verb, std::string image) : verb_(std::move(verb)), image_(std::move(image)) {}

  bool feed(std::string_view data) {
    return lines_.feed(data, [this](std::string_view line) { on_line(line); });
  }
  void finish() {
    lines_.flush([this](std::string_view line) { on_line(line); });
  }
  const std::optional<std::string>& error() const { return error_; }

 private:
  void on_line(std::string_view line) {
    json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) {
      return;
    }
    if (auto e = j.find("error"); e != j.end() && !error_) {
      error_ = e->is_string() ? e->get<std::string>() : e->dump();
      if (error_->empty()) {
        error_ = verb_ + " failed";
      }
      return;
    }
    auto text = [&](const char* key) {
      auto it = j.find(key);
      return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    std::string id = text("id");
    std::string status = text("status");
    if (status.empty()) {
      return;
    }
    std::string& last = last_status_[id];
    if (last != status) {
      last = status;
      spdlog::debug("docker {} {}: {}{}{}", verb_, image_, id, id.empty() ? "" : " ", status);
    }
  }

  std::string verb_;
  std::string image_;
  LineSplitter lines_{kMaxStreamLine};
  std::optional<std::string> error_;
  std::map<std::string, std::string> last_status_;
};

}  // namespace

class DockerRuntime::Impl {
 public:
  explicit Impl(Options options)
      : options_(std::move(options)),
        endpoint_(docker_detail::parse_endpoint(options_.host)),
        loop_(CurlLoop::Config{endpoint_, options_.connect_timeout, options_.max_connections}) {}

  const std::string& host() const { return options_.host; }
  void shutdown() { loop_.stop(); }

  void ensure_image(std::string image, std::optional<std::string> registry_auth,
                    std::function<void(ImageOutcome)> done);
  void import_image(std::string reference, std::string rootfs_tar, std::function<void(Done)> done);
  void ensure_network(NetworkSpec spec, std::function<void(Done)> done);
  void remove_network(std::string name, std::function<void(Done)> done);
  void ensure_volume(VolumeSpec spec, std::function<void(Done)> done);
  void remove_volume(std::string name, std::function<void(Done)> done);
  void ensure_cgroup(CgroupSpec spec, std::function<void(CgroupOutcome)> done);
  void remove_cgroup(std::string name, std::function<void(Done)> done);
  void create(ContainerSpec spec, std::function<void(CreateOutcome)> done);
  void start(std::string id, std::function<void(StartOutcome)> done);
  void kill(std::string id, std::string signal, std::function<void(Done)> done);
  void remove(std::string id, std::function<void(Done)> done);
  void inspect(std::string id, std::function<void(InspectOutcome)> done);
  void stats(std::string id, std::function<void(StatsOutcome)> done);
  void list(Labels filter, std::function<void(ListOutcome)> done);
  void info(std::function<void(EngineInfo)> done);
  void watch(Labels filter, std::function<void(RuntimeEvent)> on_event, std::function<void()> on_connected);

 private:
  struct Watcher {
    Labels filter;
    std::shared_ptr<std::function<void(RuntimeEvent)>> on_event;
    std::shared_ptr<std::function<void()>> on_connected;
    std::chrono::milliseconds backoff{0};
    LineSplitter lines{kMaxStreamLine};
    bool reported_outage = false;  // one warning per outage, then debug
  };

  // Caller thread: hands `fn` to the I/O thread (dropped after shutdown, as the contract allows).
  void on_loop(std::function<void()> fn) {
    if (!loop_.post(std::move(fn))) {
      spdlog::debug("docker runtime: operation after shutdown dropped");
    }
  }

  // I/O thread: every completion leaves through the poster, never inline.
  template <typename T>
  void deliver(std::function<void(T)> done, T outcome) {
    post_closure(
        [done = std::move(done), outcome = std::move(outcome)]() mutable { done(std::move(outcome)); });
  }
  void post_closure(std::function<void()> fn) {
    try {
      options_.post(std::move(fn));
    } catch (const std::exception& e) {
      spdlog::error("docker runtime: posting a completion failed: {}", e.what());
    }
  }

  HttpRequest request(std::string method, std::string path) const {
    HttpRequest r;
    r.method = std::move(method);
    r.path = std::move(path);
    r.timeout = options_.request_timeout;
    return r;
  }
  std::string api(std::string_view path) const { return api_prefix_ + std::string(path); }

  void with_api(ApiReady then);
  std::optional<RuntimeError> apply_version(const HttpResponse& r);
  void inspect_image(std::string image, std::function<void(HttpResponse)> then);
  void pull(ImageReference ref, std::string image, std::optional<std::string> registry_auth,
            std::function<void(ImageOutcome)> done);
  struct Inspected {
    InspectOutcome outcome;
    docker_detail::NetworkAddress address;
  };
  void inspect_container(const std::string& id, std::function<void(Inspected)> done);
  // Runs `fn` on the I/O thread once the API version is known; an engine that can't be reached completes
  // `done` with the error instead.
  void run_with_api(std::function<void(Done)> done, std::function<void(std::function<void(Done)>)> fn);
  void create_network(NetworkSpec spec, std::function<void(Done)> done);
  void connect_watcher(const std::shared_ptr<Watcher>& w);
  void retry_watcher(const std::shared_ptr<Watcher>& w, const std::string& why);
  void handle_event_line(const Watcher& w, std::string_view line);
  // I/O thread: the engine's cgroup layout, asked once.
  void with_cgroup_layout(std::function<void(std::optional<docker_detail::CgroupLayout>)> then);
  void apply_cgroup(const docker_detail::CgroupLayout& layout, const CgroupSpec& spec,
                    std::function<void(CgroupOutcome)> done);

  Options options_;
  Endpoint endpoint_;

  // I/O thread only.
  std::string api_prefix_;  // "/v1.41" once negotiated
  std::string api_version_;
  std::string engine_version_;
  bool negotiating_ = false;
  std::vector<ApiReady> api_waiters_;
  std::optional<docker_detail::CgroupLayout> cgroup_layout_;
  std::string cgroup_warning_;  // the last "cannot cap" reason logged, so each is logged once

  // Last: destroyed first, so the I/O thread is joined before the state it touches goes away.
  CurlLoop loop_;
};

void DockerRuntime::Impl::with_api(ApiReady then) {
  if (!endpoint_.error.empty()) {
    then(make_error(ErrorKind::kEngineUnavailable, endpoint_.error));
    return;
  }
  if (!api_prefix_.empty()) {
    then(std::nullopt);
    return;
  }
  api_waiters_.push_back(std::move(then));
  if (negotiating_) {
    return;
  }
  negotiating_ = true;
  loop_.send(request("GET", "/version"), [this](HttpResponse r) {
    std::optional<RuntimeError> error = apply_version(r);
    negotiating_ = false;
    std::vector<ApiReady> waiters;
    waiters.swap(api_waiters_);
    for (auto& w : waiters) {
      w(error);
    }
  });
}

std::optional<RuntimeError> DockerRuntime::Impl::apply_version(const HttpResponse& r) {
  if (r.transport != Transport::kOk) {
    return transport_error(endpoint_, r);
  }
  if (r.status != 200) {
    return daemon_error(r, ErrorKind::kEngineUnavailable);
  }
  RuntimeError error;
  auto j = parse_body(r, &error);
  if (!j) {
    return error;
  }
  auto text = [&](const char* key) {
    auto it = j->find(key);
    return it != j->end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  std::string why;
  auto negotiated = docker_detail::negotiate_api_version(text("ApiVersion"), text("MinAPIVersion"), &why);
  if (!negotiated) {
    return make_error(ErrorKind::kEngineUnavailable, why);
  }
  if (api_prefix_.empty()) {
    spdlog::info("docker engine {} at {}: using API {}", text("Version"), endpoint_.host, *negotiated);
  }
  engine_version_ = text("Version");
  api_version_ = *negotiated;
  api_prefix_ = "/v" + api_version_;
  return std::nullopt;
}

void DockerRuntime::Impl::inspect_image(std::string image, std::function<void(HttpResponse)> then) {
  loop_.send(request("GET", api("/images/" + url_encode(image, kImagePathKeep) + "/json")), std::move(then));
}

void DockerRuntime::Impl::ensure_image(std::string image, std::optional<std::string> registry_auth,
                                       std::function<void(ImageOutcome)> done) {
  on_loop([this, image = std::move(image), registry_auth = std::move(registry_auth),
           done = std::move(done)]() mutable {
    with_api([this, image = std::move(image), registry_auth = std::move(registry_auth),
              done = std::move(done)](std::optional<RuntimeError> err) mutable {
      if (err) {
        deliver(std::move(done), ImageOutcome{std::move(err)});
        return;
      }
      std::optional<ImageReference> ref;
      if (!is_image_id(image)) {
        std::string why;
        ref = parse_image_reference(image, &why);
        if (!ref) {
          deliver(std::move(done), ImageOutcome{make_error(ErrorKind::kImageNotFound, why + ": " + image)});
          return;
        }
      }
      inspect_image(image, [this, image, ref = std::move(ref), registry_auth = std::move(registry_auth),
                            done = std::move(done)](HttpResponse r) mutable {
        if (r.transport == Transport::kOk && r.status == 200) {
          RuntimeError error;
          auto j = parse_body(r, &error);
          if (!j) {
            deliver(std::move(done), ImageOutcome{error});
            return;
          }
          deliver(std::move(done), ImageOutcome{std::nullopt, id_of(*j), false});
          return;
        }
        if (r.transport == Transport::kOk && r.status == 404 && ref) {
          pull(std::move(*ref), std::move(image), std::move(registry_auth), std::move(done));
          return;
        }
        deliver(std::move(done),
                ImageOutcome{
                    failure(endpoint_, r, r.status == 404 ? ErrorKind::kImageNotFound : ErrorKind::kOther)});
      });
    });
  });
}

void DockerRuntime::Impl::pull(ImageReference ref, std::string image,
                               std::optional<std::string> registry_auth,
                               std::function<void(ImageOutcome)> done) {
  spdlog::info("docker pull {}", image);
  HttpRequest req = request("POST", api("/images/create?fromImage=" + url_encode(ref.familiar_name()) +
                                        "&tag=" + url_encode(ref.pull_tag())));
  req.timeout = options_.pull_timeout;
  // Credentials the caller resolved for this pull win over the runtime-wide source.
  if (registry_auth) {
    // A line break would end the header early and smuggle the rest into the request.
    if (registry_auth->find_first_of("\r\n") != std::string::npos) {
      deliver(std::move(done),
              ImageOutcome{make_error(ErrorKind::kImageNotFound,
                                      "pull of " + image + ": malformed registry credentials")});
      return;
    }
    req.headers.push_back("X-Registry-Auth: " + *registry_auth);
  } else if (options_.registry_auth) {
    try {
      if (auto auth = options_.registry_auth(ref.registry)) {
        req.headers.push_back("X-Registry-Auth: " + *auth);
      }
    } catch (const std::exception& e) {
      spdlog::warn("docker pull {}: registry credentials unavailable: {}", image, e.what());
    }
  }
  auto progress = std::make_shared<ImageProgress>("pull", image);
  req.on_data = [progress](std::string_view data) { return progress->feed(data); };
  loop_.send(std::move(req), [this, ref, image, progress, done = std::move(done)](HttpResponse r) mutable {
    if (r.transport == Transport::kTimeout) {
      deliver(std::move(done),
              ImageOutcome{make_error(ErrorKind::kImageNotFound,
                                      "pull of " + image + " timed out: " + r.transport_message)});
      return;
    }
    if (r.transport != Transport::kOk) {
      deliver(std::move(done), ImageOutcome{transport_error(endpoint_, r)});
      return;
    }
    if (r.status != 200) {
      deliver(std::move(done), ImageOutcome{daemon_error(r, ErrorKind::kImageNotFound)});
      return;
    }
    progress->finish();
    if (progress->error()) {
      spdlog::info("docker pull {} failed: {}", image, *progress->error());
      deliver(std::move(done), ImageOutcome{make_error(ErrorKind::kImageNotFound, *progress->error())});
      return;
    }
    inspect_image(ref.pinned(), [this, image, done = std::move(done)](HttpResponse again) mutable {
      if (again.transport != Transport::kOk || again.status != 200) {
        deliver(std::move(done),
                ImageOutcome{failure(endpoint_, again,
                                     again.status == 404 ? ErrorKind::kImageNotFound : ErrorKind::kOther)});
        return;
      }
      RuntimeError error;
      auto j = parse_body(again, &error);
      if (!j) {
        deliver(std::move(done), ImageOutcome{error});
        return;
      }
      spdlog::info("docker pull {} done", image);
      deliver(std::move(done), ImageOutcome{std::nullopt, id_of(*j), true});
    });
  });
}

void DockerRuntime::Impl::run_with_api(std::function<void(Done)> done,
                                       std::function<void(std::function<void(Done)>)> fn) {
  on_loop([this, done = std::move(done), fn = std::move(fn)]() mutable {
    with_api([this, done = std::move(done), fn = std::move(fn)](std::optional<RuntimeError> err) mutable {
      if (err) {
        deliver(std::move(done), Done{std::move(err)});
        return;
      }
      fn(std::move(done));
    });
  });
}

void DockerRuntime::Impl::with_cgroup_layout(
    std::function<void(std::optional<docker_detail::CgroupLayout>)> then) {
  if (cgroup_layout_) {
    then(cgroup_layout_);
    return;
  }
  with_api([this, then = std::move(then)](std::optional<RuntimeError> err) mutable {
    if (err) {
      then(std::nullopt);
      return;
    }
    loop_.send(request("GET", api("/info")), [this, then = std::move(then)](HttpResponse r) mutable {
      RuntimeError error;
      auto j = r.transport == Transport::kOk && r.status == 200 ? parse_body(r, &error) : std::nullopt;
      if (!j) {
        then(std::nullopt);
        return;
      }
      cgroup_layout_ = docker_detail::cgroup_layout_from_info(*j);
      then(cgroup_layout_);
    });
  });
}

void DockerRuntime::Impl::apply_cgroup(const docker_detail::CgroupLayout& layout, const CgroupSpec& spec,
                                       std::function<void(CgroupOutcome)> done) {
  CgroupOutcome out;
  if (endpoint_.unix_path.empty()) {
    out.note = "the Docker engine at " + endpoint_.host +
               " is not on this machine, so berth cannot write its cgroups";
  } else if (layout.driver != "cgroupfs") {
    out.note = "the Docker engine uses the " +
               (layout.driver.empty() ? std::string("unknown") : layout.driver) +
               " cgroup driver; berth writes cgroupfs hierarchies only";
  } else {
    auto applied = docker_detail::apply_cgroup(options_.cgroup_root, layout.version, spec);
    if (applied.parent.empty()) {
      // Once more: another berth on this engine may have just removed the shared, empty parent directory.
      applied = docker_detail::apply_cgroup(options_.cgroup_root, layout.version, spec);
    }
    out.parent = applied.parent;
    out.note = applied.error;
  }
  if (out.parent.empty() && out.note != cgroup_warning_) {
    cgroup_warning_ = out.note;
    spdlog::warn(
        "container instances' CPU and memory are not capped ({}): their tasks run without the instance's "
        "limit",
        out.note);
  } else if (!out.parent.empty()) {
    spdlog::debug("cgroup {}: {} CPU units, {} bytes", out.parent, spec.cpu_units, spec.memory_bytes);
  }
  deliver(std::move(done), std::move(out));
}

void DockerRuntime::Impl::ensure_cgroup(CgroupSpec spec, std::function<void(CgroupOutcome)> done) {
  on_loop([this, spec = std::move(spec), done = std::move(done)]() mutable {
    with_cgroup_layout([this, spec = std::move(spec),
                        done = std::move(done)](std::optional<docker_detail::CgroupLayout> layout) mutable {
      if (!layout) {
        // The engine did not answer: try again with the next task.
        deliver(std::move(done), CgroupOutcome{make_error(ErrorKind::kEngineUnavailable,
                                                          "cannot read the Docker engine's cgroup layout"),
                                               "", ""});
        return;
      }
      apply_cgroup(*layout, spec, std::move(done));
    });
  });
}

void DockerRuntime::Impl::remove_cgroup(std::string name, std::function<void(Done)> done) {
  on_loop([this, name = std::move(name), done = std::move(done)]() mutable {
    if (cgroup_layout_ && cgroup_layout_->driver == "cgroupfs" && !endpoint_.unix_path.empty()) {
      docker_detail::remove_cgroup_dirs(options_.cgroup_root, cgroup_layout_->version, name);
    }
    deliver(std::move(done), Done{});
  });
}

void DockerRuntime::Impl::import_image(std::string reference, std::string rootfs_tar,
                                       std::function<void(Done)> done) {
  std::string why;
  std::optional<ImageReference> ref = parse_image_reference(reference, &why);
  if (ref && !ref->digest.empty()) {
    ref.reset();
    why = "an imported image is named by a tag, not a digest";
  }
  run_with_api(std::move(done), [this, ref = std::move(ref), why = std::move(why),
                                 reference = std::move(reference),
                                 rootfs_tar = std::move(rootfs_tar)](std::function<void(Done)> done) mutable {
    if (!ref) {
      deliver(std::move(done), Done{make_error(ErrorKind::kOther, why + ": " + reference)});
      return;
    }
    spdlog::info("docker import {} ({} bytes)", reference, rootfs_tar.size());
    HttpRequest req =
        request("POST", api("/images/create?fromSrc=-&repo=" + url_encode(ref->familiar_name()) +
                            "&tag=" + url_encode(ref->tag.empty() ? "latest" : ref->tag)));
    req.timeout = options_.pull_timeout;
    req.body = std::move(rootfs_tar);
    req.content_type = "application/x-tar";
    auto progress = std::make_shared<ImageProgress>("import", reference);
    req.on_data = [progress](std::string_view data) { return progress->feed(data); };
    loop_.send(std::move(req), [this, reference, progress, done = std::move(done)](HttpResponse r) mutable {
      if (r.transport != Transport::kOk || r.status != 200) {
        deliver(std::move(done), Done{failure(endpoint_, r, ErrorKind::kOther)});
        return;
      }
      // A tar the engine can't read still answers 200; the failure is a line in the stream.
      progress->finish();
      if (progress->error()) {
        spdlog::info("docker import {} failed: {}", reference, *progress->error());
        deliver(std::move(done), Done{make_error(ErrorKind::kOther, *progress->error())});
        return;
      }
      deliver(std::move(done), Done{});
    });
  });
}

void DockerRuntime::Impl::ensure_network(NetworkSpec spec, std::function<void(Done)> done) {
  run_with_api(std::move(done), [this, spec = std::move(spec)](std::function<void(Done)> done) mutable {
    const std::string path = api("/networks/" + url_encode(spec.name));
    loop_.send(request("GET", path),
               [this, spec = std::move(spec), done = std::move(done)](HttpResponse r) mutable {
                 if (r.transport == Transport::kOk && r.status == 200) {
                   // The engine also finds networks by id prefix; only one of this very name counts as
                   // present.
                   json j = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
                   auto name = j.is_object() ? j.find("Name") : j.end();
                   if (j.is_object() && name != j.end() && name->is_string() && *name == spec.name) {
                     deliver(std::move(done), Done{});
                     return;
                   }
                 } else if (r.transport != Transport::kOk || r.status != 404) {
                   deliver(std::move(done), Done{failure(endpoint_, r)});
                   return;
                 }
                 create_network(std::move(spec), std::move(done));
               });
  });
}

void DockerRuntime::Impl::create_network(NetworkSpec spec, std::function<void(Done)> done) {
  HttpRequest req = request("POST", api("/networks/create"));
  req.body = docker_detail::network_create_body(spec).dump(-1, ' ', false, json::error_handler_t::replace);
  loop_.send(std::move(req), [this, name = spec.name, done = std::move(done)](HttpResponse r) mutable {
    // 409: created in the meantime (by a concurrent ensure), which is what was asked for.
    if (r.transport == Transport::kOk && (r.status == 201 || r.status == 200 || r.status == 409)) {
      if (r.status != 409) {
        spdlog::info("docker network {} created", name);
      }
      deliver(std::move(done), Done{});
      return;
    }
    deliver(std::move(done), Done{failure(endpoint_, r)});
  });
}

void DockerRuntime::Impl::remove_network(std::string name, std::function<void(Done)> done) {
  run_with_api(std::move(done), [this, name = std::move(name)](std::function<void(Done)> done) mutable {
    loop_.send(request("DELETE", api("/networks/" + url_encode(name))), [this, done = std::move(done)](
                                                                            HttpResponse r) mutable {
      if (r.transport == Transport::kOk && (r.status == 204 || r.status == 200 || r.status == 404)) {
        deliver(std::move(done), Done{});
        return;
      }
      // 20.10 answers 403 for a network with endpoints still attached; both mean "in use".
      const bool in_use = r.status == 403 || r.status == 409;
      deliver(std::move(done),
              Done{failure(endpoint_, r, in_use ? std::optional(ErrorKind::kConflict) : std::nullopt)});
    });
  });
}

void DockerRuntime::Impl::ensure_volume(VolumeSpec spec, std::function<void(Done)> done) {
  run_with_api(std::move(done), [this, spec = std::move(spec)](std::function<void(Done)> done) mutable {
    // Creating a volume that exists with the same driver answers it unchanged, so no inspect is needed.
    HttpRequest req = request("POST", api("/volumes/create"));
    json body{{"Name", spec.name},
              {"Driver", spec.driver.empty() ? "local" : spec.driver},
              {"DriverOpts", json::object()},
              {"Labels", json::object()}};
    for (const auto& [k, v] : spec.driver_opts) {
      body["DriverOpts"][k] = v;
    }
    for (const auto& [k, v] : spec.labels) {
      body["Labels"][k] = v;
    }
    req.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
    loop_.send(std::move(req), [this, done = std::move(done)](HttpResponse r) mutable {
      if (r.transport == Transport::kOk && (r.status == 201 || r.status == 200)) {
        deliver(std::move(done), Done{});
        return;
      }
      deliver(std::move(done), Done{failure(endpoint_, r)});
    });
  });
}

void DockerRuntime::Impl::remove_volume(std::string name, std::function<void(Done)> done) {
  run_with_api(std::move(done), [this, name = std::move(name)](std::function<void(Done)> done) mutable {
    loop_.send(request("DELETE", api("/volumes/" + url_encode(name))),
               [this, done = std::move(done)](HttpResponse r) mutable {
                 if (r.transport == Transport::kOk && (r.status == 204 || r.status == 404)) {
                   deliver(std::move(done), Done{});
                   return;
                 }
                 // 409: a container still uses it.
                 deliver(std::move(done), Done{failure(endpoint_, r)});
               });
  });
}

void DockerRuntime::Impl::create(ContainerSpec spec, std::function<void(CreateOutcome)> done) {
  on_loop([this, spec = std::move(spec), done = std::move(done)]() mutable {
    with_api([this, spec = std::move(spec), done = std::move(done)](std::optional<RuntimeError> err) mutable {
      if (err) {
        deliver(std::move(done), CreateOutcome{std::move(err)});
        return;
      }
      std::string path = "/containers/create";
      if (!spec.name.empty()) {
        path += "?name=" + url_encode(spec.name);
      }
      HttpRequest req = request("POST", api(path));
      // Replace rather than throw on invalid UTF-8 in, say, an environment value.
      req.body = docker_detail::create_body(spec).dump(-1, ' ', false, json::error_handler_t::replace);
      loop_.send(std::move(req), [this, done = std::move(done)](HttpResponse r) mutable {
        if (r.transport != Transport::kOk || r.status != 201) {
          // A missing image is the engine's 404 here; a taken name its 409.
          deliver(std::move(done), CreateOutcome{failure(endpoint_, r,
                                                         r.status == 404 ? ErrorKind::kImageNotFound
                                                                         : kind_for_status(r.status))});
          return;
        }
        RuntimeError error;
        auto j = parse_body(r, &error);
        if (!j) {
          deliver(std::move(done), CreateOutcome{error});
          return;
        }
        if (auto w = j->find("Warnings"); w != j->end() && w->is_array() && !w->empty()) {
          spdlog::debug("docker create {}: warnings {}", id_of(*j), w->dump());
        }
        deliver(std::move(done), CreateOutcome{std::nullopt, id_of(*j)});
      });
    });
  });
}

void DockerRuntime::Impl::inspect_container(const std::string& id, std::function<void(Inspected)> done) {
  loop_.send(request("GET", api("/containers/" + url_encode(id) + "/json")),
             [this, done = std::move(done)](HttpResponse r) mutable {
               if (r.transport != Transport::kOk || r.status != 200) {
                 done(Inspected{InspectOutcome{failure(endpoint_, r)}, {}});
                 return;
               }
               RuntimeError error;
               auto j = parse_body(r, &error);
               if (!j) {
                 done(Inspected{InspectOutcome{error}, {}});
                 return;
               }
               done(Inspected{InspectOutcome{std::nullopt, docker_detail::state_from_inspect(*j)},
                              docker_detail::network_address_from_inspect(*j)});
             });
}

void DockerRuntime::Impl::start(std::string id, std::function<void(StartOutcome)> done) {
  on_loop([this, id = std::move(id), done = std::move(done)]() mutable {
    with_api([this, id = std::move(id), done = std::move(done)](std::optional<RuntimeError> err) mutable {
      if (err) {
        deliver(std::move(done), StartOutcome{std::move(err)});
        return;
      }
      loop_.send(request("POST", api("/containers/" + url_encode(id) + "/start")),
                 [this, id, done = std::move(done)](HttpResponse r) mutable {
                   // 304: already running, which is what start wants.
                   if (r.transport != Transport::kOk || (r.status != 204 && r.status != 304)) {
                     deliver(std::move(done), StartOutcome{failure(endpoint_, r)});
                     return;
                   }
                   // Dynamic host ports are only known once the engine has started the container.
                   inspect_container(id, [this, done = std::move(done)](Inspected i) mutable {
                     StartOutcome out;
                     out.error = std::move(i.outcome.error);
                     out.bindings = std::move(i.outcome.state.bindings);
                     out.ip_address = std::move(i.address.ip);
                     out.mac_address = std::move(i.address.mac);
                     deliver(std::move(done), std::move(out));
                   });
                 });
    });
  });
}

void DockerRuntime::Impl::kill(std::string id, std::string signal, std::function<void(Done)> done) {
  on_loop([this, id = std::move(id), signal = std::move(signal), done = std::move(done)]() mutable {
    with_api([this, id = std::move(id), signal = std::move(signal),
              done = std::move(done)](std::optional<RuntimeError> err) mutable {
      if (err) {
        deliver(std::move(done), Done{std::move(err)});
        return;
      }
      std::string path = "/containers/" + url_encode(id) + "/kill";
      if (!signal.empty()) {
        path += "?signal=" + url_encode(signal);
      }
      loop_.send(request("POST", api(path)), [this, done = std::move(done)](HttpResponse r) mutable {
        if (r.transport == Transport::kOk &&
            (r.status == 204 || (r.status == 409 && contains_ci(r.body, "not running")))) {
          deliver(std::move(done), Done{});
          return;
        }
        deliver(std::move(done), Done{failure(endpoint_, r)});
      });
    });
  });
}

void DockerRuntime::Impl::remove(std::string id, std::function<void(Done)> done) {
  on_loop([this, id = std::move(id), done = std::move(done)]() mutable {
    with_api([this, id = std::move(id), done = std::move(done)](std::optional<RuntimeError> err) mutable {
      if (err) {
        deliver(std::move(done), Done{std::move(err)});
        return;
      }
      loop_.send(request("DELETE", api("/containers/" + url_encode(id) + "?force=1&v=1")),
                 [this, done = std::move(done)](HttpResponse r) mutable {
                   if (r.transport == Transport::kOk && (r.status == 204 || r.status == 404)) {
                     deliver(std::move(done), Done{});
                     return;
                   }
                   deliver(std::move(done), Done{failure(endpoint_, r)});
                 });
    });
  });
}

void DockerRuntime::Impl::inspect(std::string id, std::function<void(InspectOutcome)> done) {
  on_loop([this, id = std::move(id), done = std::move(done)]() mutable {
    with_api([this, id = std::move(id), done = std::move(done)](std::optional<RuntimeError> err) mutable {
      if (err) {
        deliver(std::move(done), InspectOutcome{std::move(err)});
        return;
      }
      inspect_container(id, [this, done = std::move(done)](Inspected i) mutable {
        i.outcome.state.ip_address = std::move(i.address.ip);
        deliver(std::move(done), std::move(i.outcome));
      });
    });
  });
}

void DockerRuntime::Impl::stats(std::string id, std::function<void(StatsOutcome)> done) {
  on_loop([this, id = std::move(id), done = std::move(done)]() mutable {
    with_api([this, id = std::move(id), done = std::move(done)](std::optional<RuntimeError> err) mutable {
      if (err) {
        deliver(std::move(done), StatsOutcome{std::move(err)});
        return;
      }
      // stream=false: one document; the engine samples twice (about a second apart) so that precpu_stats is set.
      loop_.send(request("GET", api("/containers/" + url_encode(id) + "/stats?stream=false")),
                 [this, done = std::move(done)](HttpResponse r) mutable {
                   if (r.transport != Transport::kOk || r.status != 200) {
                     deliver(std::move(done), StatsOutcome{failure(endpoint_, r)});
                     return;
                   }
                   RuntimeError error;
                   if (!parse_body(r, &error)) {
                     deliver(std::move(done), StatsOutcome{error});
                     return;
                   }
                   deliver(std::move(done), StatsOutcome{std::nullopt, std::move(r.body)});
                 });
    });
  });
}

void DockerRuntime::Impl::list(Labels filter, std::function<void(ListOutcome)> done) {
  on_loop([this, filter = std::move(filter), done = std::move(done)]() mutable {
    with_api(
        [this, filter = std::move(filter), done = std::move(done)](std::optional<RuntimeError> err) mutable {
          if (err) {
            deliver(std::move(done), ListOutcome{std::move(err)});
            return;
          }
          std::string path = "/containers/json?all=1";
          if (!filter.empty()) {
            path += "&filters=" + url_encode(docker_detail::label_filter(filter).dump());
          }
          loop_.send(request("GET", api(path)), [this, done = std::move(done)](HttpResponse r) mutable {
            if (r.transport != Transport::kOk || r.status != 200) {
              deliver(std::move(done), ListOutcome{failure(endpoint_, r)});
              return;
            }
            RuntimeError error;
            auto j = parse_body(r, &error);
            if (!j || !j->is_array()) {
              deliver(std::move(done),
                      ListOutcome{j ? make_error(ErrorKind::kOther,
                                                 "unexpected container list from the Docker daemon")
                                    : error});
              return;
            }
            ListOutcome out;
            for (const json& c : *j) {
              out.containers.push_back(docker_detail::state_from_summary(c));
            }
            deliver(std::move(done), std::move(out));
          });
        });
  });
}

void DockerRuntime::Impl::info(std::function<void(EngineInfo)> done) {
  on_loop([this, done = std::move(done)]() mutable {
    if (!endpoint_.error.empty()) {
      deliver(std::move(done), EngineInfo{false, "", "", endpoint_.error});
      return;
    }
    // Always asks afresh: info is the health probe, so a cached answer would hide an engine that went away.
    loop_.send(request("GET", "/version"), [this, done = std::move(done)](HttpResponse r) mutable {
      if (auto error = apply_version(r)) {
        deliver(std::move(done), EngineInfo{false, "", "", std::move(error->message)});
        return;
      }
      deliver(std::move(done), EngineInfo{true, engine_version_, api_version_, ""});
    });
  });
}

void DockerRuntime::Impl::watch(Labels filter, std::function<void(RuntimeEvent)> on_event,
                                std::function<void()> on_connected) {
  auto w = std::make_shared<Watcher>();
  w->filter = std::move(filter);
  w->on_event = std::make_shared<std::function<void(RuntimeEvent)>>(std::move(on_event));
  w->on_connected = std::make_shared<std::function<void()>>(std::move(on_connected));
  w->backoff = options_.reconnect_min;
  on_loop([this, w] { connect_watcher(w); });
}

void DockerRuntime::Impl::connect_watcher(const std::shared_ptr<Watcher>& w) {
  with_api([this, w](std::optional<RuntimeError> err) {
    if (err) {
      retry_watcher(w, err->message);
      return;
    }
    json filters = w->filter.empty() ? json::object() : docker_detail::label_filter(w->filter);
    filters["type"] = json::array({"container"});
    // The engine matches "health_status" against "health_status: healthy" and the like by prefix.
    filters["event"] = json::array({"start", "die", "oom", "destroy", "health_status"});
    HttpRequest req = request("GET", api("/events?filters=" + url_encode(filters.dump())));
    req.timeout = std::chrono::milliseconds{0};
    w->lines.reset();
    // The engine sends headers as soon as it subscribes, so this fires even when no event ever comes.
    req.on_headers = [this, w](long status) {
      if (status != 200) {
        return;
      }
      if (w->reported_outage) {
        spdlog::info("docker event stream reconnected to {}", endpoint_.host);
      }
      w->reported_outage = false;
      w->backoff = options_.reconnect_min;
      if (*w->on_connected) {
        post_closure([cb = w->on_connected] { (*cb)(); });
      }
    };
    req.on_data = [this, w](std::string_view data) {
      return w->lines.feed(data, [&](std::string_view line) { handle_event_line(*w, line); });
    };
    loop_.send(std::move(req), [this, w](HttpResponse r) {
      std::string why;
      if (r.transport != Transport::kOk) {
        why = transport_error(endpoint_, r).message;
      } else if (r.status != 200) {
        why = daemon_error_text(r.status, r.body);
      } else {
        why = "the Docker daemon closed the event stream";
      }
      retry_watcher(w, why);
    });
  });
}

void DockerRuntime::Impl::retry_watcher(const std::shared_ptr<Watcher>& w, const std::string& why) {
  const auto delay = w->backoff;
  if (!w->reported_outage) {
    spdlog::warn("docker event stream: {}; reconnecting", why);
    w->reported_outage = true;
  } else {
    spdlog::debug("docker event stream: {}; retrying in {} ms", why, delay.count());
  }
  w->backoff = std::min(delay * 2, std::max(options_.reconnect_max, options_.reconnect_min));
  loop_.after(delay, [this, w] { connect_watcher(w); });
}

void DockerRuntime::Impl::handle_event_line(const Watcher& w, std::string_view line) {
  json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    spdlog::debug("docker event stream: skipping unreadable line");
    return;
  }
  std::optional<RuntimeEvent> ev = docker_detail::event_from_json(j);
  if (!ev || !*w.on_event) {
    return;
  }
  post_closure([cb = w.on_event, ev = std::move(*ev)] { (*cb)(ev); });
}

DockerRuntime::DockerRuntime(Options options) {
  if (!options.post) {
    throw std::invalid_argument("DockerRuntime needs a poster");
  }
  if (options.host.empty()) {
    options.host = host_from_env();
  }
  impl_ = std::make_unique<Impl>(std::move(options));
}

DockerRuntime::~DockerRuntime() { shutdown(); }

std::string DockerRuntime::host_from_env() {
  const char* env = std::getenv("DOCKER_HOST");
  return env != nullptr && *env != '\0' ? std::string(env) : std::string(kDefaultHost);
}

const std::string& DockerRuntime::host() const { return impl_->host(); }

void DockerRuntime::ensure_image(std::string image, std::optional<std::string> registry_auth,
                                 std::function<void(ImageOutcome)> done) {
  impl_->ensure_image(std::move(image), std::move(registry_auth), std::move(done));
}
void DockerRuntime::import_image(std::string reference, std::string rootfs_tar,
                                 std::function<void(Done)> done) {
  impl_->import_image(std::move(reference), std::move(rootfs_tar), std::move(done));
}
void DockerRuntime::ensure_network(NetworkSpec spec, std::function<void(Done)> done) {
  impl_->ensure_network(std::move(spec), std::move(done));
}
void DockerRuntime::remove_network(std::string name, std::function<void(Done)> done) {
  impl_->remove_network(std::move(name), std::move(done));
}
void DockerRuntime::ensure_volume(VolumeSpec spec, std::function<void(Done)> done) {
  impl_->ensure_volume(std::move(spec), std::move(done));
}
void DockerRuntime::remove_volume(std::string name, std::function<void(Done)> done) {
  impl_->remove_volume(std::move(name), std::move(done));
}
void DockerRuntime::ensure_cgroup(CgroupSpec spec, std::function<void(CgroupOutcome)> done) {
  impl_->ensure_cgroup(std::move(spec), std::move(done));
}
void DockerRuntime::remove_cgroup(std::string name, std::function<void(Done)> done) {
  impl_->remove_cgroup(std::move(name), std::move(done));
}
void DockerRuntime::create(ContainerSpec spec, std::function<void(CreateOutcome)> done) {
  impl_->create(std::move(spec), std::move(done));
}
void DockerRuntime::start(std::string id, std::function<void(StartOutcome)> done) {
  impl_->start(std::move(id), std::move(done));
}
void DockerRuntime::kill(std::string id, std::string signal, std::function<void(Done)> done) {
  impl_->kill(std::move(id), std::move(signal), std::move(done));
}
void DockerRuntime::remove(std::string id, std::function<void(Done)> done) {
  impl_->remove(std::move(id), std::move(done));
}
void DockerRuntime::inspect(std::string id, std::function<void(InspectOutcome)> done) {
  impl_->inspect(std::move(id), std::move(done));
}
void DockerRuntime::stats(std::string id, std::function<void(StatsOutcome)> done) {
  impl_->stats(std::move(id), std::move(done));
}
void DockerRuntime::list(Labels filter, std::function<void(ListOutcome)> done) {
  impl_->list(std::move(filter), std::move(done));
}
void DockerRuntime::info(std::function<void(EngineInfo)> done) { impl_->info(std::move(done)); }
void DockerRuntime::watch(Labels filter, std::function<void(RuntimeEvent)> on_event,
                          std::function<void()> on_connected) {
  impl_->watch(std::move(filter), std::move(on_event), std::move(on_connected));
}
void DockerRuntime::shutdown() { impl_->shutdown(); }

}  // namespace berth::runtime
