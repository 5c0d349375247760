#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <berth/common/asio.hpp>
#include <berth/common/result.hpp>

namespace berth::http {

// A request as berth's handlers see it: Beast stays inside this module.
struct Request {
  std::string method;
  std::string target;  // path and query
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string peer;  // remote address

  // Case-insensitive header lookup; empty when absent.
  std::string_view header(std::string_view name) const;
  std::string_view path() const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

using Handler = std::function<net::awaitable<Response>(Request)>;

// Routes by method and path prefix; the longest matching prefix wins.
class Router {
 public:
  void add(std::string method, std::string path_prefix, Handler handler);
  const Handler* match(std::string_view method, std::string_view path) const;

 private:
  struct Route {
    std::string method;
    std::string prefix;
    Handler handler;
  };
  std::vector<Route> routes_;
};

struct ServerOptions {
  std::string listen = "127.0.0.1";
  std::uint16_t port = 4566;
  std::size_t max_body_bytes = 4 * 1024 * 1024;
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_header_count = 100;
  std::chrono::seconds idle_timeout{60};
  std::chrono::seconds request_timeout{30};
};

// The Beast listener: keep-alive, TCP_NODELAY, one strand per connection, each response written in one go.
// Errors in framing (oversized body or headers, bad HTTP) are answered in AWS JSON error form, then the
// connection closes; the server itself keeps serving.
class Server {
 public:
  Server(net::io_context& io, ServerOptions options, std::shared_ptr<const Router> router);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts accepting. Returns the bound port (useful with port 0).
  Result<std::uint16_t> start();
  // Stops accepting and closes open connections.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::http
