// TagResource, UntagResource and ListTagsForResource over every taggable ECS resource, through one function
// that maps an ARN to the resource's tag list.
#include <algorithm>
#include <array>
#include <vector>

#include "ecs_common.hpp"

namespace berth::services::ecs {
namespace {

constexpr std::size_t kMaxTags = 50;

bool reserved(const std::string& text) {
  if (text.size() < 4) {
    return false;
  }
  std::string prefix = text.substr(0, 4);
  std::transform(prefix.begin(), prefix.end(), prefix.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return prefix == "aws:";
}

AwsError invalid_arn() { return invalid_parameter("The ARN provided is invalid."); }
AwsError resource_not_found() {
  return AwsError::client("ResourceNotFoundException", "The specified resource wasn't found.");
}

// An ECS ARN of this scope split into its resource path, e.g. {"task", "dev", "0123..."}.
struct EcsResource {
  std::vector<std::string> path;
  bool in_scope = true;  // the ARN names this account and region
};

using Finder = Result<json*> (*)(state::RegionState&, const Scope&, const EcsResource&);

Result<json*> cluster_tags(state::RegionState& region, const Scope& /*scope*/, const EcsResource& r) {
  if (r.path.size() != 2) {
    return invalid_arn();
  }
  auto it = region.clusters.find(r.path[1]);
  if (!r.in_scope || it == region.clusters.end()) {
    return AwsError::client("ClusterNotFoundException", "Cluster not found.");
  }
  if (it->second.status == "INACTIVE") {
    return AwsError::client("ClusterNotFoundException", "The referenced cluster was inactive.");
  }
  return &it->second.tags;
}

Result<json*> task_definition_tags(state::RegionState& region, const Scope& /*scope*/, const EcsResource& r) {
  // Only a revision can be tagged: family:revision.
  if (r.path.size() != 2 || r.path[1].find(':') == std::string::npos) {
    return invalid_arn();
  }
  auto* td = r.in_scope ? find_task_definition(region, r.path[1]) : nullptr;
  if (td == nullptr) {
    return resource_not_found();
  }
  return &td->tags;
}

Result<json*> task_tags(state::RegionState& region, const Scope& /*scope*/, const EcsResource& r) {
  if (r.path.size() == 2) {
    return invalid_parameter("Long arn format must be used for tagging operations");
  }
  if (r.path.size() != 3) {
    return invalid_arn();
  }
  auto it = region.tasks.find(r.path[2]);
  if (!r.in_scope || it == region.tasks.end() || it->second.cluster_name != r.path[1]) {
    return resource_not_found();
  }
  return &it->second.tags;
}

Result<json*> capacity_provider_tags(state::RegionState& region, const Scope& /*scope*/,
                                     const EcsResource& r) {
  if (r.path.size() != 2) {
    return invalid_arn();
  }
  if (is_fargate_provider(r.path[1])) {
    return invalid_parameter(
        "The FARGATE and FARGATE_SPOT capacity providers are reserved and can't be tagged.");
  }
  auto it = region.capacity_providers.find(r.path[1]);
  if (!r.in_scope || it == region.capacity_providers.end() || it->second.status == "INACTIVE") {
    return resource_not_found();
  }
  return &it->second.tags;
}

// A long-format service ARN has a cluster segment; the short one cannot be tagged.
Result<json*> service_tags(state::RegionState& region, const Scope& /*scope*/, const EcsResource& r) {
  if (r.path.size() == 2) {
    return invalid_parameter("Long arn format must be used for tagging operations");
  }
  if (r.path.size() != 3) {
    return invalid_arn();
  }
  auto it = region.services.find(state::service_key(r.path[1], r.path[2]));
  if (!r.in_scope || it == region.services.end() || it->second.status == "INACTIVE") {
    return resource_not_found();
  }
  return &it->second.tags;
}

Result<json*> container_instance_tags(state::RegionState& region, const Scope& /*scope*/, const EcsResource& r) {
  if (r.path.size() == 2) {
    return invalid_parameter("Long arn format must be used for tagging operations");
  }
  if (r.path.size() != 3) {
    return invalid_arn();
  }
  auto it = region.container_instances.find(r.path[2]);
  if (!r.in_scope || it == region.container_instances.end() || it->second.cluster_name != r.path[1] ||
      it->second.status == "INACTIVE") {
    return resource_not_found();
  }
  return &it->second.tags;
}

// task-set/<cluster>/<service>/<id>, where the id itself holds a slash (ecs-svc/<digits>).
Result<json*> task_set_tags(state::RegionState& region, const Scope& /*scope*/, const EcsResource& r) {
  if (r.path.size() < 4) {
    return invalid_arn();
  }
  auto it = region.services.find(state::service_key(r.path[1], r.path[2]));
  if (r.in_scope && it != region.services.end()) {
    std::string id = r.path[3];
    for (std::size_t k = 4; k < r.path.size(); ++k) {
      id += "/" + r.path[k];
    }
    for (auto& ts : it->second.task_sets) {
      if (ts.id == id) {
        return &ts.tags;
      }
    }
  }
  return resource_not_found();
}

// The taggable resource kinds, by the first segment of the ARN's resource. A new kind is one more row.
constexpr std::array<std::pair<std::string_view, Finder>, 7> kTaggable = {{
    {"cluster", cluster_tags},
    {"task-definition", task_definition_tags},
    {"task", task_tags},
    {"capacity-provider", capacity_provider_tags},
    {"service", service_tags},
    {"container-instance", container_instance_tags},
    {"task-set", task_set_tags},
}};

Result<json> tag_resource(EcsContext& ctx, const protocol::Call& call) {
  const json& in = call.input;
  auto& region = ctx.store.region(call.caller.scope);
  auto tags = resource_tags(region, call.caller.scope, in.at("resourceArn").get<std::string>());
  if (!tags) {
    return tags.error();
  }
  const json& add = in.at("tags");
  if (auto error = check_tags(add)) {
    return *error;
  }
  json merged = **tags;
  for (const auto& tag : add) {
    const std::string key = tag.value("key", "");
    auto it =
        std::find_if(merged.begin(), merged.end(), [&](const json& t) { return t.value("key", "") == key; });
    if (it != merged.end()) {
      (*it)["value"] = tag.value("value", "");
    } else {
      merged.push_back({{"key", key}, {"value", tag.value("value", "")}});
    }
  }
  if (merged.size() > kMaxTags) {
    return invalid_parameter("A resource can have at most 50 tags; this request would give it " +
                             std::to_string(merged.size()) + ".");
  }
  **tags = std::move(merged);
  return json::object();
}

Result<json> untag_resource(EcsContext& ctx, const protocol::Call& call) {
  const json& in = call.input;
  auto& region = ctx.store.region(call.caller.scope);
  auto tags = resource_tags(region, call.caller.scope, in.at("resourceArn").get<std::string>());
  if (!tags) {
    return tags.error();
  }
  const json& keys = in.at("tagKeys");
  for (const auto& key : keys) {
    if (reserved(key.get<std::string>())) {
      return invalid_parameter(
          "Tag keys that start with aws: are reserved for AWS use and can't be removed.");
    }
  }
  json& list = **tags;
  list.erase(std::remove_if(list.begin(), list.end(),
                            [&](const json& t) {
                              return std::find(keys.begin(), keys.end(), json(t.value("key", ""))) !=
                                     keys.end();
                            }),
             list.end());
  return json::object();
}

Result<json> list_tags_for_resource(EcsContext& ctx, const protocol::Call& call) {
  auto& region = ctx.store.region(call.caller.scope);
  auto tags = resource_tags(region, call.caller.scope, call.input.at("resourceArn").get<std::string>());
  if (!tags) {
    return tags.error();
  }
  return json{{"tags", **tags}};
}

}  // namespace

std::optional<AwsError> check_tags(const json& tags) {
  for (const auto& tag : tags) {
    if (tag.value("key", "").empty()) {
      return invalid_parameter("Every tag needs a key.");
    }
    if (reserved(tag.value("key", "")) || reserved(tag.value("value", ""))) {
      return invalid_parameter("Tag keys and values can't start with aws:, which is reserved for AWS use.");
    }
  }
  return std::nullopt;
}

Result<json*> resource_tags(state::RegionState& region, const Scope& scope, std::string_view arn) {
  auto parsed = parse_arn(arn);
  if (!parsed || parsed->service != "ecs") {
    return invalid_arn();
  }
  EcsResource r;
  r.in_scope = parsed->region == scope.region && parsed->account == scope.account;
  std::string_view rest = parsed->resource;
  for (;;) {
    auto slash = rest.find('/');
    r.path.emplace_back(rest.substr(0, slash));
    if (slash == std::string_view::npos) {
      break;
    }
    rest.remove_prefix(slash + 1);
  }
  if (std::any_of(r.path.begin(), r.path.end(), [](const std::string& p) { return p.empty(); })) {
    return invalid_arn();
  }
  for (const auto& [kind, find] : kTaggable) {
    if (r.path[0] == kind) {
      return find(region, scope, r);
    }
  }
  return invalid_arn();
}

void register_tag_handlers(protocol::HandlerTable& table, EcsContext& ctx) {
  table.add("ecs", "TagResource",
            [&ctx](const protocol::Call& c) { return tag_resource(ctx, c); });
  table.add("ecs", "UntagResource",
            [&ctx](const protocol::Call& c) { return untag_resource(ctx, c); });
  table.add("ecs", "ListTagsForResource",
            [&ctx](const protocol::Call& c) { return list_tags_for_resource(ctx, c); });
}

}  // namespace berth::services::ecs
