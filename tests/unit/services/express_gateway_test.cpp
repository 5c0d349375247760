#include "ecs_fixture.hpp"

namespace berth::services {
namespace {

class ExpressGatewayTest : public testing::EcsFixture {
 protected:
  void SetUp() override { ok("CreateCluster", json::object()); }

  json create(const json& extra = json::object()) {
    json body = {{"executionRoleArn", "arn:aws:iam::000000000000:role/exec"},
                 {"infrastructureRoleArn", "arn:aws:iam::000000000000:role/infra"},
                 {"serviceName", "web"},
                 {"primaryContainer", {{"image", "nginx:1.27"}}}};
    body.update(extra);
    return ok("CreateExpressGatewayService", body)["service"];
  }
};

TEST_F(ExpressGatewayTest, CreateFillsTheDocumentedDefaults) {
  auto s = create({{"tags", {{{"key", "a"}, {"value", "b"}}}}});
  EXPECT_EQ(s["serviceArn"], arn("service/default/web"));
  EXPECT_EQ(s["serviceName"], "web");
  EXPECT_EQ(s["cluster"], "default");
  EXPECT_EQ(s["infrastructureRoleArn"], "arn:aws:iam::000000000000:role/infra");
  EXPECT_EQ(s["status"], json({{"statusCode", "ACTIVE"}}));
  EXPECT_TRUE(s["currentDeployment"].get<std::string>().starts_with(arn("service-deployment/default/web/")));
  EXPECT_EQ(s["tags"], json::parse(R"([{"key":"a","value":"b"}])"));
  EXPECT_EQ(s["createdAt"], to_epoch_seconds(clock_.now_ms()));
  ASSERT_EQ(s["activeConfigurations"].size(), 1u);
  const json& c = s["activeConfigurations"][0];
  EXPECT_TRUE(c["serviceRevisionArn"].get<std::string>().starts_with(arn("service-revision/default/web/")));
  EXPECT_EQ(c["executionRoleArn"], "arn:aws:iam::000000000000:role/exec");
  EXPECT_EQ(c["cpu"], "256");
  EXPECT_EQ(c["memory"], "512");
  EXPECT_EQ(c["healthCheckPath"], "/ping");
  EXPECT_EQ(c["primaryContainer"], json({{"image", "nginx:1.27"}, {"containerPort", 80}}));
  EXPECT_EQ(c["scalingTarget"], json({{"autoScalingMetric", "AVERAGE_CPU"}, {"autoScalingTargetValue", 60}}));
  EXPECT_EQ(c["ingressPaths"], json::array());
  EXPECT_FALSE(c.contains("taskRoleArn"));

  auto d = ok("DescribeExpressGatewayService", {{"serviceArn", s["serviceArn"]}})["service"];
  EXPECT_FALSE(d.contains("tags"));
  d.erase("tags");
  s.erase("tags");
  EXPECT_EQ(d, s);
  EXPECT_EQ(ok("DescribeExpressGatewayService",
               {{"serviceArn", s["serviceArn"]}, {"include", {"TAGS"}}})["service"]["tags"]
                .size(),
            1u);
}

TEST_F(ExpressGatewayTest, NameIsGeneratedWhenMissing) {
  auto body = json{{"executionRoleArn", "arn:aws:iam::000000000000:role/exec"},
                   {"infrastructureRoleArn", "arn:aws:iam::000000000000:role/infra"},
                   {"primaryContainer", {{"image", "nginx"}}}};
  auto s = ok("CreateExpressGatewayService", body)["service"];
  EXPECT_FALSE(s["serviceName"].get<std::string>().empty());
  EXPECT_EQ(s["serviceArn"], arn("service/default/" + s["serviceName"].get<std::string>()));
}

TEST_F(ExpressGatewayTest, UpdateMakesANewRevisionAndDeployment) {
  auto s = create(
      {{"cpu", "1 vCPU"}, {"memory", "2GB"}, {"scalingTarget", {{"minTaskCount", 1}, {"maxTaskCount", 4}}}});
  EXPECT_EQ(s["activeConfigurations"][0]["cpu"], "1024");
  clock_.advance_ms(5000);
  auto u = ok("UpdateExpressGatewayService",
              {{"serviceArn", s["serviceArn"]},
               {"healthCheckPath", "/health"},
               {"primaryContainer", {{"image", "nginx:1.28"}, {"containerPort", 8080}}},
               {"scalingTarget", {{"maxTaskCount", 8}}}})["service"];
  EXPECT_EQ(u["serviceArn"], s["serviceArn"]);
  EXPECT_EQ(u["cluster"], "default");
  EXPECT_EQ(u["status"]["statusCode"], "ACTIVE");
  EXPECT_EQ(u["updatedAt"], to_epoch_seconds(clock_.now_ms()));
  const json& t = u["targetConfiguration"];
  EXPECT_NE(t["serviceRevisionArn"], s["activeConfigurations"][0]["serviceRevisionArn"]);
  EXPECT_EQ(t["healthCheckPath"], "/health");
  EXPECT_EQ(t["primaryContainer"]["containerPort"], 8080);
  EXPECT_EQ(t["cpu"], "1024");  // kept
  EXPECT_EQ(t["scalingTarget"]["minTaskCount"], 1);
  EXPECT_EQ(t["scalingTarget"]["maxTaskCount"], 8);
  auto d = ok("DescribeExpressGatewayService", {{"serviceArn", s["serviceArn"]}})["service"];
  EXPECT_EQ(d["activeConfigurations"], json::array({t}));
  EXPECT_NE(d["currentDeployment"], s["currentDeployment"]);
}

TEST_F(ExpressGatewayTest, DeleteDrainsAndThenIsInactive) {
  auto s = create();
  auto del = ok("DeleteExpressGatewayService", {{"serviceArn", s["serviceArn"]}})["service"];
  EXPECT_EQ(del["status"]["statusCode"], "DRAINING");
  EXPECT_EQ(ok("DescribeExpressGatewayService",
               {{"serviceArn", s["serviceArn"]}})["service"]["status"]["statusCode"],
            "INACTIVE");
  expect_error("DeleteExpressGatewayService", {{"serviceArn", s["serviceArn"]}}, "ServiceNotActiveException");
  expect_error("UpdateExpressGatewayService", {{"serviceArn", s["serviceArn"]}, {"cpu", "512"}},
               "ServiceNotActiveException");
  // The name is free again.
  create();
}

TEST_F(ExpressGatewayTest, BadInput) {
  create();
  auto body = [](const json& change) {
    json b = {{"executionRoleArn", "arn:aws:iam::000000000000:role/exec"},
              {"infrastructureRoleArn", "arn:aws:iam::000000000000:role/infra"},
              {"serviceName", "other"},
              {"primaryContainer", {{"image", "nginx"}}}};
    b.update(change);
    return b;
  };
  expect_error("CreateExpressGatewayService", body({{"serviceName", "web"}}), "InvalidParameterException",
               "Creation of service was not idempotent.");
  expect_error("CreateExpressGatewayService", body({{"serviceName", "bad name"}}),
               "InvalidParameterException");
  expect_error("CreateExpressGatewayService", body({{"cluster", "nope"}}), "ClusterNotFoundException");
  expect_error("CreateExpressGatewayService", body({{"infrastructureRoleArn", "infra"}}),
               "InvalidParameterException");
  expect_error("CreateExpressGatewayService", body({{"cpu", "256"}, {"memory", "4096"}}),
               "InvalidParameterException");
  expect_error("CreateExpressGatewayService", body({{"healthCheckPath", "health"}}),
               "InvalidParameterException");
  expect_error("CreateExpressGatewayService",
               body({{"primaryContainer", {{"image", "nginx"}, {"containerPort", 70000}}}}),
               "InvalidParameterException");
  expect_error("CreateExpressGatewayService",
               body({{"scalingTarget", {{"minTaskCount", 5}, {"maxTaskCount", 2}}}}),
               "InvalidParameterException");
  expect_error("CreateExpressGatewayService", body({{"primaryContainer", {{"containerPort", 80}}}}),
               "ValidationException");
  expect_error("DescribeExpressGatewayService", {{"serviceArn", arn("service/default/ghost")}},
               "ResourceNotFoundException", "Service not found.");
  expect_error("UpdateExpressGatewayService", {{"serviceArn", arn("service/default/ghost")}},
               "ServiceNotFoundException");
  expect_error("DeleteExpressGatewayService", {{"serviceArn", "web"}}, "InvalidParameterException");
}

}  // namespace
}  // namespace berth::services
