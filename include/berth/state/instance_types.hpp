#pragma once
// EC2 instance types as ECS sees them: what the ECS agent on an ECS-optimized AMI registers for each, so a
// container instance of a type has the capacity it would have on AWS.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace berth::state {

struct InstanceType {
  std::string name;
  int vcpus = 0;
  std::int64_t memory_mib = 0;  // installed memory, as EC2 advertises it
  int max_enis = 0;             // network interfaces the type supports, the primary one included
  int gpus = 0;
  std::string_view architecture;  // x86_64 | arm64 (as ecs.cpu-architecture spells it)
};

// The types berth knows (t3, t3a, t4g, m5, c5, r5, m6i, c6i, r6i, m6g, c6g, r6g, g4dn, p3), in family order.
const std::vector<InstanceType>& instance_types();
// nullptr for a type berth does not know.
const InstanceType* find_instance_type(std::string_view name);

// CPU units the agent registers: 1024 per vCPU.
std::int64_t registered_cpu_units(const InstanceType& type);
// MiB the agent registers: the memory Linux reports (installed memory less what the kernel keeps, about 2.5%;
// AWS's own example: an m4.large's 8 GiB registers as 7985 MiB), ECS_RESERVED_MEMORY being 0.
std::int64_t registered_memory_mib(const InstanceType& type);
// awsvpc tasks an instance of the type can hold without ENI trunking: one per interface besides the primary.
int task_eni_limit(const InstanceType& type);

}  // namespace berth::state
