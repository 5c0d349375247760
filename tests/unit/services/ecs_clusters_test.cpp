// Clusters, capacity providers, account settings and tags, through the real protocol layer.
#include <gtest/gtest.h>

#include <berth/protocol/aws_json.hpp>
#include <berth/services/ecs.hpp>

// The strategy check is private to the ECS handlers; RunTask and CreateService will call it too.
#include "../../../src/services/ecs/ecs_common.hpp"

namespace berth::services {
namespace {

constexpr char kPrefix[] = "AmazonEC2ContainerServiceV20141113.";
constexpr char kArn[] = "arn:aws:ecs:us-east-1:000000000000:";
constexpr char kRoot[] = "arn:aws:iam::000000000000:root";

class EcsClustersTest : public ::testing::Test {
 protected:
  EcsClustersTest() : ctx_{store_, clock_, [](const std::string&) {}} { register_ecs_handlers(table_, ctx_); }

  std::pair<int, json> call(const std::string& op, const json& body) {
    std::string target = kPrefix + op;
    std::string text = body.dump();
    protocol::AwsJsonRequest req{target, text, ""};
    auto prepared = protocol::prepare_call(req, Scope{"000000000000", "us-east-1"}, "rid");
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

  json create_asg_provider(const std::string& name, const std::string& group,
                           const json& extra = json::object()) {
    json provider = {{"autoScalingGroupArn", group}};
    provider.update(extra);
    return ok("CreateCapacityProvider",
              {{"name", name}, {"autoScalingGroupProvider", provider}})["capacityProvider"];
  }

  state::RegionState& region() { return store_.region(Scope{"000000000000", "us-east-1"}); }

  ManualClock clock_;
  state::Store store_;
  EcsContext ctx_;
  protocol::HandlerTable table_;
};

// ---- clusters

TEST_F(EcsClustersTest, CreateClusterShapesEveryMember) {
  auto c = ok("CreateCluster", {{"clusterName", "dev"},
                                {"tags", {{{"key", "team"}, {"value", "a"}}}},
                                {"configuration",
                                 {{"executeCommandConfiguration", {{"logging", "NONE"}}},
                                  {"managedStorageConfiguration", {{"kmsKeyId", "k1"}}}}},
                                {"serviceConnectDefaults", {{"namespace", "ns1"}}},
                                {"capacityProviders", {"FARGATE"}},
                                {"defaultCapacityProviderStrategy",
                                 {{{"capacityProvider", "FARGATE"}, {"weight", 1}}}}})["cluster"];
  EXPECT_EQ(c["clusterArn"], std::string(kArn) + "cluster/dev");
  EXPECT_EQ(c["status"], "ACTIVE");
  EXPECT_EQ(c["settings"], json::parse(R"([{"name":"containerInsights","value":"disabled"}])"));
  EXPECT_EQ(c["tags"], json::parse(R"([{"key":"team","value":"a"}])"));
  EXPECT_EQ(c["configuration"]["managedStorageConfiguration"]["kmsKeyId"], "k1");
  EXPECT_EQ(c["serviceConnectDefaults"]["namespace"], "ns1");
  EXPECT_EQ(c["capacityProviders"], json({"FARGATE"}));
  // ECS stores the strategy with base and weight filled in.
  EXPECT_EQ(c["defaultCapacityProviderStrategy"],
            json::parse(R"([{"capacityProvider":"FARGATE","weight":1,"base":0}])"));
  for (const char* counter : {"registeredContainerInstancesCount", "runningTasksCount", "pendingTasksCount",
                              "activeServicesCount"}) {
    EXPECT_EQ(c[counter], 0) << counter;
  }
  EXPECT_FALSE(c.contains("attachments"));
}

TEST_F(EcsClustersTest, DescribeClustersShowsOnlyWhatIsIncluded) {
  ok("CreateCluster", {{"clusterName", "dev"},
                       {"tags", {{{"key", "k"}, {"value", "v"}}}},
                       {"configuration", {{"executeCommandConfiguration", {{"logging", "DEFAULT"}}}}}});
  auto bare = ok("DescribeClusters", {{"clusters", {"dev"}}})["clusters"][0];
  EXPECT_EQ(bare["tags"], json::array());
  EXPECT_EQ(bare["settings"], json::array());
  EXPECT_EQ(bare["statistics"], json::array());
  EXPECT_FALSE(bare.contains("configuration"));
  EXPECT_FALSE(bare.contains("attachments"));

  auto full =
      ok("DescribeClusters",
         {{"clusters", {std::string(kArn) + "cluster/dev"}},
          {"include", {"ATTACHMENTS", "CONFIGURATIONS", "SETTINGS", "STATISTICS", "TAGS"}}})["clusters"][0];
  EXPECT_EQ(full["tags"], json::parse(R"([{"key":"k","value":"v"}])"));
  EXPECT_EQ(full["settings"][0]["name"], "containerInsights");
  EXPECT_EQ(full["configuration"]["executeCommandConfiguration"]["logging"], "DEFAULT");
  EXPECT_EQ(full["attachments"], json::array());
  ASSERT_EQ(full["statistics"].size(), 16u);
  EXPECT_EQ(full["statistics"][0], json::parse(R"({"name":"runningEC2TasksCount","value":"0"})"));
  EXPECT_EQ(full["statistics"][15]["name"], "drainingManagedInstancesServiceCount");

  json many = json::array();
  for (int i = 0; i < 101; ++i) {
    many.push_back("c" + std::to_string(i));
  }
  expect_error("DescribeClusters", {{"clusters", many}}, "InvalidParameterException");
}

TEST_F(EcsClustersTest, CountersFollowTasksByLaunchType) {
  ok("CreateCluster", {{"clusterName", "dev"}});
  auto add_task = [&](const std::string& id, state::TaskStatus status) {
    state::Task t;
    t.id = id;
    t.cluster_name = "dev";
    t.launch_type = "EC2";
    t.last_status = status;
    region().tasks.emplace(id, t);
  };
  add_task("a", state::TaskStatus::kRunning);
  add_task("b", state::TaskStatus::kRunning);
  add_task("c", state::TaskStatus::kPending);
  add_task("d", state::TaskStatus::kStopped);
  auto c = ok("DescribeClusters", {{"clusters", {"dev"}}, {"include", {"STATISTICS"}}})["clusters"][0];
  EXPECT_EQ(c["runningTasksCount"], 2);
  EXPECT_EQ(c["pendingTasksCount"], 1);
  EXPECT_EQ(c["statistics"][0], json::parse(R"({"name":"runningEC2TasksCount","value":"2"})"));
  EXPECT_EQ(c["statistics"][2], json::parse(R"({"name":"pendingEC2TasksCount","value":"1"})"));
  expect_error("DeleteCluster", {{"cluster", "dev"}}, "ClusterContainsTasksException",
               "The Cluster cannot be deleted while Tasks are active.");
}

TEST_F(EcsClustersTest, CreateClusterTakesTheAccountsContainerInsights) {
  ok("PutAccountSettingDefault", {{"name", "containerInsights"}, {"value", "enhanced"}});
  auto a = ok("CreateCluster", {{"clusterName", "a"}})["cluster"];
  EXPECT_EQ(a["settings"], json::parse(R"([{"name":"containerInsights","value":"enhanced"}])"));
  auto b = ok("CreateCluster",
              {{"clusterName", "b"}, {"settings", {{{"name", "containerInsights"}, {"value", "disabled"}}}}});
  EXPECT_EQ(b["cluster"]["settings"][0]["value"], "disabled");
  expect_error("CreateCluster",
               {{"clusterName", "c"}, {"settings", {{{"name", "containerInsights"}, {"value", "on"}}}}},
               "InvalidParameterException");
}

TEST_F(EcsClustersTest, CreateClusterAgainMustAskForTheSame) {
  auto a = ok("CreateCluster", {{"clusterName", "dev"}, {"tags", {{{"key", "k"}, {"value", "1"}}}}});
  EXPECT_EQ(ok("CreateCluster", {{"clusterName", "dev"}}), a);
  EXPECT_EQ(ok("CreateCluster", {{"clusterName", "dev"}, {"tags", {{{"key", "k"}, {"value", "1"}}}}}), a);
  expect_error(
      "CreateCluster", {{"clusterName", "dev"}, {"tags", {{{"key", "k"}, {"value", "2"}}}}},
      "InvalidParameterException",
      "Arguments on this idempotent request are inconsistent with arguments used in previous request(s).");
  expect_error("CreateCluster", {{"clusterName", "dev"}, {"capacityProviders", {"FARGATE"}}},
               "InvalidParameterException");
}

TEST_F(EcsClustersTest, UpdateClusterMergesWhatIsGiven) {
  ok("CreateCluster", {{"clusterName", "dev"},
                       {"configuration", {{"managedStorageConfiguration", {{"kmsKeyId", "k1"}}}}},
                       {"serviceConnectDefaults", {{"namespace", "ns1"}}}});
  auto c = ok("UpdateCluster",
              {{"cluster", "dev"},
               {"settings", {{{"name", "containerInsights"}, {"value", "enabled"}}}},
               {"configuration", {{"executeCommandConfiguration", {{"logging", "NONE"}}}}}})["cluster"];
  EXPECT_EQ(c["settings"], json::parse(R"([{"name":"containerInsights","value":"enabled"}])"));
  EXPECT_EQ(c["configuration"]["managedStorageConfiguration"]["kmsKeyId"], "k1");
  EXPECT_EQ(c["configuration"]["executeCommandConfiguration"]["logging"], "NONE");
  EXPECT_EQ(c["serviceConnectDefaults"]["namespace"], "ns1");
  c = ok("UpdateCluster", {{"cluster", std::string(kArn) + "cluster/dev"},
                           {"serviceConnectDefaults", {{"namespace", ""}}}})["cluster"];
  EXPECT_FALSE(c.contains("serviceConnectDefaults"));
  expect_error(
      "UpdateCluster",
      {{"cluster", "dev"}, {"configuration", {{"executeCommandConfiguration", {{"logging", "OVERRIDE"}}}}}},
      "InvalidParameterException");
  expect_error("UpdateCluster", {{"cluster", "ghost"}}, "ClusterNotFoundException", "Cluster not found.");

  c = ok("UpdateClusterSettings",
         {{"cluster", "dev"},
          {"settings", {{{"name", "containerInsights"}, {"value", "enhanced"}}}}})["cluster"];
  EXPECT_EQ(c["settings"], json::parse(R"([{"name":"containerInsights","value":"enhanced"}])"));
  expect_error("UpdateClusterSettings",
               {{"cluster", "dev"}, {"settings", {{{"name", "bogus"}, {"value", "enabled"}}}}},
               "ValidationException");
  ok("DeleteCluster", {{"cluster", "dev"}});
  expect_error("UpdateClusterSettings", {{"cluster", "dev"}, {"settings", json::array()}},
               "ClusterNotFoundException", "The referenced cluster was inactive.");
}

TEST_F(EcsClustersTest, DeleteClusterKeepsItDescribableAsInactive) {
  create_asg_provider("cp1", "asg-1");
  ok("CreateCluster",
     {{"clusterName", "dev"}, {"capacityProviders", {"cp1"}}, {"tags", {{{"key", "k"}, {"value", "v"}}}}});
  auto d = ok("DeleteCluster", {{"cluster", "dev"}})["cluster"];
  EXPECT_EQ(d["status"], "INACTIVE");
  EXPECT_EQ(d["capacityProviders"], json::array());
  auto described = ok("DescribeClusters", {{"clusters", {"dev"}}, {"include", {"TAGS"}}});
  EXPECT_EQ(described["clusters"][0]["status"], "INACTIVE");
  EXPECT_EQ(described["clusters"][0]["tags"], json::array());
  EXPECT_TRUE(ok("ListClusters", json::object())["clusterArns"].empty());
  expect_error("DeleteCluster", {{"cluster", "dev"}}, "ClusterNotFoundException");
  // The provider is free again for another cluster.
  ok("CreateCluster", {{"clusterName", "other"}, {"capacityProviders", {"cp1"}}});
  // A cluster of the same name starts afresh.
  EXPECT_EQ(ok("CreateCluster", {{"clusterName", "dev"}})["cluster"]["status"], "ACTIVE");
}

// ---- capacity providers

TEST_F(EcsClustersTest, FargateProvidersAreBuiltIn) {
  auto d = ok("DescribeCapacityProviders", json::object());
  ASSERT_EQ(d["capacityProviders"].size(), 2u);
  EXPECT_EQ(d["capacityProviders"][0],
            json({{"capacityProviderArn", std::string(kArn) + "capacity-provider/FARGATE"},
                  {"name", "FARGATE"},
                  {"status", "ACTIVE"},
                  {"tags", json::array()},
                  {"type", "FARGATE"}}));
  EXPECT_EQ(d["capacityProviders"][1]["name"], "FARGATE_SPOT");
  EXPECT_EQ(d["failures"], json::array());
  expect_error("CreateCapacityProvider",
               {{"name", "FARGATE"}, {"autoScalingGroupProvider", {{"autoScalingGroupArn", "g"}}}},
               "ClientException");
  expect_error("UpdateCapacityProvider", {{"name", "FARGATE"}, {"autoScalingGroupProvider", json::object()}},
               "ClientException");
  expect_error("DeleteCapacityProvider", {{"capacityProvider", "FARGATE_SPOT"}}, "ClientException");
}

TEST_F(EcsClustersTest, CreateCapacityProviderFillsEcsDefaults) {
  auto cp = create_asg_provider(
      "cp1", "arn:aws:autoscaling:us-east-1:000000000000:autoScalingGroup:x:autoScalingGroupName/g",
      {{"managedScaling", {{"status", "ENABLED"}, {"targetCapacity", 90}}}});
  EXPECT_EQ(cp["capacityProviderArn"], std::string(kArn) + "capacity-provider/cp1");
  EXPECT_EQ(cp["status"], "ACTIVE");
  EXPECT_EQ(cp["type"], "EC2_AUTOSCALING");
  EXPECT_FALSE(cp.contains("updateStatus"));
  const auto& asg = cp["autoScalingGroupProvider"];
  EXPECT_EQ(asg["managedScaling"], json({{"status", "ENABLED"},
                                         {"targetCapacity", 90},
                                         {"minimumScalingStepSize", 1},
                                         {"maximumScalingStepSize", 10000},
                                         {"instanceWarmupPeriod", 300}}));
  EXPECT_EQ(asg["managedTerminationProtection"], "DISABLED");
  EXPECT_EQ(asg["managedDraining"], "ENABLED");
  // Custom providers come before the built-in ones.
  auto d = ok("DescribeCapacityProviders", json::object());
  EXPECT_EQ(d["capacityProviders"][0]["name"], "cp1");
}

TEST_F(EcsClustersTest, CapacityProviderNamesFollowEcsRules) {
  const std::string invalid =
      "The specified capacity provider name is invalid. Up to 255 characters are allowed, including letters "
      "(upper "
      "and lowercase), numbers, underscores, and hyphens. The name cannot be prefixed with \"aws\", \"ecs\", "
      "or "
      "\"fargate\". Specify a valid name and try again.";
  for (const char* name : {"aws-cp", "ECSthing", "Fargate2", "bad name", "x/y"}) {
    expect_error("CreateCapacityProvider",
                 {{"name", name}, {"autoScalingGroupProvider", {{"autoScalingGroupArn", "g"}}}},
                 "ClientException", invalid);
  }
  create_asg_provider("cp1", "g1");
  expect_error("CreateCapacityProvider",
               {{"name", "cp1"}, {"autoScalingGroupProvider", {{"autoScalingGroupArn", "g2"}}}},
               "ClientException");
  expect_error(
      "CreateCapacityProvider",
      {{"name", "cp2"}, {"autoScalingGroupProvider", {{"autoScalingGroupArn", "g1"}}}}, "ClientException",
      "The specified Auto Scaling group ARN is already being used by another capacity provider. Specify a "
      "unique Auto Scaling group ARN and try again.");
  expect_error("CreateCapacityProvider", {{"name", "cp3"}}, "InvalidParameterException");
  expect_error("CreateCapacityProvider",
               {{"name", "cp3"},
                {"autoScalingGroupProvider",
                 {{"autoScalingGroupArn", "g3"}, {"managedScaling", {{"targetCapacity", 101}}}}}},
               "ValidationException");
  expect_error("CreateCapacityProvider",
               {{"name", "cp3"},
                {"autoScalingGroupProvider", {{"autoScalingGroupArn", "g3"}}},
                {"tags", {{{"key", "aws:x"}, {"value", "v"}}}}},
               "InvalidParameterException");
}

TEST_F(EcsClustersTest, UpdateCapacityProviderAnswersInProgressThenDescribesTheChange) {
  create_asg_provider("cp1", "g1");
  auto u =
      ok("UpdateCapacityProvider", {{"name", "cp1"},
                                    {"autoScalingGroupProvider",
                                     {{"managedDraining", "DISABLED"},
                                      {"managedScaling", {{"targetCapacity", 50}}}}}})["capacityProvider"];
  EXPECT_EQ(u["updateStatus"], "UPDATE_IN_PROGRESS");
  EXPECT_EQ(u["autoScalingGroupProvider"]["managedDraining"], "ENABLED");  // as it was
  auto d = ok("DescribeCapacityProviders", {{"capacityProviders", {"cp1"}}})["capacityProviders"][0];
  EXPECT_EQ(d["updateStatus"], "UPDATE_COMPLETE");
  EXPECT_EQ(d["autoScalingGroupProvider"]["managedDraining"], "DISABLED");
  EXPECT_EQ(d["autoScalingGroupProvider"]["managedScaling"]["targetCapacity"], 50);
  EXPECT_EQ(d["autoScalingGroupProvider"]["managedScaling"]["instanceWarmupPeriod"], 300);
  expect_error("UpdateCapacityProvider", {{"name", "ghost"}, {"autoScalingGroupProvider", json::object()}},
               "ClientException",
               "The specified capacity provider does not exist. Specify a valid name or ARN and try again.");
}

TEST_F(EcsClustersTest, DeleteCapacityProviderFailsWhileAssociatedThenGoesInactive) {
  create_asg_provider("cp1", "g1");
  ok("CreateCluster", {{"clusterName", "dev"}, {"capacityProviders", {"cp1"}}});
  auto failed = ok("DeleteCapacityProvider", {{"capacityProvider", "cp1"}})["capacityProvider"];
  EXPECT_EQ(failed["status"], "ACTIVE");
  EXPECT_EQ(failed["updateStatus"], "DELETE_FAILED");
  EXPECT_EQ(failed["updateStatusReason"],
            "The capacity provider cannot be deleted because it is associated with cluster: dev. Remove the "
            "capacity "
            "provider from the cluster and try again.");
  ok("PutClusterCapacityProviders", {{"cluster", "dev"},
                                     {"capacityProviders", json::array()},
                                     {"defaultCapacityProviderStrategy", json::array()}});
  auto deleted = ok("DeleteCapacityProvider",
                    {{"capacityProvider", std::string(kArn) + "capacity-provider/cp1"}})["capacityProvider"];
  EXPECT_EQ(deleted["status"], "DEPROVISIONING");
  EXPECT_EQ(deleted["updateStatus"], "DELETE_IN_PROGRESS");
  EXPECT_FALSE(deleted.contains("updateStatusReason"));
  auto d = ok("DescribeCapacityProviders", {{"capacityProviders", {"cp1"}}})["capacityProviders"][0];
  EXPECT_EQ(d["status"], "INACTIVE");
  EXPECT_EQ(d["updateStatus"], "DELETE_COMPLETE");
  EXPECT_EQ(ok("DescribeCapacityProviders", json::object())["capacityProviders"].size(), 2u);
  expect_error("DeleteCapacityProvider", {{"capacityProvider", "cp1"}}, "ClientException");
  expect_error("PutClusterCapacityProviders",
               {{"cluster", "dev"},
                {"capacityProviders", {"cp1"}},
                {"defaultCapacityProviderStrategy", json::array()}},
               "InvalidParameterException");
  // The name can be used again.
  create_asg_provider("cp1", "g1");
}

TEST_F(EcsClustersTest, DescribeCapacityProvidersFiltersAndPages) {
  for (int i = 0; i < 12; ++i) {
    create_asg_provider("cp" + std::to_string(100 + i), "g" + std::to_string(i));
  }
  auto first = ok("DescribeCapacityProviders", json::object());
  EXPECT_EQ(first["capacityProviders"].size(), 10u);  // ECS's default page
  ASSERT_TRUE(first.contains("nextToken"));
  auto second = ok("DescribeCapacityProviders", {{"nextToken", first["nextToken"]}});
  EXPECT_EQ(second["capacityProviders"].size(), 4u);
  EXPECT_FALSE(second.contains("nextToken"));
  EXPECT_EQ(second["capacityProviders"][3]["name"], "FARGATE_SPOT");
  expect_error("DescribeCapacityProviders", {{"maxResults", 11}}, "InvalidParameterException");

  ok("TagResource", {{"resourceArn", std::string(kArn) + "capacity-provider/cp100"},
                     {"tags", {{{"key", "k"}, {"value", "v"}}}}});
  auto named =
      ok("DescribeCapacityProviders", {{"capacityProviders", {"cp100", "ghost"}}, {"include", {"TAGS"}}});
  ASSERT_EQ(named["capacityProviders"].size(), 1u);
  EXPECT_EQ(named["capacityProviders"][0]["tags"], json::parse(R"([{"key":"k","value":"v"}])"));
  EXPECT_EQ(named["failures"], json::parse(std::string(R"([{"arn":")") + kArn +
                                           R"(capacity-provider/ghost","reason":"MISSING"}])"));
  EXPECT_EQ(
      ok("DescribeCapacityProviders", {{"capacityProviders", {"cp100"}}})["capacityProviders"][0]["tags"],
      json::array());

  ok("CreateCluster", {{"clusterName", "dev"}, {"capacityProviders", {"FARGATE", "cp101"}}});
  auto in_cluster = ok("DescribeCapacityProviders", {{"cluster", "dev"}})["capacityProviders"];
  ASSERT_EQ(in_cluster.size(), 2u);
  EXPECT_EQ(in_cluster[0]["name"], "cp101");
  EXPECT_EQ(in_cluster[1]["name"], "FARGATE");
  expect_error("DescribeCapacityProviders", {{"cluster", "ghost"}}, "ClusterNotFoundException");
}

TEST_F(EcsClustersTest, ManagedInstancesProvidersBelongToTheirCluster) {
  ok("CreateCluster", {{"clusterName", "dev"}});
  const json mi = {{"infrastructureRoleArn", "arn:aws:iam::000000000000:role/infra"},
                   {"instanceLaunchTemplate",
                    {{"ec2InstanceProfileArn", "arn:aws:iam::000000000000:instance-profile/p"},
                     {"networkConfiguration", {{"subnets", {"subnet-1"}}}},
                     {"monitoring", "BASIC"}}},
                   {"propagateTags", "CAPACITY_PROVIDER"}};
  expect_error("CreateCapacityProvider", {{"name", "mi"}, {"managedInstancesProvider", mi}},
               "InvalidParameterException");
  auto cp = ok("CreateCapacityProvider",
               {{"name", "mi"}, {"cluster", "dev"}, {"managedInstancesProvider", mi}})["capacityProvider"];
  EXPECT_EQ(cp["type"], "MANAGED_INSTANCES");
  EXPECT_EQ(cp["cluster"], "dev");
  EXPECT_EQ(cp["managedInstancesProvider"], mi);
  EXPECT_EQ(ok("DescribeClusters", {{"clusters", {"dev"}}})["clusters"][0]["capacityProviders"],
            json({"mi"}));
  // Not visible, nor updatable, outside its cluster.
  EXPECT_EQ(ok("DescribeCapacityProviders", json::object())["capacityProviders"].size(), 2u);
  EXPECT_EQ(ok("DescribeCapacityProviders", {{"cluster", "dev"}})["capacityProviders"][0]["name"], "mi");
  const json update = {{"infrastructureRoleArn", "arn:aws:iam::000000000000:role/infra2"},
                       {"instanceLaunchTemplate", {{"monitoring", "DETAILED"}}}};
  expect_error("UpdateCapacityProvider", {{"name", "mi"}, {"managedInstancesProvider", update}},
               "ClientException");
  ok("UpdateCapacityProvider", {{"name", "mi"}, {"cluster", "dev"}, {"managedInstancesProvider", update}});
  auto d = ok("DescribeCapacityProviders",
              {{"cluster", "dev"}, {"capacityProviders", {"mi"}}})["capacityProviders"][0];
  EXPECT_EQ(d["managedInstancesProvider"]["infrastructureRoleArn"], "arn:aws:iam::000000000000:role/infra2");
  EXPECT_EQ(d["managedInstancesProvider"]["instanceLaunchTemplate"]["monitoring"], "DETAILED");
  EXPECT_EQ(d["managedInstancesProvider"]["instanceLaunchTemplate"]["networkConfiguration"]["subnets"],
            json({"subnet-1"}));
  // Putting the cluster's providers cannot detach it; deleting the cluster must wait for it.
  auto c = ok("PutClusterCapacityProviders", {{"cluster", "dev"},
                                              {"capacityProviders", {"FARGATE"}},
                                              {"defaultCapacityProviderStrategy", json::array()}})["cluster"];
  EXPECT_EQ(c["capacityProviders"], json({"FARGATE", "mi"}));
  expect_error(
      "DeleteCluster", {{"cluster", "dev"}}, "ClientException",
      "The Cluster cannot be deleted while Cluster Scoped Capacity Providers are attached to the cluster.");
  ok("DeleteCapacityProvider", {{"capacityProvider", "mi"}, {"cluster", "dev"}});
  EXPECT_EQ(ok("DeleteCluster", {{"cluster", "dev"}})["cluster"]["status"], "INACTIVE");
}

TEST_F(EcsClustersTest, PutClusterCapacityProvidersReplacesListAndStrategy) {
  create_asg_provider("cp1", "g1");
  create_asg_provider("cp2", "g2");
  ok("CreateCluster", {{"clusterName", "dev"}});
  ok("CreateCluster", {{"clusterName", "other"}, {"capacityProviders", {"cp2"}}});
  auto c = ok("PutClusterCapacityProviders",
              {{"cluster", "dev"},
               {"capacityProviders", {"cp1"}},
               {"defaultCapacityProviderStrategy",
                {{{"capacityProvider", "cp1"}, {"base", 2}, {"weight", 0}}}}})["cluster"];
  EXPECT_EQ(c["capacityProviders"], json({"cp1"}));
  EXPECT_EQ(c["defaultCapacityProviderStrategy"],
            json::parse(R"([{"capacityProvider":"cp1","weight":0,"base":2}])"));
  c = ok("PutClusterCapacityProviders", {{"cluster", "dev"},
                                         {"capacityProviders", {"FARGATE", "FARGATE_SPOT"}},
                                         {"defaultCapacityProviderStrategy", json::array()}})["cluster"];
  EXPECT_EQ(c["capacityProviders"], json({"FARGATE", "FARGATE_SPOT"}));
  EXPECT_EQ(c["defaultCapacityProviderStrategy"], json::array());

  const std::string not_associated =
      "The specified capacity provider strategy cannot contain a capacity provider that is not associated "
      "with the "
      "cluster. Associate the capacity provider with the cluster or specify a valid capacity provider and "
      "try again.";
  auto put = [&](const json& providers, const json& strategy) {
    return json{
        {"cluster", "dev"}, {"capacityProviders", providers}, {"defaultCapacityProviderStrategy", strategy}};
  };
  expect_error("PutClusterCapacityProviders",
               put({"FARGATE"}, {{{"capacityProvider", "FARGATE_SPOT"}, {"weight", 1}}}),
               "InvalidParameterException", not_associated);
  expect_error(
      "PutClusterCapacityProviders", put({"ghost"}, json::array()), "InvalidParameterException",
      "The specified capacity provider was not found. Specify a valid capacity provider and try again.");
  expect_error("PutClusterCapacityProviders", put({"cp2"}, json::array()), "InvalidParameterException");
  expect_error("PutClusterCapacityProviders",
               put({"FARGATE", "FARGATE_SPOT"}, {{{"capacityProvider", "FARGATE"}, {"base", 1}},
                                                 {{"capacityProvider", "FARGATE_SPOT"}, {"base", 1}}}),
               "InvalidParameterException");
  expect_error(
      "PutClusterCapacityProviders",
      put({"FARGATE", "cp1"},
          {{{"capacityProvider", "FARGATE"}, {"weight", 1}}, {{"capacityProvider", "cp1"}, {"weight", 1}}}),
      "InvalidParameterException",
      "A capacity provider strategy cannot contain a mix of capacity providers using Auto Scaling groups and "
      "Fargate providers. Specify one or the other and try again.");
  expect_error("PutClusterCapacityProviders",
               put({"FARGATE"}, {{{"capacityProvider", "FARGATE"}, {"weight", 1001}}}),
               "ValidationException");
  expect_error("PutClusterCapacityProviders", {{"cluster", "dev"}, {"capacityProviders", json::array()}},
               "ValidationException");
  json ghost = put(json::array(), json::array());
  ghost["cluster"] = "ghost";
  expect_error("PutClusterCapacityProviders", ghost, "ClusterNotFoundException");
}

TEST_F(EcsClustersTest, StrategyRulesForPlacement) {
  using services::ecs::check_capacity_provider_strategy;
  using services::ecs::StrategyUse;
  const json associated = {"FARGATE", "FARGATE_SPOT"};
  const json zero = json::parse(R"([{"capacityProvider":"FARGATE","weight":0,"base":1}])");
  EXPECT_FALSE(check_capacity_provider_strategy(associated, zero, StrategyUse::kClusterDefault));
  auto placement = check_capacity_provider_strategy(associated, zero, StrategyUse::kPlacement);
  ASSERT_TRUE(placement);
  EXPECT_EQ(placement->type, "InvalidParameterException");
  auto by_default = check_capacity_provider_strategy(associated, zero, StrategyUse::kDefaultPlacement);
  ASSERT_TRUE(by_default);
  EXPECT_NE(by_default->message.find("default capacity provider strategy"), std::string::npos);
  EXPECT_FALSE(check_capacity_provider_strategy(
      associated,
      json::parse(
          R"([{"capacityProvider":"FARGATE","weight":1},{"capacityProvider":"FARGATE_SPOT","weight":0}])"),
      StrategyUse::kPlacement));
  json twice =
      json::parse(R"([{"capacityProvider":"FARGATE","weight":1},{"capacityProvider":"FARGATE","weight":1}])");
  EXPECT_TRUE(check_capacity_provider_strategy(associated, twice, StrategyUse::kClusterDefault));
  json many = json::array();
  json wide = json::array();
  for (int i = 0; i < 21; ++i) {
    wide.push_back("p" + std::to_string(i));
    many.push_back({{"capacityProvider", "p" + std::to_string(i)}, {"weight", 1}});
  }
  EXPECT_TRUE(check_capacity_provider_strategy(wide, many, StrategyUse::kClusterDefault));
}

TEST_F(EcsClustersTest, RunTaskDoesNotIgnoreTheClustersDefaultStrategy) {
  ok("RegisterTaskDefinition",
     {{"family", "web"}, {"containerDefinitions", {{{"name", "app"}, {"image", "busybox"}, {"memory", 64}}}}});
  ok("CreateCluster", {{"clusterName", "zero"},
                       {"capacityProviders", {"FARGATE"}},
                       {"defaultCapacityProviderStrategy", {{{"capacityProvider", "FARGATE"}}}}});
  expect_error("RunTask", {{"cluster", "zero"}, {"taskDefinition", "web"}}, "InvalidParameterException",
               "There are no capacity providers with a weight value greater than zero defined in the default capacity "
               "provider strategy. At least one capacity provider must have a weight value greater than zero "
               "specified. Update the cluster's default capacity provider strategy or specify a valid capacity "
               "provider strategy and try again.");
  ok("CreateCluster", {{"clusterName", "spot"},
                       {"capacityProviders", {"FARGATE_SPOT"}},
                       {"defaultCapacityProviderStrategy", {{{"capacityProvider", "FARGATE_SPOT"}, {"weight", 1}}}}});
  // The default strategy places the task on Fargate, which this EC2-only task definition does not support.
  expect_error("RunTask", {{"cluster", "spot"}, {"taskDefinition", "web"}}, "InvalidParameterException",
               "Task definition does not support launch_type FARGATE.");
  // An explicit launch type bypasses the default strategy, as in ECS.
  EXPECT_EQ(ok("RunTask", {{"cluster", "spot"}, {"taskDefinition", "web"}, {"launchType", "EC2"}})["tasks"].size(), 1u);
}

// ---- account settings

TEST_F(EcsClustersTest, AccountSettingsHaveEcsDefaultsAndPrecedence) {
  auto all = ok("ListAccountSettings", {{"effectiveSettings", true}})["settings"];
  ASSERT_EQ(all.size(), 10u);  // the first page of the model's eleven
  EXPECT_EQ(
      all[0],
      json({{"name", "awsvpcTrunking"}, {"value", "disabled"}, {"principalArn", kRoot}, {"type", "user"}}));
  auto value_of = [&](const std::string& name, const json& extra = json::object()) {
    json req = {{"effectiveSettings", true}, {"name", name}};
    req.update(extra);
    auto s = ok("ListAccountSettings", req)["settings"];
    EXPECT_EQ(s.size(), 1u) << name;
    return s.empty() ? json() : s[0];
  };
  EXPECT_EQ(value_of("taskLongArnFormat")["value"], "enabled");
  EXPECT_EQ(value_of("containerInsights")["value"], "disabled");
  EXPECT_EQ(value_of("fargateTaskRetirementWaitPeriod")["value"], "7");
  EXPECT_EQ(value_of("guardDutyActivate")["type"], "aws_managed");
  EXPECT_EQ(value_of("tagResourceAuthorization")["value"], "on");
  EXPECT_EQ(value_of("defaultLogDriverMode")["value"], "non-blocking");

  // Without effectiveSettings only what was set is listed.
  EXPECT_EQ(ok("ListAccountSettings", json::object())["settings"], json::array());
  auto put = ok("PutAccountSettingDefault", {{"name", "awsvpcTrunking"}, {"value", "enabled"}})["setting"];
  EXPECT_EQ(
      put,
      json({{"name", "awsvpcTrunking"}, {"value", "enabled"}, {"principalArn", kRoot}, {"type", "user"}}));
  const std::string user = "arn:aws:iam::000000000000:user/dev";
  ok("PutAccountSetting", {{"name", "awsvpcTrunking"}, {"value", "disabled"}, {"principalArn", user}});
  EXPECT_EQ(value_of("awsvpcTrunking")["value"], "enabled");
  auto for_user = value_of("awsvpcTrunking", {{"principalArn", user}});
  EXPECT_EQ(for_user["value"], "disabled");
  EXPECT_EQ(for_user["principalArn"], user);
  // Another user falls back to the account default.
  EXPECT_EQ(value_of("awsvpcTrunking", {{"principalArn", "arn:aws:iam::000000000000:role/r"}})["value"],
            "enabled");

  auto explicit_only = ok("ListAccountSettings", {{"principalArn", user}})["settings"];
  ASSERT_EQ(explicit_only.size(), 1u);
  EXPECT_EQ(explicit_only[0]["value"], "disabled");
  EXPECT_EQ(ok("ListAccountSettings",
               {{"name", "awsvpcTrunking"}, {"value", "disabled"}, {"effectiveSettings", true}})["settings"],
            json::array());

  auto deleted = ok("DeleteAccountSetting", {{"name", "awsvpcTrunking"}, {"principalArn", user}})["setting"];
  EXPECT_EQ(deleted["value"], "disabled");
  EXPECT_EQ(value_of("awsvpcTrunking", {{"principalArn", user}})["value"], "enabled");
}

TEST_F(EcsClustersTest, AccountSettingValuesAreChecked) {
  expect_error("PutAccountSetting", {{"name", "containerInsights"}, {"value", "maybe"}},
               "InvalidParameterException");
  expect_error("PutAccountSetting", {{"name", "fargateTaskRetirementWaitPeriod"}, {"value", "3"}},
               "InvalidParameterException");
  expect_error("PutAccountSetting",
               {{"name", "fargateTaskRetirementWaitPeriod"},
                {"value", "14"},
                {"principalArn", "arn:aws:iam::000000000000:user/u"}},
               "InvalidParameterException");
  ok("PutAccountSetting", {{"name", "fargateTaskRetirementWaitPeriod"}, {"value", "14"}});
  expect_error("PutAccountSetting", {{"name", "guardDutyActivate"}, {"value", "on"}},
               "InvalidParameterException");
  expect_error("PutAccountSetting", {{"name", "taskLongArnFormat"}, {"value", "disabled"}},
               "UnsupportedFeatureException");
  expect_error("PutAccountSetting", {{"name", "nope"}, {"value", "enabled"}}, "ValidationException");
  expect_error("PutAccountSetting",
               {{"name", "awsvpcTrunking"}, {"value", "enabled"}, {"principalArn", "not-an-arn"}},
               "InvalidParameterException");
  expect_error(
      "PutAccountSetting",
      {{"name", "awsvpcTrunking"}, {"value", "enabled"}, {"principalArn", "arn:aws:iam::111122223333:root"}},
      "InvalidParameterException");
  expect_error("ListAccountSettings", {{"value", "enabled"}}, "InvalidParameterException");
  expect_error("ListAccountSettings", {{"maxResults", 0}}, "InvalidParameterException");
}

TEST_F(EcsClustersTest, ListAccountSettingsPages) {
  std::vector<std::string> names;
  json req = {{"effectiveSettings", true}, {"maxResults", 4}};
  int pages = 0;
  for (;;) {
    auto page = ok("ListAccountSettings", req);
    ++pages;
    for (const auto& s : page["settings"]) {
      names.push_back(s["name"]);
    }
    if (!page.contains("nextToken")) {
      break;
    }
    req["nextToken"] = page["nextToken"];
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(names.size(), 11u);
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
}

// ---- tags

TEST_F(EcsClustersTest, TagsOnEveryResourceKindThroughOneFunction) {
  ok("CreateCluster", {{"clusterName", "dev"}});
  create_asg_provider("cp1", "g1");
  ok("RegisterTaskDefinition",
     {{"family", "web"},
      {"containerDefinitions", {{{"name", "app"}, {"image", "busybox"}, {"memory", 64}}}}});
  auto task = ok("RunTask", {{"cluster", "dev"}, {"taskDefinition", "web"}})["tasks"][0];
  for (const std::string& arn :
       {std::string(kArn) + "cluster/dev", std::string(kArn) + "capacity-provider/cp1",
        std::string(kArn) + "task-definition/web:1", task["taskArn"].get<std::string>()}) {
    SCOPED_TRACE(arn);
    EXPECT_EQ(ok("ListTagsForResource", {{"resourceArn", arn}}), json({{"tags", json::array()}}));
    EXPECT_EQ(ok("TagResource", {{"resourceArn", arn},
                                 {"tags", {{{"key", "a"}, {"value", "1"}}, {{"key", "b"}, {"value", "2"}}}}}),
              json::object());
    ok("TagResource", {{"resourceArn", arn}, {"tags", {{{"key", "a"}, {"value", "3"}}}}});
    EXPECT_EQ(ok("ListTagsForResource", {{"resourceArn", arn}})["tags"],
              json::parse(R"([{"key":"a","value":"3"},{"key":"b","value":"2"}])"));
    EXPECT_EQ(ok("UntagResource", {{"resourceArn", arn}, {"tagKeys", {"a", "zzz"}}}), json::object());
    EXPECT_EQ(ok("ListTagsForResource", {{"resourceArn", arn}})["tags"],
              json::parse(R"([{"key":"b","value":"2"}])"));
  }
  EXPECT_EQ(ok("DescribeClusters", {{"clusters", {"dev"}}, {"include", {"TAGS"}}})["clusters"][0]["tags"],
            json::parse(R"([{"key":"b","value":"2"}])"));
  EXPECT_EQ(ok("DescribeTaskDefinition", {{"taskDefinition", "web:1"}, {"include", {"TAGS"}}})["tags"],
            json::parse(R"([{"key":"b","value":"2"}])"));
}

TEST_F(EcsClustersTest, TagErrorsAreEcsErrors) {
  ok("CreateCluster", {{"clusterName", "dev"}});
  const std::string cluster = std::string(kArn) + "cluster/dev";
  auto tag = [&](const std::string& arn, const json& tags) {
    return json{{"resourceArn", arn}, {"tags", tags}};
  };
  expect_error("TagResource", tag(cluster, {{{"key", "aws:owner"}, {"value", "x"}}}),
               "InvalidParameterException");
  expect_error("TagResource", tag(cluster, {{{"key", "AWS:owner"}, {"value", "x"}}}),
               "InvalidParameterException");
  expect_error("TagResource", tag(cluster, {{{"key", "k"}, {"value", "Aws:x"}}}),
               "InvalidParameterException");
  expect_error("UntagResource", {{"resourceArn", cluster}, {"tagKeys", {"aws:owner"}}},
               "InvalidParameterException");
  expect_error("TagResource", tag(cluster, {{{"key", ""}, {"value", "x"}}}), "ValidationException");
  expect_error("TagResource", tag(cluster, {{{"key", std::string(129, 'k')}, {"value", "x"}}}),
               "ValidationException");
  expect_error("TagResource", tag(cluster, {{{"key", "k"}, {"value", std::string(257, 'v')}}}),
               "ValidationException");
  json fifty = json::array();
  for (int i = 0; i < 50; ++i) {
    fifty.push_back({{"key", "k" + std::to_string(i)}, {"value", ""}});
  }
  ok("TagResource", tag(cluster, fifty));
  expect_error("TagResource", tag(cluster, {{{"key", "one-more"}, {"value", ""}}}),
               "InvalidParameterException");
  ok("TagResource", tag(cluster, {{{"key", "k0"}, {"value", "replaced"}}}));  // replacing keeps the count

  expect_error("ListTagsForResource", {{"resourceArn", std::string(kArn) + "cluster/ghost"}},
               "ClusterNotFoundException", "Cluster not found.");
  expect_error("ListTagsForResource", {{"resourceArn", std::string(kArn) + "task-definition/ghost:1"}},
               "ResourceNotFoundException");
  expect_error("ListTagsForResource",
               {{"resourceArn", std::string(kArn) + "task/dev/0123456789abcdef0123456789abcdef"}},
               "ResourceNotFoundException");
  expect_error("ListTagsForResource",
               {{"resourceArn", std::string(kArn) + "task/0123456789abcdef0123456789abcdef"}},
               "InvalidParameterException", "Long arn format must be used for tagging operations");
  expect_error("ListTagsForResource", {{"resourceArn", std::string(kArn) + "capacity-provider/ghost"}},
               "ResourceNotFoundException");
  expect_error("TagResource",
               tag(std::string(kArn) + "capacity-provider/FARGATE", {{{"key", "k"}, {"value", "v"}}}),
               "InvalidParameterException");
  expect_error("ListTagsForResource", {{"resourceArn", std::string(kArn) + "service/dev/web"}},
               "ResourceNotFoundException");
  for (const char* bad : {"not-an-arn", "arn:aws:ecr:us-east-1:000000000000:repository/r",
                          "arn:aws:ecs:us-east-1:000000000000:container/dev/x/y",
                          "arn:aws:ecs:us-east-1:000000000000:cluster/"}) {
    expect_error("ListTagsForResource", {{"resourceArn", bad}}, "InvalidParameterException",
                 "The ARN provided is invalid.");
  }
  // An ARN of another region names nothing here.
  expect_error("ListTagsForResource", {{"resourceArn", "arn:aws:ecs:eu-west-1:000000000000:cluster/dev"}},
               "ClusterNotFoundException");
}

}  // namespace
}  // namespace berth::services
