#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <set>

#include <berth/common/arn.hpp>
#include <berth/common/time_format.hpp>
#include <berth/endpoints/task_metadata.hpp>

#include "fakes/fake_runtime.hpp"

namespace berth::endpoints {
namespace {

using state::Container;
using state::ContainerPhase;
using state::ContainerStatus;
using state::Task;
using state::TaskStatus;

constexpr char kHostAddress[] = "192.0.2.2";
constexpr char kRole[] = "arn:aws:iam::111122223333:role/app";
constexpr char kExecRole[] = "arn:aws:iam::111122223333:role/exec-secret-role";

class TaskMetadataTest : public ::testing::Test {
 protected:
  TaskMetadataTest()
      : issuer_("test-seed"),
        service_(store_, runtime_, clock_, EndpointOptions{
                                               [](const std::string& ip) { return ip == kHostAddress; },
                                               [this](const std::string& role, const std::string& account, TimeMs now) {
                                                 return std::optional<RoleCredentials>(issuer_.issue(role, account, now));
                                               }}) {}

  // A task whose containers exist and run on the fake engine. Bridge unless `awsvpc`.
  Task& add_task(const std::string& id, bool awsvpc = false, bool fargate = false) {
    Task t;
    t.id = id;
    t.scope = Scope{"000000000000", "us-east-1"};
    t.cluster_name = "dev";
    t.cluster_arn = ecs_arn::cluster(t.scope, "dev");
    t.arn = ecs_arn::task(t.scope, "dev", id);
    t.family = "web";
    t.revision = 3;
    t.group = "service:front";
    t.launch_type = fargate ? "FARGATE" : "EC2";
    t.network_mode = awsvpc ? "awsvpc" : "bridge";
    t.availability_zone = "us-east-1a";
    t.cpu = "256";
    t.memory = "512";
    t.task_role_arn = kRole;
    t.execution_role_arn = kExecRole;
    t.credentials_id = "cred-" + id;
    t.last_status = TaskStatus::kRunning;
    t.created_at = clock_.now_ms();
    t.pull_started_at = 1'700'000'000'000;
    t.pull_stopped_at = 1'700'000'001'500;
    t.tags = json::array({{{"key", "team"}, {"value", "web"}}});
    if (awsvpc) {
      runtime::ContainerSpec pause;
      pause.network_mode = "vpc-net";
      runtime_.create(pause, [](runtime::CreateOutcome) {});
      const std::string pause_id = "c" + std::to_string(++ids_);
      runtime_.start(pause_id, [](runtime::StartOutcome) {});
      state::TaskEni eni;
      eni.network = "vpc-net";
      eni.status = "ATTACHED";
      eni.pause_id = pause_id;
      eni.pause_phase = ContainerPhase::kStarted;
      eni.ip = "172.30.0.7";
      eni.mac = "02:42:ac:1e:00:07";
      t.eni = eni;
    }
    for (std::string name : {"app", "side"}) {
      runtime::ContainerSpec spec;
      spec.network_mode = awsvpc ? "container:x" : "bridge";
      runtime_.create(spec, [](runtime::CreateOutcome) {});
      Container c;
      c.name = name;
      c.arn = ecs_arn::container(t.scope, "dev", id, name + "-uuid");
      c.image = "busybox:latest";
      c.image_digest = "sha256:" + std::string(64, 'a');
      c.runtime_id = "c" + std::to_string(++ids_);
      c.docker_name = "ecs-web-3-" + name + "-0a1b";
      c.metadata_token = id + "-" + name + "-token";
      c.phase = ContainerPhase::kStarted;
      c.last_status = ContainerStatus::kRunning;
      c.created_at = 1'700'000'002'000;
      c.started_at = 1'700'000'002'250;
      c.definition = {{"name", name},
                      {"image", "busybox:latest"},
                      {"cpu", 128},
                      {"memory", 64},
                      {"dockerLabels", {{"team", "web"}}},
                      {"portMappings", {{{"containerPort", 8080}, {"protocol", "tcp"}}}},
                      {"logConfiguration", {{"logDriver", "awslogs"}, {"options", {{"awslogs-group", "/ecs/web"}}}}}};
      if (!awsvpc) {
        c.network_bindings.push_back(state::NetworkBinding{"127.0.0.1", 8080, 32768, "tcp"});
      }
      runtime_.start(c.runtime_id, [](runtime::StartOutcome) {});
      c.ip_address = runtime_.ip_of(c.runtime_id);
      t.containers.push_back(c);
    }
    runtime_.run_pending();
    store_.index_task(t);
    return store_.region(t.scope).tasks.emplace(id, t).first->second;
  }

  EndpointReply call(const std::string& path, const std::string& peer, const std::string& method = "GET") {
    std::optional<EndpointReply> got;
    service_.handle(method, path, peer, [&](EndpointReply r) { got = std::move(r); });
    while (runtime_.run_pending() > 0) {
    }
    EXPECT_TRUE(got) << path;
    return got.value_or(EndpointReply{0, ""});
  }
  json ok(const std::string& path, const std::string& peer) {
    auto r = call(path, peer);
    EXPECT_EQ(r.status, 200) << path << " from " << peer << ": " << r.body;
    return json::parse(r.body);
  }

  ManualClock clock_;
  state::Store store_;
  testing::FakeContainerRuntime runtime_;
  LocalCredentialIssuer issuer_;
  TaskMetadataService service_;
  int ids_ = 0;
};

TEST_F(TaskMetadataTest, ContainerDocumentFieldByField) {
  Task& t = add_task("t1");
  t.containers[0].definition["healthCheck"] = {{"command", {"CMD", "true"}}};
  t.containers[0].health_status = "HEALTHY";
  const Container& c = t.containers[0];
  json j = ok("/v4/t1-app-token", c.ip_address);
  EXPECT_EQ(j["DockerId"], c.runtime_id);
  EXPECT_EQ(j["Name"], "app");
  EXPECT_EQ(j["DockerName"], "ecs-web-3-app-0a1b");
  EXPECT_EQ(j["Image"], "busybox:latest");
  EXPECT_EQ(j["ImageID"], "sha256:" + std::string(64, 'a'));
  EXPECT_EQ(j["Labels"], json({{"team", "web"},
                               {"com.amazonaws.ecs.cluster", t.cluster_arn},
                               {"com.amazonaws.ecs.container-name", "app"},
                               {"com.amazonaws.ecs.task-arn", t.arn},
                               {"com.amazonaws.ecs.task-definition-family", "web"},
                               {"com.amazonaws.ecs.task-definition-version", "3"}}));
  EXPECT_EQ(j["DesiredStatus"], "RUNNING");
  EXPECT_EQ(j["KnownStatus"], "RUNNING");
  EXPECT_EQ(j["Limits"], json({{"CPU", 128.0}, {"Memory", 64}}));
  EXPECT_EQ(j["CreatedAt"], "2023-11-14T22:13:22.000Z");
  EXPECT_EQ(j["StartedAt"], "2023-11-14T22:13:22.250Z");
  EXPECT_FALSE(j.contains("FinishedAt"));
  EXPECT_FALSE(j.contains("ExitCode"));
  EXPECT_EQ(j["Type"], "NORMAL");
  EXPECT_EQ(j["Ports"], json::parse(R"([{"ContainerPort":8080,"Protocol":"tcp","HostPort":32768,"HostIp":"127.0.0.1"}])"));
  ASSERT_EQ(j["Networks"].size(), 1u);
  EXPECT_EQ(j["Networks"][0]["NetworkMode"], "bridge");
  EXPECT_EQ(j["Networks"][0]["IPv4Addresses"], json::array({c.ip_address}));
  EXPECT_EQ(j["Health"], json({{"status", "HEALTHY"}}));
  EXPECT_EQ(j["LogDriver"], "awslogs");
  EXPECT_EQ(j["LogOptions"], json({{"awslogs-group", "/ecs/web"}}));
  EXPECT_EQ(j["ContainerARN"], c.arn);
  // The trailing slash form answers the same.
  EXPECT_EQ(ok("/v4/t1-app-token/", c.ip_address), j);
}

TEST_F(TaskMetadataTest, VersionThreeLeavesOutWhatFourAdded) {
  Task& t = add_task("t1");
  json j = ok("/v3/t1-app-token", t.containers[0].ip_address);
  EXPECT_EQ(j["DockerId"], t.containers[0].runtime_id);
  for (const char* key : {"LogDriver", "LogOptions", "ContainerARN"}) {
    EXPECT_FALSE(j.contains(key)) << key;
  }
  EXPECT_FALSE(j["Ports"][0].contains("HostIp"));
  json task = ok("/v3/t1-app-token/task", t.containers[0].ip_address);
  EXPECT_FALSE(task.contains("LaunchType"));
  EXPECT_FALSE(task.contains("ServiceName"));
}

TEST_F(TaskMetadataTest, TaskDocumentAndTags) {
  Task& t = add_task("t1");
  const std::string peer = t.containers[1].ip_address;
  json j = ok("/v4/t1-side-token/task", peer);
  EXPECT_EQ(j["Cluster"], "dev");  // EC2: the short name, as the agent is configured
  EXPECT_EQ(j["TaskARN"], t.arn);
  EXPECT_EQ(j["Family"], "web");
  EXPECT_EQ(j["Revision"], "3");
  EXPECT_EQ(j["DesiredStatus"], "RUNNING");
  EXPECT_EQ(j["KnownStatus"], "RUNNING");
  EXPECT_EQ(j["Limits"], json({{"CPU", 0.25}, {"Memory", 512}}));
  EXPECT_EQ(j["PullStartedAt"], format_rfc3339(1'700'000'000'000));
  EXPECT_EQ(j["PullStoppedAt"], format_rfc3339(1'700'000'001'500));
  EXPECT_EQ(j["AvailabilityZone"], "us-east-1a");
  EXPECT_EQ(j["LaunchType"], "EC2");
  EXPECT_EQ(j["ServiceName"], "front");
  ASSERT_EQ(j["Containers"].size(), 2u);
  EXPECT_EQ(j["Containers"][0]["Name"], "app");
  EXPECT_EQ(j["Containers"][1]["Name"], "side");
  EXPECT_FALSE(j.contains("TaskTags"));
  json tagged = ok("/v4/t1-side-token/taskWithTags", peer);
  EXPECT_EQ(tagged["TaskTags"], json({{"team", "web"}}));
  tagged.erase("TaskTags");
  EXPECT_EQ(tagged, j);
}

TEST_F(TaskMetadataTest, AwsvpcTaskShowsItsInterfaceAndPauseContainer) {
  Task& t = add_task("t2", /*awsvpc=*/true, /*fargate=*/true);
  json j = ok("/v4/t2-app-token/task", "172.30.0.7");
  EXPECT_EQ(j["Cluster"], t.cluster_arn);  // Fargate: the ARN
  EXPECT_EQ(j["LaunchType"], "FARGATE");
  ASSERT_EQ(j["Containers"].size(), 3u);
  EXPECT_EQ(j["Containers"][0]["Name"], "~internal~ecs~pause");
  EXPECT_EQ(j["Containers"][0]["Type"], "CNI_PAUSE");
  EXPECT_EQ(j["Containers"][0]["DockerId"], t.eni->pause_id);
  const json& app = j["Containers"][1];
  EXPECT_EQ(app["Networks"], json::parse(R"([{"NetworkMode":"awsvpc","IPv4Addresses":["172.30.0.7"],
      "AttachmentIndex":0,"MACAddress":"02:42:ac:1e:00:07","PrivateDNSName":"ip-172-30-0-7.ec2.internal"}])"));
  EXPECT_EQ(app["Ports"], json::parse(R"([{"ContainerPort":8080,"Protocol":"tcp","HostPort":8080}])"));
}

TEST_F(TaskMetadataTest, OnlyTheTasksOwnAddressesAndThisHostMayAsk) {
  Task& mine = add_task("t1");
  Task& other = add_task("t3");
  EXPECT_EQ(call("/v4/t1-app-token", mine.containers[0].ip_address).status, 200);
  EXPECT_EQ(call("/v4/t1-app-token", mine.containers[1].ip_address).status, 200);  // a sibling container
  EXPECT_EQ(call("/v4/t1-app-token/task", kHostAddress).status, 200);             // the host, host-mode tasks
  auto denied = call("/v4/t1-app-token", other.containers[0].ip_address);
  EXPECT_EQ(denied.status, 403);
  EXPECT_TRUE(json::parse(denied.body).is_string());
  EXPECT_EQ(call("/v4/t1-app-token", "10.9.9.9").status, 403);
  EXPECT_EQ(call("/v4/t1-app-token", "").status, 403);
  EXPECT_EQ(call("/v4/no-such-token", mine.containers[0].ip_address).status, 404);
  EXPECT_EQ(call("/v4/t1-app-token/nope", mine.containers[0].ip_address).status, 404);
  EXPECT_EQ(call("/v4/t1-app-token", mine.containers[0].ip_address, "POST").status, 405);
  EXPECT_EQ(call("/elsewhere", kHostAddress).status, 404);
}

TEST_F(TaskMetadataTest, AnAddressNotRecordedYetIsAskedOfTheEngine) {
  Task& t = add_task("t1");
  // The container called before berth saw its start complete.
  const std::string ip = t.containers[0].ip_address;
  t.containers[0].ip_address.clear();
  t.containers[0].phase = ContainerPhase::kStarting;
  t.containers[0].last_status = ContainerStatus::kPending;
  // Neither recorded nor local: only the engine's inspect can vouch for it, and the document shows it.
  json j = ok("/v4/t1-app-token", ip);
  EXPECT_EQ(j["Networks"][0]["IPv4Addresses"], json::array({ip}));
  EXPECT_EQ(t.containers[0].ip_address, ip);
  EXPECT_EQ(call("/v4/t1-app-token", "172.17.0.250").status, 403);
}

TEST_F(TaskMetadataTest, CredentialsForTheTaskRoleOnly) {
  Task& t = add_task("t1");
  Task& other = add_task("t3");
  const std::string peer = t.containers[0].ip_address;
  auto r = call("/v2/credentials/cred-t1", peer);
  ASSERT_EQ(r.status, 200) << r.body;
  json j = json::parse(r.body);
  auto expected = issuer_.issue(kRole, "111122223333", clock_.now_ms());
  EXPECT_EQ(j["RoleArn"], kRole);
  EXPECT_EQ(j["AccessKeyId"], expected.access_key_id);
  EXPECT_EQ(j["SecretAccessKey"], expected.secret_access_key);
  EXPECT_EQ(j["Token"], expected.token);
  EXPECT_EQ(j["Expiration"], "2023-11-15T04:13:20Z");  // six hours on, whole seconds
  EXPECT_EQ(j.size(), 5u);
  EXPECT_EQ(issuer_.account_of(j["AccessKeyId"].get<std::string>()), "111122223333");
  // The execution role is berth's, never the task's.
  EXPECT_EQ(r.body.find(kExecRole), std::string::npos);
  EXPECT_EQ(ok("/v4/t1-app-token/task", peer).dump().find(kExecRole), std::string::npos);

  // Another task's container may not read them, even knowing the id; nor may this one read the other's.
  auto denied = call("/v2/credentials/cred-t1", other.containers[0].ip_address);
  EXPECT_EQ(denied.status, 403);
  EXPECT_EQ(json::parse(denied.body)["code"], "AccessDenied");
  EXPECT_EQ(call("/v2/credentials/cred-t3", peer).status, 403);
  EXPECT_EQ(call("/v2/credentials/cred-t1", kHostAddress).status, 200);

  auto unknown = call("/v2/credentials/nope", peer);
  EXPECT_EQ(unknown.status, 400);
  EXPECT_EQ(json::parse(unknown.body), json({{"code", "InvalidIdInRequest"},
                                             {"message", "CredentialsV2Request: Credentials not found"}}));
  EXPECT_EQ(json::parse(call("/v2/credentials/", peer).body)["code"], "NoIdInRequest");
  EXPECT_EQ(call("/v2/credentials/cred-t1", peer, "PUT").status, 405);
}

TEST_F(TaskMetadataTest, CredentialsEndWithTheTaskMetadataStays) {
  Task& t = add_task("t1");
  const std::string peer = t.containers[0].ip_address;
  t.desired_status = TaskStatus::kStopped;
  t.last_status = TaskStatus::kStopping;
  EXPECT_EQ(call("/v2/credentials/cred-t1", peer).status, 200);  // still shutting down: may flush to AWS
  t.last_status = TaskStatus::kStopped;
  for (auto& c : t.containers) {
    c.last_status = ContainerStatus::kStopped;
    c.exit_code = 0;
  }
  auto gone = call("/v2/credentials/cred-t1", kHostAddress);
  EXPECT_EQ(gone.status, 400);
  EXPECT_EQ(json::parse(gone.body)["code"], "InvalidIdInRequest");
  // Metadata lasts as long as berth keeps the task, for the host; a stopped container's old address no longer
  // counts as the task's (the engine may have given it to another container).
  json j = ok("/v4/t1-app-token", kHostAddress);
  EXPECT_EQ(j["KnownStatus"], "STOPPED");
  EXPECT_EQ(j["DesiredStatus"], "STOPPED");
  EXPECT_EQ(j["ExitCode"], 0);
  EXPECT_EQ(call("/v4/t1-app-token", peer).status, 403);
}

TEST_F(TaskMetadataTest, StatsComeFromTheEngineWithNetworkRates) {
  Task& t = add_task("t1");
  const Container& app = t.containers[0];
  auto sample = [](int rx, int tx) {
    return json{{"read", "2026-01-01T00:00:00Z"},
                {"memory_stats", {{"usage", 1024}}},
                {"networks", {{"eth0", {{"rx_bytes", rx}, {"tx_bytes", tx}}}}}}
        .dump();
  };
  runtime_.set_stats(app.runtime_id, sample(1000, 500));
  json first = ok("/v4/t1-app-token/stats", app.ip_address);
  EXPECT_EQ(first["memory_stats"]["usage"], 1024);
  EXPECT_EQ(first["network_rate_stats"], json({{"rx_bytes_per_sec", 0.0}, {"tx_bytes_per_sec", 0.0}}));
  clock_.advance_ms(2000);
  runtime_.set_stats(app.runtime_id, sample(5000, 1500));
  json second = ok("/v4/t1-app-token/stats", app.ip_address);
  EXPECT_EQ(second["network_rate_stats"], json({{"rx_bytes_per_sec", 2000.0}, {"tx_bytes_per_sec", 500.0}}));

  json all = ok("/v4/t1-app-token/task/stats", app.ip_address);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_TRUE(all.contains(app.runtime_id));
  EXPECT_TRUE(all.contains(t.containers[1].runtime_id));
  EXPECT_EQ(all[t.containers[1].runtime_id]["memory_stats"]["usage"], 1048576);  // the fake's default sample

  runtime_.fail_next("stats", runtime::RuntimeError{runtime::ErrorKind::kOther, "engine hiccup"});
  auto failed = call("/v4/t1-app-token/stats", app.ip_address);
  EXPECT_EQ(failed.status, 500);
  EXPECT_NE(failed.body.find("engine hiccup"), std::string::npos);
}

TEST_F(TaskMetadataTest, AwsvpcStatsCarryTheTasksInterfaceCounters) {
  Task& t = add_task("t2", /*awsvpc=*/true);
  runtime_.set_stats(t.eni->pause_id, R"({"networks":{"eth0":{"rx_bytes":7,"tx_bytes":9}}})");
  json j = ok("/v4/t2-app-token/stats", "172.30.0.7");
  EXPECT_EQ(j["networks"]["eth0"]["rx_bytes"], 7);
  EXPECT_TRUE(j.contains("network_rate_stats"));
  json all = ok("/v4/t2-app-token/task/stats", "172.30.0.7");
  EXPECT_EQ(all.size(), 2u);  // the task's containers, keyed by Docker id
}

TEST_F(TaskMetadataTest, AgentApiSaysItIsNotSupported) {
  Task& t = add_task("t1");
  auto r = call("/api/t1-app-token/task-protection/v1/state", t.containers[0].ip_address, "PUT");
  EXPECT_EQ(r.status, 404);
  json j = json::parse(r.body);
  EXPECT_EQ(j["error"]["Code"], "UnsupportedOperation");
  EXPECT_EQ(j["error"]["Arn"], t.arn);
}

TEST(HostAddress, LoopbackIsThisHost) {
  EXPECT_TRUE(is_host_address("127.0.0.1"));
  EXPECT_FALSE(is_host_address("203.0.113.77"));
}

}  // namespace
}  // namespace berth::endpoints
