#include <berth/state/container_instances.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>

#include <berth/common/arn.hpp>
#include <berth/state/instance_types.hpp>
#include <berth/state/tasks.hpp>

namespace berth::state {
namespace {

std::int64_t int_of(const json& def, const char* key) {
  auto it = def.find(key);
  return it != def.end() && it->is_number_integer() ? it->get<std::int64_t>() : 0;
}

ResourceNeeds needs_of(const std::string& task_cpu, const std::string& task_memory,
                       const std::string& network_mode, const std::vector<const json*>& definitions) {
  ResourceNeeds n;
  std::int64_t cpu = 0;
  std::int64_t memory = 0;
  for (const json* def : definitions) {
    cpu += int_of(*def, "cpu");
    const std::int64_t reservation = int_of(*def, "memoryReservation");
    memory += reservation > 0 ? reservation : int_of(*def, "memory");
    if (network_mode == "bridge" || network_mode == "host") {
      for (const auto& pm : def->value("portMappings", json::array())) {
        const int container_port = static_cast<int>(int_of(pm, "containerPort"));
        const int host_port =
            network_mode == "host" ? container_port : static_cast<int>(int_of(pm, "hostPort"));
        if (host_port > 0) {
          (pm.value("protocol", "tcp") == "udp" ? n.udp_ports : n.tcp_ports).push_back(host_port);
        }
      }
    }
    for (const auto& r : def->value("resourceRequirements", json::array())) {
      if (r.value("type", "") == "GPU") {
        int count = 0;
        const std::string v = r.value("value", "");
        std::from_chars(v.data(), v.data() + v.size(), count);
        n.gpus += std::max(count, 0);
      }
    }
  }
  n.cpu = task_cpu.empty() ? cpu : task_size(task_cpu, "vcpu", 1024).value_or(0);
  n.memory = task_memory.empty() ? memory : task_size(task_memory, "gb", 1024).value_or(0);
  n.enis = network_mode == "awsvpc" ? 1 : 0;
  return n;
}

const json* registered(const ContainerInstance& instance, std::string_view name) {
  for (const auto& r : instance.registered_resources) {
    if (r.value("name", "") == name) {
      return &r;
    }
  }
  return nullptr;
}

std::vector<std::string> registered_strings(const ContainerInstance& instance, std::string_view name) {
  std::vector<std::string> out;
  if (const json* r = registered(instance, name)) {
    for (const auto& v : r->value("stringSetValue", json::array())) {
      if (v.is_string()) {
        out.push_back(v.get<std::string>());
      }
    }
  }
  return out;
}

bool live(const Task& t) { return t.last_status != TaskStatus::kStopped; }

// RegionState or const RegionState alike.
template <typename Region>
auto find_instance(Region& region, std::string_view cluster, std::string_view ref)
    -> decltype(&region.container_instances.begin()->second) {
  auto id = resource_name_from(ref, "ecs", "container-instance");
  if (!id) {
    return nullptr;
  }
  auto it = region.container_instances.find(*id);
  if (it == region.container_instances.end() || it->second.cluster_name != cluster) {
    return nullptr;
  }
  // An ARN must name this instance exactly (account, region and cluster), as the id alone might not.
  if (ref.starts_with("arn:") && ref != it->second.arn) {
    return nullptr;
  }
  return &it->second;
}

}  // namespace

ResourceNeeds task_needs(const Task& task) {
  std::vector<const json*> defs;
  defs.reserve(task.containers.size());
  for (const auto& c : task.containers) {
    defs.push_back(&c.definition);
  }
  return needs_of(task.cpu, task.memory, task.network_mode, defs);
}

ResourceNeeds definition_needs(const TaskDefinition& td, const json& overrides) {
  const json o = overrides.is_object() ? overrides : json::object();
  std::vector<json> defs;
  for (json def : td.doc.value("containerDefinitions", json::array())) {
    for (const auto& co : o.value("containerOverrides", json::array())) {
      if (co.value("name", "") == def.value("name", "")) {
        apply_container_override(def, co);
      }
    }
    defs.push_back(std::move(def));
  }
  std::vector<const json*> pointers;
  for (const auto& d : defs) {
    pointers.push_back(&d);
  }
  return needs_of(o.value("cpu", td.doc.value("cpu", "")), o.value("memory", td.doc.value("memory", "")),
                  td.doc.value("networkMode", "bridge"), pointers);
}

void InstanceUsage::add(const ResourceNeeds& needs, const std::string& group, bool running_now) {
  cpu += needs.cpu;
  memory += needs.memory;
  tcp_ports.insert(needs.tcp_ports.begin(), needs.tcp_ports.end());
  udp_ports.insert(needs.udp_ports.begin(), needs.udp_ports.end());
  gpus += needs.gpus;
  enis += needs.enis;
  ++(running_now ? running : pending);
  task_groups.push_back(group);
}

InstanceUsage instance_usage(const ContainerInstance& instance, const RegionState& region) {
  InstanceUsage usage;
  if (instance.status == "INACTIVE") {
    return usage;
  }
  for (const auto& id : instance.task_ids) {
    auto it = region.tasks.find(id);
    if (it == region.tasks.end() || !live(it->second)) {
      continue;
    }
    const Task& t = it->second;
    usage.add(task_needs(t), t.group, t.last_status == TaskStatus::kRunning);
    if (t.last_status > TaskStatus::kRunning) {
      --usage.running;  // stopping: still holds its resources, but is neither running nor pending
    }
  }
  return usage;
}

json remaining_resources(const ContainerInstance& instance, const InstanceUsage& usage) {
  json out = json::array();
  for (json r : instance.registered_resources) {
    const std::string name = r.value("name", "");
    if (name == "CPU") {
      r["integerValue"] = r.value("integerValue", std::int64_t{0}) - usage.cpu;
    } else if (name == "MEMORY") {
      r["integerValue"] = r.value("integerValue", std::int64_t{0}) - usage.memory;
    } else if (name == "PORTS" || name == "PORTS_UDP") {
      json ports = r.value("stringSetValue", json::array());
      for (int p : name == "PORTS" ? usage.tcp_ports : usage.udp_ports) {
        const std::string s = std::to_string(p);
        if (std::find(ports.begin(), ports.end(), json(s)) == ports.end()) {
          ports.push_back(s);
        }
      }
      r["stringSetValue"] = ports;
    } else if (name == "GPU") {
      json ids = r.value("stringSetValue", json::array());
      const auto used = std::min<std::size_t>(static_cast<std::size_t>(usage.gpus), ids.size());
      ids.erase(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(used));
      r["stringSetValue"] = ids;
    }
    out.push_back(r);
  }
  return out;
}

std::int64_t registered_integer(const ContainerInstance& instance, std::string_view name) {
  const json* r = registered(instance, name);
  return r == nullptr ? 0 : r->value("integerValue", std::int64_t{0});
}

std::set<int> registered_ports(const ContainerInstance& instance, std::string_view name) {
  std::set<int> out;
  for (const auto& s : registered_strings(instance, name)) {
    int port = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), port);
    if (ec == std::errc() && end == s.data() + s.size()) {
      out.insert(port);
    }
  }
  return out;
}

int registered_gpu_count(const ContainerInstance& instance) {
  return static_cast<int>(registered_strings(instance, "GPU").size());
}

int task_eni_limit(const ContainerInstance& instance) {
  const InstanceType* type = find_instance_type(instance.instance_type);
  return type == nullptr ? -1 : task_eni_limit(*type);
}

QueryTarget query_target(const ContainerInstance& instance, const InstanceUsage& usage) {
  QueryTarget t;
  t.agent_connected = instance.agent_connected;
  t.agent_version = instance.version_info.value("agentVersion", "");
  t.ec2_instance_id = instance.ec2_instance_id;
  t.registered_at = instance.registered_at;
  t.running_tasks_count = usage.running;
  t.attributes = &instance.attributes;
  t.task_groups = usage.task_groups;
  return t;
}

ContainerInstance* find_container_instance(RegionState& region, std::string_view cluster,
                                           std::string_view ref) {
  return find_instance(region, cluster, ref);
}

ContainerInstance* instance_of(RegionState& region, const Task& task) {
  return task.container_instance_arn.empty()
             ? nullptr
             : find_instance(region, task.cluster_name, task.container_instance_arn);
}

const ContainerInstance* instance_of(const RegionState& region, const Task& task) {
  return task.container_instance_arn.empty()
             ? nullptr
             : find_instance(region, task.cluster_name, task.container_instance_arn);
}

std::vector<Task*> tasks_on_draining_instances(RegionState& region, std::string_view cluster) {
  std::vector<Task*> out;
  for (auto& [id, ci] : region.container_instances) {
    if (ci.cluster_name != cluster || ci.status != "DRAINING") {
      continue;
    }
    for (const auto& task_id : ci.task_ids) {
      auto it = region.tasks.find(task_id);
      if (it != region.tasks.end() && live(it->second) && it->second.desired_status == TaskStatus::kRunning) {
        out.push_back(&it->second);
      }
    }
  }
  return out;
}

bool is_orphaned(const RegionState& region, const Task& task) {
  if (task.container_instance_arn.empty()) {
    return false;
  }
  const ContainerInstance* ci = instance_of(region, task);
  return ci == nullptr || ci->status == "INACTIVE";
}

int container_instance_count(const RegionState& region, std::string_view cluster) {
  return static_cast<int>(std::count_if(
      region.container_instances.begin(), region.container_instances.end(),
      [&](const auto& kv) { return kv.second.cluster_name == cluster && kv.second.status != "INACTIVE"; }));
}

std::string instance_host_ip(std::string_view instance_id) {
  auto byte = [&](std::size_t at) {
    unsigned v = 0;
    if (instance_id.size() >= at + 2) {
      std::from_chars(instance_id.data() + at, instance_id.data() + at + 2, v, 16);
    }
    return v;
  };
  // 127.0.0.1 is the host's own; the last octet avoids .0, .1 and .255.
  return "127." + std::to_string(byte(0)) + "." + std::to_string(byte(2)) + "." +
         std::to_string(2 + byte(4) % 253);
}

}  // namespace berth::state
