#include <berth/scheduler/capacity_spread.hpp>

namespace berth::scheduler {

std::vector<std::string> spread_over_strategy(const json& strategy, int count,
                                              std::map<std::string, int> placed) {
  std::vector<std::string> out;
  // Bases first: each provider runs at least `base` tasks.
  std::map<std::string, int> weighted_placed;  // tasks beyond each provider's base
  for (const auto& item : strategy) {
    const std::string name = item.value("capacityProvider", "");
    const int base = item.value("base", 0);
    int& have = placed[name];
    weighted_placed[name] = std::max(0, have - base);
    while (have < base && static_cast<int>(out.size()) < count) {
      out.push_back(name);
      ++have;
    }
  }
  int total_weight = 0;
  int weighted_total = 0;
  for (const auto& item : strategy) {
    if (item.value("weight", 0) > 0) {
      total_weight += item.value("weight", 0);
      weighted_total += weighted_placed[item.value("capacityProvider", "")];
    }
  }
  while (static_cast<int>(out.size()) < count && total_weight > 0) {
    // The provider furthest below its share of the tasks beyond the bases gets the next one.
    const int n = weighted_total + 1;
    std::string best;
    double best_gap = -1e18;
    for (const auto& item : strategy) {
      const int weight = item.value("weight", 0);
      if (weight <= 0) {
        continue;
      }
      const std::string name = item.value("capacityProvider", "");
      const double gap = static_cast<double>(weight) * n / total_weight - weighted_placed[name];
      if (gap > best_gap) {
        best_gap = gap;
        best = name;
      }
    }
    ++weighted_placed[best];
    ++weighted_total;
    out.push_back(best);
  }
  return out;
}

}  // namespace berth::scheduler
