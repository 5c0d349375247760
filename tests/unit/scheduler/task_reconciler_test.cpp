#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <berth/common/arn.hpp>
#include <berth/common/base64.hpp>
#include <berth/scheduler/task_reconciler.hpp>
#include <berth/state/container_instances.hpp>
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

  // Adds a task whose containers are the given ECS container definitions; `edit` may adjust the task.
  std::string add_task_json(const json& defs, const std::function<void(state::Task&)>& edit = {}) {
    std::vector<std::pair<std::string, bool>> names;
    for (const auto& d : defs) {
      names.emplace_back(d["name"].get<std::string>(), d.value("essential", true));
    }
    auto id = add_task(names);
    auto& t = task(id);
    for (std::size_t i = 0; i < t.containers.size(); ++i) {
      t.containers[i].definition = defs[i];
      t.containers[i].image = defs[i].value("image", "busybox");
    }
    if (edit) {
      edit(t);
    }
    return id;
  }

  state::Task& task(const std::string& id) { return *store_.find_task(id); }
  const state::Container& container(const std::string& id, const std::string& name) {
    for (const auto& c : task(id).containers) {
      if (c.name == name) {
        return c;
      }
    }
    throw std::runtime_error("no container " + name);
  }
  bool did(const std::string& action) const {
    const auto& a = runtime_.actions();
    return std::find(a.begin(), a.end(), action) != a.end();
  }

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

TEST_F(TaskReconcilerTest, RecordsWhatTheMetadataEndpointNeeds) {
  ReconcilerOptions options{"inst1", "127.0.0.1"};
  options.metadata_base_url = "http://169.254.170.2";
  TaskReconciler reconciler(store_, runtime_, clock_, options);
  reconciler.start();
  auto id = add_task({{"app", true}, {"side", false}});
  task(id).credentials_id = "cred-1";
  reconciler.reconcile(id);
  settle();
  ASSERT_EQ(task(id).last_status, TaskStatus::kRunning);
  const auto& app = container(id, "app");
  const auto& side = container(id, "side");
  // An unguessable token per container, in the environment of that container only.
  ASSERT_EQ(app.metadata_token.size(), 32u);
  EXPECT_NE(app.metadata_token, side.metadata_token);
  const auto& spec = runtime_.created_specs()[0];
  EXPECT_EQ(spec.name, app.docker_name);
  EXPECT_NE(std::find(spec.env.begin(), spec.env.end(),
                      "ECS_CONTAINER_METADATA_URI_V4=http://169.254.170.2/v4/" + app.metadata_token),
            spec.env.end());
  EXPECT_NE(std::find(spec.env.begin(), spec.env.end(), "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/v2/credentials/cred-1"),
            spec.env.end());
  // The engine's address for each bridge container, and when it was created.
  EXPECT_EQ(app.ip_address, runtime_.ip_of(app.runtime_id));
  EXPECT_TRUE(app.ip_address.starts_with("172.17.0."));
  EXPECT_NE(app.ip_address, side.ip_address);
  EXPECT_TRUE(app.created_at.has_value());
  EXPECT_FALSE(app.finished_at.has_value());

  clock_.advance_ms(1000);
  runtime_.exit(side.runtime_id, 0);
  settle();
  EXPECT_EQ(container(id, "side").finished_at, clock_.now_ms());
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

TEST_F(TaskReconcilerTest, SuccessDependencyStartsAppOnlyAfterInitExitsZero) {
  reconciler_.start();
  settle();
  auto id = add_task_json(json::array(
      {{{"name", "init"}, {"essential", false}},
       {{"name", "app"}, {"dependsOn", {{{"containerName", "init"}, {"condition", "SUCCESS"}}}}}}));
  reconciler_.reconcile(id);
  settle();
  // Both exist, only init runs.
  EXPECT_TRUE(did("start c1"));
  EXPECT_FALSE(did("start c2"));
  EXPECT_EQ(task(id).last_status, TaskStatus::kActivating);
  runtime_.exit("c1", 0);
  settle();
  EXPECT_TRUE(did("start c2"));
  EXPECT_EQ(task(id).last_status, TaskStatus::kRunning);
  EXPECT_EQ(container(id, "init").exit_code, 0);
}

TEST_F(TaskReconcilerTest, SuccessDependencyThatFailsStopsTheTask) {
  reconciler_.start();
  settle();
  auto id = add_task_json(json::array(
      {{{"name", "init"}, {"essential", false}},
       {{"name", "app"}, {"dependsOn", {{{"containerName", "init"}, {"condition", "SUCCESS"}}}}}}));
  reconciler_.reconcile(id);
  settle();
  runtime_.exit("c1", 2);
  settle();
  EXPECT_FALSE(did("start c2"));
  EXPECT_EQ(task(id).last_status, TaskStatus::kStopped);
  EXPECT_EQ(task(id).stop_code, "TaskFailedToStart");
  EXPECT_NE(task(id).stopped_reason.find("condition SUCCESS"), std::string::npos) << task(id).stopped_reason;
}

TEST_F(TaskReconcilerTest, HealthyDependencyWaitsForTheHealthCheckAndTimesOut) {
  reconciler_.start();
  settle();
  auto id = add_task_json(json::array(
      {{{"name", "db"}, {"healthCheck", {{"command", {"CMD-SHELL", "true"}}}}, {"startTimeout", 20}},
       {{"name", "app"}, {"dependsOn", {{{"containerName", "db"}, {"condition", "HEALTHY"}}}}}}));
  reconciler_.reconcile(id);
  settle();
  EXPECT_TRUE(did("start c1"));
  EXPECT_FALSE(did("start c2"));
  clock_.advance_ms(19'000);
  reconciler_.tick();
  settle();
  EXPECT_FALSE(did("start c2"));
  EXPECT_EQ(task(id).desired_status, TaskStatus::kRunning);
  clock_.advance_ms(1'000);
  reconciler_.tick();
  settle();
  EXPECT_FALSE(did("start c2"));
  EXPECT_EQ(task(id).desired_status, TaskStatus::kStopped);
  EXPECT_NE(task(id).stopped_reason.find("startTimeout"), std::string::npos) << task(id).stopped_reason;
}

TEST_F(TaskReconcilerTest, HealthyDependencyStartsAppOnHealthyAndRollsUpTaskHealth) {
  reconciler_.start();
  settle();
  auto id = add_task_json(json::array(
      {{{"name", "db"}, {"healthCheck", {{"command", {"CMD-SHELL", "true"}}}}},
       {{"name", "app"}, {"dependsOn", {{{"containerName", "db"}, {"condition", "HEALTHY"}}}}}}));
  reconciler_.reconcile(id);
  settle();
  EXPECT_EQ(task_health_status(task(id)), "UNKNOWN");
  runtime_.set_health("c1", "healthy");
  settle();
  EXPECT_TRUE(did("start c2"));
  EXPECT_EQ(container(id, "db").health_status, "HEALTHY");
  EXPECT_EQ(container(id, "app").health_status, "UNKNOWN");  // no check of its own
  EXPECT_EQ(task_health_status(task(id)), "HEALTHY");
  runtime_.set_health("c1", "unhealthy");
  settle();
  EXPECT_EQ(task_health_status(task(id)), "UNHEALTHY");
  // A standalone task keeps running while unhealthy (only services replace unhealthy tasks).
  EXPECT_EQ(task(id).desired_status, TaskStatus::kRunning);
}

TEST_F(TaskReconcilerTest, ShutdownRunsInReverseDependencyOrder) {
  reconciler_.start();
  settle();
  auto id = add_task_json(json::array(
      {{{"name", "db"}},
       {{"name", "app"}, {"dependsOn", {{{"containerName", "db"}, {"condition", "START"}}}}}}));
  reconciler_.reconcile(id);
  settle();
  ASSERT_EQ(task(id).last_status, TaskStatus::kRunning);
  runtime_.clear_actions();
  state::request_task_stop(task(id), "UserInitiated", "Task stopped by user", clock_.now_ms());
  reconciler_.reconcile(id);
  EXPECT_THAT(runtime_.actions(), ElementsAre("kill c2 SIGTERM"));
  runtime_.exit("c2", 143);
  settle();
  EXPECT_THAT(runtime_.actions(), ElementsAre("kill c2 SIGTERM", "kill c1 SIGTERM"));
  runtime_.exit("c1", 143);
  settle();
  EXPECT_EQ(task(id).last_status, TaskStatus::kStopped);
}

TEST_F(TaskReconcilerTest, AwsvpcTaskGetsPauseContainerOnClusterNetworkAndGivesItBack) {
  ReconcilerOptions opts{"inst1", "127.0.0.1"};
  opts.pause_rootfs_tar = [] { return std::optional<std::string>("tar-bytes"); };
  TaskReconciler r(store_, runtime_, clock_, opts);
  r.start();
  settle();
  runtime_.set_next_ip("172.30.0.7");
  auto id = add_task_json(json::array({{{"name", "app"}}}), [](state::Task& t) {
    t.network_mode = "awsvpc";
    state::TaskEni eni;
    eni.attachment_id = "att";
    eni.network = "berth-net";
    eni.subnet = "subnet-1";
    t.eni = eni;
  });
  r.reconcile(id);
  EXPECT_EQ(task(id).last_status, TaskStatus::kProvisioning);
  settle();
  EXPECT_THAT(runtime_.actions(),
              ElementsAre("import_image berth/pause:" BERTH_VERSION, "ensure_network berth-net",
                          "create ~internal~ecs~pause -> c1", "start c1", "ensure_image busybox", "create app -> c2",
                          "start c2"));
  EXPECT_EQ(task(id).eni->status, "ATTACHED");
  EXPECT_EQ(task(id).eni->ip, "172.30.0.7");
  EXPECT_EQ(task(id).last_status, TaskStatus::kRunning);
  // The app joins the pause container's network namespace.
  EXPECT_EQ(runtime_.created_specs()[1].network_mode, "container:c1");
  EXPECT_EQ(runtime_.created_specs()[0].network_mode, "berth-net");
  runtime_.clear_actions();
  state::request_task_stop(task(id), "UserInitiated", "Task stopped by user", clock_.now_ms());
  r.reconcile(id);
  runtime_.exit("c2", 143);
  settle();
  EXPECT_THAT(runtime_.actions(), ElementsAre("kill c2 SIGTERM", "kill c1 SIGKILL"));
  EXPECT_EQ(task(id).eni->status, "DELETED");
  EXPECT_EQ(task(id).last_status, TaskStatus::kStopped);
}

TEST_F(TaskReconcilerTest, AwsvpcWithoutPauseImageFailsClearly) {
  auto id = add_task_json(json::array({{{"name", "app"}}}), [](state::Task& t) {
    t.network_mode = "awsvpc";
    t.eni = state::TaskEni{};
  });
  reconciler_.reconcile(id);
  settle();
  EXPECT_EQ(task(id).last_status, TaskStatus::kStopped);
  EXPECT_TRUE(task(id).stopped_reason.starts_with("ResourceInitializationError:")) << task(id).stopped_reason;
}

TEST_F(TaskReconcilerTest, FargatePoolHoldsTasksInProvisioningUntilThereIsRoom) {
  ReconcilerOptions opts{"inst1", "127.0.0.1"};
  opts.fargate_cpu_units = 512;
  TaskReconciler r(store_, runtime_, clock_, opts);
  r.start();
  settle();
  auto fargate = [](state::Task& t) {
    t.launch_type = "FARGATE";
    t.cpu = "256";
    t.memory = "512";
  };
  auto a = add_task_json(json::array({{{"name", "a"}}}), fargate);
  auto b = add_task_json(json::array({{{"name", "b"}}}), fargate);
  auto c = add_task_json(json::array({{{"name", "c"}}}), fargate);
  r.reconcile(a);
  r.reconcile(b);
  r.reconcile(c);
  settle();
  EXPECT_EQ(task(a).last_status, TaskStatus::kRunning);
  EXPECT_EQ(task(b).last_status, TaskStatus::kRunning);
  EXPECT_EQ(task(c).last_status, TaskStatus::kProvisioning);
  r.tick();
  settle();
  EXPECT_EQ(task(c).last_status, TaskStatus::kProvisioning);
  runtime_.exit("c1", 0);  // a's only container exits: a stops and frees its place
  settle();
  r.tick();
  settle();
  EXPECT_EQ(task(a).last_status, TaskStatus::kStopped);
  EXPECT_EQ(task(c).last_status, TaskStatus::kRunning);
}

TEST_F(TaskReconcilerTest, TaskVolumesAreCreatedFirstAndRemovedWithTheTask) {
  ReconcilerOptions opts{"inst1", "127.0.0.1"};
  opts.container_cleanup_wait_ms = 60'000;
  opts.task_retention_ms = 120'000;
  TaskReconciler r(store_, runtime_, clock_, opts);
  r.start();
  settle();
  auto id = add_task_json(
      json::array({{{"name", "app"}, {"mountPoints", {{{"sourceVolume", "scratch"}, {"containerPath", "/s"}}}}}}),
      [](state::Task& t) {
        t.volume_definitions = json::array({{{"name", "scratch"}}, {{"name", "shared"},
                                                                    {"dockerVolumeConfiguration",
                                                                     {{"scope", "shared"}, {"autoprovision", true}}}}});
      });
  r.reconcile(id);
  settle();
  const std::string scratch = "ecs-web-1-scratch-" + id.substr(0, 12);
  EXPECT_TRUE(runtime_.has_volume(scratch));
  EXPECT_TRUE(runtime_.has_volume("shared"));
  ASSERT_EQ(task(id).last_status, TaskStatus::kRunning);
  runtime_.exit("c1", 0);
  settle();
  ASSERT_EQ(task(id).last_status, TaskStatus::kStopped);
  clock_.advance_ms(59'999);
  r.tick();
  settle();
  EXPECT_EQ(runtime_.live_containers(), 1u);
  clock_.advance_ms(1);
  r.tick();
  settle();
  EXPECT_EQ(runtime_.live_containers(), 0u);
  EXPECT_FALSE(runtime_.has_volume(scratch));
  EXPECT_TRUE(runtime_.has_volume("shared"));  // shared volumes outlive tasks
  EXPECT_NE(store_.find_task(id), nullptr);     // still describable
  clock_.advance_ms(60'000);
  r.tick();
  EXPECT_EQ(store_.find_task(id), nullptr);
}

TEST_F(TaskReconcilerTest, ResetRemovesTaskVolumesAfterTheirContainers) {
  auto id = add_task_json(json::array({{{"name", "app"}}}),
                          [](state::Task& t) { t.volume_definitions = json::array({{{"name", "scratch"}}}); });
  reconciler_.reconcile(id);
  settle();
  const std::string scratch = "ecs-web-1-scratch-" + id.substr(0, 12);
  ASSERT_TRUE(runtime_.has_volume(scratch));
  store_.clear();
  reconciler_.forget_all();
  bool done = false;
  reconciler_.remove_all_containers([&] { done = true; });
  settle();
  EXPECT_TRUE(done);
  EXPECT_EQ(runtime_.live_containers(), 0u);
  EXPECT_FALSE(runtime_.has_volume(scratch));
  const auto& a = runtime_.actions();
  auto removed_container = std::find(a.begin(), a.end(), "remove c1");
  auto removed_volume = std::find(a.begin(), a.end(), "remove_volume " + scratch);
  ASSERT_NE(removed_volume, a.end());
  EXPECT_LT(removed_container, removed_volume);
}

TEST_F(TaskReconcilerTest, MissingSecretFailsTaskWithResourceInitializationError) {
  ReconcilerOptions opts{"inst1", "127.0.0.1"};
  opts.secret_lookup = [](const std::string& k) -> std::optional<std::string> {
    if (k == "/prod/db-password") {
      return "s3cr3t";
    }
    return std::nullopt;
  };
  TaskReconciler r(store_, runtime_, clock_, opts);
  auto ok_id = add_task_json(json::array({{{"name", "app"},
                                           {"environment", {{{"name", "A"}, {"value", "1"}}}},
                                           {"secrets", {{{"name", "DB"},
                                                         {"valueFrom",
                                                          "arn:aws:ssm:us-east-1:000000000000:parameter/prod/db-password"}}}}}}));
  r.reconcile(ok_id);
  settle();
  ASSERT_EQ(runtime_.created_specs().size(), 1u);
  const auto& env = runtime_.created_specs()[0].env;
  EXPECT_NE(std::find(env.begin(), env.end(), "DB=s3cr3t"), env.end());
  auto bad_id = add_task_json(json::array({{{"name", "app"}, {"secrets", {{{"name", "X"}, {"valueFrom", "missing"}}}}}}));
  r.reconcile(bad_id);
  settle();
  EXPECT_EQ(task(bad_id).last_status, TaskStatus::kStopped);
  EXPECT_EQ(task(bad_id).stop_code, "TaskFailedToStart");
  EXPECT_TRUE(task(bad_id).stopped_reason.starts_with("ResourceInitializationError: unable to pull secrets"))
      << task(bad_id).stopped_reason;
  EXPECT_EQ(task(bad_id).stopped_reason.find("s3cr3t"), std::string::npos);
}

TEST(TaskInputsTest, EnvironmentFilesAndSecretsManagerJsonKeys) {
  ReconcilerOptions opts;
  opts.s3_lookup = [](const std::string& bucket, const std::string& key) -> std::optional<std::string> {
    if (bucket == "cfg" && key == "app.env") {
      return "# comment\nA=1\n\nB=two words\nnot a pair\n";
    }
    return std::nullopt;
  };
  opts.secret_lookup = [](const std::string& k) -> std::optional<std::string> {
    if (k == "arn:aws:secretsmanager:us-east-1:000000000000:secret:db-AbCdEf") {
      return R"({"user":"admin","password":"pw"})";
    }
    return std::nullopt;
  };
  state::Container c;
  c.definition = {{"environmentFiles", {{{"value", "arn:aws:s3:::cfg/app.env"}, {"type", "s3"}}}},
                  {"secrets",
                   {{{"name", "PW"},
                     {"valueFrom", "arn:aws:secretsmanager:us-east-1:000000000000:secret:db-AbCdEf:password::"}}}}};
  auto env = resolve_extra_env(c, opts);
  ASSERT_TRUE(env) << env.error().message;
  EXPECT_THAT(*env, ElementsAre("A=1", "B=two words", "PW=pw"));
  c.definition["environmentFiles"][0]["value"] = "arn:aws:s3:::cfg/missing.env";
  EXPECT_FALSE(resolve_extra_env(c, opts));
}

TEST(TaskInputsTest, AwslogsStreamNamesAreWhatEcsComputes) {
  state::Task t;
  t.id = "0123456789abcdef0123456789abcdef";
  state::Container c;
  c.name = "web";
  c.definition = {{"logConfiguration",
                   {{"logDriver", "awslogs"},
                    {"options", {{"awslogs-group", "/ecs/web"}, {"awslogs-stream-prefix", "ecs"}}}}}};
  EXPECT_EQ(awslogs_destination(t, c), std::make_pair(std::string("/ecs/web"), "ecs/web/" + t.id));
  c.definition["logConfiguration"]["options"].erase("awslogs-stream-prefix");
  EXPECT_EQ(awslogs_destination(t, c).second, t.id);
  c.definition["logConfiguration"]["logDriver"] = "json-file";
  EXPECT_EQ(awslogs_destination(t, c).first, "");
}

TEST(TaskInputsTest, RepositoryCredentialsBecomeRegistryAuth) {
  ReconcilerOptions opts;
  opts.secret_lookup = [](const std::string& k) -> std::optional<std::string> {
    if (k == "arn:aws:secretsmanager:us-east-1:000000000000:secret:reg") {
      return R"({"username":"u","password":"p"})";
    }
    return std::nullopt;
  };
  state::Container c;
  c.image = "registry.example.com:5000/team/app:1";
  c.definition = {{"repositoryCredentials",
                   {{"credentialsParameter", "arn:aws:secretsmanager:us-east-1:000000000000:secret:reg"}}}};
  auto auth = resolve_registry_auth(c, opts);
  ASSERT_TRUE(auth);
  ASSERT_TRUE(auth->has_value());
  auto decoded = base64_decode(**auth);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(json::parse(*decoded), json({{"username", "u"}, {"password", "p"}, {"serveraddress", "registry.example.com:5000"}}));
  c.definition["repositoryCredentials"]["credentialsParameter"] = "nope";
  EXPECT_FALSE(resolve_registry_auth(c, opts));
}

}  // namespace
}  // namespace berth::scheduler

namespace berth::scheduler {
namespace {

// Tasks on container instances: the instance's cgroup caps them, and they publish on the instance's address.
class InstanceTasksTest : public TaskReconcilerTest {
 protected:
  // A t3.micro-sized instance of cluster "default" and a task placed on it.
  std::string add_task_on_instance(const std::string& instance_id, bool awsvpc = false) {
    auto& region = store_.region(Scope{"000000000000", "us-east-1"});
    if (!region.container_instances.contains(instance_id)) {
      state::ContainerInstance ci;
      ci.id = instance_id;
      ci.arn = ecs_arn::container_instance(Scope{"000000000000", "us-east-1"}, "default", instance_id);
      ci.cluster_name = "default";
      ci.registered_resources =
          json::array({{{"name", "CPU"}, {"type", "INTEGER"}, {"integerValue", 2048}},
                       {{"name", "MEMORY"}, {"type", "INTEGER"}, {"integerValue", 998}}});
      region.container_instances.emplace(instance_id, ci);
    }
    auto id = add_task({{"app", true}});
    auto& t = task(id);
    t.container_instance_arn = region.container_instances.at(instance_id).arn;
    region.container_instances.at(instance_id).task_ids.push_back(id);
    if (awsvpc) {
      t.network_mode = "awsvpc";
      state::TaskEni eni;
      eni.network = "berth-vpc";
      t.eni = eni;
    }
    return id;
  }
};

TEST_F(InstanceTasksTest, TheInstanceCgroupComesFirstAndCapsItsContainers) {
  reconciler_.start();
  const std::string instance = "0123456789abcdef0123456789abcdef";
  auto a = add_task_on_instance(instance);
  auto b = add_task_on_instance(instance);
  reconciler_.reconcile(a);
  reconciler_.reconcile(b);
  // One cgroup per instance, asked for once, before anything of its tasks reaches the engine.
  EXPECT_THAT(runtime_.actions(), ElementsAre("ensure_cgroup berth/" + instance));
  ASSERT_NE(runtime_.cgroup("berth/" + instance), nullptr);
  EXPECT_EQ(runtime_.cgroup("berth/" + instance)->cpu_units, 2048);
  EXPECT_EQ(runtime_.cgroup("berth/" + instance)->memory_bytes, 998LL * 1024 * 1024);
  settle();
  EXPECT_EQ(task(a).last_status, TaskStatus::kRunning);
  EXPECT_EQ(task(b).last_status, TaskStatus::kRunning);
  ASSERT_EQ(runtime_.created_specs().size(), 2u);
  for (const auto& spec : runtime_.created_specs()) {
    EXPECT_EQ(spec.cgroup_parent, "/berth/" + instance);
    // Bridge ports go to the instance's own loopback address.
    ASSERT_EQ(spec.ports.size(), 1u);
    EXPECT_EQ(spec.ports[0].host_ip, state::instance_host_ip(instance));
  }
  EXPECT_EQ(state::instance_host_ip(instance), "127.1.35.71");
  // A task without an instance keeps berth's own address and no cgroup.
  auto plain = add_task({{"app", true}});
  reconciler_.reconcile(plain);
  settle();
  EXPECT_FALSE(runtime_.created_specs().back().cgroup_parent.has_value());
  EXPECT_EQ(runtime_.created_specs().back().ports[0].host_ip, "127.0.0.1");
  // Clean-up removes the cgroup after the containers.
  runtime_.clear_actions();
  bool done = false;
  reconciler_.remove_all_containers([&] { done = true; });
  settle();
  EXPECT_TRUE(done);
  EXPECT_EQ(runtime_.actions().back(), "remove_cgroup berth/" + instance);
}

TEST_F(InstanceTasksTest, WithoutCgroupsTasksStillRunUncapped) {
  runtime_.set_cgroups_unsupported("the Docker engine uses the systemd cgroup driver");
  reconciler_.start();
  auto id = add_task_on_instance("abcdef0123456789abcdef0123456789");
  reconciler_.reconcile(id);
  settle();
  EXPECT_EQ(task(id).last_status, TaskStatus::kRunning);
  EXPECT_FALSE(runtime_.created_specs()[0].cgroup_parent.has_value());
  // An engine that did not answer is asked again on the next pass, and nothing is created meanwhile.
  auto again = add_task_on_instance("11111111111111111111111111111111");
  runtime_.fail_next("ensure_cgroup", runtime::RuntimeError{runtime::ErrorKind::kEngineUnavailable, "down"});
  reconciler_.reconcile(again);
  settle();
  EXPECT_EQ(task(again).last_status, TaskStatus::kProvisioning);
  reconciler_.tick();
  settle();
  EXPECT_EQ(task(again).last_status, TaskStatus::kRunning);
}

TEST_F(InstanceTasksTest, ThePauseContainerJoinsTheInstanceCgroup) {
  ReconcilerOptions options{"inst1", "127.0.0.1"};
  options.pause_rootfs_tar = [] { return std::optional<std::string>("tar"); };
  TaskReconciler reconciler(store_, runtime_, clock_, options);
  reconciler.start();
  const std::string instance = "22222222222222222222222222222222";
  auto id = add_task_on_instance(instance, /*awsvpc=*/true);
  reconciler.reconcile(id);
  settle();
  ASSERT_GE(runtime_.created_specs().size(), 2u);
  EXPECT_EQ(runtime_.created_specs()[0].labels.at("com.amazonaws.ecs.container-name"), "~internal~ecs~pause");
  EXPECT_EQ(runtime_.created_specs()[0].cgroup_parent, "/berth/" + instance);
  EXPECT_EQ(runtime_.created_specs()[1].cgroup_parent, "/berth/" + instance);
}

TEST_F(InstanceTasksTest, AnInstanceOutOfMemoryKillsItsTaskWithExit137) {
  reconciler_.start();
  auto id = add_task_on_instance("33333333333333333333333333333333");
  reconciler_.reconcile(id);
  settle();
  const auto& c = container(id, "app");
  runtime::RuntimeEvent oom;
  oom.type = runtime::RuntimeEvent::Type::kOom;
  oom.container_id = c.runtime_id;
  oom.labels = runtime_.created_specs()[0].labels;
  runtime_.emit(oom);
  runtime_.exit(c.runtime_id, 137);
  settle();
  EXPECT_EQ(task(id).last_status, TaskStatus::kStopped);
  EXPECT_EQ(container(id, "app").exit_code, 137);
  EXPECT_EQ(container(id, "app").reason, "OutOfMemoryError: Container killed due to memory usage");
  EXPECT_EQ(state::instance_usage(store_.region(task(id).scope).container_instances.begin()->second,
                                  store_.region(task(id).scope))
                .running,
            0);
}

}  // namespace
}  // namespace berth::scheduler
