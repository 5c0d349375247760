#include <berth/common/arn.hpp>

namespace berth {

std::string make_arn(std::string_view service, const Scope& scope, std::string_view resource) {
  std::string arn = "arn:aws:";
  arn.append(service).append(":").append(scope.region).append(":").append(scope.account).append(":");
  arn.append(resource);
  return arn;
}

std::optional<ParsedArn> parse_arn(std::string_view arn) {
  if (!arn.starts_with("arn:")) {
    return std::nullopt;
  }
  ParsedArn out;
  std::string_view rest = arn.substr(4);
  std::string* fields[] = {&out.partition, &out.service, &out.region, &out.account};
  for (auto* field : fields) {
    auto colon = rest.find(':');
    if (colon == std::string_view::npos) {
      return std::nullopt;
    }
    field->assign(rest.substr(0, colon));
    rest.remove_prefix(colon + 1);
  }
  if (rest.empty() || out.partition.empty() || out.service.empty()) {
    return std::nullopt;
  }
  out.resource.assign(rest);
  return out;
}

namespace ecs_arn {
namespace {
std::string join(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (auto p : parts) {
    if (!out.empty()) {
      out.push_back('/');
    }
    out.append(p);
  }
  return out;
}
}  // namespace

std::string cluster(const Scope& s, std::string_view name) { return make_arn("ecs", s, join({"cluster", name})); }
std::string task_definition(const Scope& s, std::string_view family, int revision) {
  return make_arn("ecs", s, "task-definition/" + std::string(family) + ":" + std::to_string(revision));
}
std::string task(const Scope& s, std::string_view cluster_name, std::string_view task_id) {
  return make_arn("ecs", s, join({"task", cluster_name, task_id}));
}
std::string container(const Scope& s, std::string_view cluster_name, std::string_view task_id,
                      std::string_view container_id) {
  return make_arn("ecs", s, join({"container", cluster_name, task_id, container_id}));
}
std::string service(const Scope& s, std::string_view cluster_name, std::string_view name) {
  return make_arn("ecs", s, join({"service", cluster_name, name}));
}
std::string container_instance(const Scope& s, std::string_view cluster_name, std::string_view id) {
  return make_arn("ecs", s, join({"container-instance", cluster_name, id}));
}
std::string task_set(const Scope& s, std::string_view cluster_name, std::string_view service_name,
                     std::string_view task_set_id) {
  return make_arn("ecs", s, join({"task-set", cluster_name, service_name, task_set_id}));
}
std::string service_deployment(const Scope& s, std::string_view cluster_name, std::string_view service_name,
                               std::string_view id) {
  return make_arn("ecs", s, join({"service-deployment", cluster_name, service_name, id}));
}
std::string daemon(const Scope& s, std::string_view cluster_name, std::string_view name) {
  return make_arn("ecs", s, join({"daemon", cluster_name, name}));
}
std::string daemon_task_definition(const Scope& s, std::string_view family, int revision) {
  return make_arn("ecs", s, "daemon-task-definition/" + std::string(family) + ":" + std::to_string(revision));
}
std::string daemon_revision(const Scope& s, std::string_view cluster_name, std::string_view daemon_name,
                            std::string_view id) {
  return make_arn("ecs", s, join({"daemon-revision", cluster_name, daemon_name, id}));
}
std::string daemon_deployment(const Scope& s, std::string_view cluster_name, std::string_view daemon_name,
                              std::string_view id) {
  return make_arn("ecs", s, join({"daemon-deployment", cluster_name, daemon_name, id}));
}
std::string service_revision(const Scope& s, std::string_view cluster_name, std::string_view service_name,
                             std::string_view id) {
  return make_arn("ecs", s, join({"service-revision", cluster_name, service_name, id}));
}
std::string capacity_provider(const Scope& s, std::string_view name) {
  return make_arn("ecs", s, join({"capacity-provider", name}));
}
}  // namespace ecs_arn

namespace iam_arn {
std::string root(std::string_view account) { return make_arn("iam", Scope{std::string(account), ""}, "root"); }
}  // namespace iam_arn

std::optional<std::string> resource_name_from(std::string_view name_or_arn, std::string_view service,
                                              std::string_view kind) {
  if (!name_or_arn.starts_with("arn:")) {
    return std::string(name_or_arn);
  }
  auto parsed = parse_arn(name_or_arn);
  if (!parsed || parsed->service != service) {
    return std::nullopt;
  }
  std::string_view res = parsed->resource;
  if (!res.starts_with(kind) || res.size() <= kind.size() || res[kind.size()] != '/') {
    return std::nullopt;
  }
  auto slash = res.rfind('/');
  auto last = res.substr(slash + 1);
  if (last.empty()) {
    return std::nullopt;
  }
  return std::string(last);
}

}  // namespace berth
