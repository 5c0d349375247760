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
  CapacityProvider cp;
  cp.name = "cp1";
  cp.arn = ecs_arn::capacity_provider(scope, "cp1");
  cp.type = "EC2_AUTOSCALING";
  cp.update_status = "UPDATE_COMPLETE";
  cp.auto_scaling_group_provider = {{"autoScalingGroupArn", "g1"}, {"managedDraining", "ENABLED"}};
  cp.tags = json::array({{{"key", "k"}, {"value", "v"}}});
  r.capacity_providers.emplace("cp1", cp);
  r.account_settings.by_principal[iam_arn::root(scope.account)]["containerInsights"] = "enhanced";
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

TEST(SnapshotTest, KeepsCapacityProvidersAndAccountSettings) {
  Store s = sample();
  Store back;
  ASSERT_TRUE(restore(back, snapshot(s)));
  auto& r = back.region(Scope{"123456789012", "eu-west-1"});
  ASSERT_EQ(r.capacity_providers.count("cp1"), 1u);
  const auto& cp = r.capacity_providers.at("cp1");
  EXPECT_EQ(cp.arn, "arn:aws:ecs:eu-west-1:123456789012:capacity-provider/cp1");
  EXPECT_EQ(cp.type, "EC2_AUTOSCALING");
  EXPECT_EQ(cp.update_status, "UPDATE_COMPLETE");
  EXPECT_EQ(cp.auto_scaling_group_provider["managedDraining"], "ENABLED");
  EXPECT_TRUE(cp.managed_instances_provider.is_null());
  EXPECT_EQ(cp.tags[0]["key"], "k");
  EXPECT_EQ(r.account_settings.by_principal["arn:aws:iam::123456789012:root"]["containerInsights"], "enhanced");
  // A snapshot written before these existed still restores.
  json old = snapshot(s);
  old["regions"][0].erase("capacityProviders");
  old["regions"][0].erase("accountSettings");
  Store older;
  ASSERT_TRUE(restore(older, old));
  EXPECT_TRUE(older.region(Scope{"123456789012", "eu-west-1"}).capacity_providers.empty());
}

TEST(SnapshotTest, WorkUnderWayIsRolledBackToARepeatableStep) {
  Store s = sample();
  Store back;
  ASSERT_TRUE(restore(back, snapshot(s)));
  const auto& side = back.find_task("abc")->containers[1];
  EXPECT_EQ(side.phase, ContainerPhase::kNew);
  EXPECT_FALSE(side.op_in_flight);
}

TEST(SnapshotTest, KeepsInstancesAttributesProtectionDaemonsAndExpressServices) {
  Store s = sample();
  Scope scope{"123456789012", "eu-west-1"};
  auto& r = s.region(scope);
  ContainerInstance ci;
  ci.id = "0123456789abcdef0123456789abcdef";
  ci.arn = ecs_arn::container_instance(scope, "dev", ci.id);
  ci.cluster_name = "dev";
  ci.ec2_instance_id = "i-1";
  ci.instance_type = "t3.large";
  ci.status = "DRAINING";
  ci.version_info = {{"agentVersion", "1.80.0"}};
  ci.registered_resources = json::array({{{"name", "CPU"}, {"type", "INTEGER"}, {"integerValue", 2048}}});
  ci.attributes = {{"ecs.os-type", std::string("linux")}, {"flag", std::nullopt}};
  ci.tags = json::array({{{"key", "k"}, {"value", "v"}}});
  ci.task_ids = {"abc"};
  ci.registered_at = 77;
  ci.version = 4;
  r.container_instances.emplace(ci.id, ci);
  r.task_protection["abc"] = TaskProtection{true, 1234};
  DaemonTaskDefinition td;
  td.family = "agent";
  td.revision = 1;
  td.arn = ecs_arn::daemon_task_definition(scope, "agent", 1);
  td.status = "DELETE_IN_PROGRESS";
  td.doc = {{"family", "agent"}};
  td.delete_requested_at = 99;
  r.daemon_task_definitions["agent"].push_back(td);
  Daemon d;
  d.name = "mon";
  d.arn = ecs_arn::daemon(scope, "dev", "mon");
  d.cluster_name = "dev";
  d.cluster_arn = ecs_arn::cluster(scope, "dev");
  d.daemon_task_definition_arn = td.arn;
  d.capacity_provider_arns = json::array({"arn:aws:ecs:eu-west-1:123456789012:capacity-provider/cp"});
  d.revisions.push_back(DaemonRevision{"1234567890123456789", "rev-arn", td.arn, json::array(), json::array(), "DAEMON",
                                       true, false, 5});
  DaemonDeployment dep;
  dep.id = "aB1cD2eF3gH4iJ5k";
  dep.arn = "dep-arn";
  dep.status = "SUCCESSFUL";
  dep.target_revision_arn = "rev-arn";
  dep.finished_at = 6;
  d.deployments.push_back(dep);
  r.daemons.emplace("dev/mon", d);
  ExpressGatewayService e;
  e.name = "web";
  e.arn = ecs_arn::service(scope, "dev", "web");
  e.cluster_name = "dev";
  e.cluster_arn = d.cluster_arn;
  e.status = "INACTIVE";
  e.configurations = json::array({{{"cpu", "256"}}});
  r.express_gateway_services.emplace("dev/web", e);

  const json snap = snapshot(s);
  Store back;
  ASSERT_TRUE(restore(back, snap));
  const json again = snapshot(back);
  for (const char* key : {"containerInstances", "taskProtection", "daemonTaskDefinitions", "daemons", "expressGatewayServices"}) {
    EXPECT_EQ(again["regions"][0][key], snap["regions"][0][key]) << key;
  }
  auto& rb = back.region(scope);
  const auto& ci_back = rb.container_instances.at(ci.id);
  EXPECT_EQ(ci_back.status, "DRAINING");
  EXPECT_EQ(ci_back.attributes, ci.attributes);
  EXPECT_EQ(ci_back.task_ids, ci.task_ids);
  EXPECT_EQ(ci_back.version, 4);
  EXPECT_EQ(rb.task_protection.at("abc").expires_at, 1234);
  EXPECT_EQ(rb.daemon_task_definitions.at("agent")[0].delete_requested_at, 99);
  EXPECT_EQ(rb.daemons.at("dev/mon").revisions[0].propagate_tags, "DAEMON");
  EXPECT_EQ(rb.daemons.at("dev/mon").deployments[0].finished_at, 6);
  EXPECT_EQ(rb.express_gateway_services.at("dev/web").status, "INACTIVE");

  // A snapshot written before these existed still restores.
  json old = snap;
  for (const char* key : {"containerInstances", "taskProtection", "daemonTaskDefinitions", "daemons", "expressGatewayServices"}) {
    old["regions"][0].erase(key);
  }
  Store older;
  ASSERT_TRUE(restore(older, old));
  EXPECT_TRUE(older.region(scope).container_instances.empty());
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

ServiceSpec service_spec() {
  ServiceSpec s;
  s.task_definition_arn = "arn:aws:ecs:eu-west-1:123456789012:task-definition/web:1";
  s.launch_type = "EC2";
  return s;
}

TEST(ServiceSnapshotTest, ServicesDeploymentsAndRevisionsSurviveARestart) {
  Store store;
  Scope scope{"123456789012", "eu-west-1"};
  auto& r = store.region(scope);
  Service s;
  s.name = "web";
  s.arn = "arn:aws:ecs:eu-west-1:123456789012:service/dev/web";
  s.cluster_name = "dev";
  s.cluster_arn = "arn:aws:ecs:eu-west-1:123456789012:cluster/dev";
  s.desired_count = 3;
  s.spec = service_spec();
  s.spec.network_configuration = {{"awsvpcConfiguration", {{"subnets", {"s-1"}}, {"assignPublicIp", "DISABLED"}}}};
  s.deployment_configuration = {{"maximumPercent", 200}};
  s.tags = json::array({{{"key", "k"}, {"value", "v"}}});
  s.created_at = 42;
  Deployment d;
  d.id = "ecs-svc/1";
  d.spec = s.spec;
  d.desired_count = 3;
  d.created_at = 42;
  d.updated_at = 43;
  s.deployments.push_back(d);
  TaskSet ts;
  ts.id = "ecs-svc/2";
  ts.arn = "arn:task-set";
  ts.scale_value = 12.5;
  ts.created_at = 1;
  ts.updated_at = 2;
  s.task_sets.push_back(ts);
  post_service_event(s, "(service web) has reached a steady state.", 44);
  r.services.emplace(service_key("dev", "web"), s);
  ServiceDeployment sd;
  sd.arn = "arn:sd";
  sd.service_arn = s.arn;
  sd.cluster_arn = s.cluster_arn;
  sd.status = "SUCCESSFUL";
  sd.source_revision_arns = {"arn:rev0"};
  sd.target_revision_arn = "arn:rev1";
  sd.created_at = 10;
  sd.finished_at = 20;
  r.service_deployments.emplace(sd.arn, sd);
  ServiceRevision rev;
  rev.arn = "arn:rev1";
  rev.service_arn = s.arn;
  rev.cluster_arn = s.cluster_arn;
  rev.spec = s.spec;
  rev.created_at = 10;
  r.service_revisions.emplace(rev.arn, rev);

  const json snap = snapshot(store);
  Store back;
  ASSERT_TRUE(restore(back, snap));
  EXPECT_EQ(snapshot(back), snap);
  const auto& br = back.region(scope);
  const Service& bs = br.services.at("dev/web");
  EXPECT_EQ(bs.spec, s.spec);
  EXPECT_EQ(bs.deployments.at(0).updated_at, 43);
  EXPECT_EQ(bs.task_sets.at(0).scale_value, 12.5);
  EXPECT_EQ(bs.events.at(0).message, "(service web) has reached a steady state.");
  EXPECT_EQ(br.service_deployments.at("arn:sd").finished_at, 20);
  EXPECT_FALSE(br.service_deployments.at("arn:sd").stopped_at.has_value());
  EXPECT_EQ(br.service_revisions.at("arn:rev1").spec, s.spec);
}

TEST(ServiceSnapshotTest, SnapshotsWithoutServicesStillRestore) {
  json old = {{"format", 1},
              {"regions",
               {{{"account", "1"}, {"region", "r"}, {"clusters", json::array()}, {"taskDefinitions", json::array()},
                 {"tasks", json::array()}}}}};
  Store back;
  ASSERT_TRUE(restore(back, old));
  EXPECT_TRUE(back.region(Scope{"1", "r"}).services.empty());
}

}  // namespace
}  // namespace berth::state
