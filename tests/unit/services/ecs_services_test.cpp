// Services, service deployments/revisions and task sets, through the real protocol layer (model validation
// included), with a manual clock and no container engine: the service scheduler runs (settle()), but nothing
// runs the tasks it creates, so tests move tasks through their statuses themselves. The scheduler's own
// behaviour with a (fake) engine is tested in tests/unit/scheduler/service_scheduler_test.cpp.
#include <gtest/gtest.h>

#include <regex>

#include <berth/protocol/aws_json.hpp>
#include <berth/scheduler/service_scheduler.hpp>
#include <berth/services/ecs.hpp>
#include <berth/state/services.hpp>

#include "../../../src/services/ecs/ecs_common.hpp"

namespace berth::services {
namespace {

constexpr char kPrefix[] = "AmazonEC2ContainerServiceV20141113.";
constexpr char kArnPrefix[] = "arn:aws:ecs:us-east-1:000000000000:";
const Scope kScope{"000000000000", "us-east-1"};

class EcsServicesTest : public ::testing::Test {
 protected:
  EcsServicesTest() : ctx_{store_, clock_, [](const std::string&) {}} {
    register_ecs_handlers(table_, ctx_);
    ok("CreateCluster", {{"clusterName", "dev"}});
    register_td("web", json::object());
  }

  std::pair<int, json> call(const std::string& op, const json& body) {
    std::string target = kPrefix + op;
    std::string text = body.dump();
    protocol::AwsJsonRequest req{target, text, ""};
    auto prepared = protocol::prepare_call(req, kScope, "rid");
    protocol::AwsResponse res =
        prepared ? protocol::invoke(table_, *prepared) : protocol::render_error(prepared.error(), "rid");
    return {res.status, json::parse(res.body)};
  }

  json ok(const std::string& op, const json& body) {
    auto [status, out] = call(op, body);
    EXPECT_EQ(status, 200) << op << ": " << out.dump();
    return out;
  }

  void expect_error(const std::string& op, const json& body, const std::string& type,
                    const std::string& message = "") {
    auto [status, out] = call(op, body);
    EXPECT_EQ(status, 400) << op << " " << body.dump() << " -> " << out.dump();
    EXPECT_EQ(out.value("__type", ""), type) << op << " " << body.dump() << " -> " << out.dump();
    if (!message.empty()) {
      EXPECT_EQ(out.value("message", ""), message) << op << " " << body.dump();
    }
  }

  json register_td(const std::string& family, const json& extra) {
    json body = {{"family", family},
                 {"containerDefinitions", {{{"name", "app"}, {"image", "busybox"}, {"memory", 64}}}}};
    body.update(extra);
    return ok("RegisterTaskDefinition", body)["taskDefinition"];
  }

  json register_fargate_td(const std::string& family) {
    return register_td(family, {{"networkMode", "awsvpc"},
                                {"requiresCompatibilities", {"FARGATE"}},
                                {"cpu", "256"},
                                {"memory", "512"}});
  }

  json create(const std::string& name, const json& extra = json::object()) {
    json body = {{"cluster", "dev"}, {"serviceName", name}, {"taskDefinition", "web"}, {"desiredCount", 2}};
    body.update(extra);
    return ok("CreateService", body)["service"];
  }

  json describe(const std::string& name) {
    auto out = ok("DescribeServices", {{"cluster", "dev"}, {"services", {name}}});
    EXPECT_EQ(out["services"].size(), 1u) << out.dump();
    return out["services"].empty() ? json() : out["services"][0];
  }

  state::RegionState& region() { return store_.region(kScope); }

  // A task of the service as the scheduler would start it.
  void add_service_task(const std::string& id, const std::string& service, const std::string& started_by,
                        state::TaskStatus status) {
    state::Task t;
    t.id = id;
    t.scope = kScope;
    t.cluster_name = "dev";
    t.group = "service:" + service;
    t.started_by = started_by;
    t.last_status = status;
    region().tasks.emplace(id, t);
  }

  // One pass of the service scheduler over every service (the tasks it creates stay PROVISIONING).
  void settle() { scheduler_.tick(); }

  ManualClock clock_;
  state::Store store_;
  EcsContext ctx_;
  protocol::HandlerTable table_;
  scheduler::ServiceScheduler scheduler_{store_, clock_, [](const std::string&) {}, {}};
};

TEST_F(EcsServicesTest, CreateServiceRecordsTheServiceWithEcsDefaults) {
  auto s = create("api");
  EXPECT_EQ(s["serviceArn"], std::string(kArnPrefix) + "service/dev/api");
  EXPECT_EQ(s["serviceName"], "api");
  EXPECT_EQ(s["clusterArn"], std::string(kArnPrefix) + "cluster/dev");
  EXPECT_EQ(s["status"], "ACTIVE");
  EXPECT_EQ(s["desiredCount"], 2);
  EXPECT_EQ(s["runningCount"], 0);
  EXPECT_EQ(s["pendingCount"], 0);
  EXPECT_EQ(s["launchType"], "EC2");
  EXPECT_FALSE(s.contains("capacityProviderStrategy"));
  EXPECT_FALSE(s.contains("platformVersion"));
  EXPECT_EQ(s["taskDefinition"], std::string(kArnPrefix) + "task-definition/web:1");
  EXPECT_EQ(s["deploymentConfiguration"],
            json({{"deploymentCircuitBreaker", {{"enable", false}, {"rollback", false}}},
                  {"maximumPercent", 200},
                  {"minimumHealthyPercent", 100},
                  {"strategy", "ROLLING"},
                  {"bakeTimeInMinutes", 0}}));
  EXPECT_EQ(s["loadBalancers"], json::array());
  EXPECT_EQ(s["serviceRegistries"], json::array());
  EXPECT_EQ(s["events"], json::array());
  EXPECT_EQ(s["placementConstraints"], json::array());
  EXPECT_EQ(s["placementStrategy"], json::array());
  EXPECT_EQ(s["healthCheckGracePeriodSeconds"], 0);
  EXPECT_EQ(s["schedulingStrategy"], "REPLICA");
  EXPECT_EQ(s["deploymentController"], json({{"type", "ECS"}}));
  EXPECT_EQ(s["createdBy"], "arn:aws:iam::000000000000:root");
  EXPECT_EQ(s["propagateTags"], "NONE");
  EXPECT_EQ(s["enableECSManagedTags"], false);
  EXPECT_EQ(s["enableExecuteCommand"], false);
  EXPECT_EQ(s["availabilityZoneRebalancing"], "ENABLED");
  EXPECT_EQ(s["createdAt"], to_epoch_seconds(clock_.now_ms()));
  EXPECT_FALSE(s.contains("roleArn"));  // bridge mode, no load balancer: no role
  EXPECT_FALSE(s.contains("networkConfiguration"));
  EXPECT_FALSE(s.contains("taskSets"));
  EXPECT_FALSE(s.contains("tags"));

  ASSERT_EQ(s["deployments"].size(), 1u);
  const json& d = s["deployments"][0];
  const std::string id = d["id"];
  EXPECT_TRUE(std::regex_match(id, std::regex("ecs-svc/[1-9][0-9]{18}"))) << id;
  EXPECT_EQ(d["status"], "PRIMARY");
  EXPECT_EQ(d["taskDefinition"], s["taskDefinition"]);
  EXPECT_EQ(d["desiredCount"], 2);
  EXPECT_EQ(d["pendingCount"], 0);
  EXPECT_EQ(d["runningCount"], 0);
  EXPECT_EQ(d["failedTasks"], 0);
  EXPECT_EQ(d["createdAt"], s["createdAt"]);
  EXPECT_EQ(d["updatedAt"], s["createdAt"]);
  EXPECT_EQ(d["launchType"], "EC2");
  EXPECT_EQ(d["rolloutState"], "IN_PROGRESS");
  EXPECT_EQ(d["rolloutStateReason"], "ECS deployment " + id + " in progress.");

  const std::string digits = id.substr(8);
  ASSERT_EQ(s["currentServiceRevisions"].size(), 1u);
  EXPECT_EQ(s["currentServiceRevisions"][0],
            json({{"arn", std::string(kArnPrefix) + "service-revision/dev/api/" + digits},
                  {"requestedTaskCount", 2},
                  {"runningTaskCount", 0},
                  {"pendingTaskCount", 0}}));
  const std::string sd = s["currentServiceDeployment"];
  EXPECT_TRUE(std::regex_match(
      sd, std::regex(std::string(kArnPrefix) + "service-deployment/dev/api/[A-Za-z0-9_-]{21}")))
      << sd;
}

TEST_F(EcsServicesTest, CreateServiceKeepsEveryFieldItIsGiven) {
  ok("CreateCluster", {{"clusterName", "cp"}, {"capacityProviders", {"FARGATE", "FARGATE_SPOT"}}});
  register_fargate_td("fg");
  json sc = {{"enabled", true},
             {"namespace", "local"},
             {"services", {{{"portName", "http"}, {"clientAliases", {{{"port", 80}}}}}}}};
  json volumes = {
      {{"name", "data"},
       {"managedEBSVolume", {{"sizeInGiB", 10}, {"roleArn", "arn:aws:iam::000000000000:role/infra"}}}}};
  auto s = ok(
      "CreateService",
      {{"cluster", "cp"},
       {"serviceName", "full"},
       {"taskDefinition", "fg:1"},
       {"desiredCount", 1},
       {"capacityProviderStrategy", {{{"capacityProvider", "FARGATE"}, {"weight", 1}, {"base", 1}}}},
       {"platformVersion", "1.4.0"},
       {"networkConfiguration",
        {{"awsvpcConfiguration", {{"subnets", {"subnet-1"}}, {"securityGroups", {"sg-1"}}}}}},
       {"loadBalancers",
        {{{"targetGroupArn", "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/tg/1"},
          {"containerName", "app"},
          {"containerPort", 80}}}},
       {"serviceRegistries",
        {{{"registryArn", "arn:aws:servicediscovery:us-east-1:000000000000:service/srv-1"}}}},
       {"deploymentConfiguration",
        {{"maximumPercent", 150},
         {"minimumHealthyPercent", 50},
         {"deploymentCircuitBreaker", {{"enable", true}, {"rollback", true}}},
         {"alarms", {{"alarmNames", {"a1"}}, {"enable", true}, {"rollback", false}}}}},
       {"placementConstraints", {{{"type", "memberOf"}, {"expression", "attribute:ecs.os-type == linux"}}}},
       {"placementStrategy", {{{"type", "spread"}, {"field", "attribute:ecs.availability-zone"}}}},
       {"healthCheckGracePeriodSeconds", 30},
       {"propagateTags", "SERVICE"},
       {"enableECSManagedTags", true},
       {"enableExecuteCommand", true},
       {"availabilityZoneRebalancing", "DISABLED"},
       {"serviceConnectConfiguration", sc},
       {"volumeConfigurations", volumes},
       {"tags", {{{"key", "team"}, {"value", "a"}}}}})["service"];
  EXPECT_FALSE(s.contains("launchType"));
  EXPECT_EQ(s["capacityProviderStrategy"],
            json({{{"capacityProvider", "FARGATE"}, {"weight", 1}, {"base", 1}}}));
  EXPECT_EQ(s["platformVersion"], "1.4.0");
  EXPECT_EQ(s["platformFamily"], "Linux");
  EXPECT_EQ(s["networkConfiguration"]["awsvpcConfiguration"]["assignPublicIp"], "DISABLED");
  EXPECT_EQ(s["roleArn"],
            "arn:aws:iam::000000000000:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS");
  EXPECT_EQ(s["deploymentConfiguration"]["maximumPercent"], 150);
  EXPECT_EQ(s["deploymentConfiguration"]["minimumHealthyPercent"], 50);
  EXPECT_EQ(s["deploymentConfiguration"]["alarms"]["alarmNames"], json({"a1"}));
  EXPECT_EQ(s["placementStrategy"][0]["type"], "spread");
  EXPECT_EQ(s["placementConstraints"][0]["type"], "memberOf");
  EXPECT_EQ(s["healthCheckGracePeriodSeconds"], 30);
  EXPECT_EQ(s["propagateTags"], "SERVICE");
  EXPECT_EQ(s["enableECSManagedTags"], true);
  EXPECT_EQ(s["enableExecuteCommand"], true);
  EXPECT_EQ(s["availabilityZoneRebalancing"], "DISABLED");
  EXPECT_EQ(s["tags"], json({{{"key", "team"}, {"value", "a"}}}));
  EXPECT_EQ(s["loadBalancers"][0]["containerPort"], 80);
  EXPECT_EQ(s["serviceRegistries"].size(), 1u);
  const json& d = s["deployments"][0];
  EXPECT_EQ(d["capacityProviderStrategy"], s["capacityProviderStrategy"]);
  EXPECT_EQ(d["platformVersion"], "1.4.0");
  EXPECT_EQ(d["networkConfiguration"], s["networkConfiguration"]);
  EXPECT_EQ(d["serviceConnectConfiguration"], sc);
  EXPECT_EQ(d["volumeConfigurations"], volumes);
}

TEST_F(EcsServicesTest, FargateServiceResolvesLatestOnItsDeployment) {
  register_fargate_td("fg");
  auto s = create("fg", {{"taskDefinition", "fg"},
                         {"launchType", "FARGATE"},
                         {"networkConfiguration", {{"awsvpcConfiguration", {{"subnets", {"subnet-1"}}}}}}});
  EXPECT_EQ(s["launchType"], "FARGATE");
  EXPECT_EQ(s["platformVersion"], "LATEST");
  EXPECT_EQ(s["platformFamily"], "Linux");
  EXPECT_EQ(s["deployments"][0]["platformVersion"], "1.4.0");
  EXPECT_EQ(s["deployments"][0]["platformFamily"], "Linux");
}

TEST_F(EcsServicesTest, CreateServiceRefusesWhatEcsRefuses) {
  auto base = [](json extra) {
    json body = {{"cluster", "dev"}, {"serviceName", "bad"}, {"taskDefinition", "web"}, {"desiredCount", 1}};
    body.update(extra);
    return body;
  };
  expect_error("CreateService", base({{"cluster", "nope"}}), "ClusterNotFoundException",
               "Cluster not found.");
  expect_error("CreateService", base({{"serviceName", "has space"}}), "InvalidParameterException");
  json no_count = base(json::object());
  no_count.erase("desiredCount");
  expect_error("CreateService", no_count, "InvalidParameterException");
  expect_error("CreateService", base({{"schedulingStrategy", "DAEMON"}}), "InvalidParameterException",
               "The daemon scheduling strategy does not support a desired count for services. Remove the "
               "desired count "
               "value and try again");
  expect_error("CreateService", base({{"taskDefinition", "ghost"}}), "InvalidParameterException",
               "TaskDefinition not found.");
  expect_error("CreateService", base({{"taskDefinition", ""}}), "InvalidParameterException",
               "Family should not be null or empty.");
  expect_error(
      "CreateService",
      base({{"launchType", "EC2"}, {"capacityProviderStrategy", {{{"capacityProvider", "FARGATE"}}}}}),
      "InvalidParameterException",
      "Specifying both a launch type and capacity provider strategy is not supported. Remove one and try "
      "again.");
  expect_error("CreateService", base({{"capacityProviderStrategy", {{{"capacityProvider", "FARGATE"}}}}}),
               "InvalidParameterException");  // FARGATE is not associated with this cluster
  expect_error("CreateService", base({{"platformVersion", "1.4.0"}}), "InvalidParameterException",
               "The platform version must be null when specifying an EC2 launch type.");
  expect_error("CreateService",
               base({{"networkConfiguration", {{"awsvpcConfiguration", {{"subnets", {"s"}}}}}}}),
               "InvalidParameterException",
               "Network Configuration is not valid for the given networkMode of this task definition.");
  expect_error("CreateService", base({{"launchType", "FARGATE"}}), "InvalidParameterException",
               "Task definition does not support launch_type FARGATE.");
  register_fargate_td("fg");
  expect_error("CreateService", base({{"taskDefinition", "fg"}, {"launchType", "FARGATE"}}),
               "InvalidParameterException",
               "Network Configuration must be provided when networkMode 'awsvpc' is specified.");
  expect_error("CreateService",
               base({{"taskDefinition", "fg"},
                     {"networkConfiguration", {{"awsvpcConfiguration", {{"subnets", {"s"}}}}}},
                     {"role", "ecsServiceRole"}}),
               "InvalidParameterException",
               "You cannot specify an IAM role for services that require a service linked role.");
  expect_error("CreateService", base({{"deploymentController", {{"type", "EXTERNAL"}}}}),
               "InvalidParameterException", "TaskDefinition must be blank.");
  ok("DeregisterTaskDefinition", {{"taskDefinition", "web:1"}});
  expect_error("CreateService", base({{"taskDefinition", "web:1"}}), "ClientException",
               "TaskDefinition is inactive");
  // The model's own checks come first.
  expect_error("CreateService", base({{"schedulingStrategy", "SOMETIMES"}}), "ValidationException");
  EXPECT_TRUE(region().services.empty());
}

TEST_F(EcsServicesTest, WhatTheSchedulerCannotRunIsRefusedUpFront) {
  expect_error("CreateService",
               {{"cluster", "dev"},
                {"serviceName", "x"},
                {"taskDefinition", "web"},
                {"desiredCount", 1},
                {"launchType", "EXTERNAL"}},
               "UnsupportedFeatureException",
               "berth does not run service tasks with launch type EXTERNAL yet.");
  const std::string asg =
      "arn:aws:autoscaling:us-east-1:000000000000:autoScalingGroup:1:autoScalingGroupName/g";
  ok("CreateCapacityProvider",
     {{"name", "cp1"}, {"autoScalingGroupProvider", {{"autoScalingGroupArn", asg}}}});
  ok("PutClusterCapacityProviders", {{"cluster", "dev"},
                                     {"capacityProviders", {"cp1"}},
                                     {"defaultCapacityProviderStrategy", json::array()}});
  expect_error("CreateService",
               {{"cluster", "dev"},
                {"serviceName", "x"},
                {"taskDefinition", "web"},
                {"desiredCount", 1},
                {"capacityProviderStrategy", {{{"capacityProvider", "cp1"}, {"weight", 1}}}}},
               "UnsupportedFeatureException",
               "berth does not run tasks on Auto Scaling group capacity provider cp1 yet.");
  EXPECT_TRUE(region().services.empty());
}

TEST_F(EcsServicesTest, DaemonServiceDefaultsAndRules) {
  auto s = ok("CreateService", {{"cluster", "dev"},
                                {"serviceName", "agent"},
                                {"taskDefinition", "web"},
                                {"schedulingStrategy", "DAEMON"}})["service"];
  EXPECT_EQ(s["schedulingStrategy"], "DAEMON");
  EXPECT_EQ(s["desiredCount"], 0);  // no container instance to run on
  EXPECT_EQ(s["deploymentConfiguration"]["maximumPercent"], 100);
  EXPECT_EQ(s["deploymentConfiguration"]["minimumHealthyPercent"], 0);
  expect_error(
      "CreateService",
      {{"cluster", "dev"},
       {"serviceName", "agent2"},
       {"taskDefinition", "web"},
       {"schedulingStrategy", "DAEMON"},
       {"placementStrategy", {{{"type", "random"}}}}},
      "InvalidParameterException",
      "The daemon scheduling strategy does not support placement strategies. Remove the placement strategy "
      "and try again");
  expect_error("UpdateService", {{"cluster", "dev"}, {"service", "agent"}, {"desiredCount", 3}},
               "InvalidParameterException");
  ok("DeleteService", {{"cluster", "dev"}, {"service", "agent"}});  // no force needed for DAEMON
}

TEST_F(EcsServicesTest, CreationIsIdempotentOnlyWithTheSameClientToken) {
  json body = {{"cluster", "dev"},
               {"serviceName", "api"},
               {"taskDefinition", "web"},
               {"desiredCount", 1},
               {"clientToken", "token-1"}};
  auto first = ok("CreateService", body)["service"];
  clock_.advance_ms(5000);
  auto again = ok("CreateService", body)["service"];
  EXPECT_EQ(again["createdAt"], first["createdAt"]);
  EXPECT_EQ(again["deployments"][0]["id"], first["deployments"][0]["id"]);
  body["desiredCount"] = 2;
  expect_error("CreateService", body, "InvalidParameterException", "Creation of service was not idempotent.");
  body.erase("clientToken");
  expect_error("CreateService", body, "InvalidParameterException", "Creation of service was not idempotent.");

  ok("UpdateService", {{"cluster", "dev"}, {"service", "api"}, {"desiredCount", 0}});
  ok("DeleteService", {{"cluster", "dev"}, {"service", "api"}});
  expect_error("CreateService", body, "InvalidParameterException",
               "Creation of service was not idempotent.");  // DRAINING
  settle();
  EXPECT_EQ(describe("api")["status"], "INACTIVE");
  auto recreated = ok("CreateService", body)["service"];  // an INACTIVE name is free again
  EXPECT_EQ(recreated["status"], "ACTIVE");
  EXPECT_NE(recreated["deployments"][0]["id"], first["deployments"][0]["id"]);
}

TEST_F(EcsServicesTest, DescribeServicesReportsMissingAndTagsOnRequest) {
  create("api", {{"tags", {{{"key", "k"}, {"value", "v"}}}}});
  auto out = ok("DescribeServices", {{"cluster", "dev"},
                                     {"services",
                                      {"api", std::string(kArnPrefix) + "service/dev/api", "ghost",
                                       std::string(kArnPrefix) + "service/other/api"}}});
  ASSERT_EQ(out["services"].size(), 2u);
  EXPECT_FALSE(out["services"][0].contains("tags"));
  ASSERT_EQ(out["failures"].size(), 2u);
  EXPECT_EQ(out["failures"][0],
            json({{"arn", std::string(kArnPrefix) + "service/dev/ghost"}, {"reason", "MISSING"}}));
  EXPECT_EQ(out["failures"][1]["arn"], std::string(kArnPrefix) + "service/other/api");
  out = ok("DescribeServices", {{"cluster", "dev"}, {"services", {"api"}}, {"include", {"TAGS"}}});
  EXPECT_EQ(out["services"][0]["tags"], json({{{"key", "k"}, {"value", "v"}}}));
  json eleven = json::array();
  for (int i = 0; i < 11; ++i) {
    eleven.push_back("s" + std::to_string(i));
  }
  expect_error("DescribeServices", {{"cluster", "dev"}, {"services", eleven}}, "InvalidParameterException");
  expect_error("DescribeServices", {{"cluster", "nope"}, {"services", {"api"}}}, "ClusterNotFoundException");
}

TEST_F(EcsServicesTest, ListServicesPagesByTenFiltersAndHidesDraining) {
  for (int i = 0; i < 12; ++i) {
    create("svc" + std::to_string(i), {{"desiredCount", 0}});
  }
  ok("CreateService", {{"cluster", "dev"},
                       {"serviceName", "daemon"},
                       {"taskDefinition", "web"},
                       {"schedulingStrategy", "DAEMON"}});
  auto first = ok("ListServices", {{"cluster", "dev"}});
  EXPECT_EQ(first["serviceArns"].size(), 10u);
  ASSERT_TRUE(first.contains("nextToken"));
  auto second = ok("ListServices", {{"cluster", "dev"}, {"nextToken", first["nextToken"]}});
  EXPECT_EQ(second["serviceArns"].size(), 3u);
  EXPECT_FALSE(second.contains("nextToken"));
  EXPECT_EQ(ok("ListServices", {{"cluster", "dev"}, {"schedulingStrategy", "DAEMON"}})["serviceArns"],
            json({std::string(kArnPrefix) + "service/dev/daemon"}));
  EXPECT_EQ(ok("ListServices", {{"cluster", "dev"}, {"launchType", "FARGATE"}})["serviceArns"],
            json::array());
  EXPECT_EQ(
      ok("ListServices", {{"cluster", "dev"}, {"launchType", "EC2"}, {"maxResults", 100}})["serviceArns"]
          .size(),
      13u);
  ok("DeleteService", {{"cluster", "dev"}, {"service", "svc0"}});
  auto all = ok("ListServices", {{"cluster", "dev"}, {"maxResults", 100}});
  EXPECT_EQ(all["serviceArns"].size(), 12u);          // DRAINING is hidden
  EXPECT_EQ(describe("svc0")["status"], "DRAINING");  // but still described
  expect_error("ListServices", {{"cluster", "dev"}, {"nextToken", "garbage!"}}, "InvalidParameterException");
}

TEST_F(EcsServicesTest, DesiredCountOnlyChangeScalesPrimaryInPlace) {
  auto s = create("api");
  const std::string id = s["deployments"][0]["id"];
  clock_.advance_ms(1000);
  auto u = ok("UpdateService", {{"cluster", "dev"}, {"service", "api"}, {"desiredCount", 5}})["service"];
  EXPECT_EQ(u["desiredCount"], 5);
  ASSERT_EQ(u["deployments"].size(), 1u);
  EXPECT_EQ(u["deployments"][0]["id"], id);
  EXPECT_EQ(u["deployments"][0]["desiredCount"], 5);
  EXPECT_EQ(u["deployments"][0]["updatedAt"], to_epoch_seconds(clock_.now_ms()));
  // Neither do deployment configuration, placement or tag settings start a deployment.
  u = ok("UpdateService", {{"cluster", "dev"},
                           {"service", "api"},
                           {"deploymentConfiguration", {{"minimumHealthyPercent", 50}}},
                           {"placementStrategy", {{{"type", "binpack"}, {"field", "memory"}}}},
                           {"healthCheckGracePeriodSeconds", 10},
                           {"propagateTags", "TASK_DEFINITION"},
                           {"enableExecuteCommand", true}})["service"];
  ASSERT_EQ(u["deployments"].size(), 1u);
  EXPECT_EQ(u["deployments"][0]["id"], id);
  EXPECT_EQ(u["deploymentConfiguration"]["minimumHealthyPercent"], 50);
  EXPECT_EQ(u["deploymentConfiguration"]["maximumPercent"], 200);  // merged, not replaced
  EXPECT_EQ(u["placementStrategy"][0]["type"], "binpack");
  EXPECT_EQ(u["healthCheckGracePeriodSeconds"], 10);
  EXPECT_EQ(u["propagateTags"], "TASK_DEFINITION");
  EXPECT_EQ(u["enableExecuteCommand"], true);
  EXPECT_EQ(
      ok("ListServiceDeployments", {{"cluster", "dev"}, {"service", "api"}})["serviceDeployments"].size(),
      1u);
}

TEST_F(EcsServicesTest, TaskDefinitionChangeStartsANewPrimaryAndTheOldOneTurnsActive) {
  auto s = create("api");
  const std::string old_id = s["deployments"][0]["id"];
  register_td("web", json::object());  // web:2
  clock_.advance_ms(1000);
  auto u =
      ok("UpdateService", {{"cluster", "dev"}, {"service", "api"}, {"taskDefinition", "web"}})["service"];
  EXPECT_EQ(u["taskDefinition"], std::string(kArnPrefix) + "task-definition/web:2");
  ASSERT_EQ(u["deployments"].size(), 2u);
  EXPECT_EQ(u["deployments"][0]["status"], "PRIMARY");
  EXPECT_NE(u["deployments"][0]["id"], old_id);
  EXPECT_EQ(u["deployments"][0]["taskDefinition"], std::string(kArnPrefix) + "task-definition/web:2");
  EXPECT_EQ(u["deployments"][0]["rolloutState"], "IN_PROGRESS");
  EXPECT_EQ(u["deployments"][1]["status"], "ACTIVE");
  EXPECT_EQ(u["deployments"][1]["id"], old_id);
  EXPECT_EQ(u["deployments"][1]["taskDefinition"], std::string(kArnPrefix) + "task-definition/web:1");
  EXPECT_EQ(u["currentServiceRevisions"].size(), 2u);

  // The old deployment keeps its place while it still has a task, then leaves.
  add_service_task("old-task", "api", old_id, state::TaskStatus::kRunning);
  settle();
  EXPECT_EQ(describe("api")["deployments"].size(), 2u);
  EXPECT_EQ(describe("api")["deployments"][1]["runningCount"], 1);
  EXPECT_EQ(describe("api")["runningCount"], 1);
  region().tasks.at("old-task").last_status = state::TaskStatus::kStopped;
  settle();
  EXPECT_EQ(describe("api")["deployments"].size(), 1u);

  // forceNewDeployment alone starts one too.
  auto f =
      ok("UpdateService", {{"cluster", "dev"}, {"service", "api"}, {"forceNewDeployment", true}})["service"];
  EXPECT_EQ(f["deployments"].size(), 2u);
  EXPECT_EQ(f["deployments"][0]["taskDefinition"], f["deployments"][1]["taskDefinition"]);
}

TEST_F(EcsServicesTest, UpdateServiceErrors) {
  create("api");
  expect_error("UpdateService", {{"cluster", "dev"}, {"service", "ghost"}, {"desiredCount", 1}},
               "ServiceNotFoundException", "Service not found.");
  expect_error("UpdateService", {{"cluster", "nope"}, {"service", "api"}}, "ClusterNotFoundException");
  expect_error("UpdateService", {{"cluster", "dev"}, {"service", "api"}, {"taskDefinition", "ghost"}},
               "InvalidParameterException", "TaskDefinition not found.");
  expect_error("UpdateService", {{"cluster", "dev"}, {"service", "api"}, {"platformVersion", "1.4.0"}},
               "InvalidParameterException");
}

TEST_F(EcsServicesTest, CapacityProviderChangeNeedsForceNewDeployment) {
  ok("CreateCluster", {{"clusterName", "cp"}, {"capacityProviders", {"FARGATE"}}});
  register_fargate_td("fg");
  json nc = {{"awsvpcConfiguration", {{"subnets", {"subnet-1"}}}}};
  create(
      "fg",
      {{"cluster", "cp"}, {"taskDefinition", "fg"}, {"launchType", "FARGATE"}, {"networkConfiguration", nc}});
  json cps = {{{"capacityProvider", "FARGATE"}, {"weight", 1}}};
  expect_error(
      "UpdateService", {{"cluster", "cp"}, {"service", "fg"}, {"capacityProviderStrategy", cps}},
      "InvalidParameterException",
      "When switching from launch type to capacity provider strategy on an existing service, or making a "
      "change to a capacity provider strategy on a service that is already using one, you must force a new "
      "deployment.");
  auto u = ok("UpdateService", {{"cluster", "cp"},
                                {"service", "fg"},
                                {"capacityProviderStrategy", cps},
                                {"forceNewDeployment", true}})["service"];
  EXPECT_FALSE(u.contains("launchType"));
  EXPECT_EQ(u["capacityProviderStrategy"], cps);
  EXPECT_EQ(u["deployments"].size(), 2u);
  // An empty strategy goes back to the launch type.
  u = ok("UpdateService", {{"cluster", "cp"},
                           {"service", "fg"},
                           {"capacityProviderStrategy", json::array()},
                           {"forceNewDeployment", true}})["service"];
  EXPECT_EQ(u["launchType"], "FARGATE");
}

TEST_F(EcsServicesTest, DeleteServiceNeedsZeroOrForceThenDrainsToInactive) {
  create("api");
  expect_error("DeleteService", {{"cluster", "dev"}, {"service", "api"}}, "InvalidParameterException",
               "The service cannot be stopped while it is scaled above 0.");
  expect_error("DeleteService", {{"cluster", "dev"}, {"service", "ghost"}}, "ServiceNotFoundException",
               "Service not found.");
  EXPECT_EQ(ecs::cluster_service_count(region(), "dev", "ACTIVE"), 1);
  add_service_task("t1", "api", "", state::TaskStatus::kRunning);
  auto d = ok("DeleteService", {{"cluster", "dev"}, {"service", "api"}, {"force", true}})["service"];
  EXPECT_EQ(d["status"], "DRAINING");
  EXPECT_EQ(d["desiredCount"], 0);
  EXPECT_EQ(ecs::cluster_service_count(region(), "dev", "ACTIVE"), 0);
  expect_error("UpdateService", {{"cluster", "dev"}, {"service", "api"}, {"desiredCount", 1}},
               "ServiceNotActiveException", "Service was not ACTIVE.");
  settle();
  EXPECT_EQ(describe("api")["status"], "DRAINING");  // a task of the service still runs
  region().tasks.at("t1").last_status = state::TaskStatus::kStopping;
  settle();
  EXPECT_EQ(describe("api")["status"], "INACTIVE");
  expect_error("UpdateService", {{"cluster", "dev"}, {"service", "api"}, {"desiredCount", 1}},
               "ServiceNotActiveException");
  expect_error("DeleteService", {{"cluster", "dev"}, {"service", "api"}}, "ServiceNotFoundException");
}

TEST_F(EcsServicesTest, ServiceCountsComeFromTasksOfItsGroup) {
  auto s = create("api");
  const std::string id = s["deployments"][0]["id"];
  add_service_task("a", "api", id, state::TaskStatus::kRunning);
  add_service_task("b", "api", id, state::TaskStatus::kProvisioning);
  add_service_task("c", "api", id, state::TaskStatus::kStopped);
  add_service_task("d", "other", id, state::TaskStatus::kRunning);
  auto now = describe("api");
  EXPECT_EQ(now["runningCount"], 1);
  EXPECT_EQ(now["pendingCount"], 1);
  EXPECT_EQ(now["deployments"][0]["runningCount"], 1);
  EXPECT_EQ(now["deployments"][0]["pendingCount"], 1);
  EXPECT_EQ(now["currentServiceRevisions"][0]["runningTaskCount"], 1);
}

TEST_F(EcsServicesTest, ServiceDeploymentHistoryFollowsTheService) {
  auto s = create("api", {{"desiredCount", 0}});
  const std::string first_sd = s["currentServiceDeployment"];
  const std::string first_rev = s["currentServiceRevisions"][0]["arn"];
  auto listed = ok("ListServiceDeployments", {{"cluster", "dev"}, {"service", "api"}})["serviceDeployments"];
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0], json({{"serviceDeploymentArn", first_sd},
                             {"serviceArn", s["serviceArn"]},
                             {"clusterArn", s["clusterArn"]},
                             {"targetServiceRevisionArn", first_rev},
                             {"status", "PENDING"},
                             {"createdAt", s["createdAt"]}}));
  clock_.advance_ms(1000);
  settle();  // desired 0 and nothing runs: steady at once
  auto sd = ok("DescribeServiceDeployments", {{"serviceDeploymentArns", {first_sd, "arn:nope"}}});
  ASSERT_EQ(sd["serviceDeployments"].size(), 1u);
  const json& d = sd["serviceDeployments"][0];
  EXPECT_EQ(d["status"], "SUCCESSFUL");
  EXPECT_EQ(d["startedAt"], to_epoch_seconds(clock_.now_ms()));
  EXPECT_EQ(d["finishedAt"], to_epoch_seconds(clock_.now_ms()));
  EXPECT_EQ(d["sourceServiceRevisions"], json::array());
  EXPECT_EQ(d["targetServiceRevision"]["arn"], first_rev);
  EXPECT_EQ(d["deploymentConfiguration"]["maximumPercent"], 200);
  EXPECT_EQ(sd["failures"], json({{{"arn", "arn:nope"}, {"reason", "MISSING"}}}));
  auto svc = describe("api");
  EXPECT_EQ(svc["deployments"][0]["rolloutState"], "COMPLETED");
  EXPECT_EQ(svc["events"][0]["message"], "(service api) has reached a steady state.");

  register_td("web", json::object());
  clock_.advance_ms(1000);
  auto u =
      ok("UpdateService", {{"cluster", "dev"}, {"service", "api"}, {"taskDefinition", "web:2"}})["service"];
  const std::string second_sd = u["currentServiceDeployment"];
  EXPECT_NE(second_sd, first_sd);
  auto d2 =
      ok("DescribeServiceDeployments", {{"serviceDeploymentArns", {second_sd}}})["serviceDeployments"][0];
  EXPECT_EQ(d2["sourceServiceRevisions"][0]["arn"], first_rev);
  const std::string second_rev = d2["targetServiceRevision"]["arn"];
  auto revs = ok("DescribeServiceRevisions", {{"serviceRevisionArns", {first_rev, second_rev, "arn:gone"}}});
  ASSERT_EQ(revs["serviceRevisions"].size(), 2u);
  EXPECT_EQ(revs["serviceRevisions"][0]["taskDefinition"], std::string(kArnPrefix) + "task-definition/web:1");
  EXPECT_EQ(revs["serviceRevisions"][1]["taskDefinition"], std::string(kArnPrefix) + "task-definition/web:2");
  EXPECT_EQ(revs["serviceRevisions"][1]["launchType"], "EC2");
  EXPECT_EQ(revs["serviceRevisions"][1]["containerImages"],
            json({{{"containerName", "app"}, {"image", "busybox"}}}));
  EXPECT_EQ(revs["serviceRevisions"][1]["guardDutyEnabled"], false);
  EXPECT_EQ(revs["failures"], json({{{"arn", "arn:gone"}, {"reason", "MISSING"}}}));

  listed = ok("ListServiceDeployments", {{"cluster", "dev"}, {"service", "api"}})["serviceDeployments"];
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0]["serviceDeploymentArn"], second_sd);  // newest first
  EXPECT_EQ(ok("ListServiceDeployments",
               {{"cluster", "dev"}, {"service", "api"}, {"status", {"SUCCESSFUL"}}})["serviceDeployments"]
                .size(),
            1u);
  // createdAt bounds, as epoch seconds or as RFC 3339 (the clock started at 2023-11-14T22:13:20Z).
  const double first_created = s["createdAt"];
  auto in_window = [&](const json& window) {
    return ok("ListServiceDeployments",
              {{"cluster", "dev"}, {"service", "api"}, {"createdAt", window}})["serviceDeployments"]
        .size();
  };
  EXPECT_EQ(in_window({{"after", first_created}}), 1u);
  EXPECT_EQ(in_window({{"after", first_created - 1}}), 2u);
  EXPECT_EQ(in_window({{"before", first_created + 0.5}}), 1u);
  EXPECT_EQ(in_window({{"before", "2023-11-14T22:13:20Z"}}), 0u);
  EXPECT_EQ(in_window({{"before", "2023-11-14T23:13:20.5+01:00"}}), 1u);
  EXPECT_EQ(in_window({{"after", "2023-11-14T22:00:00Z"}, {"before", "2024-01-01T00:00:00-0100"}}), 2u);
  auto paged = ok("ListServiceDeployments", {{"cluster", "dev"}, {"service", "api"}, {"maxResults", 1}});
  EXPECT_EQ(paged["serviceDeployments"].size(), 1u);
  EXPECT_TRUE(paged.contains("nextToken"));
  expect_error("ListServiceDeployments", {{"cluster", "dev"}, {"service", "ghost"}},
               "ServiceNotFoundException");
}

TEST_F(EcsServicesTest, StopServiceDeploymentRollsBackToThePreviousRevision) {
  create("api", {{"desiredCount", 0}});
  settle();
  register_td("web", json::object());
  auto u =
      ok("UpdateService", {{"cluster", "dev"}, {"service", "api"}, {"taskDefinition", "web:2"}})["service"];
  const std::string sd = u["currentServiceDeployment"];
  auto out = ok("StopServiceDeployment", {{"serviceDeploymentArn", sd}});
  EXPECT_EQ(out, json({{"serviceDeploymentArn", sd}}));
  auto d = ok("DescribeServiceDeployments", {{"serviceDeploymentArns", {sd}}})["serviceDeployments"][0];
  EXPECT_EQ(d["status"], "ROLLBACK_REQUESTED");
  EXPECT_EQ(d["rollback"]["serviceRevisionArn"], d["sourceServiceRevisions"][0]["arn"]);
  auto svc = describe("api");
  EXPECT_EQ(svc["taskDefinition"], std::string(kArnPrefix) + "task-definition/web:1");
  EXPECT_EQ(svc["deployments"][0]["taskDefinition"], std::string(kArnPrefix) + "task-definition/web:1");
  EXPECT_EQ(svc["currentServiceDeployment"], sd);  // the rollback carries the same service deployment
  settle();
  d = ok("DescribeServiceDeployments", {{"serviceDeploymentArns", {sd}}})["serviceDeployments"][0];
  EXPECT_EQ(d["status"], "ROLLBACK_SUCCESSFUL");
  expect_error("StopServiceDeployment", {{"serviceDeploymentArn", sd}}, "ConflictException");
  expect_error("StopServiceDeployment",
               {{"serviceDeploymentArn", std::string(kArnPrefix) + "service-deployment/dev/api/nope"}},
               "ServiceDeploymentNotFoundException");
  expect_error("StopServiceDeployment", {{"serviceDeploymentArn", sd}, {"stopType", "SIDEWAYS"}},
               "ValidationException");
  expect_error("ContinueServiceDeployment", {{"serviceDeploymentArn", sd}, {"hookId", "h-1"}},
               "InvalidParameterException");
  expect_error("ContinueServiceDeployment", {{"serviceDeploymentArn", "arn:nope"}, {"hookId", "h-1"}},
               "ServiceDeploymentNotFoundException");
}

TEST_F(EcsServicesTest, TaskSetsBelongToExternalServicesOnly) {
  create("rolling");
  for (const char* op : {"CreateTaskSet", "DescribeTaskSets"}) {
    expect_error(
        op, {{"cluster", "dev"}, {"service", "rolling"}, {"taskDefinition", "web"}},
        "InvalidParameterException",
        "Amazon ECS only supports task set management on services configured to use external deployment "
        "controllers.");
  }
  auto ext = ok("CreateService", {{"cluster", "dev"},
                                  {"serviceName", "ext"},
                                  {"desiredCount", 3},
                                  {"deploymentController", {{"type", "EXTERNAL"}}}})["service"];
  EXPECT_EQ(ext["deployments"], json::array());
  EXPECT_EQ(ext["taskSets"], json::array());
  EXPECT_FALSE(ext.contains("taskDefinition"));
  EXPECT_FALSE(ext.contains("currentServiceDeployment"));

  auto ts = ok("CreateTaskSet", {{"cluster", "dev"},
                                 {"service", "ext"},
                                 {"taskDefinition", "web:1"},
                                 {"externalId", "green"},
                                 {"tags", {{{"key", "k"}, {"value", "v"}}}}})["taskSet"];
  const std::string id = ts["id"];
  EXPECT_TRUE(std::regex_match(id, std::regex("ecs-svc/[1-9][0-9]{18}"))) << id;
  EXPECT_EQ(ts["taskSetArn"], std::string(kArnPrefix) + "task-set/dev/ext/" + id);
  EXPECT_EQ(ts["serviceArn"], ext["serviceArn"]);
  EXPECT_EQ(ts["clusterArn"], ext["clusterArn"]);
  EXPECT_EQ(ts["status"], "ACTIVE");
  EXPECT_EQ(ts["externalId"], "green");
  EXPECT_EQ(ts["taskDefinition"], std::string(kArnPrefix) + "task-definition/web:1");
  EXPECT_EQ(ts["scale"], json({{"value", 0.0}, {"unit", "PERCENT"}}));
  EXPECT_EQ(ts["computedDesiredCount"], 0);
  EXPECT_EQ(ts["launchType"], "EC2");
  EXPECT_EQ(ts["stabilityStatus"], "STABILIZING");
  EXPECT_EQ(ts["tags"], json({{{"key", "k"}, {"value", "v"}}}));

  auto up = ok("UpdateTaskSet", {{"cluster", "dev"},
                                 {"service", "ext"},
                                 {"taskSet", ts["taskSetArn"]},
                                 {"scale", {{"value", 50.0}, {"unit", "PERCENT"}}}})["taskSet"];
  EXPECT_EQ(up["scale"]["value"], 50.0);
  EXPECT_EQ(up["computedDesiredCount"], 2);  // ceil(3 x 50%)
  expect_error("UpdateTaskSet",
               {{"cluster", "dev"}, {"service", "ext"}, {"taskSet", id}, {"scale", {{"value", 150.0}}}},
               "InvalidParameterException");
  auto primary = ok("UpdateServicePrimaryTaskSet",
                    {{"cluster", "dev"}, {"service", "ext"}, {"primaryTaskSet", id}})["taskSet"];
  EXPECT_EQ(primary["status"], "PRIMARY");
  EXPECT_EQ(describe("ext")["taskDefinition"], std::string(kArnPrefix) + "task-definition/web:1");

  auto listed =
      ok("DescribeTaskSets", {{"cluster", "dev"}, {"service", "ext"}, {"taskSets", {id, "ecs-svc/0"}}});
  ASSERT_EQ(listed["taskSets"].size(), 1u);
  EXPECT_FALSE(listed["taskSets"][0].contains("tags"));
  EXPECT_EQ(listed["failures"], json({{{"arn", "ecs-svc/0"}, {"reason", "MISSING"}}}));
  EXPECT_EQ(ok("DescribeTaskSets",
               {{"cluster", "dev"}, {"service", "ext"}, {"include", {"TAGS"}}})["taskSets"][0]["tags"],
            json({{{"key", "k"}, {"value", "v"}}}));

  expect_error("DeleteTaskSet", {{"cluster", "dev"}, {"service", "ext"}, {"taskSet", id}},
               "InvalidParameterException");
  auto del = ok("DeleteTaskSet",
                {{"cluster", "dev"}, {"service", "ext"}, {"taskSet", id}, {"force", true}})["taskSet"];
  EXPECT_EQ(del["status"], "DRAINING");
  EXPECT_EQ(del["computedDesiredCount"], 0);
  settle();
  EXPECT_EQ(ok("DescribeTaskSets", {{"cluster", "dev"}, {"service", "ext"}})["taskSets"], json::array());
  for (const char* op : {"UpdateTaskSet", "DeleteTaskSet"}) {
    expect_error(op,
                 {{"cluster", "dev"},
                  {"service", "ext"},
                  {"taskSet", id},
                  {"scale", {{"value", 10.0}, {"unit", "PERCENT"}}}},
                 "TaskSetNotFoundException");
  }
  expect_error("UpdateServicePrimaryTaskSet",
               {{"cluster", "dev"}, {"service", "ext"}, {"primaryTaskSet", id}}, "TaskSetNotFoundException");
  expect_error("CreateTaskSet", {{"cluster", "dev"}, {"service", "ghost"}, {"taskDefinition", "web"}},
               "ServiceNotFoundException");
}

TEST_F(EcsServicesTest, CodeDeployServiceStartsWithAPrimaryTaskSet) {
  auto s = create("bg", {{"deploymentController", {{"type", "CODE_DEPLOY"}}}});
  ASSERT_EQ(s["taskSets"].size(), 1u);
  EXPECT_EQ(s["taskSets"][0]["status"], "PRIMARY");
  EXPECT_EQ(s["taskSets"][0]["scale"]["value"], 100.0);
  EXPECT_EQ(s["taskSets"][0]["computedDesiredCount"], 2);
  EXPECT_EQ(s["deployments"], json::array());
  expect_error(
      "UpdateService", {{"cluster", "dev"}, {"service", "bg"}, {"taskDefinition", "web"}},
      "InvalidParameterException",
      "Unable to update task definition on services with a CODE_DEPLOY deployment controller. Use AWS "
      "CodeDeploy to trigger a new deployment.");
  EXPECT_EQ(ok("UpdateService",
               {{"cluster", "dev"}, {"service", "bg"}, {"desiredCount", 4}})["service"]["desiredCount"],
            4);
  EXPECT_EQ(ok("DescribeTaskSets", {{"cluster", "dev"}, {"service", "bg"}})["taskSets"].size(), 1u);
  expect_error("CreateTaskSet", {{"cluster", "dev"}, {"service", "bg"}, {"taskDefinition", "web"}},
               "InvalidParameterException");
}

TEST_F(EcsServicesTest, ListServicesByNamespaceFindsServiceConnectServices) {
  expect_error("ListServicesByNamespace", {{"namespace", "nowhere"}}, "NamespaceNotFoundException");
  create("a", {{"serviceConnectConfiguration", {{"enabled", true}, {"namespace", "shop"}}}});
  create("b", {{"serviceConnectConfiguration", {{"enabled", true}, {"namespace", "other"}}}});
  create("c");
  auto out = ok("ListServicesByNamespace", {{"namespace", "shop"}});
  EXPECT_EQ(out["serviceArns"], json({std::string(kArnPrefix) + "service/dev/a"}));
  EXPECT_FALSE(out.contains("nextToken"));
}

TEST_F(EcsServicesTest, ServiceConnectWithoutNamespaceUsesTheClusterDefault) {
  ok("CreateCluster", {{"clusterName", "sc"}, {"serviceConnectDefaults", {{"namespace", "shop"}}}});
  auto s = ok("CreateService", {{"cluster", "sc"},
                                {"serviceName", "a"},
                                {"taskDefinition", "web"},
                                {"desiredCount", 0},
                                {"serviceConnectConfiguration", {{"enabled", true}}}})["service"];
  EXPECT_EQ(s["deployments"][0]["serviceConnectConfiguration"]["namespace"], "shop");
  EXPECT_EQ(ok("ListServicesByNamespace", {{"namespace", "shop"}})["serviceArns"].size(), 1u);
}

}  // namespace
}  // namespace berth::services
