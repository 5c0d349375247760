#include <berth/app/app.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <boost/asio/redirect_error.hpp>
#include <spdlog/spdlog.h>

#include <berth/common/asio.hpp>
#include <berth/common/clock.hpp>
#include <berth/common/ids.hpp>
#include <berth/common/tar.hpp>
#include <berth/endpoints/credentials.hpp>
#include <berth/endpoints/task_metadata.hpp>
#include <berth/http/server.hpp>
#include <berth/protocol/aws_json.hpp>
#include <berth/runtime/docker_runtime.hpp>
#include <berth/scheduler/service_scheduler.hpp>
#include <berth/scheduler/task_reconciler.hpp>
#include <berth/services/ecs.hpp>
#include <berth/state/snapshot.hpp>
#include <berth/state/store.hpp>

namespace berth::app {
namespace {

constexpr auto kTickPeriod = std::chrono::milliseconds(500);
constexpr TimeMs kSnapshotEveryMs = 2000;
// The Docker network whose gateway gives the host the metadata address (169.254.170.2): every container reaches
// it through its own gateway, whatever its network mode, with no change to its image.
constexpr char kMetadataNetwork[] = "berth-metadata";
constexpr char kMetadataSubnet[] = "169.254.170.0/24";
constexpr TimeMs kMetadataNetworkCheckMs = 30'000;
constexpr auto kMetadataRetryMin = std::chrono::milliseconds(250);
constexpr auto kMetadataRetryMax = std::chrono::milliseconds(5000);

std::optional<std::string> read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) {
    return std::nullopt;
  }
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

// Write-then-rename, so a crash mid-write never leaves a torn file behind.
bool write_file_atomically(const std::filesystem::path& p, const std::string& text) {
  auto tmp = p;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out || !(out << text) || !out.flush()) {
      return false;
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, p, ec);
  return !ec;
}

std::optional<std::string> getenv_lookup(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  return v == nullptr ? std::nullopt : std::optional<std::string>(v);
}

// The ids in metadata paths are capabilities: logs show where a request went, never which id it named.
std::string redacted(const std::string& path) {
  std::string out;
  std::size_t start = 1;
  std::string previous;
  int index = 0;
  while (start <= path.size()) {
    auto slash = path.find('/', start);
    std::string part = path.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    const bool secret = (index == 1 && (previous == "v3" || previous == "v4" || previous == "api")) ||
                        (index == 2 && previous == "credentials");
    out += "/" + (secret && !part.empty() ? std::string("<id>") : part);
    previous = part;
    ++index;
    if (slash == std::string::npos) {
      break;
    }
    start = slash + 1;
  }
  return out;
}

// The seed of the local task credentials: kept in the data dir so keys stay the same across restarts.
std::string credentials_seed(const std::string& data_dir) {
  if (data_dir.empty()) {
    return ids::secret_hex(32);
  }
  const auto path = std::filesystem::path(data_dir) / "task-credentials-seed";
  if (auto saved = read_file(path); saved && saved->size() == 64) {
    return *saved;
  }
  std::string seed = ids::secret_hex(32);
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << seed;
  }
  std::filesystem::permissions(path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
                               std::filesystem::perm_options::replace, ec);
  return seed;
}

http::Response to_http(protocol::AwsResponse r) {
  http::Response out;
  out.status = r.status;
  out.content_type = std::move(r.content_type);
  out.body = std::move(r.body);
  out.headers = std::move(r.headers);
  out.headers.emplace_back("x-amzn-RequestId", r.request_id);
  return out;
}

http::Response json_response(int status, const json& body) {
  http::Response out;
  out.status = status;
  out.body = body.dump();
  return out;
}

// Awaits a callback-style call whose completion arrives on another strand (the control strand). The completion
// is posted to the awaiting coroutine's own executor rather than resuming it from the other thread, which could
// race with the initiating thread if the callback came back at once.
template <typename T, typename Start>
net::awaitable<T> await_callback(Start start) {
  co_return co_await net::async_initiate<decltype(net::use_awaitable), void(T)>(
      [start = std::move(start)](auto handler) mutable {
        auto executor = net::get_associated_executor(handler);
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        start([shared, executor](T value) {
          net::post(executor, [shared, value = std::move(value)]() mutable { (*shared)(std::move(value)); });
        });
      },
      net::use_awaitable);
}

}  // namespace

struct App::Impl {
  Config config;
  net::io_context io;
  net::strand<net::io_context::executor_type> control;
  SystemClock clock;
  state::Store store;
  std::unique_ptr<runtime::DockerRuntime> runtime;
  std::unique_ptr<scheduler::TaskReconciler> reconciler;
  std::unique_ptr<scheduler::ServiceScheduler> service_scheduler;
  protocol::HandlerTable handlers;
  std::unique_ptr<services::EcsContext> ecs;
  std::unique_ptr<http::Server> server;
  net::steady_timer tick_timer;
  // Task metadata and credentials (control strand).
  std::unique_ptr<endpoints::LocalCredentialIssuer> issuer;
  std::unique_ptr<endpoints::TaskMetadataService> metadata;
  std::unique_ptr<http::Server> metadata_server;
  net::steady_timer metadata_retry;
  std::chrono::milliseconds metadata_backoff = kMetadataRetryMin;
  bool metadata_warned = false;
  bool stopping = false;
  TimeMs metadata_network_checked_at = 0;
  TimeMs started_at = 0;
  TimeMs last_snapshot_at = 0;
  std::string last_snapshot;
  Scope defaults;

  explicit Impl(Config c)
      : config(std::move(c)),
        io(config.threads),
        control(net::make_strand(io)),
        tick_timer(control),
        metadata_retry(control) {
    defaults = Scope{config.account, config.region};
    runtime::DockerRuntime::Options opts;
    opts.host = config.docker_host;
    opts.post = [this](std::function<void()> f) { net::post(control, std::move(f)); };
    runtime = std::make_unique<runtime::DockerRuntime>(std::move(opts));
    scheduler::ReconcilerOptions ro;
    ro.instance_id = ids::hex32().substr(0, 16);
    if (!config.data_dir.empty()) {
      // A restarted berth must recognise the containers it started before.
      if (auto saved = read_file(std::filesystem::path(config.data_dir) / "instance-id"); saved && saved->size() == 16) {
        ro.instance_id = *saved;
      }
    }
    ro.host_ip = config.host_ip;
    ro.fargate_cpu_units = config.fargate_cpu;
    ro.fargate_memory_mib = config.fargate_memory;
    ro.task_retention_ms = config.task_retention_s * 1000;
    ro.container_cleanup_wait_ms = config.container_cleanup_wait_s * 1000;
    ro.efs_root = !config.efs_dir.empty()    ? config.efs_dir
                  : !config.data_dir.empty() ? config.data_dir + "/efs"
                                             : (std::filesystem::temp_directory_path() / "berth-efs").string();
    ro.pause_rootfs_tar = []() -> std::optional<std::string> {
      // berth-pause is built beside berth; its image is that one static binary.
      std::error_code ec;
      auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
      auto binary = read_file(exe.parent_path() / "berth-pause");
      if (ec || !binary) {
        return std::nullopt;
      }
      return make_tar({TarEntry{"pause", std::move(*binary), 0755}});
    };
    if (!config.secrets_file.empty()) {
      // Read at each lookup, so secrets can be added without restarting berth. Values are never logged.
      ro.secret_lookup = [path = config.secrets_file](const std::string& key) -> std::optional<std::string> {
        auto text = read_file(path);
        json doc = text ? json::parse(*text, nullptr, false) : json();
        if (!doc.is_object() || !doc.contains(key)) {
          return std::nullopt;
        }
        return doc[key].is_string() ? doc[key].get<std::string>() : doc[key].dump();
      };
    }
    if (!config.s3_dir.empty()) {
      ro.s3_lookup = [dir = config.s3_dir](const std::string& bucket, const std::string& key) -> std::optional<std::string> {
        if (bucket.find("..") != std::string::npos || key.find("..") != std::string::npos) {
          return std::nullopt;
        }
        return read_file(std::filesystem::path(dir) / bucket / key);
      };
    }
    if (config.metadata) {
      ro.metadata_base_url = "http://" + config.metadata_address +
                             (config.metadata_port == 80 ? "" : ":" + std::to_string(config.metadata_port));
    }
    reconciler = std::make_unique<scheduler::TaskReconciler>(store, *runtime, clock, ro);
    scheduler::ServiceSchedulerOptions so;
    so.healthy_after_ms = config.service_healthy_after_s * 1000;
    service_scheduler = std::make_unique<scheduler::ServiceScheduler>(
        store, clock, [this](const std::string& task_id) { reconciler->reconcile(task_id); },
        [this](std::function<void()> f) { net::post(control, std::move(f)); }, so);
    // Task changes (Docker events, completions) wake the service of the task at once.
    reconciler->set_task_observer([this](const state::Task& task) { service_scheduler->task_changed(task); });
    endpoints::EndpointOptions eo;
    eo.is_local_address = endpoints::is_host_address;
    if (config.task_credentials == "passthrough") {
      eo.credentials = [](const std::string&, const std::string&, TimeMs now) {
        return endpoints::passthrough_credentials(getenv_lookup, now);
      };
    } else {
      issuer = std::make_unique<endpoints::LocalCredentialIssuer>(credentials_seed(config.data_dir));
      eo.credentials = [this](const std::string& role, const std::string& account, TimeMs now) {
        return std::optional<endpoints::RoleCredentials>(issuer->issue(role, account, now));
      };
    }
    metadata = std::make_unique<endpoints::TaskMetadataService>(store, *runtime, clock, std::move(eo));
    ecs = std::make_unique<services::EcsContext>(services::EcsContext{
        store, clock, [this](const std::string& task_id) { reconciler->reconcile(task_id); }});
    ecs->service_changed = [this](const Scope& scope, const std::string& key) {
      service_scheduler->service_changed(scope, key);
    };
    services::register_ecs_handlers(handlers, *ecs);
  }

  std::shared_ptr<http::Router> make_router() {
    auto router = std::make_shared<http::Router>();
    router->add("POST", "/", [this](http::Request req) { return aws_json(std::move(req)); });
    router->add("GET", "/_berth/health", [this](http::Request) { return health(); });
    router->add("POST", "/_berth/reset", [this](http::Request) { return reset(); });
    router->add("POST", "/moto-api/reset", [this](http::Request) { return reset(); });
    return router;
  }

  net::awaitable<http::Response> aws_json(http::Request req) {
    std::string request_id = ids::request_id();
    protocol::AwsJsonRequest aws{req.header("x-amz-target"), req.body, req.header("authorization")};
    // Parsing and validation happen on the connection's strand; only the handler runs on the control strand.
    auto call = protocol::prepare_call(aws, defaults, request_id);
    if (!call) {
      co_return to_http(protocol::render_error(call.error(), request_id));
    }
    if (issuer) {
      // A task calling with its role's credentials acts in the role's account.
      if (auto account = issuer->account_of(call->caller.access_key_id)) {
        call->caller.scope.account = *account;
      }
    }
    auto response = co_await net::co_spawn(control, invoke_on_control(std::move(call).value()), net::use_awaitable);
    co_return to_http(std::move(response));
  }

  // A member coroutine taking its argument by value, not a capturing lambda: the lambda's closure would die
  // before the coroutine frame that refers to it (the lambda-coroutine fiasco).
  net::awaitable<protocol::AwsResponse> invoke_on_control(protocol::Call call) {
    co_return protocol::invoke(handlers, call);
  }

  // ---- Task metadata endpoint ---------------------------------------------------------------------------

  std::shared_ptr<http::Router> make_metadata_router() {
    auto router = std::make_shared<http::Router>();
    router->add("*", "/", [this](http::Request req) { return metadata_request(std::move(req)); });
    return router;
  }

  net::awaitable<http::Response> metadata_request(http::Request req) {
    std::string path(req.path());
    auto r = co_await net::co_spawn(control, metadata_on_control(req.method, path, req.peer), net::use_awaitable);
    spdlog::debug("metadata {} {} from {}: {}", req.method, redacted(path), req.peer, r.status);
    http::Response out;
    out.status = r.status;
    out.body = std::move(r.body);
    co_return out;
  }

  // Runs on the control strand, where the service and the store live. The initiation captures only pointers
  // into this frame (alive while it waits), and the answer is posted, never resumed inline: the service may
  // answer before the initiation has returned.
  net::awaitable<endpoints::EndpointReply> metadata_on_control(std::string method, std::string path, std::string peer) {
    co_return co_await net::async_initiate<decltype(net::use_awaitable), void(endpoints::EndpointReply)>(
        [this, m = &method, p = &path, from = &peer](auto handler) {
          auto shared = std::make_shared<decltype(handler)>(std::move(handler));
          metadata->handle(*m, *p, *from, [this, shared](endpoints::EndpointReply r) {
            net::post(control, [shared, r = std::move(r)]() mutable { (*shared)(std::move(r)); });
          });
        },
        net::use_awaitable);
  }

  runtime::NetworkSpec metadata_network() const {
    runtime::NetworkSpec spec;
    spec.name = kMetadataNetwork;
    spec.subnet = kMetadataSubnet;
    spec.gateway = endpoints::kMetadataAddress;
    spec.labels["dev.berth.role"] = "metadata";
    return spec;
  }

  // Control strand. Makes the address exist (when it is the standard one), then binds; retried with backoff
  // until it works, without holding up the rest of berth.
  void start_metadata() {
    if (stopping || metadata_server) {
      return;
    }
    if (config.metadata_address != endpoints::kMetadataAddress) {
      bind_metadata();
      return;
    }
    metadata_network_checked_at = clock.now_ms();
    runtime->ensure_network(metadata_network(), [this](runtime::Done d) {
      if (d.error && !metadata_warned) {
        spdlog::warn("cannot create Docker network {} for {}: {}", kMetadataNetwork, endpoints::kMetadataAddress,
                     d.error->message);
      }
      bind_metadata();
    });
  }

  void bind_metadata() {
    if (stopping || metadata_server) {
      return;
    }
    http::ServerOptions so;
    so.listen = config.metadata_address;
    so.port = config.metadata_port;
    so.max_body_bytes = 64 * 1024;
    so.request_timeout = std::chrono::seconds(10);
    auto server = std::make_unique<http::Server>(io, so, make_metadata_router());
    auto bound = server->start();
    if (bound) {
      metadata_server = std::move(server);
      spdlog::info("task metadata and credentials endpoint on http://{}:{}", config.metadata_address, *bound);
      return;
    }
    if (!metadata_warned) {
      spdlog::warn("task metadata endpoint not available yet ({}); retrying", bound.error().message);
      metadata_warned = true;
    } else {
      spdlog::debug("task metadata endpoint: {}", bound.error().message);
    }
    metadata_retry.expires_after(metadata_backoff);
    metadata_backoff = std::min(metadata_backoff * 2, std::chrono::milliseconds(kMetadataRetryMax));
    metadata_retry.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) {
        start_metadata();
      }
    });
  }

  // Control strand. `docker network prune` would take the address away: put the network back.
  void keep_metadata_network() {
    if (!config.metadata || config.metadata_address != endpoints::kMetadataAddress || !metadata_server ||
        clock.now_ms() - metadata_network_checked_at < kMetadataNetworkCheckMs) {
      return;
    }
    metadata_network_checked_at = clock.now_ms();
    runtime->ensure_network(metadata_network(), [](runtime::Done d) {
      if (d.error) {
        spdlog::warn("cannot restore Docker network {}: {}", kMetadataNetwork, d.error->message);
      }
    });
  }

  net::awaitable<http::Response> health() {
    auto info = co_await await_callback<runtime::EngineInfo>([this](auto done) {
      net::post(control, [this, done = std::move(done)]() mutable { runtime->info(std::move(done)); });
    });
    json docker = {{"reachable", info.reachable}};
    if (info.reachable) {
      docker["version"] = info.version;
      docker["apiVersion"] = info.api_version;
    } else {
      docker["error"] = info.error;
    }
    json body = {{"status", "ok"},
                 {"version", BERTH_VERSION},
                 {"uptimeSeconds", to_epoch_seconds(clock.now_ms() - started_at)},
                 {"docker", docker}};
    co_return json_response(200, body);
  }

  // Control strand (or before the I/O threads run). Registers the --instances container instances that are
  // missing; the reconciler's id is the seed of their EC2 ids, so a restart with --data-dir adds none twice.
  Result<Unit> launch_instances() {
    for (const auto& f : config.instances) {
      auto added = services::launch_container_instances(
          handlers, store, defaults, services::InstanceLaunch{f.cluster, f.count, f.instance_type},
          reconciler->options().instance_id);
      if (!added) {
        return AwsError::client("InvalidConfiguration", "--instances " + f.cluster + "=" +
                                                            std::to_string(f.count) + ":" + f.instance_type +
                                                            ": " + added.error().message);
      }
      if (*added > 0) {
        spdlog::info("registered {} container instance(s) of type {} in cluster {}", *added, f.instance_type,
                     f.cluster);
      }
    }
    return Unit{};
  }

  net::awaitable<http::Response> reset() {
    co_await await_callback<bool>([this](auto done) {
      net::post(control, [this, done = std::move(done)]() mutable {
        store.clear();
        // The configured instances are part of berth's starting state, not of what a test made.
        if (auto launched = launch_instances(); !launched) {
          spdlog::error("{}", launched.error().message);
        }
        reconciler->forget_all();
        service_scheduler->forget_all();
        reconciler->remove_all_containers([done = std::move(done)]() mutable { done(true); });
      });
    });
    co_return json_response(200, json{{"status", "ok"}});
  }

  void schedule_tick() {
    tick_timer.expires_after(kTickPeriod);
    tick_timer.async_wait([this](const boost::system::error_code& ec) {
      if (ec) {
        return;
      }
      reconciler->tick();
      // What only time changes for services: health waits, start-failure backoff, repeated events.
      service_scheduler->tick();
      keep_metadata_network();
      if (!config.data_dir.empty() && clock.now_ms() - last_snapshot_at >= kSnapshotEveryMs) {
        save_snapshot();
      }
      schedule_tick();
    });
  }

  // Runs on the control strand. Writes only when something changed.
  void save_snapshot() {
    last_snapshot_at = clock.now_ms();
    std::string text = state::snapshot(store).dump();
    if (text == last_snapshot) {
      return;
    }
    if (!write_file_atomically(std::filesystem::path(config.data_dir) / "state.json", text)) {
      spdlog::error("cannot write {}/state.json", config.data_dir);
      return;
    }
    last_snapshot = std::move(text);
  }

  Result<Unit> open_data_dir() {
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::create_directories(config.data_dir, ec);
    if (ec) {
      return AwsError::client("InvalidConfiguration", "Cannot create data dir " + config.data_dir + ": " + ec.message());
    }
    const fs::path dir(config.data_dir);
    if (!write_file_atomically(dir / "instance-id", reconciler->options().instance_id)) {
      return AwsError::client("InvalidConfiguration", "Cannot write to data dir " + config.data_dir);
    }
    auto text = read_file(dir / "state.json");
    if (!text) {
      return Unit{};
    }
    json snap = json::parse(*text, nullptr, /*allow_exceptions=*/false);
    if (snap.is_discarded()) {
      return AwsError::client("InvalidConfiguration", (dir / "state.json").string() + " is not valid JSON");
    }
    auto restored = state::restore(store, snap);
    if (!restored) {
      return AwsError::client("InvalidConfiguration",
                              (dir / "state.json").string() + " cannot be restored: " + restored.error().message);
    }
    last_snapshot = std::move(*text);
    reconciler->adopt_all();
    service_scheduler->adopt_all();
    spdlog::info("restored state from {} ({} tasks still live)", (dir / "state.json").string(),
                 reconciler->active_task_count());
    return Unit{};
  }
};

App::App(Config config) : impl_(std::make_unique<Impl>(std::move(config))) {}

App::~App() = default;

Result<std::uint16_t> App::start() {
  auto& d = *impl_;
  d.started_at = d.clock.now_ms();
  if (!d.config.data_dir.empty()) {
    if (auto opened = d.open_data_dir(); !opened) {
      return opened.error();
    }
  }
  if (auto launched = d.launch_instances(); !launched) {
    return launched.error();
  }
  http::ServerOptions so;
  so.listen = d.config.listen;
  so.port = d.config.port;
  so.max_body_bytes = d.config.max_body_bytes;
  d.server = std::make_unique<http::Server>(d.io, so, d.make_router());
  auto port = d.server->start();
  if (!port) {
    return port;
  }
  d.ecs->self_url = "http://" + (d.config.listen == "0.0.0.0" ? std::string("127.0.0.1") : d.config.listen) + ":" +
                    std::to_string(*port);
  net::post(d.control, [&d] {
    d.reconciler->start();
    d.schedule_tick();
    if (d.config.metadata) {
      d.start_metadata();
    }
  });
  return port;
}

int App::run_until_signal() {
  auto& d = *impl_;
  net::signal_set signals(d.io, SIGINT, SIGTERM);
  signals.async_wait([&d](const boost::system::error_code& ec, int sig) {
    if (ec) {
      return;
    }
    spdlog::info("received signal {}, shutting down", sig);
    d.server->stop();
    net::post(d.control, [&d] {
      d.tick_timer.cancel();
      d.stopping = true;
      d.service_scheduler->stop();
      d.metadata_retry.cancel();
      if (d.metadata_server) {
        d.metadata_server->stop();
      }
      if (!d.config.data_dir.empty()) {
        // With a data dir, tasks outlive berth: save them; the next berth picks their containers up again.
        d.save_snapshot();
        d.io.stop();
        return;
      }
      // Without a data dir nothing outlives berth: the containers it started go with it.
      d.reconciler->drain_and_remove_all([&d] { d.io.stop(); });
    });
    // Never hang on a slow engine: give the clean-up a bounded time.
    auto guard = std::make_shared<net::steady_timer>(d.io, std::chrono::seconds(15));
    guard->async_wait([&d, guard](const boost::system::error_code& e) {
      if (!e) {
        spdlog::warn("shutdown clean-up timed out");
        d.io.stop();
      }
    });
  });
  std::vector<std::thread> workers;
  for (int i = 1; i < d.config.threads; ++i) {
    workers.emplace_back([&d] { d.io.run(); });
  }
  d.io.run();
  for (auto& t : workers) {
    t.join();
  }
  d.runtime->shutdown();
  spdlog::info("berth stopped");
  return 0;
}

}  // namespace berth::app
