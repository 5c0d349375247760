#include <gtest/gtest.h>

#include <berth/protocol/aws_json.hpp>
#include <berth/services/ecs.hpp>

namespace berth::services {
namespace {

constexpr char kPrefix[] = "AmazonEC2ContainerServiceV20141113.";

class EcsHandlersTest : public ::testing::Test {
 protected:
  EcsHandlersTest() : ctx_{store_, clock_, [this](const std::string& id) { kicked_.push_back(id); }} {
    register_ecs_handlers(table_, ctx_);
  }

  // Sends one request through the real protocol layer; returns {status, body}.
  std::pair<int, json> call(const std::string& op, const json& body, const std::string& auth = "") {
    std::string target = kPrefix + op;
    std::string text = body.dump();
    protocol::AwsJsonRequest req{target, text, auth};
    auto prepared = protocol::prepare_call(req, Scope{"000000000000", "us-east-1"}, "rid");
    protocol::AwsResponse res = prepared ? protocol::invoke(table_, *prepared) : protocol::render_error(prepared.error(), "rid");
    return {res.status, json::parse(res.body)};
  }

  json ok(const std::string& op, const json& body) {
    auto [status, out] = call(op, body);
    EXPECT_EQ(status, 200) << op << ": " << out.dump();
    return out;
  }

  void expect_error(const std::string& op, const json& body, const std::string& type, const std::string& message = "") {
    auto [status, out] = call(op, body);
    EXPECT_EQ(status, 400) << out.dump();
    EXPECT_EQ(out.value("__type", ""), type) << out.dump();
    if (!message.empty()) {
      EXPECT_EQ(out.value("message", ""), message);
    }
  }

  json register_web(const json& extra = json::object()) {
    json body = {{"family", "web"},
                 {"containerDefinitions", {{{"name", "app"}, {"image", "busybox"}, {"memory", 64}}}}};
    body.update(extra);
    return ok("RegisterTaskDefinition", body);
  }

  ManualClock clock_;
  state::Store store_;
  std::vector<std::string> kicked_;
  EcsContext ctx_;
  protocol::HandlerTable table_;
};

TEST_F(EcsHandlersTest, CreateClusterIsIdempotentAndDescribable) {
  auto a = ok("CreateCluster", {{"clusterName", "dev"}});
  EXPECT_EQ(a["cluster"]["clusterArn"], "arn:aws:ecs:us-east-1:000000000000:cluster/dev");
  EXPECT_EQ(a["cluster"]["status"], "ACTIVE");
  auto b = ok("CreateCluster", {{"clusterName", "dev"}});
  EXPECT_EQ(a, b);
  auto d = ok("DescribeClusters", {{"clusters", {"dev", "nope"}}});
  ASSERT_EQ(d["clusters"].size(), 1u);
  EXPECT_EQ(d["clusters"][0]["clusterName"], "dev");
  ASSERT_EQ(d["failures"].size(), 1u);
  EXPECT_EQ(d["failures"][0]["arn"], "arn:aws:ecs:us-east-1:000000000000:cluster/nope");
  EXPECT_EQ(d["failures"][0]["reason"], "MISSING");
}

TEST_F(EcsHandlersTest, ClusterNameDefaultsToDefault) {
  auto a = ok("CreateCluster", json::object());
  EXPECT_EQ(a["cluster"]["clusterName"], "default");
  auto d = ok("DescribeClusters", json::object());
  EXPECT_EQ(d["clusters"][0]["clusterName"], "default");
}

TEST_F(EcsHandlersTest, InvalidClusterNameIsInvalidParameter) {
  expect_error("CreateCluster", {{"clusterName", "bad name!"}}, "InvalidParameterException");
}

TEST_F(EcsHandlersTest, StateIsIsolatedPerAccountAndRegion) {
  ok("CreateCluster", {{"clusterName", "dev"}});
  auto [s1, other_region] = call("ListClusters", json::object(),
                                 "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/eu-west-1/ecs/aws4_request, "
                                 "SignedHeaders=host, Signature=abc");
  EXPECT_EQ(s1, 200);
  EXPECT_TRUE(other_region["clusterArns"].empty());
  auto [s2, other_account] = call("CreateCluster", {{"clusterName", "dev"}},
                                  "AWS4-HMAC-SHA256 Credential=111122223333/20260101/us-east-1/ecs/aws4_request, "
                                  "SignedHeaders=host, Signature=abc");
  EXPECT_EQ(s2, 200);
  EXPECT_EQ(other_account["cluster"]["clusterArn"], "arn:aws:ecs:us-east-1:111122223333:cluster/dev");
}

TEST_F(EcsHandlersTest, ListClustersPaginatesWithOpaqueTokenAbsentOnLastPage) {
  for (int i = 0; i < 5; ++i) {
    ok("CreateCluster", {{"clusterName", "c" + std::to_string(i)}});
  }
  std::vector<std::string> seen;
  json req = {{"maxResults", 2}};
  int pages = 0;
  for (;;) {
    auto page = ok("ListClusters", req);
    ++pages;
    for (auto& a : page["clusterArns"]) {
      seen.push_back(a);
    }
    if (!page.contains("nextToken")) {
      break;
    }
    req["nextToken"] = page["nextToken"];
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen.size(), 5u);
  expect_error("ListClusters", {{"nextToken", "!!garbage"}}, "InvalidParameterException");
}

TEST_F(EcsHandlersTest, DeleteClusterRefusesActiveTasksThenGoesInactive) {
  ok("CreateCluster", {{"clusterName", "dev"}});
  register_web();
  ok("RunTask", {{"cluster", "dev"}, {"taskDefinition", "web"}});
  expect_error("DeleteCluster", {{"cluster", "dev"}}, "ClusterContainsTasksException",
               "The Cluster cannot be deleted while Tasks are active.");
  store_.region(Scope{"000000000000", "us-east-1"}).tasks.clear();
  auto d = ok("DeleteCluster", {{"cluster", "dev"}});
  EXPECT_EQ(d["cluster"]["status"], "INACTIVE");
  expect_error("RunTask", {{"cluster", "dev"}, {"taskDefinition", "web"}}, "ClusterNotFoundException",
               "The referenced cluster was inactive.");
  auto l = ok("ListClusters", json::object());
  EXPECT_TRUE(l["clusterArns"].empty());
}

TEST_F(EcsHandlersTest, RegisterTaskDefinitionFillsDefaultsAndCountsRevisions) {
  auto r1 = register_web();
  auto td = r1["taskDefinition"];
  EXPECT_EQ(td["taskDefinitionArn"], "arn:aws:ecs:us-east-1:000000000000:task-definition/web:1");
  EXPECT_EQ(td["revision"], 1);
  EXPECT_EQ(td["status"], "ACTIVE");
  EXPECT_EQ(td["networkMode"], "bridge");
  EXPECT_EQ(td["compatibilities"], json({"EXTERNAL", "EC2"}));
  EXPECT_EQ(td["containerDefinitions"][0]["essential"], true);
  EXPECT_EQ(td["containerDefinitions"][0]["cpu"], 0);
  EXPECT_TRUE(td.contains("registeredAt"));
  auto r2 = register_web();
  EXPECT_EQ(r2["taskDefinition"]["revision"], 2);
  auto d = ok("DescribeTaskDefinition", {{"taskDefinition", "web"}});
  EXPECT_EQ(d["taskDefinition"]["revision"], 2);
  d = ok("DescribeTaskDefinition", {{"taskDefinition", "web:1"}});
  EXPECT_EQ(d["taskDefinition"]["revision"], 1);
  d = ok("DescribeTaskDefinition", {{"taskDefinition", "arn:aws:ecs:us-east-1:000000000000:task-definition/web:2"}});
  EXPECT_EQ(d["taskDefinition"]["revision"], 2);
  expect_error("DescribeTaskDefinition", {{"taskDefinition", "web:9"}}, "ClientException",
               "Unable to describe task definition.");
}

TEST_F(EcsHandlersTest, RegisterTaskDefinitionValidatesAsEcs) {
  expect_error("RegisterTaskDefinition",
               {{"family", "bad family"}, {"containerDefinitions", {{{"name", "a"}, {"image", "i"}, {"memory", 64}}}}},
               "ClientException", "Family contains invalid characters.");
  expect_error("RegisterTaskDefinition", {{"family", "f"}, {"containerDefinitions", {{{"name", "a"}, {"image", "i"}}}}},
               "ClientException",
               "Invalid setting for container 'a'. At least one of 'memory' or 'memoryReservation' must be specified.");
  expect_error("RegisterTaskDefinition",
               {{"family", "f"},
                {"containerDefinitions", {{{"name", "a"}, {"image", "i"}, {"memory", 64}, {"essential", false}}}}},
               "ClientException");
  expect_error("RegisterTaskDefinition",
               {{"family", "f"},
                {"requiresCompatibilities", {"FARGATE"}},
                {"cpu", "256"},
                {"memory", "512"},
                {"containerDefinitions", {{{"name", "a"}, {"image", "i"}}}}},
               "ClientException", "Fargate only supports network mode \u2018awsvpc\u2019.");
  expect_error("RegisterTaskDefinition",
               {{"family", "f"},
                {"requiresCompatibilities", {"FARGATE"}},
                {"networkMode", "awsvpc"},
                {"cpu", "256"},
                {"memory", "4096"},
                {"containerDefinitions", {{{"name", "a"}, {"image", "i"}}}}},
               "ClientException");
  // A missing required member never reaches the handler: the model says so first.
  expect_error("RegisterTaskDefinition", {{"family", "f"}}, "ValidationException");
}

TEST_F(EcsHandlersTest, CpuAndMemoryNotationIsNormalised) {
  auto r = ok("RegisterTaskDefinition", {{"family", "f"},
                                         {"networkMode", "awsvpc"},
                                         {"requiresCompatibilities", {"FARGATE"}},
                                         {"cpu", "1 vCPU"},
                                         {"memory", "2GB"},
                                         {"containerDefinitions", {{{"name", "a"}, {"image", "i"}}}}});
  EXPECT_EQ(r["taskDefinition"]["cpu"], "1024");
  EXPECT_EQ(r["taskDefinition"]["memory"], "2048");
  EXPECT_EQ(r["taskDefinition"]["compatibilities"], json({"EC2", "FARGATE"}));
}

TEST_F(EcsHandlersTest, RunTaskCreatesPendingTasksAndKicksScheduler) {
  ok("CreateCluster", json::object());
  register_web();
  auto r = ok("RunTask", {{"taskDefinition", "web"}, {"count", 2}, {"startedBy", "me"}});
  ASSERT_EQ(r["tasks"].size(), 2u);
  EXPECT_TRUE(r["failures"].empty());
  const auto& t = r["tasks"][0];
  EXPECT_EQ(t["desiredStatus"], "RUNNING");
  EXPECT_EQ(t["lastStatus"], "PROVISIONING");  // no scheduler in this test to move it
  EXPECT_EQ(t["launchType"], "EC2");
  EXPECT_EQ(t["group"], "family:web");
  EXPECT_EQ(t["startedBy"], "me");
  EXPECT_EQ(t["containers"][0]["name"], "app");
  EXPECT_EQ(t["containers"][0]["lastStatus"], "PENDING");
  std::string arn = t["taskArn"];
  EXPECT_TRUE(arn.starts_with("arn:aws:ecs:us-east-1:000000000000:task/default/"));
  EXPECT_EQ(arn.size() - arn.rfind('/') - 1, 32u);
  EXPECT_EQ(kicked_.size(), 2u);
}

TEST_F(EcsHandlersTest, RunTaskKeepsTheRolesAndGivesATaskRoleACredentialsId) {
  ok("CreateCluster", json::object());
  register_web({{"taskRoleArn", "arn:aws:iam::111122223333:role/from-def"},
                {"executionRoleArn", "arn:aws:iam::111122223333:role/exec"}});
  auto defined = ok("RunTask", {{"taskDefinition", "web"}});
  auto overridden =
      ok("RunTask", {{"taskDefinition", "web"}, {"overrides", {{"taskRoleArn", "arn:aws:iam::444455556666:role/o"}}}});
  register_web({{"family", "norole"}});
  auto none = ok("RunTask", {{"taskDefinition", "norole"}});
  auto task = [&](const json& r) {
    std::string arn = r["tasks"][0]["taskArn"];
    return store_.find_task(arn.substr(arn.rfind('/') + 1));
  };
  ASSERT_NE(task(defined), nullptr);
  EXPECT_EQ(task(defined)->task_role_arn, "arn:aws:iam::111122223333:role/from-def");
  EXPECT_EQ(task(defined)->execution_role_arn, "arn:aws:iam::111122223333:role/exec");
  EXPECT_EQ(task(overridden)->task_role_arn, "arn:aws:iam::444455556666:role/o");
  const std::string id = task(defined)->credentials_id;
  EXPECT_EQ(id.size(), 36u);
  EXPECT_EQ(id[14], '4');
  EXPECT_NE(task(overridden)->credentials_id, id);  // one per task, never shared
  EXPECT_TRUE(task(none)->credentials_id.empty());
  EXPECT_TRUE(task(none)->task_role_arn.empty());
  // DescribeTasks shows the override as ECS does, and nothing of the credentials.
  EXPECT_EQ(overridden["tasks"][0]["overrides"]["taskRoleArn"], "arn:aws:iam::444455556666:role/o");
  EXPECT_EQ(defined.dump().find(id), std::string::npos);
}

TEST_F(EcsHandlersTest, RunTaskErrors) {
  register_web();
  expect_error("RunTask", {{"taskDefinition", "web"}}, "ClusterNotFoundException", "Cluster not found.");
  ok("CreateCluster", json::object());
  expect_error("RunTask", {{"taskDefinition", "nope"}}, "InvalidParameterException");
  expect_error("RunTask", {{"taskDefinition", "web"}, {"count", 11}}, "InvalidParameterException");
  expect_error("RunTask", {{"taskDefinition", "web"}, {"launchType", "FARGATE"}}, "InvalidParameterException",
               "Task definition does not support launch_type FARGATE.");
  expect_error("RunTask", {{"taskDefinition", "web"}, {"launchType", "EXTERNAL"}}, "UnsupportedFeatureException");
  expect_error("RunTask",
               {{"taskDefinition", "web"},
                {"networkConfiguration", {{"awsvpcConfiguration", {{"subnets", {"subnet-1"}}}}}}},
               "InvalidParameterException",
               "Network Configuration is not valid for the given networkMode of this task definition.");
  expect_error("RunTask",
               {{"taskDefinition", "web"}, {"overrides", {{"containerOverrides", {{{"name", "ghost"}}}}}}},
               "InvalidParameterException");
  expect_error("RunTask", {{"taskDefinition", "web"}, {"launchType", "MOON"}}, "ValidationException");
  expect_error("RunTask", {{"taskDefinition", "web"}, {"count", "two"}}, "SerializationException");
}

TEST_F(EcsHandlersTest, FargateTasksNeedAwsvpcNetworkConfiguration) {
  ok("CreateCluster", json::object());
  ok("RegisterTaskDefinition", {{"family", "f"},
                                {"networkMode", "awsvpc"},
                                {"requiresCompatibilities", {"FARGATE"}},
                                {"cpu", "256"},
                                {"memory", "512"},
                                {"containerDefinitions", {{{"name", "a"}, {"image", "i"}}}}});
  expect_error("RunTask", {{"taskDefinition", "f"}, {"launchType", "FARGATE"}}, "InvalidParameterException",
               "Network Configuration must be provided when networkMode 'awsvpc' is specified.");
  auto r = ok("RunTask", {{"taskDefinition", "f"},
                          {"launchType", "FARGATE"},
                          {"networkConfiguration",
                           {{"awsvpcConfiguration", {{"subnets", {"subnet-12345"}}, {"securityGroups", {"sg-1"}}}}}}});
  const auto& t = r["tasks"][0];
  EXPECT_EQ(t["launchType"], "FARGATE");
  EXPECT_EQ(t["platformVersion"], "1.4.0");
  EXPECT_EQ(t["cpu"], "256");
  EXPECT_EQ(t["memory"], "512");
  ASSERT_EQ(t["attachments"].size(), 1u);
  EXPECT_EQ(t["attachments"][0]["type"], "ElasticNetworkInterface");
  EXPECT_EQ(t["attachments"][0]["status"], "PRECREATED");
  EXPECT_EQ(t["attachments"][0]["details"][0], json({{"name", "subnetId"}, {"value", "subnet-12345"}}));
}

TEST_F(EcsHandlersTest, CapacityProviderStrategyNeedsAssociatedProviders) {
  ok("CreateCluster", json::object());
  ok("RegisterTaskDefinition", {{"family", "f"},
                                {"networkMode", "awsvpc"},
                                {"requiresCompatibilities", {"FARGATE"}},
                                {"cpu", "256"},
                                {"memory", "512"},
                                {"containerDefinitions", {{{"name", "a"}, {"image", "i"}}}}});
  json net = {{"awsvpcConfiguration", {{"subnets", {"subnet-1"}}}}};
  expect_error("RunTask",
               {{"taskDefinition", "f"},
                {"capacityProviderStrategy", {{{"capacityProvider", "FARGATE_SPOT"}, {"weight", 1}}}},
                {"networkConfiguration", net}},
               "InvalidParameterException");
  ok("CreateCluster", {{"clusterName", "spot"}, {"capacityProviders", {"FARGATE", "FARGATE_SPOT"}}});
  auto r = ok("RunTask", {{"cluster", "spot"},
                          {"taskDefinition", "f"},
                          {"count", 4},
                          {"capacityProviderStrategy",
                           {{{"capacityProvider", "FARGATE"}, {"base", 1}, {"weight", 1}},
                            {{"capacityProvider", "FARGATE_SPOT"}, {"weight", 3}}}},
                          {"networkConfiguration", net}});
  std::map<std::string, int> per_provider;
  for (const auto& t : r["tasks"]) {
    EXPECT_EQ(t["launchType"], "FARGATE");
    ++per_provider[t["capacityProviderName"].get<std::string>()];
  }
  // base 1 on FARGATE, the other 3 split 1:3 -> FARGATE 1 + ~0.75, FARGATE_SPOT ~2.25
  EXPECT_EQ(per_provider["FARGATE"] + per_provider["FARGATE_SPOT"], 4);
  EXPECT_GE(per_provider["FARGATE"], 1);
  EXPECT_GE(per_provider["FARGATE_SPOT"], 2);
}

TEST_F(EcsHandlersTest, NullMembersAreAbsentForEveryHandler) {
  ok("CreateCluster", {{"clusterName", nullptr}});
  register_web();
  auto r = ok("RunTask", {{"taskDefinition", "web"}, {"group", nullptr}, {"startedBy", nullptr}, {"count", nullptr}});
  EXPECT_EQ(r["tasks"].size(), 1u);
  EXPECT_EQ(r["tasks"][0]["group"], "family:web");
  EXPECT_FALSE(r["tasks"][0].contains("startedBy"));
}

TEST_F(EcsHandlersTest, RunTaskAppliesContainerOverrides) {
  ok("CreateCluster", json::object());
  register_web({{"containerDefinitions",
                 {{{"name", "app"},
                   {"image", "busybox"},
                   {"memory", 64},
                   {"environment", {{{"name", "A"}, {"value", "1"}}, {{"name", "B"}, {"value", "2"}}}}}}}});
  ok("RunTask", {{"taskDefinition", "web"},
                 {"overrides",
                  {{"containerOverrides",
                    {{{"name", "app"}, {"command", {"echo", "hi"}}, {"environment", {{{"name", "B"}, {"value", "3"}}}}}}}}}});
  auto& tasks = store_.region(Scope{"000000000000", "us-east-1"}).tasks;
  ASSERT_EQ(tasks.size(), 1u);
  const auto& def = tasks.begin()->second.containers[0].definition;
  EXPECT_EQ(def["command"], json({"echo", "hi"}));
  EXPECT_EQ(def["environment"], json({{{"name", "A"}, {"value", "1"}}, {{"name", "B"}, {"value", "3"}}}));
}

TEST_F(EcsHandlersTest, DescribeListAndStopTasks) {
  ok("CreateCluster", json::object());
  register_web();
  auto r = ok("RunTask", {{"taskDefinition", "web"}, {"count", 3}});
  std::string arn0 = r["tasks"][0]["taskArn"];
  std::string id0 = arn0.substr(arn0.rfind('/') + 1);
  auto d = ok("DescribeTasks", {{"tasks", {arn0, id0, "0123"}}});
  EXPECT_EQ(d["tasks"].size(), 2u);
  ASSERT_EQ(d["failures"].size(), 1u);
  EXPECT_EQ(d["failures"][0]["reason"], "MISSING");
  auto l = ok("ListTasks", {{"maxResults", 2}});
  EXPECT_EQ(l["taskArns"].size(), 2u);
  ASSERT_TRUE(l.contains("nextToken"));
  auto l2 = ok("ListTasks", {{"nextToken", l["nextToken"]}});
  EXPECT_EQ(l2["taskArns"].size(), 1u);
  EXPECT_FALSE(l2.contains("nextToken"));

  auto s = ok("StopTask", {{"task", arn0}, {"reason", "done here"}});
  EXPECT_EQ(s["task"]["desiredStatus"], "STOPPED");
  EXPECT_EQ(s["task"]["stopCode"], "UserInitiated");
  EXPECT_EQ(s["task"]["stoppedReason"], "done here");
  EXPECT_TRUE(s["task"].contains("stoppingAt"));
  EXPECT_EQ(ok("ListTasks", json::object())["taskArns"].size(), 2u);
  EXPECT_EQ(ok("ListTasks", {{"desiredStatus", "STOPPED"}})["taskArns"].size(), 1u);
  expect_error("StopTask", {{"task", "ffff"}}, "InvalidParameterException", "The referenced task was not found.");
}

TEST_F(EcsHandlersTest, UnimplementedOperationSaysSo) {
  // Every ECS operation has a handler now; ECR's do not yet, and answer with ECR's own ValidationException.
  protocol::AwsJsonRequest req{"AmazonEC2ContainerRegistry_V20150921.DescribeRepositories", "{}", ""};
  auto prepared = protocol::prepare_call(req, Scope{"000000000000", "us-east-1"}, "rid");
  ASSERT_TRUE(prepared);
  auto res = protocol::invoke(table_, *prepared);
  EXPECT_EQ(res.status, 400);
  EXPECT_EQ(json::parse(res.body),
            json({{"__type", "ValidationException"},
                  {"message", "The DescribeRepositories operation is not supported by berth yet."}}));
}

TEST_F(EcsHandlersTest, EveryEcsOperationOfTheModelHasAHandler) {
  const auto* ecs = protocol::find_service("ecs");
  ASSERT_NE(ecs, nullptr);
  EXPECT_EQ(ecs->operations.size(), 77u);
  for (const auto& [name, op] : ecs->operations) {
    EXPECT_TRUE(table_.has("ecs", name)) << name << " has no handler";
  }
}

TEST_F(EcsHandlersTest, UnknownOperationAndTarget) {
  protocol::AwsJsonRequest req{"AmazonEC2ContainerServiceV20141113.Nope", "{}", ""};
  auto r = protocol::prepare_call(req, Scope{"000000000000", "us-east-1"}, "rid");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().type, "UnknownOperationException");
  req.target = "Bogus.ListClusters";
  EXPECT_EQ(protocol::prepare_call(req, Scope{}, "rid").error().type, "UnknownOperationException");
  req.target = "";
  EXPECT_EQ(protocol::prepare_call(req, Scope{}, "rid").error().type, "UnknownOperationException");
}

TEST_F(EcsHandlersTest, ErrorBodyIsWhatBotocoreParses) {
  auto res = protocol::render_error(AwsError::client("ClusterNotFoundException", "Cluster not found."), "rid-1");
  EXPECT_EQ(res.status, 400);
  EXPECT_EQ(res.request_id, "rid-1");
  EXPECT_EQ(res.content_type, "application/x-amz-json-1.1");
  EXPECT_EQ(json::parse(res.body), json({{"__type", "ClusterNotFoundException"}, {"message", "Cluster not found."}}));
}

TEST(CallerTest, ReadsScopeFromSigV4Credential) {
  Scope defaults{"000000000000", "us-east-1"};
  auto c = protocol::caller_from_authorization(
      "AWS4-HMAC-SHA256 Credential=123456789012/20260101/ap-south-1/ecs/aws4_request, SignedHeaders=host;x-amz-date, "
      "Signature=deadbeef",
      defaults);
  EXPECT_EQ(c.scope.account, "123456789012");
  EXPECT_EQ(c.scope.region, "ap-south-1");
  EXPECT_EQ(c.access_key_id, "123456789012");
  auto d = protocol::caller_from_authorization("AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20260101/eu-west-2/ecs/aws4_request",
                                               defaults);
  EXPECT_EQ(d.scope.account, "000000000000");
  EXPECT_EQ(d.scope.region, "eu-west-2");
  auto e = protocol::caller_from_authorization("", defaults);
  EXPECT_EQ(e.scope, defaults);
  auto f = protocol::caller_from_authorization("Credential=", defaults);
  EXPECT_EQ(f.scope, defaults);
}

}  // namespace
}  // namespace berth::services
