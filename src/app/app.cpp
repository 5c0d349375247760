#include <berth/app/app.hpp>

#include <chrono>
#include <filesystem>
#include <thread>

#include <boost/asio/redirect_error.hpp>
#include <spdlog/spdlog.h>

#include <berth/common/asio.hpp>
#include <berth/common/clock.hpp>
#include <berth/common/ids.hpp>
#include <berth/http/server.hpp>
#include <berth/protocol/aws_json.hpp>
#include <berth/runtime/docker_runtime.hpp>
#include <berth/scheduler/task_reconciler.hpp>
#include <berth/services/ecs.hpp>
#include <berth/state/store.hpp>

namespace berth::app {
namespace {

constexpr auto kTickPeriod = std::chrono::milliseconds(500);

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

// Awaits a callback-style runtime call whose completion arrives on the control strand.
template <typename T, typename Start>
net::awaitable<T> await_callback(Start start) {
  co_return co_await net::async_initiate<decltype(net::use_awaitable), void(T)>(
      [start = std::move(start)](auto handler) mutable {
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        start([shared](T value) { (*shared)(std::move(value)); });
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
  protocol::HandlerTable handlers;
  std::unique_ptr<services::EcsContext> ecs;
  std::unique_ptr<http::Server> server;
  net::steady_timer tick_timer;
  TimeMs started_at = 0;
  Scope defaults;

  explicit Impl(Config c)
      : config(std::move(c)), io(config.threads), control(net::make_strand(io)), tick_timer(control) {
    defaults = Scope{config.account, config.region};
    runtime::DockerRuntime::Options opts;
    opts.host = config.docker_host;
    opts.post = [this](std::function<void()> f) { net::post(control, std::move(f)); };
    runtime = std::make_unique<runtime::DockerRuntime>(std::move(opts));
    scheduler::ReconcilerOptions ro;
    ro.instance_id = ids::hex32().substr(0, 16);
    ro.host_ip = config.host_ip;
    reconciler = std::make_unique<scheduler::TaskReconciler>(store, *runtime, clock, ro);
    ecs = std::make_unique<services::EcsContext>(services::EcsContext{
        store, clock, [this](const std::string& task_id) { reconciler->reconcile(task_id); }});
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
    auto response = co_await net::co_spawn(control, invoke_on_control(std::move(call).value()), net::use_awaitable);
    co_return to_http(std::move(response));
  }

  // A member coroutine taking its argument by value, not a capturing lambda: the lambda's closure would die
  // before the coroutine frame that refers to it (the lambda-coroutine fiasco).
  net::awaitable<protocol::AwsResponse> invoke_on_control(protocol::Call call) {
    co_return protocol::invoke(handlers, call);
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

  net::awaitable<http::Response> reset() {
    co_await await_callback<bool>([this](auto done) {
      net::post(control, [this, done = std::move(done)]() mutable {
        store.clear();
        reconciler->forget_all();
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
      schedule_tick();
    });
  }
};

App::App(Config config) : impl_(std::make_unique<Impl>(std::move(config))) {}

App::~App() = default;

Result<std::uint16_t> App::start() {
  auto& d = *impl_;
  d.started_at = d.clock.now_ms();
  if (!d.config.data_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(d.config.data_dir, ec);
    if (ec) {
      return AwsError::client("InvalidConfiguration", "Cannot create data dir " + d.config.data_dir + ": " + ec.message());
    }
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
  net::post(d.control, [&d] {
    d.reconciler->start();
    d.schedule_tick();
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
      // Without a data dir nothing outlives berth: the containers it started go with it.
      d.reconciler->remove_all_containers([&d] { d.io.stop(); });
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
