#pragma once
// Cgroups that cap a group of containers (a container instance's CPU and memory), written where the engine's
// cgroupfs driver looks for a container's cgroup parent. Plain file-system work: no I/O with the engine.
#include <string>

#include <nlohmann/json.hpp>

#include <berth/runtime/container_runtime.hpp>

namespace berth::runtime::docker_detail {

// How the engine arranges cgroups, from GET /info (CgroupDriver: cgroupfs | systemd, CgroupVersion: "1" |
// "2").
struct CgroupLayout {
  std::string driver;
  int version = 0;  // 0 when the engine did not say
};
CgroupLayout cgroup_layout_from_info(const nlohmann::json& info);

struct CgroupApplied {
  std::string parent;  // the cgroup parent for the group's containers ("/<name>"), empty on failure
  std::string error;   // why not
};

// Creates <name> under `root` (the host's cgroup mount, /sys/fs/cgroup) and writes the limits: for cgroup v1
// memory/<name>/memory.limit_in_bytes and cpu/<name>/cpu.cfs_period_us + cpu.cfs_quota_us; for v2
// <name>/memory.max and <name>/cpu.max, enabling the cpu and memory controllers on the way down. Rewrites the
// limits of a group that exists already.
CgroupApplied apply_cgroup(const std::string& root, int version, const CgroupSpec& spec);

// Removes <name> from every hierarchy under `root`, then its parent directories while they are empty. A group
// still in use (or already gone) is left as it is.
void remove_cgroup_dirs(const std::string& root, int version, const std::string& name);

}  // namespace berth::runtime::docker_detail
