// Container instances and the agent API: what the ECS agent calls (RegisterContainerInstance,
// DiscoverPollEndpoint, Submit*StateChange*), what operators call (Describe/List/Deregister/UpdateState,
// UpdateContainerAgent) and custom attributes (Put/Delete/ListAttributes).
#include <unistd.h>

#include <algorithm>
#include <set>
#include <thread>

#include <berth/common/ids.hpp>
#include <berth/common/sha256.hpp>
#include <berth/services/paging.hpp>
#include <berth/state/cluster_query.hpp>
#include <berth/state/container_instances.hpp>
#include <berth/state/instance_types.hpp>
#include "ecs_common.hpp"

namespace berth::services::ecs {
namespace {

// The ports the ECS agent reserves on every instance it registers (its default ECS_RESERVED_PORTS).
const std::vector<std::string> kAgentReservedPorts = {"22", "2375", "2376", "51678", "51679"};
constexpr std::size_t kMaxCustomAttributes = 10;
constexpr std::size_t kMaxAttributesPerCall = 10;

bool has_value(const json& list, const char* v) {
  return list.is_array() && std::any_of(list.begin(), list.end(), [&](const json& x) { return x == v; });
}

// ECS's own attributes (built in, or registered by the agent) do not count towards the custom limit.
bool is_builtin_attribute(std::string_view name) {
  return name.starts_with("ecs.") || name.starts_with("com.amazonaws.ecs.");
}

bool valid_attribute_name(const std::string& n) {
  return !n.empty() && n.size() <= 128 && std::all_of(n.begin(), n.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '/' || c == '\\' ||
           c == '.';
  });
}

bool valid_attribute_value(const std::string& v) {
  return !v.empty() && v.size() <= 128 && v.front() != ' ' && v.back() != ' ' &&
         std::all_of(v.begin(), v.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
                  c == '@' || c == '/' || c == '\\' || c == ':' || c == ' ';
         });
}

std::optional<AwsError> check_attribute(const json& a) {
  const std::string name = a.value("name", "");
  if (!valid_attribute_name(name)) {
    return invalid_parameter(
        "Attribute name '" + name +
        "' is not valid: use 1-128 letters, numbers, hyphens, underscores, forward slashes, "
        "back slashes or periods.");
  }
  if (a.contains("value") && !valid_attribute_value(a["value"].get<std::string>())) {
    return invalid_parameter(
        "Attribute value '" + a["value"].get<std::string>() + "' of attribute '" + name +
        "' is not valid: use 1-128 letters, numbers, hyphens, underscores, periods, at signs, "
        "forward slashes, back slashes, colons or spaces, not starting or ending with a space.");
  }
  return std::nullopt;
}

std::string host_cpu_architecture() {
#if defined(__aarch64__)
  return "arm64";
#else
  return "x86_64";
#endif
}

// What the agent would report for this host when a caller registers an instance without totalResources.
long host_cpu_units() { return static_cast<long>(std::max(1u, std::thread::hardware_concurrency())) * 1024; }
long host_memory_mib() {
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page_size = ::sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page_size > 0 ? static_cast<long>((static_cast<long long>(pages) * page_size) >> 20)
                                    : 0;
}

// ECS's Resource shape always carries the three numeric members; STRINGSET resources also a stringSetValue.
json resource(const std::string& name, const std::string& type, long long integer_value,
              const json& set = json()) {
  json r = {{"name", name},
            {"type", type},
            {"doubleValue", 0.0},
            {"longValue", 0},
            {"integerValue", integer_value}};
  if (type == "STRINGSET") {
    r["stringSetValue"] = set.is_array() ? set : json::array();
  }
  return r;
}

// `type`, when the identity document names one berth knows, gives what the agent would report for it;
// otherwise the defaults are this host's.
Result<json> normalize_resources(const json& in, const state::InstanceType* type) {
  json out = json::array();
  std::set<std::string> seen;
  for (const auto& r : in) {
    const std::string name = r.value("name", "");
    const std::string type = r.value("type", "");
    if (name.empty()) {
      return invalid_parameter("Resource name should not be null or empty.");
    }
    if (type != "INTEGER" && type != "LONG" && type != "DOUBLE" && type != "STRINGSET") {
      return invalid_parameter("Resource '" + name + "' has an invalid type '" + type +
                               "': use INTEGER, LONG, DOUBLE or STRINGSET.");
    }
    if (!seen.insert(name).second) {
      return invalid_parameter("Resource '" + name + "' is listed more than once.");
    }
    json n = {{"name", name},
              {"type", type},
              {"doubleValue", r.value("doubleValue", 0.0)},
              {"longValue", r.value("longValue", 0LL)},
              {"integerValue", r.value("integerValue", 0LL)}};
    if (type == "STRINGSET") {
      n["stringSetValue"] = r.value("stringSetValue", json::array());
    }
    out.push_back(n);
  }
  // Filled in as the agent on this host would send them.
  if (!seen.contains("CPU")) {
    out.push_back(
        resource("CPU", "INTEGER", type != nullptr ? state::registered_cpu_units(*type) : host_cpu_units()));
  }
  if (!seen.contains("MEMORY")) {
    out.push_back(resource("MEMORY", "INTEGER",
                           type != nullptr ? state::registered_memory_mib(*type) : host_memory_mib()));
  }
  if (!seen.contains("PORTS")) {
    out.push_back(resource("PORTS", "STRINGSET", 0, kAgentReservedPorts));
  }
  if (!seen.contains("PORTS_UDP")) {
    out.push_back(resource("PORTS_UDP", "STRINGSET", 0, json::array()));
  }
  return out;
}

json render_attributes(const state::ContainerInstance& ci) {
  json out = json::array();
  for (const auto& [name, value] : ci.attributes) {
    json a = {{"name", name}};
    if (value) {
      a["value"] = *value;
    }
    out.push_back(a);
  }
  return out;
}

json render_instance(const state::ContainerInstance& ci, const state::RegionState& region, bool with_tags,
                     bool with_health) {
  const auto usage = state::instance_usage(ci, region);
  json out = {
      {"containerInstanceArn", ci.arn},
      {"version", ci.version},
      {"versionInfo", ci.version_info},
      {"remainingResources", state::remaining_resources(ci, usage)},
      {"registeredResources", ci.registered_resources},
      {"status", ci.status},
      {"agentConnected", ci.agent_connected},
      {"runningTasksCount", usage.running},
      {"pendingTasksCount", usage.pending},
      {"attributes", render_attributes(ci)},
      {"registeredAt", to_epoch_seconds(ci.registered_at)},
      {"attachments", json::array()},
  };
  if (!ci.ec2_instance_id.empty()) {
    out["ec2InstanceId"] = ci.ec2_instance_id;
  }
  if (!ci.status_reason.empty()) {
    out["statusReason"] = ci.status_reason;
  }
  if (with_tags) {
    out["tags"] = ci.tags;
  }
  if (with_health) {
    // No agent reports instance health to berth, so there is nothing to judge it by.
    out["healthStatus"] = {{"overallStatus", "INSUFFICIENT_DATA"}, {"details", json::array()}};
  }
  return out;
}

AwsError instance_not_found() {
  return invalid_parameter("The referenced container instance was not found.");
}

std::string full_instance_arn(const Scope& scope, const state::Cluster& cluster, const std::string& ref) {
  return ref.starts_with("arn:") ? ref : ecs_arn::container_instance(scope, cluster.name, ref);
}

// ---- RegisterContainerInstance

struct IdentityDocument {
  std::string instance_id;
  std::string instance_type;
  std::string image_id;
  std::string availability_zone;
  std::string architecture;
};

Result<std::optional<IdentityDocument>> parse_identity_document(const json& in) {
  const std::string text = in.value("instanceIdentityDocument", "");
  if (text.empty()) {
    return std::optional<IdentityDocument>{};
  }
  json doc = json::parse(text, nullptr, false);
  if (!doc.is_object()) {
    return invalid_parameter("The instance identity document is not valid JSON.");
  }
  auto str = [&](const char* k) {
    return doc.contains(k) && doc[k].is_string() ? doc[k].get<std::string>() : "";
  };
  IdentityDocument d{str("instanceId"), str("instanceType"), str("imageId"), str("availabilityZone"),
                     str("architecture")};
  if (d.instance_id.empty()) {
    return invalid_parameter("The instance identity document has no instanceId.");
  }
  return std::optional<IdentityDocument>{d};
}

// The built-in attributes ECS adds from what it knows about the instance, unless the agent sent them.
void add_builtin_attributes(state::ContainerInstance& ci, const std::optional<IdentityDocument>& doc,
                            const Scope& scope) {
  auto put = [&](const std::string& name, const std::string& value) {
    if (!value.empty() && !ci.attributes.contains(name)) {
      ci.attributes[name] = value;
    }
  };
  if (doc) {
    put("ecs.ami-id", doc->image_id);
    put("ecs.instance-type", doc->instance_type);
    put("ecs.availability-zone", doc->availability_zone);
    put("ecs.cpu-architecture", doc->architecture);
  }
  // Without a document the instance is this host: the zone berth reports for its tasks, this host's CPU.
  put("ecs.availability-zone", scope.region + "a");
  put("ecs.cpu-architecture", host_cpu_architecture());
  put("ecs.os-type", "linux");
}

Result<json> register_container_instance(EcsContext& ctx, const protocol::Call& call) {
  const json& in = call.input;
  const Scope& scope = call.caller.scope;
  auto& region = ctx.store.region(scope);
  auto cluster = resolve_cluster(region, scope, in);
  if (!cluster) {
    return cluster.error();
  }
  auto doc = parse_identity_document(in);
  if (!doc) {
    return doc.error();
  }
  for (const auto& a : in.value("attributes", json::array())) {
    if (auto bad = check_attribute(a)) {
      return *bad;
    }
  }
  auto resources = normalize_resources(in.value("totalResources", json::array()),
                                       *doc ? state::find_instance_type((*doc)->instance_type) : nullptr);
  if (!resources) {
    return resources.error();
  }
  const TimeMs now = ctx.clock.now_ms();

  state::ContainerInstance* ci = nullptr;
  if (const std::string ref = in.value("containerInstanceArn", ""); !ref.empty()) {
    // The agent re-registering an instance it registered before (restored from its checkpoint).
    ci = find_container_instance(region, **cluster, ref);
    if (ci == nullptr) {
      return client_exception("Container instance " + ref + " was not found in the cluster.");
    }
    if (ci->status == "INACTIVE") {
      return client_exception("Container instance " + ci->id + " is inactive.");
    }
    if (*doc && !ci->instance_type.empty() && (*doc)->instance_type != ci->instance_type) {
      return client_exception("Container instance type changes are not supported. Container instance " +
                              ci->id + " was previously registered as " + ci->instance_type + ".");
    }
    ++ci->version;
  } else {
    state::ContainerInstance fresh;
    fresh.id = ids::hex32();
    fresh.arn = ecs_arn::container_instance(scope, (*cluster)->name, fresh.id);
    fresh.cluster_name = (*cluster)->name;
    fresh.registered_at = now;
    fresh.tags = in.value("tags", json::array());
    const std::string id = fresh.id;
    ci = &region.container_instances.emplace(id, std::move(fresh)).first->second;
  }
  if (*doc) {
    ci->ec2_instance_id = (*doc)->instance_id;
    ci->instance_type = (*doc)->instance_type;
  }
  ci->status = "ACTIVE";
  ci->agent_connected = true;
  ci->registered_resources = std::move(resources).value();
  ci->version_info = in.value("versionInfo", json::object());
  ci->platform_devices = in.value("platformDevices", json::array());
  for (const auto& a : in.value("attributes", json::array())) {
    ci->attributes[a["name"].get<std::string>()] =
        a.contains("value") ? std::optional<std::string>(a["value"].get<std::string>()) : std::nullopt;
  }
  add_builtin_attributes(*ci, *doc, scope);
  return json{{"containerInstance", render_instance(*ci, region, true, false)}};
}

// ---- Describe / List / Deregister / UpdateState / UpdateContainerAgent

Result<json> describe_container_instances(EcsContext& ctx, const protocol::Call& call) {
  const Scope& scope = call.caller.scope;
  auto& region = ctx.store.region(scope);
  auto cluster = resolve_cluster(region, scope, call.input);
  if (!cluster) {
    return cluster.error();
  }
  const json& refs = call.input["containerInstances"];
  if (refs.size() > 100) {
    return invalid_parameter("containerInstances can have at most 100 items.");
  }
  const json include = call.input.value("include", json::array());
  const bool with_tags = has_value(include, "TAGS");
  const bool with_health = has_value(include, "CONTAINER_INSTANCE_HEALTH");
  json instances = json::array();
  json failures = json::array();
  for (const auto& ref_json : refs) {
    const std::string ref = ref_json.get<std::string>();
    auto* ci = find_container_instance(region, **cluster, ref);
    if (ci == nullptr) {
      failures.push_back({{"arn", full_instance_arn(scope, **cluster, ref)}, {"reason", "MISSING"}});
      continue;
    }
    instances.push_back(render_instance(*ci, region, with_tags, with_health));
  }
  return json{{"containerInstances", instances}, {"failures", failures}};
}

Result<json> list_container_instances(EcsContext& ctx, const protocol::Call& call) {
  const json& in = call.input;
  const Scope& scope = call.caller.scope;
  auto& region = ctx.store.region(scope);
  auto cluster = resolve_cluster(region, scope, in);
  if (!cluster) {
    return cluster.error();
  }
  std::optional<state::ClusterQuery> filter;
  if (const std::string expr = in.value("filter", ""); !expr.empty()) {
    auto parsed = state::ClusterQuery::parse(expr);
    if (!parsed) {
      return parsed.error();
    }
    filter = std::move(parsed).value();
  }
  const std::string status = in.value("status", "");
  std::vector<std::string> arns;
  for (const auto& [id, ci] : region.container_instances) {
    if (ci.cluster_name != (*cluster)->name) {
      continue;
    }
    // Without a status filter, every status but INACTIVE is listed.
    if (status.empty() ? ci.status == "INACTIVE" : ci.status != status) {
      continue;
    }
    if (filter && !filter->matches(state::query_target(ci, state::instance_usage(ci, region)))) {
      continue;
    }
    arns.push_back(ci.arn);
  }
  std::sort(arns.begin(), arns.end());
  auto page = paginate_input(arns, in, 100);
  if (!page) {
    return page.error();
  }
  json out = {{"containerInstanceArns", page->items}};
  if (!page->next_token.empty()) {
    out["nextToken"] = page->next_token;
  }
  return out;
}

Result<json> deregister_container_instance(EcsContext& ctx, const protocol::Call& call) {
  const Scope& scope = call.caller.scope;
  auto& region = ctx.store.region(scope);
  auto cluster = resolve_cluster(region, scope, call.input);
  if (!cluster) {
    return cluster.error();
  }
  auto* ci = find_container_instance(region, **cluster, call.input["containerInstance"].get<std::string>());
  if (ci == nullptr) {
    return instance_not_found();
  }
  if (ci->status != "INACTIVE") {
    const auto usage = state::instance_usage(*ci, region);
    if (!call.input.value("force", false) && usage.running + usage.pending > 0) {
      return invalid_parameter("Found running tasks on the instance.");
    }
    // With force, tasks left on the instance are orphaned, as in ECS: they keep running (berth still watches
    // their containers, and StopTask still stops them), the instance no longer accounts for them, and a
    // service starts replacements elsewhere (state::is_orphaned).
    ci->status = "INACTIVE";
    ci->agent_connected = false;
    ++ci->version;
  }
  return json{{"containerInstance", render_instance(*ci, region, true, false)}};
}

Result<json> update_container_instances_state(EcsContext& ctx, const protocol::Call& call) {
  const Scope& scope = call.caller.scope;
  auto& region = ctx.store.region(scope);
  auto cluster = resolve_cluster(region, scope, call.input);
  if (!cluster) {
    return cluster.error();
  }
  const json& refs = call.input["containerInstances"];
  if (refs.size() > 10) {
    return invalid_parameter("containerInstances can have at most 10 items.");
  }
  const std::string status = call.input["status"].get<std::string>();
  if (status != "ACTIVE" && status != "DRAINING") {
    return invalid_parameter("Container instances can only be updated to ACTIVE or DRAINING status.");
  }
  json instances = json::array();
  json failures = json::array();
  for (const auto& ref_json : refs) {
    const std::string ref = ref_json.get<std::string>();
    auto* ci = find_container_instance(region, **cluster, ref);
    if (ci == nullptr) {
      failures.push_back({{"arn", full_instance_arn(scope, **cluster, ref)}, {"reason", "MISSING"}});
      continue;
    }
    if (ci->status == "INACTIVE") {
      failures.push_back({{"arn", ci->arn}, {"reason", "INACTIVE"}});
      continue;
    }
    if (ci->status != status) {
      ci->status = status;
      ++ci->version;
    }
    instances.push_back(render_instance(*ci, region, false, false));
  }
  return json{{"containerInstances", instances}, {"failures", failures}};
}

Result<json> update_container_agent(EcsContext& ctx, const protocol::Call& call) {
  const Scope& scope = call.caller.scope;
  auto& region = ctx.store.region(scope);
  auto cluster = resolve_cluster(region, scope, call.input);
  if (!cluster) {
    return cluster.error();
  }
  auto* ci = find_container_instance(region, **cluster, call.input["containerInstance"].get<std::string>());
  if (ci == nullptr || ci->status == "INACTIVE") {
    return instance_not_found();
  }
  if (ci->version_info.value("agentVersion", "").empty()) {
    return AwsError::client("MissingVersionException",
                            "The container instance " + ci->id +
                                " did not report an agent version, so no update can be planned for it.");
  }
  // berth has no agent builds to hand out: for every agent that is the answer ECS gives when it has none
  // newer.
  return AwsError::client("NoUpdateAvailableException",
                          "There is no update available for your container agent.");
}

// ---- Agent-only calls

Result<json> discover_poll_endpoint(EcsContext& ctx, const protocol::Call& /*call*/) {
  const std::string url = (ctx.self_url.empty() ? std::string("http://127.0.0.1:4566") : ctx.self_url) + "/";
  return json{{"endpoint", url}, {"telemetryEndpoint", url}, {"serviceConnectEndpoint", url}};
}

bool known_status(const std::string& s, std::initializer_list<std::string_view> allowed) {
  return std::find(allowed.begin(), allowed.end(), s) != allowed.end();
}

json acknowledged() { return json{{"acknowledgment", "true"}}; }

// The agent reports task and container changes; berth learns them from the Docker engine itself, so a report
// is checked against berth's records and acknowledged without changing them.
Result<json> submit_task_state_change(EcsContext& ctx, const protocol::Call& call) {
  const json& in = call.input;
  const Scope& scope = call.caller.scope;
  auto& region = ctx.store.region(scope);
  auto cluster = resolve_cluster(region, scope, in);
  if (!cluster) {
    return cluster.error();
  }
  const state::Task* task = nullptr;
  if (const std::string ref = in.value("task", ""); !ref.empty()) {
    task = find_task(region, **cluster, ref);
    if (task == nullptr) {
      return invalid_parameter("The referenced task was not found.");
    }
  }
  if (const std::string s = in.value("status", "");
      !s.empty() && !known_status(s, {"PROVISIONING", "PENDING", "ACTIVATING", "RUNNING", "DEACTIVATING",
                                      "STOPPING", "DEPROVISIONING", "STOPPED"})) {
    return invalid_parameter("Invalid task status: " + s);
  }
  for (const auto& c : in.value("containers", json::array())) {
    const std::string name = c.value("containerName", "");
    if (task != nullptr && std::none_of(task->containers.begin(), task->containers.end(),
                                        [&](const state::Container& tc) { return tc.name == name; })) {
      return invalid_parameter("Container " + name + " is not part of the task.");
    }
    if (const std::string s = c.value("status", "");
        !s.empty() && !known_status(s, {"PENDING", "RUNNING", "STOPPED"})) {
      return invalid_parameter("Invalid container status: " + s);
    }
  }
  return acknowledged();
}

Result<json> submit_container_state_change(EcsContext& ctx, const protocol::Call& call) {
  const json& in = call.input;
  const Scope& scope = call.caller.scope;
  auto& region = ctx.store.region(scope);
  auto cluster = resolve_cluster(region, scope, in);
  if (!cluster) {
    return cluster.error();
  }
  if (const std::string ref = in.value("task", ""); !ref.empty()) {
    const auto* task = find_task(region, **cluster, ref);
    if (task == nullptr) {
      return invalid_parameter("The referenced task was not found.");
    }
    const std::string name = in.value("containerName", "");
    if (!name.empty() && std::none_of(task->containers.begin(), task->containers.end(),
                                      [&](const state::Container& c) { return c.name == name; })) {
      return invalid_parameter("Container " + name + " is not part of the task.");
    }
  }
  if (const std::string s = in.value("status", "");
      !s.empty() && !known_status(s, {"PENDING", "RUNNING", "STOPPED"})) {
    return invalid_parameter("Invalid container status: " + s);
  }
  return acknowledged();
}

Result<json> submit_attachment_state_changes(EcsContext& ctx, const protocol::Call& call) {
  const Scope& scope = call.caller.scope;
  auto& region = ctx.store.region(scope);
  auto cluster = resolve_cluster(region, scope, call.input);
  if (!cluster) {
    return cluster.error();
  }
  for (const auto& a : call.input["attachments"]) {
    if (!parse_arn(a["attachmentArn"].get<std::string>())) {
      return invalid_parameter("Invalid attachment ARN: " + a["attachmentArn"].get<std::string>());
    }
  }
  return acknowledged();
}

// ---- Attributes

// The container instance an attribute targets; `targetType` is required when the target is a bare id.
Result<state::ContainerInstance*> attribute_target(state::RegionState& region, const state::Cluster& cluster,
                                                   const json& a) {
  const std::string target = a.value("targetId", "");
  if (target.empty()) {
    return invalid_parameter("Attribute '" + a.value("name", "") + "' has no targetId.");
  }
  if (!target.starts_with("arn:") && a.value("targetType", "").empty()) {
    return invalid_parameter("targetType is required when targetId is not a full ARN: " + target);
  }
  auto* ci = find_container_instance(region, cluster, target);
  if (ci == nullptr || ci->status == "INACTIVE") {
    return AwsError::client("TargetNotFoundException",
                            "Could not find target " + target + " in the cluster.");
  }
  return ci;
}

std::size_t custom_attribute_count(
    const std::map<std::string, std::optional<std::string>, std::less<>>& attrs) {
  return static_cast<std::size_t>(std::count_if(
      attrs.begin(), attrs.end(), [](const auto& kv) { return !is_builtin_attribute(kv.first); }));
}

Result<json> put_attributes(EcsContext& ctx, const protocol::Call& call) {
  const Scope& scope = call.caller.scope;
  auto& region = ctx.store.region(scope);
  auto cluster = resolve_cluster(region, scope, call.input);
  if (!cluster) {
    return cluster.error();
  }
  const json& attributes = call.input["attributes"];
  if (attributes.size() > kMaxAttributesPerCall) {
    return invalid_parameter("You can specify up to 10 attributes in a single call.");
  }
  // Everything is checked before anything changes, so a refused call leaves every target as it was.
  std::map<state::ContainerInstance*, std::map<std::string, std::optional<std::string>, std::less<>>> after;
  for (const auto& a : attributes) {
    if (auto bad = check_attribute(a)) {
      return *bad;
    }
    auto target = attribute_target(region, **cluster, a);
    if (!target) {
      return target.error();
    }
    auto [it, fresh] = after.try_emplace(*target, (*target)->attributes);
    it->second[a["name"].get<std::string>()] =
        a.contains("value") ? std::optional<std::string>(a["value"].get<std::string>()) : std::nullopt;
  }
  for (const auto& [ci, attrs] : after) {
    if (custom_attribute_count(attrs) > kMaxCustomAttributes) {
      return AwsError::client("AttributeLimitExceededException",
                              "You can apply up to 10 custom attributes per resource: " + ci->arn +
                                  " would have " + std::to_string(custom_attribute_count(attrs)) + ".");
    }
  }
  for (auto& [ci, attrs] : after) {
    ci->attributes = std::move(attrs);
    ++ci->version;
  }
  return json{{"attributes", attributes}};
}

Result<json> delete_attributes(EcsContext& ctx, const protocol::Call& call) {
  const Scope& scope = call.caller.scope;
  auto& region = ctx.store.region(scope);
  auto cluster = resolve_cluster(region, scope, call.input);
  if (!cluster) {
    return cluster.error();
  }
  const json& attributes = call.input["attributes"];
  std::vector<std::pair<state::ContainerInstance*, std::string>> removals;
  for (const auto& a : attributes) {
    auto target = attribute_target(region, **cluster, a);
    if (!target) {
      return target.error();
    }
    removals.emplace_back(*target, a["name"].get<std::string>());
  }
  for (auto& [ci, name] : removals) {
    if (ci->attributes.erase(name) > 0) {
      ++ci->version;
    }
  }
  return json{{"attributes", attributes}};
}

Result<json> list_attributes(EcsContext& ctx, const protocol::Call& call) {
  const json& in = call.input;
  const Scope& scope = call.caller.scope;
  auto& region = ctx.store.region(scope);
  auto cluster = resolve_cluster(region, scope, in);
  if (!cluster) {
    return cluster.error();
  }
  const std::string name = in.value("attributeName", "");
  const std::string value = in.value("attributeValue", "");
  if (!value.empty() && name.empty()) {
    return invalid_parameter("attributeValue can only be specified together with attributeName.");
  }
  // Keys sort by target ARN, then attribute name; the page token names the last key returned.
  std::map<std::string, json> by_key;
  for (const auto& [id, ci] : region.container_instances) {
    if (ci.cluster_name != (*cluster)->name || ci.status == "INACTIVE") {
      continue;
    }
    for (const auto& [n, v] : ci.attributes) {
      if ((!name.empty() && n != name) || (!value.empty() && v.value_or("") != value)) {
        continue;
      }
      json a = {{"name", n}, {"targetType", "container-instance"}, {"targetId", ci.arn}};
      if (v) {
        a["value"] = *v;
      }
      by_key.emplace(ci.arn + '\n' + n, std::move(a));
    }
  }
  std::vector<std::string> keys;
  keys.reserve(by_key.size());
  for (const auto& [k, a] : by_key) {
    keys.push_back(k);
  }
  auto page = paginate_input(keys, in, 100);
  if (!page) {
    return page.error();
  }
  json out_attrs = json::array();
  for (const auto& k : page->items) {
    out_attrs.push_back(by_key.at(k));
  }
  json out = {{"attributes", out_attrs}};
  if (!page->next_token.empty()) {
    out["nextToken"] = page->next_token;
  }
  return out;
}

}  // namespace

state::ContainerInstance* find_container_instance(state::RegionState& region, const state::Cluster& cluster,
                                                  const std::string& ref) {
  return state::find_container_instance(region, cluster.name, ref);
}

namespace {

// What the ECS agent (1.89) on an ECS-optimized Amazon Linux 2023 AMI reports as capabilities.
const std::vector<std::string> kAgentCapabilities = {
    "com.amazonaws.ecs.capability.privileged-container",
    "com.amazonaws.ecs.capability.docker-remote-api.1.17",
    "com.amazonaws.ecs.capability.docker-remote-api.1.18",
    "com.amazonaws.ecs.capability.docker-remote-api.1.19",
    "com.amazonaws.ecs.capability.docker-remote-api.1.20",
    "com.amazonaws.ecs.capability.docker-remote-api.1.21",
    "com.amazonaws.ecs.capability.docker-remote-api.1.22",
    "com.amazonaws.ecs.capability.docker-remote-api.1.23",
    "com.amazonaws.ecs.capability.docker-remote-api.1.24",
    "com.amazonaws.ecs.capability.docker-remote-api.1.25",
    "com.amazonaws.ecs.capability.docker-remote-api.1.26",
    "com.amazonaws.ecs.capability.docker-remote-api.1.27",
    "com.amazonaws.ecs.capability.docker-remote-api.1.28",
    "com.amazonaws.ecs.capability.docker-remote-api.1.29",
    "com.amazonaws.ecs.capability.docker-remote-api.1.30",
    "com.amazonaws.ecs.capability.docker-remote-api.1.31",
    "com.amazonaws.ecs.capability.docker-remote-api.1.32",
    "com.amazonaws.ecs.capability.docker-remote-api.1.40",
    "com.amazonaws.ecs.capability.docker-remote-api.1.41",
    "com.amazonaws.ecs.capability.docker-remote-api.1.44",
    "com.amazonaws.ecs.capability.logging-driver.json-file",
    "com.amazonaws.ecs.capability.logging-driver.awslogs",
    "com.amazonaws.ecs.capability.logging-driver.syslog",
    "com.amazonaws.ecs.capability.logging-driver.journald",
    "com.amazonaws.ecs.capability.logging-driver.fluentd",
    "com.amazonaws.ecs.capability.logging-driver.gelf",
    "com.amazonaws.ecs.capability.logging-driver.none",
    "com.amazonaws.ecs.capability.logging-driver.awsfirelens",
    "com.amazonaws.ecs.capability.ecr-auth",
    "com.amazonaws.ecs.capability.task-iam-role",
    "com.amazonaws.ecs.capability.task-iam-role-network-host",
    "ecs.capability.execution-role-ecr-pull",
    "ecs.capability.execution-role-awslogs",
    "ecs.capability.task-eni",
    "ecs.capability.task-cpu-mem-limit",
    "ecs.capability.container-health-check",
    "ecs.capability.container-ordering",
    "ecs.capability.full-sync",
    "ecs.capability.docker-plugin.local",
    "ecs.capability.secrets.ssm.environment-variables",
    "ecs.capability.secrets.ssm.bootstrap.log-driver",
    "ecs.capability.secrets.asm.environment-variables",
    "ecs.capability.secrets.asm.bootstrap.log-driver",
    "ecs.capability.private-registry-authentication.secretsmanager",
    "ecs.capability.env-files.s3",
    "ecs.capability.efs",
    "ecs.capability.efsAuth",
    "ecs.capability.firelens.fluentbit",
    "ecs.capability.increased-task-cpu-limit",
    "ecs.capability.pid-ipc-namespace-sharing",
    "ecs.capability.aws-appmesh",
    "ecs.capability.cni-plugin-version",
};

std::string digest_hex(const std::string& text, std::size_t chars) {
  return to_hex(sha256(text)).substr(0, chars);
}

// What the agent on an ECS-optimized AMI of `type` sends when it first registers `ec2_id`.
json agent_registration(const Scope& scope, const std::string& cluster, const state::InstanceType& type,
                        const std::string& ec2_id, const std::string& zone) {
  // One AMI per region and architecture, as the ECS-optimized AMI parameter would resolve.
  const std::string ami =
      "ami-" + digest_hex("ecs-optimized/" + scope.region + "/" + std::string(type.architecture), 17);
  const std::string vpc = "vpc-" + digest_hex("vpc/" + scope.account + "/" + scope.region, 17);
  const std::string subnet = "subnet-" + digest_hex("subnet/" + scope.account + "/" + zone, 17);
  json identity = {{"instanceId", ec2_id},
                   {"instanceType", type.name},
                   {"imageId", ami},
                   {"availabilityZone", zone},
                   {"architecture", std::string(type.architecture)},
                   {"region", scope.region},
                   {"accountId", scope.account},
                   {"privateIp", "10.0." + std::to_string(zone.back() - 'a') + "." +
                                     std::to_string(4 + std::stoi(digest_hex(ec2_id, 2), nullptr, 16) % 250)},
                   {"pendingTime", "2024-01-01T00:00:00Z"}};
  json resources = {
      {{"name", "CPU"}, {"type", "INTEGER"}, {"integerValue", state::registered_cpu_units(type)}},
      {{"name", "MEMORY"}, {"type", "INTEGER"}, {"integerValue", state::registered_memory_mib(type)}},
      {{"name", "PORTS"}, {"type", "STRINGSET"}, {"stringSetValue", kAgentReservedPorts}},
      {{"name", "PORTS_UDP"}, {"type", "STRINGSET"}, {"stringSetValue", json::array()}}};
  if (type.gpus > 0) {
    json gpus = json::array();
    for (int g = 0; g < type.gpus; ++g) {
      const std::string h = digest_hex(ec2_id + "/gpu/" + std::to_string(g), 32);
      gpus.push_back("GPU-" + h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" +
                     h.substr(16, 4) + "-" + h.substr(20, 12));
    }
    resources.push_back({{"name", "GPU"}, {"type", "STRINGSET"}, {"stringSetValue", gpus}});
  }
  json attributes = {{{"name", "ecs.os-type"}, {"value", "linux"}},
                     {{"name", "ecs.os-family"}, {"value", "LINUX"}},
                     {{"name", "ecs.vpc-id"}, {"value", vpc}},
                     {{"name", "ecs.subnet-id"}, {"value", subnet}}};
  for (const auto& capability : kAgentCapabilities) {
    attributes.push_back({{"name", capability}});
  }
  if (type.gpus > 0) {
    attributes.push_back({{"name", "ecs.capability.gpu-driver-version"}, {"value", "535.183.01"}});
  }
  return {
      {"cluster", cluster},
      {"instanceIdentityDocument", identity.dump()},
      {"instanceIdentityDocumentSignature", "berth"},
      {"totalResources", resources},
      {"versionInfo",
       {{"agentVersion", "1.89.3"}, {"agentHash", "b8e3a0bd"}, {"dockerVersion", "DockerVersion: 25.0.8"}}},
      {"attributes", attributes}};
}

Result<json> call_operation(const protocol::HandlerTable& table, const Scope& scope, const std::string& op,
                            const json& body) {
  const std::string target = "AmazonEC2ContainerServiceV20141113." + op;
  const std::string text = body.dump();
  auto call = protocol::prepare_call(protocol::AwsJsonRequest{target, text, ""}, scope, ids::request_id());
  if (!call) {
    return call.error();
  }
  auto response = protocol::invoke(table, *call);
  json out = json::parse(response.body, nullptr, false);
  if (response.status != 200) {
    return AwsError::client(out.is_object() ? out.value("__type", "ServerException") : "ServerException",
                            out.is_object() ? out.value("message", response.body) : response.body);
  }
  return out;
}

}  // namespace

Result<int> launch_instances(const protocol::HandlerTable& table, state::Store& store, const Scope& scope,
                             const InstanceLaunch& launch, const std::string& seed) {
  const state::InstanceType* type = state::find_instance_type(launch.instance_type);
  if (type == nullptr) {
    return invalid_parameter("berth does not know instance type " + launch.instance_type + ".");
  }
  if (auto made = call_operation(table, scope, "CreateCluster", {{"clusterName", launch.cluster}}); !made) {
    return made.error();
  }
  int added = 0;
  for (int i = 0; i < launch.count; ++i) {
    const std::string ec2_id =
        "i-" + digest_hex(seed + "/" + scope.account + "/" + scope.region + "/" + launch.cluster + "/" +
                              type->name + "/" + std::to_string(i),
                          17);
    const auto& instances = store.region(scope).container_instances;
    if (std::any_of(instances.begin(), instances.end(), [&](const auto& kv) {
          return kv.second.cluster_name == launch.cluster && kv.second.ec2_instance_id == ec2_id &&
                 kv.second.status != "INACTIVE";
        })) {
      continue;  // made by an earlier start with the same seed (--data-dir)
    }
    const std::string zone = scope.region + static_cast<char>('a' + i % 3);
    auto registered = call_operation(table, scope, "RegisterContainerInstance",
                                     agent_registration(scope, launch.cluster, *type, ec2_id, zone));
    if (!registered) {
      return registered.error();
    }
    ++added;
  }
  return added;
}

void register_container_instance_handlers(protocol::HandlerTable& table, EcsContext& ctx) {
  auto add = [&](const char* op, Result<json> (*fn)(EcsContext&, const protocol::Call&)) {
    table.add("ecs", op, [&ctx, fn](const protocol::Call& c) { return fn(ctx, c); });
  };
  add("RegisterContainerInstance", register_container_instance);
  add("DeregisterContainerInstance", deregister_container_instance);
  add("DescribeContainerInstances", describe_container_instances);
  add("ListContainerInstances", list_container_instances);
  add("UpdateContainerInstancesState", update_container_instances_state);
  add("UpdateContainerAgent", update_container_agent);
  add("DiscoverPollEndpoint", discover_poll_endpoint);
  add("SubmitTaskStateChange", submit_task_state_change);
  add("SubmitContainerStateChange", submit_container_state_change);
  add("SubmitAttachmentStateChanges", submit_attachment_state_changes);
  add("PutAttributes", put_attributes);
  add("DeleteAttributes", delete_attributes);
  add("ListAttributes", list_attributes);
}

}  // namespace berth::services::ecs

namespace berth::services {

Result<int> launch_container_instances(const protocol::HandlerTable& table, state::Store& store,
                                       const Scope& scope, const InstanceLaunch& launch,
                                       const std::string& seed) {
  return ecs::launch_instances(table, store, scope, launch, seed);
}

}  // namespace berth::services
