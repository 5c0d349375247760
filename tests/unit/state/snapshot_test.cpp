#include <gtest/gtest.h>

#include <berth/state/snapshot.hpp>

namespace berth::state {
namespace {

Store sample() {
  Store s;
  Scope scope{"123456789012", "eu-west-1"};
  auto& r = s.region(scope);
  Cluster c;
  c.name = "dev";
  c.arn = ecs_arn::cluster(scope, "dev");
  c.tags = json::array({{{"key", "a"}, {"value", "b"}}});
  r.clusters.emplace("dev", c);
  for (int rev = 1; rev <= 2; ++rev) {
    TaskDefinition td;
    td.family = "web";
    td.revision = rev;
    td.arn = ecs_arn::task_definition(scope, "web", rev);
    td.doc = {{"family", "web"}, {"revision", rev}};
    r.task_definitions["web"].push_back(td);
  }
  Task t;
  t.id = "abc";
  t.scope = scope;
  t.arn = ecs_arn::task(scope, "dev", "abc");
  t.cluster_name = "dev";
  t.family = "web";
  t.revision = 2;
  t.group = "family:web";
  t.last_status = TaskStatus::kRunning;
  t.started_at = 42;
  t.task_role_arn = "arn:aws:iam::123456789012:role/app";
  t.execution_role_arn = "arn:aws:iam::123456789012:role/exec";
  t.credentials_id = "6d1f0f1e-2b7a-4c39-9e9a-0c1d2e3f4a5b";
  Container running;
  running.name = "app";
  running.runtime_id = "deadbeef";
  running.phase = ContainerPhase::kStarted;
  running.last_status = ContainerStatus::kRunning;
  running.network_bindings.push_back(NetworkBinding{"127.0.0.1", 80, 32768, "tcp"});
  running.ip_address = "172.17.0.9";
  running.metadata_token = "00112233445566778899aabbccddeeff";
  running.docker_name = "ecs-web-2-app-1a2b";
  running.created_at = 40;
  running.started_at = 41;
  running.finished_at = 43;
  Container pulling;
  pulling.name = "side";
  pulling.phase = ContainerPhase::kPulling;
  pulling.op_in_flight = true;
  t.containers = {running, pulling};
  s.index_task(t);
  r.tasks.emplace("abc", t);
  return s;
}

TEST(SnapshotTest, RoundTripsTheStore) {
  Store s = sample();
  json snap = snapshot(s);
  Store back;
  ASSERT_TRUE(restore(back, snap));
  EXPECT_EQ(snapshot(back)["regions"][0]["clusters"], snap["regions"][0]["clusters"]);
  Task* t = back.find_task("abc");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->last_status, TaskStatus::kRunning);
  EXPECT_EQ(t->started_at, 42);
  EXPECT_EQ(t->containers[0].runtime_id, "deadbeef");
  EXPECT_EQ(t->containers[0].network_bindings[0].host_port, 32768);
  EXPECT_EQ(t->task_role_arn, "arn:aws:iam::123456789012:role/app");
  EXPECT_EQ(t->execution_role_arn, "arn:aws:iam::123456789012:role/exec");
  EXPECT_EQ(t->credentials_id, "6d1f0f1e-2b7a-4c39-9e9a-0c1d2e3f4a5b");
  const auto& c = t->containers[0];
  EXPECT_EQ(c.ip_address, "172.17.0.9");
  EXPECT_EQ(c.metadata_token, "00112233445566778899aabbccddeeff");
  EXPECT_EQ(c.docker_name, "ecs-web-2-app-1a2b");
  EXPECT_EQ(c.created_at, 40);
  EXPECT_EQ(c.started_at, 41);
  EXPECT_EQ(c.finished_at, 43);
  EXPECT_EQ(back.region(Scope{"123456789012", "eu-west-1"}).task_definitions["web"].size(), 2u);
}

TEST(SnapshotTest, WorkUnderWayIsRolledBackToARepeatableStep) {
  Store s = sample();
  Store back;
  ASSERT_TRUE(restore(back, snapshot(s)));
  const auto& side = back.find_task("abc")->containers[1];
  EXPECT_EQ(side.phase, ContainerPhase::kNew);
  EXPECT_FALSE(side.op_in_flight);
}

TEST(SnapshotTest, BadSnapshotLeavesStoreUntouched) {
  Store s = sample();
  for (json bad : {json::object(), json{{"format", 99}}, json{{"format", 1}, {"regions", {{{"account", "1"}}}}},
                   json{{"format", 1}, {"regions", "nope"}}}) {
    auto r = restore(s, bad);
    EXPECT_FALSE(r) << bad.dump();
    EXPECT_NE(s.find_task("abc"), nullptr);
  }
}

}  // namespace
}  // namespace berth::state
