#include "cgroups.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace berth::runtime::docker_detail {
namespace {

namespace fs = std::filesystem;

constexpr std::int64_t kCfsPeriodUs = 100'000;

// Writes as `echo value > path` does: cgroup files take the value in one write (and exist already; the
// creation flag only matters for a plain directory standing in for the hierarchy).
std::string write_value(const fs::path& path, const std::string& value) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return "cannot open " + path.string() + ": " + std::strerror(errno);
  }
  const ssize_t n = ::write(fd, value.data(), value.size());
  const int saved = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(value.size())) {
    return "cannot write " + value + " to " + path.string() + ": " + std::strerror(n < 0 ? saved : EIO);
  }
  return "";
}

std::string make_dirs(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  return ec ? "cannot create " + dir.string() + ": " + ec.message() : "";
}

std::string read_all(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

std::string apply_v1(const fs::path& root, const CgroupSpec& spec) {
  const fs::path memory = root / "memory" / spec.name;
  if (auto e = make_dirs(memory); !e.empty()) {
    return e;
  }
  if (auto e = write_value(memory / "memory.limit_in_bytes",
                           spec.memory_bytes > 0 ? std::to_string(spec.memory_bytes) : "-1");
      !e.empty()) {
    return e;
  }
  const fs::path cpu = root / "cpu" / spec.name;
  if (auto e = make_dirs(cpu); !e.empty()) {
    return e;
  }
  if (auto e = write_value(cpu / "cpu.cfs_period_us", std::to_string(kCfsPeriodUs)); !e.empty()) {
    return e;
  }
  return write_value(cpu / "cpu.cfs_quota_us",
                     spec.cpu_units > 0 ? std::to_string(spec.cpu_units * kCfsPeriodUs / 1024) : "-1");
}

std::string apply_v2(const fs::path& root, const CgroupSpec& spec) {
  const std::string controllers = read_all(root / "cgroup.controllers");
  for (const char* needed : {"cpu", "memory"}) {
    std::istringstream words(controllers);
    std::string w;
    bool found = false;
    while (words >> w) {
      found = found || w == needed;
    }
    if (!found) {
      return "the " + std::string(needed) + " controller is not available in " + root.string();
    }
  }
  // Each level down to the group hands the controllers to its children.
  fs::path level = root;
  for (const auto& part : fs::path(spec.name)) {
    if (auto e = write_value(level / "cgroup.subtree_control", "+cpu +memory"); !e.empty()) {
      return e;
    }
    level /= part;
    if (auto e = make_dirs(level); !e.empty()) {
      return e;
    }
  }
  if (auto e = write_value(level / "memory.max",
                           spec.memory_bytes > 0 ? std::to_string(spec.memory_bytes) : "max");
      !e.empty()) {
    return e;
  }
  return write_value(
      level / "cpu.max",
      (spec.cpu_units > 0 ? std::to_string(spec.cpu_units * kCfsPeriodUs / 1024) : std::string("max")) + " " +
          std::to_string(kCfsPeriodUs));
}

// rmdir of a cgroup and then of its now-empty parents, up to (not including) `top`.
void remove_up(const fs::path& top, fs::path p) {
  while (p != top && p.string().size() > top.string().size()) {
    if (::rmdir(p.c_str()) != 0) {
      return;  // busy, not empty or gone
    }
    p = p.parent_path();
  }
}

}  // namespace

CgroupLayout cgroup_layout_from_info(const nlohmann::json& info) {
  CgroupLayout out;
  if (!info.is_object()) {
    return out;
  }
  if (auto it = info.find("CgroupDriver"); it != info.end() && it->is_string()) {
    out.driver = it->get<std::string>();
  }
  if (auto it = info.find("CgroupVersion"); it != info.end() && it->is_string()) {
    const std::string v = it->get<std::string>();
    out.version = v == "1" ? 1 : v == "2" ? 2 : 0;
  } else if (!out.driver.empty()) {
    out.version = 1;  // engines before 20.10 did not say, and only knew v1
  }
  return out;
}

CgroupApplied apply_cgroup(const std::string& root, int version, const CgroupSpec& spec) {
  if (spec.name.empty() || spec.name.front() == '/' || spec.name.find("..") != std::string::npos) {
    return {"", "invalid cgroup name '" + spec.name + "'"};
  }
  const std::string error = version == 2   ? apply_v2(root, spec)
                            : version == 1 ? apply_v1(root, spec)
                                           : "the engine did not say which cgroup version it uses";
  if (!error.empty()) {
    return {"", error};
  }
  return {"/" + spec.name, ""};
}

void remove_cgroup_dirs(const std::string& root, int version, const std::string& name) {
  if (name.empty() || name.front() == '/' || name.find("..") != std::string::npos) {
    return;
  }
  const fs::path top(root);
  if (version == 2) {
    remove_up(top, top / name);
    return;
  }
  // v1: the engine's runtime made <name> in every hierarchy, not only cpu and memory.
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(top, ec)) {
    if (entry.is_directory(ec) && !entry.is_symlink(ec)) {
      remove_up(entry.path(), entry.path() / name);
    }
  }
}

}  // namespace berth::runtime::docker_detail
