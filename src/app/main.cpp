#include <cstdio>
#include <cstdlib>
#include <iostream>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <berth/app/app.hpp>
#include <berth/app/config.hpp>
#include <berth/protocol/coverage.hpp>
#include <berth/services/ecs.hpp>

namespace {

// Escapes the log message so that --log-format json writes valid JSON lines.
class JsonEscapedMessage final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    for (char c : msg.payload) {
      switch (c) {
        case '"':
          dest.append(std::string_view("\\\""));
          break;
        case '\\':
          dest.append(std::string_view("\\\\"));
          break;
        case '\n':
          dest.append(std::string_view("\\n"));
          break;
        case '\r':
          dest.append(std::string_view("\\r"));
          break;
        case '\t':
          dest.append(std::string_view("\\t"));
          break;
        default:
          if (static_cast<unsigned char>(c) < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof(buf), "\\u%04x", c);
            dest.append(std::string_view(buf));
          } else {
            dest.push_back(c);
          }
      }
    }
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<JsonEscapedMessage>(); }
};

void setup_logging(const berth::app::Config& config) {
  auto logger = spdlog::stderr_color_mt("berth");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(config.log_level));
  if (config.log_format == "json") {
    auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
    formatter->add_flag<JsonEscapedMessage>('*').set_pattern(R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","msg":"%*"})");
    spdlog::set_formatter(std::move(formatter));
  } else {
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%-5l%$ %v", spdlog::pattern_time_type::utc);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  auto invocation = berth::app::parse_command_line(args, [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    return v == nullptr ? std::nullopt : std::optional<std::string>(v);
  });
  if (!invocation) {
    std::cerr << "berth: " << invocation.error().message << "\n";
    return 2;
  }
  switch (invocation->command) {
    case berth::app::Command::kHelp:
      std::cout << berth::app::usage();
      return 0;
    case berth::app::Command::kVersion:
      std::cout << "berth " << BERTH_VERSION << "\n";
      return 0;
    case berth::app::Command::kCoverage: {
      berth::ManualClock clock;
      berth::state::Store store;
      berth::services::EcsContext ecs{store, clock, [](const std::string&) {}};
      berth::protocol::HandlerTable table;
      berth::services::register_ecs_handlers(table, ecs);
      std::cout << berth::protocol::coverage_markdown(table);
      return 0;
    }
    case berth::app::Command::kServe:
      break;
  }
  setup_logging(invocation->config);
  berth::app::App app(invocation->config);
  auto port = app.start();
  if (!port) {
    spdlog::error("{}", port.error().message);
    return 1;
  }
  // One line on stdout that scripts can wait for (and read the port from, with --port 0).
  std::cout << "berth ready on http://" << invocation->config.listen << ":" << *port << std::endl;
  spdlog::info("berth {} listening on {}:{} (region {}, account {})", BERTH_VERSION, invocation->config.listen, *port,
               invocation->config.region, invocation->config.account);
  return app.run_until_signal();
}
