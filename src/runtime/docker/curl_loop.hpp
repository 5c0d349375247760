#pragma once
#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include <curl/curl.h>

namespace berth::runtime::docker_detail {

// Where the engine listens, from a DOCKER_HOST string.
struct Endpoint {
  std::string host;       // as given, for messages: unix:///var/run/docker.sock
  std::string unix_path;  // set for unix://
  std::string base_url;   // http://localhost for a unix socket, http://host:port for tcp
  std::string error;      // set when `host` is not a form berth can use
};
Endpoint parse_endpoint(const std::string& host);

// How a request failed below HTTP.
enum class Transport {
  kOk,
  kCannotConnect,     // no socket, refused, unresolvable, connect timeout
  kPermissionDenied,  // the socket exists but we may not open it
  kTimeout,           // connected, but the whole request outlived its timeout
  kAborted,           // the streaming consumer gave up (e.g. a line over its bound)
  kTooLarge,          // a buffered body outgrew HttpRequest::max_body
  kOther,             // reset, closed mid-body, protocol error
};

struct HttpRequest {
  std::string method = "GET";
  std::string path;  // including the query string
  std::string body;  // may be binary; sent with `content_type` when non-empty
  std::string content_type = "application/json";
  std::vector<std::string> headers;
  std::chrono::milliseconds timeout{0};  // whole request; 0 for an endless stream
  std::size_t max_body = std::size_t{64} << 20;
  // Runs once the final response headers are in, before any body, so a stream can report "connected" even
  // when no data follows for a long time.
  std::function<void(long status)> on_headers;
  // When set, a 2xx body is handed over piece by piece instead of buffered; return false to abort.
  // Non-2xx bodies are still buffered so the engine's error message can be read.
  std::function<bool(std::string_view)> on_data;
};

struct HttpResponse {
  Transport transport = Transport::kOk;
  std::string transport_message;  // curl's description when transport != kOk
  long status = 0;
  std::string body;
};

// One thread driving every transfer through a curl multi handle. Work reaches the thread through post();
// send() and after() may only be called on that thread, and their callbacks run there.
class CurlLoop {
 public:
  struct Config {
    Endpoint endpoint;
    std::chrono::milliseconds connect_timeout{2'000};
    int max_connections = 16;
  };

  explicit CurlLoop(Config config);
  ~CurlLoop();
  CurlLoop(const CurlLoop&) = delete;
  CurlLoop& operator=(const CurlLoop&) = delete;

  // Any thread. Queues `fn` for the loop thread; false (and `fn` dropped) once stop() has begun.
  bool post(std::function<void()> fn);
  // Loop thread. `done` runs exactly once unless the loop stops first.
  void send(HttpRequest request, std::function<void(HttpResponse)> done);
  // Loop thread. Runs `fn` on the loop thread after `delay` unless the loop stops first.
  void after(std::chrono::milliseconds delay, std::function<void()> fn);
  // Any thread but the loop's. Aborts all transfers, drops pending callbacks, joins. Idempotent.
  void stop();

 private:
  struct Transfer;
  using SteadyTime = std::chrono::steady_clock::time_point;

  void run();
  void run_due_timers();
  int poll_timeout_ms() const;
  void finish(CURL* easy, CURLcode code);
  void teardown();
  static std::size_t on_write(char* data, std::size_t size, std::size_t count, void* user);
  static std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user);

  const Config config_;
  CURLM* multi_ = nullptr;

  std::mutex mutex_;
  std::deque<std::function<void()>> tasks_;  // guarded by mutex_
  bool stopping_ = false;                    // guarded by mutex_

  std::once_flag joined_;
  std::thread thread_;

  void add(std::unique_ptr<Transfer> t);

  // Loop thread only.
  std::unordered_map<CURL*, std::unique_ptr<Transfer>> transfers_;
  // Transfers beyond max_connections wait here, not inside curl: curl leaves handles it parks for want of a
  // connection until its next internal timeout (seconds), which serialised bursts of requests.
  std::deque<std::unique_ptr<Transfer>> waiting_;
  std::multimap<SteadyTime, std::function<void()>> timers_;
};

}  // namespace berth::runtime::docker_detail
