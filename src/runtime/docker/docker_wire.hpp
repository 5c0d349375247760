#pragma once
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include <berth/runtime/container_runtime.hpp>

// Translation between berth's runtime types and the Engine API's JSON. Pure functions: nothing here does I/O,
// and none of the parsers throws on an unexpected shape (missing or mistyped fields read as empty).
namespace berth::runtime::docker_detail {

using json = nlohmann::json;

// Percent-encodes everything but RFC 3986 unreserved characters and those in `keep`.
std::string url_encode(std::string_view s, std::string_view keep = {});

// The engine's own error text from an error body ({"message": ...}), else the body itself, trimmed.
std::string daemon_message(std::string_view body);
// "Error response from daemon: <message>", as the docker CLI prints it (the status stands in for an empty
// body).
std::string daemon_error_text(long status, std::string_view body);

// min(engine, 1.41), raised to the engine's minimum when that is higher; nullopt with `error` when the
// engine is older than 1.24 or the versions are unreadable.
std::optional<std::string> negotiate_api_version(std::string_view engine_api, std::string_view engine_min_api,
                                                 std::string* error);

// {"label":["k=v",...]} for list and events filters.
json label_filter(const Labels& labels);
enum class NetworkModeKind { kBridge, kHost, kNone, kContainer, kUserNetwork };
// How the engine reads a HostConfig.NetworkMode value ("" and "default" are the bridge).
NetworkModeKind network_mode_kind(std::string_view mode);

// The body of POST /containers/create. Leaves out what the engine refuses with the chosen network mode.
json create_body(const ContainerSpec& spec);
// The body of POST /networks/create: a bridge network, with an IPAM pool when the spec names a subnet.
json network_create_body(const NetworkSpec& spec);
// From GET /containers/{id}/json.
ContainerState state_from_inspect(const json& j);

struct NetworkAddress {
  std::string ip;
  std::string mac;
};
// The container's address from GET /containers/{id}/json: on the network it was created on, else the first
// network that gave it one, else the legacy top-level fields. Empty when it shares another's namespace.
NetworkAddress network_address_from_inspect(const json& j);
// From one element of GET /containers/json.
ContainerState state_from_summary(const json& j);
// From one line of GET /events; nullopt for anything but a container start/die/oom/destroy or a
// "health_status: healthy|unhealthy".
std::optional<RuntimeEvent> event_from_json(const json& j);

// Reassembles newline-delimited records from arbitrary pieces of a byte stream.
class LineSplitter {
 public:
  explicit LineSplitter(std::size_t max_line) : max_line_(max_line) {}
  // Calls `on_line` for each complete line (without "\r\n"; empty lines skipped). False when a line grows
  // past the bound, after which the stream should be abandoned.
  bool feed(std::string_view data, const std::function<void(std::string_view)>& on_line);
  // Hands over a trailing line that had no newline.
  void flush(const std::function<void(std::string_view)>& on_line);
  void reset() { pending_.clear(); }

 private:
  std::size_t max_line_;
  std::string pending_;
};

}  // namespace berth::runtime::docker_detail
