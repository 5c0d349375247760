#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace berth {

// The account and region that every request is scoped to.
struct Scope {
  std::string account;
  std::string region;
  bool operator==(const Scope&) const = default;
};

// The one ARN builder: arn:aws:<service>:<region>:<account>:<resource>.
std::string make_arn(std::string_view service, const Scope& scope, std::string_view resource);

struct ParsedArn {
  std::string partition;
  std::string service;
  std::string region;
  std::string account;
  std::string resource;  // everything after the fifth colon, e.g. "task/default/0123..."
};
std::optional<ParsedArn> parse_arn(std::string_view arn);

namespace ecs_arn {
std::string cluster(const Scope& s, std::string_view name);
std::string task_definition(const Scope& s, std::string_view family, int revision);
std::string task(const Scope& s, std::string_view cluster_name, std::string_view task_id);
std::string container(const Scope& s, std::string_view cluster_name, std::string_view task_id,
                      std::string_view container_id);
std::string service(const Scope& s, std::string_view cluster_name, std::string_view name);
std::string container_instance(const Scope& s, std::string_view cluster_name, std::string_view id);
// task_set_id is the whole "ecs-svc/<digits>" id: the ARN ends in ".../<service>/ecs-svc/<digits>".
std::string task_set(const Scope& s, std::string_view cluster_name, std::string_view service_name,
                     std::string_view task_set_id);
std::string service_deployment(const Scope& s, std::string_view cluster_name, std::string_view service_name,
                               std::string_view id);
std::string service_revision(const Scope& s, std::string_view cluster_name, std::string_view service_name,
                             std::string_view id);
std::string capacity_provider(const Scope& s, std::string_view name);
std::string daemon(const Scope& s, std::string_view cluster_name, std::string_view name);
std::string daemon_task_definition(const Scope& s, std::string_view family, int revision);
std::string daemon_revision(const Scope& s, std::string_view cluster_name, std::string_view daemon_name,
                            std::string_view id);
std::string daemon_deployment(const Scope& s, std::string_view cluster_name, std::string_view daemon_name,
                              std::string_view id);
}  // namespace ecs_arn

namespace iam_arn {
// The account's root principal, arn:aws:iam::<account>:root (IAM ARNs carry no region).
std::string root(std::string_view account);
}  // namespace iam_arn

// Accepts a bare name/id or a full ARN whose resource is `<kind>/<...>/<last>`; returns the last path segment.
// Returns nullopt for an ARN of another service or resource kind.
std::optional<std::string> resource_name_from(std::string_view name_or_arn, std::string_view service,
                                              std::string_view kind);

}  // namespace berth
