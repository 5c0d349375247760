#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <set>

#include <spdlog/spdlog.h>

#include <berth/scheduler/task_reconciler.hpp>
#include <berth/state/tasks.hpp>

// How a container definition becomes what the engine runs, field by field as the ECS agent maps it on Linux.
// Handled elsewhere: essential, dependsOn, startTimeout (the reconciler), secrets and environmentFiles
// (resolved into SpecInputs::extra_env), repositoryCredentials (the pull's registry auth), task volumes
// (resolved into SpecInputs::volumes). Not mapped, for want of a field in runtime::ContainerSpec: links,
// interactive, pseudoTerminal, dockerSecurityOptions, resourceRequirements (GPUs), firelensConfiguration,
// credentialSpecs and restartPolicy.
namespace berth::scheduler {
namespace {

constexpr std::int64_t kMiB = 1024 * 1024;
constexpr std::int64_t kNanosPerSecond = 1'000'000'000;
constexpr std::int64_t kCpuUnitsPerVcpu = 1024;

std::optional<std::vector<std::string>> string_list(const json& def, const char* key) {
  auto it = def.find(key);
  if (it == def.end() || !it->is_array()) {
    return std::nullopt;
  }
  std::vector<std::string> out;
  for (const auto& v : *it) {
    if (v.is_string()) {
      out.push_back(v.get<std::string>());
    }
  }
  return out;
}

std::optional<std::string> string_field(const json& def, const char* key) {
  auto it = def.find(key);
  if (it == def.end() || !it->is_string()) {
    return std::nullopt;
  }
  return it->get<std::string>();
}

std::optional<std::int64_t> int_field(const json& def, const char* key) {
  auto it = def.find(key);
  if (it == def.end() || !it->is_number_integer()) {
    return std::nullopt;
  }
  return it->get<std::int64_t>();
}

bool bool_field(const json& def, const char* key) {
  auto it = def.find(key);
  return it != def.end() && it->is_boolean() && it->get<bool>();
}

const json& object_field(const json& def, const char* key) {
  static const json kEmpty = json::object();
  auto it = def.find(key);
  return it != def.end() && it->is_object() ? *it : kEmpty;
}

const json& array_field(const json& def, const char* key) {
  static const json kEmpty = json::array();
  auto it = def.find(key);
  return it != def.end() && it->is_array() ? *it : kEmpty;
}

std::string env_name(std::string_view kv) { return std::string(kv.substr(0, kv.find('='))); }

bool is_fargate(const state::Task& task) {
  for (const std::string* s : {&task.launch_type, &task.capacity_provider_name}) {
    if (*s == "FARGATE" || *s == "FARGATE_SPOT") {
      return true;
    }
  }
  return false;
}

// ECS device permissions ["read","write","mknod"] as the cgroup letters Docker takes; none listed means all.
std::string device_permissions(const json& permissions) {
  std::string out;
  for (const auto& [word, letter] :
       {std::pair{"read", 'r'}, std::pair{"write", 'w'}, std::pair{"mknod", 'm'}}) {
    bool listed = std::any_of(permissions.begin(), permissions.end(),
                              [&](const json& p) { return p.is_string() && p.get<std::string>() == word; });
    if (listed) {
      out.push_back(letter);
    }
  }
  return out.empty() ? "rwm" : out;
}

void apply_linux_parameters(const json& lp, runtime::ContainerSpec& spec) {
  const json& caps = object_field(lp, "capabilities");
  spec.cap_add = string_list(caps, "add").value_or(std::vector<std::string>{});
  spec.cap_drop = string_list(caps, "drop").value_or(std::vector<std::string>{});
  spec.init = bool_field(lp, "initProcessEnabled");
  if (auto shm = int_field(lp, "sharedMemorySize")) {
    spec.shm_size_bytes = *shm * kMiB;
  }
  for (const json& t : array_field(lp, "tmpfs")) {
    auto path = string_field(t, "containerPath");
    if (!path) {
      continue;
    }
    runtime::Mount m;
    m.type = runtime::Mount::Type::kTmpfs;
    m.target = *path;
    if (auto size = int_field(t, "size")) {
      m.tmpfs_size_bytes = *size * kMiB;
    }
    m.tmpfs_options = string_list(t, "mountOptions").value_or(std::vector<std::string>{});
    spec.mounts.push_back(std::move(m));
  }
  for (const json& d : array_field(lp, "devices")) {
    auto host_path = string_field(d, "hostPath");
    if (!host_path) {
      continue;
    }
    spec.devices.push_back(runtime::Device{*host_path, string_field(d, "containerPath").value_or(*host_path),
                                           device_permissions(array_field(d, "permissions"))});
  }
  // maxSwap and swappiness are left alone: ContainerSpec has no swap settings, and on a developer machine
  // swap is a host-wide matter anyway.
}

std::optional<runtime::HealthCheck> health_check(const json& def) {
  const json& hc = object_field(def, "healthCheck");
  auto command = string_list(hc, "command");
  if (!command || command->empty()) {
    return std::nullopt;
  }
  runtime::HealthCheck h;
  h.test = std::move(*command);
  h.interval_ns = int_field(hc, "interval").value_or(30) * kNanosPerSecond;
  h.timeout_ns = int_field(hc, "timeout").value_or(5) * kNanosPerSecond;
  h.retries = static_cast<int>(int_field(hc, "retries").value_or(3));
  h.start_period_ns = int_field(hc, "startPeriod").value_or(0) * kNanosPerSecond;
  return h;
}

// The engine log driver for an ECS logDriver, or nullopt to keep the engine's default.
std::optional<std::string> local_log_driver(const std::string& ecs_log_driver) {
  // Drivers the local engine has built in. awslogs, splunk and awsfirelens would ship logs off the machine
  // (or need a sidecar); their containers keep the engine's default driver, so berth can serve their logs.
  static const std::set<std::string> kLocal = {"json-file", "local",   "none", "syslog",
                                               "journald",  "fluentd", "gelf"};
  if (kLocal.contains(ecs_log_driver)) {
    return ecs_log_driver;
  }
  return std::nullopt;
}

}  // namespace

std::vector<std::string> ecs_environment(const state::Task& task, const state::Container& container,
                                         const ReconcilerOptions& options) {
  std::vector<std::string> env;
  if (!options.metadata_base_url.empty() && !container.metadata_token.empty()) {
    env.push_back("ECS_CONTAINER_METADATA_URI_V4=" + options.metadata_base_url + "/v4/" + container.metadata_token);
    env.push_back("ECS_CONTAINER_METADATA_URI=" + options.metadata_base_url + "/v3/" + container.metadata_token);
    env.push_back("ECS_AGENT_URI=" + options.metadata_base_url + "/api/" + container.metadata_token);
    if (!task.credentials_id.empty()) {
      const std::string path = "/v2/credentials/" + task.credentials_id;
      if (options.metadata_base_url == "http://169.254.170.2") {
        // A path: the SDKs put it after http://169.254.170.2 themselves, as ECS expects.
        env.push_back("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=" + path);
      } else {
        // Served elsewhere (--metadata-address/--metadata-port): only the full URI can say where.
        env.push_back("AWS_CONTAINER_CREDENTIALS_FULL_URI=" + options.metadata_base_url + path);
      }
    }
  }
  env.push_back(std::string("AWS_EXECUTION_ENV=") + (is_fargate(task) ? "AWS_ECS_FARGATE" : "AWS_ECS_EC2"));
  // ECS sets these on Fargate; berth sets them on every launch type, as there is no instance to ask the region of.
  env.push_back("AWS_REGION=" + task.scope.region);
  env.push_back("AWS_DEFAULT_REGION=" + task.scope.region);
  return env;
}

runtime::ContainerSpec build_container_spec(const state::Task& task, const state::Container& container,
                                            const ReconcilerOptions& options, const std::string& name_suffix,
                                            const SpecInputs& inputs) {
  const json& def = container.definition;
  runtime::ContainerSpec spec;
  // The ECS agent names containers ecs-<family>-<revision>-<container>-<random>.
  spec.name =
      "ecs-" + task.family + "-" + std::to_string(task.revision) + "-" + container.name + "-" + name_suffix;
  spec.image = container.image;
  spec.entrypoint = string_list(def, "entryPoint");
  spec.command = string_list(def, "command");

  // What ECS injects, then environmentFiles and secrets, then `environment`: a later source wins on a shared name.
  std::vector<std::string> environment;
  std::set<std::string> environment_names;
  for (const json& kv : array_field(def, "environment")) {
    if (auto name = string_field(kv, "name")) {
      environment.push_back(*name + "=" + string_field(kv, "value").value_or(""));
      environment_names.insert(*name);
    }
  }
  std::set<std::string> extra_names;
  for (const std::string& kv : inputs.extra_env) {
    extra_names.insert(env_name(kv));
  }
  for (const std::string& kv : ecs_environment(task, container, options)) {
    const std::string name = env_name(kv);
    if (!environment_names.contains(name) && !extra_names.contains(name)) {
      spec.env.push_back(kv);
    }
  }
  for (const std::string& kv : inputs.extra_env) {
    if (!environment_names.contains(env_name(kv))) {
      spec.env.push_back(kv);
    }
  }
  spec.env.insert(spec.env.end(), environment.begin(), environment.end());

  for (const auto& [k, v] : object_field(def, "dockerLabels").items()) {
    if (v.is_string()) {
      spec.labels[k] = v.get<std::string>();
    }
  }
  spec.labels[kLabelCluster] = task.cluster_arn;
  spec.labels[kLabelTaskArn] = task.arn;
  spec.labels[kLabelContainerName] = container.name;
  spec.labels[kLabelFamily] = task.family;
  spec.labels[kLabelRevision] = std::to_string(task.revision);
  spec.labels[kLabelInstance] = options.instance_id;
  spec.labels[kLabelTaskId] = task.id;

  spec.network_mode = inputs.network_mode.empty() ? task.network_mode : inputs.network_mode;
  const bool shared_netns = spec.network_mode.starts_with("container:") || task.network_mode == "awsvpc";
  // As the agent's NetworkDisabled: no interface but loopback.
  const bool networking_disabled = bool_field(def, "disableNetworking") && !shared_netns;
  if (networking_disabled) {
    spec.network_mode = "none";
  }
  if (task.network_mode == "bridge" && !networking_disabled) {
    for (const json& pm : array_field(def, "portMappings")) {
      runtime::PortBinding b;
      b.container_port = static_cast<int>(int_field(pm, "containerPort").value_or(0));
      b.host_port = static_cast<int>(int_field(pm, "hostPort").value_or(0));
      b.protocol = string_field(pm, "protocol").value_or("tcp");
      b.host_ip = inputs.host_ip.empty() ? options.host_ip : inputs.host_ip;
      if (b.container_port > 0) {
        spec.ports.push_back(b);
      }
    }
  }
  // The hostname belongs to the namespace's owner (the pause container for awsvpc).
  if (!shared_netns) {
    spec.hostname = string_field(def, "hostname");
  }
  for (const json& h : array_field(def, "extraHosts")) {
    auto host = string_field(h, "hostname");
    auto ip = string_field(h, "ipAddress");
    if (host && ip) {
      spec.extra_hosts.push_back(*host + ":" + *ip);
    }
  }
  spec.dns = string_list(def, "dnsServers").value_or(std::vector<std::string>{});
  spec.dns_search = string_list(def, "dnsSearchDomains").value_or(std::vector<std::string>{});

  if (auto mem = int_field(def, "memory")) {
    spec.memory_bytes = *mem * kMiB;
  }
  if (auto res = int_field(def, "memoryReservation")) {
    spec.memory_reservation_bytes = *res * kMiB;
  }
  // As the ECS agent on Linux: CPU units become CPU shares, with the kernel's minimum of 2.
  auto cpu = int_field(def, "cpu").value_or(0);
  spec.cpu_shares = cpu < 2 ? 2 : cpu;
  // Fargate gives the task a hard quota: its vCPUs as a CPU quota and its memory as a ceiling for every
  // container (unless the container's own limit is tighter), so a 256-unit task gets a quarter of a CPU.
  if (is_fargate(task)) {
    if (auto units = state::task_size(task.cpu, "vcpu", kCpuUnitsPerVcpu)) {
      spec.nano_cpus = *units * kNanosPerSecond / kCpuUnitsPerVcpu;
    }
    if (auto mib = state::task_size(task.memory, "gb", 1024)) {
      const std::int64_t task_bytes = *mib * kMiB;
      spec.memory_bytes = spec.memory_bytes ? std::min(*spec.memory_bytes, task_bytes) : task_bytes;
    }
  }

  spec.working_dir = string_field(def, "workingDirectory");
  spec.user = string_field(def, "user");
  for (const json& u : array_field(def, "ulimits")) {
    auto name = string_field(u, "name");
    auto soft = int_field(u, "softLimit");
    auto hard = int_field(u, "hardLimit");
    if (name && soft && hard) {
      spec.ulimits.push_back(runtime::Ulimit{*name, *soft, *hard});
    }
  }
  apply_linux_parameters(object_field(def, "linuxParameters"), spec);
  spec.read_only_rootfs = bool_field(def, "readonlyRootFilesystem");
  spec.privileged = bool_field(def, "privileged");
  // dockerSecurityOptions (SELinux/AppArmor labels, no-new-privileges) are ignored: the contract carries no
  // SecurityOpt, and the labels name host policies a developer machine rarely has.
  for (const json& sc : array_field(def, "systemControls")) {
    auto ns = string_field(sc, "namespace");
    auto value = string_field(sc, "value");
    if (ns && value) {
      spec.sysctls[*ns] = *value;
    }
  }
  spec.healthcheck = health_check(def);

  for (const json& mp : array_field(def, "mountPoints")) {
    auto source = string_field(mp, "sourceVolume");
    auto target = string_field(mp, "containerPath");
    if (!source || !target) {
      continue;
    }
    auto volume = inputs.volumes.find(*source);
    if (volume == inputs.volumes.end()) {
      // Registration checks that every sourceVolume names a task volume; a miss here is a caller's bug.
      spdlog::warn("task {} container {}: mount point {} names unknown volume {}; skipped", task.id,
                   container.name, *target, *source);
      continue;
    }
    runtime::Mount m = volume->second;
    m.target = *target;
    m.read_only = bool_field(mp, "readOnly");
    spec.mounts.push_back(std::move(m));
  }
  for (const json& vf : array_field(def, "volumesFrom")) {
    auto source = string_field(vf, "sourceContainer");
    if (!source) {
      continue;
    }
    auto it = std::find_if(task.containers.begin(), task.containers.end(),
                           [&](const state::Container& c) { return c.name == *source; });
    if (it == task.containers.end() || it->runtime_id.empty()) {
      spdlog::warn("task {} container {}: volumesFrom {} has no engine container yet; skipped", task.id,
                   container.name, *source);
      continue;
    }
    spec.volumes_from.push_back(it->runtime_id + (bool_field(vf, "readOnly") ? ":ro" : ""));
  }

  const json& log = object_field(def, "logConfiguration");
  if (auto driver = string_field(log, "logDriver")) {
    if (auto local = local_log_driver(*driver)) {
      spec.log_driver = *local;
      for (const auto& [k, v] : object_field(log, "options").items()) {
        if (v.is_string()) {
          spec.log_options[k] = v.get<std::string>();
        }
      }
    }
  }
  if (auto stop = int_field(def, "stopTimeout")) {
    spec.stop_timeout_s = static_cast<int>(*stop);
  }
  if (!inputs.cgroup_parent.empty()) {
    spec.cgroup_parent = inputs.cgroup_parent;
  }
  return spec;
}

}  // namespace berth::scheduler
