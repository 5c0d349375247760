// The service scheduler driven end to end without Docker: services are created and updated through the real
// ECS handlers, the task reconciler runs their tasks on the fake container runtime, time moves only on a
// manual clock, and the tests assert the engine actions in the order they were made.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <deque>
#include <functional>

#include <berth/scheduler/service_scheduler.hpp>
#include <berth/scheduler/task_reconciler.hpp>

#include "fakes/fake_runtime.hpp"
#include "unit/services/ecs_fixture.hpp"

namespace berth::scheduler {
namespace {

using state::TaskStatus;
using ::testing::ElementsAre;
using ::testing::StartsWith;

constexpr TimeMs kHealthyAfter = 40'000;

class ServiceSchedulerTest : public services::testing::EcsFixture {
 protected:
  ServiceSchedulerTest()
      : reconciler_(store_, runtime_, clock_, reconciler_options()),
        scheduler_(
            store_, clock_, [this](const std::string& id) { reconciler_.reconcile(id); },
            [this](std::function<void()> f) { posted_.push_back(std::move(f)); }) {
    ctx_.task_changed = [this](const std::string& id) { reconciler_.reconcile(id); };
    ctx_.service_changed = [this](const Scope& scope, const std::string& key) {
      scheduler_.service_changed(scope, key);
    };
    reconciler_.set_task_observer([this](const state::Task& t) { scheduler_.task_changed(t); });
    reconciler_.start();
    runtime_.set_exit_on_signal(true);
    runtime_.run_pending();  // the event stream connects
    ok("CreateCluster", {{"clusterName", "dev"}});
    register_td("app:1");  // web:1
    register_td("app:2");  // web:2
  }

  static ReconcilerOptions reconciler_options() {
    ReconcilerOptions o{"inst1", "127.0.0.1"};
    o.pause_rootfs_tar = [] { return std::optional<std::string>("pause"); };
    return o;
  }

  // The actions from `from` on with container ids left out ("kill SIGTERM", "ensure_image app:2"): the order
  // of kinds of action, whichever tasks they were for.
  std::vector<std::string> action_kinds(std::size_t from) const {
    std::vector<std::string> out;
    for (const auto& a : actions_from(from)) {
      if (a.starts_with("kill ")) {
        out.push_back("kill " + a.substr(a.rfind(' ') + 1));
      } else if (a.starts_with("start ")) {
        out.push_back("start");
      } else if (a.starts_with("create ")) {
        out.push_back("create");
      } else {
        out.push_back(a);
      }
    }
    return out;
  }

  json register_td(const std::string& image, const json& container_extra = json::object()) {
    json c = {{"name", "app"}, {"image", image}, {"memory", 64}};
    c.update(container_extra);
    return ok("RegisterTaskDefinition", {{"family", "web"}, {"containerDefinitions", {c}}})["taskDefinition"];
  }

  json create_service(int desired, const json& extra = json::object()) {
    json body = {
        {"cluster", "dev"}, {"serviceName", "api"}, {"taskDefinition", "web:1"}, {"desiredCount", desired}};
    body.update(extra);
    return ok("CreateService", body)["service"];
  }

  json update(const json& body) {
    json b = {{"cluster", "dev"}, {"service", "api"}};
    b.update(body);
    return ok("UpdateService", b)["service"];
  }

  json describe() {
    return ok("DescribeServices", {{"cluster", "dev"}, {"services", {"api"}}})["services"][0];
  }

  // Runs engine completions and posted scheduler work until nothing is left, checking `invariant` after every
  // step.
  void settle() {
    for (int i = 0; i < 1000; ++i) {
      bool any = runtime_.run_pending() > 0;
      check_invariant();
      auto posted = std::exchange(posted_, {});
      for (auto& f : posted) {
        f();
        any = true;
      }
      check_invariant();
      if (!any) {
        return;
      }
    }
    FAIL() << "the scheduler did not settle";
  }

  // Moves the clock and lets time-driven work happen (the app's tick).
  void advance(TimeMs ms) {
    clock_.advance_ms(ms);
    reconciler_.tick();
    scheduler_.tick();
    settle();
  }

  void check_invariant() {
    if (invariant_) {
      invariant_();
    }
  }

  std::vector<const state::Task*> service_tasks(std::optional<TaskStatus> status = std::nullopt) {
    std::vector<const state::Task*> out;
    for (const auto& [id, t] : region().tasks) {
      if (t.group == "service:api" && (!status || t.last_status == *status)) {
        out.push_back(&t);
      }
    }
    return out;
  }
  int count(TaskStatus status, const std::string& image = "") {
    int n = 0;
    for (const auto* t : service_tasks(status)) {
      n += image.empty() || t->containers[0].image == image ? 1 : 0;
    }
    return n;
  }
  int live() {
    int n = 0;
    for (const auto* t : service_tasks()) {
      n += t->last_status < TaskStatus::kStopping ? 1 : 0;
    }
    return n;
  }

  std::vector<std::string> actions_from(std::size_t from) const {
    const auto& a = runtime_.actions();
    return {a.begin() + static_cast<std::ptrdiff_t>(std::min(from, a.size())), a.end()};
  }
  int count_actions(std::size_t from, const std::string& prefix) const {
    int n = 0;
    for (const auto& a : actions_from(from)) {
      n += a.starts_with(prefix) ? 1 : 0;
    }
    return n;
  }

  std::vector<std::string> event_messages() {
    std::vector<std::string> out;
    const json svc = describe();
    for (const auto& e : svc["events"]) {
      out.push_back(e["message"]);
    }
    return out;
  }
  bool has_event(const std::string& message) {
    auto m = event_messages();
    return std::find(m.begin(), m.end(), message) != m.end();
  }

  // A service of `desired` tasks of web:1 that has reached steady state (every task healthy).
  void steady_service(int desired, const json& extra = json::object()) {
    create_service(desired, extra);
    settle();
    advance(kHealthyAfter);
    ASSERT_EQ(count(TaskStatus::kRunning, "app:1"), desired);
    ASSERT_EQ(describe()["deployments"][0]["rolloutState"], "COMPLETED");
  }

  json deployment_config(int min, int max, const json& breaker = json::object()) {
    json dc = {{"minimumHealthyPercent", min}, {"maximumPercent", max}};
    if (!breaker.empty()) {
      dc["deploymentCircuitBreaker"] = breaker;
    }
    return {{"deploymentConfiguration", dc}};
  }

  testing::FakeContainerRuntime runtime_;
  TaskReconciler reconciler_;
  ServiceScheduler scheduler_;
  std::deque<std::function<void()>> posted_;
  std::function<void()> invariant_;
};

TEST_F(ServiceSchedulerTest, StartsTheDesiredTasksAndCompletesOnceTheyAreHealthy) {
  auto s = create_service(2, {{"enableECSManagedTags", true},
                              {"propagateTags", "SERVICE"},
                              {"tags", {{{"key", "team"}, {"value", "core"}}}}});
  const std::string deployment = s["deployments"][0]["id"];
  settle();
  EXPECT_THAT(runtime_.actions(), ElementsAre("ensure_image app:1", "ensure_image app:1", "create app -> c1",
                                              "create app -> c2", "start c1", "start c2"));
  ASSERT_EQ(count(TaskStatus::kRunning), 2);
  for (const auto* t : service_tasks()) {
    EXPECT_EQ(t->group, "service:api");
    EXPECT_EQ(t->started_by, deployment);
    EXPECT_EQ(t->launch_type, "EC2");
    EXPECT_EQ(t->tags,
              json::parse(R"([{"key":"team","value":"core"},{"key":"aws:ecs:serviceName","value":"api"},
                                       {"key":"aws:ecs:clusterName","value":"dev"}])"));
  }
  auto d = describe();
  EXPECT_EQ(d["runningCount"], 2);
  EXPECT_EQ(d["deployments"][0]["runningCount"], 2);
  // RUNNING is not yet healthy: without a health check ECS waits 40 s.
  EXPECT_EQ(d["deployments"][0]["rolloutState"], "IN_PROGRESS");
  auto ids = service_tasks();
  // In the order they were created (the engine numbers containers in that order).
  std::sort(ids.begin(), ids.end(), [](const state::Task* a, const state::Task* b) {
    return a->containers[0].runtime_id < b->containers[0].runtime_id;
  });
  const std::string started =
      "(service api) has started 2 tasks: (task " + ids[0]->id + ") (task " + ids[1]->id + ").";
  EXPECT_EQ(event_messages(), std::vector<std::string>{started});

  advance(kHealthyAfter - 1);
  EXPECT_EQ(describe()["deployments"][0]["rolloutState"], "IN_PROGRESS");
  advance(1);
  d = describe();
  EXPECT_EQ(d["deployments"][0]["rolloutState"], "COMPLETED");
  EXPECT_EQ(d["deployments"][0]["rolloutStateReason"], "ECS deployment " + deployment + " completed.");
  EXPECT_THAT(event_messages(),
              ElementsAre("(service api) has reached a steady state.",
                          "(service api) (deployment " + deployment + ") deployment completed.", started));
  auto sd = ok("DescribeServiceDeployments", {{"serviceDeploymentArns", {d["currentServiceDeployment"]}}});
  EXPECT_EQ(sd["serviceDeployments"][0]["status"], "SUCCESSFUL");
  // Steady means quiet: nothing more happens, and the steady-state event is not repeated for six hours.
  const auto n = runtime_.actions().size();
  advance(3600'000);
  EXPECT_EQ(runtime_.actions().size(), n);
  EXPECT_EQ(event_messages().size(), 3u);
  advance(5 * 3600'000);
  EXPECT_EQ(event_messages()[0], "(service api) has reached a steady state.");
  EXPECT_EQ(event_messages().size(), 4u);
}

TEST_F(ServiceSchedulerTest, AKilledTaskIsReplacedFromTheEngineEventWithoutATick) {
  steady_service(3);
  const auto n = runtime_.actions().size();
  const state::Task* victim = service_tasks()[1];
  const std::string victim_id = victim->id;
  runtime_.exit(victim->containers[0].runtime_id, 137);
  settle();  // no tick: the engine's die event alone drives the replacement
  EXPECT_THAT(actions_from(n), ElementsAre("ensure_image app:1", "create app -> c4", "start c4"));
  const state::Task& dead = region().tasks.at(victim_id);
  EXPECT_EQ(dead.last_status, TaskStatus::kStopped);
  EXPECT_EQ(dead.stop_code, "EssentialContainerExited");
  EXPECT_EQ(count(TaskStatus::kRunning), 3);
  auto ids = service_tasks(TaskStatus::kRunning);
  EXPECT_EQ(event_messages()[0].rfind("(service api) has started 1 tasks: (task ", 0), 0u);
  // The deployment stays COMPLETED; the service is steady again once the new task is healthy.
  EXPECT_EQ(describe()["deployments"][0]["rolloutState"], "COMPLETED");
  advance(kHealthyAfter);
  EXPECT_EQ(event_messages()[0], "(service api) has reached a steady state.");
}

// desired 4, 50/200: at most 8 tasks, at least 2 healthy; two old tasks stop at once while four new start.
TEST_F(ServiceSchedulerTest, RollingUpdate50_200) {
  steady_service(4, deployment_config(50, 200));
  invariant_ = [this] {
    EXPECT_LE(live(), 8);
    EXPECT_GE(count(TaskStatus::kRunning), 2);
  };
  const auto n = runtime_.actions().size();
  update({{"taskDefinition", "web:2"}});
  settle();
  const auto first = action_kinds(n);
  ASSERT_GE(first.size(), 6u);
  EXPECT_THAT(std::vector<std::string>(first.begin(), first.begin() + 6),
              ElementsAre("kill SIGTERM", "kill SIGTERM", "ensure_image app:2", "ensure_image app:2",
                          "ensure_image app:2", "ensure_image app:2"));
  EXPECT_EQ(count(TaskStatus::kRunning, "app:1"), 2);
  EXPECT_EQ(count(TaskStatus::kRunning, "app:2"), 4);
  EXPECT_EQ(describe()["deployments"].size(), 2u);
  EXPECT_EQ(describe()["deployments"][1]["desiredCount"], 2);  // the old deployment scales down
  // Once the new tasks are healthy the rest of the old ones go, and the deployment completes.
  advance(kHealthyAfter);
  EXPECT_EQ(count(TaskStatus::kRunning, "app:1"), 0);
  EXPECT_EQ(count(TaskStatus::kRunning, "app:2"), 4);
  auto d = describe();
  ASSERT_EQ(d["deployments"].size(), 1u);
  EXPECT_EQ(d["deployments"][0]["rolloutState"], "COMPLETED");
  EXPECT_EQ(d["taskDefinition"], arn("task-definition/web:2"));
}

// desired 4, 100/200: four new tasks start, and the old ones stop only once those are healthy.
TEST_F(ServiceSchedulerTest, RollingUpdate100_200) {
  steady_service(4, deployment_config(100, 200));
  invariant_ = [this] {
    EXPECT_LE(live(), 8);
    EXPECT_GE(count(TaskStatus::kRunning, "app:1"), 4 - count(TaskStatus::kRunning, "app:2"));
  };
  const auto n = runtime_.actions().size();
  update({{"taskDefinition", "web:2"}});
  settle();
  EXPECT_EQ(count_actions(n, "kill"), 0);
  EXPECT_EQ(count_actions(n, "ensure_image app:2"), 4);
  EXPECT_EQ(count(TaskStatus::kRunning), 8);
  advance(kHealthyAfter - 1);
  EXPECT_EQ(count_actions(n, "kill"), 0);
  advance(1);
  EXPECT_EQ(count_actions(n, "kill"), 4);
  EXPECT_EQ(count(TaskStatus::kRunning, "app:2"), 4);
  EXPECT_EQ(count(TaskStatus::kRunning, "app:1"), 0);
  EXPECT_EQ(describe()["deployments"][0]["rolloutState"], "COMPLETED");
}

// desired 4, 0/100: every old task stops first, then four new ones start.
TEST_F(ServiceSchedulerTest, RollingUpdate0_100) {
  steady_service(4, deployment_config(0, 100));
  invariant_ = [this] { EXPECT_LE(count(TaskStatus::kRunning) + count(TaskStatus::kPending), 4); };
  const auto n = runtime_.actions().size();
  update({{"taskDefinition", "web:2"}});
  settle();
  EXPECT_THAT(action_kinds(n), ElementsAre("kill SIGTERM", "kill SIGTERM", "kill SIGTERM", "kill SIGTERM",
                                           "ensure_image app:2", "ensure_image app:2", "ensure_image app:2",
                                           "ensure_image app:2", "create", "create", "create", "create",
                                           "start", "start", "start", "start"));
  EXPECT_EQ(count(TaskStatus::kRunning, "app:2"), 4);
  advance(kHealthyAfter);
  EXPECT_EQ(describe()["deployments"][0]["rolloutState"], "COMPLETED");
}

// desired 2, minimumHealthyPercent 75: ceil(1.5) = 2, so no old task can stop before two new ones are
// healthy.
TEST_F(ServiceSchedulerTest, RollingUpdateRoundsTheMinimumUp) {
  steady_service(2, deployment_config(75, 200));
  const auto n = runtime_.actions().size();
  update({{"taskDefinition", "web:2"}});
  settle();
  EXPECT_EQ(count_actions(n, "kill"), 0);
  EXPECT_EQ(count(TaskStatus::kRunning, "app:2"), 2);
  advance(kHealthyAfter);
  EXPECT_EQ(count_actions(n, "kill"), 2);
}

// desired 3, 100/125: floor(3.75) = 3 leaves no room to start and the minimum lets nothing stop: ECS says so.
TEST_F(ServiceSchedulerTest, RollingUpdateThatCannotMovePostsTheEvent) {
  steady_service(3, deployment_config(100, 125));
  const auto n = runtime_.actions().size();
  update({{"taskDefinition", "web:2"}});
  settle();
  advance(60'000);
  EXPECT_THAT(actions_from(n), ElementsAre());
  const std::string stuck =
      "(service api) was unable to stop or start tasks during a deployment because of the service deployment "
      "configuration. Update the minimumHealthyPercent or maximumPercent value and try again.";
  auto events = event_messages();
  EXPECT_EQ(events[0], stuck);
  EXPECT_EQ(std::count(events.begin(), events.end(), stuck), 1);  // not repeated while nothing changes
  EXPECT_EQ(describe()["deployments"][0]["rolloutState"], "IN_PROGRESS");
  // Widening maximumPercent (no new deployment) lets it move.
  update({{"deploymentConfiguration", {{"maximumPercent", 200}}}});
  settle();
  EXPECT_EQ(count_actions(n, "ensure_image app:2"), 3);
}

TEST_F(ServiceSchedulerTest, CircuitBreakerRollsBackToTheLastCompletedDeployment) {
  steady_service(2, deployment_config(100, 200, {{"enable", true}, {"rollback", true}}));
  const std::string good = describe()["deployments"][0]["id"];
  for (int i = 0; i < 4; ++i) {
    runtime_.fail_next("ensure_image",
                       runtime::RuntimeError{runtime::ErrorKind::kNotFound, "pull access denied"});
  }
  const auto n = runtime_.actions().size();
  auto u = update({{"taskDefinition", "web:2"}});
  const std::string bad = u["deployments"][0]["id"];
  settle();
  // Two tasks failed to start: the throttle holds the next launch back; the breaker (threshold 3) has not
  // tripped yet.
  EXPECT_EQ(count_actions(n, "ensure_image app:2"), 2);
  auto d = describe();
  EXPECT_EQ(d["deployments"][0]["id"], bad);
  EXPECT_EQ(d["deployments"][0]["failedTasks"], 2);
  EXPECT_TRUE(has_event("(service api) is unable to consistently start tasks successfully."));
  advance(4'999);
  EXPECT_EQ(count_actions(n, "ensure_image app:2"), 2);
  advance(1);
  EXPECT_EQ(count_actions(n, "ensure_image app:2"), 4);
  // Four failures >= 3: FAILED, and the service rolls back to the deployment that had completed, whose tasks
  // never stopped (100% minimum): it is steady again at once. The failed deployment has no task left.
  EXPECT_EQ(count_actions(n, "kill"), 0);
  d = describe();
  ASSERT_EQ(d["deployments"].size(), 1u);
  EXPECT_EQ(d["deployments"][0]["id"], good);
  EXPECT_EQ(d["deployments"][0]["status"], "PRIMARY");
  EXPECT_EQ(d["deployments"][0]["taskDefinition"], arn("task-definition/web:1"));
  EXPECT_EQ(d["deployments"][0]["rolloutState"], "COMPLETED");
  EXPECT_EQ(d["taskDefinition"], arn("task-definition/web:1"));
  const auto events = event_messages();
  ASSERT_GE(events.size(), 4u);
  EXPECT_THAT(
      std::vector<std::string>(events.begin(), events.begin() + 4),
      ElementsAre("(service api) has reached a steady state.",
                  "(service api) (deployment " + good + ") deployment completed.",
                  "(service api) rolling back to deployment " + good + ".",
                  "(service api) (deployment " + bad + ") deployment failed: tasks failed to start."));
  auto sd = ok("DescribeServiceDeployments",
               {{"serviceDeploymentArns", {u["currentServiceDeployment"]}}})["serviceDeployments"][0];
  EXPECT_EQ(sd["status"], "ROLLBACK_SUCCESSFUL");
  EXPECT_EQ(sd["deploymentCircuitBreaker"]["status"], "TRIGGERED");
  EXPECT_EQ(sd["deploymentCircuitBreaker"]["failureCount"], 4);
  EXPECT_EQ(sd["deploymentCircuitBreaker"]["threshold"], 3);
  EXPECT_EQ(sd["rollback"]["reason"], "ECS deployment circuit breaker: task failed to start.");
  EXPECT_EQ(count(TaskStatus::kRunning, "app:1"), 2);
  std::vector<std::string> deployment_events;
  for (const auto& e : region().ecs_events) {
    if (e["detail-type"] == "ECS Deployment State Change") {
      deployment_events.push_back(e["detail"]["eventName"].get<std::string>() + " " +
                                  e["detail"]["reason"].get<std::string>());
    }
  }
  EXPECT_THAT(deployment_events,
              ElementsAre("SERVICE_DEPLOYMENT_IN_PROGRESS ECS deployment " + good + " in progress.",
                          "SERVICE_DEPLOYMENT_COMPLETED ECS deployment " + good + " completed.",
                          "SERVICE_DEPLOYMENT_IN_PROGRESS ECS deployment " + bad + " in progress.",
                          "SERVICE_DEPLOYMENT_FAILED ECS deployment circuit breaker: task failed to start.",
                          "SERVICE_DEPLOYMENT_IN_PROGRESS ECS deployment circuit breaker: rolling back to "
                          "deploymentId " +
                              good + ".",
                          "SERVICE_DEPLOYMENT_COMPLETED ECS deployment " + good + " completed."));
}

TEST_F(ServiceSchedulerTest, CircuitBreakerWithoutRollbackStopsLaunching) {
  steady_service(1, deployment_config(0, 100, {{"enable", true}, {"rollback", false}}));
  for (int i = 0; i < 3; ++i) {
    runtime_.fail_next("ensure_image", runtime::RuntimeError{runtime::ErrorKind::kNotFound, "no such image"});
  }
  const auto n = runtime_.actions().size();
  auto u = update({{"taskDefinition", "web:2"}});
  settle();
  advance(5'000);
  advance(10'000);
  EXPECT_EQ(count_actions(n, "ensure_image app:2"), 3);  // threshold 3 for a desired count of 1
  auto d = describe();
  EXPECT_EQ(d["deployments"][0]["rolloutState"], "FAILED");
  EXPECT_EQ(d["deployments"][0]["failedTasks"], 3);
  // FAILED launches nothing more, however long.
  advance(3600'000);
  EXPECT_EQ(count_actions(n, "ensure_image"), 3);
  auto sd = ok("DescribeServiceDeployments",
               {{"serviceDeploymentArns", {u["currentServiceDeployment"]}}})["serviceDeployments"][0];
  EXPECT_EQ(sd["status"], "STOPPED");
  EXPECT_EQ(sd["deploymentCircuitBreaker"]["status"], "TRIGGERED");
  // A new deployment starts launching again.
  update({{"taskDefinition", "web:1"}, {"forceNewDeployment", true}});
  settle();
  EXPECT_EQ(count_actions(n, "ensure_image app:1"), 1);
}

// Stage 2: once a task of the deployment has run, the breaker counts tasks stopped for failing health checks.
TEST_F(ServiceSchedulerTest, CircuitBreakerStageTwoCountsHealthCheckFailures) {
  steady_service(1, deployment_config(100, 200, {{"enable", true}, {"rollback", true}}));
  const std::string good = describe()["deployments"][0]["id"];
  json container = {{"name", "app"},
                    {"image", "app:3"},
                    {"memory", 64},
                    {"healthCheck", {{"command", {"CMD-SHELL", "exit 1"}}}}};
  ok("RegisterTaskDefinition",
     {{"family", "web"}, {"containerDefinitions", json::array({container})}});  // web:3
  auto u = update({{"taskDefinition", "web:3"}});
  const std::string bad = u["deployments"][0]["id"];
  settle();
  for (int failure = 1; failure <= 3; ++failure) {
    std::vector<const state::Task*> running;
    for (const auto* t : service_tasks(TaskStatus::kRunning)) {
      if (t->containers[0].image == "app:3") {
        running.push_back(t);
      }
    }
    ASSERT_EQ(running.size(), 1u) << "failure " << failure;
    runtime_.set_health(running[0]->containers[0].runtime_id, "unhealthy");
    settle();
    if (failure < 3) {
      EXPECT_EQ(describe()["deployments"][0]["id"], bad);
      EXPECT_EQ(describe()["deployments"][0]["failedTasks"], 0);  // stage 1 is over: tasks did run
    }
  }
  auto d = describe();
  EXPECT_EQ(d["deployments"][0]["id"], good);
  EXPECT_EQ(d["deployments"][0]["rolloutState"], "COMPLETED");
  EXPECT_TRUE(has_event("(service api) (deployment " + bad + ") deployment failed: tasks failed to start."));
  auto sd = ok("DescribeServiceDeployments",
               {{"serviceDeploymentArns", {u["currentServiceDeployment"]}}})["serviceDeployments"][0];
  EXPECT_EQ(sd["status"], "ROLLBACK_SUCCESSFUL");
  EXPECT_EQ(sd["deploymentCircuitBreaker"]["failureCount"], 3);
  // Health-check failures after RUNNING are not start failures: nothing was throttled.
  EXPECT_FALSE(has_event("(service api) is unable to consistently start tasks successfully."));
}

TEST_F(ServiceSchedulerTest, StartFailuresBackOffUpTo27MinutesAndANewTaskDefinitionResets) {
  for (int i = 0; i < 12; ++i) {
    runtime_.fail_next("ensure_image", runtime::RuntimeError{runtime::ErrorKind::kNotFound, "no such image"});
  }
  create_service(1);
  settle();
  // First failure: replaced at once; second: the throttle starts (5 s), then 10 s, 20 s, ...
  EXPECT_EQ(count_actions(0, "ensure_image"), 2);
  const std::string impaired = "(service api) is unable to consistently start tasks successfully.";
  EXPECT_EQ(event_messages()[0], impaired);
  std::vector<TimeMs> waits;
  TimeMs waited = 0;
  for (int attempt = 3; attempt <= 12; ++attempt) {
    while (count_actions(0, "ensure_image") < attempt) {
      advance(1000);
      waited += 1000;
      ASSERT_LT(waited, 3600'000);
    }
    waits.push_back(waited);
    waited = 0;
  }
  EXPECT_THAT(waits, ElementsAre(5'000, 10'000, 20'000, 40'000, 80'000, 160'000, 320'000, 640'000, 1'280'000,
                                 1'620'000));  // 27 minutes at most
  auto events = event_messages();
  EXPECT_EQ(std::count(events.begin(), events.end(), impaired), 1);
  // A new task definition ends the throttle at once.
  const auto n = runtime_.actions().size();
  update({{"taskDefinition", "web:2"}});
  settle();
  EXPECT_EQ(count_actions(n, "ensure_image app:2"), 1);
}

TEST_F(ServiceSchedulerTest, UnhealthyTasksAreReplacedAfterTheGracePeriod) {
  json container = {{"name", "app"},
                    {"image", "app:1"},
                    {"memory", 64},
                    {"healthCheck", {{"command", {"CMD-SHELL", "true"}}}}};
  ok("RegisterTaskDefinition", {{"family", "checked"}, {"containerDefinitions", json::array({container})}});
  create_service(1, {{"taskDefinition", "checked"}, {"healthCheckGracePeriodSeconds", 30}});
  settle();
  const state::Task* t = service_tasks()[0];
  const std::string first = t->id;
  runtime_.set_health(t->containers[0].runtime_id, "healthy");
  settle();
  EXPECT_EQ(describe()["deployments"][0]["rolloutState"], "COMPLETED");  // a health check: no 40 s wait
  runtime_.set_health(t->containers[0].runtime_id, "unhealthy");
  settle();
  EXPECT_EQ(region().tasks.at(first).desired_status, TaskStatus::kRunning);  // within the grace period
  advance(30'000);
  const state::Task& old = region().tasks.at(first);
  EXPECT_EQ(old.last_status, TaskStatus::kStopped);
  EXPECT_EQ(old.stop_code, "ServiceSchedulerInitiated");
  EXPECT_EQ(old.stopped_reason, "Task failed container health checks");
  EXPECT_TRUE(has_event("(service api) (task " + first + ") failed container health checks."));
  EXPECT_EQ(count(TaskStatus::kRunning), 1);
}

TEST_F(ServiceSchedulerTest, ScaleInSkipsProtectedTasksUntilTheirProtectionLapses) {
  steady_service(3);
  const auto tasks = service_tasks();
  ok("UpdateTaskProtection", {{"cluster", "dev"},
                              {"tasks", {tasks[0]->id, tasks[1]->id, tasks[2]->id}},
                              {"protectionEnabled", true},
                              {"expiresInMinutes", 5}});
  const auto n = runtime_.actions().size();
  update({{"desiredCount", 1}});
  settle();
  EXPECT_EQ(count_actions(n, "kill"), 0);
  EXPECT_EQ(event_messages()[0].rfind(
                "(service api) was unable to reach steady state because task set (ecs-svc/", 0),
            0u);
  advance(5 * 60'000);  // protection lapses
  EXPECT_EQ(count_actions(n, "kill"), 2);
  EXPECT_EQ(count(TaskStatus::kRunning), 1);
  EXPECT_EQ(describe()["deployments"].size(), 1u);  // scaling is not a deployment
}

TEST_F(ServiceSchedulerTest, DeleteServiceStopsEveryTaskThenTheServiceIsInactive) {
  steady_service(2);
  ok("DeleteService", {{"cluster", "dev"}, {"service", "api"}, {"force", true}});
  settle();
  EXPECT_EQ(count(TaskStatus::kStopped), 2);
  for (const auto* t : service_tasks()) {
    EXPECT_EQ(t->stop_code, "ServiceSchedulerInitiated");
  }
  EXPECT_EQ(describe()["status"], "INACTIVE");
}

TEST_F(ServiceSchedulerTest, DaemonRunsOneTaskPerActiveInstanceAndFollowsThem) {
  const std::string a =
      ok("RegisterContainerInstance", {{"cluster", "dev"}})["containerInstance"]["containerInstanceArn"];
  const std::string b =
      ok("RegisterContainerInstance", {{"cluster", "dev"}})["containerInstance"]["containerInstanceArn"];
  ok("CreateService", {{"cluster", "dev"},
                       {"serviceName", "api"},
                       {"taskDefinition", "web:1"},
                       {"schedulingStrategy", "DAEMON"}});
  settle();
  // Each instance's cgroup first (it caps the instance's tasks), then the tasks.
  ASSERT_GE(runtime_.actions().size(), 2u);
  EXPECT_THAT(runtime_.actions()[0], StartsWith("ensure_cgroup berth/"));
  EXPECT_THAT(runtime_.actions()[1], StartsWith("ensure_cgroup berth/"));
  EXPECT_THAT(actions_from(2), ElementsAre("ensure_image app:1", "ensure_image app:1", "create app -> c1",
                                           "create app -> c2", "start c1", "start c2"));
  std::set<std::string> on;
  for (const auto* t : service_tasks(TaskStatus::kRunning)) {
    on.insert(t->container_instance_arn);
  }
  EXPECT_EQ(on, (std::set<std::string>{a, b}));
  EXPECT_EQ(describe()["desiredCount"], 2);
  // An instance joins: it gets its task.
  const std::string c =
      ok("RegisterContainerInstance", {{"cluster", "dev"}})["containerInstance"]["containerInstanceArn"];
  auto n = runtime_.actions().size();
  advance(500);
  ASSERT_GT(runtime_.actions().size(), n);
  EXPECT_THAT(runtime_.actions()[n], StartsWith("ensure_cgroup berth/"));
  EXPECT_THAT(actions_from(n + 1), ElementsAre("ensure_image app:1", "create app -> c3", "start c3"));
  EXPECT_EQ(describe()["desiredCount"], 3);
  // An instance drains: its daemon task stops, and none replaces it.
  n = runtime_.actions().size();
  ok("UpdateContainerInstancesState",
     {{"cluster", "dev"}, {"containerInstances", {a}}, {"status", "DRAINING"}});
  advance(500);
  EXPECT_EQ(count_actions(n, "kill"), 1);
  EXPECT_EQ(count_actions(n, "ensure_image"), 0);
  EXPECT_EQ(describe()["desiredCount"], 2);
  for (const auto* t : service_tasks(TaskStatus::kRunning)) {
    EXPECT_NE(t->container_instance_arn, a);
  }
  advance(kHealthyAfter);
  EXPECT_EQ(describe()["deployments"][0]["rolloutState"], "COMPLETED");
  // A new daemon deployment replaces the task on every instance (default 0/100: stop, then start).
  n = runtime_.actions().size();
  update({{"taskDefinition", "web:2"}});
  settle();
  EXPECT_THAT(action_kinds(n), ElementsAre("kill SIGTERM", "kill SIGTERM", "ensure_image app:2",
                                           "ensure_image app:2", "create", "create", "start", "start"));
  for (const auto* t : service_tasks(TaskStatus::kRunning)) {
    EXPECT_EQ(t->containers[0].image, "app:2");
    EXPECT_NE(t->container_instance_arn, a);
  }
}

TEST_F(ServiceSchedulerTest, ReplicaTasksOnADrainingInstanceAreReplacedWithinTheLimits) {
  const std::string a =
      ok("RegisterContainerInstance", {{"cluster", "dev"}})["containerInstance"]["containerInstanceArn"];
  steady_service(2, deployment_config(50, 200));
  for (const auto* t : service_tasks()) {
    EXPECT_EQ(t->container_instance_arn, a);  // the only instance there was
  }
  const std::string b =
      ok("RegisterContainerInstance", {{"cluster", "dev"}})["containerInstance"]["containerInstanceArn"];
  const auto n = runtime_.actions().size();
  ok("UpdateContainerInstancesState",
     {{"cluster", "dev"}, {"containerInstances", {a}}, {"status", "DRAINING"}});
  advance(500);
  // 50%: one of the two may stop at once; two replacements start (200% leaves room).
  EXPECT_EQ(count_actions(n, "kill"), 1);
  EXPECT_EQ(count_actions(n, "ensure_image app:1"), 2);
  advance(kHealthyAfter);
  EXPECT_EQ(count_actions(n, "kill"), 2);
  for (const auto* t : service_tasks(TaskStatus::kRunning)) {
    EXPECT_EQ(t->container_instance_arn, b);
  }
  EXPECT_EQ(describe()["deployments"].size(), 1u);
}

TEST_F(ServiceSchedulerTest, ATaskThatFitsNowhereIsReportedWithTheClosestInstanceAndPlacedOnceRoomAppears) {
  // Room for one 64 MiB task only.
  const json small = {{"cluster", "dev"},
                      {"totalResources",
                       {{{"name", "CPU"}, {"type", "INTEGER"}, {"integerValue", 1024}},
                        {{"name", "MEMORY"}, {"type", "INTEGER"}, {"integerValue", 100}}}}};
  const std::string a = ok("RegisterContainerInstance", small)["containerInstance"]["containerInstanceArn"];
  create_service(2);
  settle();
  EXPECT_EQ(count(TaskStatus::kRunning), 1);
  const std::string id = a.substr(a.rfind('/') + 1);
  EXPECT_TRUE(has_event("(service api) was unable to place a task because no container instance met all of its "
                        "requirements. The closest matching container-instance " +
                        id +
                        " has insufficient memory available. For more information, see the Troubleshooting "
                        "section of the Amazon ECS Developer Guide."));
  // A second instance joins: the missing task is placed there.
  const std::string b = ok("RegisterContainerInstance", small)["containerInstance"]["containerInstanceArn"];
  advance(500);
  ASSERT_EQ(count(TaskStatus::kRunning), 2);
  std::set<std::string> on;
  for (const auto* t : service_tasks(TaskStatus::kRunning)) {
    on.insert(t->container_instance_arn);
  }
  EXPECT_EQ(on, (std::set<std::string>{a, b}));
}

TEST_F(ServiceSchedulerTest, ExternalTaskSetsRunTheirScaleForReal) {
  ok("CreateService", {{"cluster", "dev"},
                       {"serviceName", "api"},
                       {"desiredCount", 4},
                       {"deploymentController", {{"type", "EXTERNAL"}}}});
  auto blue = ok("CreateTaskSet", {{"cluster", "dev"},
                                   {"service", "api"},
                                   {"taskDefinition", "web:1"},
                                   {"scale", {{"value", 50}, {"unit", "PERCENT"}}}})["taskSet"];
  settle();
  EXPECT_EQ(count(TaskStatus::kRunning, "app:1"), 2);
  for (const auto* t : service_tasks()) {
    EXPECT_EQ(t->started_by, blue["id"]);
  }
  auto green = ok("CreateTaskSet", {{"cluster", "dev"},
                                    {"service", "api"},
                                    {"taskDefinition", "web:2"},
                                    {"scale", {{"value", 100}, {"unit", "PERCENT"}}}})["taskSet"];
  settle();
  EXPECT_EQ(count(TaskStatus::kRunning, "app:2"), 4);
  ok("UpdateServicePrimaryTaskSet",
     {{"cluster", "dev"}, {"service", "api"}, {"primaryTaskSet", green["id"]}});
  ok("UpdateTaskSet", {{"cluster", "dev"},
                       {"service", "api"},
                       {"taskSet", blue["id"]},
                       {"scale", {{"value", 25}, {"unit", "PERCENT"}}}});
  settle();
  EXPECT_EQ(count(TaskStatus::kRunning, "app:1"), 1);
  ok("DeleteTaskSet", {{"cluster", "dev"}, {"service", "api"}, {"taskSet", blue["id"]}, {"force", true}});
  settle();
  EXPECT_EQ(count(TaskStatus::kRunning, "app:1"), 0);
  auto sets = ok("DescribeTaskSets", {{"cluster", "dev"}, {"service", "api"}})["taskSets"];
  ASSERT_EQ(sets.size(), 1u);
  EXPECT_EQ(sets[0]["runningCount"], 4);
  EXPECT_EQ(sets[0]["stabilityStatus"], "STEADY_STATE");
  EXPECT_EQ(describe()["taskDefinition"], arn("task-definition/web:2"));
}

TEST_F(ServiceSchedulerTest, FargateServicesSpreadOverTheirCapacityProviders) {
  ok("PutClusterCapacityProviders", {{"cluster", "dev"},
                                     {"capacityProviders", {"FARGATE", "FARGATE_SPOT"}},
                                     {"defaultCapacityProviderStrategy", json::array()}});
  ok("RegisterTaskDefinition", {{"family", "fg"},
                                {"networkMode", "awsvpc"},
                                {"requiresCompatibilities", {"FARGATE"}},
                                {"cpu", "256"},
                                {"memory", "512"},
                                {"containerDefinitions", {{{"name", "app"}, {"image", "app:1"}}}}});
  create_service(4, {{"taskDefinition", "fg"},
                     {"capacityProviderStrategy",
                      {{{"capacityProvider", "FARGATE"}, {"base", 1}, {"weight", 1}},
                       {{"capacityProvider", "FARGATE_SPOT"}, {"weight", 1}}}},
                     {"networkConfiguration", {{"awsvpcConfiguration", {{"subnets", {"subnet-1"}}}}}}});
  settle();
  std::map<std::string, int> per;
  for (const auto* t : service_tasks()) {
    EXPECT_EQ(t->launch_type, "FARGATE");
    EXPECT_EQ(t->platform_version, "1.4.0");
    ++per[t->capacity_provider_name];
  }
  // base 1 on FARGATE, the other three split 1:1.
  EXPECT_EQ(per["FARGATE"] + per["FARGATE_SPOT"], 4);
  EXPECT_GE(per["FARGATE"], 2);
  EXPECT_GE(per["FARGATE_SPOT"], 1);
}

TEST_F(ServiceSchedulerTest, PlanIsPureAndIdempotent) {
  steady_service(2);
  const state::Service& svc = region().services.at("dev/api");
  ServiceSchedulerOptions options;
  const auto a = plan_service(region(), svc, clock_.now_ms(), false, options);
  const auto b = plan_service(region(), svc, clock_.now_ms(), false, options);
  EXPECT_TRUE(a.stops.empty());
  EXPECT_TRUE(a.starts.empty());
  EXPECT_TRUE(a.steady);
  EXPECT_EQ(a.steady, b.steady);
  // Running the whole scheduler again changes nothing either.
  const auto n = runtime_.actions().size();
  const auto events = event_messages().size();
  scheduler_.tick();
  scheduler_.tick();
  settle();
  EXPECT_EQ(runtime_.actions().size(), n);
  EXPECT_EQ(event_messages().size(), events);
}

}  // namespace
}  // namespace berth::scheduler
