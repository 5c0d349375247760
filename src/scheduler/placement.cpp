// ECS task placement: filter the cluster's ACTIVE instances by agent, attributes and resources, then by the
// constraints, and rank what is left by the strategies in order (lexicographically: a later strategy only
// breaks the ties of the earlier ones; what is still tied goes to the instance registered first, so spread
// alternates and binpack fills the same instance, run after run).
#include <berth/scheduler/placement.hpp>

#include <algorithm>
#include <cctype>
#include <map>
#include <random>

#include <berth/state/cluster_query.hpp>
#include <berth/state/container_instances.hpp>

namespace berth::scheduler {
namespace {

constexpr std::size_t kMaxConstraints = 10;
constexpr std::size_t kMaxStrategies = 5;
constexpr char kAzAttribute[] = "ecs.availability-zone";

std::uint64_t draw(const RandomSource& random) {
  if (random) {
    return random();
  }
  static thread_local std::mt19937_64 generator{std::random_device{}()};
  return generator();
}

std::string lower(std::string_view s) {
  std::string out;
  for (char c : s) {
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

AwsError invalid(std::string message) {
  return AwsError::client("InvalidParameterException", std::move(message));
}

// ---- Strategies

struct Rule {
  enum class Kind { kBinpackCpu, kBinpackMemory, kSpreadInstance, kSpreadAttribute, kRandom } kind;
  std::string attribute;  // kSpreadAttribute
};

// Reads a strategy check_placement accepted; anything else is skipped.
std::vector<Rule> parse_strategy(const json& strategy) {
  std::vector<Rule> rules;
  for (const auto& item : strategy) {
    const std::string type = item.value("type", "");
    const std::string field = item.value("field", "");
    if (type == "random") {
      rules.push_back({Rule::Kind::kRandom, ""});
    } else if (type == "binpack" && (lower(field) == "cpu" || lower(field) == "memory")) {
      rules.push_back({lower(field) == "cpu" ? Rule::Kind::kBinpackCpu : Rule::Kind::kBinpackMemory, ""});
    } else if (type == "spread" && (lower(field) == "instanceid" || lower(field) == "host")) {
      rules.push_back({Rule::Kind::kSpreadInstance, ""});
    } else if (type == "spread" && field.starts_with("attribute:") && field.size() > 10) {
      rules.push_back({Rule::Kind::kSpreadAttribute, field.substr(10)});
    }
  }
  return rules;
}

// ---- Constraints

struct Constraints {
  std::vector<state::ClusterQuery> member_of;
  bool unparsable = false;  // a memberOf that does not parse matches nothing
  bool distinct = false;
};

Constraints gather_constraints(const json& request_constraints, const state::TaskDefinition& td) {
  Constraints out;
  auto add = [&](const json& c) {
    const std::string type = c.value("type", "");
    if (type == "distinctInstance") {
      out.distinct = true;
    } else if (type == "memberOf") {
      auto q = state::ClusterQuery::parse(c.value("expression", ""));
      if (q) {
        out.member_of.push_back(std::move(q).value());
      } else {
        out.unparsable = true;
      }
    }
  };
  for (const auto& c : request_constraints) {
    add(c);
  }
  for (const auto& c : td.doc.value("placementConstraints", json::array())) {
    add(c);
  }
  return out;
}

// ---- Checks, in the order ECS reports the first one an instance fails

enum class Stage { kAgent, kAttribute, kCpu, kMemory, kPorts, kGpu, kEni, kMemberOf, kDistinct, kOk };

const char* reason_of(Stage s) {
  switch (s) {
    case Stage::kAgent:
      return "AGENT";
    case Stage::kAttribute:
      return "ATTRIBUTE";
    case Stage::kCpu:
      return "RESOURCE:CPU";
    case Stage::kMemory:
      return "RESOURCE:MEMORY";
    case Stage::kPorts:
      return "RESOURCE:PORTS";
    case Stage::kGpu:
      return "RESOURCE:GPU";
    case Stage::kEni:
      return "RESOURCE:ENI";
    case Stage::kMemberOf:
      return "MemberOf placement constraint unsatisfied.";
    case Stage::kDistinct:
      return "DistinctInstance placement constraint unsatisfied.";
    case Stage::kOk:
      break;
  }
  return "";
}

using Required = std::vector<std::pair<std::string, std::optional<std::string>>>;

struct Candidate {
  state::ContainerInstance* ci = nullptr;
  state::InstanceUsage usage;

  std::int64_t remaining_cpu() const { return state::registered_integer(*ci, "CPU") - usage.cpu; }
  std::int64_t remaining_memory() const { return state::registered_integer(*ci, "MEMORY") - usage.memory; }
  int group_count(const std::string& group) const {
    return static_cast<int>(std::count(usage.task_groups.begin(), usage.task_groups.end(), group));
  }
  std::optional<std::string> attribute(const std::string& name) const {
    auto it = ci->attributes.find(name);
    if (it == ci->attributes.end()) {
      return std::nullopt;
    }
    return it->second.value_or("");
  }
};

struct Demand {
  state::ResourceNeeds needs;
  Required required;
  Constraints constraints;
  std::string group;
};

bool ports_free(const Candidate& c, const std::vector<int>& ports, std::string_view resource,
                const std::set<int>& held) {
  if (ports.empty()) {
    return true;
  }
  const std::set<int> reserved = state::registered_ports(*c.ci, resource);
  return std::none_of(ports.begin(), ports.end(),
                      [&](int p) { return reserved.contains(p) || held.contains(p); });
}

Stage check(const Candidate& c, const Demand& d) {
  const auto& n = d.needs;
  if (!c.ci->agent_connected) {
    return Stage::kAgent;
  }
  for (const auto& [name, value] : d.required) {
    auto have = c.attribute(name);
    if (!have || (value && *have != *value)) {
      return Stage::kAttribute;
    }
  }
  if (n.cpu > 0 && n.cpu > c.remaining_cpu()) {
    return Stage::kCpu;
  }
  if (n.memory > 0 && n.memory > c.remaining_memory()) {
    return Stage::kMemory;
  }
  if (!ports_free(c, n.tcp_ports, "PORTS", c.usage.tcp_ports) ||
      !ports_free(c, n.udp_ports, "PORTS_UDP", c.usage.udp_ports)) {
    return Stage::kPorts;
  }
  if (n.gpus > 0 && state::registered_gpu_count(*c.ci) - c.usage.gpus < n.gpus) {
    return Stage::kGpu;
  }
  if (n.enis > 0) {
    const int limit = state::task_eni_limit(*c.ci);
    if (limit >= 0 && c.usage.enis + n.enis > limit) {
      return Stage::kEni;
    }
  }
  if (d.constraints.unparsable) {
    return Stage::kMemberOf;
  }
  if (!d.constraints.member_of.empty()) {
    const auto target = state::query_target(*c.ci, c.usage);
    for (const auto& q : d.constraints.member_of) {
      if (!q.matches(target)) {
        return Stage::kMemberOf;
      }
    }
  }
  if (d.constraints.distinct && c.group_count(d.group) > 0) {
    return Stage::kDistinct;
  }
  return Stage::kOk;
}

// The instance that came closest: the furthest stage, then (for a resource) the most of it left.
struct Closest {
  const Candidate* candidate = nullptr;
  Stage stage = Stage::kAgent;

  void offer(const Candidate& c, Stage s) {
    auto spare = [&](const Candidate& x) {
      return s == Stage::kCpu ? x.remaining_cpu() : s == Stage::kMemory ? x.remaining_memory() : 0;
    };
    if (candidate == nullptr || s > stage || (s == stage && spare(c) > spare(*candidate))) {
      candidate = &c;
      stage = s;
    }
  }
};

std::string instance_arn_for(const state::Cluster& cluster, const std::string& ref) {
  if (ref.starts_with("arn:")) {
    return ref;
  }
  auto parsed = parse_arn(cluster.arn);
  return parsed ? ecs_arn::container_instance(Scope{parsed->account, parsed->region}, cluster.name, ref)
                : ref;
}

// The value a spread rule counts an instance under (instances without the attribute share one value).
std::string spread_value(const Candidate& c, const Rule& r) {
  if (r.kind == Rule::Kind::kSpreadInstance) {
    return c.ci->id;
  }
  auto v = c.attribute(r.attribute);
  return v ? "=" + *v : std::string("!");
}

// Lower is better, rule by rule.
std::vector<std::int64_t> placement_key(const Candidate& c, const std::vector<Rule>& rules,
                                        const std::vector<Candidate>& everyone, const std::string& group,
                                        const RandomSource& random) {
  std::vector<std::int64_t> key;
  for (const auto& r : rules) {
    switch (r.kind) {
      case Rule::Kind::kBinpackCpu:
        key.push_back(c.remaining_cpu());
        break;
      case Rule::Kind::kBinpackMemory:
        key.push_back(c.remaining_memory());
        break;
      case Rule::Kind::kSpreadInstance:
        key.push_back(c.group_count(group));
        break;
      case Rule::Kind::kSpreadAttribute: {
        // Tasks of the group across every instance (draining ones too) that shares this instance's value.
        const std::string mine = spread_value(c, r);
        std::int64_t n = 0;
        for (const auto& other : everyone) {
          if (spread_value(other, r) == mine) {
            n += other.group_count(group);
          }
        }
        key.push_back(n);
        break;
      }
      case Rule::Kind::kRandom:
        key.push_back(static_cast<std::int64_t>(draw(random) >> 1));
        break;
    }
  }
  key.push_back(c.ci->registered_at);  // what every rule left tied (then the id, in the caller's order)
  return key;
}

void place_on(Candidate& c, const Demand& d, PlacementResult& result) {
  result.instances.push_back(c.ci);
  c.usage.add(d.needs, d.group);
}

}  // namespace

PlacementResult place(state::RegionState& region, const PlacementRequest& request) {
  PlacementResult result;
  if (request.cluster == nullptr || request.task_definition == nullptr) {
    return result;
  }
  const state::Cluster& cluster = *request.cluster;
  const state::TaskDefinition& td = *request.task_definition;
  if (request.only_instances.empty() && state::container_instance_count(region, cluster.name) == 0) {
    // No instance registered: the tasks run on berth's engine itself.
    result.instances.assign(static_cast<std::size_t>(std::max(request.count, 0)), nullptr);
    return result;
  }
  Demand demand;
  demand.needs = state::definition_needs(td, request.overrides);
  demand.required = required_attributes(td, request.overrides);
  demand.constraints = gather_constraints(request.constraints, td);
  demand.group = request.group.empty() ? "family:" + td.family : request.group;

  // Every registered instance of the cluster, with what its tasks already hold (draining ones count for
  // spread).
  std::vector<Candidate> everyone;
  for (auto& [id, ci] : region.container_instances) {
    if (ci.cluster_name == cluster.name && ci.status != "INACTIVE") {
      everyone.push_back(Candidate{&ci, state::instance_usage(ci, region)});
    }
  }
  Closest closest;

  if (!request.only_instances.empty()) {
    for (const auto& ref : request.only_instances) {
      state::ContainerInstance* ci = state::find_container_instance(region, cluster.name, ref);
      auto it =
          std::find_if(everyone.begin(), everyone.end(), [&](const Candidate& c) { return c.ci == ci; });
      if (ci == nullptr) {
        result.failures.push_back({{"arn", instance_arn_for(cluster, ref)}, {"reason", "MISSING"}});
      } else if (ci->status != "ACTIVE" || it == everyone.end()) {
        result.failures.push_back({{"arn", ci->arn}, {"reason", "INACTIVE"}});
      } else if (Stage s = check(*it, demand); s == Stage::kOk) {
        place_on(*it, demand, result);
      } else {
        result.failures.push_back({{"arn", ci->arn}, {"reason", reason_of(s)}});
        closest.offer(*it, s);
      }
    }
  } else {
    std::vector<Candidate*> active;
    for (auto& c : everyone) {
      if (c.ci->status == "ACTIVE") {
        active.push_back(&c);
      }
    }
    if (active.empty()) {
      result.no_active_instances = true;
      return result;
    }
    const auto rules =
        parse_strategy(request.strategy.empty() ? json::array({{{"type", "random"}}}) : request.strategy);
    for (int i = 0; i < request.count; ++i) {
      Candidate* best = nullptr;
      std::vector<std::int64_t> best_key;
      std::vector<std::pair<Candidate*, Stage>> refused;
      for (Candidate* c : active) {
        const Stage s = check(*c, demand);
        if (s != Stage::kOk) {
          refused.emplace_back(c, s);
          continue;
        }
        auto key = placement_key(*c, rules, everyone, demand.group, request.random);
        if (best == nullptr || key < best_key) {
          best = c;
          best_key = std::move(key);
        }
      }
      if (best == nullptr) {
        // The rest of the tasks are refused for the same reasons: ECS lists each instance once.
        for (const auto& [c, s] : refused) {
          result.failures.push_back({{"arn", c->ci->arn}, {"reason", reason_of(s)}});
          closest.offer(*c, s);
        }
        break;
      }
      place_on(*best, demand, result);
    }
  }
  if (closest.candidate != nullptr) {
    result.closest_instance_id = closest.candidate->ci->id;
    result.closest_reason = reason_of(closest.stage);
  }
  return result;
}

std::optional<AwsError> check_placement(const json& constraints, const json& strategy,
                                        const state::TaskDefinition* td) {
  const json none = json::array();
  const json& own =
      td != nullptr && td->doc.contains("placementConstraints") ? td->doc["placementConstraints"] : none;
  const std::size_t total =
      (constraints.is_array() ? constraints.size() : 0) + (own.is_array() ? own.size() : 0);
  if (total > kMaxConstraints) {
    return invalid("You can specify up to " + std::to_string(kMaxConstraints) +
                   " placement constraints, including those of the task definition; " +
                   std::to_string(total) + " were given.");
  }
  if (strategy.is_array() && strategy.size() > kMaxStrategies) {
    return invalid("You can specify up to " + std::to_string(kMaxStrategies) + " placement strategies; " +
                   std::to_string(strategy.size()) + " were given.");
  }
  json all = constraints.is_array() ? constraints : none;
  for (const auto& c : own.is_array() ? own : none) {
    all.push_back(c);
  }
  for (const auto& c : all) {
    const std::string type = c.value("type", "");
    const std::string expression = c.value("expression", "");
    if (type == "distinctInstance" && !expression.empty()) {
      return invalid("An expression cannot be specified for the distinctInstance placement constraint.");
    }
    if (type == "memberOf" && expression.empty()) {
      return invalid("The memberOf placement constraint requires an expression.");
    }
    if (type.empty()) {
      return invalid("A placement constraint requires a type: distinctInstance or memberOf.");
    }
    if (type == "memberOf") {
      if (auto q = state::ClusterQuery::parse(expression); !q) {
        return q.error();
      }
    }
  }
  for (const auto& s : strategy.is_array() ? strategy : none) {
    const std::string type = s.value("type", "");
    const std::string field = s.value("field", "");
    if (type == "binpack" && lower(field) != "cpu" && lower(field) != "memory") {
      return invalid("The binpack placement strategy field must be cpu or memory, not '" + field + "'.");
    }
    if (type == "spread" && lower(field) != "instanceid" && lower(field) != "host" &&
        !(field.starts_with("attribute:") && field.size() > 10)) {
      return invalid(
          "The spread placement strategy field must be instanceId, host or attribute:<name>, not '" + field +
          "'.");
    }
    if (type.empty()) {
      return invalid("A placement strategy requires a type: binpack, random or spread.");
    }
  }
  return std::nullopt;
}

json default_service_strategy() {
  return json::array({{{"type", "spread"}, {"field", std::string("attribute:") + kAzAttribute}},
                      {{"type", "spread"}, {"field", "instanceId"}}});
}

std::vector<std::pair<std::string, std::optional<std::string>>> required_attributes(
    const state::TaskDefinition& td, const json& overrides) {
  std::vector<std::pair<std::string, std::optional<std::string>>> out;
  auto need = [&](const std::string& name, std::optional<std::string> value = std::nullopt) {
    if (std::none_of(out.begin(), out.end(), [&](const auto& p) { return p.first == name; })) {
      out.emplace_back(name, std::move(value));
    }
  };
  const json& doc = td.doc;
  const json o = overrides.is_object() ? overrides : json::object();
  if (doc.value("networkMode", "bridge") == "awsvpc") {
    need("ecs.capability.task-eni");
  }
  if (!o.value("taskRoleArn", doc.value("taskRoleArn", "")).empty()) {
    need("com.amazonaws.ecs.capability.task-iam-role");
  }
  if (doc.contains("cpu") || doc.contains("memory")) {
    need("ecs.capability.task-cpu-mem-limit");
  }
  for (const auto& c : doc.value("containerDefinitions", json::array())) {
    if (c.contains("logConfiguration")) {
      const std::string driver = c["logConfiguration"].value("logDriver", "");
      if (!driver.empty()) {
        need("com.amazonaws.ecs.capability.logging-driver." + driver);
      }
    }
    if (c.contains("healthCheck")) {
      need("ecs.capability.container-health-check");
    }
    if (!c.value("dependsOn", json::array()).empty()) {
      need("ecs.capability.container-ordering");
    }
    if (c.value("privileged", false)) {
      need("com.amazonaws.ecs.capability.privileged-container");
    }
    for (const auto& s : c.value("secrets", json::array())) {
      need(s.value("valueFrom", "").starts_with("arn:aws:secretsmanager:")
               ? "ecs.capability.secrets.asm.environment-variables"
               : "ecs.capability.secrets.ssm.environment-variables");
    }
    if (!c.value("environmentFiles", json::array()).empty()) {
      need("ecs.capability.env-files.s3");
    }
  }
  for (const auto& v : doc.value("volumes", json::array())) {
    if (v.contains("efsVolumeConfiguration")) {
      need("ecs.capability.efsAuth");
    }
  }
  const std::string arch = doc.value("runtimePlatform", json::object()).value("cpuArchitecture", "");
  if (!arch.empty()) {
    need("ecs.cpu-architecture", arch == "ARM64" ? "arm64" : "x86_64");
  }
  return out;
}

std::string unplaced_event_message(std::string_view service_name, const PlacementResult& result) {
  std::string out = "(service " + std::string(service_name) + ") was unable to place a task";
  if (result.closest_instance_id.empty()) {
    return out + ". Reason: No Container Instances were found in your cluster.";
  }
  out +=
      " because no container instance met all of its requirements. The closest matching container-instance " +
      result.closest_instance_id;
  const std::string& r = result.closest_reason;
  if (r == "RESOURCE:CPU") {
    out += " has insufficient CPU units available.";
  } else if (r == "RESOURCE:MEMORY") {
    out += " has insufficient memory available.";
  } else if (r == "RESOURCE:PORTS") {
    out += " is already using a port required by your task.";
  } else if (r == "ATTRIBUTE") {
    out += " is missing an attribute required by your task.";
  } else {
    out += " encountered error \"" + r + "\".";
  }
  return out + " For more information, see the Troubleshooting section of the Amazon ECS Developer Guide.";
}

std::vector<const state::Task*> order_for_scale_in(const state::RegionState& region,
                                                   std::vector<const state::Task*> tasks,
                                                   const json& strategy, const RandomSource& random) {
  const auto rules = parse_strategy(strategy.empty() ? default_service_strategy() : strategy);
  // What each task's instance has left, given back as its tasks are chosen.
  struct Spare {
    std::int64_t cpu = 0;
    std::int64_t memory = 0;
  };
  std::map<const state::ContainerInstance*, Spare> spare;
  for (const auto* t : tasks) {
    const auto* ci = state::instance_of(region, *t);
    if (ci != nullptr && !spare.contains(ci)) {
      const auto usage = state::instance_usage(*ci, region);
      spare[ci] = Spare{state::registered_integer(*ci, "CPU") - usage.cpu,
                        state::registered_integer(*ci, "MEMORY") - usage.memory};
    }
  }
  auto value_of = [&](const state::Task* t, const Rule& r) -> std::string {
    const auto* ci = state::instance_of(region, *t);
    if (ci == nullptr) {
      return "";  // no instance: one value of its own
    }
    if (r.kind == Rule::Kind::kSpreadInstance) {
      return "i:" + ci->id;
    }
    auto it = ci->attributes.find(r.attribute);
    return it == ci->attributes.end() ? "!" : "=" + it->second.value_or("");
  };
  std::vector<const state::Task*> order;
  while (!tasks.empty()) {
    std::size_t best = 0;
    std::vector<std::int64_t> best_key;
    for (std::size_t i = 0; i < tasks.size(); ++i) {
      const auto* t = tasks[i];
      std::vector<std::int64_t> key;  // higher stops first
      for (const auto& r : rules) {
        const auto* ci = state::instance_of(region, *t);
        switch (r.kind) {
          case Rule::Kind::kBinpackCpu:
          case Rule::Kind::kBinpackMemory: {
            auto it = ci == nullptr ? spare.end() : spare.find(ci);
            key.push_back(it == spare.end()
                              ? 0
                              : (r.kind == Rule::Kind::kBinpackCpu ? it->second.cpu : it->second.memory));
            break;
          }
          case Rule::Kind::kSpreadInstance:
          case Rule::Kind::kSpreadAttribute: {
            const std::string mine = value_of(t, r);
            key.push_back(std::count_if(tasks.begin(), tasks.end(),
                                        [&](const state::Task* o) { return value_of(o, r) == mine; }));
            break;
          }
          case Rule::Kind::kRandom:
            key.push_back(static_cast<std::int64_t>(draw(random) >> 1));
            break;
        }
      }
      key.push_back(t->last_status < state::TaskStatus::kRunning ? 1 : 0);
      key.push_back(t->created_at);
      if (i == 0 || key > best_key) {
        best = i;
        best_key = std::move(key);
      }
    }
    const auto* chosen = tasks[best];
    if (const auto* ci = state::instance_of(region, *chosen); ci != nullptr && spare.contains(ci)) {
      const auto needs = state::task_needs(*chosen);
      spare[ci].cpu += needs.cpu;
      spare[ci].memory += needs.memory;
    }
    order.push_back(chosen);
    tasks.erase(tasks.begin() + static_cast<std::ptrdiff_t>(best));
  }
  return order;
}

}  // namespace berth::scheduler
