#include <berth/scheduler/placement.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include <berth/common/arn.hpp>
#include <berth/state/container_instances.hpp>
#include <berth/state/tasks.hpp>

namespace berth::scheduler {
namespace {

using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

// A cluster of container instances built by hand, and tasks created where placement puts them, as RunTask
// does.
class PlacementTest : public ::testing::Test {
 protected:
  PlacementTest() {
    auto& c = region().clusters["dev"];
    c.name = "dev";
    c.arn = ecs_arn::cluster(scope_, "dev");
  }

  state::RegionState& region() { return store_.region(scope_); }
  const state::Cluster& cluster() { return region().clusters.at("dev"); }

  // An ACTIVE instance "ci<n>" with CPU/MEMORY registered, in `zone`, with extra attributes.
  std::string add_instance(const std::string& zone, std::int64_t cpu = 2048, std::int64_t memory = 1000,
                           std::map<std::string, std::optional<std::string>> attributes = {},
                           const std::string& type = "") {
    state::ContainerInstance ci;
    ci.id = "ci" + std::to_string(++instances_);
    ci.arn = ecs_arn::container_instance(scope_, "dev", ci.id);
    ci.cluster_name = "dev";
    ci.instance_type = type;
    ci.registered_resources =
        json::array({{{"name", "CPU"}, {"type", "INTEGER"}, {"integerValue", cpu}},
                     {{"name", "MEMORY"}, {"type", "INTEGER"}, {"integerValue", memory}},
                     {{"name", "PORTS"},
                      {"type", "STRINGSET"},
                      {"stringSetValue", {"22", "2375", "2376", "51678", "51679"}}},
                     {{"name", "PORTS_UDP"}, {"type", "STRINGSET"}, {"stringSetValue", json::array()}}});
    ci.attributes = {
        {"ecs.availability-zone", zone}, {"ecs.os-type", "linux"}, {"ecs.cpu-architecture", "x86_64"}};
    ci.attributes.insert(attributes.begin(), attributes.end());
    const std::string id = ci.id;
    region().container_instances.emplace(id, std::move(ci));
    return id;
  }
  state::ContainerInstance& instance(const std::string& id) { return region().container_instances.at(id); }

  // A task definition "<family>:1" whose containers are `defs` (bridge unless `extra` says otherwise).
  const state::TaskDefinition& task_definition(const std::string& family, json defs,
                                               json extra = json::object()) {
    state::TaskDefinition td;
    td.family = family;
    td.revision = 1;
    td.arn = ecs_arn::task_definition(scope_, family, 1);
    td.doc = {{"family", family}, {"revision", 1}, {"networkMode", "bridge"}, {"containerDefinitions", defs}};
    td.doc.update(extra);
    auto& revisions = region().task_definitions[family];
    revisions.clear();
    revisions.push_back(td);
    return revisions.back();
  }
  const state::TaskDefinition& sized(const std::string& family, int cpu, int memory,
                                     json extra_container = {}) {
    json c = {{"name", "app"}, {"image", "busybox"}, {"cpu", cpu}, {"memory", memory}};
    if (extra_container.is_object()) {
      c.update(extra_container);
    }
    return task_definition(family, json::array({c}));
  }

  PlacementRequest request(const state::TaskDefinition& td, int count = 1) {
    PlacementRequest r;
    r.cluster = &cluster();
    r.task_definition = &td;
    r.count = count;
    r.group = "family:" + td.family;
    r.random = [this] {
      return next_random_ = next_random_ * 6364136223846793005ULL + 1442695040888963407ULL;
    };
    return r;
  }

  // Places and creates the tasks (as RunTask does); returns the instance ids chosen, "" for none.
  std::vector<std::string> run(const PlacementRequest& r, PlacementResult* out = nullptr) {
    auto result = place(region(), r);
    std::vector<std::string> where;
    for (auto* ci : result.instances) {
      state::NewTask spec;
      spec.group = r.group;
      spec.overrides = r.overrides;
      spec.instance = ci;
      if (r.task_definition->doc.value("networkMode", "") == "awsvpc") {
        spec.network_configuration = {{"awsvpcConfiguration", {{"subnets", {"subnet-1"}}}}};
      }
      auto& t = state::add_task(store_, scope_, cluster(), *r.task_definition, spec, clock_.now_ms());
      last_tasks_.push_back(t.id);
      where.push_back(ci == nullptr ? "" : ci->id);
    }
    if (out != nullptr) {
      *out = result;
    }
    return where;
  }

  static std::vector<std::string> reasons(const PlacementResult& r) {
    std::vector<std::string> out;
    for (const auto& f : r.failures) {
      out.push_back(f["arn"].get<std::string>().substr(f["arn"].get<std::string>().rfind('/') + 1) + " " +
                    f["reason"].get<std::string>());
    }
    return out;
  }

  state::Task& task(const std::string& id) { return region().tasks.at(id); }

  Scope scope_{"000000000000", "us-east-1"};
  ManualClock clock_;
  state::Store store_;
  int instances_ = 0;
  std::uint64_t next_random_ = 42;
  std::vector<std::string> last_tasks_;
};

TEST_F(PlacementTest, WithoutInstancesTasksRunOnBerthsEngine) {
  auto where = run(request(sized("web", 256, 128), 3));
  EXPECT_THAT(where, ElementsAre("", "", ""));
  EXPECT_TRUE(task(last_tasks_[0]).container_instance_arn.empty());
  // A deregistered instance does not count as one.
  add_instance("us-east-1a");
  instance("ci1").status = "INACTIVE";
  EXPECT_THAT(run(request(sized("web", 256, 128))), ElementsAre(""));
}

TEST_F(PlacementTest, EachResourceRefusesWithItsReason) {
  add_instance("us-east-1a", 1024, 512);
  PlacementResult r;
  EXPECT_TRUE(run(request(sized("cpu", 2048, 64)), &r).empty());
  EXPECT_THAT(reasons(r), ElementsAre("ci1 RESOURCE:CPU"));
  EXPECT_TRUE(run(request(sized("mem", 128, 600)), &r).empty());
  EXPECT_THAT(reasons(r), ElementsAre("ci1 RESOURCE:MEMORY"));
  // memoryReservation is what counts, not the hard limit.
  EXPECT_THAT(run(request(sized("soft", 128, 900, {{"memoryReservation", 256}}))), ElementsAre("ci1"));
  EXPECT_TRUE(
      run(request(sized("agentport", 0, 16, {{"portMappings", {{{"containerPort", 80}, {"hostPort", 22}}}}})),
          &r)
          .empty());
  EXPECT_THAT(reasons(r), ElementsAre("ci1 RESOURCE:PORTS"));
  EXPECT_TRUE(
      run(request(sized("gpu", 0, 16, {{"resourceRequirements", {{{"type", "GPU"}, {"value", "1"}}}}})), &r)
          .empty());
  EXPECT_THAT(reasons(r), ElementsAre("ci1 RESOURCE:GPU"));
  instance("ci1").agent_connected = false;
  EXPECT_TRUE(run(request(sized("agent", 0, 16)), &r).empty());
  EXPECT_THAT(reasons(r), ElementsAre("ci1 AGENT"));
}

TEST_F(PlacementTest, StaticHostPortsAreReservedPerInstance) {
  add_instance("us-east-1a");
  add_instance("us-east-1b");
  const auto& td = sized("web", 0, 16, {{"portMappings", {{{"containerPort", 80}, {"hostPort", 8080}}}}});
  PlacementResult r;
  // Two instances may use the same host port; a third task finds both taken.
  EXPECT_THAT(run(request(td, 3), &r), UnorderedElementsAre("ci1", "ci2"));
  EXPECT_THAT(reasons(r), ElementsAre("ci1 RESOURCE:PORTS", "ci2 RESOURCE:PORTS"));
  auto usage = state::instance_usage(instance("ci1"), region());
  EXPECT_EQ(usage.tcp_ports, std::set<int>({8080}));
  // UDP ports are their own set; dynamic ports (no hostPort) are not reserved at all.
  EXPECT_THAT(run(request(sized(
                  "dns", 0, 16,
                  {{"portMappings", {{{"containerPort", 53}, {"hostPort", 8080}, {"protocol", "udp"}}}}}))),
              ::testing::SizeIs(1));
  EXPECT_THAT(run(request(sized("dyn", 0, 16, {{"portMappings", {{{"containerPort", 80}}}}}), 4)),
              ::testing::SizeIs(4));
  // A stopped task gives its port back.
  task(last_tasks_[0]).last_status = state::TaskStatus::kStopped;
  task(last_tasks_[1]).last_status = state::TaskStatus::kStopped;
  EXPECT_THAT(run(request(td)), ::testing::SizeIs(1));
}

TEST_F(PlacementTest, AwsvpcTasksNeedAnInterfaceAndTheTaskEniCapability) {
  add_instance("us-east-1a", 2048, 4000, {{"ecs.capability.task-eni", std::nullopt}}, "t3.micro");
  add_instance("us-east-1b", 2048, 4000, {}, "t3.micro");
  const auto& td =
      task_definition("vpc",
                      json::array({{{"name", "app"},
                                    {"image", "busybox"},
                                    {"memory", 64},
                                    {"portMappings", {{{"containerPort", 80}, {"hostPort", 80}}}}}}),
                      {{"networkMode", "awsvpc"}});
  PlacementResult r;
  // A t3.micro has two interfaces: one for itself, one for a task. awsvpc ports are the task's own.
  EXPECT_THAT(run(request(td, 2), &r), ElementsAre("ci1"));
  EXPECT_THAT(reasons(r), ElementsAre("ci1 RESOURCE:ENI", "ci2 ATTRIBUTE"));
  EXPECT_TRUE(state::instance_usage(instance("ci1"), region()).tcp_ports.empty());
}

TEST_F(PlacementTest, RequiredAttributesFollowTheTaskDefinition) {
  const auto& td = task_definition(
      "full",
      json::array(
          {{{"name", "a"},
            {"image", "x"},
            {"memory", 8},
            {"logConfiguration", {{"logDriver", "awslogs"}}},
            {"healthCheck", {{"command", {"CMD", "true"}}}},
            {"privileged", true},
            {"secrets", {{{"name", "S"}, {"valueFrom", "arn:aws:secretsmanager:us-east-1:1:secret:x"}}}}},
           {{"name", "b"},
            {"image", "x"},
            {"memory", 8},
            {"dependsOn", {{{"containerName", "a"}}}},
            {"secrets", {{{"name", "P"}, {"valueFrom", "/param"}}}},
            {"environmentFiles", {{{"value", "arn:aws:s3:::b/k"}, {"type", "s3"}}}}}}),
      {{"networkMode", "awsvpc"},
       {"taskRoleArn", "arn:aws:iam::1:role/r"},
       {"cpu", "256"},
       {"runtimePlatform", {{"cpuArchitecture", "ARM64"}}},
       {"volumes", {{{"name", "v"}, {"efsVolumeConfiguration", {{"fileSystemId", "fs-1"}}}}}}});
  std::vector<std::string> names;
  for (const auto& [name, value] : required_attributes(td, json::object())) {
    names.push_back(name + (value ? "=" + *value : ""));
  }
  EXPECT_THAT(
      names, UnorderedElementsAre(
                 "ecs.capability.task-eni", "com.amazonaws.ecs.capability.task-iam-role",
                 "ecs.capability.task-cpu-mem-limit", "com.amazonaws.ecs.capability.logging-driver.awslogs",
                 "ecs.capability.container-health-check", "com.amazonaws.ecs.capability.privileged-container",
                 "ecs.capability.secrets.asm.environment-variables", "ecs.capability.container-ordering",
                 "ecs.capability.secrets.ssm.environment-variables", "ecs.capability.env-files.s3",
                 "ecs.capability.efsAuth", "ecs.cpu-architecture=arm64"));
  // An x86 instance does not take an ARM64 task: the attribute exists but its value differs.
  add_instance("us-east-1a");
  const auto& arm = task_definition("arm", json::array({{{"name", "a"}, {"image", "x"}, {"memory", 8}}}),
                                    {{"runtimePlatform", {{"cpuArchitecture", "ARM64"}}}});
  PlacementResult r;
  EXPECT_TRUE(run(request(arm), &r).empty());
  EXPECT_THAT(reasons(r), ElementsAre("ci1 ATTRIBUTE"));
  // A role given as an override needs the role capability too.
  EXPECT_EQ(required_attributes(sized("plain", 0, 8), {{"taskRoleArn", "arn:aws:iam::1:role/r"}}).size(), 1u);
}

TEST_F(PlacementTest, BinpackFillsOneInstanceBeforeTheNext) {
  add_instance("us-east-1a", 2048, 1000);
  add_instance("us-east-1b", 2048, 1000);
  auto r = request(sized("web", 0, 300), 1);
  r.strategy = json::array({{{"type", "binpack"}, {"field", "memory"}}});
  const std::string first = run(r)[0];
  const std::string second = first == "ci1" ? "ci2" : "ci1";
  // The instance with the least memory left that still fits, until it is full.
  EXPECT_THAT(run(r), ElementsAre(first));
  EXPECT_THAT(run(r), ElementsAre(first));
  EXPECT_THAT(run(r), ElementsAre(second));
  r.count = 3;
  PlacementResult out;
  EXPECT_THAT(run(r, &out), ElementsAre(second, second));
  EXPECT_THAT(reasons(out), UnorderedElementsAre("ci1 RESOURCE:MEMORY", "ci2 RESOURCE:MEMORY"));
  EXPECT_EQ(out.closest_reason, "RESOURCE:MEMORY");
}

TEST_F(PlacementTest, BinpackOnCpuLooksAtCpuOnly) {
  add_instance("us-east-1a", 4096, 1000);
  add_instance("us-east-1b", 2048, 8000);
  auto r = request(sized("web", 1024, 100));
  r.strategy = json::array({{{"type", "binpack"}, {"field", "CPU"}}});
  // ci2 has less CPU left, although it has far more memory.
  EXPECT_THAT(run(r), ElementsAre("ci2"));
  EXPECT_THAT(run(r), ElementsAre("ci2"));
  EXPECT_THAT(run(r), ElementsAre("ci1"));
}

TEST_F(PlacementTest, SpreadOnInstanceIdAlternates) {
  add_instance("us-east-1a");
  add_instance("us-east-1a");
  auto r = request(sized("web", 0, 10), 4);
  r.strategy = json::array({{{"type", "spread"}, {"field", "instanceId"}}});
  auto where = run(r);
  ASSERT_EQ(where.size(), 4u);
  EXPECT_NE(where[0], where[1]);
  EXPECT_EQ(where[0], where[2]);
  EXPECT_EQ(where[1], where[3]);
  // Only the group counts: another family's tasks do not unbalance it.
  r.count = 1;
  r.group = "family:other";
  r.task_definition = &sized("other", 0, 10);
  r.strategy = json::array({{{"type", "spread"}, {"field", "host"}}});
  EXPECT_THAT(run(r), ::testing::SizeIs(1));
}

TEST_F(PlacementTest, SpreadOnZonesCountsEveryInstanceOfAZone) {
  add_instance("us-east-1a");
  add_instance("us-east-1a");
  add_instance("us-east-1b");
  auto r = request(sized("web", 0, 10), 4);
  r.strategy = json::array({{{"type", "spread"}, {"field", "attribute:ecs.availability-zone"}}});
  auto where = run(r);
  std::map<std::string, int> per_zone;
  for (const auto& id : where) {
    ++per_zone[*instance(id).attributes.at("ecs.availability-zone")];
  }
  EXPECT_EQ(per_zone["us-east-1a"], 2);
  EXPECT_EQ(per_zone["us-east-1b"], 2);
}

TEST_F(PlacementTest, ChainedStrategiesBreakTiesInOrder) {
  // Spread over zones first, then binpack memory inside a zone.
  add_instance("us-east-1a", 2048, 1000);
  add_instance("us-east-1a", 2048, 600);
  add_instance("us-east-1b", 2048, 1000);
  auto r = request(sized("web", 0, 100), 4);
  r.strategy = json::array({{{"type", "spread"}, {"field", "attribute:ecs.availability-zone"}},
                            {{"type", "binpack"}, {"field", "memory"}}});
  auto where = run(r);
  // Zone a gets two tasks, both on its fuller instance (ci2); zone b gets two on ci3.
  EXPECT_THAT(where, UnorderedElementsAre("ci2", "ci2", "ci3", "ci3"));
  // Spread then spread (the service default): zones, then instances within a zone.
  auto d = request(sized("svc", 0, 10), 4);
  d.strategy = default_service_strategy();
  d.group = "service:svc";
  std::map<std::string, int> count;
  for (const auto& id : run(d)) {
    ++count[id];
  }
  EXPECT_EQ(count["ci1"], 1);
  EXPECT_EQ(count["ci2"], 1);
  EXPECT_EQ(count["ci3"], 2);
}

TEST_F(PlacementTest, RandomUsesEveryInstanceAndIsTheDefault) {
  add_instance("us-east-1a", 100000, 100000);
  add_instance("us-east-1b", 100000, 100000);
  add_instance("us-east-1c", 100000, 100000);
  std::map<std::string, int> count;
  for (const auto& id : run(request(sized("web", 1, 1), 10))) {
    ++count[id];
  }
  for (const auto& id : run(request(sized("web", 1, 1), 10))) {
    ++count[id];
  }
  EXPECT_EQ(count.size(), 3u);
  // The same draws give the same choices.
  next_random_ = 7;
  auto a = place(region(), request(sized("x", 1, 1), 5));
  next_random_ = 7;
  auto b = place(region(), request(sized("x", 1, 1), 5));
  EXPECT_EQ(a.instances, b.instances);
}

TEST_F(PlacementTest, DistinctInstancePlacesOnePerInstance) {
  add_instance("us-east-1a");
  add_instance("us-east-1b");
  auto r = request(sized("web", 0, 10), 3);
  r.constraints = json::array({{{"type", "distinctInstance"}}});
  PlacementResult out;
  EXPECT_THAT(run(r, &out), UnorderedElementsAre("ci1", "ci2"));
  EXPECT_THAT(reasons(out), ElementsAre("ci1 DistinctInstance placement constraint unsatisfied.",
                                        "ci2 DistinctInstance placement constraint unsatisfied."));
  // Across calls too, and per group: another group may still go anywhere.
  r.count = 1;
  EXPECT_TRUE(run(r).empty());
  r.group = "family:other";
  EXPECT_THAT(run(r), ::testing::SizeIs(1));
}

TEST_F(PlacementTest, MemberOfFiltersWithTheClusterQueryLanguage) {
  add_instance("us-east-1a", 2048, 1000, {{"stack", "prod"}}, "t3.micro");
  add_instance("us-east-1b", 2048, 1000, {{"stack", "dev"}}, "m5.large");
  add_instance("us-east-1c", 2048, 1000, {}, "c5.large");
  auto where = [&](const std::string& expression) {
    auto r = request(sized("web", 0, 1), 1);
    r.constraints = json::array({{{"type", "memberOf"}, {"expression", expression}}});
    auto out = place(region(), r);
    return out.instances.empty() ? std::string() : out.instances[0]->id;
  };
  EXPECT_EQ(where("attribute:stack == prod"), "ci1");
  EXPECT_EQ(where("attribute:ecs.availability-zone in [us-east-1b, us-east-1c] and attribute:stack exists"),
            "ci2");
  EXPECT_EQ(where("not(attribute:stack exists)"), "ci3");
  EXPECT_NE(where("attribute:stack !exists or attribute:stack == dev"), "ci1");
  EXPECT_EQ(where("attribute:stack == nothing"), "");
  // task:group sees tasks placed before (including those of this very call).
  auto db = request(sized("db", 0, 1));
  db.constraints = json::array({{{"type", "memberOf"}, {"expression", "attribute:stack == dev"}}});
  EXPECT_THAT(run(db), ElementsAre("ci2"));
  EXPECT_EQ(where("task:group == family:db"), "ci2");
  EXPECT_EQ(where("runningTasksCount == 0 and task:group != family:db and attribute:stack exists"), "ci1");
  // The task definition's own constraints apply as well.
  const auto& pinned = task_definition(
      "pinned", json::array({{{"name", "a"}, {"image", "x"}, {"memory", 8}}}),
      {{"placementConstraints", {{{"type", "memberOf"}, {"expression", "attribute:stack == prod"}}}}});
  PlacementResult out;
  EXPECT_THAT(run(request(pinned, 1), &out), ElementsAre("ci1"));
  auto both = request(pinned);
  both.constraints = json::array({{{"type", "memberOf"}, {"expression", "attribute:stack == dev"}}});
  EXPECT_TRUE(run(both, &out).empty());
  EXPECT_THAT(reasons(out), ElementsAre("ci1 MemberOf placement constraint unsatisfied.",
                                        "ci2 MemberOf placement constraint unsatisfied.",
                                        "ci3 MemberOf placement constraint unsatisfied."));
}

TEST_F(PlacementTest, DrainingInstancesTakeNoTasks) {
  add_instance("us-east-1a");
  add_instance("us-east-1b");
  instance("ci1").status = "DRAINING";
  EXPECT_THAT(run(request(sized("web", 0, 10), 3)), ElementsAre("ci2", "ci2", "ci2"));
  instance("ci2").status = "DRAINING";
  auto out = place(region(), request(sized("web", 0, 10)));
  EXPECT_TRUE(out.instances.empty());
  EXPECT_TRUE(out.no_active_instances);
  EXPECT_EQ(
      unplaced_event_message("web", out),
      "(service web) was unable to place a task. Reason: No Container Instances were found in your cluster.");
  // Draining tasks are found for the service scheduler to move.
  EXPECT_EQ(state::tasks_on_draining_instances(region(), "dev").size(), 3u);
}

TEST_F(PlacementTest, OnlyInstancesChecksEachNamedInstance) {
  add_instance("us-east-1a", 2048, 500);
  add_instance("us-east-1b", 2048, 500);
  add_instance("us-east-1c", 2048, 500);
  instance("ci3").status = "DRAINING";
  auto r = request(sized("web", 0, 300));
  r.only_instances = {"ci1", instance("ci2").arn, "ci1", "ci3", "nope"};
  PlacementResult out;
  // ci1 fits one task, not two; the unknown instance is MISSING with its full ARN; a draining one INACTIVE.
  EXPECT_THAT(run(r, &out), ElementsAre("ci1", "ci2"));
  EXPECT_THAT(reasons(out), ElementsAre("ci1 RESOURCE:MEMORY", "ci3 INACTIVE", "nope MISSING"));
  EXPECT_EQ(out.failures[2]["arn"], ecs_arn::container_instance(scope_, "dev", "nope"));
  EXPECT_EQ(out.closest_instance_id, "ci1");
}

TEST_F(PlacementTest, TheClosestInstanceNamesTheFurthestCheck) {
  add_instance("us-east-1a", 512, 4000, {}, "");
  add_instance("us-east-1b", 256, 4000, {}, "");
  add_instance("us-east-1c", 4096, 100, {}, "");
  auto r = request(sized("web", 1024, 200));
  auto out = place(region(), r);
  // The memory check comes after the CPU check: ci3 got further.
  EXPECT_EQ(out.closest_instance_id, "ci3");
  EXPECT_EQ(out.closest_reason, "RESOURCE:MEMORY");
  EXPECT_EQ(
      unplaced_event_message("api", out),
      "(service api) was unable to place a task because no container instance met all of its requirements. "
      "The closest matching container-instance ci3 has insufficient memory available. For more information, "
      "see the Troubleshooting section of the Amazon ECS Developer Guide.");
  // Among instances refused for CPU, the one with the most CPU left is the closest.
  instance("ci3").registered_resources[1]["integerValue"] = 8000;
  instance("ci3").registered_resources[0]["integerValue"] = 10;
  out = place(region(), r);
  EXPECT_EQ(out.closest_instance_id, "ci1");
  EXPECT_THAT(unplaced_event_message("api", out),
              ::testing::HasSubstr("ci1 has insufficient CPU units available."));
  r.constraints = json::array({{{"type", "memberOf"}, {"expression", "attribute:x == y"}}});
  r.task_definition = &sized("tiny", 1, 1);
  out = place(region(), r);
  EXPECT_THAT(unplaced_event_message("api", out),
              ::testing::HasSubstr("encountered error \"MemberOf placement constraint unsatisfied.\"."));
}

json repeated(int n, const json& item) { return json(std::vector<json>(static_cast<std::size_t>(n), item)); }

TEST_F(PlacementTest, CheckPlacementAnswersTheEcsError) {
  const auto& td = sized("web", 0, 8);
  auto error = [&](const json& constraints, const json& strategy) {
    auto e = check_placement(constraints, strategy, &td);
    return e ? e->type + ": " + e->message : std::string();
  };
  EXPECT_EQ(error(json::array(), json::array()), "");
  EXPECT_EQ(error(json::array({{{"type", "memberOf"}, {"expression", "attribute:a == b"}}}),
                  json::array({{{"type", "binpack"}, {"field", "memory"}}, {{"type", "random"}}})),
            "");
  EXPECT_THAT(error(json::array({{{"type", "memberOf"}, {"expression", "attribute:a =="}}}), json::array()),
              ::testing::StartsWith("InvalidParameterException: The cluster query expression is not valid"));
  EXPECT_THAT(
      error(json::array({{{"type", "memberOf"}, {"expression", "(attribute:a == b"}}}), json::array()),
      ::testing::HasSubstr("expected ')'"));
  EXPECT_THAT(error(json::array({{{"type", "memberOf"}, {"expression", "bogus:x == 1"}}}), json::array()),
              ::testing::HasSubstr("unknown subject"));
  EXPECT_THAT(error(json::array({{{"type", "memberOf"}}}), json::array()),
              ::testing::HasSubstr("requires an expression"));
  EXPECT_THAT(error(json::array({{{"type", "distinctInstance"}, {"expression", "x == 1"}}}), json::array()),
              ::testing::HasSubstr("cannot be specified"));
  EXPECT_THAT(error(json::array(), json::array({{{"type", "binpack"}, {"field", "disk"}}})),
              ::testing::HasSubstr("must be cpu or memory"));
  EXPECT_THAT(error(json::array(), json::array({{{"type", "spread"}}})), ::testing::HasSubstr("spread"));
  EXPECT_THAT(error(json::array(), repeated(6, json({{"type", "random"}}))), ::testing::HasSubstr("up to 5"));
  EXPECT_THAT(error(repeated(11, json({{"type", "distinctInstance"}})), json::array()),
              ::testing::HasSubstr("up to 10"));
  // The task definition's constraints count towards the ten.
  const auto& constrained =
      task_definition("c", json::array({{{"name", "a"}, {"image", "x"}, {"memory", 8}}}),
                      {{"placementConstraints",
                        repeated(4, json({{"type", "memberOf"}, {"expression", "attribute:a exists"}}))}});
  EXPECT_TRUE(
      check_placement(repeated(7, json({{"type", "distinctInstance"}})), json::array(), &constrained));
  EXPECT_FALSE(
      check_placement(repeated(6, json({{"type", "distinctInstance"}})), json::array(), &constrained));
  // A task definition whose own expression does not parse cannot be placed, and says why.
  const auto& broken = task_definition(
      "b", json::array({{{"name", "a"}, {"image", "x"}, {"memory", 8}}}),
      {{"placementConstraints", {{{"type", "memberOf"}, {"expression", "attribute:a in [x"}}}}});
  auto e = check_placement(json::array(), json::array(), &broken);
  ASSERT_TRUE(e);
  EXPECT_THAT(e->message, ::testing::HasSubstr("The cluster query expression is not valid"));
}

TEST_F(PlacementTest, ScaleInTakesFromTheFullestZoneThenTheFullestInstance) {
  add_instance("us-east-1a");
  add_instance("us-east-1a");
  add_instance("us-east-1b");
  auto r = request(sized("svc", 0, 10));
  r.group = "service:svc";
  r.only_instances = {"ci1", "ci1", "ci2", "ci3"};
  run(r);
  std::vector<const state::Task*> tasks;
  for (const auto& id : last_tasks_) {
    task(id).last_status = state::TaskStatus::kRunning;
    tasks.push_back(&task(id));
  }
  auto order = order_for_scale_in(region(), tasks, json::array());
  std::vector<std::string> where;
  for (const auto* t : order) {
    where.push_back(state::instance_of(region(), *t)->id);
  }
  // Zone a holds three: its fullest instance (ci1) loses one first, then zone a still leads (ci1 / ci2 tie).
  ASSERT_EQ(where.size(), 4u);
  EXPECT_EQ(where[0], "ci1");
  EXPECT_NE(where[1], "ci3");
  EXPECT_EQ(where[3], "ci3");
}

TEST_F(PlacementTest, ScaleInUnderBinpackEmptiesTheLeastUsedInstance) {
  add_instance("us-east-1a", 2048, 1000);
  add_instance("us-east-1a", 2048, 1000);
  auto r = request(sized("svc", 0, 300));
  r.group = "service:svc";
  r.only_instances = {"ci1", "ci1", "ci1", "ci2"};
  run(r);
  std::vector<const state::Task*> tasks;
  for (const auto& id : last_tasks_) {
    tasks.push_back(&task(id));
  }
  const json binpack = json::array({{{"type", "binpack"}, {"field", "memory"}}});
  auto order = order_for_scale_in(region(), tasks, binpack);
  EXPECT_EQ(state::instance_of(region(), *order[0])->id, "ci2");
  // Ties (same instance) go to tasks not running yet, then to the newest.
  task(last_tasks_[0]).last_status = state::TaskStatus::kRunning;
  task(last_tasks_[1]).last_status = state::TaskStatus::kRunning;
  task(last_tasks_[2]).last_status = state::TaskStatus::kRunning;
  task(last_tasks_[1]).created_at += 1000;
  tasks.pop_back();
  order = order_for_scale_in(region(), tasks, binpack);
  EXPECT_EQ(order[0]->id, last_tasks_[1]);
  task(last_tasks_[0]).last_status = state::TaskStatus::kPending;
  order = order_for_scale_in(region(), tasks, binpack);
  EXPECT_EQ(order[0]->id, last_tasks_[0]);
}

TEST_F(PlacementTest, AccountingFollowsTheTasks) {
  add_instance("us-east-1a", 2048, 1000);
  const auto& td = sized("web", 512, 256, {{"portMappings", {{{"containerPort", 80}, {"hostPort", 9000}}}}});
  run(request(td));
  auto usage = state::instance_usage(instance("ci1"), region());
  EXPECT_EQ(usage.cpu, 512);
  EXPECT_EQ(usage.memory, 256);
  EXPECT_EQ(usage.pending, 1);
  EXPECT_EQ(usage.running, 0);
  task(last_tasks_[0]).last_status = state::TaskStatus::kRunning;
  usage = state::instance_usage(instance("ci1"), region());
  EXPECT_EQ(usage.running, 1);
  EXPECT_EQ(usage.pending, 0);
  auto remaining = state::remaining_resources(instance("ci1"), usage);
  EXPECT_EQ(remaining[0]["integerValue"], 2048 - 512);
  EXPECT_EQ(remaining[1]["integerValue"], 1000 - 256);
  EXPECT_EQ(remaining[2]["stringSetValue"], json({"22", "2375", "2376", "51678", "51679", "9000"}));
  // Stopping: still holds its resources, counted neither running nor pending.
  task(last_tasks_[0]).last_status = state::TaskStatus::kStopping;
  usage = state::instance_usage(instance("ci1"), region());
  EXPECT_EQ(usage.memory, 256);
  EXPECT_EQ(usage.running + usage.pending, 0);
  task(last_tasks_[0]).last_status = state::TaskStatus::kStopped;
  EXPECT_EQ(state::instance_usage(instance("ci1"), region()).memory, 0);
  // A forgotten task leaves the instance's list.
  store_.erase_task(last_tasks_[0]);
  EXPECT_TRUE(instance("ci1").task_ids.empty());
}

}  // namespace
}  // namespace berth::scheduler

namespace berth::scheduler {
namespace {

// Random mutations of valid memberOf expressions: check_placement answers InvalidParameterException or
// nothing, and place() never throws, whatever it is given.
TEST_F(PlacementTest, MutatedExpressionsNeverCrashPlacement) {
  add_instance("us-east-1a", 2048, 1000, {{"stack", "prod"}});
  const auto& td = sized("web", 0, 8);
  const std::vector<std::string> seeds = {
      "attribute:stack == prod and not(task:group == family:db)",
      "attribute:ecs.availability-zone in [us-east-1a, 'us-east-1b'] || runningTasksCount < 3",
      "(agentConnected == true) && attribute:ecs.instance-type =~ t3\\..*",
      "registeredAt >= 2018-06-18T22:28:28+00:00 or ec2InstanceId !in [i-1]"};
  const std::string alphabet = "()[],!=~<>&|' \"abc:.*-_0123456789";
  std::uint64_t state = 12345;
  auto next = [&] { return state = state * 6364136223846793005ULL + 1442695040888963407ULL; };
  int accepted = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string e = seeds[next() % seeds.size()];
    for (int m = 0, n = static_cast<int>(next() % 4) + 1; m < n && !e.empty(); ++m) {
      const std::size_t at = next() % e.size();
      switch (next() % 3) {
        case 0:
          e.erase(at, 1 + next() % 3);
          break;
        case 1:
          e.insert(at, 1, alphabet[next() % alphabet.size()]);
          break;
        default:
          e[at] = alphabet[next() % alphabet.size()];
      }
    }
    const json constraints = json::array({{{"type", "memberOf"}, {"expression", e}}});
    auto error = check_placement(constraints, json::array(), &td);
    if (error) {
      EXPECT_EQ(error->type, "InvalidParameterException") << e;
      EXPECT_EQ(error->http_status, 400);
    } else {
      ++accepted;
    }
    auto r = request(td);
    r.constraints = constraints;
    EXPECT_NO_THROW(place(region(), r)) << e;
  }
  EXPECT_GT(accepted, 0);
}

}  // namespace
}  // namespace berth::scheduler
