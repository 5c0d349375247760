#include <functional>
#include <set>

#include <berth/protocol/model.hpp>
#include "ecs_fixture.hpp"

namespace berth::services {
namespace {

// A value for every member of ContainerDefinition, as a caller would write it (already in ECS's normal form,
// so the stored definition must equal it exactly).
json every_container_field() {
  return json::parse(R"({
    "name": "app",
    "image": "public.ecr.aws/docker/library/nginx:1.27",
    "repositoryCredentials": {"credentialsParameter": "arn:aws:secretsmanager:us-east-1:000000000000:secret:creds"},
    "cpu": 256,
    "memory": 512,
    "memoryReservation": 256,
    "links": ["sidecar:side"],
    "portMappings": [{"containerPort": 80, "hostPort": 8080, "protocol": "tcp", "name": "http", "appProtocol": "http"},
                     {"containerPortRange": "9000-9010", "protocol": "udp"}],
    "essential": true,
    "restartPolicy": {"enabled": true, "ignoredExitCodes": [0, 2], "restartAttemptPeriod": 60},
    "entryPoint": ["/docker-entrypoint.sh"],
    "command": ["nginx", "-g", "daemon off;"],
    "environment": [{"name": "MODE", "value": "prod"}],
    "environmentFiles": [{"value": "arn:aws:s3:::bucket/app.env", "type": "s3"}],
    "mountPoints": [{"sourceVolume": "data", "containerPath": "/data", "readOnly": false}],
    "volumesFrom": [{"sourceContainer": "sidecar", "readOnly": true}],
    "linuxParameters": {"capabilities": {"add": ["NET_ADMIN"], "drop": ["MKNOD"]},
                        "devices": [{"hostPath": "/dev/fuse", "containerPath": "/dev/fuse", "permissions": ["read", "write"]}],
                        "initProcessEnabled": true, "sharedMemorySize": 64,
                        "tmpfs": [{"containerPath": "/tmp", "size": 64, "mountOptions": ["rw"]}],
                        "maxSwap": 0, "swappiness": 10},
    "secrets": [{"name": "DB_PASSWORD", "valueFrom": "arn:aws:ssm:us-east-1:000000000000:parameter/db"}],
    "dependsOn": [{"containerName": "sidecar", "condition": "START"}],
    "startTimeout": 30,
    "stopTimeout": 20,
    "versionConsistency": "disabled",
    "hostname": "web",
    "user": "nginx",
    "workingDirectory": "/srv",
    "disableNetworking": false,
    "privileged": false,
    "readonlyRootFilesystem": true,
    "dnsServers": ["10.0.0.2"],
    "dnsSearchDomains": ["internal"],
    "extraHosts": [{"hostname": "db", "ipAddress": "10.0.0.10"}],
    "dockerSecurityOptions": ["no-new-privileges"],
    "interactive": false,
    "pseudoTerminal": false,
    "dockerLabels": {"team": "web"},
    "ulimits": [{"name": "nofile", "softLimit": 1024, "hardLimit": 4096}],
    "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/web"},
                         "secretOptions": [{"name": "token", "valueFrom": "arn:aws:ssm:us-east-1:000000000000:parameter/t"}]},
    "healthCheck": {"command": ["CMD-SHELL", "curl -f http://localhost/ || exit 1"], "interval": 30, "timeout": 5,
                    "retries": 3, "startPeriod": 10},
    "systemControls": [{"namespace": "net.core.somaxconn", "value": "1024"}],
    "resourceRequirements": [{"value": "1", "type": "GPU"}],
    "firelensConfiguration": {"type": "fluentbit", "options": {"enable-ecs-log-metadata": "true"}},
    "credentialSpecs": ["credentialspecdomainless:arn:aws:s3:::bucket/spec.json"]
  })");
}

// Every member of RegisterTaskDefinition's input.
json every_task_field() {
  json sidecar = {{"name", "sidecar"},
                  {"image", "busybox"},
                  {"cpu", 0},
                  {"memory", 64},
                  {"essential", false},
                  {"portMappings", json::array()},
                  {"environment", json::array()},
                  {"mountPoints", json::array()},
                  {"volumesFrom", json::array()}};
  json in = json::parse(R"({
    "family": "everything",
    "taskRoleArn": "arn:aws:iam::000000000000:role/task",
    "executionRoleArn": "arn:aws:iam::000000000000:role/exec",
    "networkMode": "bridge",
    "volumes": [{"name": "data", "host": {"sourcePath": "/srv/data"}},
                {"name": "docker", "dockerVolumeConfiguration": {"scope": "shared", "autoprovision": true, "driver": "local",
                                                                 "driverOpts": {"type": "tmpfs"}, "labels": {"a": "b"}}},
                {"name": "efs", "efsVolumeConfiguration": {"fileSystemId": "fs-1234", "rootDirectory": "/",
                    "transitEncryption": "ENABLED", "transitEncryptionPort": 2049,
                    "authorizationConfig": {"accessPointId": "fsap-1", "iam": "ENABLED"}}},
                {"name": "s3files", "s3filesVolumeConfiguration": {"fileSystemArn": "arn:aws:s3files:us-east-1:000000000000:file-system/fs-1",
                    "rootDirectory": "/", "transitEncryptionPort": 2049, "accessPointArn": "arn:aws:s3files:us-east-1:000000000000:access-point/ap-1"}},
                {"name": "fsx", "fsxWindowsFileServerVolumeConfiguration": {"fileSystemId": "fs-5678", "rootDirectory": "share",
                    "authorizationConfig": {"credentialsParameter": "arn:aws:ssm:us-east-1:000000000000:parameter/fsx", "domain": "corp"}}},
                {"name": "later", "configuredAtLaunch": true}],
    "placementConstraints": [{"type": "memberOf", "expression": "attribute:ecs.instance-type =~ t3.*"}],
    "requiresCompatibilities": ["EC2"],
    "cpu": "1024",
    "memory": "2048",
    "tags": [{"key": "team", "value": "web"}],
    "pidMode": "task",
    "ipcMode": "task",
    "proxyConfiguration": {"type": "APPMESH", "containerName": "sidecar",
                           "properties": [{"name": "AppPorts", "value": "80"}]},
    "inferenceAccelerators": [{"deviceName": "device1", "deviceType": "eia2.medium"}],
    "ephemeralStorage": {"sizeInGiB": 30},
    "runtimePlatform": {"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"},
    "enableFaultInjection": true
  })");
  in["containerDefinitions"] = json::array({every_container_field(), sidecar});
  return in;
}

class TaskDefinitionFieldsTest : public testing::EcsFixture {};

TEST_F(TaskDefinitionFieldsTest, SampleCoversEveryMemberOfTheModel) {
  const auto* model = protocol::find_service("ecs");
  ASSERT_NE(model, nullptr);
  auto members_of = [&](const char* shape) {
    std::set<std::string> out;
    for (const auto& [name, s] : model->find_shape(shape)->members) {
      out.insert(name);
    }
    return out;
  };
  const json task = every_task_field();
  for (const auto& m : members_of("RegisterTaskDefinitionRequest")) {
    EXPECT_TRUE(task.contains(m)) << "the sample task definition lacks " << m;
  }
  const json container = task["containerDefinitions"][0];
  for (const auto& m : members_of("ContainerDefinition")) {
    EXPECT_TRUE(container.contains(m)) << "the sample container definition lacks " << m;
  }
  for (const char* shape : {"HostVolumeProperties", "DockerVolumeConfiguration", "EFSVolumeConfiguration",
                            "LinuxParameters", "PortMapping", "LogConfiguration", "HealthCheck"}) {
    std::set<std::string> seen;
    std::function<void(const json&)> walk = [&](const json& j) {
      if (j.is_object()) {
        for (const auto& [k, v] : j.items()) {
          seen.insert(k);
          walk(v);
        }
      } else if (j.is_array()) {
        for (const auto& v : j) {
          walk(v);
        }
      }
    };
    walk(task);
    for (const auto& m : members_of(shape)) {
      EXPECT_TRUE(seen.contains(m)) << shape << "." << m << " is not exercised";
    }
  }
}

TEST_F(TaskDefinitionFieldsTest, EveryFieldRoundTripsThroughRegisterAndDescribe) {
  const json in = every_task_field();
  auto registered = ok("RegisterTaskDefinition", in);
  EXPECT_EQ(registered["tags"], in["tags"]);

  json expected = in;
  expected.erase("tags");
  expected["taskDefinitionArn"] = arn("task-definition/everything:1");
  expected["revision"] = 1;
  expected["status"] = "ACTIVE";
  expected["registeredAt"] = to_epoch_seconds(clock_.now_ms());
  expected["registeredBy"] = "arn:aws:iam::000000000000:root";
  expected["compatibilities"] = {"EXTERNAL", "EC2"};

  EXPECT_EQ(registered["taskDefinition"], expected);
  auto described = ok("DescribeTaskDefinition", {{"taskDefinition", "everything:1"}, {"include", {"TAGS"}}});
  EXPECT_EQ(described["taskDefinition"], expected)
      << "diff: " << json::diff(expected, described["taskDefinition"]).dump();
  EXPECT_EQ(described["tags"], in["tags"]);
  EXPECT_FALSE(ok("DescribeTaskDefinition", {{"taskDefinition", "everything"}}).contains("tags"));
}

TEST_F(TaskDefinitionFieldsTest, MembersTheModelDoesNotHaveAreNotStored) {
  auto out =
      ok("RegisterTaskDefinition",
         {{"family", "f"},
          {"notAMember", 1},
          {"containerDefinitions", {{{"name", "a"}, {"image", "i"}, {"memory", 64}, {"madeUp", true}}}}});
  EXPECT_FALSE(out["taskDefinition"].contains("notAMember"));
  EXPECT_FALSE(out["taskDefinition"]["containerDefinitions"][0].contains("madeUp"));
}

TEST_F(TaskDefinitionFieldsTest, DeleteTaskDefinitionsOnlyInactiveRevisions) {
  for (int i = 0; i < 3; ++i) {
    ok("RegisterTaskDefinition",
       {{"family", "web"}, {"containerDefinitions", {{{"name", "a"}, {"image", "i"}, {"memory", 64}}}}});
  }
  ok("DeregisterTaskDefinition", {{"taskDefinition", "web:1"}});
  auto out = ok("DeleteTaskDefinitions",
                {{"taskDefinitions", {"web:1", arn("task-definition/web:2"), "web:9", "ghost:1"}}});
  ASSERT_EQ(out["taskDefinitions"].size(), 1u);
  EXPECT_EQ(out["taskDefinitions"][0]["taskDefinitionArn"], arn("task-definition/web:1"));
  EXPECT_EQ(out["taskDefinitions"][0]["status"], "DELETE_IN_PROGRESS");
  EXPECT_EQ(out["taskDefinitions"][0]["deleteRequestedAt"], to_epoch_seconds(clock_.now_ms()));
  EXPECT_TRUE(out["taskDefinitions"][0].contains("deregisteredAt"));
  ASSERT_EQ(out["failures"].size(), 3u);
  EXPECT_EQ(out["failures"][0]["arn"], arn("task-definition/web:2"));
  EXPECT_EQ(out["failures"][0]["reason"], "ACTIVE");
  EXPECT_EQ(out["failures"][1]["arn"], arn("task-definition/web:9"));
  EXPECT_EQ(out["failures"][1]["reason"], "MISSING");
  EXPECT_EQ(out["failures"][2]["arn"], arn("task-definition/ghost:1"));

  // Listed under its new status only; the revision number is never reused.
  EXPECT_EQ(ok("ListTaskDefinitions", {{"status", "DELETE_IN_PROGRESS"}})["taskDefinitionArns"],
            json({arn("task-definition/web:1")}));
  EXPECT_TRUE(ok("ListTaskDefinitions", {{"status", "INACTIVE"}})["taskDefinitionArns"].empty());
  auto r =
      ok("RegisterTaskDefinition",
         {{"family", "web"}, {"containerDefinitions", {{{"name", "a"}, {"image", "i"}, {"memory", 64}}}}});
  EXPECT_EQ(r["taskDefinition"]["revision"], 4);
  // Deleting it again is no change.
  out = ok("DeleteTaskDefinitions", {{"taskDefinitions", {"web:1"}}});
  EXPECT_EQ(out["taskDefinitions"][0]["status"], "DELETE_IN_PROGRESS");

  expect_error("DeleteTaskDefinitions", {{"taskDefinitions", {"web"}}}, "InvalidParameterException");
  expect_error("DeleteTaskDefinitions", {{"taskDefinitions", json(std::vector<std::string>(11, "web:1"))}},
               "InvalidParameterException");
  expect_error("DeleteTaskDefinitions", {{"taskDefinitions", "web:1"}}, "SerializationException");
}

TEST_F(TaskDefinitionFieldsTest, ListFiltersAndSort) {
  for (const char* family : {"b", "a", "ab"}) {
    for (int i = 0; i < 2; ++i) {
      ok("RegisterTaskDefinition",
         {{"family", family}, {"containerDefinitions", {{{"name", "c"}, {"image", "i"}, {"memory", 64}}}}});
    }
  }
  ok("DeregisterTaskDefinition", {{"taskDefinition", "b:1"}});
  ok("DeregisterTaskDefinition", {{"taskDefinition", "b:2"}});
  auto l = ok("ListTaskDefinitions", json::object());
  EXPECT_EQ(l["taskDefinitionArns"], json({arn("task-definition/a:1"), arn("task-definition/a:2"),
                                           arn("task-definition/ab:1"), arn("task-definition/ab:2")}));
  l = ok("ListTaskDefinitions", {{"sort", "DESC"}, {"familyPrefix", "a"}});
  EXPECT_EQ(l["taskDefinitionArns"], json({arn("task-definition/a:2"), arn("task-definition/a:1")}));
  EXPECT_EQ(ok("ListTaskDefinitions", {{"status", "INACTIVE"}})["taskDefinitionArns"].size(), 2u);
  EXPECT_EQ(ok("ListTaskDefinitionFamilies", json::object())["families"], json({"a", "ab"}));
  EXPECT_EQ(ok("ListTaskDefinitionFamilies", {{"familyPrefix", "a"}})["families"], json({"a", "ab"}));
  EXPECT_EQ(ok("ListTaskDefinitionFamilies", {{"status", "INACTIVE"}})["families"], json({"b"}));
  EXPECT_EQ(ok("ListTaskDefinitionFamilies", {{"status", "ALL"}})["families"], json({"a", "ab", "b"}));
  expect_error("ListTaskDefinitions", {{"sort", "SIDEWAYS"}}, "ValidationException");
}

}  // namespace
}  // namespace berth::services
