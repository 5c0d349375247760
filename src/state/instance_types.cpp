#include <berth/state/instance_types.hpp>

#include <algorithm>

namespace berth::state {

const std::vector<InstanceType>& instance_types() {
  // vCPUs, installed memory, network interfaces and GPUs as EC2 documents them per type.
  static const std::vector<InstanceType> kTypes = [] {
    std::vector<InstanceType> out;
    struct Size {
      std::string_view suffix;
      int vcpus;
      std::int64_t memory_gib_x2;  // in half GiB, for the burstable nano
      int enis;
    };
    auto family = [&](std::initializer_list<std::string_view> names, std::string_view arch,
                      std::initializer_list<Size> sizes) {
      for (auto prefix : names) {
        for (const auto& s : sizes) {
          out.push_back(InstanceType{std::string(prefix) + "." + std::string(s.suffix), s.vcpus,
                                     s.memory_gib_x2 * 512, s.enis, 0, arch});
        }
      }
    };
    const std::initializer_list<Size> burstable = {
        {"nano", 2, 1, 2},   {"micro", 2, 2, 2},   {"small", 2, 4, 3},   {"medium", 2, 8, 3},
        {"large", 2, 16, 3}, {"xlarge", 4, 32, 4}, {"2xlarge", 8, 64, 4}};
    family({"t3", "t3a"}, "x86_64", burstable);
    family({"t4g"}, "arm64", burstable);
    family({"m5"}, "x86_64",
           {{"large", 2, 16, 3},
            {"xlarge", 4, 32, 4},
            {"2xlarge", 8, 64, 4},
            {"4xlarge", 16, 128, 8},
            {"8xlarge", 32, 256, 8},
            {"12xlarge", 48, 384, 8},
            {"16xlarge", 64, 512, 15},
            {"24xlarge", 96, 768, 15}});
    family({"c5"}, "x86_64",
           {{"large", 2, 8, 3},
            {"xlarge", 4, 16, 4},
            {"2xlarge", 8, 32, 4},
            {"4xlarge", 16, 64, 8},
            {"9xlarge", 36, 144, 8},
            {"12xlarge", 48, 192, 8},
            {"18xlarge", 72, 288, 15},
            {"24xlarge", 96, 384, 15}});
    family({"r5"}, "x86_64",
           {{"large", 2, 32, 3},
            {"xlarge", 4, 64, 4},
            {"2xlarge", 8, 128, 4},
            {"4xlarge", 16, 256, 8},
            {"8xlarge", 32, 512, 8},
            {"12xlarge", 48, 768, 8},
            {"16xlarge", 64, 1024, 15},
            {"24xlarge", 96, 1536, 15}});
    family({"m6i"}, "x86_64",
           {{"large", 2, 16, 3}, {"xlarge", 4, 32, 4}, {"2xlarge", 8, 64, 4}, {"4xlarge", 16, 128, 8}});
    family({"c6i"}, "x86_64",
           {{"large", 2, 8, 3}, {"xlarge", 4, 16, 4}, {"2xlarge", 8, 32, 4}, {"4xlarge", 16, 64, 8}});
    family({"r6i"}, "x86_64",
           {{"large", 2, 32, 3}, {"xlarge", 4, 64, 4}, {"2xlarge", 8, 128, 4}, {"4xlarge", 16, 256, 8}});
    family({"m6g"}, "arm64",
           {{"medium", 1, 8, 2},
            {"large", 2, 16, 3},
            {"xlarge", 4, 32, 4},
            {"2xlarge", 8, 64, 4},
            {"4xlarge", 16, 128, 8}});
    family({"c6g"}, "arm64",
           {{"medium", 1, 4, 2},
            {"large", 2, 8, 3},
            {"xlarge", 4, 16, 4},
            {"2xlarge", 8, 32, 4},
            {"4xlarge", 16, 64, 8}});
    family({"r6g"}, "arm64",
           {{"medium", 1, 16, 2},
            {"large", 2, 32, 3},
            {"xlarge", 4, 64, 4},
            {"2xlarge", 8, 128, 4},
            {"4xlarge", 16, 256, 8}});
    // GPU types: NVIDIA T4 (g4dn) and V100 (p3).
    out.push_back(InstanceType{"g4dn.xlarge", 4, 16 * 1024, 3, 1, "x86_64"});
    out.push_back(InstanceType{"g4dn.2xlarge", 8, 32 * 1024, 3, 1, "x86_64"});
    out.push_back(InstanceType{"g4dn.12xlarge", 48, 192 * 1024, 8, 4, "x86_64"});
    out.push_back(InstanceType{"p3.2xlarge", 8, 61 * 1024, 4, 1, "x86_64"});
    return out;
  }();
  return kTypes;
}

const InstanceType* find_instance_type(std::string_view name) {
  const auto& types = instance_types();
  auto it = std::find_if(types.begin(), types.end(), [&](const InstanceType& t) { return t.name == name; });
  return it == types.end() ? nullptr : &*it;
}

std::int64_t registered_cpu_units(const InstanceType& type) { return std::int64_t{type.vcpus} * 1024; }

std::int64_t registered_memory_mib(const InstanceType& type) { return type.memory_mib * 9748 / 10000; }

int task_eni_limit(const InstanceType& type) { return std::max(type.max_enis - 1, 0); }

}  // namespace berth::state
