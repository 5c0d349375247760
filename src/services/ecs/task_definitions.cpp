#include <algorithm>
#include <cmath>
#include <set>

#include "ecs_common.hpp"
#include <berth/protocol/projection.hpp>
#include <berth/services/paging.hpp>

namespace berth::services::ecs {
namespace {

bool valid_family(const std::string& s) {
  return !s.empty() && s.size() <= 255 && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// "1 vCPU", "0.25 vcpu" or plain units -> CPU units; "2GB", "2 gb" or plain MiB -> MiB. Returns "" if invalid.
std::string normalize_units(const std::string& raw, const char* unit, int scale) {
  std::string s = lower(raw);
  s.erase(std::remove(s.begin(), s.end(), ' '), s.end());
  bool scaled = false;
  if (s.size() > std::strlen(unit) && s.ends_with(unit)) {
    s.resize(s.size() - std::strlen(unit));
    scaled = true;
  }
  if (s.empty() || s.size() > 12 || !std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(c) || c == '.'; }) ||
      std::count(s.begin(), s.end(), '.') > 1 || s == ".") {
    return "";
  }
  double v = std::stod(s);
  if (scaled) {
    v *= scale;
  } else if (s.find('.') != std::string::npos) {
    return "";
  }
  if (v <= 0 || v > 1e9 || std::floor(v) != v) {
    return "";
  }
  return std::to_string(static_cast<long long>(v));
}

// The Fargate cpu -> memory table (MiB).
bool fargate_pair_valid(long cpu, long memory) {
  struct Row {
    long cpu, lo, hi, step;
  };
  static constexpr Row kRows[] = {{256, 512, 2048, 0},        {512, 1024, 4096, 1024},   {1024, 2048, 8192, 1024},
                                  {2048, 4096, 16384, 1024},  {4096, 8192, 30720, 1024}, {8192, 16384, 61440, 4096},
                                  {16384, 32768, 122880, 8192}};
  for (const auto& r : kRows) {
    if (r.cpu != cpu) {
      continue;
    }
    if (r.step == 0) {
      return memory == 512 || memory == 1024 || memory == 2048;
    }
    return memory >= r.lo && memory <= r.hi && (memory - r.lo) % r.step == 0;
  }
  return false;
}

bool has_value(const json& list, const char* v) {
  return list.is_array() && std::any_of(list.begin(), list.end(), [&](const json& x) { return x == v; });
}

// Validates a RegisterTaskDefinition request as ECS does and returns the taskDefinition document ECS would
// store: the caller's fields, defaults filled in, cpu/memory normalised to units and MiB.
Result<json> build_document(const json& in, const Scope& scope, const protocol::ServiceModel& model) {
  // Stored as the TaskDefinition output shape describes it: members the model does not know are not kept.
  json doc = protocol::project_to_shape(model, "TaskDefinition", in);
  const std::string family = in.value("family", "");
  if (!valid_family(family)) {
    return client_exception("Family contains invalid characters.");
  }
  const std::string network_mode = in.value("networkMode", "bridge");
  doc["networkMode"] = network_mode;
  for (const char* key : {"cpu", "memory"}) {
    if (in.contains(key)) {
      std::string norm = std::string(key) == "cpu" ? normalize_units(in[key].get<std::string>(), "vcpu", 1024)
                                                   : normalize_units(in[key].get<std::string>(), "gb", 1024);
      if (norm.empty()) {
        return client_exception("Invalid '" + std::string(key) + "' setting for task.");
      }
      doc[key] = norm;
    }
  }
  const json defs = doc["containerDefinitions"];
  if (defs.empty()) {
    return client_exception("Container list cannot be empty.");
  }
  std::set<std::string> names;
  bool any_essential = false;
  json containers = json::array();
  for (json c : defs) {
    const std::string name = c.value("name", "");
    if (name.empty()) {
      return client_exception("Container.name should not be null or empty.");
    }
    if (!valid_family(name)) {
      return client_exception("Container name contains invalid characters.");
    }
    if (!names.insert(name).second) {
      return client_exception("Duplicate container names are not allowed.");
    }
    if (c.value("image", "").empty()) {
      return client_exception("Container.image should not be null or empty.");
    }
    const bool has_memory = c.contains("memory");
    const bool has_reservation = c.contains("memoryReservation");
    if (!doc.contains("memory") && !has_memory && !has_reservation) {
      return client_exception("Invalid setting for container '" + name +
                              "'. At least one of 'memory' or 'memoryReservation' must be specified.");
    }
    if (has_memory && has_reservation && c["memory"].get<long>() <= c["memoryReservation"].get<long>()) {
      return client_exception("Invalid setting for container '" + name +
                              "'. 'memory' must be greater than 'memoryReservation'.");
    }
    if (has_memory && c["memory"].get<long>() < 6) {
      return client_exception("Invalid setting for container '" + name +
                              "'. The minimum allowed value for 'memory' is 6 MiB.");
    }
    c["essential"] = c.value("essential", true);
    any_essential = any_essential || c["essential"].get<bool>();
    c["cpu"] = c.value("cpu", 0);
    json ports = json::array();
    for (json pm : c.value("portMappings", json::array())) {
      pm["protocol"] = pm.value("protocol", "tcp");
      if ((network_mode == "awsvpc" || network_mode == "host") && pm.contains("containerPort")) {
        if (pm.contains("hostPort") && pm["hostPort"] != pm["containerPort"]) {
          return client_exception("When networkMode=" + network_mode +
                                  ", the host ports must either be undefined or equal to the container port.");
        }
        pm["hostPort"] = pm["containerPort"];
      }
      ports.push_back(pm);
    }
    c["portMappings"] = ports;
    for (const char* list_key : {"environment", "mountPoints", "volumesFrom"}) {
      if (!c.contains(list_key)) {
        c[list_key] = json::array();
      }
    }
    containers.push_back(c);
  }
  if (!any_essential) {
    return client_exception("A task definition must have at least one essential container.");
  }
  doc["containerDefinitions"] = containers;
  if (!doc.contains("volumes")) {
    doc["volumes"] = json::array();
  }
  if (!doc.contains("placementConstraints")) {
    doc["placementConstraints"] = json::array();
  }

  const json requires_compat = in.value("requiresCompatibilities", json::array());
  bool fargate_ok = network_mode == "awsvpc" && doc.contains("cpu") && doc.contains("memory") &&
                    fargate_pair_valid(std::stol(doc["cpu"].get<std::string>()),
                                              std::stol(doc["memory"].get<std::string>()));
  if (has_value(requires_compat, "FARGATE")) {
    if (network_mode != "awsvpc") {
      return client_exception("Fargate only supports network mode \u2018awsvpc\u2019.");
    }
    if (!doc.contains("cpu")) {
      return client_exception("Fargate requires that 'cpu' be defined at the task level.");
    }
    if (!doc.contains("memory")) {
      return client_exception("Fargate requires that 'memory' be defined at the task level.");
    }
    if (!fargate_ok) {
      return client_exception("No Fargate configuration exists for given values: " +
                              doc["cpu"].get<std::string>() + " CPU, " + doc["memory"].get<std::string>() +
                              " memory. See the Amazon ECS documentation for the valid values.");
    }
  }
  json compat = json::array();
  if (network_mode != "awsvpc") {
    compat.push_back("EXTERNAL");
  }
  compat.push_back("EC2");
  if (fargate_ok) {
    compat.push_back("FARGATE");
  }
  doc["compatibilities"] = compat;
  doc["registeredBy"] = make_arn("iam", Scope{scope.account, ""}, "root");
  return doc;
}

Result<json> register_task_definition(EcsContext& ctx, const protocol::Call& call) {
  const Scope& scope = call.caller.scope;
  auto doc = build_document(call.input, scope, *call.service);
  if (!doc) {
    return doc.error();
  }
  auto& region = ctx.store.region(scope);
  const std::string family = call.input["family"].get<std::string>();
  auto& revisions = region.task_definitions[family];
  state::TaskDefinition td;
  td.family = family;
  td.revision = static_cast<int>(revisions.size()) + 1;
  td.arn = ecs_arn::task_definition(scope, family, td.revision);
  td.status = "ACTIVE";
  td.tags = call.input.value("tags", json::array());
  td.doc = std::move(doc).value();
  td.doc["taskDefinitionArn"] = td.arn;
  td.doc["revision"] = td.revision;
  td.doc["registeredAt"] = to_epoch_seconds(ctx.clock.now_ms());
  revisions.push_back(td);
  json out = {{"taskDefinition", render_task_definition(revisions.back())}};
  if (!td.tags.empty()) {
    out["tags"] = td.tags;
  }
  return out;
}

Result<json> describe_task_definition(EcsContext& ctx, const protocol::Call& call) {
  auto& region = ctx.store.region(call.caller.scope);
  auto* td = find_task_definition(region, call.input["taskDefinition"].get<std::string>());
  if (td == nullptr) {
    return client_exception("Unable to describe task definition.");
  }
  json out = {{"taskDefinition", render_task_definition(*td)}};
  if (has_value(call.input.value("include", json::array()), "TAGS")) {
    out["tags"] = td->tags;
  }
  return out;
}

Result<json> deregister_task_definition(EcsContext& ctx, const protocol::Call& call) {
  auto& region = ctx.store.region(call.caller.scope);
  const std::string ref = call.input["taskDefinition"].get<std::string>();
  // Deregistration names an exact revision.
  if (ref.find(':') == std::string::npos || (ref.starts_with("arn:") && ref.rfind(':') < ref.find("task-definition/"))) {
    return invalid_parameter("Invalid revision number. Number: " + ref);
  }
  auto* td = find_task_definition(region, ref);
  if (td == nullptr) {
    return client_exception("The specified task definition does not exist.");
  }
  if (td->status == "ACTIVE") {
    td->status = "INACTIVE";
    td->doc["deregisteredAt"] = to_epoch_seconds(ctx.clock.now_ms());
  }
  return json{{"taskDefinition", render_task_definition(*td)}};
}

Result<json> list_task_definitions(EcsContext& ctx, const protocol::Call& call) {
  auto& region = ctx.store.region(call.caller.scope);
  const std::string prefix = call.input.value("familyPrefix", "");
  const std::string status = call.input.value("status", "ACTIVE");
  const bool descending = call.input.value("sort", "ASC") == "DESC";
  // ECS orders by family, then revision (numerically); DESC reverses both.
  std::vector<std::pair<std::string, int>> found;
  std::map<std::pair<std::string, int>, std::string> arn_of;
  for (const auto& [family, revisions] : region.task_definitions) {
    if (!prefix.empty() && family != prefix) {
      continue;
    }
    for (const auto& td : revisions) {
      if (td.status == status) {
        found.emplace_back(family, td.revision);
        arn_of[{family, td.revision}] = td.arn;
      }
    }
  }
  std::sort(found.begin(), found.end());
  if (descending) {
    std::reverse(found.begin(), found.end());
  }
  // Tokens name a position in that order, zero-padded so that positions sort as strings.
  std::vector<std::string> positions;
  positions.reserve(found.size());
  for (std::size_t i = 0; i < found.size(); ++i) {
    char pos[24];
    std::snprintf(pos, sizeof(pos), "%012zu", i);
    positions.emplace_back(pos);
  }
  auto page = paginate_input(positions, call.input, 100);
  if (!page) {
    return page.error();
  }
  json arns = json::array();
  for (const auto& p : page->items) {
    arns.push_back(arn_of[found[std::stoul(p)]]);
  }
  json out = {{"taskDefinitionArns", arns}};
  if (!page->next_token.empty()) {
    out["nextToken"] = page->next_token;
  }
  return out;
}

Result<json> list_task_definition_families(EcsContext& ctx, const protocol::Call& call) {
  auto& region = ctx.store.region(call.caller.scope);
  const std::string prefix = call.input.value("familyPrefix", "");
  const std::string status = call.input.value("status", "ACTIVE");
  std::vector<std::string> families;
  for (const auto& [family, revisions] : region.task_definitions) {
    if (!family.starts_with(prefix)) {
      continue;
    }
    bool active = std::any_of(revisions.begin(), revisions.end(), [](const auto& td) { return td.status == "ACTIVE"; });
    if (status == "ALL" || (status == "ACTIVE" && active) || (status == "INACTIVE" && !active)) {
      families.push_back(family);
    }
  }
  auto page = paginate_input(families, call.input, 100);
  if (!page) {
    return page.error();
  }
  json out = {{"families", page->items}};
  if (!page->next_token.empty()) {
    out["nextToken"] = page->next_token;
  }
  return out;
}

// DeleteTaskDefinitions: INACTIVE revisions move to DELETE_IN_PROGRESS (and stay listed and describable by
// revision while ECS would still be cleaning up); anything else is reported in `failures`.
Result<json> delete_task_definitions(EcsContext& ctx, const protocol::Call& call) {
  const Scope& scope = call.caller.scope;
  auto& region = ctx.store.region(scope);
  const json& refs = call.input["taskDefinitions"];
  if (refs.size() > 10) {
    return invalid_parameter("You can specify up to 10 task definitions in a single call.");
  }
  const TimeMs now = ctx.clock.now_ms();
  json deleted = json::array();
  json failures = json::array();
  for (const auto& ref_json : refs) {
    const std::string ref = ref_json.get<std::string>();
    std::string family_rev = ref;
    if (ref.starts_with("arn:")) {
      auto parsed = parse_arn(ref);
      if (!parsed || parsed->service != "ecs" || !parsed->resource.starts_with("task-definition/")) {
        return invalid_parameter("Invalid task definition ARN: " + ref);
      }
      family_rev = parsed->resource.substr(std::string("task-definition/").size());
    }
    const auto colon = family_rev.rfind(':');
    const std::string rev = colon == std::string::npos ? "" : family_rev.substr(colon + 1);
    if (rev.empty() || rev.size() > 9 || !std::all_of(rev.begin(), rev.end(), ::isdigit)) {
      return invalid_parameter("A task definition revision must be specified: " + ref);
    }
    const std::string family = family_rev.substr(0, colon);
    const int revision = std::stoi(rev);
    const std::string arn = ecs_arn::task_definition(scope, family, revision);
    auto it = region.task_definitions.find(family);
    if (it == region.task_definitions.end() || revision < 1 || revision > static_cast<int>(it->second.size()) ||
        (ref.starts_with("arn:") && ref != arn)) {
      failures.push_back({{"arn", arn}, {"reason", "MISSING"}, {"detail", "The specified task definition does not exist."}});
      continue;
    }
    auto& td = it->second[revision - 1];
    if (td.status == "ACTIVE") {
      failures.push_back({{"arn", arn},
                          {"reason", "ACTIVE"},
                          {"detail", "The task definition must be deregistered (INACTIVE) before it can be deleted."}});
      continue;
    }
    if (td.status == "INACTIVE") {
      td.status = "DELETE_IN_PROGRESS";
      td.doc["deleteRequestedAt"] = to_epoch_seconds(now);
    }
    deleted.push_back(render_task_definition(td));
  }
  return json{{"taskDefinitions", deleted}, {"failures", failures}};
}

}  // namespace

std::string normalize_task_cpu(const std::string& raw) { return normalize_units(raw, "vcpu", 1024); }
std::string normalize_task_memory(const std::string& raw) { return normalize_units(raw, "gb", 1024); }
bool fargate_combination_valid(long cpu, long memory) { return fargate_pair_valid(cpu, memory); }

void register_task_definition_handlers(protocol::HandlerTable& table, EcsContext& ctx) {
  table.add("ecs", "RegisterTaskDefinition", [&ctx](const protocol::Call& c) { return register_task_definition(ctx, c); });
  table.add("ecs", "DescribeTaskDefinition", [&ctx](const protocol::Call& c) { return describe_task_definition(ctx, c); });
  table.add("ecs", "DeregisterTaskDefinition",
            [&ctx](const protocol::Call& c) { return deregister_task_definition(ctx, c); });
  table.add("ecs", "ListTaskDefinitions", [&ctx](const protocol::Call& c) { return list_task_definitions(ctx, c); });
  table.add("ecs", "ListTaskDefinitionFamilies",
            [&ctx](const protocol::Call& c) { return list_task_definition_families(ctx, c); });
  table.add("ecs", "DeleteTaskDefinitions", [&ctx](const protocol::Call& c) { return delete_task_definitions(ctx, c); });
}

}  // namespace berth::services::ecs
