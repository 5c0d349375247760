#include <berth/http/server.hpp>

#include <algorithm>
#include <list>
#include <mutex>

#include <boost/asio/redirect_error.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#include <berth/common/ids.hpp>

namespace berth::http {
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// Answers that never reach a handler still carry a request id, as every AWS answer does.
Response framing_error(int status, std::string type, std::string message) {
  Response r;
  r.status = status;
  r.content_type = "application/x-amz-json-1.1";
  r.headers.emplace_back("x-amzn-RequestId", ids::request_id());
  r.body = std::string(R"({"__type":")") + type + R"(","message":")" + message + R"("})";
  return r;
}

}  // namespace

std::string_view Request::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (iequals(k, name)) {
      return v;
    }
  }
  return {};
}

std::string_view Request::path() const {
  std::string_view t = target;
  return t.substr(0, t.find('?'));
}

void Router::add(std::string method, std::string path_prefix, Handler handler) {
  routes_.push_back(Route{std::move(method), std::move(path_prefix), std::move(handler)});
}

const Handler* Router::match(std::string_view method, std::string_view path) const {
  const Route* best = nullptr;
  for (const auto& r : routes_) {
    if ((r.method == "*" || r.method == method) && path.starts_with(r.prefix) &&
        (best == nullptr || r.prefix.size() > best->prefix.size())) {
      best = &r;
    }
  }
  return best == nullptr ? nullptr : &best->handler;
}

struct Server::Impl {
  net::io_context& io;
  ServerOptions options;
  std::shared_ptr<const Router> router;
  tcp::acceptor acceptor;
  std::mutex sessions_mu;  // sessions live on their own strands; this only guards the registry of sockets
  std::list<std::weak_ptr<beast::tcp_stream>> sessions;
  bool stopped = false;

  Impl(net::io_context& io_, ServerOptions opts, std::shared_ptr<const Router> r)
      : io(io_), options(std::move(opts)), router(std::move(r)), acceptor(io_) {}

  net::awaitable<void> accept_loop() {
    for (;;) {
      boost::system::error_code ec;
      tcp::socket socket = co_await acceptor.async_accept(net::make_strand(io), net::redirect_error(net::use_awaitable, ec));
      if (ec) {
        if (ec == net::error::operation_aborted || !acceptor.is_open()) {
          co_return;
        }
        spdlog::warn("accept failed: {}", ec.message());
        continue;
      }
      socket.set_option(tcp::no_delay(true), ec);
      auto stream = std::make_shared<beast::tcp_stream>(std::move(socket));
      {
        std::lock_guard lock(sessions_mu);
        sessions.remove_if([](const auto& w) { return w.expired(); });
        sessions.push_back(stream);
      }
      auto executor = stream->get_executor();
      net::co_spawn(executor, session(stream), net::detached);
    }
  }

  static Response to_response_for(const boost::system::error_code& ec) {
    if (ec == bhttp::error::body_limit) {
      return framing_error(413, "RequestEntityTooLargeException", "Request body is larger than berth accepts.");
    }
    if (ec == bhttp::error::header_limit) {
      return framing_error(431, "RequestHeaderFieldsTooLarge", "Request headers are larger than berth accepts.");
    }
    return framing_error(400, "BadRequest", "Malformed HTTP request.");
  }

  net::awaitable<void> write(beast::tcp_stream& stream, Response res, unsigned version, bool keep_alive) {
    bhttp::response<bhttp::string_body> out{static_cast<bhttp::status>(res.status), version};
    out.set(bhttp::field::server, "berth");
    out.set(bhttp::field::content_type, res.content_type);
    for (auto& [k, v] : res.headers) {
      out.set(k, v);
    }
    out.body() = std::move(res.body);
    out.keep_alive(keep_alive);
    out.prepare_payload();
    boost::system::error_code ec;
    stream.expires_after(options.request_timeout);
    co_await bhttp::async_write(stream, out, net::redirect_error(net::use_awaitable, ec));
  }

  net::awaitable<void> session(std::shared_ptr<beast::tcp_stream> stream_ptr) {
    beast::tcp_stream& stream = *stream_ptr;
    beast::flat_buffer buffer;
    std::string peer;
    {
      boost::system::error_code ec;
      auto ep = stream.socket().remote_endpoint(ec);
      if (!ec) {
        peer = ep.address().to_string();
      }
    }
    for (;;) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(options.max_header_bytes));
      parser.body_limit(options.max_body_bytes);
      boost::system::error_code ec;
      stream.expires_after(options.idle_timeout);
      co_await bhttp::async_read(stream, buffer, parser, net::redirect_error(net::use_awaitable, ec));
      if (ec == bhttp::error::end_of_stream || ec == net::error::operation_aborted || ec == beast::error::timeout ||
          ec == net::error::connection_reset || ec == net::error::eof) {
        break;
      }
      if (ec) {
        co_await write(stream, to_response_for(ec), 11, false);
        break;
      }
      auto& msg = parser.get();
      std::size_t header_count = std::distance(msg.begin(), msg.end());
      if (header_count > options.max_header_count) {
        co_await write(stream, framing_error(431, "RequestHeaderFieldsTooLarge", "Too many request headers."),
                       msg.version(), false);
        break;
      }
      Request req;
      req.method = std::string(msg.method_string());
      req.target = std::string(msg.target());
      req.peer = peer;
      req.headers.reserve(header_count);
      for (const auto& field : msg) {
        req.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
      }
      req.body = std::move(msg.body());
      bool keep_alive = msg.keep_alive();
      unsigned version = msg.version();

      Response res;
      const Handler* handler = router->match(req.method, req.path());
      if (handler == nullptr) {
        res = framing_error(404, "UnknownOperationException", "No route for this method and path.");
      } else {
        try {
          res = co_await (*handler)(std::move(req));
        } catch (const std::exception& e) {
          spdlog::error("request failed: {}", e.what());
          res = framing_error(500, "ServerException", "An internal error occurred in berth.");
        }
      }
      co_await write(stream, std::move(res), version, keep_alive);
      if (!keep_alive) {
        break;
      }
    }
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }
};

Server::Server(net::io_context& io, ServerOptions options, std::shared_ptr<const Router> router)
    : impl_(std::make_unique<Impl>(io, std::move(options), std::move(router))) {}

Server::~Server() { stop(); }

Result<std::uint16_t> Server::start() {
  boost::system::error_code ec;
  auto address = net::ip::make_address(impl_->options.listen, ec);
  if (ec) {
    return AwsError::client("InvalidConfiguration", "Invalid listen address: " + impl_->options.listen);
  }
  tcp::endpoint endpoint{address, impl_->options.port};
  auto& acceptor = impl_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) {
    acceptor.set_option(net::socket_base::reuse_address(true), ec);
    acceptor.bind(endpoint, ec);
  }
  if (!ec) {
    acceptor.listen(net::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    return AwsError::client("InvalidConfiguration", "Cannot listen on " + impl_->options.listen + ":" +
                                                        std::to_string(impl_->options.port) + ": " + ec.message());
  }
  net::co_spawn(acceptor.get_executor(), impl_->accept_loop(), net::detached);
  return acceptor.local_endpoint().port();
}

void Server::stop() {
  if (!impl_ || impl_->stopped) {
    return;
  }
  impl_->stopped = true;
  boost::system::error_code ec;
  impl_->acceptor.close(ec);
  std::lock_guard lock(impl_->sessions_mu);
  for (auto& weak : impl_->sessions) {
    if (auto s = weak.lock()) {
      net::post(s->get_executor(), [s] { s->cancel(); boost::system::error_code ignored; s->socket().close(ignored); });
    }
  }
  impl_->sessions.clear();
}

}  // namespace berth::http
