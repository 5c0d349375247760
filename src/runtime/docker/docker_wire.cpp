#include "docker_wire.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <utility>

namespace berth::runtime::docker_detail {
namespace {

constexpr int kMaxApiMajor = 1;
constexpr int kMaxApiMinor = 41;
constexpr int kMinApiMinor = 24;
// Engine-set event attributes that share Actor.Attributes with the container's labels.
constexpr std::array<std::string_view, 4> kEngineAttributes = {"image", "name", "exitCode", "signal"};
constexpr std::string_view kHealthAction = "health_status:";

// Reads a field without letting a missing key, a null or a wrong type throw.
const json* field(const json& j, std::string_view key) {
  if (!j.is_object()) {
    return nullptr;
  }
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    return nullptr;
  }
  return &*it;
}

std::string str(const json& j, std::string_view key) {
  const json* f = field(j, key);
  return f != nullptr && f->is_string() ? f->get<std::string>() : std::string();
}

bool boolean(const json& j, std::string_view key) {
  const json* f = field(j, key);
  return f != nullptr && f->is_boolean() && f->get<bool>();
}

std::optional<std::int64_t> integer(const json& j, std::string_view key) {
  const json* f = field(j, key);
  if (f == nullptr || !f->is_number_integer()) {
    return std::nullopt;
  }
  return f->get<std::int64_t>();
}

const json& object_or_empty(const json& j, std::string_view key) {
  static const json kEmpty = json::object();
  const json* f = field(j, key);
  return f != nullptr && f->is_object() ? *f : kEmpty;
}

std::optional<int> to_int(std::string_view s) {
  int v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) {
    return std::nullopt;
  }
  return v;
}

Labels string_map(const json& obj) {
  Labels out;
  if (!obj.is_object()) {
    return out;
  }
  for (const auto& [k, v] : obj.items()) {
    if (v.is_string()) {
      out.emplace(k, v.get<std::string>());
    }
  }
  return out;
}

std::string strip_slash(std::string name) {
  if (!name.empty() && name.front() == '/') {
    name.erase(0, 1);
  }
  return name;
}

// "80/tcp" -> {80, "tcp"}; a bare "80" is tcp, as the engine reads it.
std::optional<std::pair<int, std::string>> parse_port_key(std::string_view key) {
  std::size_t slash = key.find('/');
  auto port = to_int(key.substr(0, slash));
  if (!port) {
    return std::nullopt;
  }
  std::string protocol = slash == std::string_view::npos ? "tcp" : std::string(key.substr(slash + 1));
  return std::make_pair(*port, protocol);
}

// NetworkSettings.Ports: {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "49153"}], "81/tcp": null}.
std::vector<PortBinding> bindings_from_ports(const json& ports) {
  std::vector<PortBinding> out;
  if (!ports.is_object()) {
    return out;
  }
  for (const auto& [key, list] : ports.items()) {
    auto parsed = parse_port_key(key);
    if (!parsed || !list.is_array()) {
      continue;
    }
    for (const json& b : list) {
      PortBinding pb;
      pb.container_port = parsed->first;
      pb.protocol = parsed->second;
      pb.host_ip = str(b, "HostIp");
      pb.host_port = to_int(str(b, "HostPort")).value_or(0);
      out.push_back(std::move(pb));
    }
  }
  return out;
}

// With host networking the engine publishes nothing: each exposed port is the host's port.
std::vector<PortBinding> host_mode_bindings(const json& exposed) {
  std::vector<PortBinding> out;
  if (!exposed.is_object()) {
    return out;
  }
  for (const auto& [key, unused] : exposed.items()) {
    if (auto parsed = parse_port_key(key)) {
      PortBinding pb;
      pb.container_port = parsed->first;
      pb.host_port = parsed->first;
      pb.protocol = parsed->second;
      out.push_back(std::move(pb));
    }
  }
  return out;
}

// The list endpoint has no exit code field; its Status reads "Exited (137) 5 seconds ago".
std::optional<int> exit_code_from_status(std::string_view status) {
  std::size_t open = status.find('(');
  std::size_t close = status.find(')', open == std::string_view::npos ? 0 : open);
  if (open == std::string_view::npos || close == std::string_view::npos) {
    return std::nullopt;
  }
  return to_int(status.substr(open + 1, close - open - 1));
}

std::optional<std::pair<int, int>> parse_version(std::string_view v) {
  std::size_t dot = v.find('.');
  if (dot == std::string_view::npos) {
    return std::nullopt;
  }
  auto major = to_int(v.substr(0, dot));
  auto minor = to_int(v.substr(dot + 1));
  if (!major || !minor) {
    return std::nullopt;
  }
  return std::make_pair(*major, *minor);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\n' || s.front() == '\r' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

std::string url_encode(std::string_view s, std::string_view keep) {
  constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved || keep.find(c) != std::string_view::npos) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0x0F]);
    }
  }
  return out;
}

std::string daemon_message(std::string_view body) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_object()) {
    std::string m = str(j, "message");
    if (!m.empty()) {
      return m;
    }
  }
  return std::string(trim(body));
}

std::string daemon_error_text(long status, std::string_view body) {
  std::string m = daemon_message(body);
  if (m.empty()) {
    m = "HTTP " + std::to_string(status);
  }
  return "Error response from daemon: " + m;
}

std::optional<std::string> negotiate_api_version(std::string_view engine_api, std::string_view engine_min_api,
                                                 std::string* error) {
  auto engine = parse_version(engine_api);
  if (!engine) {
    if (error != nullptr) {
      *error = "the Docker daemon reported an unreadable API version \"" + std::string(engine_api) + "\"";
    }
    return std::nullopt;
  }
  std::pair<int, int> chosen = std::min(*engine, std::make_pair(kMaxApiMajor, kMaxApiMinor));
  // An engine that has retired 1.41 still answers the endpoints berth uses in the same shape at its minimum.
  if (auto minimum = parse_version(engine_min_api); minimum && *minimum > chosen) {
    chosen = *minimum;
  }
  if (chosen < std::make_pair(kMaxApiMajor, kMinApiMinor)) {
    if (error != nullptr) {
      *error = "the Docker daemon speaks API " + std::string(engine_api) + "; berth needs at least 1." +
               std::to_string(kMinApiMinor);
    }
    return std::nullopt;
  }
  return std::to_string(chosen.first) + "." + std::to_string(chosen.second);
}

json label_filter(const Labels& labels) {
  json list = json::array();
  for (const auto& [k, v] : labels) {
    list.push_back(k + "=" + v);
  }
  return json{{"label", std::move(list)}};
}

NetworkModeKind network_mode_kind(std::string_view mode) {
  if (mode.empty() || mode == "bridge" || mode == "default") {
    return NetworkModeKind::kBridge;
  }
  if (mode == "host") {
    return NetworkModeKind::kHost;
  }
  if (mode == "none") {
    return NetworkModeKind::kNone;
  }
  if (mode.starts_with("container:")) {
    return NetworkModeKind::kContainer;
  }
  return NetworkModeKind::kUserNetwork;
}

namespace {

json string_object(const std::map<std::string, std::string>& m) {
  json out = json::object();
  for (const auto& [k, v] : m) {
    out[k] = v;
  }
  return out;
}

// "mode=1777" -> 01777; nullopt when the option is not a mode or its value is not octal.
std::optional<std::int64_t> tmpfs_mode(std::string_view option) {
  if (!option.starts_with("mode=")) {
    return std::nullopt;
  }
  option.remove_prefix(5);
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(option.data(), option.data() + option.size(), v, 8);
  if (ec != std::errc() || end != option.data() + option.size()) {
    return std::nullopt;
  }
  return v;
}

// API 1.41's Mount.TmpfsOptions holds only a size and a mode; anything else (noexec, uid=, ...) needs the
// older HostConfig.Tmpfs map, which takes mount(8) options verbatim.
bool tmpfs_fits_mount_api(const Mount& m) {
  return std::all_of(m.tmpfs_options.begin(), m.tmpfs_options.end(), [](const std::string& o) {
    return o == "rw" || o == "ro" || o == "defaults" || tmpfs_mode(o).has_value();
  });
}

std::string tmpfs_option_string(const Mount& m) {
  std::string out;
  auto add = [&out](std::string_view o) {
    if (!out.empty()) {
      out += ',';
    }
    out += o;
  };
  if (m.read_only) {
    add("ro");
  }
  if (m.tmpfs_size_bytes) {
    add("size=" + std::to_string(*m.tmpfs_size_bytes));
  }
  for (const auto& o : m.tmpfs_options) {
    add(o);
  }
  return out;
}

}  // namespace

json create_body(const ContainerSpec& spec) {
  const NetworkModeKind net = network_mode_kind(spec.network_mode);
  // Joining another container's network namespace shares its hostname, resolv.conf, hosts file and ports;
  // the engine refuses Hostname, Dns, ExtraHosts, ExposedPorts and PortBindings with it ("conflicting
  // options: ... and the network mode") and would silently ignore DnsSearch and DnsOptions.
  const bool shared_netns = net == NetworkModeKind::kContainer;

  json body = json::object();
  body["Image"] = spec.image;
  if (spec.entrypoint) {
    body["Entrypoint"] = *spec.entrypoint;
  }
  if (spec.command) {
    body["Cmd"] = *spec.command;
  }
  body["Env"] = spec.env;
  body["Labels"] = string_object(spec.labels);
  if (spec.working_dir) {
    body["WorkingDir"] = *spec.working_dir;
  }
  if (spec.user) {
    body["User"] = *spec.user;
  }
  if (spec.hostname && !shared_netns) {
    body["Hostname"] = *spec.hostname;
  }
  if (spec.healthcheck) {
    const HealthCheck& h = *spec.healthcheck;
    body["Healthcheck"] = json{{"Test", h.test},
                               {"Interval", h.interval_ns},
                               {"Timeout", h.timeout_ns},
                               {"Retries", h.retries},
                               {"StartPeriod", h.start_period_ns}};
  }
  if (spec.stop_timeout_s) {
    body["StopTimeout"] = *spec.stop_timeout_s;
  }

  json exposed = json::object();
  json bindings = json::object();
  if (!shared_netns) {
    for (const PortBinding& p : spec.ports) {
      const std::string key =
          std::to_string(p.container_port) + "/" + (p.protocol.empty() ? "tcp" : p.protocol);
      exposed[key] = json::object();
      // An empty HostPort asks the engine to pick a free port.
      bindings[key].push_back(
          json{{"HostIp", p.host_ip}, {"HostPort", p.host_port > 0 ? std::to_string(p.host_port) : ""}});
    }
  }
  if (!exposed.empty()) {
    body["ExposedPorts"] = std::move(exposed);
  }

  json host = json::object();
  host["NetworkMode"] = spec.network_mode;
  // The engine discards published ports under host networking (with a warning); don't send them.
  if (!bindings.empty() && net != NetworkModeKind::kHost) {
    host["PortBindings"] = std::move(bindings);
  }
  if (spec.memory_bytes) {
    host["Memory"] = *spec.memory_bytes;
  }
  if (spec.memory_reservation_bytes) {
    host["MemoryReservation"] = *spec.memory_reservation_bytes;
  }
  if (spec.cpu_shares) {
    host["CpuShares"] = *spec.cpu_shares;
  }
  if (spec.nano_cpus) {
    host["NanoCpus"] = *spec.nano_cpus;
  }
  if (!spec.ulimits.empty()) {
    json list = json::array();
    for (const Ulimit& u : spec.ulimits) {
      list.push_back(json{{"Name", u.name}, {"Soft", u.soft}, {"Hard", u.hard}});
    }
    host["Ulimits"] = std::move(list);
  }
  if (!spec.cap_add.empty()) {
    host["CapAdd"] = spec.cap_add;
  }
  if (!spec.cap_drop.empty()) {
    host["CapDrop"] = spec.cap_drop;
  }
  if (spec.init) {
    host["Init"] = true;
  }
  if (spec.shm_size_bytes) {
    host["ShmSize"] = *spec.shm_size_bytes;
  }
  if (!spec.devices.empty()) {
    json list = json::array();
    for (const Device& d : spec.devices) {
      list.push_back(json{{"PathOnHost", d.host_path},
                          {"PathInContainer", d.container_path.empty() ? d.host_path : d.container_path},
                          {"CgroupPermissions", d.permissions.empty() ? "rwm" : d.permissions}});
    }
    host["Devices"] = std::move(list);
  }
  if (spec.read_only_rootfs) {
    host["ReadonlyRootfs"] = true;
  }
  if (spec.privileged) {
    host["Privileged"] = true;
  }
  if (!shared_netns) {
    if (!spec.extra_hosts.empty()) {
      host["ExtraHosts"] = spec.extra_hosts;
    }
    if (!spec.dns.empty()) {
      host["Dns"] = spec.dns;
    }
    if (!spec.dns_search.empty()) {
      host["DnsSearch"] = spec.dns_search;
    }
    if (!spec.dns_options.empty()) {
      host["DnsOptions"] = spec.dns_options;
    }
  }

  json binds = json::array();
  json mounts = json::array();
  json tmpfs = json::object();
  for (const Mount& m : spec.mounts) {
    switch (m.type) {
      case Mount::Type::kBind:
        // As the ECS agent does, host paths go through Binds: the engine then creates a missing source
        // directory, where a bind Mount would fail ("bind source path does not exist"). A path with a colon
        // can't be spelled as a bind, so it takes the Mount form.
        if (m.source.find(':') == std::string::npos && m.target.find(':') == std::string::npos) {
          binds.push_back(m.source + ":" + m.target + (m.read_only ? ":ro" : ""));
        } else {
          mounts.push_back(
              json{{"Type", "bind"}, {"Source", m.source}, {"Target", m.target}, {"ReadOnly", m.read_only}});
        }
        break;
      case Mount::Type::kVolume:
        mounts.push_back(
            json{{"Type", "volume"}, {"Source", m.source}, {"Target", m.target}, {"ReadOnly", m.read_only}});
        break;
      case Mount::Type::kTmpfs:
        if (tmpfs_fits_mount_api(m)) {
          json options = json::object();
          if (m.tmpfs_size_bytes) {
            options["SizeBytes"] = *m.tmpfs_size_bytes;
          }
          bool read_only = m.read_only;
          for (const auto& o : m.tmpfs_options) {
            if (auto mode = tmpfs_mode(o)) {
              options["Mode"] = *mode;
            } else if (o == "ro") {
              read_only = true;
            }
          }
          json mount{{"Type", "tmpfs"}, {"Target", m.target}, {"ReadOnly", read_only}};
          if (!options.empty()) {
            mount["TmpfsOptions"] = std::move(options);
          }
          mounts.push_back(std::move(mount));
        } else {
          tmpfs[m.target] = tmpfs_option_string(m);
        }
        break;
    }
  }
  if (!binds.empty()) {
    host["Binds"] = std::move(binds);
  }
  if (!mounts.empty()) {
    host["Mounts"] = std::move(mounts);
  }
  if (!tmpfs.empty()) {
    host["Tmpfs"] = std::move(tmpfs);
  }
  if (!spec.volumes_from.empty()) {
    host["VolumesFrom"] = spec.volumes_from;
  }
  if (!spec.sysctls.empty()) {
    host["Sysctls"] = string_object(spec.sysctls);
  }
  if (spec.log_driver) {
    host["LogConfig"] = json{{"Type", *spec.log_driver}, {"Config", string_object(spec.log_options)}};
  }
  if (spec.cgroup_parent) {
    host["CgroupParent"] = *spec.cgroup_parent;
  }
  body["HostConfig"] = std::move(host);

  // Network-scoped aliases exist only on user-defined networks; the engine refuses them on the default
  // bridge.
  if (net == NetworkModeKind::kUserNetwork && !spec.network_aliases.empty()) {
    body["NetworkingConfig"] =
        json{{"EndpointsConfig", json{{spec.network_mode, json{{"Aliases", spec.network_aliases}}}}}};
  }
  return body;
}

json network_create_body(const NetworkSpec& spec) {
  json body{{"Name", spec.name}, {"Driver", "bridge"}, {"CheckDuplicate", true}, {"Labels", json::object()}};
  for (const auto& [k, v] : spec.labels) {
    body["Labels"][k] = v;
  }
  if (!spec.subnet.empty()) {
    json pool{{"Subnet", spec.subnet}};
    if (!spec.gateway.empty()) {
      pool["Gateway"] = spec.gateway;
    }
    body["IPAM"] = json{{"Driver", "default"}, {"Config", json::array({pool})}};
  }
  return body;
}

NetworkAddress network_address_from_inspect(const json& j) {
  const json& settings = object_or_empty(j, "NetworkSettings");
  const json& networks = object_or_empty(settings, "Networks");
  auto from = [](const json& endpoint) {
    return NetworkAddress{str(endpoint, "IPAddress"), str(endpoint, "MacAddress")};
  };
  // The network the container was created on first; the engine keys Networks by name ("bridge", "vpc-1").
  const std::string mode = str(object_or_empty(j, "HostConfig"), "NetworkMode");
  if (!mode.empty()) {
    NetworkAddress own = from(object_or_empty(networks, mode == "default" ? "bridge" : mode));
    if (!own.ip.empty()) {
      return own;
    }
  }
  for (const auto& [name, endpoint] : networks.items()) {
    NetworkAddress a = from(endpoint);
    if (!a.ip.empty()) {
      return a;
    }
  }
  return NetworkAddress{str(settings, "IPAddress"), str(settings, "MacAddress")};
}

ContainerState state_from_inspect(const json& j) {
  ContainerState s;
  s.id = str(j, "Id");
  s.name = strip_slash(str(j, "Name"));
  const json& config = object_or_empty(j, "Config");
  s.labels = string_map(object_or_empty(config, "Labels"));
  const json& state = object_or_empty(j, "State");
  s.running = boolean(state, "Running");
  s.oom_killed = boolean(state, "OOMKilled");
  const std::string status = str(state, "Status");
  const std::string finished = str(state, "FinishedAt");
  // The zero time means the container never finished (still "created"); ExitCode is then meaningless.
  const bool finished_once = !finished.empty() && !finished.starts_with("0001-01-01");
  if (!s.running && (status == "exited" || status == "dead" || finished_once)) {
    s.exit_code = static_cast<int>(integer(state, "ExitCode").value_or(0));
  }
  s.health = str(object_or_empty(state, "Health"), "Status");
  const json& host_config = object_or_empty(j, "HostConfig");
  if (str(host_config, "NetworkMode") == "host") {
    s.bindings = host_mode_bindings(object_or_empty(config, "ExposedPorts"));
  } else {
    s.bindings = bindings_from_ports(object_or_empty(object_or_empty(j, "NetworkSettings"), "Ports"));
  }
  return s;
}

ContainerState state_from_summary(const json& j) {
  ContainerState s;
  s.id = str(j, "Id");
  if (const json* names = field(j, "Names");
      names != nullptr && names->is_array() && !names->empty() && names->front().is_string()) {
    s.name = strip_slash(names->front().get<std::string>());
  }
  s.labels = string_map(object_or_empty(j, "Labels"));
  const std::string state = str(j, "State");
  s.running = state == "running";
  if (state == "exited" || state == "dead") {
    s.exit_code = exit_code_from_status(str(j, "Status"));
  }
  if (const json* ports = field(j, "Ports"); ports != nullptr && ports->is_array()) {
    for (const json& p : *ports) {
      auto public_port = integer(p, "PublicPort");
      auto private_port = integer(p, "PrivatePort");
      if (!public_port || !private_port) {
        continue;
      }
      PortBinding pb;
      pb.container_port = static_cast<int>(*private_port);
      pb.host_port = static_cast<int>(*public_port);
      pb.protocol = str(p, "Type").empty() ? "tcp" : str(p, "Type");
      pb.host_ip = str(p, "IP");
      s.bindings.push_back(std::move(pb));
    }
  }
  return s;
}

std::optional<RuntimeEvent> event_from_json(const json& j) {
  if (!j.is_object()) {
    return std::nullopt;
  }
  if (const json* type = field(j, "Type"); type != nullptr && (!type->is_string() || *type != "container")) {
    return std::nullopt;
  }
  std::string action = str(j, "Action");
  if (action.empty()) {
    action = str(j, "status");  // engines before API 1.22
  }
  RuntimeEvent ev;
  if (action == "start") {
    ev.type = RuntimeEvent::Type::kStart;
  } else if (action == "die") {
    ev.type = RuntimeEvent::Type::kDie;
  } else if (action == "oom") {
    ev.type = RuntimeEvent::Type::kOom;
  } else if (action == "destroy") {
    ev.type = RuntimeEvent::Type::kDestroy;
  } else if (action.starts_with(kHealthAction)) {
    // "health_status: healthy"; "starting" is where every check begins, not a verdict.
    std::string_view status = trim(std::string_view(action).substr(kHealthAction.size()));
    if (status != "healthy" && status != "unhealthy") {
      return std::nullopt;
    }
    ev.type = RuntimeEvent::Type::kHealth;
    ev.health = std::string(status);
  } else {
    return std::nullopt;
  }
  const json& actor = object_or_empty(j, "Actor");
  ev.container_id = str(actor, "ID");
  if (ev.container_id.empty()) {
    ev.container_id = str(j, "id");
  }
  if (ev.container_id.empty()) {
    return std::nullopt;
  }
  Labels attributes = string_map(object_or_empty(actor, "Attributes"));
  if (ev.type == RuntimeEvent::Type::kDie) {
    if (auto it = attributes.find("exitCode"); it != attributes.end()) {
      ev.exit_code = to_int(it->second);
    }
  }
  for (std::string_view engine_key : kEngineAttributes) {
    attributes.erase(std::string(engine_key));
  }
  ev.labels = std::move(attributes);
  return ev;
}

bool LineSplitter::feed(std::string_view data, const std::function<void(std::string_view)>& on_line) {
  while (!data.empty()) {
    std::size_t nl = data.find('\n');
    if (nl == std::string_view::npos) {
      if (pending_.size() + data.size() > max_line_) {
        pending_.clear();
        return false;
      }
      pending_.append(data);
      return true;
    }
    std::string_view piece = data.substr(0, nl);
    data.remove_prefix(nl + 1);
    std::string_view line;
    if (pending_.empty()) {
      line = piece;
    } else {
      if (pending_.size() + piece.size() > max_line_) {
        pending_.clear();
        return false;
      }
      pending_.append(piece);
      line = pending_;
    }
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    if (!line.empty()) {
      on_line(line);
    }
    pending_.clear();
  }
  return true;
}

void LineSplitter::flush(const std::function<void(std::string_view)>& on_line) {
  std::string rest = std::move(pending_);
  pending_.clear();
  std::string_view line = trim(rest);
  if (!line.empty()) {
    on_line(line);
  }
}

}  // namespace berth::runtime::docker_detail
