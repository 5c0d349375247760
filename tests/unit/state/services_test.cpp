#include <gtest/gtest.h>

#include <berth/state/services.hpp>
#include <berth/state/store.hpp>

namespace berth::state {
namespace {

ServiceSpec base_spec() {
  ServiceSpec s;
  s.task_definition_arn = "arn:aws:ecs:us-east-1:000000000000:task-definition/web:1";
  s.launch_type = "EC2";
  return s;
}

TEST(StartsNewDeploymentTest, NothingChangedAndNotForcedIsInPlace) {
  EXPECT_FALSE(starts_new_deployment(base_spec(), base_spec(), false));
}

TEST(StartsNewDeploymentTest, ForceAlwaysStartsOne) {
  EXPECT_TRUE(starts_new_deployment(base_spec(), base_spec(), true));
}

TEST(StartsNewDeploymentTest, EveryRevisionMemberStartsOne) {
  using Mutate = void (*)(ServiceSpec&);
  const std::pair<const char*, Mutate> cases[] = {
      {"taskDefinition", [](ServiceSpec& s) { s.task_definition_arn += "2"; }},
      {"launchType", [](ServiceSpec& s) { s.launch_type = "FARGATE"; }},
      {"capacityProviderStrategy",
       [](ServiceSpec& s) {
         s.capacity_provider_strategy = json::array({{{"capacityProvider", "FARGATE"}}});
       }},
      {"platformVersion", [](ServiceSpec& s) { s.platform_version = "1.4.0"; }},
      {"networkConfiguration",
       [](ServiceSpec& s) {
         s.network_configuration = {{"awsvpcConfiguration", {{"subnets", {"subnet-1"}}}}};
       }},
      {"loadBalancers",
       [](ServiceSpec& s) {
         s.load_balancers = json::array({{{"targetGroupArn", "tg"}}});
       }},
      {"serviceRegistries",
       [](ServiceSpec& s) {
         s.service_registries = json::array({{{"registryArn", "r"}}});
       }},
      {"serviceConnectConfiguration",
       [](ServiceSpec& s) {
         s.service_connect_configuration = {{"enabled", true}};
       }},
      {"volumeConfigurations",
       [](ServiceSpec& s) {
         s.volume_configurations = json::array({{{"name", "v"}}});
       }},
      {"vpcLatticeConfigurations",
       [](ServiceSpec& s) {
         s.vpc_lattice_configurations = json::array({{{"portName", "p"}}});
       }},
  };
  for (const auto& [name, mutate] : cases) {
    ServiceSpec after = base_spec();
    mutate(after);
    EXPECT_TRUE(starts_new_deployment(base_spec(), after, false)) << name;
  }
}

TEST(ComputedDesiredCountTest, RoundsUpAndDrainingIsZero) {
  Service s;
  s.desired_count = 3;
  TaskSet ts;
  ts.scale_value = 50;
  EXPECT_EQ(computed_desired_count(s, ts), 2);  // 1.5 -> 2
  ts.scale_value = 100.0 / 3.0;
  EXPECT_EQ(computed_desired_count(s, ts), 1);  // exactly one, not two
  ts.scale_value = 0;
  EXPECT_EQ(computed_desired_count(s, ts), 0);
  ts.scale_value = 100;
  ts.status = "DRAINING";
  EXPECT_EQ(computed_desired_count(s, ts), 0);
}

class SettleServicesTest : public ::testing::Test {
 protected:
  SettleServicesTest() {
    Service s;
    s.name = "web";
    s.arn = "arn:aws:ecs:us-east-1:000000000000:service/dev/web";
    s.cluster_name = "dev";
    s.cluster_arn = "arn:aws:ecs:us-east-1:000000000000:cluster/dev";
    s.desired_count = 1;
    Deployment d;
    d.id = "ecs-svc/1111111111111111111";
    d.desired_count = 1;
    d.service_deployment_arn = "sd-arn";
    s.deployments.push_back(d);
    region_.services.emplace(service_key("dev", "web"), s);
    ServiceDeployment sd;
    sd.arn = "sd-arn";
    sd.service_arn = s.arn;
    sd.deployment_id = d.id;
    region_.service_deployments.emplace(sd.arn, sd);
  }

  Service& svc() { return region_.services.at("dev/web"); }

  Task& add_task(const std::string& id, TaskStatus status, const std::string& started_by) {
    Task t;
    t.id = id;
    t.cluster_name = "dev";
    t.group = "service:web";
    t.started_by = started_by;
    t.last_status = status;
    return region_.tasks.emplace(id, t).first->second;
  }

  RegionState region_;
  Scope scope_{"000000000000", "us-east-1"};
};

TEST_F(SettleServicesTest, CountsOnlyTheServiceGroupInItsCluster) {
  add_task("a", TaskStatus::kRunning, "ecs-svc/1111111111111111111");
  add_task("b", TaskStatus::kPending, "other");
  add_task("c", TaskStatus::kStopped, "ecs-svc/1111111111111111111");
  add_task("d", TaskStatus::kDeactivating, "other");
  Task& elsewhere = add_task("e", TaskStatus::kRunning, "");
  elsewhere.cluster_name = "prod";
  Task& standalone = add_task("f", TaskStatus::kRunning, "");
  standalone.group = "family:web";
  const TaskCounts all = service_task_counts(region_, "dev", "web");
  EXPECT_EQ(all.running, 1);
  EXPECT_EQ(all.pending, 1);
  EXPECT_EQ(all.deactivating, 1);
  EXPECT_EQ(all.live(), 3);
  EXPECT_EQ(service_task_counts(region_, "dev", "web", "ecs-svc/1111111111111111111").live(), 1);
}

TEST_F(SettleServicesTest, SettleStartsServiceDeploymentsButNeverCompletesOne) {
  // Whether a deployment completed takes task health, which the service scheduler judges; settling only keeps
  // records.
  Task& t = add_task("a", TaskStatus::kRunning, "ecs-svc/1111111111111111111");
  t.started_at = 500;
  settle_services(region_, 1000);
  EXPECT_EQ(svc().deployments.front().rollout_state, "IN_PROGRESS");
  EXPECT_EQ(region_.service_deployments.at("sd-arn").status, "IN_PROGRESS");
  EXPECT_EQ(region_.service_deployments.at("sd-arn").started_at, 1000);
  EXPECT_TRUE(svc().events.empty());
}

TEST_F(SettleServicesTest, CompleteDeploymentOnceWithItsEventsAndRecords) {
  settle_services(region_, 1000);
  complete_deployment(region_, scope_, svc(), 3000);
  const Deployment& d = svc().deployments.front();
  EXPECT_EQ(d.rollout_state, "COMPLETED");
  EXPECT_EQ(d.rollout_state_reason, "ECS deployment ecs-svc/1111111111111111111 completed.");
  EXPECT_EQ(d.updated_at, 3000);
  ASSERT_EQ(svc().events.size(), 1u);
  EXPECT_EQ(svc().events[0].message,
            "(service web) (deployment ecs-svc/1111111111111111111) deployment completed.");
  EXPECT_EQ(svc().last_completed_deployment_id, "ecs-svc/1111111111111111111");
  const ServiceDeployment& sd = region_.service_deployments.at("sd-arn");
  EXPECT_EQ(sd.status, "SUCCESSFUL");
  EXPECT_EQ(sd.finished_at, 3000);
  ASSERT_EQ(region_.ecs_events.size(), 1u);
  const json& e = region_.ecs_events.back();
  EXPECT_EQ(e["detail-type"], "ECS Deployment State Change");
  EXPECT_EQ(e["source"], "aws.ecs");
  EXPECT_EQ(e["resources"], json::array({svc().arn}));
  EXPECT_EQ(e["detail"]["eventName"], "SERVICE_DEPLOYMENT_COMPLETED");
  EXPECT_EQ(e["detail"]["deploymentId"], "ecs-svc/1111111111111111111");
  EXPECT_EQ(e["detail"]["reason"], "ECS deployment ecs-svc/1111111111111111111 completed.");
  complete_deployment(region_, scope_, svc(), 4000);  // once only
  EXPECT_EQ(svc().events.size(), 1u);
  EXPECT_EQ(svc().deployments.front().updated_at, 3000);
  EXPECT_EQ(region_.ecs_events.size(), 1u);
}

TEST_F(SettleServicesTest, FailedDeploymentWithoutRollbackStopsItsServiceDeployment) {
  fail_deployment(region_, scope_, svc(), /*rollback=*/true, 2000);  // nothing COMPLETED to go back to
  const Deployment& d = svc().deployments.front();
  EXPECT_EQ(d.rollout_state, "FAILED");
  EXPECT_EQ(d.rollout_state_reason, "ECS deployment circuit breaker: task failed to start.");
  EXPECT_EQ(
      svc().events[0].message,
      "(service web) (deployment ecs-svc/1111111111111111111) deployment failed: tasks failed to start.");
  const ServiceDeployment& sd = region_.service_deployments.at("sd-arn");
  EXPECT_EQ(sd.status, "STOPPED");
  EXPECT_TRUE(sd.circuit_breaker_triggered);
  EXPECT_EQ(region_.ecs_events.back()["detail"]["eventName"], "SERVICE_DEPLOYMENT_FAILED");
  EXPECT_EQ(region_.ecs_events.back()["detail"]["eventType"], "ERROR");
}

TEST_F(SettleServicesTest, RollbackRevivesTheCompletedDeploymentEvenAfterItLeftTheList) {
  ServiceRevision rev;
  rev.arn = "arn:aws:ecs:us-east-1:000000000000:service-revision/dev/web/2222222222222222222";
  rev.spec.task_definition_arn = "arn:aws:ecs:us-east-1:000000000000:task-definition/web:1";
  region_.service_revisions.emplace(rev.arn, rev);
  svc().last_completed_deployment_id = "ecs-svc/2222222222222222222";
  svc().last_completed_revision_arn = rev.arn;
  svc().deployment_configuration = {{"deploymentCircuitBreaker", {{"enable", true}, {"rollback", true}}}};
  fail_deployment(region_, scope_, svc(), /*rollback=*/true, 2000);
  ASSERT_EQ(svc().deployments.size(), 2u);
  const Deployment& back = svc().deployments[0];
  EXPECT_EQ(back.id, "ecs-svc/2222222222222222222");
  EXPECT_EQ(back.status, "PRIMARY");
  EXPECT_EQ(back.rollout_state, "IN_PROGRESS");
  EXPECT_EQ(back.rollout_state_reason,
            "ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/2222222222222222222.");
  EXPECT_EQ(back.spec.task_definition_arn, rev.spec.task_definition_arn);
  EXPECT_EQ(back.service_deployment_arn, "sd-arn");  // it carries the failed service deployment
  EXPECT_EQ(svc().deployments[1].status, "ACTIVE");
  EXPECT_EQ(svc().deployments[1].rollout_state, "FAILED");
  EXPECT_EQ(svc().spec.task_definition_arn, rev.spec.task_definition_arn);
  EXPECT_EQ(svc().events[0].message, "(service web) rolling back to deployment ecs-svc/2222222222222222222.");
  const ServiceDeployment& sd = region_.service_deployments.at("sd-arn");
  EXPECT_EQ(sd.status, "ROLLBACK_IN_PROGRESS");
  EXPECT_EQ(sd.rollback["serviceRevisionArn"], rev.arn);
  EXPECT_EQ(sd.rollback["reason"], "ECS deployment circuit breaker: task failed to start.");
  EXPECT_EQ(region_.ecs_events.back()["detail"]["reason"],
            "ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/2222222222222222222.");
  // The rollback completes like any deployment, and the service deployment says it rolled back.
  complete_deployment(region_, scope_, svc(), 3000);
  EXPECT_EQ(sd.status, "ROLLBACK_SUCCESSFUL");
  // A deployment that is itself a rollback is not rolled back again while it is in progress.
  svc().deployments[0].rollout_state = "IN_PROGRESS";
  fail_deployment(region_, scope_, svc(), true, 4000);
  EXPECT_EQ(svc().deployments[0].id, "ecs-svc/2222222222222222222");
  EXPECT_EQ(svc().deployments[0].rollout_state, "FAILED");
}

TEST(CircuitBreakerThresholdTest, HalfTheDesiredCountClampedToThreeAndTwoHundred) {
  EXPECT_EQ(circuit_breaker_threshold(0), 3);
  EXPECT_EQ(circuit_breaker_threshold(1), 3);
  EXPECT_EQ(circuit_breaker_threshold(6), 3);
  EXPECT_EQ(circuit_breaker_threshold(7), 4);  // ceil(3.5)
  EXPECT_EQ(circuit_breaker_threshold(20), 10);
  EXPECT_EQ(circuit_breaker_threshold(399), 200);
  EXPECT_EQ(circuit_breaker_threshold(1000), 200);
}

TEST_F(SettleServicesTest, DeploymentInProgressWhileTwoDeploymentsOrThePrimaryRollsOut) {
  EXPECT_TRUE(deployment_in_progress(svc()));  // IN_PROGRESS
  svc().deployments.front().rollout_state = "COMPLETED";
  EXPECT_FALSE(deployment_in_progress(svc()));
  Deployment old = svc().deployments.front();
  old.status = "ACTIVE";
  svc().deployments.push_back(old);
  EXPECT_TRUE(deployment_in_progress(svc()));
}

TEST_F(SettleServicesTest, EcsEventsAreBounded) {
  for (std::size_t i = 0; i < kMaxEcsEvents + 5; ++i) {
    record_service_action(region_, scope_, svc(), "INFO", "SERVICE_STEADY_STATE", static_cast<TimeMs>(i));
  }
  EXPECT_EQ(region_.ecs_events.size(), kMaxEcsEvents);
  EXPECT_EQ(region_.ecs_events.front()["detail"]["eventName"], "SERVICE_STEADY_STATE");
  EXPECT_EQ(region_.ecs_events.back()["detail"]["clusterArn"], svc().cluster_arn);
  EXPECT_EQ(region_.ecs_events.back()["time"], "1970-01-01T00:00:01Z");
}

TEST_F(SettleServicesTest, OldDeploymentLeavesWhenItsTasksAreGone) {
  Deployment old = svc().deployments.front();
  old.status = "ACTIVE";
  old.id = "ecs-svc/2222222222222222222";
  svc().deployments.push_back(old);
  Task& t = add_task("a", TaskStatus::kRunning, "ecs-svc/2222222222222222222");
  settle_services(region_, 1000);
  EXPECT_EQ(svc().deployments.size(), 2u);
  t.last_status = TaskStatus::kStopping;
  settle_services(region_, 2000);
  ASSERT_EQ(svc().deployments.size(), 1u);
  EXPECT_EQ(svc().deployments.front().status, "PRIMARY");
}

TEST_F(SettleServicesTest, DrainingBecomesInactiveWhenNoTaskIsLeft) {
  svc().status = "DRAINING";
  Task& t = add_task("a", TaskStatus::kDeactivating, "");
  settle_services(region_, 1000);
  EXPECT_EQ(svc().status, "DRAINING");
  t.last_status = TaskStatus::kStopping;
  settle_services(region_, 2000);
  EXPECT_EQ(svc().status, "INACTIVE");
}

TEST_F(SettleServicesTest, TaskSetsReportStabilityAndDrainingOnesGo) {
  svc().deployment_controller = "EXTERNAL";
  svc().deployments.clear();
  svc().desired_count = 2;
  TaskSet a;
  a.id = "ecs-svc/3";
  a.scale_value = 50;  // computed desired count 1
  TaskSet b;
  b.id = "ecs-svc/4";
  b.status = "DRAINING";
  svc().task_sets = {a, b};
  add_task("t1", TaskStatus::kRunning, "ecs-svc/3");
  settle_services(region_, 5000);
  ASSERT_EQ(svc().task_sets.size(), 1u);
  EXPECT_EQ(svc().task_sets[0].stability_status, "STEADY_STATE");
  EXPECT_EQ(svc().task_sets[0].stability_status_at, 5000);
  svc().task_sets[0].scale_value = 100;
  settle_services(region_, 6000);
  EXPECT_EQ(svc().task_sets[0].stability_status, "STABILIZING");
}

}  // namespace
}  // namespace berth::state
