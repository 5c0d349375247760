#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <berth/common/arn.hpp>
#include <berth/scheduler/task_reconciler.hpp>

namespace berth::scheduler {
namespace {

using runtime::ContainerSpec;
using runtime::Mount;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr std::int64_t kMiB = 1024 * 1024;
constexpr std::int64_t kSecond = 1'000'000'000;

class ContainerSpecTest : public ::testing::Test {
 protected:
  ContainerSpecTest() {
    task_.id = "0123456789abcdef0123456789abcdef";
    task_.scope = Scope{"000000000000", "us-east-1"};
    task_.cluster_name = "default";
    task_.cluster_arn = ecs_arn::cluster(task_.scope, "default");
    task_.arn = ecs_arn::task(task_.scope, "default", task_.id);
    task_.family = "web";
    task_.revision = 3;
  }

  // Adds a container with this definition (name and image filled in) and returns its index.
  std::size_t add(json definition, std::string name = "app") {
    state::Container c;
    c.name = name;
    c.image = "busybox";
    definition["name"] = name;
    definition["image"] = "busybox";
    c.definition = std::move(definition);
    task_.containers.push_back(std::move(c));
    return task_.containers.size() - 1;
  }

  ContainerSpec build(json definition, const SpecInputs& inputs = {}) {
    std::size_t i = add(std::move(definition));
    return build_container_spec(task_, task_.containers[i], options_, "a1b2c3", inputs);
  }

  state::Task task_;
  ReconcilerOptions options_{"inst1", "127.0.0.1"};
};

TEST_F(ContainerSpecTest, NamesImageAndLabelsAsTheAgentDoes) {
  auto spec = build({{"dockerLabels", {{"team", "web"}, {"n", 5}}}});
  EXPECT_EQ(spec.name, "ecs-web-3-app-a1b2c3");
  EXPECT_EQ(spec.image, "busybox");
  EXPECT_EQ(spec.labels.at("team"), "web");
  EXPECT_EQ(spec.labels.count("n"), 0u);  // not a string: no label
  EXPECT_EQ(spec.labels.at(kLabelCluster), task_.cluster_arn);
  EXPECT_EQ(spec.labels.at(kLabelTaskArn), task_.arn);
  EXPECT_EQ(spec.labels.at(kLabelContainerName), "app");
  EXPECT_EQ(spec.labels.at(kLabelFamily), "web");
  EXPECT_EQ(spec.labels.at(kLabelRevision), "3");
  EXPECT_EQ(spec.labels.at(kLabelInstance), "inst1");
  EXPECT_EQ(spec.labels.at(kLabelTaskId), task_.id);
}

TEST_F(ContainerSpecTest, UnsetFieldsKeepTheImagesDefaults) {
  auto spec = build(json::object());
  EXPECT_FALSE(spec.entrypoint);
  EXPECT_FALSE(spec.command);
  // Only what ECS gives every container (no metadata endpoint configured here).
  EXPECT_THAT(spec.env, ElementsAre("AWS_EXECUTION_ENV=AWS_ECS_EC2", "AWS_REGION=us-east-1",
                                    "AWS_DEFAULT_REGION=us-east-1"));
  EXPECT_FALSE(spec.working_dir);
  EXPECT_FALSE(spec.user);
  EXPECT_FALSE(spec.hostname);
  EXPECT_FALSE(spec.memory_bytes);
  EXPECT_FALSE(spec.memory_reservation_bytes);
  EXPECT_EQ(spec.cpu_shares, 2);
  EXPECT_FALSE(spec.nano_cpus);
  EXPECT_FALSE(spec.healthcheck);
  EXPECT_FALSE(spec.log_driver);
  EXPECT_FALSE(spec.stop_timeout_s);
  EXPECT_FALSE(spec.shm_size_bytes);
  EXPECT_FALSE(spec.init);
  EXPECT_FALSE(spec.privileged);
  EXPECT_FALSE(spec.read_only_rootfs);
  EXPECT_THAT(spec.mounts, IsEmpty());
  EXPECT_THAT(spec.ulimits, IsEmpty());
  EXPECT_EQ(spec.network_mode, "bridge");
}

TEST_F(ContainerSpecTest, CommandEntryPointWorkingDirectoryUserHostname) {
  auto spec = build({{"command", {"sh", "-c", "echo hi"}},
                     {"entryPoint", json::array()},
                     {"workingDirectory", "/srv"},
                     {"user", "1000:1000"},
                     {"hostname", "web-1"}});
  EXPECT_EQ(spec.command, (std::vector<std::string>{"sh", "-c", "echo hi"}));
  ASSERT_TRUE(spec.entrypoint);
  EXPECT_THAT(*spec.entrypoint, IsEmpty());  // empty clears the image's entrypoint
  EXPECT_EQ(spec.working_dir, "/srv");
  EXPECT_EQ(spec.user, "1000:1000");
  EXPECT_EQ(spec.hostname, "web-1");
}

TEST_F(ContainerSpecTest, EnvironmentWinsOverEnvironmentFilesAndSecrets) {
  SpecInputs inputs;
  inputs.extra_env = {"FROM_FILE=1", "SHARED=from-file", "SECRET=s3cr3t"};
  auto spec = build({{"environment",
                      {{{"name", "SHARED"}, {"value", "from-environment"}},
                       {{"name", "PLAIN"}, {"value", "x=y"}},
                       {{"name", "EMPTY"}}}}},
                    inputs);
  EXPECT_THAT(spec.env, ElementsAre("AWS_EXECUTION_ENV=AWS_ECS_EC2", "AWS_REGION=us-east-1",
                                    "AWS_DEFAULT_REGION=us-east-1", "FROM_FILE=1", "SECRET=s3cr3t",
                                    "SHARED=from-environment", "PLAIN=x=y", "EMPTY="));
}

TEST_F(ContainerSpecTest, InjectsTheMetadataAndCredentialsEnvironmentAsEcsDoes) {
  options_.metadata_base_url = "http://169.254.170.2";
  task_.credentials_id = "6d1f0f1e-2b7a-4c39-9e9a-0c1d2e3f4a5b";
  std::size_t i = add(json::object());
  task_.containers[i].metadata_token = "00112233445566778899aabbccddeeff";
  auto spec = build_container_spec(task_, task_.containers[i], options_, "s", {});
  EXPECT_THAT(spec.env,
              ElementsAre("ECS_CONTAINER_METADATA_URI_V4=http://169.254.170.2/v4/00112233445566778899aabbccddeeff",
                          "ECS_CONTAINER_METADATA_URI=http://169.254.170.2/v3/00112233445566778899aabbccddeeff",
                          "ECS_AGENT_URI=http://169.254.170.2/api/00112233445566778899aabbccddeeff",
                          "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/v2/credentials/6d1f0f1e-2b7a-4c39-9e9a-0c1d2e3f4a5b",
                          "AWS_EXECUTION_ENV=AWS_ECS_EC2", "AWS_REGION=us-east-1", "AWS_DEFAULT_REGION=us-east-1"));
}

TEST_F(ContainerSpecTest, NoTaskRoleMeansNoCredentialsUri) {
  options_.metadata_base_url = "http://169.254.170.2";
  std::size_t i = add(json::object());
  task_.containers[i].metadata_token = "t0";
  auto env = ecs_environment(task_, task_.containers[i], options_);
  for (const auto& kv : env) {
    EXPECT_FALSE(kv.starts_with("AWS_CONTAINER_CREDENTIALS")) << kv;
  }
  EXPECT_EQ(env.size(), 6u);
}

TEST_F(ContainerSpecTest, FargateRegionAndAnEndpointElsewhere) {
  options_.metadata_base_url = "http://172.17.0.1:8080";
  task_.scope.region = "eu-west-1";
  task_.launch_type = "FARGATE";
  task_.credentials_id = "c1";
  std::size_t i = add(json::object());
  task_.containers[i].metadata_token = "t1";
  auto env = ecs_environment(task_, task_.containers[i], options_);
  EXPECT_THAT(env, ElementsAre("ECS_CONTAINER_METADATA_URI_V4=http://172.17.0.1:8080/v4/t1",
                               "ECS_CONTAINER_METADATA_URI=http://172.17.0.1:8080/v3/t1",
                               "ECS_AGENT_URI=http://172.17.0.1:8080/api/t1",
                               // the SDKs resolve a relative URI against 169.254.170.2 only
                               "AWS_CONTAINER_CREDENTIALS_FULL_URI=http://172.17.0.1:8080/v2/credentials/c1",
                               "AWS_EXECUTION_ENV=AWS_ECS_FARGATE", "AWS_REGION=eu-west-1",
                               "AWS_DEFAULT_REGION=eu-west-1"));
}

TEST_F(ContainerSpecTest, TheContainersOwnEnvironmentWinsOverInjectedValues) {
  auto spec = build({{"environment", {{{"name", "AWS_REGION"}, {"value", "ap-south-1"}}}}});
  EXPECT_THAT(spec.env, ElementsAre("AWS_EXECUTION_ENV=AWS_ECS_EC2", "AWS_DEFAULT_REGION=us-east-1",
                                    "AWS_REGION=ap-south-1"));
}

TEST_F(ContainerSpecTest, CpuSharesAndMemoryInMiB) {
  auto spec = build({{"cpu", 512}, {"memory", 256}, {"memoryReservation", 128}});
  EXPECT_EQ(spec.cpu_shares, 512);
  EXPECT_EQ(spec.memory_bytes, 256 * kMiB);
  EXPECT_EQ(spec.memory_reservation_bytes, 128 * kMiB);
  EXPECT_FALSE(spec.nano_cpus);  // EC2: shares only, no quota

  EXPECT_EQ(build({{"cpu", 1}}).cpu_shares, 2);  // the kernel's minimum
}

TEST_F(ContainerSpecTest, FargateTaskSizeBecomesAHardQuota) {
  task_.launch_type = "FARGATE";
  task_.network_mode = "awsvpc";
  task_.cpu = "256";
  task_.memory = "512";
  auto spec = build({{"cpu", 128}, {"memoryReservation", 64}});
  EXPECT_EQ(spec.nano_cpus, 250'000'000);  // a quarter of a CPU
  EXPECT_EQ(spec.memory_bytes, 512 * kMiB);
  EXPECT_EQ(spec.memory_reservation_bytes, 64 * kMiB);
  EXPECT_EQ(spec.cpu_shares, 128);

  // A container limit tighter than the task's stays.
  EXPECT_EQ(build({{"memory", 300}}).memory_bytes, 300 * kMiB);
  // ... a looser one is capped at the task's.
  EXPECT_EQ(build({{"memory", 4096}}).memory_bytes, 512 * kMiB);
}

TEST_F(ContainerSpecTest, FargateSpotAndTheSpelledOutSizes) {
  task_.launch_type = "FARGATE_SPOT";
  task_.cpu = "2 vCPU";
  task_.memory = "4 GB";
  auto spec = build(json::object());
  EXPECT_EQ(spec.nano_cpus, 2'000'000'000);
  EXPECT_EQ(spec.memory_bytes, 4096 * kMiB);

  task_.launch_type = "";
  task_.capacity_provider_name = "FARGATE";
  task_.cpu = "1024";
  EXPECT_EQ(build(json::object()).nano_cpus, 1'000'000'000);
}

TEST_F(ContainerSpecTest, Ec2TaskSizeSetsNoQuota) {
  task_.launch_type = "EC2";
  task_.cpu = "256";
  task_.memory = "512";
  auto spec = build(json::object());
  EXPECT_FALSE(spec.nano_cpus);
  EXPECT_FALSE(spec.memory_bytes);
}

TEST_F(ContainerSpecTest, BridgePortMappingsArePublishedOnTheHostIp) {
  auto spec = build({{"portMappings",
                      {{{"containerPort", 80}},
                       {{"containerPort", 53}, {"hostPort", 5353}, {"protocol", "udp"}},
                       {{"containerPort", 0}}}}});
  ASSERT_EQ(spec.ports.size(), 2u);
  EXPECT_EQ(spec.ports[0].container_port, 80);
  EXPECT_EQ(spec.ports[0].host_port, 0);
  EXPECT_EQ(spec.ports[0].protocol, "tcp");
  EXPECT_EQ(spec.ports[0].host_ip, "127.0.0.1");
  EXPECT_EQ(spec.ports[1].host_port, 5353);
  EXPECT_EQ(spec.ports[1].protocol, "udp");
}

TEST_F(ContainerSpecTest, AwsvpcJoinsThePauseContainerWithoutPortsOrHostname) {
  task_.network_mode = "awsvpc";
  SpecInputs inputs;
  inputs.network_mode = "container:pause0123";
  auto spec = build({{"hostname", "web"}, {"portMappings", {{{"containerPort", 80}}}}}, inputs);
  EXPECT_EQ(spec.network_mode, "container:pause0123");
  EXPECT_FALSE(spec.hostname);
  EXPECT_THAT(spec.ports, IsEmpty());
}

TEST_F(ContainerSpecTest, HostAndNoneModes) {
  task_.network_mode = "host";
  auto spec = build({{"hostname", "h"}, {"portMappings", {{{"containerPort", 80}}}}});
  EXPECT_EQ(spec.network_mode, "host");
  EXPECT_EQ(spec.hostname, "h");

  task_.network_mode = "bridge";
  spec = build({{"disableNetworking", true}, {"portMappings", {{{"containerPort", 80}}}}});
  EXPECT_EQ(spec.network_mode, "none");
  EXPECT_THAT(spec.ports, IsEmpty());
}

TEST_F(ContainerSpecTest, Ulimits) {
  auto spec = build({{"ulimits",
                      {{{"name", "nofile"}, {"softLimit", 1024}, {"hardLimit", 4096}},
                       {{"name", "core"}, {"softLimit", 0}, {"hardLimit", 0}},
                       {{"name", "broken"}}}}});
  ASSERT_EQ(spec.ulimits.size(), 2u);
  EXPECT_EQ(spec.ulimits[0].name, "nofile");
  EXPECT_EQ(spec.ulimits[0].soft, 1024);
  EXPECT_EQ(spec.ulimits[0].hard, 4096);
  EXPECT_EQ(spec.ulimits[1].name, "core");
}

TEST_F(ContainerSpecTest, LinuxParameters) {
  auto spec =
      build({{"linuxParameters",
              {{"capabilities", {{"add", {"NET_ADMIN", "SYS_TIME"}}, {"drop", {"MKNOD"}}}},
               {"initProcessEnabled", true},
               {"sharedMemorySize", 64},
               {"tmpfs",
                {{{"containerPath", "/scratch"}, {"size", 32}, {"mountOptions", {"noexec", "mode=1777"}}},
                 {{"containerPath", "/run"}, {"size", 1}}}},
               {"devices",
                {{{"hostPath", "/dev/fuse"}},
                 {{"hostPath", "/dev/null"},
                  {"containerPath", "/dev/nothing"},
                  {"permissions", {"read", "mknod"}}}}},
               {"maxSwap", 512},
               {"swappiness", 10}}}});
  EXPECT_THAT(spec.cap_add, ElementsAre("NET_ADMIN", "SYS_TIME"));
  EXPECT_THAT(spec.cap_drop, ElementsAre("MKNOD"));
  EXPECT_TRUE(spec.init);
  EXPECT_EQ(spec.shm_size_bytes, 64 * kMiB);
  ASSERT_EQ(spec.mounts.size(), 2u);
  EXPECT_EQ(spec.mounts[0].type, Mount::Type::kTmpfs);
  EXPECT_EQ(spec.mounts[0].target, "/scratch");
  EXPECT_EQ(spec.mounts[0].tmpfs_size_bytes, 32 * kMiB);
  EXPECT_THAT(spec.mounts[0].tmpfs_options, ElementsAre("noexec", "mode=1777"));
  EXPECT_FALSE(spec.mounts[0].read_only);
  EXPECT_EQ(spec.mounts[1].target, "/run");
  EXPECT_THAT(spec.mounts[1].tmpfs_options, IsEmpty());
  ASSERT_EQ(spec.devices.size(), 2u);
  EXPECT_EQ(spec.devices[0].host_path, "/dev/fuse");
  EXPECT_EQ(spec.devices[0].container_path, "/dev/fuse");
  EXPECT_EQ(spec.devices[0].permissions, "rwm");
  EXPECT_EQ(spec.devices[1].container_path, "/dev/nothing");
  EXPECT_EQ(spec.devices[1].permissions, "rm");
}

TEST_F(ContainerSpecTest, SecurityAndHostFields) {
  auto spec =
      build({{"readonlyRootFilesystem", true},
             {"privileged", true},
             {"extraHosts",
              {{{"hostname", "db"}, {"ipAddress", "10.0.0.5"}}, {{"hostname", "v6"}, {"ipAddress", "::1"}}}},
             {"dnsServers", {"10.0.0.2", "1.1.1.1"}},
             {"dnsSearchDomains", {"corp.example"}},
             {"dockerSecurityOptions", {"no-new-privileges"}},
             {"systemControls",
              {{{"namespace", "net.core.somaxconn"}, {"value", "1024"}},
               {{"namespace", "kernel.msgmax"}, {"value", "65536"}}}}});
  EXPECT_TRUE(spec.read_only_rootfs);
  EXPECT_TRUE(spec.privileged);
  EXPECT_THAT(spec.extra_hosts, ElementsAre("db:10.0.0.5", "v6:::1"));
  EXPECT_THAT(spec.dns, ElementsAre("10.0.0.2", "1.1.1.1"));
  EXPECT_THAT(spec.dns_search, ElementsAre("corp.example"));
  EXPECT_EQ(spec.sysctls,
            (std::map<std::string, std::string>{{"net.core.somaxconn", "1024"}, {"kernel.msgmax", "65536"}}));
}

TEST_F(ContainerSpecTest, HealthCheckInNanosecondsWithEcsDefaults) {
  auto spec = build({{"healthCheck", {{"command", {"CMD-SHELL", "curl -f http://localhost/ || exit 1"}}}}});
  ASSERT_TRUE(spec.healthcheck);
  EXPECT_THAT(spec.healthcheck->test, ElementsAre("CMD-SHELL", "curl -f http://localhost/ || exit 1"));
  EXPECT_EQ(spec.healthcheck->interval_ns, 30 * kSecond);
  EXPECT_EQ(spec.healthcheck->timeout_ns, 5 * kSecond);
  EXPECT_EQ(spec.healthcheck->retries, 3);
  EXPECT_EQ(spec.healthcheck->start_period_ns, 0);

  spec = build({{"healthCheck",
                 {{"command", {"CMD", "/bin/check"}},
                  {"interval", 5},
                  {"timeout", 2},
                  {"retries", 10},
                  {"startPeriod", 60}}}});
  ASSERT_TRUE(spec.healthcheck);
  EXPECT_EQ(spec.healthcheck->interval_ns, 5 * kSecond);
  EXPECT_EQ(spec.healthcheck->timeout_ns, 2 * kSecond);
  EXPECT_EQ(spec.healthcheck->retries, 10);
  EXPECT_EQ(spec.healthcheck->start_period_ns, 60 * kSecond);
}

TEST_F(ContainerSpecTest, MountPointsResolveThroughTheTaskVolumes) {
  SpecInputs inputs;
  inputs.volumes["host"] = Mount{Mount::Type::kBind, "/var/lib/berth/vols/host", "", false, std::nullopt, {}};
  inputs.volumes["shared"] = Mount{Mount::Type::kVolume, "berth-task-shared", "", false, std::nullopt, {}};
  auto spec = build({{"mountPoints",
                      {{{"sourceVolume", "host"}, {"containerPath", "/data"}, {"readOnly", true}},
                       {{"sourceVolume", "shared"}, {"containerPath", "/shared"}}}}},
                    inputs);
  ASSERT_EQ(spec.mounts.size(), 2u);
  EXPECT_EQ(spec.mounts[0].type, Mount::Type::kBind);
  EXPECT_EQ(spec.mounts[0].source, "/var/lib/berth/vols/host");
  EXPECT_EQ(spec.mounts[0].target, "/data");
  EXPECT_TRUE(spec.mounts[0].read_only);
  EXPECT_EQ(spec.mounts[1].type, Mount::Type::kVolume);
  EXPECT_EQ(spec.mounts[1].source, "berth-task-shared");
  EXPECT_EQ(spec.mounts[1].target, "/shared");
  EXPECT_FALSE(spec.mounts[1].read_only);
}

TEST_F(ContainerSpecTest, MountPointOfAnUnknownVolumeIsSkipped) {
  // The caller must resolve every volume; this only proves the code neither crashes nor invents one.
  auto spec = build({{"mountPoints", {{{"sourceVolume", "ghost"}, {"containerPath", "/g"}}}}});
  EXPECT_THAT(spec.mounts, IsEmpty());
}

TEST_F(ContainerSpecTest, VolumesFromNameTheEngineContainersOfTheSameTask) {
  add(json::object(), "data");
  add(json::object(), "logs");
  add(json::object(), "notyet");
  task_.containers[0].runtime_id = "c0ffee";
  task_.containers[1].runtime_id = "beef";
  auto spec = build({{"volumesFrom",
                      {{{"sourceContainer", "data"}},
                       {{"sourceContainer", "logs"}, {"readOnly", true}},
                       {{"sourceContainer", "notyet"}},
                       {{"sourceContainer", "nosuch"}}}}});
  EXPECT_THAT(spec.volumes_from, ElementsAre("c0ffee", "beef:ro"));
}

TEST_F(ContainerSpecTest, LocalLogDriversAreUsedWithTheirOptions) {
  auto spec = build({{"logConfiguration",
                      {{"logDriver", "json-file"}, {"options", {{"max-size", "10m"}, {"max-file", "3"}}}}}});
  EXPECT_EQ(spec.log_driver, "json-file");
  EXPECT_EQ(spec.log_options, (std::map<std::string, std::string>{{"max-size", "10m"}, {"max-file", "3"}}));
  for (const char* driver : {"local", "none", "syslog", "journald", "fluentd", "gelf"}) {
    EXPECT_EQ(build({{"logConfiguration", {{"logDriver", driver}}}}).log_driver, driver);
  }
}

TEST_F(ContainerSpecTest, RemoteLogDriversKeepTheEnginesDefault) {
  for (const char* driver : {"awslogs", "splunk", "awsfirelens"}) {
    auto spec =
        build({{"logConfiguration", {{"logDriver", driver}, {"options", {{"awslogs-group", "/ecs/web"}}}}}});
    EXPECT_FALSE(spec.log_driver) << driver;
    EXPECT_THAT(spec.log_options, IsEmpty()) << driver;
  }
}

TEST_F(ContainerSpecTest, StopTimeout) { EXPECT_EQ(build({{"stopTimeout", 45}}).stop_timeout_s, 45); }

}  // namespace
}  // namespace berth::scheduler
