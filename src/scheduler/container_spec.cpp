#include <berth/scheduler/task_reconciler.hpp>

namespace berth::scheduler {
namespace {

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

}  // namespace

runtime::ContainerSpec build_container_spec(const state::Task& task, const state::Container& container,
                                            const ReconcilerOptions& options, const std::string& name_suffix) {
  const json& def = container.definition;
  runtime::ContainerSpec spec;
  // The ECS agent names containers ecs-<family>-<revision>-<container>-<random>.
  spec.name = "ecs-" + task.family + "-" + std::to_string(task.revision) + "-" + container.name + "-" + name_suffix;
  spec.image = container.image;
  spec.entrypoint = string_list(def, "entryPoint");
  spec.command = string_list(def, "command");
  if (auto env = def.find("environment"); env != def.end() && env->is_array()) {
    for (const auto& kv : *env) {
      if (kv.contains("name") && kv["name"].is_string()) {
        spec.env.push_back(kv["name"].get<std::string>() + "=" + kv.value("value", std::string()));
      }
    }
  }
  if (auto labels = def.find("dockerLabels"); labels != def.end() && labels->is_object()) {
    for (const auto& [k, v] : labels->items()) {
      if (v.is_string()) {
        spec.labels[k] = v.get<std::string>();
      }
    }
  }
  spec.labels[kLabelCluster] = task.cluster_arn;
  spec.labels[kLabelTaskArn] = task.arn;
  spec.labels[kLabelContainerName] = container.name;
  spec.labels[kLabelFamily] = task.family;
  spec.labels[kLabelRevision] = std::to_string(task.revision);
  spec.labels[kLabelInstance] = options.instance_id;
  spec.labels[kLabelTaskId] = task.id;

  spec.network_mode = task.network_mode;
  if (auto ports = def.find("portMappings"); ports != def.end() && ports->is_array() && task.network_mode == "bridge") {
    for (const auto& pm : *ports) {
      runtime::PortBinding b;
      b.container_port = pm.value("containerPort", 0);
      b.host_port = pm.value("hostPort", 0);
      b.protocol = pm.value("protocol", std::string("tcp"));
      b.host_ip = options.host_ip;
      if (b.container_port > 0) {
        spec.ports.push_back(b);
      }
    }
  }
  constexpr std::int64_t kMiB = 1024 * 1024;
  if (auto mem = int_field(def, "memory")) {
    spec.memory_bytes = *mem * kMiB;
  }
  if (auto res = int_field(def, "memoryReservation")) {
    spec.memory_reservation_bytes = *res * kMiB;
  }
  // As the ECS agent on Linux: CPU units become CPU shares, with the kernel's minimum of 2.
  auto cpu = int_field(def, "cpu").value_or(0);
  spec.cpu_shares = cpu < 2 ? 2 : cpu;
  spec.working_dir = string_field(def, "workingDirectory");
  spec.user = string_field(def, "user");
  spec.hostname = string_field(def, "hostname");
  return spec;
}

}  // namespace berth::scheduler
