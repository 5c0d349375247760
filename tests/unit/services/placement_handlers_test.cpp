// RunTask, StartTask, ListTasks and the instance operations with placement over container instances, through
// the real protocol layer; instances come from launch_container_instances, as `berth serve --instances` makes
// them.
#include <gmock/gmock.h>

#include <berth/state/container_instances.hpp>
#include <berth/state/instance_types.hpp>
#include <berth/state/snapshot.hpp>

#include "ecs_fixture.hpp"

namespace berth::services {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class PlacementHandlersTest : public testing::EcsFixture {
 protected:
  std::vector<std::string> launch(const std::string& cluster, int count, const std::string& type,
                                  const std::string& seed = "seed") {
    auto added =
        launch_container_instances(table_, store_, scope_, InstanceLaunch{cluster, count, type}, seed);
    EXPECT_TRUE(added) << (added ? "" : added.error().message);
    return ok("ListContainerInstances", {{"cluster", cluster}})["containerInstanceArns"];
  }

  json describe_instance(const std::string& cluster, const std::string& arn) {
    return ok("DescribeContainerInstances",
              {{"cluster", cluster}, {"containerInstances", {arn}}})["containerInstances"][0];
  }

  static std::int64_t remaining(const json& instance, const std::string& name) {
    for (const auto& r : instance["remainingResources"]) {
      if (r["name"] == name) {
        return r["integerValue"].get<std::int64_t>();
      }
    }
    return -1;
  }

  void web(const std::string& family, int memory, json extra = json::object()) {
    json c = {{"name", "app"}, {"image", "busybox"}, {"memory", memory}};
    c.update(extra);
    ok("RegisterTaskDefinition", {{"family", family}, {"containerDefinitions", {c}}});
  }

  void set_status(const std::string& task_arn, state::TaskStatus s) {
    region().tasks.at(task_arn.substr(task_arn.rfind('/') + 1)).last_status = s;
  }
};

TEST_F(PlacementHandlersTest, LaunchedInstancesRegisterAsTheAgentWould) {
  auto arns = launch("i5", 3, "t3.micro");
  ASSERT_EQ(arns.size(), 3u);
  std::set<std::string> zones;
  for (const auto& arn : arns) {
    auto ci = describe_instance("i5", arn);
    EXPECT_THAT(ci["ec2InstanceId"].get<std::string>(), ::testing::MatchesRegex("i-[0-9a-f]{17}"));
    EXPECT_EQ(remaining(ci, "CPU"), 2048);
    EXPECT_EQ(remaining(ci, "MEMORY"), state::registered_memory_mib(*state::find_instance_type("t3.micro")));
    EXPECT_EQ(ci["versionInfo"]["agentVersion"], "1.89.3");
    std::map<std::string, std::string> attrs;
    for (const auto& a : ci["attributes"]) {
      attrs[a["name"]] = a.value("value", "");
    }
    EXPECT_EQ(attrs["ecs.instance-type"], "t3.micro");
    EXPECT_EQ(attrs["ecs.os-type"], "linux");
    EXPECT_EQ(attrs["ecs.os-family"], "LINUX");
    EXPECT_EQ(attrs["ecs.cpu-architecture"], "x86_64");
    EXPECT_THAT(attrs["ecs.ami-id"], ::testing::MatchesRegex("ami-[0-9a-f]{17}"));
    EXPECT_THAT(attrs["ecs.vpc-id"], ::testing::StartsWith("vpc-"));
    EXPECT_THAT(attrs["ecs.subnet-id"], ::testing::StartsWith("subnet-"));
    EXPECT_TRUE(attrs.contains("ecs.capability.task-eni"));
    EXPECT_TRUE(attrs.contains("com.amazonaws.ecs.capability.logging-driver.awslogs"));
    zones.insert(attrs["ecs.availability-zone"]);
  }
  EXPECT_EQ(zones, std::set<std::string>({"us-east-1a", "us-east-1b", "us-east-1c"}));
  // The same seed finds what it made: only what is missing is added.
  launch("i5", 3, "t3.micro");
  EXPECT_EQ(launch("i5", 4, "t3.micro").size(), 4u);
  // GPU and ARM types carry what they have.
  auto gpu = describe_instance("gpu", launch("gpu", 1, "g4dn.12xlarge")[0]);
  bool has_gpus = false;
  for (const auto& r : gpu["registeredResources"]) {
    has_gpus = has_gpus || (r["name"] == "GPU" && r["stringSetValue"].size() == 4);
  }
  EXPECT_TRUE(has_gpus);
  auto arm = describe_instance("arm", launch("arm", 1, "m6g.large")[0]);
  EXPECT_EQ(remaining(arm, "CPU"), 2048);
  auto bad = launch_container_instances(table_, store_, scope_, InstanceLaunch{"x", 1, "z9.huge"}, "seed");
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error().message, HasSubstr("z9.huge"));
}

TEST_F(PlacementHandlersTest, TwoMicroInstancesFillUpAndTheNextTaskFailsOnMemory) {
  auto arns = launch("fill", 2, "t3.micro");
  web("big", 400);
  // 998 MiB each: two 400 MiB tasks per instance.
  auto out = ok("RunTask", {{"cluster", "fill"}, {"taskDefinition", "big"}, {"count", 4}});
  ASSERT_EQ(out["tasks"].size(), 4u);
  EXPECT_TRUE(out["failures"].empty());
  std::map<std::string, int> per_instance;
  for (const auto& t : out["tasks"]) {
    ++per_instance[t["containerInstanceArn"]];
  }
  EXPECT_EQ(per_instance[arns[0]], 2);
  EXPECT_EQ(per_instance[arns[1]], 2);
  out = ok("RunTask", {{"cluster", "fill"}, {"taskDefinition", "big"}});
  EXPECT_TRUE(out["tasks"].empty());
  ASSERT_EQ(out["failures"].size(), 2u);
  for (const auto& f : out["failures"]) {
    EXPECT_EQ(f["reason"], "RESOURCE:MEMORY");
  }
  EXPECT_EQ(remaining(describe_instance("fill", arns[0]), "MEMORY"),
            state::registered_memory_mib(*state::find_instance_type("t3.micro")) - 800);
  // A stopped task frees its memory, and the next one lands where it was.
  auto on_first = ok("ListTasks", {{"cluster", "fill"}, {"containerInstance", arns[0]}})["taskArns"];
  ASSERT_EQ(on_first.size(), 2u);
  set_status(on_first[0], state::TaskStatus::kStopped);
  out = ok("RunTask", {{"cluster", "fill"}, {"taskDefinition", "big"}});
  ASSERT_EQ(out["tasks"].size(), 1u);
  EXPECT_EQ(out["tasks"][0]["containerInstanceArn"], arns[0]);
}

TEST_F(PlacementHandlersTest, StrategiesAndConstraintsThroughRunTask) {
  auto arns = launch("s", 2, "m5.large");
  web("w", 100);
  auto instances_of = [&](const json& out) {
    std::vector<std::string> v;
    for (const auto& t : out["tasks"]) {
      v.push_back(t["containerInstanceArn"]);
    }
    return v;
  };
  auto binpacked =
      instances_of(ok("RunTask", {{"cluster", "s"},
                                  {"taskDefinition", "w"},
                                  {"count", 3},
                                  {"placementStrategy", {{{"type", "binpack"}, {"field", "memory"}}}}}));
  EXPECT_THAT(binpacked, ElementsAre(binpacked[0], binpacked[0], binpacked[0]));
  auto spread =
      instances_of(ok("RunTask", {{"cluster", "s"},
                                  {"taskDefinition", "w"},
                                  {"count", 4},
                                  {"group", "spread"},
                                  {"placementStrategy", {{{"type", "spread"}, {"field", "instanceId"}}}}}));
  ASSERT_EQ(spread.size(), 4u);
  EXPECT_NE(spread[0], spread[1]);
  EXPECT_EQ(spread[0], spread[2]);
  auto distinct = ok("RunTask", {{"cluster", "s"},
                                 {"taskDefinition", "w"},
                                 {"count", 3},
                                 {"group", "one-each"},
                                 {"placementConstraints", {{{"type", "distinctInstance"}}}}});
  EXPECT_EQ(distinct["tasks"].size(), 2u);
  ASSERT_EQ(distinct["failures"].size(), 2u);
  EXPECT_EQ(distinct["failures"][0]["reason"], "DistinctInstance placement constraint unsatisfied.");
  auto zone =
      ok("RunTask",
         {{"cluster", "s"},
          {"taskDefinition", "w"},
          {"placementConstraints",
           {{{"type", "memberOf"}, {"expression", "attribute:ecs.availability-zone == us-east-1b"}}}}});
  ASSERT_EQ(zone["tasks"].size(), 1u);
  EXPECT_EQ(zone["tasks"][0]["availabilityZone"], "us-east-1b");
  std::string zone_b;
  for (const auto& arn : arns) {
    const json described = describe_instance("s", arn);
    for (const auto& a : described["attributes"]) {
      if (a["name"] == "ecs.availability-zone" && a["value"] == "us-east-1b") {
        zone_b = arn;
      }
    }
  }
  EXPECT_EQ(zone["tasks"][0]["containerInstanceArn"], zone_b);
  // Malformed expressions and strategies are refused with ECS's error before anything runs.
  const std::size_t before = region().tasks.size();
  EXPECT_THAT(expect_error("RunTask",
                           {{"cluster", "s"},
                            {"taskDefinition", "w"},
                            {"placementConstraints",
                             {{{"type", "memberOf"}, {"expression", "attribute:x in [a, b"}}}}},
                           "InvalidParameterException"),
              HasSubstr("The cluster query expression is not valid"));
  expect_error("RunTask",
               {{"cluster", "s"},
                {"taskDefinition", "w"},
                {"placementStrategy", {{{"type", "binpack"}, {"field", "gpu"}}}}},
               "InvalidParameterException");
  expect_error("RunTask",
               {{"cluster", "s"},
                {"taskDefinition", "w"},
                {"placementStrategy", {{{"type", "pack"}, {"field", "cpu"}}}}},
               "ValidationException");
  EXPECT_EQ(region().tasks.size(), before);
}

TEST_F(PlacementHandlersTest, NoActiveInstanceAndFargateAreRefused) {
  auto arns = launch("d", 1, "t3.small");
  web("w", 64);
  ok("UpdateContainerInstancesState",
     {{"cluster", "d"}, {"containerInstances", arns}, {"status", "DRAINING"}});
  expect_error("RunTask", {{"cluster", "d"}, {"taskDefinition", "w"}}, "InvalidParameterException",
               "No Container Instances were found in your cluster.");
  ok("RegisterTaskDefinition", {{"family", "f"},
                                {"networkMode", "awsvpc"},
                                {"requiresCompatibilities", {"FARGATE"}},
                                {"cpu", "256"},
                                {"memory", "512"},
                                {"containerDefinitions", {{{"name", "a"}, {"image", "busybox"}}}}});
  EXPECT_THAT(expect_error("RunTask",
                           {{"cluster", "d"},
                            {"taskDefinition", "f"},
                            {"launchType", "FARGATE"},
                            {"networkConfiguration", {{"awsvpcConfiguration", {{"subnets", {"subnet-1"}}}}}},
                            {"placementStrategy", {{{"type", "random"}}}}},
                           "InvalidParameterException"),
              HasSubstr("FARGATE"));
  // A cluster without instances keeps running EC2 tasks on berth's engine, without an instance.
  ok("CreateCluster", {{"clusterName", "bare"}});
  auto out = ok("RunTask", {{"cluster", "bare"}, {"taskDefinition", "w"}});
  ASSERT_EQ(out["tasks"].size(), 1u);
  EXPECT_FALSE(out["tasks"][0].contains("containerInstanceArn"));
  EXPECT_EQ(out["tasks"][0]["availabilityZone"], "us-east-1a");
}

TEST_F(PlacementHandlersTest, StartTaskChecksResourcesOnTheNamedInstances) {
  auto arns = launch("st", 2, "t3.micro");
  web("half", 600);
  auto out = ok(
      "StartTask",
      {{"cluster", "st"}, {"taskDefinition", "half"}, {"containerInstances", {arns[0], arns[0], arns[1]}}});
  ASSERT_EQ(out["tasks"].size(), 2u);
  EXPECT_EQ(out["tasks"][0]["containerInstanceArn"], arns[0]);
  EXPECT_EQ(out["tasks"][1]["containerInstanceArn"], arns[1]);
  ASSERT_EQ(out["failures"].size(), 1u);
  EXPECT_EQ(out["failures"][0], json({{"arn", arns[0]}, {"reason", "RESOURCE:MEMORY"}}));
}

TEST_F(PlacementHandlersTest, ListTasksFiltersByContainerInstance) {
  auto arns = launch("lt", 2, "m5.large");
  web("w", 64);
  ok("StartTask",
     {{"cluster", "lt"}, {"taskDefinition", "w"}, {"containerInstances", {arns[0], arns[0], arns[1]}}});
  EXPECT_EQ(ok("ListTasks", {{"cluster", "lt"}, {"containerInstance", arns[0]}})["taskArns"].size(), 2u);
  const std::string id = arns[1].substr(arns[1].rfind('/') + 1);
  EXPECT_EQ(ok("ListTasks", {{"cluster", "lt"}, {"containerInstance", id}})["taskArns"].size(), 1u);
  expect_error("ListTasks", {{"cluster", "lt"}, {"containerInstance", "0123456789abcdef0123456789abcdef"}},
               "InvalidParameterException", "The referenced container instance was not found.");
}

TEST_F(PlacementHandlersTest, CountsStayExactThroughTheLifecycleAndARestart) {
  auto arns = launch("acct", 1, "t3.medium");
  web("w", 256, {{"cpu", 512}, {"portMappings", {{{"containerPort", 80}, {"hostPort", 8080}}}}});
  auto task =
      ok("RunTask", {{"cluster", "acct"}, {"taskDefinition", "w"}})["tasks"][0]["taskArn"].get<std::string>();
  auto ci = describe_instance("acct", arns[0]);
  EXPECT_EQ(ci["pendingTasksCount"], 1);
  EXPECT_EQ(ci["runningTasksCount"], 0);
  set_status(task, state::TaskStatus::kRunning);
  ci = describe_instance("acct", arns[0]);
  EXPECT_EQ(ci["pendingTasksCount"], 0);
  EXPECT_EQ(ci["runningTasksCount"], 1);
  EXPECT_EQ(remaining(ci, "CPU"), 2048 - 512);
  // A restart (--data-dir) restores the same accounting: it is derived from the tasks, not kept on the side.
  json snap = state::snapshot(store_);
  state::Store restored;
  ASSERT_TRUE(state::restore(restored, snap));
  auto& again = restored.region(scope_);
  const auto& instance = again.container_instances.begin()->second;
  auto usage = state::instance_usage(instance, again);
  EXPECT_EQ(usage.running, 1);
  EXPECT_EQ(usage.cpu, 512);
  EXPECT_EQ(usage.tcp_ports, std::set<int>({8080}));
  EXPECT_EQ(again.tasks.begin()->second.availability_zone, "us-east-1a");
  // A crash (the essential container died) stops the task and frees everything.
  set_status(task, state::TaskStatus::kStopped);
  ci = describe_instance("acct", arns[0]);
  EXPECT_EQ(ci["runningTasksCount"], 0);
  EXPECT_EQ(remaining(ci, "CPU"), 2048);
}

TEST_F(PlacementHandlersTest, ForcedDeregistrationOrphansTheTasks) {
  auto arns = launch("dr", 1, "t3.large");
  web("w", 64);
  auto task =
      ok("RunTask", {{"cluster", "dr"}, {"taskDefinition", "w"}})["tasks"][0]["taskArn"].get<std::string>();
  expect_error("DeregisterContainerInstance", {{"cluster", "dr"}, {"containerInstance", arns[0]}},
               "InvalidParameterException", "Found running tasks on the instance.");
  auto gone =
      ok("DeregisterContainerInstance", {{"cluster", "dr"}, {"containerInstance", arns[0]}, {"force", true}});
  EXPECT_EQ(gone["containerInstance"]["status"], "INACTIVE");
  EXPECT_EQ(gone["containerInstance"]["pendingTasksCount"], 0);
  // The task keeps running (nothing stops it), but nobody accounts for it any more.
  const auto& t = region().tasks.at(task.substr(task.rfind('/') + 1));
  EXPECT_EQ(t.desired_status, state::TaskStatus::kRunning);
  EXPECT_TRUE(state::is_orphaned(region(), t));
  EXPECT_EQ(ok("DescribeTasks", {{"cluster", "dr"}, {"tasks", {task}}})["tasks"][0]["containerInstanceArn"],
            arns[0]);
  // The cluster has no instance left: tasks go back to berth's engine.
  auto out = ok("RunTask", {{"cluster", "dr"}, {"taskDefinition", "w"}});
  EXPECT_FALSE(out["tasks"][0].contains("containerInstanceArn"));
}

}  // namespace
}  // namespace berth::services
