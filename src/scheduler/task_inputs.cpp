// What a task needs resolved before its containers can be created: environment files, secrets, registry
// credentials and volumes. Pure functions over the task and the configured sources.
#include <berth/common/base64.hpp>
#include <berth/common/arn.hpp>
#include <berth/scheduler/task_reconciler.hpp>

namespace berth::scheduler {
namespace {

std::string trim(std::string s) {
  auto not_space = [](unsigned char c) { return !std::isspace(c); };
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
  s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
  return s;
}

// Secrets Manager references may end in :json-key:version-stage:version-id; the secret itself is the first
// seven colon-separated fields of the ARN.
std::optional<std::string> lookup_secret(const std::string& value_from, const ReconcilerOptions& options,
                                         std::string& source) {
  source = value_from.starts_with("arn:aws:secretsmanager:") ? "asm" : "ssm";
  if (!options.secret_lookup) {
    return std::nullopt;
  }
  if (auto v = options.secret_lookup(value_from)) {
    return v;
  }
  if (source == "asm") {
    std::vector<std::string> parts;
    std::size_t start = 0;
    for (;;) {
      auto colon = value_from.find(':', start);
      parts.push_back(value_from.substr(start, colon - start));
      if (colon == std::string::npos) {
        break;
      }
      start = colon + 1;
    }
    if (parts.size() > 7) {
      std::string base;
      for (int i = 0; i < 7; ++i) {
        base += (i ? ":" : "") + parts[i];
      }
      auto whole = options.secret_lookup(base);
      if (!whole) {
        return std::nullopt;
      }
      const std::string& key = parts[7];
      if (key.empty()) {
        return whole;
      }
      json doc = json::parse(*whole, nullptr, false);
      if (doc.is_object() && doc.contains(key)) {
        return doc[key].is_string() ? doc[key].get<std::string>() : doc[key].dump();
      }
      return std::nullopt;
    }
    return std::nullopt;
  }
  // SSM: a parameter may be named by ARN (arn:aws:ssm:r:a:parameter/name) or by name (/name or name).
  if (auto arn = parse_arn(value_from); arn && arn->resource.starts_with("parameter/")) {
    std::string name = arn->resource.substr(std::string("parameter").size());
    if (auto v = options.secret_lookup(name)) {
      return v;
    }
    return options.secret_lookup(name.substr(1));
  }
  if (!value_from.starts_with("/")) {
    return options.secret_lookup("/" + value_from);
  }
  return std::nullopt;
}

}  // namespace

Result<std::vector<std::string>> resolve_extra_env(const state::Container& container,
                                                   const ReconcilerOptions& options) {
  std::vector<std::string> env;
  const json& def = container.definition;
  for (const auto& file : def.value("environmentFiles", json::array())) {
    const std::string arn = file.value("value", "");
    // arn:aws:s3:::bucket/key
    auto parsed = parse_arn(arn);
    auto slash = parsed ? parsed->resource.find('/') : std::string::npos;
    if (!parsed || parsed->service != "s3" || slash == std::string::npos) {
      return AwsError::client("ResourceInitializationError",
                              "ResourceInitializationError: failed to download env files: invalid S3 ARN " + arn);
    }
    auto text = options.s3_lookup ? options.s3_lookup(parsed->resource.substr(0, slash), parsed->resource.substr(slash + 1))
                                  : std::nullopt;
    if (!text) {
      return AwsError::client("ResourceInitializationError",
                              "ResourceInitializationError: failed to download env files: " + arn +
                                  " was not found in berth's S3 directory");
    }
    std::size_t start = 0;
    while (start <= text->size()) {
      auto end = text->find('\n', start);
      std::string line = trim(text->substr(start, end == std::string::npos ? std::string::npos : end - start));
      start = end == std::string::npos ? text->size() + 1 : end + 1;
      if (line.empty() || line[0] == '#' || line.find('=') == std::string::npos) {
        continue;
      }
      env.push_back(line);
    }
  }
  for (const auto& secret : def.value("secrets", json::array())) {
    const std::string name = secret.value("name", "");
    const std::string value_from = secret.value("valueFrom", "");
    std::string source;
    auto value = lookup_secret(value_from, options, source);
    if (!value) {
      return AwsError::client("ResourceInitializationError",
                              "ResourceInitializationError: unable to pull secrets or registry auth: execution resource "
                              "retrieval failed: unable to retrieve secret from " + source + ": " + value_from +
                                  " was not found in berth's secrets file");
    }
    env.push_back(name + "=" + *value);
  }
  return env;
}

Result<std::optional<std::string>> resolve_registry_auth(const state::Container& container,
                                                         const ReconcilerOptions& options) {
  const json& def = container.definition;
  auto creds = def.find("repositoryCredentials");
  if (creds == def.end() || !creds->is_object() || !creds->contains("credentialsParameter")) {
    return std::optional<std::string>();
  }
  const std::string value_from = (*creds)["credentialsParameter"].get<std::string>();
  std::string source;
  auto secret = lookup_secret(value_from, options, source);
  json doc = secret ? json::parse(*secret, nullptr, false) : json();
  if (!doc.is_object() || !doc.contains("username") || !doc.contains("password")) {
    return AwsError::client("ResourceInitializationError",
                            "ResourceInitializationError: unable to pull secrets or registry auth: the "
                            "repositoryCredentials secret " + value_from +
                                (secret ? " is not a JSON object with username and password"
                                        : " was not found in berth's secrets file"));
  }
  // The registry is the image reference's first component when it looks like a host.
  std::string server;
  auto slash = container.image.find('/');
  if (slash != std::string::npos) {
    std::string first = container.image.substr(0, slash);
    if (first.find('.') != std::string::npos || first.find(':') != std::string::npos || first == "localhost") {
      server = first;
    }
  }
  json auth = {{"username", doc["username"]}, {"password", doc["password"]}, {"serveraddress", server}};
  return std::optional<std::string>(base64_encode(auth.dump()));
}

std::map<std::string, state::VolumeSource> plan_volumes(const state::Task& task, const json& volumes,
                                                       const ReconcilerOptions& options) {
  std::map<std::string, state::VolumeSource> out;
  const std::string short_id = task.id.substr(0, 12);
  for (const auto& v : volumes) {
    const std::string name = v.value("name", "");
    state::VolumeSource src;
    if (auto efs = v.find("efsVolumeConfiguration"); efs != v.end()) {
      std::string root = efs->value("rootDirectory", "/");
      while (root.starts_with("/")) {
        root.erase(0, 1);
      }
      src.bind = true;
      src.source = options.efs_root + "/" + efs->value("fileSystemId", "fs-unknown") + (root.empty() ? "" : "/" + root);
    } else if (auto docker = v.find("dockerVolumeConfiguration"); docker != v.end()) {
      src.driver = docker->value("driver", "");
      for (const char* key : {"driverOpts", "labels"}) {
        if (auto m = docker->find(key); m != docker->end() && m->is_object()) {
          for (const auto& [k, val] : m->items()) {
            if (val.is_string()) {
              (std::string(key) == "labels" ? src.labels : src.driver_opts)[k] = val.get<std::string>();
            }
          }
        }
      }
      if (docker->value("scope", "task") == "shared") {
        src.source = name;
      } else {
        src.source = "ecs-" + task.family + "-" + std::to_string(task.revision) + "-" + name + "-" + short_id;
        src.task_scoped = true;
      }
    } else if (auto host = v.find("host"); host != v.end() && host->contains("sourcePath")) {
      src.bind = true;
      src.source = (*host)["sourcePath"].get<std::string>();
    } else {
      // An empty volume: scratch space that lives as long as the task.
      src.source = "ecs-" + task.family + "-" + std::to_string(task.revision) + "-" + name + "-" + short_id;
      src.task_scoped = true;
    }
    out[name] = src;
  }
  return out;
}

std::pair<std::string, std::string> awslogs_destination(const state::Task& task, const state::Container& container) {
  const json& log = container.definition.value("logConfiguration", json::object());
  if (log.value("logDriver", "") != "awslogs") {
    return {};
  }
  const json& options = log.value("options", json::object());
  const std::string group = options.value("awslogs-group", "");
  const std::string prefix = options.value("awslogs-stream-prefix", "");
  return {group, prefix.empty() ? task.id : prefix + "/" + container.name + "/" + task.id};
}

std::string task_health_status(const state::Task& task) {
  bool any_checked = false;
  bool all_healthy = true;
  for (const auto& c : task.containers) {
    if (!c.essential || !c.definition.contains("healthCheck")) {
      continue;
    }
    any_checked = true;
    if (c.health_status == "UNHEALTHY") {
      return "UNHEALTHY";
    }
    all_healthy = all_healthy && c.health_status == "HEALTHY";
  }
  return any_checked && all_healthy ? "HEALTHY" : "UNKNOWN";
}

}  // namespace berth::scheduler
