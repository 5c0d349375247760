#include <berth/protocol/model.hpp>

#include <algorithm>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

namespace berth::protocol {
namespace {

const ServiceModel& service(std::string_view id) {
  const ServiceModel* found = find_service(id);
  if (found == nullptr) {
    throw std::runtime_error("no builtin service " + std::string(id));
  }
  return *found;
}

TEST(BuiltinServices, HoldsTheFourServicesSortedById) {
  const auto& all = builtin_services();
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0]->id, "application-autoscaling");
  EXPECT_EQ(all[1]->id, "cloudwatch");
  EXPECT_EQ(all[2]->id, "ecr");
  EXPECT_EQ(all[3]->id, "ecs");
  // Loaded once: the same objects on every call.
  EXPECT_EQ(&builtin_services(), &all);
  EXPECT_EQ(find_service("ecs"), all[3]);
}

TEST(BuiltinServices, OperationCounts) {
  EXPECT_EQ(service("ecs").operations.size(), 77u);
  EXPECT_EQ(service("ecr").operations.size(), 58u);
  EXPECT_EQ(service("application-autoscaling").operations.size(), 14u);
}

TEST(BuiltinServices, FindByTargetPrefix) {
  const ServiceModel* ecs = find_service_by_target_prefix("AmazonEC2ContainerServiceV20141113");
  ASSERT_NE(ecs, nullptr);
  EXPECT_EQ(ecs->id, "ecs");
  EXPECT_EQ(ecs->signing_name, "ecs");
  EXPECT_EQ(ecs->api_version, "2014-11-13");

  const ServiceModel* ecr = find_service_by_target_prefix("AmazonEC2ContainerRegistry_V20150921");
  ASSERT_NE(ecr, nullptr);
  EXPECT_EQ(ecr->id, "ecr");
  // ECR's endpoint prefix is "api.ecr", but it signs as "ecr".
  EXPECT_EQ(ecr->signing_name, "ecr");
  EXPECT_EQ(ecr->api_version, "2015-09-21");

  const ServiceModel* aas = find_service_by_target_prefix("AnyScaleFrontendService");
  ASSERT_NE(aas, nullptr);
  EXPECT_EQ(aas->id, "application-autoscaling");
  EXPECT_EQ(aas->signing_name, "application-autoscaling");
  EXPECT_EQ(aas->api_version, "2016-02-06");

  EXPECT_EQ(find_service_by_target_prefix("AmazonEC2ContainerServiceV20141113.RunTask"), nullptr);
  EXPECT_EQ(find_service_by_target_prefix(""), nullptr);
  EXPECT_EQ(find_service("ECS"), nullptr);
  EXPECT_EQ(find_service("logs"), nullptr);
}

TEST(BuiltinServices, EcsOperationsAndShapes) {
  const ServiceModel& ecs = service("ecs");
  const Operation* run_task = ecs.find_operation("RunTask");
  ASSERT_NE(run_task, nullptr);
  EXPECT_EQ(run_task->name, "RunTask");
  EXPECT_EQ(run_task->input, "RunTaskRequest");
  EXPECT_EQ(run_task->output, "RunTaskResponse");
  EXPECT_NE(std::find(run_task->errors.begin(), run_task->errors.end(), "ClusterNotFoundException"),
            run_task->errors.end());
  EXPECT_EQ(ecs.find_operation("runTask"), nullptr);
  EXPECT_EQ(ecs.find_operation("NoSuchOperation"), nullptr);

  for (const char* name : {"CreateCluster", "RegisterTaskDefinition", "CreateService", "UpdateService",
                           "DescribeTasks", "ListTasks", "StopTask", "TagResource", "DeleteCluster"}) {
    EXPECT_NE(ecs.find_operation(name), nullptr) << name;
  }

  const Shape* request = ecs.find_shape("RunTaskRequest");
  ASSERT_NE(request, nullptr);
  EXPECT_EQ(request->type, ShapeType::kStructure);
  ASSERT_FALSE(request->members.empty());
  // Model order, not alphabetical.
  EXPECT_EQ(request->members.front(),
            (std::pair<std::string, std::string>{"capacityProviderStrategy", "CapacityProviderStrategy"}));
  EXPECT_EQ(request->required, std::vector<std::string>{"taskDefinition"});

  const Shape* launch_type = ecs.find_shape("LaunchType");
  ASSERT_NE(launch_type, nullptr);
  EXPECT_EQ(launch_type->type, ShapeType::kString);
  EXPECT_EQ(launch_type->enum_values,
            (std::vector<std::string>{"EC2", "FARGATE", "EXTERNAL", "MANAGED_INSTANCES"}));

  const Shape* tags = ecs.find_shape("Tags");
  ASSERT_NE(tags, nullptr);
  EXPECT_EQ(tags->type, ShapeType::kList);
  EXPECT_EQ(tags->member, "Tag");
  EXPECT_EQ(tags->max, 50.0);
  EXPECT_EQ(tags->min, 0.0);

  const Shape* labels = ecs.find_shape("DockerLabelsMap");
  ASSERT_NE(labels, nullptr);
  EXPECT_EQ(labels->type, ShapeType::kMap);
  EXPECT_EQ(labels->key, "String");
  EXPECT_EQ(labels->member, "String");

  const Shape* weight = ecs.find_shape("CapacityProviderStrategyItemWeight");
  ASSERT_NE(weight, nullptr);
  EXPECT_EQ(weight->type, ShapeType::kInteger);
  EXPECT_EQ(weight->min, 0.0);
  EXPECT_EQ(weight->max, 1000.0);

  ASSERT_NE(ecs.find_shape("Timestamp"), nullptr);
  EXPECT_EQ(ecs.find_shape("Timestamp")->type, ShapeType::kTimestamp);
  EXPECT_EQ(ecs.find_shape("Long")->type, ShapeType::kLong);
  EXPECT_EQ(ecs.find_shape("BoxedDouble")->type, ShapeType::kDouble);
  EXPECT_EQ(ecs.find_shape("BoxedBoolean")->type, ShapeType::kBoolean);
}

TEST(BuiltinServices, ExceptionShapesCarryTheirStatus) {
  const ServiceModel& ecs = service("ecs");
  const Shape* server = ecs.find_shape("ServerException");
  ASSERT_NE(server, nullptr);
  EXPECT_TRUE(server->exception);
  EXPECT_EQ(server->error_status, 500);
  const Shape* client = ecs.find_shape("ClusterNotFoundException");
  ASSERT_NE(client, nullptr);
  EXPECT_TRUE(client->exception);
  EXPECT_EQ(client->error_status, 400);
  EXPECT_FALSE(ecs.find_shape("RunTaskRequest")->exception);
}

TEST(BuiltinServices, DocumentShapesAreLeftOutButStillReferenced) {
  const ServiceModel& ecs = service("ecs");
  // HookDetails is a Smithy document (any JSON); see load_service_model.
  EXPECT_EQ(ecs.find_shape("HookDetails"), nullptr);
  const Shape* hook = ecs.find_shape("DeploymentLifecycleHook");
  ASSERT_NE(hook, nullptr);
  EXPECT_NE(std::find(hook->members.begin(), hook->members.end(),
                      std::pair<std::string, std::string>{"hookDetails", "HookDetails"}),
            hook->members.end());
}

TEST(BuiltinServices, EcrAndAutoScalingShapes) {
  const ServiceModel& ecr = service("ecr");
  EXPECT_NE(ecr.find_operation("GetAuthorizationToken"), nullptr);
  EXPECT_NE(ecr.find_operation("PutImage"), nullptr);
  const Shape* blob = ecr.find_shape("LayerPartBlob");
  ASSERT_NE(blob, nullptr);
  EXPECT_EQ(blob->type, ShapeType::kBlob);
  EXPECT_EQ(blob->max, 20971520.0);
  const Shape* max_results = ecr.find_shape("MaxResults");
  ASSERT_NE(max_results, nullptr);
  EXPECT_EQ(max_results->type, ShapeType::kInteger);
  EXPECT_EQ(max_results->min, 1.0);
  EXPECT_EQ(max_results->max, 1000.0);
  EXPECT_EQ(ecr.find_shape("PartSize")->type, ShapeType::kLong);

  const ServiceModel& aas = service("application-autoscaling");
  const Operation* put = aas.find_operation("PutScalingPolicy");
  ASSERT_NE(put, nullptr);
  EXPECT_EQ(put->input, "PutScalingPolicyRequest");
  const Shape* target = aas.find_shape("RegisterScalableTargetRequest");
  ASSERT_NE(target, nullptr);
  EXPECT_EQ(target->required,
            (std::vector<std::string>{"ServiceNamespace", "ResourceId", "ScalableDimension"}));
  EXPECT_EQ(aas.find_shape("MetricScale")->type, ShapeType::kDouble);
}

TEST(BuiltinServices, EveryOperationResolves) {
  for (const ServiceModel* model : builtin_services()) {
    for (const auto& [name, op] : model->operations) {
      EXPECT_EQ(op.name, name);
      ASSERT_FALSE(op.input.empty()) << model->id << " " << name;
      const Shape* input = model->find_shape(op.input);
      ASSERT_NE(input, nullptr) << model->id << " " << name;
      EXPECT_EQ(input->type, ShapeType::kStructure);
      for (const std::string& error : op.errors) {
        const Shape* shape = model->find_shape(error);
        ASSERT_NE(shape, nullptr) << error;
        EXPECT_TRUE(shape->exception) << error;
      }
    }
  }
}

// ---- load_service_model on hand-written tables.

constexpr const char* kMinimalTable = R"({"format":1,"id":"demo",
"metadata":{"apiVersion":"2020-01-01","endpointPrefix":"demo-endpoint","targetPrefix":"DemoService"},
"operations":{"Ping":{"errors":["Oops"],"input":"PingRequest"},"Nothing":{"errors":[]}},
"shapes":{
"Count":{"max":5,"min":1,"type":"integer"},
"Doc":{"type":"document"},
"Name":{"enum":["a","b"],"type":"string"},
"Names":{"member":"Name","type":"list"},
"Oops":{"exception":true,"httpStatusCode":409,"members":[["message","Name"]],"type":"structure"},
"PingRequest":{"members":[["name","Name"],["count","Count"],["names","Names"],["labels","Labels"],["doc","Doc"]],"required":["name"],"type":"structure"},
"Labels":{"key":"Name","type":"map","value":"Count"}
}})";

TEST(LoadServiceModel, ReadsAHandWrittenTable) {
  ServiceModel model = load_service_model(kMinimalTable);
  EXPECT_EQ(model.id, "demo");
  EXPECT_EQ(model.target_prefix, "DemoService");
  EXPECT_EQ(model.signing_name, "demo-endpoint");  // no signingName: falls back to the endpoint prefix
  EXPECT_EQ(model.api_version, "2020-01-01");
  ASSERT_EQ(model.operations.size(), 2u);
  EXPECT_TRUE(model.find_operation("Nothing")->input.empty());
  EXPECT_EQ(model.find_operation("Ping")->errors, std::vector<std::string>{"Oops"});
  EXPECT_EQ(model.shapes.size(), 6u);  // the document shape is not kept
  EXPECT_EQ(model.find_shape("Oops")->error_status, 409);
  EXPECT_EQ(model.find_shape("Labels")->key, "Name");
  EXPECT_EQ(model.find_shape("Labels")->member, "Count");
  EXPECT_EQ(model.find_shape("Count")->max, 5.0);
  EXPECT_FALSE(model.find_shape("Name")->min.has_value());
}

void expect_rejected(const std::string& table, const std::string& needle) {
  try {
    load_service_model(table);
    ADD_FAILURE() << "accepted: " << table;
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  auto at = text.find(from);
  if (at == std::string::npos) {
    throw std::logic_error("test table has no " + from);
  }
  return text.replace(at, from.size(), to);
}

TEST(LoadServiceModel, RejectsMalformedTables) {
  const std::string good = kMinimalTable;
  expect_rejected("not json", "bad API table");
  expect_rejected("[]", "not a JSON object");
  expect_rejected(replaced(good, R"("format":1)", R"("format":2)"), "unsupported table format");
  expect_rejected(replaced(good, R"("targetPrefix":"DemoService")", R"("x":"y")"), "targetPrefix");
  expect_rejected(replaced(good, R"("type":"integer")", R"("type":"bigint")"), "unknown type \"bigint\"");
  expect_rejected(replaced(good, R"("member":"Name")", R"("member":"Nope")"), "unknown shape \"Nope\"");
  expect_rejected(replaced(good, R"("input":"PingRequest")", R"("input":"Missing")"),
                  "unknown shape \"Missing\"");
  expect_rejected(replaced(good, R"("required":["name"])", R"("required":["ghost"])"), "\"ghost\"");
  expect_rejected(replaced(good, R"([["name","Name"],["count")", R"([["name"],["count")"), "[name, shape]");
  expect_rejected(replaced(good, R"("max":5)", R"("max":"5")"), "not a number");
  expect_rejected(replaced(good, R"("httpStatusCode":409)", R"("httpStatusCode":42)"), "HTTP status");
  expect_rejected(replaced(good, R"("key":"Name")", R"("key":"Count")"), "map key");
  expect_rejected(replaced(good, R"({"member":"Name","type":"list"})", R"({"type":"list"})"), "\"member\"");
}

}  // namespace
}  // namespace berth::protocol
