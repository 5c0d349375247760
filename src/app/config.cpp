#include <berth/app/config.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>

#include <berth/state/instance_types.hpp>

namespace berth::app {
namespace {

struct Flag {
  const char* name;  // without leading dashes
  const char* env;
  const char* help;
  std::function<std::optional<std::string>(Config&, const std::string&)> apply;  // error message or nullopt
  // Repeatable flags add to a list; given on the command line, they replace what the environment said.
  std::function<void(Config&)> reset = nullptr;
};

bool valid_cluster_name(const std::string& n) {
  return !n.empty() && n.size() <= 255 && std::all_of(n.begin(), n.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

// cluster=count:type[,cluster=count:type...]
std::optional<std::string> parse_instances(Config& c, const std::string& v) {
  std::size_t start = 0;
  while (start <= v.size()) {
    const std::size_t comma = v.find(',', start);
    const std::string item = v.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    start = comma == std::string::npos ? v.size() + 1 : comma + 1;
    const auto eq = item.find('=');
    const auto colon = item.find(':', eq == std::string::npos ? 0 : eq);
    if (eq == std::string::npos || colon == std::string::npos) {
      return "expects cluster=count:type (e.g. default=2:t3.micro), got '" + item + "'";
    }
    InstancesFlag f;
    f.cluster = item.substr(0, eq);
    f.instance_type = item.substr(colon + 1);
    const std::string count = item.substr(eq + 1, colon - eq - 1);
    auto [p, ec] = std::from_chars(count.data(), count.data() + count.size(), f.count);
    if (ec != std::errc() || p != count.data() + count.size() || f.count < 1 || f.count > 100) {
      return "expects a count from 1 to 100 in '" + item + "'";
    }
    if (!valid_cluster_name(f.cluster)) {
      return "expects a cluster name of letters, digits, hyphens and underscores in '" + item + "'";
    }
    if (state::find_instance_type(f.instance_type) == nullptr) {
      return "does not know instance type '" + f.instance_type +
             "' (known: the t3, t3a, t4g, m5, c5, r5, m6i, c6i, r6i, m6g, c6g and r6g families, g4dn and p3; "
             "e.g. t3.micro, m5.large)";
    }
    c.instances.push_back(f);
  }
  return std::nullopt;
}

std::optional<std::string> parse_uint(const std::string& v, std::uint64_t max, std::uint64_t& out) {
  std::uint64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size() || n > max) {
    return "expects a number up to " + std::to_string(max) + ", got '" + v + "'";
  }
  out = n;
  return std::nullopt;
}

const std::vector<Flag>& flags() {
  static const std::vector<Flag> kFlags = {
      {"listen", "BERTH_LISTEN", "address to listen on (default 127.0.0.1; 0.0.0.0 exposes berth to the network)",
       [](Config& c, const std::string& v) -> std::optional<std::string> {
         c.listen = v;
         return std::nullopt;
       }},
      {"port", "BERTH_PORT", "TCP port (default 4566; 0 picks a free one)",
       [](Config& c, const std::string& v) -> std::optional<std::string> {
         std::uint64_t n = 0;
         if (auto e = parse_uint(v, 65535, n)) {
           return e;
         }
         c.port = static_cast<std::uint16_t>(n);
         return std::nullopt;
       }},
      {"region", "BERTH_REGION", "region for requests that carry none (default us-east-1)",
       [](Config& c, const std::string& v) -> std::optional<std::string> {
         if (v.empty() || !std::all_of(v.begin(), v.end(), [](char ch) {
               return std::islower(static_cast<unsigned char>(ch)) || std::isdigit(static_cast<unsigned char>(ch)) || ch == '-';
             })) {
           return "expects a region name such as us-east-1, got '" + v + "'";
         }
         c.region = v;
         return std::nullopt;
       }},
      {"account", "BERTH_ACCOUNT", "account id for requests whose access key is not a 12-digit id (default 000000000000)",
       [](Config& c, const std::string& v) -> std::optional<std::string> {
         if (v.size() != 12 || !std::all_of(v.begin(), v.end(), ::isdigit)) {
           return "expects 12 digits, got '" + v + "'";
         }
         c.account = v;
         return std::nullopt;
       }},
      {"data-dir", "BERTH_DATA_DIR", "directory for berth's persistent data (see README)",
       [](Config& c, const std::string& v) -> std::optional<std::string> {
         c.data_dir = v;
         return std::nullopt;
       }},
      {"log-level", "BERTH_LOG_LEVEL", "trace, debug, info, warn, error or off (default info)",
       [](Config& c, const std::string& v) -> std::optional<std::string> {
         static const char* kLevels[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};
         if (std::none_of(std::begin(kLevels), std::end(kLevels), [&](const char* l) { return v == l; })) {
           return "expects trace, debug, info, warn, error or off, got '" + v + "'";
         }
         c.log_level = v;
         return std::nullopt;
       }},
      {"log-format", "BERTH_LOG_FORMAT", "text or json (JSON lines) (default text)",
       [](Config& c, const std::string& v) -> std::optional<std::string> {
         if (v != "text" && v != "json") {
           return "expects text or json, got '" + v + "'";
         }
         c.log_format = v;
         return std::nullopt;
       }},
      {"docker-host", "BERTH_DOCKER_HOST", "Docker Engine address (default $DOCKER_HOST, else unix:///var/run/docker.sock)",
       [](Config& c, const std::string& v) -> std::optional<std::string> {
         c.docker_host = v;
         return std::nullopt;
       }},
      {"host-ip", "BERTH_HOST_IP", "address that bridge-mode host ports are published on (default 127.0.0.1)",
       [](Config& c, const std::string& v) -> std::optional<std::string> {
         c.host_ip = v;
         return std::nullopt;
       }},
      {"max-body-bytes", "BERTH_MAX_BODY_BYTES", "largest API request body accepted (default 4194304)",
       [](Config& c, const std::string& v) -> std::optional<std::string> {
         std::uint64_t n = 0;
         if (auto e = parse_uint(v, 1ull << 30, n)) {
           return e;
         }
         c.max_body_bytes = n;
         return std::nullopt;
       }},
      {"fargate-cpu", "BERTH_FARGATE_CPU", "Fargate pool size in CPU units, 1024 per vCPU (default 0: unbounded)",
       [](Config& c, const std::string& v) -> std::optional<std::string> {
         std::uint64_t n = 0;
         if (auto e = parse_uint(v, 1ull << 40, n)) {
           return e;
         }
         c.fargate_cpu = static_cast<std::int64_t>(n);
         return std::nullopt;
       }},
      {"fargate-memory", "BERTH_FARGATE_MEMORY", "Fargate pool size in MiB (default 0: unbounded)",
       [](Config& c, const std::string& v) -> std::optional<std::string> {
         std::uint64_t n = 0;
         if (auto e = parse_uint(v, 1ull << 40, n)) {
           return e;
         }
         c.fargate_memory = static_cast<std::int64_t>(n);
         return std::nullopt;
       }},
      {"secrets-file", "BERTH_SECRETS_FILE", "JSON file mapping secret valueFrom (SSM name/ARN, Secrets Manager ARN) to values",
       [](Config& c, const std::string& v) -> std::optional<std::string> {
         c.secrets_file = v;
         return std::nullopt;
       }},
      {"s3-dir", "BERTH_S3_DIR", "directory standing in for S3 (environmentFiles): <dir>/<bucket>/<key>",
       [](Config& c, const std::string& v) -> std::optional<std::string> {
         c.s3_dir = v;
         return std::nullopt;
       }},
      {"efs-dir", "BERTH_EFS_DIR", "directory holding EFS file systems (default <data-dir>/efs, else a temp dir)",
       [](Config& c, const std::string& v) -> std::optional<std::string> {
         c.efs_dir = v;
         return std::nullopt;
       }},
      {"metadata", "BERTH_METADATA",
       "on or off: serve task metadata and role credentials to containers at --metadata-address (default on)",
       [](Config& c, const std::string& v) -> std::optional<std::string> {
         if (v != "on" && v != "off") {
           return "expects on or off, got '" + v + "'";
         }
         c.metadata = v == "on";
         return std::nullopt;
       }},
      {"metadata-address", "BERTH_METADATA_ADDRESS",
       "address of the task metadata endpoint (default 169.254.170.2, which berth gives the host through a Docker "
       "network; any other must already be an address of the host)",
       [](Config& c, const std::string& v) -> std::optional<std::string> {
         const bool ipv4 = !v.empty() && std::all_of(v.begin(), v.end(), [](char ch) {
           return std::isdigit(static_cast<unsigned char>(ch)) || ch == '.';
         }) && std::count(v.begin(), v.end(), '.') == 3;
         if (!ipv4) {
           return "expects an IPv4 address, got '" + v + "'";
         }
         c.metadata_address = v;
         return std::nullopt;
       }},
      {"metadata-port", "BERTH_METADATA_PORT", "port of the task metadata endpoint (default 80, which the AWS SDKs assume)",
       [](Config& c, const std::string& v) -> std::optional<std::string> {
         std::uint64_t n = 0;
         if (auto e = parse_uint(v, 65535, n); e || n == 0) {
           return "expects a port from 1 to 65535, got '" + v + "'";
         }
         c.metadata_port = static_cast<std::uint16_t>(n);
         return std::nullopt;
       }},
      {"task-credentials", "BERTH_TASK_CREDENTIALS",
       "local (keys berth makes per role and accepts itself) or passthrough (berth's own AWS credentials) (default local)",
       [](Config& c, const std::string& v) -> std::optional<std::string> {
         if (v != "local" && v != "passthrough") {
           return "expects local or passthrough, got '" + v + "'";
         }
         c.task_credentials = v;
         return std::nullopt;
       }},
      {"task-retention", "BERTH_TASK_RETENTION", "seconds a STOPPED task stays describable (default 3600)",
       [](Config& c, const std::string& v) -> std::optional<std::string> {
         std::uint64_t n = 0;
         if (auto e = parse_uint(v, 1ull << 32, n)) {
           return e;
         }
         c.task_retention_s = static_cast<std::int64_t>(n);
         return std::nullopt;
       }},
      {"container-cleanup-wait", "BERTH_CONTAINER_CLEANUP_WAIT",
       "seconds after STOPPED before a task's containers are removed (default 10800, as ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION)",
       [](Config& c, const std::string& v) -> std::optional<std::string> {
         std::uint64_t n = 0;
         if (auto e = parse_uint(v, 1ull << 32, n)) {
           return e;
         }
         c.container_cleanup_wait_s = static_cast<std::int64_t>(n);
         return std::nullopt;
       }},
      {"instances", "BERTH_INSTANCES",
       "container instances to register at start-up: cluster=count:type, e.g. default=2:t3.micro "
       "(repeatable; "
       "comma-separated in the environment); the cluster is created if needed",
       parse_instances, [](Config& c) { c.instances.clear(); }},
      {"service-healthy-after", "BERTH_SERVICE_HEALTHY_AFTER",
       "seconds a RUNNING service task without a health check waits before it counts as healthy (default 40, as ECS)",
       [](Config& c, const std::string& v) -> std::optional<std::string> {
         std::uint64_t n = 0;
         if (auto e = parse_uint(v, 86400, n)) {
           return e;
         }
         c.service_healthy_after_s = static_cast<std::int64_t>(n);
         return std::nullopt;
       }},
      {"threads", "BERTH_THREADS", "I/O threads (default 2)",
       [](Config& c, const std::string& v) -> std::optional<std::string> {
         std::uint64_t n = 0;
         if (auto e = parse_uint(v, 64, n); e || n == 0) {
           return "expects a number from 1 to 64, got '" + v + "'";
         }
         c.threads = static_cast<int>(n);
         return std::nullopt;
       }},
  };
  return kFlags;
}

AwsError usage_error(std::string message) { return AwsError::client("UsageError", std::move(message)); }

}  // namespace

std::string usage() {
  std::string out =
      "berth: a local Amazon ECS control plane that runs real Docker containers.\n\n"
      "Usage:\n"
      "  berth serve [flags]   answer the ECS API and run tasks on the Docker engine\n"
      "  berth version         print the version\n"
      "  berth coverage        print the table of supported API operations (Markdown)\n"
      "  berth --help          print this help\n\n"
      "Flags of serve (each also read from its environment variable; a flag wins):\n";
  for (const auto& f : flags()) {
    std::string left = std::string("  --") + f.name + " <value>";
    left.resize(std::max<std::size_t>(left.size() + 1, 30), ' ');
    out += left + f.help + " [" + f.env + "]\n";
  }
  return out;
}

Result<Invocation> parse_command_line(const std::vector<std::string>& args, const EnvLookup& env) {
  Invocation inv;
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    inv.command = Command::kHelp;
    return inv;
  }
  if (args[0] == "version" || args[0] == "--version") {
    inv.command = Command::kVersion;
    return inv;
  }
  if (args[0] == "coverage") {
    inv.command = Command::kCoverage;
    return inv;
  }
  if (args[0] != "serve") {
    return usage_error("unknown command '" + args[0] + "' (try berth --help)");
  }
  inv.command = Command::kServe;
  std::vector<const Flag*> reset_done;
  for (const auto& f : flags()) {
    if (auto v = env(f.env)) {
      if (auto e = f.apply(inv.config, *v)) {
        return usage_error(std::string(f.env) + " " + *e);
      }
    }
  }
  for (std::size_t i = 1; i < args.size(); ++i) {
    std::string arg = args[i];
    if (arg == "--help" || arg == "-h") {
      inv.command = Command::kHelp;
      return inv;
    }
    if (!arg.starts_with("--")) {
      return usage_error("unexpected argument '" + arg + "'");
    }
    std::string name = arg.substr(2);
    std::string value;
    bool has_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    auto it = std::find_if(flags().begin(), flags().end(), [&](const Flag& f) { return name == f.name; });
    if (it == flags().end()) {
      return usage_error("unknown flag --" + name + " (try berth --help)");
    }
    if (!has_value) {
      if (i + 1 >= args.size()) {
        return usage_error("flag --" + name + " needs a value");
      }
      value = args[++i];
    }
    if (it->reset && std::find(reset_done.begin(), reset_done.end(), &*it) == reset_done.end()) {
      it->reset(inv.config);
      reset_done.push_back(&*it);
    }
    if (auto e = it->apply(inv.config, value)) {
      return usage_error("--" + name + " " + *e);
    }
  }
  return inv;
}

}  // namespace berth::app
