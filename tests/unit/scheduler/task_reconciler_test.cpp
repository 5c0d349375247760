#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <berth/common/arn.hpp>
#include <berth/scheduler/task_reconciler.hpp>
#include <berth/state/transitions.hpp>

#include "fakes/fake_runtime.hpp"

namespace berth::scheduler {
namespace {

using state::ContainerStatus;
using state::TaskStatus;
using ::testing::ElementsAre;

class TaskReconcilerTest : public ::testing::Test {
 protected:
  TaskReconcilerTest() : reconciler_(store_, runtime_, clock_, ReconcilerOptions{"inst1", "127.0.0.1"}) {}

  // Adds a task with the given containers (name, essential) and returns its id.
  std::string add_task(std::vector<std::pair<std::string, bool>> containers, int stop_timeout = 30) {
    state::Task t;
    t.id = "task" + std::to_string(++n_);
    t.scope = Scope{"000000000000", "us-east-1"};
    t.cluster_name = "default";
    t.cluster_arn = ecs_arn::cluster(t.scope, "default");
    t.arn = ecs_arn::task(t.scope, "default", t.id);
    t.family = "web";
    t.revision = 1;
    t.created_at = clock_.now_ms();
    for (auto& [name, essential] : containers) {
      state::Container c;
      c.name = name;
      c.image = "busybox";
      c.essential = essential;
      c.stop_timeout_s = stop_timeout;
      c.definition = {{"name", name}, {"image", "busybox"}, {"portMappings", {{{"containerPort", 80}}}}};
      t.containers.push_back(c);
    }
    store_.index_task(t);
    store_.region(t.scope).tasks.emplace(t.id, t);
    return t.id;
  }

  state::Task& task(const std::string& id) { return *store_.find_task(id); }

  // Runs the fake engine until nothing is left to complete.
  void settle() {
    while (runtime_.run_pending() > 0) {
    }
  }

  ManualClock clock_;
  state::Store store_;
  testing::FakeContainerRuntime runtime_;
  TaskReconciler reconciler_;
  int n_ = 0;
};

TEST_F(TaskReconcilerTest, RunsTaskThroughPullCreateStartToRunning) {
  reconciler_.start();
  auto id = add_task({{"app", true}});
  reconciler_.reconcile(id);
  EXPECT_EQ(task(id).last_status, TaskStatus::kPending);
  ASSERT_TRUE(task(id).pull_started_at.has_value());
  settle();
  EXPECT_EQ(task(id).last_status, TaskStatus::kRunning);
  EXPECT_EQ(task(id).containers[0].last_status, ContainerStatus::kRunning);
  EXPECT_TRUE(task(id).started_at.has_value());
  EXPECT_TRUE(task(id).pull_stopped_at.has_value());
  EXPECT_THAT(runtime_.actions(), ElementsAre("ensure_image busybox", "create app -> c1", "start c1"));
  // Dynamic host port resolved by the engine is reported.
  ASSERT_EQ(task(id).containers[0].network_bindings.size(), 1u);
  EXPECT_EQ(task(id).containers[0].network_bindings[0].host_port, 32768);
}

TEST_F(TaskReconcilerTest, ReconcileIsIdempotent) {
  auto id = add_task({{"app", true}});
  reconciler_.reconcile(id);
  reconciler_.reconcile(id);
  reconciler_.tick();
  EXPECT_THAT(runtime_.actions(), ElementsAre("ensure_image busybox"));
  settle();
  reconciler_.reconcile(id);
  reconciler_.tick();
  EXPECT_EQ(runtime_.actions().size(), 3u);
}

TEST_F(TaskReconcilerTest, ContainerSpecCarriesEcsLabels) {
  auto id = add_task({{"app", true}});
  reconciler_.reconcile(id);
  settle();
  ASSERT_EQ(runtime_.created_specs().size(), 1u);
  const auto& spec = runtime_.created_specs()[0];
  EXPECT_EQ(spec.labels.at("com.amazonaws.ecs.cluster"), task(id).cluster_arn);
  EXPECT_EQ(spec.labels.at("com.amazonaws.ecs.task-arn"), task(id).arn);
  EXPECT_EQ(spec.labels.at("com.amazonaws.ecs.container-name"), "app");
  EXPECT_EQ(spec.labels.at("com.amazonaws.ecs.task-definition-family"), "web");
  EXPECT_EQ(spec.labels.at("com.amazonaws.ecs.task-definition-version"), "1");
  EXPECT_EQ(spec.labels.at("dev.berth.instance"), "inst1");
  EXPECT_TRUE(spec.name.starts_with("ecs-web-1-app-"));
  ASSERT_EQ(spec.ports.size(), 1u);
  EXPECT_EQ(spec.ports[0].host_ip, "127.0.0.1");
}

TEST_F(TaskReconcilerTest, EssentialExitStopsTaskAndOtherContainers) {
  reconciler_.start();
  auto id = add_task({{"app", true}, {"sidecar", false}});
  reconciler_.reconcile(id);
  settle();
  ASSERT_EQ(task(id).last_status, TaskStatus::kRunning);
  runtime_.clear_actions();
  clock_.advance_ms(5000);
  runtime_.exit("c1", 3);
  settle();
  EXPECT_EQ(task(id).desired_status, TaskStatus::kStopped);
  EXPECT_EQ(task(id).stop_code, "EssentialContainerExited");
  EXPECT_EQ(task(id).stopped_reason, "Essential container in task exited");
  EXPECT_EQ(task(id).containers[0].exit_code, 3);
  EXPECT_EQ(task(id).last_status, TaskStatus::kStopping);
  EXPECT_THAT(runtime_.actions(), ElementsAre("kill c2 SIGTERM"));
  runtime_.exit("c2", 143);
  settle();
  EXPECT_EQ(task(id).last_status, TaskStatus::kStopped);
  EXPECT_EQ(task(id).containers[1].exit_code, 143);
  EXPECT_TRUE(task(id).stopped_at.has_value());
  EXPECT_TRUE(task(id).execution_stopped_at.has_value());
}

TEST_F(TaskReconcilerTest, NonEssentialExitKeepsTaskRunning) {
  reconciler_.start();
  auto id = add_task({{"app", true}, {"init", false}});
  reconciler_.reconcile(id);
  settle();
  runtime_.exit("c2", 0);
  settle();
  EXPECT_EQ(task(id).desired_status, TaskStatus::kRunning);
  EXPECT_EQ(task(id).last_status, TaskStatus::kRunning);
  EXPECT_EQ(task(id).containers[1].last_status, ContainerStatus::kStopped);
  EXPECT_EQ(task(id).containers[1].exit_code, 0);
}

TEST_F(TaskReconcilerTest, NonEssentialExitingBeforeTheTaskRunsDoesNotHoldItInActivating) {
  reconciler_.start();
  settle();
  auto id = add_task({{"app", true}, {"init", false}});
  reconciler_.reconcile(id);
  runtime_.run_pending();  // pull
  runtime_.run_pending();  // create both
  ASSERT_EQ(runtime_.actions().back(), "start c2");
  // The quick non-essential container is done before the start replies arrive.
  runtime_.exit("c2", 0, /*overtake=*/true);
  settle();
  EXPECT_EQ(task(id).containers[0].last_status, ContainerStatus::kRunning);
  EXPECT_EQ(task(id).containers[1].last_status, ContainerStatus::kStopped);
  EXPECT_EQ(task(id).last_status, TaskStatus::kRunning);
  EXPECT_TRUE(task(id).started_at.has_value());
}

TEST_F(TaskReconcilerTest, StopSendsSigtermThenSigkillAfterStopTimeout) {
  reconciler_.start();
  auto id = add_task({{"app", true}}, /*stop_timeout=*/10);
  reconciler_.reconcile(id);
  settle();
  runtime_.clear_actions();
  state::request_task_stop(task(id), "UserInitiated", "Task stopped by user", clock_.now_ms());
  reconciler_.reconcile(id);
  EXPECT_THAT(runtime_.actions(), ElementsAre("kill c1 SIGTERM"));
  clock_.advance_ms(9999);
  reconciler_.tick();
  EXPECT_EQ(runtime_.actions().size(), 1u);
  clock_.advance_ms(1);
  reconciler_.tick();
  EXPECT_THAT(runtime_.actions(), ElementsAre("kill c1 SIGTERM", "kill c1 SIGKILL"));
  reconciler_.tick();
  EXPECT_EQ(runtime_.actions().size(), 2u);
  runtime_.exit("c1", 137);
  settle();
  EXPECT_EQ(task(id).last_status, TaskStatus::kStopped);
  EXPECT_EQ(task(id).stop_code, "UserInitiated");
  EXPECT_EQ(task(id).containers[0].exit_code, 137);
}

TEST_F(TaskReconcilerTest, PullFailureStopsTaskWithCannotPullContainerError) {
  runtime_.fail_next("ensure_image", runtime::RuntimeError{runtime::ErrorKind::kImageNotFound,
                                                           "Error response from daemon: pull access denied for nope"});
  auto id = add_task({{"app", true}});
  reconciler_.reconcile(id);
  settle();
  const auto& t = task(id);
  EXPECT_EQ(t.last_status, TaskStatus::kStopped);
  EXPECT_EQ(t.stop_code, "TaskFailedToStart");
  EXPECT_EQ(t.stopped_reason, "CannotPullContainerError: Error response from daemon: pull access denied for nope");
  EXPECT_EQ(t.containers[0].reason, t.stopped_reason);
  EXPECT_FALSE(t.containers[0].exit_code.has_value());
  EXPECT_FALSE(t.started_at.has_value());
  EXPECT_THAT(runtime_.actions(), ElementsAre("ensure_image busybox"));
  EXPECT_EQ(reconciler_.active_task_count(), 0u);
}

TEST_F(TaskReconcilerTest, StartFailureStopsTask) {
  runtime_.fail_next("start", runtime::RuntimeError{runtime::ErrorKind::kOther, "Error response from daemon: boom"});
  auto id = add_task({{"app", true}});
  reconciler_.reconcile(id);
  settle();
  EXPECT_EQ(task(id).last_status, TaskStatus::kStopped);
  EXPECT_EQ(task(id).stopped_reason, "CannotStartContainerError: Error response from daemon: boom");
}

TEST_F(TaskReconcilerTest, StopWhilePullingNeverCreatesContainer) {
  auto id = add_task({{"app", true}});
  reconciler_.reconcile(id);
  state::request_task_stop(task(id), "UserInitiated", "Task stopped by user", clock_.now_ms());
  reconciler_.reconcile(id);
  EXPECT_EQ(task(id).last_status, TaskStatus::kStopping);
  settle();
  EXPECT_EQ(task(id).last_status, TaskStatus::kStopped);
  EXPECT_THAT(runtime_.actions(), ElementsAre("ensure_image busybox"));
}

TEST_F(TaskReconcilerTest, ContainerExitingBeforeStartCompletesIsStillStopped) {
  reconciler_.start();
  settle();
  auto id = add_task({{"app", true}});
  reconciler_.reconcile(id);
  runtime_.run_pending();  // pull
  runtime_.run_pending();  // create
  ASSERT_EQ(runtime_.actions().back(), "start c1");
  // The start reply is queued; the container's death overtakes it.
  runtime_.exit("c1", 1, /*overtake=*/true);
  settle();
  EXPECT_EQ(task(id).containers[0].last_status, ContainerStatus::kStopped);
  EXPECT_EQ(task(id).last_status, TaskStatus::kStopped);
  EXPECT_EQ(task(id).stop_code, "EssentialContainerExited");
}

TEST_F(TaskReconcilerTest, ResyncNoticesContainerRemovedWhileDisconnected) {
  reconciler_.start();
  settle();
  auto id = add_task({{"app", true}});
  reconciler_.reconcile(id);
  settle();
  runtime_.remove("c1", [](runtime::Done) {});
  settle();
  reconciler_.resync();
  settle();
  EXPECT_EQ(task(id).last_status, TaskStatus::kStopped);
  EXPECT_EQ(task(id).containers[0].reason, "Container was removed from the Docker engine outside berth");
}

TEST_F(TaskReconcilerTest, RemoveAllContainersRemovesOnlyThisInstancesContainers) {
  auto id = add_task({{"a", true}, {"b", true}});
  reconciler_.reconcile(id);
  settle();
  ASSERT_EQ(runtime_.live_containers(), 2u);
  bool done = false;
  reconciler_.remove_all_containers([&] { done = true; });
  settle();
  EXPECT_TRUE(done);
  EXPECT_EQ(runtime_.live_containers(), 0u);
}

TEST_F(TaskReconcilerTest, CreateCompletingAfterResetRemovesOrphan) {
  auto id = add_task({{"app", true}});
  reconciler_.reconcile(id);
  runtime_.run_pending();  // pull done, create issued
  store_.clear();
  reconciler_.forget_all();
  settle();
  EXPECT_EQ(runtime_.live_containers(), 0u);
  EXPECT_EQ(runtime_.actions().back(), "remove c1");
}

TEST_F(TaskReconcilerTest, DrainWaitsForCreatesUnderWayThenRemovesEverything) {
  auto running = add_task({{"a", true}});
  reconciler_.reconcile(running);
  settle();
  auto starting = add_task({{"b", true}});
  reconciler_.reconcile(starting);
  runtime_.run_pending();  // pull landed, create issued but not completed
  ASSERT_EQ(runtime_.live_containers(), 2u);
  bool done = false;
  reconciler_.drain_and_remove_all([&] { done = true; });
  EXPECT_FALSE(done);
  settle();
  EXPECT_TRUE(done);
  EXPECT_EQ(runtime_.live_containers(), 0u);
  // Nothing new was started for the task whose create landed during the drain.
  for (const auto& a : runtime_.actions()) {
    EXPECT_NE(a, "start c2");
  }
}

}  // namespace
}  // namespace berth::scheduler
