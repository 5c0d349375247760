#include "ecs_fixture.hpp"

namespace berth::services {
namespace {

class ContainerInstancesTest : public testing::EcsFixture {
 protected:
  void SetUp() override { ok("CreateCluster", {{"clusterName", "dev"}}); }

  static std::string identity(const std::string& instance_id, const std::string& type = "t3.large") {
    return json({{"instanceId", instance_id},
                 {"instanceType", type},
                 {"imageId", "ami-0123456789abcdef0"},
                 {"availabilityZone", "us-east-1b"},
                 {"architecture", "x86_64"},
                 {"region", "us-east-1"},
                 {"accountId", "000000000000"}})
        .dump();
  }

  // What the ECS agent sends on first registration.
  json agent_registration(const std::string& instance_id = "i-0abc") {
    return {
        {"cluster", "dev"},
        {"instanceIdentityDocument", identity(instance_id)},
        {"instanceIdentityDocumentSignature", "c2lnbmF0dXJl"},
        {"totalResources",
         {{{"name", "CPU"}, {"type", "INTEGER"}, {"integerValue", 2048}},
          {{"name", "MEMORY"}, {"type", "INTEGER"}, {"integerValue", 3768}},
          {{"name", "PORTS"},
           {"type", "STRINGSET"},
           {"stringSetValue", {"22", "2375", "2376", "51678", "51679"}}},
          {{"name", "PORTS_UDP"}, {"type", "STRINGSET"}, {"stringSetValue", json::array()}}}},
        {"versionInfo",
         {{"agentVersion", "1.80.0"}, {"agentHash", "abc123"}, {"dockerVersion", "DockerVersion: 20.10.25"}}},
        {"attributes",
         {{{"name", "ecs.capability.privileged-container"}},
          {{"name", "ecs.os-type"}, {"value", "linux"}},
          {{"name", "stack"}, {"value", "prod"}}}},
        {"tags", {{{"key", "team"}, {"value", "core"}}}},
        {"clientToken", "token-ignored-by-the-model"}};
  }

  std::string register_instance(const std::string& instance_id = "i-0abc") {
    return ok("RegisterContainerInstance",
              agent_registration(instance_id))["containerInstance"]["containerInstanceArn"];
  }

  static std::string id_of(const std::string& arn) { return arn.substr(arn.rfind('/') + 1); }

  static std::optional<std::string> attribute(const json& instance, const std::string& name) {
    for (const auto& a : instance["attributes"]) {
      if (a["name"] == name) {
        return a.value("value", "");
      }
    }
    return std::nullopt;
  }

  static const json* resource(const json& list, const std::string& name) {
    for (const auto& r : list) {
      if (r["name"] == name) {
        return &r;
      }
    }
    return nullptr;
  }
};

TEST_F(ContainerInstancesTest, RegisterAsTheAgentDoes) {
  auto out = ok("RegisterContainerInstance", agent_registration());
  const json& ci = out["containerInstance"];
  const std::string arn = ci["containerInstanceArn"];
  ASSERT_TRUE(arn.starts_with(this->arn("container-instance/dev/")));
  EXPECT_EQ(id_of(arn).size(), 32u);
  EXPECT_EQ(id_of(arn).find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(ci["ec2InstanceId"], "i-0abc");
  EXPECT_EQ(ci["status"], "ACTIVE");
  EXPECT_EQ(ci["agentConnected"], true);
  EXPECT_EQ(ci["runningTasksCount"], 0);
  EXPECT_EQ(ci["pendingTasksCount"], 0);
  EXPECT_EQ(ci["version"], 1);
  EXPECT_EQ(ci["versionInfo"]["agentVersion"], "1.80.0");
  EXPECT_EQ(ci["registeredAt"], to_epoch_seconds(clock_.now_ms()));
  EXPECT_EQ(ci["tags"], json::parse(R"([{"key":"team","value":"core"}])"));
  EXPECT_EQ(ci["attachments"], json::array());
  const auto* cpu = resource(ci["registeredResources"], "CPU");
  ASSERT_NE(cpu, nullptr);
  EXPECT_EQ(
      *cpu,
      json::parse(R"({"name":"CPU","type":"INTEGER","doubleValue":0.0,"longValue":0,"integerValue":2048})"));
  const auto* ports = resource(ci["remainingResources"], "PORTS");
  ASSERT_NE(ports, nullptr);
  EXPECT_EQ((*ports)["stringSetValue"], json({"22", "2375", "2376", "51678", "51679"}));
  EXPECT_EQ(ci["remainingResources"], ci["registeredResources"]);
  // The agent's attributes plus the ones ECS derives from the identity document.
  EXPECT_EQ(attribute(ci, "ecs.capability.privileged-container"), "");
  EXPECT_EQ(attribute(ci, "stack"), "prod");
  EXPECT_EQ(attribute(ci, "ecs.instance-type"), "t3.large");
  EXPECT_EQ(attribute(ci, "ecs.ami-id"), "ami-0123456789abcdef0");
  EXPECT_EQ(attribute(ci, "ecs.availability-zone"), "us-east-1b");
  EXPECT_EQ(attribute(ci, "ecs.cpu-architecture"), "x86_64");
  EXPECT_EQ(attribute(ci, "ecs.os-type"), "linux");
  auto cluster = ok("DescribeClusters", {{"clusters", {"dev"}}});
  EXPECT_EQ(cluster["clusters"][0]["registeredContainerInstancesCount"], 1);
}

TEST_F(ContainerInstancesTest, RegisterWithoutDocumentOrResourcesFillsWhatTheAgentWould) {
  auto ci = ok("RegisterContainerInstance", {{"cluster", "dev"}})["containerInstance"];
  EXPECT_FALSE(ci.contains("ec2InstanceId"));
  EXPECT_EQ(attribute(ci, "ecs.availability-zone"), "us-east-1a");
  EXPECT_EQ(attribute(ci, "ecs.os-type"), "linux");
  const auto* cpu = resource(ci["registeredResources"], "CPU");
  const auto* memory = resource(ci["registeredResources"], "MEMORY");
  const auto* ports = resource(ci["registeredResources"], "PORTS");
  const auto* udp = resource(ci["registeredResources"], "PORTS_UDP");
  ASSERT_TRUE(cpu && memory && ports && udp);
  EXPECT_GE((*cpu)["integerValue"].get<int>(), 1024);
  EXPECT_EQ((*cpu)["integerValue"].get<int>() % 1024, 0);
  EXPECT_GT((*memory)["integerValue"].get<int>(), 0);
  EXPECT_EQ((*ports)["stringSetValue"], json({"22", "2375", "2376", "51678", "51679"}));
  EXPECT_EQ((*udp)["stringSetValue"], json::array());
}

TEST_F(ContainerInstancesTest, RegisterErrors) {
  expect_error("RegisterContainerInstance", {{"cluster", "nope"}}, "ClusterNotFoundException",
               "Cluster not found.");
  expect_error("RegisterContainerInstance", {{"cluster", "dev"}, {"instanceIdentityDocument", "{not json"}},
               "InvalidParameterException", "The instance identity document is not valid JSON.");
  expect_error("RegisterContainerInstance",
               {{"cluster", "dev"}, {"totalResources", {{{"name", "CPU"}, {"type", "NUMBER"}}}}},
               "InvalidParameterException");
  expect_error("RegisterContainerInstance", {{"cluster", "dev"}, {"attributes", {{{"name", "bad name!"}}}}},
               "InvalidParameterException");
  expect_error("RegisterContainerInstance", {{"cluster", "dev"}, {"attributes", {{{"value", "v"}}}}},
               "ValidationException");  // name is required by the model
  expect_error(
      "RegisterContainerInstance",
      {{"cluster", "dev"}, {"containerInstanceArn", arn("container-instance/dev/" + std::string(32, 'a'))}},
      "ClientException");
}

TEST_F(ContainerInstancesTest, ReRegistrationKeepsTheArnAndRefusesAnInstanceTypeChange) {
  const std::string arn = register_instance();
  ok("PutAttributes",
     {{"cluster", "dev"}, {"attributes", {{{"name", "custom"}, {"value", "1"}, {"targetId", arn}}}}});
  json again = agent_registration();
  again["containerInstanceArn"] = arn;
  again["versionInfo"]["agentVersion"] = "1.81.0";
  auto ci = ok("RegisterContainerInstance", again)["containerInstance"];
  EXPECT_EQ(ci["containerInstanceArn"], arn);
  EXPECT_EQ(ci["versionInfo"]["agentVersion"], "1.81.0");
  EXPECT_EQ(attribute(ci, "custom"), "1");  // PutAttributes survives a reconnect
  EXPECT_GT(ci["version"].get<int>(), 1);
  EXPECT_EQ(region().container_instances.size(), 1u);

  again["instanceIdentityDocument"] = identity("i-0abc", "m5.xlarge");
  expect_error("RegisterContainerInstance", again, "ClientException",
               "Container instance type changes are not supported. Container instance " + id_of(arn) +
                   " was previously registered as t3.large.");
  ok("DeregisterContainerInstance", {{"cluster", "dev"}, {"containerInstance", arn}});
  again["instanceIdentityDocument"] = identity("i-0abc");
  expect_error("RegisterContainerInstance", again, "ClientException",
               "Container instance " + id_of(arn) + " is inactive.");
}

TEST_F(ContainerInstancesTest, DescribeByIdOrArnWithFailuresAndIncludes) {
  const std::string arn = register_instance();
  auto d = ok("DescribeContainerInstances",
              {{"cluster", "dev"},
               {"containerInstances", {arn, id_of(arn), "ffff", this->arn("container-instance/other/x")}}});
  EXPECT_EQ(d["containerInstances"].size(), 2u);
  EXPECT_FALSE(d["containerInstances"][0].contains("tags"));
  EXPECT_FALSE(d["containerInstances"][0].contains("healthStatus"));
  EXPECT_EQ(d["failures"], json::parse(R"([
    {"arn":"arn:aws:ecs:us-east-1:000000000000:container-instance/dev/ffff","reason":"MISSING"},
    {"arn":"arn:aws:ecs:us-east-1:000000000000:container-instance/other/x","reason":"MISSING"}])"));
  d = ok("DescribeContainerInstances", {{"cluster", "dev"},
                                        {"containerInstances", {arn}},
                                        {"include", {"TAGS", "CONTAINER_INSTANCE_HEALTH"}}});
  EXPECT_EQ(d["containerInstances"][0]["tags"], json::parse(R"([{"key":"team","value":"core"}])"));
  EXPECT_EQ(d["containerInstances"][0]["healthStatus"]["overallStatus"], "INSUFFICIENT_DATA");
  // Another cluster does not see it.
  ok("CreateCluster", {{"clusterName", "other"}});
  d = ok("DescribeContainerInstances", {{"cluster", "other"}, {"containerInstances", {id_of(arn)}}});
  EXPECT_TRUE(d["containerInstances"].empty());
  expect_error("DescribeContainerInstances",
               {{"cluster", "dev"}, {"containerInstances", json(std::vector<std::string>(101, "x"))}},
               "InvalidParameterException");
  expect_error("DescribeContainerInstances", {{"cluster", "dev"}}, "ValidationException");
}

TEST_F(ContainerInstancesTest, ResourcesAndCountsFollowTheTasksOnTheInstance) {
  const std::string arn = register_instance();
  ok("RegisterTaskDefinition", {{"family", "web"},
                                {"containerDefinitions",
                                 {{{"name", "app"},
                                   {"image", "busybox"},
                                   {"cpu", 256},
                                   {"memory", 128},
                                   {"memoryReservation", 64},
                                   {"portMappings",
                                    {{{"containerPort", 80}, {"hostPort", 8080}},
                                     {{"containerPort", 53}, {"hostPort", 5353}, {"protocol", "udp"}}}}}}}});
  auto task = ok("RunTask", {{"cluster", "dev"}, {"taskDefinition", "web"}})["tasks"][0];
  const std::string task_id = id_of(task["taskArn"]);
  // The cluster's only instance is where placement put it.
  EXPECT_EQ(task["containerInstanceArn"], arn);
  EXPECT_EQ(task["availabilityZone"], "us-east-1b");
  auto ci = ok("DescribeContainerInstances",
               {{"cluster", "dev"}, {"containerInstances", {arn}}})["containerInstances"][0];
  EXPECT_EQ(ci["pendingTasksCount"], 1);
  EXPECT_EQ(ci["runningTasksCount"], 0);
  EXPECT_EQ((*resource(ci["remainingResources"], "CPU"))["integerValue"], 2048 - 256);
  EXPECT_EQ((*resource(ci["remainingResources"], "MEMORY"))["integerValue"], 3768 - 64);
  EXPECT_EQ((*resource(ci["remainingResources"], "PORTS"))["stringSetValue"],
            json({"22", "2375", "2376", "51678", "51679", "8080"}));
  EXPECT_EQ((*resource(ci["remainingResources"], "PORTS_UDP"))["stringSetValue"], json({"5353"}));
  EXPECT_EQ((*resource(ci["registeredResources"], "CPU"))["integerValue"], 2048);

  region().tasks.at(task_id).last_status = state::TaskStatus::kRunning;
  ci = ok("DescribeContainerInstances",
          {{"cluster", "dev"}, {"containerInstances", {arn}}})["containerInstances"][0];
  EXPECT_EQ(ci["runningTasksCount"], 1);
  EXPECT_EQ(ci["pendingTasksCount"], 0);
  EXPECT_EQ(ok("ListContainerInstances",
               {{"cluster", "dev"}, {"filter", "task:group == family:web"}})["containerInstanceArns"],
            json({arn}));

  expect_error("DeregisterContainerInstance", {{"cluster", "dev"}, {"containerInstance", arn}},
               "InvalidParameterException", "Found running tasks on the instance.");
  expect_error("DeleteCluster", {{"cluster", "dev"}}, "ClusterContainsContainerInstancesException",
               "The Cluster cannot be deleted while Container Instances are active or draining.");
  auto gone =
      ok("DeregisterContainerInstance", {{"cluster", "dev"}, {"containerInstance", arn}, {"force", true}});
  EXPECT_EQ(gone["containerInstance"]["status"], "INACTIVE");
  EXPECT_EQ(gone["containerInstance"]["agentConnected"], false);
  EXPECT_EQ(gone["containerInstance"]["runningTasksCount"], 0);
  EXPECT_EQ(
      ok("DescribeClusters", {{"clusters", {"dev"}}})["clusters"][0]["registeredContainerInstancesCount"], 0);
  // Deregistered instances stay describable but are no longer listed.
  auto d = ok("DescribeContainerInstances", {{"cluster", "dev"}, {"containerInstances", {arn}}});
  EXPECT_EQ(d["containerInstances"][0]["status"], "INACTIVE");
  EXPECT_TRUE(ok("ListContainerInstances", {{"cluster", "dev"}})["containerInstanceArns"].empty());
  expect_error("DeregisterContainerInstance", {{"cluster", "dev"}, {"containerInstance", "ffff"}},
               "InvalidParameterException", "The referenced container instance was not found.");
}

TEST_F(ContainerInstancesTest, ListFiltersByStatusAndQueryAndPaginates) {
  std::vector<std::string> arns;
  for (int i = 0; i < 5; ++i) {
    arns.push_back(register_instance("i-" + std::to_string(i)));
  }
  std::sort(arns.begin(), arns.end());
  ok("UpdateContainerInstancesState",
     {{"cluster", "dev"}, {"containerInstances", {arns[0]}}, {"status", "DRAINING"}});
  EXPECT_EQ(ok("ListContainerInstances", {{"cluster", "dev"}})["containerInstanceArns"].size(), 5u);
  EXPECT_EQ(
      ok("ListContainerInstances", {{"cluster", "dev"}, {"status", "DRAINING"}})["containerInstanceArns"],
      json({arns[0]}));
  EXPECT_EQ(ok("ListContainerInstances", {{"cluster", "dev"}, {"status", "ACTIVE"}})["containerInstanceArns"]
                .size(),
            4u);
  EXPECT_EQ(ok("ListContainerInstances",
               {{"cluster", "dev"}, {"filter", "ec2InstanceId in [i-1, i-3]"}})["containerInstanceArns"]
                .size(),
            2u);
  EXPECT_EQ(ok("ListContainerInstances",
               {{"cluster", "dev"},
                {"filter", "attribute:stack == prod and agentVersion >= 1.80.0"}})["containerInstanceArns"]
                .size(),
            5u);
  EXPECT_TRUE(
      ok("ListContainerInstances",
         {{"cluster", "dev"}, {"filter", "attribute:ecs.instance-type =~ m5.*"}})["containerInstanceArns"]
          .empty());
  expect_error("ListContainerInstances", {{"cluster", "dev"}, {"filter", "attribute:stack === prod"}},
               "InvalidParameterException");
  expect_error("ListContainerInstances", {{"cluster", "dev"}, {"status", "SLEEPING"}}, "ValidationException");

  std::vector<std::string> seen;
  json req = {{"cluster", "dev"}, {"maxResults", 2}};
  for (;;) {
    auto page = ok("ListContainerInstances", req);
    for (const auto& a : page["containerInstanceArns"]) {
      seen.push_back(a);
    }
    if (!page.contains("nextToken")) {
      break;
    }
    req["nextToken"] = page["nextToken"];
  }
  EXPECT_EQ(seen, arns);
}

TEST_F(ContainerInstancesTest, UpdateStateReportsFailures) {
  const std::string a = register_instance("i-a");
  const std::string b = register_instance("i-b");
  ok("DeregisterContainerInstance", {{"cluster", "dev"}, {"containerInstance", b}});
  auto out = ok("UpdateContainerInstancesState",
                {{"cluster", "dev"}, {"containerInstances", {a, b, "nope"}}, {"status", "DRAINING"}});
  ASSERT_EQ(out["containerInstances"].size(), 1u);
  EXPECT_EQ(out["containerInstances"][0]["status"], "DRAINING");
  EXPECT_EQ(out["containerInstances"][0]["version"], 2);
  EXPECT_EQ(out["failures"], json::parse(R"([{"arn":")" + b + R"(","reason":"INACTIVE"},
    {"arn":"arn:aws:ecs:us-east-1:000000000000:container-instance/dev/nope","reason":"MISSING"}])"));
  out = ok("UpdateContainerInstancesState",
           {{"cluster", "dev"}, {"containerInstances", {a}}, {"status", "ACTIVE"}});
  EXPECT_EQ(out["containerInstances"][0]["status"], "ACTIVE");
  expect_error("UpdateContainerInstancesState",
               {{"cluster", "dev"}, {"containerInstances", {a}}, {"status", "REGISTERING"}},
               "InvalidParameterException");
  expect_error("UpdateContainerInstancesState",
               {{"cluster", "dev"},
                {"containerInstances", json(std::vector<std::string>(11, a))},
                {"status", "ACTIVE"}},
               "InvalidParameterException");
}

TEST_F(ContainerInstancesTest, UpdateContainerAgentHasNothingToOffer) {
  const std::string arn = register_instance();
  expect_error("UpdateContainerAgent", {{"cluster", "dev"}, {"containerInstance", arn}},
               "NoUpdateAvailableException", "There is no update available for your container agent.");
  const std::string bare =
      ok("RegisterContainerInstance", {{"cluster", "dev"}})["containerInstance"]["containerInstanceArn"];
  expect_error("UpdateContainerAgent", {{"cluster", "dev"}, {"containerInstance", bare}},
               "MissingVersionException");
  expect_error("UpdateContainerAgent", {{"cluster", "dev"}, {"containerInstance", "nope"}},
               "InvalidParameterException");
}

TEST_F(ContainerInstancesTest, AgentCallsAreAcknowledged) {
  auto ep = ok("DiscoverPollEndpoint", {{"cluster", "dev"}, {"containerInstance", "x"}});
  EXPECT_EQ(ep,
            json::parse(R"({"endpoint":"http://127.0.0.1:4566/","telemetryEndpoint":"http://127.0.0.1:4566/",
                               "serviceConnectEndpoint":"http://127.0.0.1:4566/"})"));
  ok("RegisterTaskDefinition",
     {{"family", "web"},
      {"containerDefinitions", {{{"name", "app"}, {"image", "busybox"}, {"memory", 64}}}}});
  const std::string task =
      ok("RunTask", {{"cluster", "dev"}, {"taskDefinition", "web"}})["tasks"][0]["taskArn"];
  EXPECT_EQ(
      ok("SubmitTaskStateChange", {{"cluster", "dev"},
                                   {"task", task},
                                   {"status", "RUNNING"},
                                   {"containers", {{{"containerName", "app"}, {"status", "RUNNING"}}}}}),
      json({{"acknowledgment", "true"}}));
  // Nothing berth learnt from the engine is overwritten by a report.
  EXPECT_EQ(region().tasks.begin()->second.last_status, state::TaskStatus::kProvisioning);
  EXPECT_EQ(ok("SubmitContainerStateChange", {{"cluster", "dev"},
                                              {"task", task},
                                              {"containerName", "app"},
                                              {"status", "STOPPED"},
                                              {"exitCode", 0}}),
            json({{"acknowledgment", "true"}}));
  EXPECT_EQ(ok("SubmitAttachmentStateChanges",
               {{"cluster", "dev"},
                {"attachments", {{{"attachmentArn", arn("attachment/abc")}, {"status", "ATTACHED"}}}}}),
            json({{"acknowledgment", "true"}}));
  expect_error("SubmitTaskStateChange", {{"cluster", "dev"}, {"task", "ffff"}}, "InvalidParameterException");
  expect_error("SubmitTaskStateChange", {{"cluster", "dev"}, {"task", task}, {"status", "NAPPING"}},
               "InvalidParameterException");
  expect_error("SubmitTaskStateChange",
               {{"cluster", "dev"}, {"task", task}, {"containers", {{{"containerName", "ghost"}}}}},
               "InvalidParameterException");
  expect_error("SubmitContainerStateChange", {{"cluster", "nope"}}, "ClusterNotFoundException");
  expect_error("SubmitAttachmentStateChanges",
               {{"cluster", "dev"}, {"attachments", {{{"attachmentArn", "nope"}, {"status", "ATTACHED"}}}}},
               "InvalidParameterException");
}

TEST_F(ContainerInstancesTest, AttributesPutListDelete) {
  const std::string a = register_instance("i-a");
  const std::string b = register_instance("i-b");
  auto put = ok(
      "PutAttributes",
      {{"cluster", "dev"},
       {"attributes",
        {{{"name", "zone"}, {"value", "blue"}, {"targetId", a}},
         {{"name", "zone"}, {"value", "green"}, {"targetType", "container-instance"}, {"targetId", id_of(b)}},
         {{"name", "flag"}, {"targetId", a}}}}});
  EXPECT_EQ(put["attributes"].size(), 3u);
  auto listed = ok("ListAttributes",
                   {{"cluster", "dev"}, {"targetType", "container-instance"}, {"attributeName", "zone"}});
  ASSERT_EQ(listed["attributes"].size(), 2u);
  for (const auto& attr : listed["attributes"]) {
    EXPECT_EQ(attr["targetType"], "container-instance");
    EXPECT_EQ(attr["targetId"], attr["value"] == "blue" ? a : b);
  }
  listed = ok("ListAttributes", {{"cluster", "dev"},
                                 {"targetType", "container-instance"},
                                 {"attributeName", "zone"},
                                 {"attributeValue", "green"}});
  EXPECT_EQ(listed["attributes"],
            json::parse(R"([{"name":"zone","value":"green","targetType":"container-instance","targetId":")" +
                        b + R"("}])"));
  EXPECT_EQ(ok("ListContainerInstances",
               {{"cluster", "dev"}, {"filter", "attribute:flag exists"}})["containerInstanceArns"],
            json({a}));

  // All of an instance's attributes (built-in included), two per page.
  std::size_t total = 0;
  json req = {{"cluster", "dev"}, {"targetType", "container-instance"}, {"maxResults", 2}};
  for (;;) {
    auto page = ok("ListAttributes", req);
    total += page["attributes"].size();
    if (!page.contains("nextToken")) {
      break;
    }
    req["nextToken"] = page["nextToken"];
  }
  std::size_t expected = 0;
  for (const auto& [id, ci] : region().container_instances) {
    expected += ci.attributes.size();
  }
  EXPECT_EQ(total, expected);

  ok("DeleteAttributes", {{"cluster", "dev"}, {"attributes", {{{"name", "zone"}, {"targetId", a}}}}});
  EXPECT_EQ(
      ok("ListAttributes",
         {{"cluster", "dev"}, {"targetType", "container-instance"}, {"attributeName", "zone"}})["attributes"]
          .size(),
      1u);

  expect_error("ListAttributes",
               {{"cluster", "dev"}, {"targetType", "container-instance"}, {"attributeValue", "x"}},
               "InvalidParameterException");
  expect_error("ListAttributes", {{"cluster", "dev"}}, "ValidationException");
  expect_error(
      "PutAttributes",
      {{"cluster", "dev"},
       {"attributes", {{{"name", "x"}, {"targetId", "ffff"}, {"targetType", "container-instance"}}}}},
      "TargetNotFoundException");
  expect_error("PutAttributes",
               {{"cluster", "dev"}, {"attributes", {{{"name", "x"}, {"targetId", id_of(a)}}}}},
               "InvalidParameterException");  // a short id needs targetType
  expect_error("PutAttributes",
               {{"cluster", "dev"}, {"attributes", {{{"name", "x"}, {"value", " padded"}, {"targetId", a}}}}},
               "InvalidParameterException");
  expect_error("PutAttributes",
               {{"cluster", "dev"}, {"attributes", {{{"name", std::string(129, 'n')}, {"targetId", a}}}}},
               "InvalidParameterException");
  expect_error("DeleteAttributes",
               {{"cluster", "dev"},
                {"attributes", {{{"name", "x"}, {"targetId", arn("container-instance/dev/ffff")}}}}},
               "TargetNotFoundException");
}

TEST_F(ContainerInstancesTest, TenCustomAttributesPerInstance) {
  const std::string a = register_instance();
  // The registration brought one custom attribute ("stack"); nine more fit, the tenth extra does not.
  json attrs = json::array();
  for (int i = 0; i < 9; ++i) {
    attrs.push_back({{"name", "c" + std::to_string(i)}, {"targetId", a}});
  }
  ok("PutAttributes", {{"cluster", "dev"}, {"attributes", attrs}});
  const auto before = region().container_instances.begin()->second.attributes;
  expect_error("PutAttributes",
               {{"cluster", "dev"}, {"attributes", {{{"name", "one-too-many"}, {"targetId", a}}}}},
               "AttributeLimitExceededException");
  EXPECT_EQ(region().container_instances.begin()->second.attributes, before);  // nothing applied
  // Replacing an existing attribute's value is not a new attribute.
  ok("PutAttributes",
     {{"cluster", "dev"}, {"attributes", {{{"name", "c0"}, {"value", "v"}, {"targetId", a}}}}});
  attrs.clear();
  for (int i = 0; i < 11; ++i) {
    attrs.push_back({{"name", "x" + std::to_string(i)}, {"targetId", a}});
  }
  expect_error("PutAttributes", {{"cluster", "dev"}, {"attributes", attrs}}, "InvalidParameterException");
}

}  // namespace
}  // namespace berth::services

namespace berth::services {
namespace {

TEST_F(ContainerInstancesTest, StartTaskRunsOneTaskOnEachNamedInstance) {
  const std::string a = register_instance("i-a");
  const std::string b = register_instance("i-b");
  ok("RegisterTaskDefinition",
     {{"family", "web"}, {"containerDefinitions", {{{"name", "app"}, {"image", "busybox"}, {"memory", 64}}}}});
  auto out = ok("StartTask", {{"cluster", "dev"},
                              {"taskDefinition", "web"},
                              {"containerInstances", {a, id_of(b), "0123456789abcdef0123456789abcdef"}},
                              {"startedBy", "me"}});
  ASSERT_EQ(out["tasks"].size(), 2u);
  EXPECT_EQ(out["tasks"][0]["containerInstanceArn"], a);
  EXPECT_EQ(out["tasks"][1]["containerInstanceArn"], b);
  EXPECT_EQ(out["tasks"][0]["launchType"], "EC2");
  EXPECT_EQ(out["tasks"][0]["startedBy"], "me");
  ASSERT_EQ(out["failures"].size(), 1u);
  EXPECT_EQ(out["failures"][0]["reason"], "MISSING");
  EXPECT_TRUE(out["failures"][0]["arn"].get<std::string>().ends_with("/0123456789abcdef0123456789abcdef"));
  auto described = ok("DescribeContainerInstances", {{"cluster", "dev"}, {"containerInstances", {a}}});
  EXPECT_EQ(described["containerInstances"][0]["pendingTasksCount"].get<int>() +
                described["containerInstances"][0]["runningTasksCount"].get<int>(),
            1);
  expect_error("StartTask", {{"cluster", "dev"}, {"taskDefinition", "nope"}, {"containerInstances", {a}}},
               "InvalidParameterException");
}

}  // namespace
}  // namespace berth::services

namespace berth::services {
namespace {

TEST_F(ContainerInstancesTest, ServicesAndContainerInstancesAreTaggable) {
  const std::string instance = register_instance("i-tag");
  ok("TagResource", {{"resourceArn", instance}, {"tags", {{{"key", "team"}, {"value", "infra"}}}}});
  auto tags = ok("ListTagsForResource", {{"resourceArn", instance}})["tags"];
  EXPECT_NE(std::find(tags.begin(), tags.end(), json({{"key", "team"}, {"value", "infra"}})), tags.end());

  ok("RegisterTaskDefinition",
     {{"family", "web"}, {"containerDefinitions", {{{"name", "app"}, {"image", "busybox"}, {"memory", 64}}}}});
  auto svc = ok("CreateService", {{"cluster", "dev"}, {"serviceName", "api"}, {"taskDefinition", "web"},
                                  {"desiredCount", 0}})["service"];
  const std::string arn = svc["serviceArn"];
  ok("TagResource", {{"resourceArn", arn}, {"tags", {{{"key", "tier"}, {"value", "web"}}}}});
  EXPECT_EQ(ok("ListTagsForResource", {{"resourceArn", arn}})["tags"], json({{{"key", "tier"}, {"value", "web"}}}));
  ok("UntagResource", {{"resourceArn", arn}, {"tagKeys", {"tier"}}});
  EXPECT_TRUE(ok("ListTagsForResource", {{"resourceArn", arn}})["tags"].empty());
  expect_error("ListTagsForResource",
               {{"resourceArn", "arn:aws:ecs:us-east-1:000000000000:service/dev/ghost"}},
               "ResourceNotFoundException");
}

}  // namespace
}  // namespace berth::services
