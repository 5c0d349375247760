#include <gtest/gtest.h>

#include <map>

#include <berth/app/config.hpp>

namespace berth::app {
namespace {

Result<Invocation> parse(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
  return parse_command_line(args, [env](const std::string& k) -> std::optional<std::string> {
    auto it = env.find(k);
    return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
  });
}

TEST(ConfigTest, DefaultsAreSafe) {
  auto inv = parse({"serve"});
  ASSERT_TRUE(inv);
  EXPECT_EQ(inv->command, Command::kServe);
  EXPECT_EQ(inv->config.listen, "127.0.0.1");
  EXPECT_EQ(inv->config.port, 4566);
  EXPECT_EQ(inv->config.region, "us-east-1");
  EXPECT_EQ(inv->config.account, "000000000000");
  EXPECT_EQ(inv->config.host_ip, "127.0.0.1");
}

TEST(ConfigTest, FlagsWinOverEnvironment) {
  auto inv = parse({"serve", "--port", "5000", "--region=eu-west-1"},
                   {{"BERTH_PORT", "6000"}, {"BERTH_ACCOUNT", "123456789012"}, {"BERTH_REGION", "us-west-2"}});
  ASSERT_TRUE(inv);
  EXPECT_EQ(inv->config.port, 5000);
  EXPECT_EQ(inv->config.region, "eu-west-1");
  EXPECT_EQ(inv->config.account, "123456789012");
}

TEST(ConfigTest, BadValuesAreRefusedWithTheFlagName) {
  auto r = parse({"serve", "--port", "70000"});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("--port"), std::string::npos);
  EXPECT_FALSE(parse({"serve", "--account", "12"}));
  EXPECT_FALSE(parse({"serve", "--log-format", "xml"}));
  EXPECT_FALSE(parse({"serve", "--bogus", "1"}));
  EXPECT_FALSE(parse({"serve", "--port"}));
  EXPECT_FALSE(parse({"frobnicate"}));
  auto e = parse({"serve"}, {{"BERTH_LOG_LEVEL", "loud"}});
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message.find("BERTH_LOG_LEVEL"), std::string::npos);
}

TEST(ConfigTest, MetadataEndpointFlags) {
  auto d = parse({"serve"});
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->config.metadata);
  EXPECT_EQ(d->config.metadata_address, "169.254.170.2");
  EXPECT_EQ(d->config.metadata_port, 80);
  EXPECT_EQ(d->config.task_credentials, "local");
  auto inv = parse({"serve", "--metadata-address", "172.17.0.1", "--metadata-port=8080"},
                   {{"BERTH_METADATA", "off"}, {"BERTH_TASK_CREDENTIALS", "passthrough"}});
  ASSERT_TRUE(inv);
  EXPECT_FALSE(inv->config.metadata);
  EXPECT_EQ(inv->config.metadata_address, "172.17.0.1");
  EXPECT_EQ(inv->config.metadata_port, 8080);
  EXPECT_EQ(inv->config.task_credentials, "passthrough");
  EXPECT_FALSE(parse({"serve", "--metadata", "yes"}));
  EXPECT_FALSE(parse({"serve", "--metadata-port", "0"}));
  EXPECT_FALSE(parse({"serve", "--metadata-address", "localhost"}));
  EXPECT_FALSE(parse({"serve", "--task-credentials", "sts"}));
}

TEST(ConfigTest, VersionAndHelp) {
  EXPECT_EQ(parse({"version"})->command, Command::kVersion);
  EXPECT_EQ(parse({"--help"})->command, Command::kHelp);
  EXPECT_EQ(parse({})->command, Command::kHelp);
  EXPECT_NE(usage().find("BERTH_DOCKER_HOST"), std::string::npos);
}

}  // namespace
}  // namespace berth::app

namespace berth::app {
namespace {

TEST(ConfigTest, InstancesAreRepeatableAndReplaceTheEnvironment) {
  auto none = parse({"serve"});
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->config.instances.empty());
  auto env = parse({"serve"}, {{"BERTH_INSTANCES", "default=2:t3.micro,web=1:m5.large"}});
  ASSERT_TRUE(env);
  EXPECT_EQ(env->config.instances,
            (std::vector<InstancesFlag>{{"default", 2, "t3.micro"}, {"web", 1, "m5.large"}}));
  auto flags = parse({"serve", "--instances", "a=1:c5.xlarge", "--instances=b_2=3:r5.large"},
                     {{"BERTH_INSTANCES", "default=2:t3.micro"}});
  ASSERT_TRUE(flags);
  EXPECT_EQ(flags->config.instances,
            (std::vector<InstancesFlag>{{"a", 1, "c5.xlarge"}, {"b_2", 3, "r5.large"}}));
}

TEST(ConfigTest, BadInstancesSayWhatIsExpected) {
  auto message = [](const std::string& value) {
    auto r = parse({"serve", "--instances", value});
    return r ? std::string() : r.error().message;
  };
  EXPECT_NE(message("default=2:t9.micro").find("does not know instance type 't9.micro'"), std::string::npos);
  EXPECT_NE(message("default:t3.micro").find("cluster=count:type"), std::string::npos);
  EXPECT_NE(message("default=0:t3.micro").find("count from 1 to 100"), std::string::npos);
  EXPECT_NE(message("default=x:t3.micro").find("count from 1 to 100"), std::string::npos);
  EXPECT_NE(message("bad name=1:t3.micro").find("cluster name"), std::string::npos);
  EXPECT_NE(message("a=1:t3.micro,").find("cluster=count:type"), std::string::npos);
  EXPECT_EQ(message("default=100:t3.micro"), "");
}

}  // namespace
}  // namespace berth::app
