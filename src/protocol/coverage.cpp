#include <berth/protocol/coverage.hpp>

namespace berth::protocol {

std::string coverage_markdown(const HandlerTable& table) {
  std::string out;
  out += "| Service | Target prefix | Operations answered | Of the model's |\n";
  out += "|---|---|---|---|\n";
  for (const ServiceModel* s : builtin_services()) {
    int n = 0;
    for (const auto& [name, op] : s->operations) {
      n += table.has(s->id, name) ? 1 : 0;
    }
    out += "| " + s->id + " | `" + s->target_prefix + "` | " + std::to_string(n) + " | " +
           std::to_string(s->operations.size()) + " |\n";
  }
  for (const ServiceModel* s : builtin_services()) {
    std::string supported;
    for (const auto& [name, op] : s->operations) {
      if (table.has(s->id, name)) {
        supported += (supported.empty() ? "" : ", ") + ("`" + name + "`");
      }
    }
    out += "\n**" + s->id + "** supported: " + (supported.empty() ? std::string("none yet") : supported) + ".\n";
  }
  return out;
}

}  // namespace berth::protocol
