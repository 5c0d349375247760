#include "curl_loop.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <stdexcept>
#include <utility>

#include <spdlog/spdlog.h>

namespace berth::runtime::docker_detail {
namespace {

constexpr std::string_view kUnixScheme = "unix://";
constexpr std::string_view kTcpScheme = "tcp://";
constexpr std::string_view kDefaultTcpPort = "2375";
// Upper bound on one curl_multi_poll wait; wakeups and timers cut it short, so it only limits the cost of
// a missed edge case, not latency.
constexpr int kMaxPollMs = 1'000;

void global_init_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// Runs a callback that came from outside this file; an exception must not unwind through curl's C frames or
// end the loop thread.
template <typename Fn>
bool guarded(const char* what, Fn&& fn) {
  try {
    fn();
    return true;
  } catch (const std::exception& e) {
    spdlog::error("docker runtime: {} threw: {}", what, e.what());
  } catch (...) {
    spdlog::error("docker runtime: {} threw a non-standard exception", what);
  }
  return false;
}

}  // namespace

Endpoint parse_endpoint(const std::string& host) {
  Endpoint out;
  out.host = host;
  std::string_view h = host;
  if (h.starts_with(kUnixScheme)) {
    out.unix_path = std::string(h.substr(kUnixScheme.size()));
    out.base_url = "http://localhost";
    if (out.unix_path.empty() || out.unix_path.front() != '/') {
      out.error = "invalid DOCKER_HOST \"" + host + "\": a unix socket needs an absolute path";
    }
    return out;
  }
  if (h.starts_with(kTcpScheme)) {
    std::string_view authority = h.substr(kTcpScheme.size());
    while (authority.ends_with('/')) {
      authority.remove_suffix(1);
    }
    if (authority.empty() || authority.find('/') != std::string_view::npos ||
        authority.find('@') != std::string_view::npos) {
      out.error = "invalid DOCKER_HOST \"" + host + "\": expected tcp://host:port";
      return out;
    }
    // A port is present when the last colon follows any closing bracket of an IPv6 literal.
    std::size_t colon = authority.rfind(':');
    std::size_t bracket = authority.rfind(']');
    bool has_port = colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket);
    out.base_url = "http://" + std::string(authority) + (has_port ? "" : ":" + std::string(kDefaultTcpPort));
    return out;
  }
  out.error = "unsupported DOCKER_HOST \"" + host + "\": berth speaks unix:// and tcp:// (without TLS)";
  return out;
}

struct CurlLoop::Transfer {
  HttpRequest request;
  std::function<void(HttpResponse)> done;
  HttpResponse response;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  bool headers_seen = false;
  Transport abort_reason = Transport::kOk;  // set when a callback stopped the transfer
  std::array<char, CURL_ERROR_SIZE> errbuf{};

  Transfer() = default;
  Transfer(const Transfer&) = delete;
  Transfer& operator=(const Transfer&) = delete;
  ~Transfer() {
    if (easy != nullptr) {
      curl_easy_cleanup(easy);
    }
    if (headers != nullptr) {
      curl_slist_free_all(headers);
    }
  }

  // Reads the status once per transfer; the header callback normally gets there first.
  void note_status() {
    if (!headers_seen) {
      long status = 0;
      curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
      if (status >= 200) {
        headers_seen = true;
        response.status = status;
      }
    }
  }
};

CurlLoop::CurlLoop(Config config) : config_(std::move(config)) {
  global_init_once();
  multi_ = curl_multi_init();
  if (multi_ == nullptr) {
    throw std::runtime_error("curl_multi_init failed");
  }
  thread_ = std::thread([this] { run(); });
}

CurlLoop::~CurlLoop() {
  stop();
  curl_multi_cleanup(multi_);
}

bool CurlLoop::post(std::function<void()> fn) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) {
      return false;
    }
    tasks_.push_back(std::move(fn));
  }
  curl_multi_wakeup(multi_);
  return true;
}

void CurlLoop::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  curl_multi_wakeup(multi_);
  std::call_once(joined_, [this] {
    if (thread_.joinable()) {
      thread_.join();
    }
  });
}

void CurlLoop::after(std::chrono::milliseconds delay, std::function<void()> fn) {
  timers_.emplace(std::chrono::steady_clock::now() + delay, std::move(fn));
}

void CurlLoop::send(HttpRequest request, std::function<void(HttpResponse)> done) {
  auto t = std::make_unique<Transfer>();
  t->request = std::move(request);
  t->done = std::move(done);
  t->easy = curl_easy_init();
  if (t->easy == nullptr) {
    HttpResponse failed;
    failed.transport = Transport::kOther;
    failed.transport_message = "curl_easy_init failed";
    auto cb = std::move(t->done);
    guarded("request completion", [&] { cb(std::move(failed)); });
    return;
  }
  CURL* e = t->easy;
  const HttpRequest& r = t->request;
  const std::string url = config_.endpoint.base_url + r.path;
  curl_easy_setopt(e, CURLOPT_URL, url.c_str());
  if (!config_.endpoint.unix_path.empty()) {
    curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, config_.endpoint.unix_path.c_str());
  } else {
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  }
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http");
  // The engine is never behind an HTTP proxy, whatever http_proxy says.
  curl_easy_setopt(e, CURLOPT_PROXY, "");
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_USERAGENT, "berth");
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(config_.connect_timeout.count()));
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(r.timeout.count()));
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf.data());
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &CurlLoop::on_write);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, t.get());
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &CurlLoop::on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, t.get());

  // curl would otherwise wait for "100 Continue" on larger bodies, which the engine never needs.
  t->headers = curl_slist_append(t->headers, "Expect:");
  if (r.method == "GET") {
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  } else if (r.method == "POST") {
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, static_cast<long>(r.body.size()));
    curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, r.body.c_str());
  } else {
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r.method.c_str());
    if (!r.body.empty()) {
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, static_cast<long>(r.body.size()));
      curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, r.body.c_str());
    }
  }
  // An empty POST would otherwise go out as a form post.
  const std::string content_type = "Content-Type: " + (r.body.empty() ? std::string() : r.content_type);
  t->headers = curl_slist_append(t->headers, r.body.empty() ? "Content-Type:" : content_type.c_str());
  for (const std::string& h : r.headers) {
    t->headers = curl_slist_append(t->headers, h.c_str());
  }
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
  if (static_cast<int>(transfers_.size()) >= std::max(1, config_.max_connections)) {
    waiting_.push_back(std::move(t));
    return;
  }
  add(std::move(t));
}

void CurlLoop::add(std::unique_ptr<Transfer> t) {
  CURL* e = t->easy;
  if (CURLMcode mc = curl_multi_add_handle(multi_, e); mc != CURLM_OK) {
    HttpResponse failed;
    failed.transport = Transport::kOther;
    failed.transport_message = curl_multi_strerror(mc);
    auto cb = std::move(t->done);
    t.reset();
    guarded("request completion", [&] { cb(std::move(failed)); });
    return;
  }
  transfers_.emplace(e, std::move(t));
}

std::size_t CurlLoop::on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::size_t len = size * count;
  std::string_view line(data, len);
  if (line != "\r\n" && line != "\n") {
    return len;
  }
  // The blank line ends one header block; interim 1xx blocks are skipped by note_status().
  t->note_status();
  if (t->headers_seen && t->request.on_headers) {
    auto cb = std::move(t->request.on_headers);
    t->request.on_headers = nullptr;
    if (!guarded("response header callback", [&] { cb(t->response.status); })) {
      t->abort_reason = Transport::kAborted;
      return 0;
    }
  }
  return len;
}

std::size_t CurlLoop::on_write(char* data, std::size_t size, std::size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::size_t len = size * count;
  t->note_status();
  const long status = t->response.status;
  if (t->request.on_data && status >= 200 && status < 300) {
    bool keep = false;
    if (!guarded("response body callback", [&] { keep = t->request.on_data(std::string_view(data, len)); }) ||
        !keep) {
      t->abort_reason = Transport::kAborted;
      return 0;
    }
    return len;
  }
  if (t->response.body.size() + len > t->request.max_body) {
    t->abort_reason = Transport::kTooLarge;
    return 0;
  }
  t->response.body.append(data, len);
  return len;
}

void CurlLoop::finish(CURL* easy, CURLcode code) {
  // A slot is free: the oldest waiting transfer takes it before anything else happens.
  if (!waiting_.empty() && static_cast<int>(transfers_.size()) <= std::max(1, config_.max_connections)) {
    auto next = std::move(waiting_.front());
    waiting_.pop_front();
    add(std::move(next));
  }
  auto it = transfers_.find(easy);
  if (it == transfers_.end()) {
    return;
  }
  std::unique_ptr<Transfer> t = std::move(it->second);
  transfers_.erase(it);
  curl_multi_remove_handle(multi_, easy);

  HttpResponse& r = t->response;
  t->note_status();
  if (code == CURLE_OK) {
    r.transport = Transport::kOk;
  } else if (t->abort_reason != Transport::kOk) {
    r.transport = t->abort_reason;
    r.transport_message = t->abort_reason == Transport::kTooLarge
                              ? "response body exceeds " + std::to_string(t->request.max_body) + " bytes"
                              : "response stream aborted";
  } else {
    r.transport_message = t->errbuf[0] != '\0' ? std::string(t->errbuf.data()) : curl_easy_strerror(code);
    long os_errno = 0;
    curl_easy_getinfo(easy, CURLINFO_OS_ERRNO, &os_errno);
    curl_off_t connect_us = 0;
    curl_easy_getinfo(easy, CURLINFO_CONNECT_TIME_T, &connect_us);
    switch (code) {
      case CURLE_COULDNT_CONNECT:
      case CURLE_COULDNT_RESOLVE_HOST:
        r.transport = (os_errno == EACCES || os_errno == EPERM) ? Transport::kPermissionDenied
                                                                : Transport::kCannotConnect;
        break;
      case CURLE_OPERATION_TIMEDOUT:
        r.transport = (connect_us == 0 && !t->headers_seen) ? Transport::kCannotConnect : Transport::kTimeout;
        break;
      default:
        r.transport = Transport::kOther;
        break;
    }
  }
  auto done = std::move(t->done);
  HttpResponse response = std::move(t->response);
  t.reset();
  guarded("request completion", [&] { done(std::move(response)); });
}

void CurlLoop::run_due_timers() {
  const auto now = std::chrono::steady_clock::now();
  while (!timers_.empty() && timers_.begin()->first <= now) {
    auto fn = std::move(timers_.begin()->second);
    timers_.erase(timers_.begin());
    guarded("timer", fn);
  }
}

int CurlLoop::poll_timeout_ms() const {
  if (timers_.empty()) {
    return kMaxPollMs;
  }
  auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(timers_.begin()->first -
                                                                    std::chrono::steady_clock::now());
  // Round up so the timer is due when the poll returns rather than spinning for the last millisecond.
  return static_cast<int>(std::clamp<long long>(wait.count() + 1, 0, kMaxPollMs));
}

void CurlLoop::run() {
  while (true) {
    std::deque<std::function<void()>> tasks;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) {
        break;
      }
      tasks.swap(tasks_);
    }
    for (auto& fn : tasks) {
      guarded("posted task", fn);
    }
    run_due_timers();

    int running = 0;
    curl_multi_perform(multi_, &running);
    bool finished_any = false;
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi_, &queued)) {
      if (msg->msg == CURLMSG_DONE) {
        // Copy out first: removing the handle invalidates `msg`.
        CURL* easy = msg->easy_handle;
        CURLcode code = msg->data.result;
        finish(easy, code);
        finished_any = true;
      }
    }
    if (finished_any) {
      // Completions may have queued follow-up requests; drive them before sleeping.
      continue;
    }
    curl_multi_poll(multi_, nullptr, 0, poll_timeout_ms(), nullptr);
  }
  teardown();
}

void CurlLoop::teardown() {
  for (auto& [easy, t] : transfers_) {
    curl_multi_remove_handle(multi_, easy);
  }
  transfers_.clear();
  waiting_.clear();
  timers_.clear();
  std::deque<std::function<void()>> dropped;
  {
    std::lock_guard lock(mutex_);
    dropped.swap(tasks_);
  }
}

}  // namespace berth::runtime::docker_detail
