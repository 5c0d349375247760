#include <berth/protocol/validator.hpp>

#include <cstdint>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <berth/protocol/model.hpp>

namespace berth::protocol {
namespace {

const ServiceModel& service(std::string_view id) {
  const ServiceModel* found = find_service(id);
  if (found == nullptr) {
    throw std::runtime_error("no builtin service " + std::string(id));
  }
  return *found;
}

std::optional<AwsError> validate(std::string_view service_id, std::string_view operation, const json& input) {
  const ServiceModel& model = service(service_id);
  const Operation* op = model.find_operation(operation);
  if (op == nullptr) {
    throw std::runtime_error("no operation " + std::string(operation));
  }
  return validate_input(model, *op, input);
}

std::optional<AwsError> ecs(std::string_view operation, const json& input) {
  return validate("ecs", operation, input);
}

// The message of the error, or a marker that makes a comparison fail readably.
std::string serialization(const std::optional<AwsError>& error) {
  if (!error) {
    return "<valid>";
  }
  EXPECT_EQ(error->type, "SerializationException") << error->message;
  EXPECT_EQ(error->http_status, 400);
  return error->message;
}

std::string validation(const std::optional<AwsError>& error) {
  if (!error) {
    return "<valid>";
  }
  EXPECT_EQ(error->type, "ValidationException") << error->message;
  EXPECT_EQ(error->http_status, 400);
  return error->message;
}

std::string error_text(const std::optional<AwsError>& error) {
  return error ? error->type + ": " + error->message : "<valid>";
}

// ---- Required members, nulls, unknown members.

TEST(Validator, RunTaskWithoutTaskDefinition) {
  EXPECT_EQ(validation(ecs("RunTask", json::object())),
            "1 validation error detected: Value null at 'taskDefinition' failed to satisfy constraint: "
            "Member must not be null");
}

TEST(Validator, MinimalAndFullInputsPass) {
  EXPECT_EQ(ecs("RunTask", {{"taskDefinition", "nginx:1"}}), std::nullopt);
  json full = json::parse(R"({
    "cluster": "default", "taskDefinition": "web:3", "count": 2, "launchType": "FARGATE",
    "enableExecuteCommand": true, "startedBy": "me",
    "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-1"], "assignPublicIp": "ENABLED"}},
    "overrides": {"containerOverrides": [{"name": "web", "command": ["sh", "-c", "true"],
                                          "environment": [{"name": "A", "value": "1"}], "memory": 512}],
                  "cpu": "256"},
    "capacityProviderStrategy": [{"capacityProvider": "FARGATE", "weight": 1, "base": 0}],
    "tags": [{"key": "team", "value": "x"}],
    "placementStrategy": [{"type": "spread", "field": "attribute:ecs.availability-zone"}]
  })");
  EXPECT_EQ(ecs("RunTask", full), std::nullopt) << error_text(ecs("RunTask", full));

  json task_definition = json::parse(R"({
    "family": "web", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "256",
    "memory": "512",
    "containerDefinitions": [{
      "name": "web", "image": "nginx:latest", "essential": true, "cpu": 10, "memory": 128,
      "portMappings": [{"containerPort": 80, "hostPort": 80, "protocol": "tcp"}],
      "dockerLabels": {"a": "b"},
      "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "g"}},
      "healthCheck": {"command": ["CMD", "true"], "interval": 30}
    }]
  })");
  EXPECT_EQ(ecs("RegisterTaskDefinition", task_definition), std::nullopt)
      << error_text(ecs("RegisterTaskDefinition", task_definition));
}

TEST(Validator, NullIsAbsent) {
  EXPECT_EQ(ecs("RunTask", {{"taskDefinition", "x"}, {"count", nullptr}, {"overrides", nullptr}}),
            std::nullopt);
  EXPECT_EQ(validation(ecs("RunTask", {{"taskDefinition", nullptr}})),
            "1 validation error detected: Value null at 'taskDefinition' failed to satisfy constraint: "
            "Member must not be null");
  // A null body is an empty one.
  EXPECT_EQ(validation(ecs("RunTask", json())),
            "1 validation error detected: Value null at 'taskDefinition' failed to satisfy constraint: "
            "Member must not be null");
  EXPECT_EQ(ecs("ListClusters", json()), std::nullopt);
}

TEST(Validator, UnknownMembersAreIgnored) {
  EXPECT_EQ(ecs("RunTask", {{"taskDefinition", "x"}, {"bogus", {{"deep", {1, 2, "three"}}}}, {"Count", "x"}}),
            std::nullopt);
  // Member names are case-sensitive: "TaskDefinition" is unknown, so the real one is still missing.
  EXPECT_EQ(validation(ecs("RunTask", {{"TaskDefinition", "x"}})),
            "1 validation error detected: Value null at 'taskDefinition' failed to satisfy constraint: "
            "Member must not be null");
}

TEST(Validator, NullListEntryIsAViolation) {
  EXPECT_EQ(validation(ecs("TagResource", {{"resourceArn", "arn"}, {"tags", {nullptr}}})),
            "1 validation error detected: Value null at 'tags.1.member' failed to satisfy constraint: "
            "Member must not be null");
}

// ---- Wrong JSON types: SerializationException naming the member.

TEST(Validator, ObjectWhereAListIsExpected) {
  EXPECT_EQ(
      serialization(ecs("RegisterTaskDefinition",
                        {{"family", "f"}, {"containerDefinitions", {{"name", "web"}, {"image", "nginx"}}}})),
      "Start of structure or map found where not expected at 'containerDefinitions'");
}

TEST(Validator, ScalarsOfTheWrongType) {
  EXPECT_EQ(serialization(ecs("RunTask", {{"taskDefinition", "x"}, {"count", "3"}})),
            "STRING_VALUE can not be converted to an Integer at 'count'");
  EXPECT_EQ(serialization(ecs("RunTask", {{"taskDefinition", "x"}, {"count", true}})),
            "BOOLEAN_VALUE can not be converted to an Integer at 'count'");
  EXPECT_EQ(serialization(ecs("RunTask", {{"taskDefinition", 5}})),
            "NUMBER_VALUE can not be converted to a String at 'taskDefinition'");
  EXPECT_EQ(serialization(ecs("RunTask", {{"taskDefinition", {"a"}}})),
            "Start of list found where not expected at 'taskDefinition'");
  EXPECT_EQ(serialization(ecs("RunTask", {{"taskDefinition", "x"}, {"enableExecuteCommand", "true"}})),
            "STRING_VALUE can not be converted to a Boolean at 'enableExecuteCommand'");
  EXPECT_EQ(serialization(ecs("RunTask", {{"taskDefinition", "x"}, {"enableExecuteCommand", 1}})),
            "NUMBER_VALUE can not be converted to a Boolean at 'enableExecuteCommand'");
  EXPECT_EQ(serialization(ecs("RunTask", {{"taskDefinition", "x"}, {"overrides", "none"}})),
            "Unexpected field type: STRING_VALUE found where a structure is expected at 'overrides'");
  EXPECT_EQ(serialization(ecs("RunTask", {{"taskDefinition", "x"}, {"tags", "team=x"}})),
            "Unexpected field type: STRING_VALUE found where a list is expected at 'tags'");
  EXPECT_EQ(serialization(ecs("RunTask", {{"taskDefinition", "x"}, {"overrides", json::array()}})),
            "Start of list found where not expected at 'overrides'");
}

TEST(Validator, SerializationWinsOverValidation) {
  // taskDefinition is missing too, but a body that does not deserialize is not validated.
  EXPECT_EQ(serialization(ecs("RunTask", {{"count", "3"}})),
            "STRING_VALUE can not be converted to an Integer at 'count'");
}

TEST(Validator, IntegersMustBeIntegralAndInRange) {
  EXPECT_EQ(serialization(ecs("RunTask", {{"taskDefinition", "x"}, {"count", 1.5}})),
            "NUMBER_VALUE 1.5 can not be converted to an Integer at 'count'");
  EXPECT_EQ(serialization(ecs("RunTask", {{"taskDefinition", "x"}, {"count", 3000000000LL}})),
            "NUMBER_VALUE 3000000000 is out of range for an Integer at 'count'");
  EXPECT_EQ(serialization(ecs("RunTask", {{"taskDefinition", "x"}, {"count", -2147483649LL}})),
            "NUMBER_VALUE -2147483649 is out of range for an Integer at 'count'");
  EXPECT_EQ(ecs("RunTask", {{"taskDefinition", "x"}, {"count", 2147483647}}), std::nullopt);
  EXPECT_EQ(ecs("RunTask", {{"taskDefinition", "x"}, {"count", -2147483648LL}}), std::nullopt);
  // 2.0 and 1e3 are integral values, whatever their spelling.
  EXPECT_EQ(ecs("RunTask", json::parse(R"({"taskDefinition": "x", "count": 2.0})")), std::nullopt);
  EXPECT_EQ(ecs("RunTask", json::parse(R"({"taskDefinition": "x", "count": 1e3})")), std::nullopt);
}

TEST(Validator, Longs) {
  auto with_long = [](const json& value) {
    return ecs("RegisterContainerInstance",
               {{"totalResources", {{{"name", "CPU"}, {"type", "LONG"}, {"longValue", value}}}}});
  };
  EXPECT_EQ(with_long(9223372036854775807LL), std::nullopt);
  EXPECT_EQ(with_long(json::parse("-9223372036854775808")), std::nullopt);
  EXPECT_EQ(
      serialization(with_long(json::parse("9223372036854775808"))),
      "NUMBER_VALUE 9223372036854775808 is out of range for a Long at 'totalResources.1.member.longValue'");
  EXPECT_EQ(serialization(with_long(json::parse("1e19"))),
            "NUMBER_VALUE 1e+19 is out of range for a Long at 'totalResources.1.member.longValue'");
  EXPECT_EQ(serialization(with_long("1")),
            "STRING_VALUE can not be converted to a Long at 'totalResources.1.member.longValue'");
}

TEST(Validator, Doubles) {
  auto with_double = [](const json& value) {
    return ecs("RegisterContainerInstance",
               {{"totalResources", {{{"name", "CPU"}, {"type", "DOUBLE"}, {"doubleValue", value}}}}});
  };
  EXPECT_EQ(with_double(1.5), std::nullopt);
  EXPECT_EQ(with_double(3), std::nullopt);
  EXPECT_EQ(serialization(with_double("1.5")),
            "STRING_VALUE can not be converted to a Double at 'totalResources.1.member.doubleValue'");
  // A double with a range: CreateDaemon's drainPercent is 0..100.
  auto daemon = [](const json& percent) {
    return ecs("CreateDaemon", {{"daemonName", "d"},
                                {"daemonTaskDefinitionArn", "t"},
                                {"capacityProviderArns", {"cp"}},
                                {"deploymentConfiguration", {{"drainPercent", percent}}}});
  };
  EXPECT_EQ(daemon(100.0), std::nullopt);
  EXPECT_EQ(validation(daemon(100.5)),
            "1 validation error detected: Value '100.5' at 'deploymentConfiguration.drainPercent' failed to "
            "satisfy constraint: Member must have value less than or equal to 100");
  EXPECT_EQ(validation(daemon(-0.5)),
            "1 validation error detected: Value '-0.5' at 'deploymentConfiguration.drainPercent' failed to "
            "satisfy constraint: Member must have value greater than or equal to 0");
}

TEST(Validator, Timestamps) {
  auto with_time = [](const json& value) { return ecs("SubmitTaskStateChange", {{"pullStartedAt", value}}); };
  EXPECT_EQ(with_time(1700000000), std::nullopt);
  EXPECT_EQ(with_time(1700000000.25), std::nullopt);
  EXPECT_EQ(with_time("2024-05-01T12:00:00Z"), std::nullopt);
  EXPECT_EQ(with_time("2024-02-29T23:59:59.123456+02:00"), std::nullopt);
  EXPECT_EQ(with_time("2024-05-01t12:00:00-0530"), std::nullopt);
  const std::string bad_string =
      "STRING_VALUE can not be converted to a Timestamp (expected epoch seconds or ISO-8601) at "
      "'pullStartedAt'";
  EXPECT_EQ(serialization(with_time("yesterday")), bad_string);
  EXPECT_EQ(serialization(with_time("2024-13-01T00:00:00Z")), bad_string);
  EXPECT_EQ(serialization(with_time("2023-02-29T00:00:00Z")), bad_string);
  EXPECT_EQ(serialization(with_time("2024-05-01T12:00:00")), bad_string);  // no zone
  EXPECT_EQ(serialization(with_time("2024-05-01")), bad_string);
  EXPECT_EQ(serialization(with_time(true)),
            "BOOLEAN_VALUE can not be converted to a Timestamp at 'pullStartedAt'");
  EXPECT_EQ(serialization(with_time(json::object())),
            "Start of structure or map found where not expected at 'pullStartedAt'");
}

TEST(Validator, Blobs) {
  auto upload = [](const json& blob) {
    return validate("ecr", "UploadLayerPart",
                    {{"repositoryName", "repo"},
                     {"uploadId", "u"},
                     {"partFirstByte", 0},
                     {"partLastByte", 3},
                     {"layerPartBlob", blob}});
  };
  EXPECT_EQ(upload("aGVsbG8="), std::nullopt);
  EXPECT_EQ(upload(""), std::nullopt);
  EXPECT_EQ(serialization(upload("not base64!")),
            "STRING_VALUE can not be converted to a Blob (expected base64) at 'layerPartBlob'");
  EXPECT_EQ(serialization(upload("aGVsbG8")),  // unpadded: berth's decoder wants padding
            "STRING_VALUE can not be converted to a Blob (expected base64) at 'layerPartBlob'");
  EXPECT_EQ(serialization(upload(42)), "NUMBER_VALUE can not be converted to a Blob at 'layerPartBlob'");
  // Over 20 MiB of decoded bytes: the message quotes the size, not the megabytes of text.
  const std::string big((20971520 / 3 + 1) * 4, 'A');
  EXPECT_EQ(validation(upload(big)),
            "1 validation error detected: Value '<20971521 bytes>' at 'layerPartBlob' failed to satisfy "
            "constraint: Member must have length less than or equal to 20971520");
}

// ---- Constraints: one ValidationException listing every violation.

TEST(Validator, EnumViolation) {
  EXPECT_EQ(validation(ecs("RunTask", {{"taskDefinition", "x"}, {"launchType", "XX"}})),
            "1 validation error detected: Value 'XX' at 'launchType' failed to satisfy constraint: "
            "Member must satisfy enum value set: [EC2, FARGATE, EXTERNAL, MANAGED_INSTANCES]");
}

TEST(Validator, MultipleViolationsInOneMessage) {
  EXPECT_EQ(validation(ecs("RunTask",
                           {{"launchType", "XX"},
                            {"capacityProviderStrategy", {{{"capacityProvider", "p"}, {"weight", 2000}}}}})),
            "3 validation errors detected: "
            "Value '2000' at 'capacityProviderStrategy.1.member.weight' failed to satisfy constraint: "
            "Member must have value less than or equal to 1000; "
            "Value 'XX' at 'launchType' failed to satisfy constraint: "
            "Member must satisfy enum value set: [EC2, FARGATE, EXTERNAL, MANAGED_INSTANCES]; "
            "Value null at 'taskDefinition' failed to satisfy constraint: Member must not be null");
}

TEST(Validator, NestedPathsAndRanges) {
  EXPECT_EQ(validation(
                ecs("RunTask", {{"taskDefinition", "x"},
                                {"capacityProviderStrategy",
                                 {{{"capacityProvider", "a"}}, {{"capacityProvider", "b"}, {"base", -1}}}}})),
            "1 validation error detected: Value '-1' at 'capacityProviderStrategy.2.member.base' failed to "
            "satisfy constraint: Member must have value greater than or equal to 0");
  EXPECT_EQ(
      validation(ecs("RunTask", {{"taskDefinition", "x"}, {"capacityProviderStrategy", {json::object()}}})),
      "1 validation error detected: Value null at 'capacityProviderStrategy.1.member.capacityProvider' "
      "failed to satisfy constraint: Member must not be null");
  EXPECT_EQ(serialization(ecs(
                "RegisterTaskDefinition",
                {{"family", "f"},
                 {"containerDefinitions",
                  {{{"name", "a"}}, {{"name", "b"}, {"portMappings", {{{"containerPort", "eighty"}}}}}}}})),
            "STRING_VALUE can not be converted to an Integer at "
            "'containerDefinitions.2.member.portMappings.1.member.containerPort'");
  EXPECT_EQ(validation(ecs(
                "RegisterTaskDefinition",
                {{"family", "f"},
                 {"containerDefinitions", {{{"name", "a"}, {"portMappings", {{{"protocol", "sctp"}}}}}}}})),
            "1 validation error detected: Value 'sctp' at "
            "'containerDefinitions.1.member.portMappings.1.member.protocol' failed to satisfy constraint: "
            "Member must satisfy enum value set: [tcp, udp]");
}

TEST(Validator, MapValuesAndKeys) {
  EXPECT_EQ(
      serialization(ecs(
          "RegisterTaskDefinition",
          {{"family", "f"}, {"containerDefinitions", {{{"name", "a"}, {"dockerLabels", {{"tier", 1}}}}}}})),
      "NUMBER_VALUE can not be converted to a String at 'containerDefinitions.1.member.dockerLabels.tier'");
  EXPECT_EQ(serialization(
                ecs("RegisterTaskDefinition",
                    {{"family", "f"}, {"containerDefinitions", {{{"name", "a"}, {"dockerLabels", {"x"}}}}}})),
            "Start of list found where not expected at 'containerDefinitions.1.member.dockerLabels'");

  auto tag = [](const json& tags) {
    return validate("application-autoscaling", "TagResource", {{"ResourceARN", "arn"}, {"Tags", tags}});
  };
  EXPECT_EQ(tag({{"team", "x"}}), std::nullopt);
  EXPECT_EQ(validation(tag({{"", "x"}})),
            "1 validation error detected: Value '' at 'Tags' failed to satisfy constraint: "
            "Map keys must satisfy constraint: [Member must have length greater than or equal to 1]");
  EXPECT_EQ(validation(tag({{"team", std::string(257, 'v')}})),
            "1 validation error detected: Value '" + std::string(256, 'v') +
                "...' at 'Tags.team' failed to satisfy constraint: "
                "Member must have length less than or equal to 256");
  EXPECT_EQ(validation(tag({{"team", nullptr}})),
            "1 validation error detected: Value null at 'Tags.team' failed to satisfy constraint: "
            "Member must not be null");
}

TEST(Validator, LengthsCountCharactersAndEntries) {
  // TagKey is 1..128 characters: 128 two-byte characters fit, 129 do not.
  std::string key;
  for (int i = 0; i < 128; ++i) {
    key += "\xC3\xA9";  // é
  }
  EXPECT_EQ(ecs("TagResource", {{"resourceArn", "arn"}, {"tags", {{{"key", key}, {"value", "v"}}}}}),
            std::nullopt);
  auto error = ecs("TagResource", {{"resourceArn", "arn"}, {"tags", {{{"key", key + "e"}, {"value", "v"}}}}});
  EXPECT_NE(validation(error).find("at 'tags.1.member.key' failed to satisfy constraint: "
                                   "Member must have length less than or equal to 128"),
            std::string::npos);

  EXPECT_EQ(validation(ecs("TagResource", {{"resourceArn", "arn"}, {"tags", {{{"key", ""}}}}})),
            "1 validation error detected: Value '' at 'tags.1.member.key' failed to satisfy constraint: "
            "Member must have length greater than or equal to 1");

  json tags = json::array();
  for (int i = 0; i < 51; ++i) {
    tags.push_back({{"key", "k" + std::to_string(i)}, {"value", "v"}});
  }
  std::string message = validation(ecs("TagResource", {{"resourceArn", "arn"}, {"tags", tags}}));
  EXPECT_EQ(message.rfind("1 validation error detected: Value '[{key=k0, value=v}, {key=k1, value=v}", 0), 0u)
      << message;
  EXPECT_NE(message.find("...]' at 'tags' failed to satisfy constraint: "
                         "Member must have length less than or equal to 50"),
            std::string::npos)
      << message;

  // ECR: a list with a minimum size, and an integer range.
  EXPECT_EQ(
      validation(validate("ecr", "BatchGetImage", {{"repositoryName", "repo"}, {"imageIds", json::array()}})),
      "1 validation error detected: Value '[]' at 'imageIds' failed to satisfy constraint: "
      "Member must have length greater than or equal to 1");
  EXPECT_EQ(validation(validate("ecr", "DescribeRepositories", {{"maxResults", 0}})),
            "1 validation error detected: Value '0' at 'maxResults' failed to satisfy constraint: "
            "Member must have value greater than or equal to 1");
  EXPECT_EQ(validation(validate("ecr", "DescribeRepositories", {{"maxResults", 1001}})),
            "1 validation error detected: Value '1001' at 'maxResults' failed to satisfy constraint: "
            "Member must have value less than or equal to 1000");
  EXPECT_EQ(validate("ecr", "DescribeRepositories", {{"maxResults", 1000}}), std::nullopt);
}

TEST(Validator, AutoScalingRequiredAndEnums) {
  EXPECT_EQ(
      validation(
          validate("application-autoscaling", "RegisterScalableTarget", {{"ServiceNamespace", "ecz"}})),
      "3 validation errors detected: "
      "Value 'ecz' at 'ServiceNamespace' failed to satisfy constraint: Member must satisfy enum value set: "
      "[ecs, elasticmapreduce, ec2, appstream, dynamodb, rds, sagemaker, custom-resource, comprehend, "
      "lambda, "
      "cassandra, kafka, elasticache, neptune, workspaces]; "
      "Value null at 'ResourceId' failed to satisfy constraint: Member must not be null; "
      "Value null at 'ScalableDimension' failed to satisfy constraint: Member must not be null");
  EXPECT_EQ(validate("application-autoscaling", "RegisterScalableTarget",
                     {{"ServiceNamespace", "ecs"},
                      {"ResourceId", "service/default/web"},
                      {"ScalableDimension", "ecs:service:DesiredCount"},
                      {"MinCapacity", 1},
                      {"MaxCapacity", 4}}),
            std::nullopt);
}

TEST(Validator, ViolationsAreCapped) {
  json tags = json::array();
  for (int i = 0; i < 30; ++i) {
    tags.push_back({{"key", ""}, {"value", "v"}});
  }
  std::string message = validation(ecs("TagResource", {{"resourceArn", "arn"}, {"tags", tags}}));
  EXPECT_EQ(message.rfind("10 validation errors detected: Value '' at 'tags.1.member.key'", 0), 0u)
      << message;
  std::size_t count = 0;
  for (std::size_t at = message.find("Value "); at != std::string::npos;
       at = message.find("Value ", at + 1)) {
    ++count;
  }
  EXPECT_EQ(count, 10u);
  EXPECT_NE(message.find("'tags.10.member.key'"), std::string::npos);
  EXPECT_EQ(message.find("'tags.11.member.key'"), std::string::npos);
}

TEST(Validator, QuotedValuesAreClippedAndStayValidUtf8) {
  const std::string long_value(10000, 'Z');
  std::string message = validation(ecs("RunTask", {{"taskDefinition", "x"}, {"launchType", long_value}}));
  EXPECT_LT(message.size(), 1000u);
  EXPECT_NE(message.find("Value '" + std::string(256, 'Z') + "...' at 'launchType'"), std::string::npos);

  // A value built in code (not parsed) may hold invalid UTF-8; the message must still render as JSON.
  std::string invalid = "bad\xFF\xC3";
  auto error = ecs("RunTask", {{"taskDefinition", "x"}, {"launchType", invalid}});
  ASSERT_TRUE(error.has_value());
  EXPECT_NO_THROW((void)json(error->message).dump());
  EXPECT_NE(error->message.find("Value 'bad\xEF\xBF\xBD\xEF\xBF\xBD'"), std::string::npos) << error->message;
}

TEST(Validator, DocumentMembersAcceptAnyJson) {
  for (const json& details : {json("text"), json({1, 2}), json({{"any", {{"thing", true}}}}), json(3.5)}) {
    json input = {{"serviceName", "s"},
                  {"deploymentConfiguration",
                   {{"lifecycleHooks", {{{"hookTargetArn", "arn"}, {"hookDetails", details}}}}}}};
    EXPECT_EQ(ecs("CreateService", input), std::nullopt) << details.dump();
  }
}

TEST(Validator, OperationWithoutInputShapeAcceptsAnything) {
  Operation op;
  op.name = "Nothing";
  EXPECT_EQ(validate_input(service("ecs"), op, {{"a", 1}}), std::nullopt);
}

TEST(Validator, EmptyBodyNeverFailsToDeserialize) {
  for (const ServiceModel* model : builtin_services()) {
    for (const auto& [name, op] : model->operations) {
      auto error = validate_input(*model, op, json::object());
      if (error) {
        EXPECT_EQ(error->type, "ValidationException") << model->id << " " << name;
        EXPECT_NE(error->message.find("Member must not be null"), std::string::npos) << error->message;
      }
    }
  }
  EXPECT_EQ(ecs("ListClusters", json::object()), std::nullopt);
  EXPECT_TRUE(ecs("CreateService", json::object()).has_value());  // serviceName is required
}

TEST(Validator, HugeListsStayCheap) {
  json tags = json::array();
  for (int i = 0; i < 50000; ++i) {
    tags.push_back({{"key", ""}});
  }
  std::string message = validation(ecs("TagResource", {{"resourceArn", "arn"}, {"tags", tags}}));
  EXPECT_EQ(message.rfind("10 validation errors detected: Value '[{key=}, {key=}", 0), 0u)
      << message.substr(0, 200);
  EXPECT_LT(message.size(), 4000u);
}

// ---- Fuzz: random mutations of valid inputs never throw and only ever yield the two client errors.

class Mutator {
 public:
  explicit Mutator(std::uint32_t seed) : rng_(seed) {}

  json mutate(json value) {
    const int edits = 1 + static_cast<int>(below(4));
    for (int i = 0; i < edits; ++i) {
      edit(value, 0);
    }
    return value;
  }

 private:
  std::uint32_t below(std::uint32_t n) { return static_cast<std::uint32_t>(rng_() % n); }

  std::string random_string() {
    static const std::vector<std::string> kSamples = {
        "",         "EC2",      "FARGATE", "x",
        "1",        "true",     "null",    "2024-05-01T12:00:00Z",
        "aGVsbG8=", "\xC3\xA9", "bad\xFF", std::string(300, 'a'),
        "tcp",      "ENABLED",  "ecs",     "ecs:service:DesiredCount"};
    if (below(4) == 0) {
      std::string bytes;
      const std::uint32_t length = below(40);
      for (std::uint32_t i = 0; i < length; ++i) {
        bytes += static_cast<char>(below(256));
      }
      return bytes;
    }
    return kSamples[below(static_cast<std::uint32_t>(kSamples.size()))];
  }

  json random_scalar() {
    switch (below(10)) {
      case 0:
        return nullptr;
      case 1:
        return below(2) == 0;
      case 2:
        return static_cast<std::int64_t>(rng_()) - 2147483648LL;
      case 3:
        return json::parse("9223372036854775808");
      case 4:
        return -9223372036854775807LL - 1;
      case 5:
        return static_cast<double>(rng_()) / 7.0;
      case 6:
        return json::parse("1e308");
      case 7:
        return static_cast<int>(below(2000)) - 500;
      default:
        return random_string();
    }
  }

  json random_value(int depth) {
    if (depth > 4 || below(3) != 0) {
      return random_scalar();
    }
    if (below(2) == 0) {
      json list = json::array();
      const std::uint32_t size = below(below(10) == 0 ? 120 : 4);
      for (std::uint32_t i = 0; i < size; ++i) {
        list.push_back(random_value(depth + 1));
      }
      return list;
    }
    json object = json::object();
    const std::uint32_t size = below(4);
    for (std::uint32_t i = 0; i < size; ++i) {
      object[random_string()] = random_value(depth + 1);
    }
    return object;
  }

  // Walks to a random node and replaces, deletes or grows something there.
  void edit(json& node, int depth) {
    const bool descend = depth < 8 && below(3) != 0;
    if (node.is_object() && !node.empty()) {
      auto it = node.begin();
      std::advance(it, below(static_cast<std::uint32_t>(node.size())));
      if (descend) {
        edit(*it, depth + 1);
        return;
      }
      switch (below(3)) {
        case 0:
          node.erase(it);
          return;
        case 1:
          *it = random_value(depth);
          return;
        default:
          node[random_string()] = random_value(depth);
          return;
      }
    }
    if (node.is_array() && !node.empty()) {
      json& entry = node[below(static_cast<std::uint32_t>(node.size()))];
      if (descend) {
        edit(entry, depth + 1);
        return;
      }
      switch (below(3)) {
        case 0:
          entry = random_value(depth);
          return;
        case 1:
          node.push_back(random_value(depth));
          return;
        default: {
          const json copy = entry;
          for (int i = 0; i < 20; ++i) {
            node.push_back(copy);
          }
          return;
        }
      }
    }
    node = random_value(depth);
  }

  std::mt19937 rng_;
};

TEST(ValidatorFuzz, RandomMutationsNeverThrow) {
  struct Seed {
    const char* service;
    const char* operation;
    const char* input;
  };
  const Seed seeds[] = {
      {"ecs", "RunTask",
       R"({"cluster":"c","taskDefinition":"t","count":1,"launchType":"FARGATE",
           "overrides":{"containerOverrides":[{"name":"a","command":["x"],"environment":[{"name":"A","value":"1"}]}]},
           "networkConfiguration":{"awsvpcConfiguration":{"subnets":["s"],"assignPublicIp":"ENABLED"}},
           "capacityProviderStrategy":[{"capacityProvider":"p","weight":1,"base":0}],
           "tags":[{"key":"k","value":"v"}]})"},
      {"ecs", "RegisterTaskDefinition",
       R"({"family":"f","cpu":"256","memory":"512","requiresCompatibilities":["FARGATE"],
           "containerDefinitions":[{"name":"web","image":"nginx","essential":true,"memory":128,
             "portMappings":[{"containerPort":80,"protocol":"tcp"}],"dockerLabels":{"a":"b"},
             "healthCheck":{"command":["CMD","true"],"interval":5}}],
           "volumes":[{"name":"v","host":{"sourcePath":"/tmp"}}]})"},
      {"ecs", "CreateService",
       R"({"serviceName":"s","taskDefinition":"t","desiredCount":2,
           "deploymentConfiguration":{"maximumPercent":200,"minimumHealthyPercent":50,
             "deploymentCircuitBreaker":{"enable":true,"rollback":true},
             "lifecycleHooks":[{"hookTargetArn":"a","hookDetails":{"x":1}}]},
           "loadBalancers":[{"targetGroupArn":"tg","containerName":"web","containerPort":80}]})"},
      {"ecs", "SubmitTaskStateChange",
       R"({"cluster":"c","task":"t","pullStartedAt":1700000000,"pullStoppedAt":"2024-05-01T12:00:00Z",
           "containers":[{"containerName":"a","exitCode":0,"networkBindings":[{"hostPort":80}]}]})"},
      {"ecs", "RegisterContainerInstance",
       R"({"cluster":"c","totalResources":[{"name":"CPU","type":"INTEGER","integerValue":1024,
           "longValue":5,"doubleValue":1.5,"stringSetValue":["a"]}],"attributes":[{"name":"n"}]})"},
      {"ecr", "UploadLayerPart",
       R"({"repositoryName":"repo","uploadId":"u","partFirstByte":0,"partLastByte":4,"layerPartBlob":"aGVsbG8="})"},
      {"ecr", "PutImage", R"({"repositoryName":"repo","imageManifest":"{}","imageTag":"latest"})"},
      {"application-autoscaling", "PutScalingPolicy",
       R"({"PolicyName":"p","ServiceNamespace":"ecs","ResourceId":"service/c/s",
           "ScalableDimension":"ecs:service:DesiredCount","PolicyType":"TargetTrackingScaling",
           "TargetTrackingScalingPolicyConfiguration":{"TargetValue":50.0,"ScaleInCooldown":60,
             "PredefinedMetricSpecification":{"PredefinedMetricType":"ECSServiceAverageCPUUtilization"}}})"},
      {"application-autoscaling", "TagResource", R"({"ResourceARN":"arn","Tags":{"a":"b"}})"},
  };

  std::uint32_t seed_number = 20240501;
  std::size_t failures = 0;
  std::size_t serialization_errors = 0;
  std::size_t validation_errors = 0;
  for (const Seed& seed : seeds) {
    const ServiceModel& model = service(seed.service);
    const Operation* op = model.find_operation(seed.operation);
    ASSERT_NE(op, nullptr) << seed.operation;
    const json base = json::parse(seed.input);
    ASSERT_EQ(validate_input(model, *op, base), std::nullopt)
        << seed.operation << ": " << error_text(validate_input(model, *op, base));

    Mutator mutator(seed_number++);
    for (int round = 0; round < 600; ++round) {
      const json input = mutator.mutate(base);
      std::optional<AwsError> error;
      try {
        error = validate_input(model, *op, input);
      } catch (const std::exception& e) {
        ADD_FAILURE() << seed.operation << " threw " << e.what() << " on "
                      << input.dump(-1, ' ', false, json::error_handler_t::replace);
        continue;
      }
      if (!error) {
        continue;
      }
      if (error->type == "SerializationException") {
        ++serialization_errors;
      } else if (error->type == "ValidationException") {
        ++validation_errors;
      } else {
        ++failures;
        ADD_FAILURE() << "unexpected error type " << error->type;
      }
      EXPECT_EQ(error->http_status, 400);
      EXPECT_FALSE(error->message.empty());
      EXPECT_LT(error->message.size(), 16384u);
      EXPECT_NO_THROW((void)json(error->message).dump()) << "message is not valid UTF-8";
    }
  }
  EXPECT_EQ(failures, 0u);
  // The mutations must actually reach both kinds of error, or this test proves little.
  EXPECT_GT(serialization_errors, 100u);
  EXPECT_GT(validation_errors, 100u);
}

}  // namespace
}  // namespace berth::protocol
