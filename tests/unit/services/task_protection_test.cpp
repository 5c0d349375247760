#include "ecs_fixture.hpp"

namespace berth::services {
namespace {

class TaskProtectionTest : public testing::EcsFixture {
 protected:
  void SetUp() override {
    ok("CreateCluster", {{"clusterName", "dev"}});
    ok("RegisterTaskDefinition", {{"family", "web"},
                                  {"containerDefinitions",
                                   {{{"name", "app"}, {"image", "busybox"}, {"memory", 64}},
                                    {{"name", "side"}, {"image", "busybox"}, {"memory", 64}}}}});
    standalone_ = ok("RunTask", {{"cluster", "dev"}, {"taskDefinition", "web"}})["tasks"][0]["taskArn"];
    // A service's task carries the group `service:<name>` (services themselves are another module's).
    service_task_ =
        ok("RunTask",
           {{"cluster", "dev"}, {"taskDefinition", "web"}, {"group", "service:api"}})["tasks"][0]["taskArn"];
  }

  std::string standalone_;
  std::string service_task_;
};

TEST_F(TaskProtectionTest, ProtectDefaultsToTwoHoursAndLapses) {
  auto out = ok("UpdateTaskProtection",
                {{"cluster", "dev"}, {"tasks", {service_task_}}, {"protectionEnabled", true}});
  ASSERT_EQ(out["protectedTasks"].size(), 1u);
  EXPECT_EQ(out["failures"], json::array());
  const double expected = to_epoch_seconds(clock_.now_ms() + 120 * 60'000);
  EXPECT_EQ(out["protectedTasks"][0],
            json({{"taskArn", service_task_}, {"protectionEnabled", true}, {"expirationDate", expected}}));
  auto got = ok("GetTaskProtection", {{"cluster", "dev"}, {"tasks", {service_task_}}});
  EXPECT_EQ(got["protectedTasks"], out["protectedTasks"]);

  clock_.advance_ms(120 * 60'000);
  got = ok("GetTaskProtection", {{"cluster", "dev"}, {"tasks", {service_task_}}});
  EXPECT_EQ(got["protectedTasks"][0], json({{"taskArn", service_task_}, {"protectionEnabled", false}}));
}

TEST_F(TaskProtectionTest, CustomExpiryRestartsAndDisable) {
  ok("UpdateTaskProtection", {{"cluster", "dev"},
                              {"tasks", {service_task_}},
                              {"protectionEnabled", true},
                              {"expiresInMinutes", 2880}});
  clock_.advance_ms(60'000);
  auto out = ok(
      "UpdateTaskProtection",
      {{"cluster", "dev"}, {"tasks", {service_task_}}, {"protectionEnabled", true}, {"expiresInMinutes", 1}});
  EXPECT_EQ(out["protectedTasks"][0]["expirationDate"], to_epoch_seconds(clock_.now_ms() + 60'000));
  out = ok("UpdateTaskProtection",
           {{"cluster", "dev"}, {"tasks", {service_task_}}, {"protectionEnabled", false}});
  EXPECT_EQ(out["protectedTasks"][0], json({{"taskArn", service_task_}, {"protectionEnabled", false}}));
}

TEST_F(TaskProtectionTest, StandaloneAndMissingTasksAreFailures) {
  const std::string missing = arn("task/dev/" + std::string(32, 'f'));
  auto out = ok("UpdateTaskProtection", {{"cluster", "dev"},
                                         {"tasks", {standalone_, std::string(32, 'f'), service_task_}},
                                         {"protectionEnabled", true}});
  EXPECT_EQ(out["protectedTasks"].size(), 1u);
  ASSERT_EQ(out["failures"].size(), 2u);
  EXPECT_EQ(out["failures"][0]["arn"], standalone_);
  EXPECT_EQ(out["failures"][0]["reason"], "TASK_NOT_VALID");
  EXPECT_EQ(out["failures"][1], json({{"arn", missing}, {"reason", "MISSING"}}));
  auto got = ok("GetTaskProtection", {{"cluster", "dev"}, {"tasks", {standalone_}}});
  EXPECT_EQ(got["failures"][0]["reason"], "TASK_NOT_VALID");
}

TEST_F(TaskProtectionTest, BadInput) {
  for (int minutes : {0, 2881}) {
    expect_error("UpdateTaskProtection",
                 {{"cluster", "dev"},
                  {"tasks", {service_task_}},
                  {"protectionEnabled", true},
                  {"expiresInMinutes", minutes}},
                 "InvalidParameterException");
  }
  expect_error("UpdateTaskProtection",
               {{"cluster", "dev"},
                {"tasks", json(std::vector<std::string>(11, service_task_))},
                {"protectionEnabled", true}},
               "InvalidParameterException");
  expect_error("GetTaskProtection", {{"cluster", "nope"}, {"tasks", {service_task_}}},
               "ClusterNotFoundException");
  expect_error("GetTaskProtection", {{"tasks", {service_task_}}},
               "ValidationException");  // cluster is required
  expect_error("UpdateTaskProtection", {{"cluster", "dev"}, {"tasks", {service_task_}}},
               "ValidationException");
}

TEST_F(TaskProtectionTest, ExecuteCommandSaysBerthCannotYet) {
  const std::string msg = expect_error("ExecuteCommand",
                                       {{"cluster", "dev"},
                                        {"task", service_task_},
                                        {"container", "app"},
                                        {"command", "sh"},
                                        {"interactive", true}},
                                       "TargetNotConnectedException");
  EXPECT_NE(msg.find("berth does not support ECS Exec"), std::string::npos);
  expect_error("ExecuteCommand",
               {{"cluster", "dev"}, {"task", service_task_}, {"command", "sh"}, {"interactive", true}},
               "InvalidParameterException");  // two containers: one must be named
  expect_error("ExecuteCommand",
               {{"cluster", "dev"},
                {"task", service_task_},
                {"container", "ghost"},
                {"command", "sh"},
                {"interactive", true}},
               "InvalidParameterException");
  expect_error("ExecuteCommand",
               {{"cluster", "dev"}, {"task", "ffff"}, {"command", "sh"}, {"interactive", true}},
               "InvalidParameterException", "The referenced task was not found.");
  expect_error("ExecuteCommand", {{"cluster", "dev"}, {"task", service_task_}, {"interactive", true}},
               "ValidationException");
}

}  // namespace
}  // namespace berth::services
