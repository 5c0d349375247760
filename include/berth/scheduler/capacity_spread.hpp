#pragma once
// How tasks are spread over a capacity provider strategy (RunTask's and a service's): every provider's `base`
// first, then the rest by `weight`.
#include <map>
#include <string>
#include <vector>

#include <berth/common/json.hpp>

namespace berth::scheduler {

// The provider of each of `count` new tasks under `strategy`, continuing from the tasks already placed
// (`placed`: provider -> tasks it runs), as ECS keeps a service's tasks spread. Fewer than `count` entries
// when no provider has a weight above zero and every base is met.
std::vector<std::string> spread_over_strategy(const json& strategy, int count,
                                              std::map<std::string, int> placed = {});

}  // namespace berth::scheduler
