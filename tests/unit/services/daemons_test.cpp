#include "ecs_fixture.hpp"

namespace berth::services {
namespace {

class DaemonsTest : public testing::EcsFixture {
 protected:
  void SetUp() override {
    ok("CreateCluster", {{"clusterName", "dev"}});
    cp_ = arn("capacity-provider/managed");
  }

  std::string register_daemon_td(const std::string& family = "agent",
                                 const std::string& image = "monitor:1") {
    return ok("RegisterDaemonTaskDefinition",
              {{"family", family},
               {"cpu", "0.25 vCPU"},
               {"memory", "512"},
               {"containerDefinitions", {{{"name", "monitor"}, {"image", image}, {"memory", 128}}}},
               {"tags", {{{"key", "k"}, {"value", "v"}}}}})["daemonTaskDefinitionArn"];
  }

  json create(const std::string& name, const std::string& td, const json& extra = json::object()) {
    json body = {{"daemonName", name},
                 {"clusterArn", arn("cluster/dev")},
                 {"daemonTaskDefinitionArn", td},
                 {"capacityProviderArns", {cp_}}};
    body.update(extra);
    return ok("CreateDaemon", body);
  }

  std::string cp_;
};

TEST_F(DaemonsTest, DaemonTaskDefinitionsRegisterDescribeListDelete) {
  const std::string a1 = register_daemon_td();
  EXPECT_EQ(a1, arn("daemon-task-definition/agent:1"));
  const std::string a2 = register_daemon_td();
  EXPECT_EQ(a2, arn("daemon-task-definition/agent:2"));
  register_daemon_td("logs");

  auto d = ok("DescribeDaemonTaskDefinition", {{"daemonTaskDefinition", "agent"}})["daemonTaskDefinition"];
  EXPECT_EQ(d["daemonTaskDefinitionArn"], a2);
  EXPECT_EQ(d["family"], "agent");
  EXPECT_EQ(d["revision"], 2);
  EXPECT_EQ(d["status"], "ACTIVE");
  EXPECT_EQ(d["cpu"], "256");
  EXPECT_EQ(d["memory"], "512");
  EXPECT_EQ(d["containerDefinitions"][0]["essential"], true);
  EXPECT_EQ(d["registeredAt"], to_epoch_seconds(clock_.now_ms()));
  EXPECT_EQ(d["registeredBy"], "arn:aws:iam::000000000000:root");
  EXPECT_FALSE(d.contains("tags"));
  EXPECT_EQ(
      ok("DescribeDaemonTaskDefinition", {{"daemonTaskDefinition", a1}})["daemonTaskDefinition"]["revision"],
      1);

  auto l = ok("ListDaemonTaskDefinitions", json::object())["daemonTaskDefinitions"];
  ASSERT_EQ(l.size(), 3u);
  EXPECT_EQ(l[0]["arn"], a1);
  EXPECT_EQ(l[0]["status"], "ACTIVE");
  EXPECT_EQ(l[0]["registeredBy"], "arn:aws:iam::000000000000:root");
  l = ok("ListDaemonTaskDefinitions",
         {{"family", "agent"}, {"revision", "LAST_REGISTERED"}})["daemonTaskDefinitions"];
  ASSERT_EQ(l.size(), 1u);
  EXPECT_EQ(l[0]["arn"], a2);
  l = ok("ListDaemonTaskDefinitions", {{"sort", "DESC"}})["daemonTaskDefinitions"];
  EXPECT_EQ(l[0]["arn"], arn("daemon-task-definition/logs:1"));

  EXPECT_EQ(
      ok("DeleteDaemonTaskDefinition", {{"daemonTaskDefinition", "agent:1"}})["daemonTaskDefinitionArn"], a1);
  expect_error("DeleteDaemonTaskDefinition", {{"daemonTaskDefinition", "agent:1"}}, "ClientException");
  l = ok("ListDaemonTaskDefinitions", {{"status", "DELETE_IN_PROGRESS"}})["daemonTaskDefinitions"];
  ASSERT_EQ(l.size(), 1u);
  EXPECT_EQ(l[0]["deleteRequestedAt"], to_epoch_seconds(clock_.now_ms()));
  EXPECT_EQ(ok("ListDaemonTaskDefinitions", {{"status", "ALL"}})["daemonTaskDefinitions"].size(), 3u);
  // Pages of one.
  json req = {{"status", "ALL"}, {"maxResults", 1}};
  int pages = 0;
  for (;; ++pages) {
    auto page = ok("ListDaemonTaskDefinitions", req);
    if (!page.contains("nextToken")) {
      break;
    }
    req["nextToken"] = page["nextToken"];
  }
  EXPECT_EQ(pages, 2);
}

TEST_F(DaemonsTest, DaemonTaskDefinitionBadInput) {
  expect_error("RegisterDaemonTaskDefinition",
               {{"family", "bad family"}, {"containerDefinitions", {{{"name", "a"}, {"image", "i"}}}}},
               "ClientException", "Family contains invalid characters.");
  expect_error("RegisterDaemonTaskDefinition",
               {{"family", "f"}, {"containerDefinitions", {{{"image", "i"}}}}}, "ClientException");
  expect_error("RegisterDaemonTaskDefinition",
               {{"family", "f"},
                {"containerDefinitions", {{{"name", "a"}, {"image", "i"}}, {{"name", "a"}, {"image", "i"}}}}},
               "ClientException", "Duplicate container names are not allowed.");
  expect_error("RegisterDaemonTaskDefinition", {{"family", "f"}, {"containerDefinitions", {{{"name", "a"}}}}},
               "ValidationException");  // image is required by the model
  expect_error(
      "RegisterDaemonTaskDefinition",
      {{"family", "f"}, {"cpu", "lots"}, {"containerDefinitions", {{{"name", "a"}, {"image", "i"}}}}},
      "ClientException");
  expect_error("DescribeDaemonTaskDefinition", {{"daemonTaskDefinition", "ghost"}}, "ClientException");
}

TEST_F(DaemonsTest, CreateDescribeUpdateDelete) {
  const std::string td1 = register_daemon_td("agent", "monitor:1");
  auto created = create("monitor", td1,
                        {{"deploymentConfiguration", {{"drainPercent", 10.0}, {"bakeTimeInMinutes", 5}}},
                         {"tags", {{{"key", "a"}, {"value", "b"}}}},
                         {"propagateTags", "DAEMON"}});
  const std::string daemon = created["daemonArn"];
  EXPECT_EQ(daemon, arn("daemon/dev/monitor"));
  EXPECT_EQ(created["status"], "ACTIVE");
  EXPECT_EQ(created["createdAt"], to_epoch_seconds(clock_.now_ms()));
  const std::string dep1 = created["deploymentArn"];
  EXPECT_TRUE(dep1.starts_with(arn("daemon-deployment/dev/monitor/")));
  EXPECT_EQ(dep1.size() - dep1.rfind('/') - 1, 16u);

  auto d = ok("DescribeDaemon", {{"daemonArn", daemon}})["daemon"];
  EXPECT_EQ(d["clusterArn"], arn("cluster/dev"));
  EXPECT_EQ(d["status"], "ACTIVE");
  EXPECT_EQ(d["deploymentArn"], dep1);
  ASSERT_EQ(d["currentRevisions"].size(), 1u);
  const std::string rev1 = d["currentRevisions"][0]["arn"];
  EXPECT_TRUE(rev1.starts_with(arn("daemon-revision/dev/monitor/")));
  EXPECT_EQ(d["currentRevisions"][0]["capacityProviders"],
            json::parse(R"([{"arn":")" + cp_ + R"(","runningCount":0}])"));
  EXPECT_EQ(d["currentRevisions"][0]["totalRunningCount"], 0);

  auto deps = ok("DescribeDaemonDeployments", {{"daemonDeploymentArns", {dep1, dep1 + "x"}}});
  ASSERT_EQ(deps["daemonDeployments"].size(), 1u);
  const json& dep = deps["daemonDeployments"][0];
  EXPECT_EQ(dep["status"], "SUCCESSFUL");
  EXPECT_EQ(dep["clusterArn"], arn("cluster/dev"));
  EXPECT_EQ(dep["targetDaemonRevision"]["arn"], rev1);
  EXPECT_EQ(dep["targetDaemonRevision"]["totalRunningInstanceCount"], 0);
  EXPECT_EQ(dep["sourceDaemonRevisions"], json::array());
  EXPECT_EQ(dep["deploymentConfiguration"], json::parse(R"({"drainPercent":10.0,"bakeTimeInMinutes":5})"));
  EXPECT_EQ(dep["alarms"]["status"], "DISABLED");
  EXPECT_EQ(deps["failures"], json::parse(R"([{"arn":")" + dep1 + R"(x","reason":"MISSING"}])"));

  auto revs = ok("DescribeDaemonRevisions", {{"daemonRevisionArns", {rev1}}})["daemonRevisions"];
  ASSERT_EQ(revs.size(), 1u);
  EXPECT_EQ(revs[0]["daemonArn"], daemon);
  EXPECT_EQ(revs[0]["daemonTaskDefinitionArn"], td1);
  EXPECT_EQ(revs[0]["containerImages"], json::parse(R"([{"containerName":"monitor","image":"monitor:1"}])"));
  EXPECT_EQ(revs[0]["propagateTags"], "DAEMON");
  EXPECT_EQ(revs[0]["enableExecuteCommand"], false);

  clock_.advance_ms(1000);
  const std::string td2 = register_daemon_td("agent", "monitor:2");
  auto updated = ok("UpdateDaemon", {{"daemonArn", daemon},
                                     {"daemonTaskDefinitionArn", td2},
                                     {"capacityProviderArns", {cp_}},
                                     {"enableExecuteCommand", true}});
  EXPECT_EQ(updated["updatedAt"], to_epoch_seconds(clock_.now_ms()));
  const std::string dep2 = updated["deploymentArn"];
  EXPECT_NE(dep2, dep1);
  auto dep2_doc = ok("DescribeDaemonDeployments", {{"daemonDeploymentArns", {dep2}}})["daemonDeployments"][0];
  EXPECT_EQ(dep2_doc["sourceDaemonRevisions"][0]["arn"], rev1);
  // The deployment configuration given at creation still applies.
  EXPECT_EQ(dep2_doc["deploymentConfiguration"]["bakeTimeInMinutes"], 5);
  auto listed = ok("ListDaemonDeployments", {{"daemonArn", daemon}})["daemonDeployments"];
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0]["daemonDeploymentArn"], dep2);  // newest first
  EXPECT_EQ(listed[1]["daemonDeploymentArn"], dep1);
  EXPECT_EQ(listed[0]["targetDaemonRevisionArn"], dep2_doc["targetDaemonRevision"]["arn"]);
  EXPECT_EQ(ok("ListDaemonDeployments",
               {{"daemonArn", daemon},
                {"createdAt", {{"before", to_epoch_seconds(clock_.now_ms())}}}})["daemonDeployments"]
                .size(),
            1u);
  EXPECT_TRUE(ok("ListDaemonDeployments",
                 {{"daemonArn", daemon}, {"status", {"ROLLBACK_FAILED"}}})["daemonDeployments"]
                  .empty());
  auto page = ok("ListDaemonDeployments", {{"daemonArn", daemon}, {"maxResults", 1}});
  EXPECT_EQ(page["daemonDeployments"].size(), 1u);
  EXPECT_TRUE(page.contains("nextToken"));

  auto summaries = ok("ListDaemons", {{"clusterArn", arn("cluster/dev")}})["daemonSummariesList"];
  ASSERT_EQ(summaries.size(), 1u);
  EXPECT_EQ(summaries[0]["daemonArn"], daemon);
  EXPECT_TRUE(
      ok("ListDaemons", {{"capacityProviderArns", {arn("capacity-provider/other")}}})["daemonSummariesList"]
          .empty());

  auto deleted = ok("DeleteDaemon", {{"daemonArn", daemon}});
  EXPECT_EQ(deleted["status"], "DELETE_IN_PROGRESS");
  EXPECT_EQ(ok("DescribeDaemon", {{"daemonArn", daemon}})["daemon"]["status"], "DELETE_IN_PROGRESS");
  expect_error("DeleteDaemon", {{"daemonArn", daemon}}, "DaemonNotActiveException");
  expect_error("UpdateDaemon",
               {{"daemonArn", daemon}, {"daemonTaskDefinitionArn", td2}, {"capacityProviderArns", {cp_}}},
               "DaemonNotActiveException");
}

TEST_F(DaemonsTest, CreateIsIdempotentOnlyWithTheSameClientToken) {
  const std::string td = register_daemon_td();
  auto first = create("d", td, {{"clientToken", "tok-1"}});
  auto again = create("d", td, {{"clientToken", "tok-1"}});
  EXPECT_EQ(first, again);
  expect_error("CreateDaemon",
               {{"daemonName", "d"},
                {"clusterArn", arn("cluster/dev")},
                {"daemonTaskDefinitionArn", td},
                {"capacityProviderArns", {cp_}},
                {"clientToken", "tok-2"}},
               "InvalidParameterException");
}

TEST_F(DaemonsTest, BadInput) {
  const std::string td = register_daemon_td();
  auto body = [&](const json& change) {
    json b = {{"daemonName", "d"},
              {"clusterArn", arn("cluster/dev")},
              {"daemonTaskDefinitionArn", td},
              {"capacityProviderArns", {cp_}}};
    b.update(change);
    return b;
  };
  expect_error("CreateDaemon", body({{"daemonName", "bad name"}}), "InvalidParameterException");
  expect_error("CreateDaemon", body({{"clusterArn", arn("cluster/nope")}}), "ClusterNotFoundException",
               "Cluster not found.");
  expect_error("CreateDaemon", body({{"daemonTaskDefinitionArn", arn("daemon-task-definition/ghost:1")}}),
               "ClientException");
  expect_error("CreateDaemon", body({{"capacityProviderArns", json::array()}}), "InvalidParameterException");
  expect_error("CreateDaemon", body({{"capacityProviderArns", {"not-an-arn"}}}), "InvalidParameterException");
  expect_error("CreateDaemon", body({{"clientToken", std::string(37, 'x')}}), "InvalidParameterException");
  expect_error("CreateDaemon", body({{"deploymentConfiguration", {{"drainPercent", 101.0}}}}),
               "ValidationException");
  ok("DeleteDaemonTaskDefinition", {{"daemonTaskDefinition", td}});
  expect_error("CreateDaemon", body(json::object()), "ClientException");
  expect_error("DescribeDaemon", {{"daemonArn", arn("daemon/dev/ghost")}}, "DaemonNotFoundException");
  expect_error("UpdateDaemon",
               {{"daemonArn", arn("daemon/dev/ghost")},
                {"daemonTaskDefinitionArn", td},
                {"capacityProviderArns", {cp_}}},
               "DaemonNotFoundException");
  expect_error("ListDaemonDeployments", {{"daemonArn", arn("daemon/dev/ghost")}}, "ClientException");
  expect_error("ListDaemons", {{"clusterArn", "nope"}}, "ClusterNotFoundException");
  expect_error("DescribeDaemonRevisions", {{"daemonRevisionArns", json(std::vector<std::string>(21, "x"))}},
               "InvalidParameterException");
  auto missing = ok("DescribeDaemonRevisions", {{"daemonRevisionArns", {"x"}}});
  EXPECT_EQ(missing["failures"], json::parse(R"([{"arn":"x","reason":"MISSING"}])"));
}

}  // namespace
}  // namespace berth::services
