#include "fakes/fake_docker_daemon.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace berth::testing {
namespace {

// Bounds so a confused client cannot make the fake allocate without limit.
constexpr std::size_t kMaxHeaderBytes = 64 * 1024;
constexpr std::size_t kMaxBodyBytes = 16 * 1024 * 1024;

std::string lower(std::string s) {
  for (char& c : s) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return s;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else if (s[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

const char* reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 204:
      return "No Content";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 409:
      return "Conflict";
    case 500:
      return "Internal Server Error";
    default:
      return "Status";
  }
}

bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) {
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

std::string chunk(std::string_view data) {
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  return std::string(size) + std::string(data) + "\r\n";
}

}  // namespace

std::string FakeHttpRequest::query_param(std::string_view name) const {
  std::string_view q = query;
  while (!q.empty()) {
    std::size_t amp = q.find('&');
    std::string_view pair = q.substr(0, amp);
    std::size_t eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      return eq == std::string_view::npos ? std::string() : percent_decode(pair.substr(eq + 1));
    }
    if (amp == std::string_view::npos) {
      break;
    }
    q.remove_prefix(amp + 1);
  }
  return {};
}

FakeDockerDaemon::FakeDockerDaemon() {
  char tmpl[] = "/tmp/berth-fake-docker-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) {
    throw std::runtime_error("mkdtemp failed");
  }
  dir_ = tmpl;
  socket_path_ = dir_ + "/docker.sock";

  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket_path_.c_str(), sizeof(addr.sun_path) - 1);
  if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 64) != 0 || ::pipe2(wake_, O_CLOEXEC) != 0) {
    throw std::runtime_error("fake docker daemon: cannot listen on " + socket_path_);
  }

  on("GET", "/version",
     FakeHttpResponse{200,
                      R"({"Version":"20.10.24","ApiVersion":"1.41","MinAPIVersion":"1.12","Os":"linux"})"});
  acceptor_ = std::thread([this] { accept_loop(); });
}

FakeDockerDaemon::~FakeDockerDaemon() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    for (int fd : connections_) {
      ::shutdown(fd, SHUT_RDWR);
    }
  }
  cv_.notify_all();
  char byte = 0;
  [[maybe_unused]] ssize_t ignored = ::write(wake_[1], &byte, 1);
  acceptor_.join();
  for (auto& t : workers_) {
    t.join();
  }
  ::close(listen_fd_);
  ::close(wake_[0]);
  ::close(wake_[1]);
  ::unlink(socket_path_.c_str());
  ::rmdir(dir_.c_str());
}

void FakeDockerDaemon::on(std::string method, std::string path_prefix, FakeHttpResponse response, int times) {
  on(std::move(method), std::move(path_prefix),
     Handler([response](const FakeHttpRequest&) { return response; }), times);
}

void FakeDockerDaemon::on(std::string method, std::string path_prefix, Handler handler, int times) {
  std::lock_guard lock(mutex_);
  rules_.push_back(Rule{std::move(method), std::move(path_prefix), std::move(handler), times});
}

std::vector<FakeHttpRequest> FakeDockerDaemon::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

std::vector<FakeHttpRequest> FakeDockerDaemon::requests_to(std::string_view method,
                                                           std::string_view path_prefix) const {
  std::lock_guard lock(mutex_);
  std::vector<FakeHttpRequest> out;
  for (const auto& r : requests_) {
    if (r.method == method && r.path.starts_with(path_prefix)) {
      out.push_back(r);
    }
  }
  return out;
}

bool FakeDockerDaemon::wait_for_streams(std::size_t n, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return cv_.wait_for(lock, timeout, [&] { return streams_opened_ >= n; });
}

std::size_t FakeDockerDaemon::open_streams() const {
  std::lock_guard lock(mutex_);
  return streams_.size();
}

void FakeDockerDaemon::send_chunk(std::string_view data) {
  std::lock_guard lock(mutex_);
  for (int fd : streams_) {
    send_all(fd, chunk(data));
  }
}

void FakeDockerDaemon::drop_streams() {
  {
    std::lock_guard lock(mutex_);
    for (int fd : streams_) {
      ::shutdown(fd, SHUT_RDWR);
    }
    streams_.clear();
  }
  cv_.notify_all();
}

FakeHttpResponse FakeDockerDaemon::answer(const FakeHttpRequest& request) {
  Handler handler;
  {
    std::lock_guard lock(mutex_);
    for (auto it = rules_.rbegin(); it != rules_.rend(); ++it) {
      if (it->method == request.method && request.path.starts_with(it->prefix)) {
        handler = it->handler;
        if (it->remaining > 0 && --it->remaining == 0) {
          rules_.erase(std::next(it).base());
        }
        break;
      }
    }
  }
  if (!handler) {
    return FakeHttpResponse{404, R"({"message":"page not found"})"};
  }
  return handler(request);
}

void FakeDockerDaemon::accept_loop() {
  while (true) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      continue;
    }
    if (fds[1].revents != 0) {
      return;
    }
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      continue;
    }
    std::lock_guard lock(mutex_);
    if (stopping_) {
      ::close(fd);
      return;
    }
    connections_.insert(fd);
    workers_.emplace_back([this, fd] { serve(fd); });
  }
}

void FakeDockerDaemon::serve(int fd) {
  std::string buf;
  char tmp[4096];
  auto fill = [&]() {
    ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
    if (n <= 0) {
      return false;
    }
    buf.append(tmp, static_cast<std::size_t>(n));
    return true;
  };

  bool open = true;
  while (open) {
    std::size_t header_end;
    while ((header_end = buf.find("\r\n\r\n")) == std::string::npos) {
      if (buf.size() > kMaxHeaderBytes || !fill()) {
        open = false;
        break;
      }
    }
    if (!open) {
      break;
    }
    FakeHttpRequest req;
    std::string_view head(buf.data(), header_end);
    std::size_t line_end = head.find("\r\n");
    std::string_view request_line = head.substr(0, line_end);
    std::size_t sp1 = request_line.find(' ');
    std::size_t sp2 = request_line.find(' ', sp1 + 1);
    req.method = std::string(request_line.substr(0, sp1));
    std::string target(request_line.substr(sp1 + 1, sp2 - sp1 - 1));
    std::size_t q = target.find('?');
    req.path = target.substr(0, q);
    req.query = q == std::string::npos ? "" : target.substr(q + 1);
    std::string_view rest =
        line_end == std::string_view::npos ? std::string_view() : head.substr(line_end + 2);
    while (!rest.empty()) {
      std::size_t e = rest.find("\r\n");
      std::string_view line = rest.substr(0, e);
      std::size_t colon = line.find(':');
      if (colon != std::string_view::npos) {
        std::string_view value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') {
          value.remove_prefix(1);
        }
        req.headers[lower(std::string(line.substr(0, colon)))] = std::string(value);
      }
      rest = e == std::string_view::npos ? std::string_view() : rest.substr(e + 2);
    }
    std::size_t length = 0;
    if (auto it = req.headers.find("content-length"); it != req.headers.end()) {
      length = std::min<std::size_t>(std::stoul(it->second), kMaxBodyBytes);
    }
    buf.erase(0, header_end + 4);
    while (buf.size() < length) {
      if (!fill()) {
        open = false;
        break;
      }
    }
    if (!open) {
      break;
    }
    req.body = buf.substr(0, length);
    buf.erase(0, length);

    {
      std::lock_guard lock(mutex_);
      requests_.push_back(req);
    }
    cv_.notify_all();

    FakeHttpResponse resp = answer(req);
    std::string out = "HTTP/1.1 " + std::to_string(resp.status) + " " + reason(resp.status) +
                      "\r\nApi-Version: 1.41\r\nServer: Docker/20.10.24 (linux)\r\n";
    const bool chunked = !resp.chunks.empty() || resp.hold_open;
    // A held-open stream is registered while its headers go out, under the lock send_chunk() takes: a test that
    // sees the client connected (headers read) can then always reach the stream, and no chunk can overtake the
    // headers.
    std::unique_lock<std::mutex> stream_lock(mutex_, std::defer_lock);
    if (resp.hold_open) {
      stream_lock.lock();
      streams_.insert(fd);
      ++streams_opened_;
    }
    if (chunked) {
      out += "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
      if (!send_all(fd, out)) {
        break;
      }
      for (const auto& c : resp.chunks) {
        if (!send_all(fd, chunk(c))) {
          open = false;
          break;
        }
      }
      if (!open) {
        break;
      }
      if (!resp.hold_open) {
        send_all(fd, "0\r\n\r\n");
      }
    } else {
      if (resp.status != 204 && resp.status != 304) {
        out +=
            "Content-Type: application/json\r\nContent-Length: " + std::to_string(resp.body.size()) + "\r\n";
      }
      out += "\r\n";
      if (resp.status != 204 && resp.status != 304) {
        out += resp.body;
      }
      if (!send_all(fd, out)) {
        break;
      }
    }
    if (resp.hold_open) {
      cv_.notify_all();
      cv_.wait(stream_lock, [&] { return stopping_ || streams_.count(fd) == 0; });
      break;
    }
    if (auto it = req.headers.find("connection"); it != req.headers.end() && lower(it->second) == "close") {
      break;
    }
  }

  std::lock_guard lock(mutex_);
  connections_.erase(fd);
  streams_.erase(fd);
  ::close(fd);
}

}  // namespace berth::testing
