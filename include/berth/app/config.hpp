#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <berth/common/result.hpp>

namespace berth::app {

// `--instances cluster=count:type`: container instances berth registers at start-up.
struct InstancesFlag {
  std::string cluster;
  int count = 0;
  std::string instance_type;
  bool operator==(const InstancesFlag&) const = default;
};

struct Config {
  std::string listen = "127.0.0.1";
  std::uint16_t port = 4566;
  std::string region = "us-east-1";
  std::string account = "000000000000";
  std::string data_dir;
  std::string log_level = "info";
  std::string log_format = "text";  // text | json
  std::string docker_host;          // empty: DOCKER_HOST, else unix:///var/run/docker.sock
  std::string host_ip = "127.0.0.1";  // where bridge-mode host ports are published
  std::size_t max_body_bytes = 4 * 1024 * 1024;
  int threads = 2;
  std::int64_t fargate_cpu = 0;     // Fargate pool size in CPU units; 0 = unbounded
  std::int64_t fargate_memory = 0;  // MiB; 0 = unbounded
  std::string secrets_file;         // JSON object: valueFrom -> secret value
  std::string s3_dir;               // stands in for S3: arn:aws:s3:::bucket/key -> <s3_dir>/bucket/key
  std::string efs_dir;              // EFS file systems live here (default <data-dir>/efs or a temp dir)
  // The task metadata and credentials endpoint (ECS's 169.254.170.2): on by default.
  bool metadata = true;
  std::string metadata_address = "169.254.170.2";
  std::uint16_t metadata_port = 80;
  std::string task_credentials = "local";  // local | passthrough
  std::int64_t task_retention_s = 3600;
  std::int64_t container_cleanup_wait_s = 3 * 3600;
  std::vector<InstancesFlag> instances;  // in the default account and region
  // A RUNNING service task without a health check counts as healthy this long after it started (ECS: 40 s).
  std::int64_t service_healthy_after_s = 40;
};

enum class Command { kServe, kVersion, kHelp, kCoverage };

struct Invocation {
  Command command = Command::kHelp;
  Config config;
};

using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

// Reads `berth <command> [flags]`; each flag has a BERTH_* environment equivalent (flags win).
Result<Invocation> parse_command_line(const std::vector<std::string>& args, const EnvLookup& env);

std::string usage();

}  // namespace berth::app
