#pragma once
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace berth::testing {

struct FakeHttpRequest {
  std::string method;
  std::string path;                            // without the query, as sent (not percent-decoded)
  std::string query;                           // raw, without '?'
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;

  // The percent-decoded value of a query parameter; empty when absent.
  std::string query_param(std::string_view name) const;
};

struct FakeHttpResponse {
  int status = 200;
  std::string body;
  // Non-empty: the body goes out with chunked encoding, one write per element.
  std::vector<std::string> chunks;
  // Keep the response open after `chunks` as a stream that send_chunk() feeds and drop_streams() ends.
  bool hold_open = false;
};

// A tiny HTTP/1.1 server on a temporary unix socket that answers like a Docker engine from scripted rules,
// and records every request, so the real client can be tested at the wire. One thread per connection.
// Out of the box it answers GET /version as engine 20.10 (API 1.41); everything unscripted is a 404.
class FakeDockerDaemon {
 public:
  using Handler = std::function<FakeHttpResponse(const FakeHttpRequest&)>;

  FakeDockerDaemon();
  ~FakeDockerDaemon();
  FakeDockerDaemon(const FakeDockerDaemon&) = delete;
  FakeDockerDaemon& operator=(const FakeDockerDaemon&) = delete;

  // DOCKER_HOST form: unix:///tmp/.../docker.sock
  std::string host() const { return "unix://" + socket_path_; }

  // Answers requests whose method matches and whose path starts with `path_prefix`. The rule added last wins;
  // `times` > 0 retires the rule after that many answers.
  void on(std::string method, std::string path_prefix, FakeHttpResponse response, int times = 0);
  void on(std::string method, std::string path_prefix, Handler handler, int times = 0);

  std::vector<FakeHttpRequest> requests() const;
  std::vector<FakeHttpRequest> requests_to(std::string_view method, std::string_view path_prefix) const;

  // Waits until `n` held-open streams have been opened in total; false on timeout.
  bool wait_for_streams(std::size_t n, std::chrono::milliseconds timeout);
  std::size_t open_streams() const;
  // Writes `data` as one chunk to every open stream.
  void send_chunk(std::string_view data);
  // Cuts every open stream without the terminating chunk, as an engine restart would.
  void drop_streams();

 private:
  struct Rule {
    std::string method;
    std::string prefix;
    Handler handler;
    int remaining = 0;  // 0: unlimited
  };

  void accept_loop();
  void serve(int fd);
  FakeHttpResponse answer(const FakeHttpRequest& request);

  std::string dir_;
  std::string socket_path_;
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::vector<Rule> rules_;
  std::vector<FakeHttpRequest> requests_;
  std::set<int> connections_;
  std::set<int> streams_;
  std::size_t streams_opened_ = 0;
  std::vector<std::thread> workers_;  // touched by the accept thread until it is joined

  std::thread acceptor_;
};

}  // namespace berth::testing
