#pragma once
// The ECS cluster query language: `subject operator [argument]` expressions joined with and/or/not and
// parentheses. ListContainerInstances filters with it today; memberOf placement constraints will use it too.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <berth/common/clock.hpp>
#include <berth/common/result.hpp>

namespace berth::state {

// What an expression can look at on one container instance.
struct QueryTarget {
  bool agent_connected = false;
  std::string agent_version;  // empty when the agent did not report one
  std::string ec2_instance_id;
  TimeMs registered_at = 0;
  int running_tasks_count = 0;
  const std::map<std::string, std::optional<std::string>, std::less<>>* attributes = nullptr;
  std::vector<std::string> task_groups;  // the groups of the tasks on the instance
};

class ClusterQuery {
 public:
  struct Node;

  // Parses an expression. A malformed one is InvalidParameterException with a message naming the problem.
  static Result<ClusterQuery> parse(std::string_view expression);

  bool matches(const QueryTarget& target) const;

 private:
  explicit ClusterQuery(std::shared_ptr<const Node> root) : root_(std::move(root)) {}
  std::shared_ptr<const Node> root_;
};

// Longest expression accepted (the memberOf limit ECS documents).
inline constexpr std::size_t kMaxQueryLength = 2000;

}  // namespace berth::state
