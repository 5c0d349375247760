// Account settings: per principal, with the root principal's settings as the account defaults and ECS's own
// defaults beneath those. berth has no IAM: a caller is the account's root, unless a request names a
// principal.
#include <algorithm>
#include <array>

#include <berth/services/paging.hpp>
#include "ecs_common.hpp"

namespace berth::services::ecs {
namespace {

constexpr int kMaxListResults = 10;

struct SettingRule {
  std::string_view name;
  std::array<std::string_view, 3> values;  // accepted values; empty slots unused
  std::string_view fallback;               // ECS's default when nobody set it
};

// Every setting name of the model, with the values ECS accepts and its defaults (ecs-account-settings and the
// Fargate task retirement guide; defaultLogDriverMode became non-blocking on 2025-06-25).
constexpr std::array<SettingRule, 11> kRules = {{
    {"awsvpcTrunking", {"enabled", "disabled"}, "disabled"},
    {"containerInsights", {"enabled", "disabled", "enhanced"}, "disabled"},
    {"containerInstanceLongArnFormat", {"enabled", "disabled"}, "enabled"},
    {"defaultLogDriverMode", {"blocking", "non-blocking"}, "non-blocking"},
    {"fargateEventWindows", {"enabled", "disabled"}, "disabled"},
    {"fargateFIPSMode", {"enabled", "disabled"}, "disabled"},
    {"fargateTaskRetirementWaitPeriod", {"0", "7", "14"}, "7"},
    {"guardDutyActivate", {}, "off"},
    {"serviceLongArnFormat", {"enabled", "disabled"}, "enabled"},
    {"tagResourceAuthorization", {"on", "off"}, "on"},
    {"taskLongArnFormat", {"enabled", "disabled"}, "enabled"},
}};

constexpr std::string_view kAwsManaged = "guardDutyActivate";

const SettingRule* rule_for(std::string_view name) {
  auto it = std::find_if(kRules.begin(), kRules.end(), [&](const SettingRule& r) { return r.name == name; });
  return it == kRules.end() ? nullptr : &*it;
}

json render_setting(std::string_view name, std::string_view value, std::string_view principal) {
  return {{"name", std::string(name)},
          {"value", std::string(value)},
          {"principalArn", std::string(principal)},
          {"type", name == kAwsManaged ? "aws_managed" : "user"}};
}

// The principal a request is about: the one it names, else the caller (the account's root in berth).
Result<std::string> principal_of(const json& in, const Scope& scope) {
  std::string principal = string_or(in, "principalArn", "");
  if (principal.empty()) {
    return iam_arn::root(scope.account);
  }
  auto parsed = parse_arn(principal);
  const bool valid = parsed && parsed->service == "iam" && parsed->region.empty() &&
                     parsed->account == scope.account &&
                     (parsed->resource == "root" || parsed->resource.starts_with("user/") ||
                      parsed->resource.starts_with("role/"));
  if (!valid) {
    return invalid_parameter(
        "The principal ARN " + principal +
        " is not valid. Specify the ARN of the root user, or of a user or role, of this account.");
  }
  return principal;
}

// Checks a value for setting `name` before it is stored.
std::optional<AwsError> check_value(const SettingRule& rule, const std::string& value,
                                    const std::string& principal, const Scope& scope) {
  if (rule.name == kAwsManaged) {
    return invalid_parameter("The guardDutyActivate account setting is managed by AWS and can't be changed.");
  }
  if (std::find(rule.values.begin(), rule.values.end(), value) == rule.values.end() || value.empty()) {
    std::string allowed;
    for (auto v : rule.values) {
      if (!v.empty()) {
        allowed += (allowed.empty() ? "" : ", ") + std::string(v);
      }
    }
    return invalid_parameter("The value '" + value + "' is not valid for the account setting " +
                             std::string(rule.name) + ". Valid values: " + allowed + ".");
  }
  if (rule.name == "fargateTaskRetirementWaitPeriod" && principal != iam_arn::root(scope.account)) {
    return invalid_parameter(
        "The fargateTaskRetirementWaitPeriod account setting can only be set for the root user.");
  }
  if (rule.name.ends_with("LongArnFormat") && value == "disabled") {
    // berth names every service, task and container instance in the long format; a short one it cannot give.
    return unsupported("berth always uses the long ARN format; " + std::string(rule.name) +
                       " cannot be disabled.");
  }
  return std::nullopt;
}

Result<json> put_setting(EcsContext& ctx, const protocol::Call& call, bool account_default) {
  const json& in = call.input;
  const Scope& scope = call.caller.scope;
  auto& region = ctx.store.region(scope);
  const std::string name = in.at("name").get<std::string>();
  const std::string value = in.at("value").get<std::string>();
  auto principal =
      account_default ? Result<std::string>(iam_arn::root(scope.account)) : principal_of(in, scope);
  if (!principal) {
    return principal.error();
  }
  const SettingRule* rule = rule_for(name);
  if (rule == nullptr) {
    return invalid_parameter("Unknown account setting name: " + name);
  }
  if (auto error = check_value(*rule, value, *principal, scope)) {
    return *error;
  }
  region.account_settings.by_principal[*principal][name] = value;
  return json{{"setting", render_setting(name, value, *principal)}};
}

Result<json> delete_account_setting(EcsContext& ctx, const protocol::Call& call) {
  const json& in = call.input;
  const Scope& scope = call.caller.scope;
  auto& region = ctx.store.region(scope);
  const std::string name = in.at("name").get<std::string>();
  auto principal = principal_of(in, scope);
  if (!principal) {
    return principal.error();
  }
  if (name == kAwsManaged) {
    return invalid_parameter("The guardDutyActivate account setting is managed by AWS and can't be changed.");
  }
  auto& by_principal = region.account_settings.by_principal;
  auto owner = by_principal.find(*principal);
  if (owner != by_principal.end()) {
    if (auto it = owner->second.find(name); it != owner->second.end()) {
      json out = render_setting(name, it->second, *principal);
      owner->second.erase(it);
      if (owner->second.empty()) {
        by_principal.erase(owner);
      }
      return json{{"setting", out}};
    }
  }
  // Nothing was set for that principal: the answer is what applies to it, which the delete did not change.
  return json{{"setting",
               render_setting(name, effective_account_setting(region, scope, name, *principal), *principal)}};
}

Result<json> list_account_settings(EcsContext& ctx, const protocol::Call& call) {
  const json& in = call.input;
  const Scope& scope = call.caller.scope;
  auto& region = ctx.store.region(scope);
  const std::string name_filter = string_or(in, "name", "");
  const std::string value_filter = string_or(in, "value", "");
  if (!value_filter.empty() && name_filter.empty()) {
    return invalid_parameter("The value parameter can only be used together with the name parameter.");
  }
  if (auto it = in.find("maxResults"); it != in.end() && (*it < 1 || *it > kMaxListResults)) {
    return invalid_parameter("maxResults must be between 1 and 10.");
  }
  auto principal = principal_of(in, scope);
  if (!principal) {
    return principal.error();
  }
  const std::string root = iam_arn::root(scope.account);
  const bool effective = in.value("effectiveSettings", false);
  const auto& by_principal = region.account_settings.by_principal;
  auto explicit_of = [&](const std::string& who, std::string_view name) -> std::optional<std::string> {
    auto owner = by_principal.find(who);
    if (owner == by_principal.end()) {
      return std::nullopt;
    }
    auto it = owner->second.find(std::string(name));
    return it == owner->second.end() ? std::nullopt : std::optional<std::string>(it->second);
  };

  std::map<std::string, json> by_name;
  for (const auto& rule : kRules) {
    if (!name_filter.empty() && rule.name != name_filter) {
      continue;
    }
    json setting;
    if (auto own = explicit_of(*principal, rule.name)) {
      setting = render_setting(rule.name, *own, *principal);
    } else if (effective) {
      auto account_default = explicit_of(root, rule.name);
      setting =
          render_setting(rule.name, account_default ? *account_default : std::string(rule.fallback), root);
    } else {
      continue;
    }
    if (!value_filter.empty() && setting["value"] != value_filter) {
      continue;
    }
    by_name.emplace(std::string(rule.name), std::move(setting));
  }
  std::vector<std::string> keys;
  for (const auto& [key, value] : by_name) {
    keys.push_back(key);
  }
  auto page = paginate_input(keys, in, kMaxListResults);
  if (!page) {
    return page.error();
  }
  json settings = json::array();
  for (const auto& key : page->items) {
    settings.push_back(by_name[key]);
  }
  json out = {{"settings", settings}};
  if (!page->next_token.empty()) {
    out["nextToken"] = page->next_token;
  }
  return out;
}

}  // namespace

std::string effective_account_setting(const state::RegionState& region, const Scope& scope,
                                      std::string_view name, std::string_view principal_arn) {
  const std::string root = iam_arn::root(scope.account);
  const auto& by_principal = region.account_settings.by_principal;
  for (std::string_view who :
       {principal_arn.empty() ? std::string_view(root) : principal_arn, std::string_view(root)}) {
    if (auto owner = by_principal.find(who); owner != by_principal.end()) {
      if (auto it = owner->second.find(std::string(name)); it != owner->second.end()) {
        return it->second;
      }
    }
  }
  const SettingRule* rule = rule_for(name);
  return rule == nullptr ? std::string() : std::string(rule->fallback);
}

void register_account_setting_handlers(protocol::HandlerTable& table, EcsContext& ctx) {
  table.add("ecs", "PutAccountSetting",
            [&ctx](const protocol::Call& c) { return put_setting(ctx, c, false); });
  table.add("ecs", "PutAccountSettingDefault",
            [&ctx](const protocol::Call& c) { return put_setting(ctx, c, true); });
  table.add("ecs", "DeleteAccountSetting",
            [&ctx](const protocol::Call& c) { return delete_account_setting(ctx, c); });
  table.add("ecs", "ListAccountSettings",
            [&ctx](const protocol::Call& c) { return list_account_settings(ctx, c); });
}

}  // namespace berth::services::ecs
