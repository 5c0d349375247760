#include <berth/endpoints/task_metadata.hpp>

#include <algorithm>
#include <charconv>
#include <memory>
#include <set>
#include <vector>

#include <ifaddrs.h>
#include <netdb.h>
#include <sys/socket.h>

#include <berth/common/time_format.hpp>

// Field names and shapes follow what the ECS agent serves (task metadata v3/v4 and the v2 credentials API):
// PascalCase documents, RFC 3339 times, fields without a value left out.
namespace berth::endpoints {
namespace {

using state::Container;
using state::ContainerPhase;
using state::ContainerStatus;
using state::Task;
using state::TaskStatus;

constexpr char kPauseName[] = "~internal~ecs~pause";
constexpr std::size_t kMaxRateSamples = 4096;

EndpointReply reply(int status, const json& body) {
  return EndpointReply{status, body.dump(-1, ' ', false, json::error_handler_t::replace)};
}

// The metadata API answers errors as a bare JSON string, as the agent does.
EndpointReply metadata_error(int status, const std::string& message) { return reply(status, json(message)); }

// The credentials API answers {"code", "message"}, as the agent does.
EndpointReply credentials_error(int status, const std::string& code, const std::string& message) {
  return reply(status, json{{"code", code}, {"message", "CredentialsV2Request: " + message}});
}

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= path.size()) {
    auto slash = path.find('/', start);
    std::string part = path.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (!part.empty()) {
      out.push_back(std::move(part));
    }
    if (slash == std::string::npos) {
      break;
    }
    start = slash + 1;
  }
  return out;
}

std::string known_status(const Container& c) {
  if (c.last_status == ContainerStatus::kStopped) {
    return "STOPPED";
  }
  if (c.last_status == ContainerStatus::kRunning) {
    return "RUNNING";
  }
  switch (c.phase) {
    case ContainerPhase::kNew:
    case ContainerPhase::kPulling:
      return "NONE";
    case ContainerPhase::kPulled:
    case ContainerPhase::kCreating:
      return "PULLED";
    case ContainerPhase::kCreated:
    case ContainerPhase::kStarting:
      return "CREATED";
    case ContainerPhase::kStarted:
      return "RUNNING";
  }
  return "NONE";
}

std::string desired_status(const Task& t) { return t.desired_status == TaskStatus::kStopped ? "STOPPED" : "RUNNING"; }

void put_time(json& j, const char* key, const std::optional<TimeMs>& t) {
  if (t) {
    j[key] = format_rfc3339(*t);
  }
}

std::optional<std::int64_t> number(const std::string& s) {
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) {
    return std::nullopt;
  }
  return v;
}

// EC2's private DNS name for an address: ip-10-0-0-2.ec2.internal in us-east-1, else .<region>.compute.internal.
std::string private_dns_name(const std::string& ip, const std::string& region) {
  std::string name = "ip-" + ip;
  std::replace(name.begin(), name.end(), '.', '-');
  return name + (region == "us-east-1" ? ".ec2.internal" : "." + region + ".compute.internal");
}

json networks(const Task& t, const Container& c, int version) {
  json out = json::array();
  if (t.eni) {
    json n{{"NetworkMode", "awsvpc"}};
    if (!t.eni->ip.empty()) {
      n["IPv4Addresses"] = json::array({t.eni->ip});
    }
    if (version >= 4) {
      n["AttachmentIndex"] = 0;
      if (!t.eni->mac.empty()) {
        n["MACAddress"] = t.eni->mac;
      }
      if (!t.eni->ip.empty()) {
        n["PrivateDNSName"] = private_dns_name(t.eni->ip, t.scope.region);
      }
    }
    out.push_back(std::move(n));
  } else if (t.network_mode == "bridge" && !c.ip_address.empty()) {
    out.push_back({{"NetworkMode", "bridge"}, {"IPv4Addresses", json::array({c.ip_address})}});
  } else if (t.network_mode == "host") {
    out.push_back({{"NetworkMode", "host"}});
  }
  return out;
}

json ports(const Task& t, const Container& c, int version) {
  json out = json::array();
  if (t.eni) {
    // awsvpc: the task's own interface, so a container port is also the port others reach.
    for (const auto& pm : c.definition.value("portMappings", json::array())) {
      const int port = pm.value("containerPort", 0);
      if (port > 0) {
        out.push_back({{"ContainerPort", port}, {"Protocol", pm.value("protocol", "tcp")}, {"HostPort", port}});
      }
    }
    return out;
  }
  for (const auto& b : c.network_bindings) {
    json p{{"ContainerPort", b.container_port}, {"Protocol", b.protocol}};
    if (b.host_port > 0) {
      p["HostPort"] = b.host_port;
    }
    if (version >= 4 && !b.bind_ip.empty()) {
      p["HostIp"] = b.bind_ip;
    }
    out.push_back(std::move(p));
  }
  return out;
}

json labels(const Task& t, const Container& c) {
  json out = json::object();
  const json docker_labels = c.definition.value("dockerLabels", json::object());
  for (const auto& [k, v] : docker_labels.items()) {
    if (v.is_string()) {
      out[k] = v;
    }
  }
  // As on the engine's container (berth's own dev.berth.* labels are bookkeeping, not ECS's).
  out["com.amazonaws.ecs.cluster"] = t.cluster_arn;
  out["com.amazonaws.ecs.container-name"] = c.name;
  out["com.amazonaws.ecs.task-arn"] = t.arn;
  out["com.amazonaws.ecs.task-definition-family"] = t.family;
  out["com.amazonaws.ecs.task-definition-version"] = std::to_string(t.revision);
  return out;
}

json volumes(const Task& t, const Container& c) {
  json out = json::array();
  for (const auto& mp : c.definition.value("mountPoints", json::array())) {
    auto it = t.volumes.find(mp.value("sourceVolume", ""));
    if (it == t.volumes.end()) {
      continue;
    }
    json v{{"Destination", mp.value("containerPath", "")}};
    if (it->second.bind) {
      v["Source"] = it->second.source;
    } else {
      v["DockerName"] = it->second.source;
    }
    out.push_back(std::move(v));
  }
  return out;
}

std::uint64_t counter(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_unsigned() ? it->get<std::uint64_t>()
         : it != j.end() && it->is_number_integer() ? static_cast<std::uint64_t>(std::max<std::int64_t>(0, it->get<std::int64_t>()))
                                                     : 0;
}

}  // namespace

TaskMetadataService::TaskMetadataService(state::Store& store, runtime::ContainerRuntime& runtime, const Clock& clock,
                                         EndpointOptions options)
    : store_(store), runtime_(runtime), clock_(clock), options_(std::move(options)) {}

// ---- Documents ---------------------------------------------------------------------------------------------

json TaskMetadataService::container_document(const Task& t, const Container& c, int version) {
  const json& def = c.definition;
  json j{{"DockerId", c.runtime_id},
         {"Name", c.name},
         {"DockerName", c.docker_name},
         {"Image", c.image},
         {"ImageID", c.image_digest},
         {"Labels", labels(t, c)},
         {"DesiredStatus", desired_status(t)},
         {"KnownStatus", known_status(c)},
         {"Type", "NORMAL"}};
  if (json p = ports(t, c, version); !p.empty()) {
    j["Ports"] = std::move(p);
  }
  if (c.exit_code) {
    j["ExitCode"] = *c.exit_code;
  }
  // As the agent reports them: CPU units (the kernel's minimum of 2 when none are set) and the hard limit in MiB.
  const std::int64_t cpu = def.value("cpu", 0);
  j["Limits"] = json{{"CPU", static_cast<double>(std::max<std::int64_t>(cpu, 2))}, {"Memory", def.value("memory", 0)}};
  put_time(j, "CreatedAt", c.created_at);
  put_time(j, "StartedAt", c.started_at);
  put_time(j, "FinishedAt", c.finished_at);
  if (json n = networks(t, c, version); !n.empty()) {
    j["Networks"] = std::move(n);
  }
  if (def.contains("healthCheck")) {
    j["Health"] = json{{"status", c.health_status}};
  }
  if (json v = volumes(t, c); !v.empty()) {
    j["Volumes"] = std::move(v);
  }
  if (version >= 4) {
    const json log = def.value("logConfiguration", json::object());
    if (log.contains("logDriver")) {
      j["LogDriver"] = log["logDriver"];
      if (log.contains("options") && log["options"].is_object()) {
        j["LogOptions"] = log["options"];
      }
    }
    j["ContainerARN"] = c.arn;
  }
  return j;
}

json TaskMetadataService::pause_document(const Task& t, int version) {
  Container pause;
  pause.definition = json::object();
  pause.name = kPauseName;
  pause.runtime_id = t.eni->pause_id;
  pause.image = "berth/pause:" BERTH_VERSION;
  pause.last_status = t.eni->status == "ATTACHED" ? ContainerStatus::kRunning
                      : t.eni->status == "DELETED" ? ContainerStatus::kStopped
                                                  : ContainerStatus::kPending;
  pause.phase = t.eni->pause_phase;
  json j = container_document(t, pause, version);
  j["Type"] = "CNI_PAUSE";
  j.erase("ContainerARN");
  return j;
}

json TaskMetadataService::task_document(const Task& t, int version, bool with_tags) {
  json j{{"Cluster", t.launch_type == "FARGATE" ? t.cluster_arn : t.cluster_name},
         {"TaskARN", t.arn},
         {"Family", t.family},
         {"Revision", std::to_string(t.revision)},
         {"DesiredStatus", std::string(state::to_string(t.desired_status))},
         {"KnownStatus", std::string(state::to_string(t.last_status))},
         {"AvailabilityZone", t.availability_zone}};
  json limits = json::object();
  if (auto cpu = number(t.cpu)) {
    limits["CPU"] = static_cast<double>(*cpu) / 1024.0;  // in vCPUs
  }
  if (auto mem = number(t.memory)) {
    limits["Memory"] = *mem;
  }
  if (!limits.empty()) {
    j["Limits"] = std::move(limits);
  }
  put_time(j, "PullStartedAt", t.pull_started_at);
  put_time(j, "PullStoppedAt", t.pull_stopped_at);
  put_time(j, "ExecutionStoppedAt", t.execution_stopped_at);
  json containers = json::array();
  if (t.eni && !t.eni->pause_id.empty()) {
    containers.push_back(pause_document(t, version));
  }
  for (const auto& c : t.containers) {
    containers.push_back(container_document(t, c, version));
  }
  j["Containers"] = std::move(containers);
  if (version >= 4) {
    j["LaunchType"] = t.launch_type;
    if (t.group.starts_with("service:")) {
      j["ServiceName"] = t.group.substr(8);
    }
  }
  if (with_tags) {
    json tags = json::object();
    for (const auto& tag : t.tags) {
      if (tag.contains("key")) {
        tags[tag["key"].get<std::string>()] = tag.value("value", "");
      }
    }
    if (!tags.empty()) {
      j["TaskTags"] = std::move(tags);
    }
  }
  return j;
}

// ---- Lookups and the source check ---------------------------------------------------------------------------

TaskMetadataService::Located TaskMetadataService::find_by_token(const std::string& token) {
  Located found;
  if (token.empty()) {
    return found;
  }
  store_.for_each_region([&](const Scope&, state::RegionState& region) {
    for (auto& [id, t] : region.tasks) {
      for (auto& c : t.containers) {
        if (found.task == nullptr && c.metadata_token == token) {
          found = Located{&t, &c};
        }
      }
    }
  });
  return found;
}

Task* TaskMetadataService::find_by_credentials_id(const std::string& id) {
  Task* found = nullptr;
  if (id.empty()) {
    return found;
  }
  store_.for_each_region([&](const Scope&, state::RegionState& region) {
    for (auto& [tid, t] : region.tasks) {
      if (found == nullptr && t.credentials_id == id) {
        found = &t;
      }
    }
  });
  return found;
}

bool TaskMetadataService::peer_known(const Task& t, const std::string& peer) const {
  if (peer.empty()) {
    return false;
  }
  if (options_.is_local_address && options_.is_local_address(peer)) {
    return true;
  }
  if (t.eni && t.eni->status == "ATTACHED" && t.eni->ip == peer) {
    return true;
  }
  return std::any_of(t.containers.begin(), t.containers.end(), [&](const Container& c) {
    return c.last_status != ContainerStatus::kStopped && c.ip_address == peer;
  });
}

void TaskMetadataService::check_peer(const Task& t, const std::string& peer, std::function<void(bool)> then) {
  if (peer_known(t, peer)) {
    then(true);
    return;
  }
  // A container may ask before berth has recorded the address the engine gave it at start: ask the engine.
  std::vector<std::string> unknown;
  if (t.network_mode == "bridge") {
    for (const auto& c : t.containers) {
      if (!c.runtime_id.empty() && c.ip_address.empty() && c.last_status != ContainerStatus::kStopped &&
          c.phase >= ContainerPhase::kStarting) {
        unknown.push_back(c.runtime_id);
      }
    }
  }
  if (unknown.empty() || peer.empty()) {
    then(false);
    return;
  }
  struct Pending {
    std::size_t remaining;
    bool match = false;
    std::function<void(bool)> then;
  };
  auto pending = std::make_shared<Pending>(Pending{unknown.size(), false, std::move(then)});
  for (const auto& id : unknown) {
    runtime_.inspect(id, [this, pending, peer, task_id = t.id, id](runtime::InspectOutcome out) {
      if (!out.error && out.state.running && out.state.ip_address == peer) {
        pending->match = true;
        // The start completion will say the same; until then the documents show it too.
        if (Task* task = store_.find_task(task_id)) {
          for (auto& c : task->containers) {
            if (c.runtime_id == id && c.ip_address.empty()) {
              c.ip_address = out.state.ip_address;
            }
          }
        }
      }
      if (--pending->remaining == 0) {
        pending->then(pending->match);
      }
    });
  }
}

// ---- Requests ---------------------------------------------------------------------------------------------

void TaskMetadataService::handle(const std::string& method, const std::string& path, const std::string& peer,
                                 std::function<void(EndpointReply)> done) {
  const auto parts = split_path(path);
  if (parts.size() >= 2 && parts[0] == "v2" && parts[1] == "credentials") {
    if (method != "GET") {
      done(credentials_error(405, "MethodNotAllowed", "Only GET is supported"));
      return;
    }
    if (parts.size() != 3) {
      done(credentials_error(400, "NoIdInRequest", "No Credential ID in the request"));
      return;
    }
    Task* task = find_by_credentials_id(parts[2]);
    if (task == nullptr || task->last_status == TaskStatus::kStopped) {
      // A task's credentials end with it, as the agent forgets them when it stops.
      done(credentials_error(400, "InvalidIdInRequest", "Credentials not found"));
      return;
    }
    const std::string task_id = task->id;
    const std::string id = parts[2];
    check_peer(*task, peer, [this, task_id, id, done = std::move(done)](bool allowed) mutable {
      Task* t = store_.find_task(task_id);
      if (t == nullptr || t->credentials_id != id || t->last_status == TaskStatus::kStopped) {
        done(credentials_error(400, "InvalidIdInRequest", "Credentials not found"));
        return;
      }
      if (!allowed) {
        done(credentials_error(403, "AccessDenied", "These credentials belong to another task"));
        return;
      }
      const std::string account = role_account(t->task_role_arn, t->scope.account);
      auto creds = options_.credentials ? options_.credentials(t->task_role_arn, account, clock_.now_ms())
                                        : std::nullopt;
      if (!creds) {
        done(credentials_error(503, "CredentialsUninitialized", "No credentials are configured for berth to pass on"));
        return;
      }
      json body{{"RoleArn", t->task_role_arn},
                {"AccessKeyId", creds->access_key_id},
                {"SecretAccessKey", creds->secret_access_key},
                {"Expiration", format_rfc3339(creds->expiration).substr(0, 19) + "Z"}};
      if (!creds->token.empty()) {
        body["Token"] = creds->token;
      }
      done(reply(200, body));
    });
    return;
  }
  if (parts.size() >= 2 && (parts[0] == "v3" || parts[0] == "v4")) {
    if (method != "GET") {
      done(metadata_error(405, "Only GET is supported"));
      return;
    }
    std::string rest;
    for (std::size_t i = 2; i < parts.size(); ++i) {
      rest += (i > 2 ? "/" : "") + parts[i];
    }
    metadata(parts[1], parts[0] == "v4" ? 4 : 3, rest, peer, std::move(done));
    return;
  }
  if (parts.size() >= 2 && parts[0] == "api") {
    Located at = find_by_token(parts[1]);
    if (at.task == nullptr) {
      done(reply(404, json{{"error", {{"Code", "ResourceNotFoundException"}, {"Message", "Unknown agent endpoint"}}}}));
      return;
    }
    // Task scale-in protection needs services; until berth has them the agent API says so plainly.
    done(reply(404, json{{"error",
                          {{"Arn", at.task->arn},
                           {"Code", "UnsupportedOperation"},
                           {"Message", "berth does not support the ECS agent API (task scale-in protection) yet"}}}}));
    return;
  }
  done(metadata_error(404, "No task metadata or credentials at this path"));
}

void TaskMetadataService::metadata(const std::string& token, int version, const std::string& rest,
                                   const std::string& peer, std::function<void(EndpointReply)> done) {
  const std::string handler = "V" + std::to_string(version) + " task metadata handler: ";
  Located at = find_by_token(token);
  if (at.task == nullptr) {
    done(metadata_error(404, handler + "unable to find the container of this metadata endpoint"));
    return;
  }
  static const std::set<std::string> kPaths = {"", "task", "taskWithTags", "stats", "task/stats"};
  if (!kPaths.contains(rest)) {
    done(metadata_error(404, handler + "no such path"));
    return;
  }
  const std::string task_id = at.task->id;
  check_peer(*at.task, peer, [this, task_id, token, version, rest, handler, done = std::move(done)](bool allowed) mutable {
    // Re-read: the engine may have been asked meanwhile.
    Located now = find_by_token(token);
    if (now.task == nullptr || now.task->id != task_id) {
      done(metadata_error(404, handler + "unable to find the container of this metadata endpoint"));
      return;
    }
    if (!allowed) {
      done(metadata_error(403, handler + "this endpoint answers only its own task's containers"));
      return;
    }
    const Task& t = *now.task;
    if (rest.empty()) {
      done(reply(200, container_document(t, *now.container, version)));
    } else if (rest == "task" || rest == "taskWithTags") {
      done(reply(200, task_document(t, version, rest == "taskWithTags")));
    } else if (rest == "stats") {
      if (now.container->runtime_id.empty()) {
        done(metadata_error(404, handler + "the container has not been created yet"));
        return;
      }
      stats(task_id, {now.container->runtime_id}, false, std::move(done));
    } else {
      std::vector<std::string> ids;
      for (const auto& c : t.containers) {
        if (!c.runtime_id.empty()) {
          ids.push_back(c.runtime_id);
        }
      }
      stats(task_id, std::move(ids), true, std::move(done));
    }
  });
}

json TaskMetadataService::with_rates(const std::string& docker_id, json doc) {
  auto nets = doc.find("networks");
  if (nets == doc.end() || !nets->is_object() || nets->empty()) {
    return doc;
  }
  NetSample now{clock_.now_ms(), 0, 0};
  for (const auto& [name, n] : nets->items()) {
    now.rx += counter(n, "rx_bytes");
    now.tx += counter(n, "tx_bytes");
  }
  double rx_rate = 0;
  double tx_rate = 0;
  if (auto it = last_net_.find(docker_id); it != last_net_.end() && now.at > it->second.at) {
    const double seconds = static_cast<double>(now.at - it->second.at) / 1000.0;
    rx_rate = now.rx >= it->second.rx ? static_cast<double>(now.rx - it->second.rx) / seconds : 0;
    tx_rate = now.tx >= it->second.tx ? static_cast<double>(now.tx - it->second.tx) / seconds : 0;
  }
  if (last_net_.size() >= kMaxRateSamples && !last_net_.contains(docker_id)) {
    last_net_.clear();  // containers come and go; forgetting old samples only costs one zero rate
  }
  last_net_[docker_id] = now;
  doc["network_rate_stats"] = json{{"rx_bytes_per_sec", rx_rate}, {"tx_bytes_per_sec", tx_rate}};
  return doc;
}

void TaskMetadataService::stats(const std::string& task_id, std::vector<std::string> docker_ids, bool task_wide,
                                std::function<void(EndpointReply)> done) {
  Task* task = store_.find_task(task_id);
  if (task == nullptr) {
    done(metadata_error(404, "the task is gone"));
    return;
  }
  // awsvpc containers share the pause container's interface: its counters are the task's network.
  std::string pause_id = task->eni ? task->eni->pause_id : std::string();
  struct Gather {
    std::map<std::string, std::optional<json>> docs;
    std::optional<json> pause_networks;
    std::size_t remaining = 0;
    std::string first_error;
  };
  auto gather = std::make_shared<Gather>();
  gather->remaining = docker_ids.size() + (pause_id.empty() ? 0 : 1);
  if (gather->remaining == 0) {
    done(reply(200, json::object()));
    return;
  }
  auto finish = [this, gather, task_wide, docker_ids, done = std::move(done)]() mutable {
    auto complete = [&](const std::string& id) -> std::optional<json> {
      auto& doc = gather->docs[id];
      if (!doc) {
        return std::nullopt;
      }
      json d = std::move(*doc);
      if (gather->pause_networks && !d.contains("networks")) {
        d["networks"] = *gather->pause_networks;
      }
      return with_rates(id, std::move(d));
    };
    if (!task_wide) {
      auto d = complete(docker_ids.front());
      done(d ? reply(200, *d) : metadata_error(500, "unable to get stats from the Docker engine: " + gather->first_error));
      return;
    }
    json out = json::object();
    for (const auto& id : docker_ids) {
      auto d = complete(id);
      out[id] = d ? *d : json();
    }
    done(reply(200, out));
  };
  auto shared_finish = std::make_shared<decltype(finish)>(std::move(finish));
  auto on_sample = [gather, shared_finish](const std::string& id, bool is_pause, runtime::StatsOutcome out) {
    if (out.error) {
      if (gather->first_error.empty()) {
        gather->first_error = out.error->message;
      }
    } else {
      json doc = json::parse(out.body, nullptr, /*allow_exceptions=*/false);
      if (doc.is_object()) {
        if (is_pause) {
          if (doc.contains("networks")) {
            gather->pause_networks = doc["networks"];
          }
        } else {
          gather->docs[id] = std::move(doc);
        }
      }
    }
    if (--gather->remaining == 0) {
      (*shared_finish)();
    }
  };
  if (!pause_id.empty()) {
    runtime_.stats(pause_id, [on_sample, pause_id](runtime::StatsOutcome out) { on_sample(pause_id, true, std::move(out)); });
  }
  for (const auto& id : docker_ids) {
    runtime_.stats(id, [on_sample, id](runtime::StatsOutcome out) { on_sample(id, false, std::move(out)); });
  }
}

bool is_host_address(const std::string& ip) {
  if (ip == "127.0.0.1" || ip == "::1" || ip.starts_with("127.")) {
    return true;
  }
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) {
    return false;
  }
  bool found = false;
  for (ifaddrs* a = list; a != nullptr && !found; a = a->ifa_next) {
    if (a->ifa_addr == nullptr || (a->ifa_addr->sa_family != AF_INET && a->ifa_addr->sa_family != AF_INET6)) {
      continue;
    }
    char host[NI_MAXHOST];
    const socklen_t len = a->ifa_addr->sa_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
    if (getnameinfo(a->ifa_addr, len, host, sizeof(host), nullptr, 0, NI_NUMERICHOST) == 0) {
      std::string text = host;
      text = text.substr(0, text.find('%'));  // IPv6 scope
      found = text == ip;
    }
  }
  freeifaddrs(list);
  return found;
}

}  // namespace berth::endpoints
