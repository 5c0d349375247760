#include <berth/runtime/docker_runtime.hpp>

#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <berth/common/ids.hpp>

#include "fakes/fake_docker_daemon.hpp"

namespace berth::runtime {
namespace {

using berth::testing::FakeDockerDaemon;
using berth::testing::FakeHttpRequest;
using berth::testing::FakeHttpResponse;
using nlohmann::json;
using namespace std::chrono_literals;

// A bound on waiting for something that should happen at once; only a hang ever reaches it.
constexpr auto kWait = 10s;
const std::string kSha = "sha256:" + std::string(64, 'a');

// Stands in for the control strand: completions queue here and run only when the test drains them, on the
// test's thread, which also proves none of them ran inline in the caller.
class PostQueue {
 public:
  ContainerRuntime::Poster poster() {
    return [this](std::function<void()> fn) {
      {
        std::lock_guard lock(mutex_);
        queue_.push_back(std::move(fn));
      }
      cv_.notify_all();
    };
  }

  // Runs posted closures until `done` holds; false if it still doesn't after `timeout`.
  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds timeout = kWait) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
      std::function<void()> fn;
      {
        std::unique_lock lock(mutex_);
        if (!cv_.wait_until(lock, deadline, [&] { return !queue_.empty(); })) {
          return done();
        }
        fn = std::move(queue_.front());
        queue_.pop_front();
      }
      fn();
    }
    return true;
  }

  std::size_t pending() const {
    std::lock_guard lock(mutex_);
    return queue_.size();
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
};

// Starts one operation and waits for its completion to be posted and run.
template <typename T, typename Op>
T await(PostQueue& posts, Op&& op) {
  std::optional<T> out;
  op([&out](T v) { out = std::move(v); });
  EXPECT_FALSE(out.has_value()) << "completion ran inline";
  if (!posts.run_until([&] { return out.has_value(); })) {
    ADD_FAILURE() << "no completion within " << kWait.count() << " s";
    return T{};
  }
  return std::move(*out);
}

FakeHttpResponse ok(std::string body, int status = 200) { return FakeHttpResponse{status, std::move(body)}; }
FakeHttpResponse stream() {
  FakeHttpResponse r;
  r.hold_open = true;
  return r;
}
FakeHttpResponse chunked(std::vector<std::string> chunks) {
  FakeHttpResponse r;
  r.chunks = std::move(chunks);
  return r;
}

class DockerRuntimeTest : public ::testing::Test {
 protected:
  DockerRuntime::Options options(std::string host) {
    DockerRuntime::Options o;
    o.host = std::move(host);
    o.post = posts_.poster();
    o.reconnect_min = 10ms;
    o.reconnect_max = 40ms;
    return o;
  }

  template <typename T, typename Op>
  T run(Op&& op) {
    return await<T>(posts_, std::forward<Op>(op));
  }

  // Declaration order matters: the runtime goes first, so its thread never posts into a dead queue.
  FakeDockerDaemon daemon_;
  PostQueue posts_;
  std::unique_ptr<DockerRuntime> rt_ = std::make_unique<DockerRuntime>(options(daemon_.host()));
};

// --- container instance cgroups ----------------------------------------------------------------------------

class DockerCgroupTest : public DockerRuntimeTest {
 protected:
  DockerCgroupTest() {
    root_ = std::filesystem::temp_directory_path() / ("berth-cgroups-" + ids::hex32());
    std::filesystem::create_directories(root_);
  }
  ~DockerCgroupTest() override {
    cgroup_rt_.reset();
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  DockerRuntime& runtime_with_root() {
    auto o = options(daemon_.host());
    o.cgroup_root = root_.string();
    cgroup_rt_ = std::make_unique<DockerRuntime>(o);
    return *cgroup_rt_;
  }
  void engine_says(const std::string& driver, const std::string& version) {
    daemon_.on("GET", "/v1.41/info", ok(json{{"CgroupDriver", driver}, {"CgroupVersion", version}}.dump()));
  }
  std::string read(const std::filesystem::path& p) {
    std::ifstream in(root_ / p);
    std::string s;
    std::getline(in, s);
    return s;
  }
  CgroupOutcome ensure(DockerRuntime& rt, const std::string& name) {
    return run<CgroupOutcome>([&](auto cb) { rt.ensure_cgroup(CgroupSpec{name, 2048, 998LL << 20}, cb); });
  }

  std::filesystem::path root_;
  std::unique_ptr<DockerRuntime> cgroup_rt_;
};

TEST_F(DockerCgroupTest, CgroupV1WritesMemoryAndCpuWhereTheCgroupfsDriverLooks) {
  engine_says("cgroupfs", "1");
  auto& rt = runtime_with_root();
  auto out = ensure(rt, "berth/ci1");
  ASSERT_FALSE(out.error);
  EXPECT_EQ(out.parent, "/berth/ci1");
  EXPECT_EQ(out.note, "");
  EXPECT_EQ(read("memory/berth/ci1/memory.limit_in_bytes"), std::to_string(998LL << 20));
  EXPECT_EQ(read("cpu/berth/ci1/cpu.cfs_period_us"), "100000");
  EXPECT_EQ(read("cpu/berth/ci1/cpu.cfs_quota_us"), "200000");
  // The layout is asked once.
  ensure(rt, "berth/ci2");
  EXPECT_EQ(daemon_.requests_to("GET", "/v1.41/info").size(), 1u);
  // The engine's runtime makes the group in every hierarchy: removal takes it (and its empty parent) from
  // each.
  std::filesystem::create_directories(root_ / "pids" / "berth" / "ci1");
  // (Unlike cgroupfs, a plain directory keeps the files written into it: clear them so rmdir can work.)
  std::filesystem::remove(root_ / "memory/berth/ci1/memory.limit_in_bytes");
  std::filesystem::remove(root_ / "cpu/berth/ci1/cpu.cfs_period_us");
  std::filesystem::remove(root_ / "cpu/berth/ci1/cpu.cfs_quota_us");
  run<Done>([&](auto cb) { rt.remove_cgroup("berth/ci1", cb); });
  EXPECT_FALSE(std::filesystem::exists(root_ / "memory/berth/ci1"));
  EXPECT_FALSE(std::filesystem::exists(root_ / "cpu/berth/ci1"));
  EXPECT_FALSE(std::filesystem::exists(root_ / "pids/berth"));
  EXPECT_TRUE(std::filesystem::exists(root_ / "memory/berth/ci2"));  // another group stays
}

TEST_F(DockerCgroupTest, CgroupV2EnablesTheControllersOnTheWayDown) {
  engine_says("cgroupfs", "2");
  std::ofstream(root_ / "cgroup.controllers") << "cpuset cpu io memory hugetlb pids\n";
  auto& rt = runtime_with_root();
  auto out = ensure(rt, "berth/ci1");
  ASSERT_FALSE(out.error);
  EXPECT_EQ(out.parent, "/berth/ci1");
  EXPECT_EQ(read("cgroup.subtree_control"), "+cpu +memory");
  EXPECT_EQ(read("berth/cgroup.subtree_control"), "+cpu +memory");
  EXPECT_EQ(read("berth/ci1/memory.max"), std::to_string(998LL << 20));
  EXPECT_EQ(read("berth/ci1/cpu.max"), "200000 100000");
}

TEST_F(DockerCgroupTest, WhatCannotBeWrittenRunsUncappedWithAReason) {
  engine_says("systemd", "2");
  auto out = ensure(runtime_with_root(), "berth/ci1");
  EXPECT_FALSE(out.error);
  EXPECT_EQ(out.parent, "");
  EXPECT_THAT(out.note, ::testing::HasSubstr("systemd cgroup driver"));
  EXPECT_FALSE(std::filesystem::exists(root_ / "berth"));
}

TEST_F(DockerCgroupTest, AReadOnlyOrIncompleteHierarchyIsANoteNotAnError) {
  engine_says("cgroupfs", "2");
  std::ofstream(root_ / "cgroup.controllers") << "cpu pids\n";  // no memory controller
  auto out = ensure(runtime_with_root(), "berth/ci1");
  EXPECT_FALSE(out.error);
  EXPECT_EQ(out.parent, "");
  EXPECT_THAT(out.note, ::testing::HasSubstr("memory controller"));
  // A name that would leave the hierarchy is refused.
  out = ensure(*cgroup_rt_, "../escape");
  EXPECT_EQ(out.parent, "");
  EXPECT_THAT(out.note, ::testing::HasSubstr("invalid cgroup name"));
}

// --- image references -------------------------------------------------------------------------------------

TEST(ImageReference, DefaultsRegistryLibraryAndTag) {
  auto r = parse_image_reference("busybox");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->registry, "docker.io");
  EXPECT_EQ(r->path, "library/busybox");
  EXPECT_EQ(r->tag, "latest");
  EXPECT_EQ(r->digest, "");
  EXPECT_EQ(r->familiar_name(), "busybox");
  EXPECT_EQ(r->pinned(), "busybox:latest");
}

TEST(ImageReference, RegistryWithPortIsNotATag) {
  auto r = parse_image_reference("localhost:5000/team/app");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->registry, "localhost:5000");
  EXPECT_EQ(r->path, "team/app");
  EXPECT_EQ(r->tag, "latest");
  EXPECT_EQ(r->familiar_name(), "localhost:5000/team/app");

  auto ecr = parse_image_reference("123456789012.dkr.ecr.us-east-1.amazonaws.com/web:v1.2-rc_3");
  ASSERT_TRUE(ecr);
  EXPECT_EQ(ecr->registry, "123456789012.dkr.ecr.us-east-1.amazonaws.com");
  EXPECT_EQ(ecr->path, "web");
  EXPECT_EQ(ecr->tag, "v1.2-rc_3");
}

TEST(ImageReference, DigestWinsOverTagForPulls) {
  auto r = parse_image_reference("nginx:1.25@" + kSha);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->tag, "1.25");
  EXPECT_EQ(r->digest, kSha);
  EXPECT_EQ(r->pull_tag(), kSha);
  EXPECT_EQ(r->pinned(), "nginx@" + kSha);

  auto bare = parse_image_reference("localhost:5000/app@" + kSha);
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->tag, "");
  EXPECT_EQ(bare->pull_tag(), kSha);
}

TEST(ImageReference, UserRepositoriesKeepTheirPath) {
  auto r = parse_image_reference("amazon/amazon-ecs-agent:latest");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->registry, "docker.io");
  EXPECT_EQ(r->path, "amazon/amazon-ecs-agent");
  EXPECT_EQ(r->familiar_name(), "amazon/amazon-ecs-agent");
  EXPECT_EQ(parse_image_reference("docker.io/library/busybox")->familiar_name(), "busybox");
  EXPECT_EQ(parse_image_reference("index.docker.io/library/busybox")->registry, "docker.io");
}

TEST(ImageReference, RejectsMalformedReferences) {
  std::string error;
  EXPECT_FALSE(parse_image_reference("Busybox", &error));
  EXPECT_EQ(error, "invalid reference format: repository name must be lowercase");
  for (const char* bad : {"", ":latest", "busybox:", "busybox@sha256:abc", "a//b", "-a", "busybox:-x",
                          "busybox:tag with space", "host:port/app", "a__-b"}) {
    EXPECT_FALSE(parse_image_reference(bad)) << bad;
  }
  for (const char* good : {"a-b", "a--b", "a.b_c__d", "my.registry/a/b/c:1", "localhost/app"}) {
    EXPECT_TRUE(parse_image_reference(good)) << good;
  }
}

// --- host and version
// ---------------------------------------------------------------------------------------

TEST(DockerHost, FromEnvironmentOrDefault) {
  const char* saved = std::getenv("DOCKER_HOST");
  std::string restore = saved != nullptr ? saved : "";
  ::unsetenv("DOCKER_HOST");
  EXPECT_EQ(DockerRuntime::host_from_env(), "unix:///var/run/docker.sock");
  ::setenv("DOCKER_HOST", "tcp://127.0.0.1:2375", 1);
  EXPECT_EQ(DockerRuntime::host_from_env(), "tcp://127.0.0.1:2375");
  if (saved != nullptr) {
    ::setenv("DOCKER_HOST", restore.c_str(), 1);
  } else {
    ::unsetenv("DOCKER_HOST");
  }
}

TEST(DockerRuntimeOptions, RequiresAPoster) {
  EXPECT_THROW({ DockerRuntime rt{DockerRuntime::Options{}}; }, std::invalid_argument);
}

TEST_F(DockerRuntimeTest, NegotiatesOnceAndUsesTheEnginesLowerVersion) {
  daemon_.on("GET", "/version", ok(R"({"Version":"19.03.15","ApiVersion":"1.40","MinAPIVersion":"1.12"})"));
  daemon_.on("POST", "/v1.40/containers/", ok("", 204));

  // Both operations are issued before the first answer, so they share one negotiation.
  std::optional<Done> first;
  std::optional<Done> second;
  rt_->kill("c1", "SIGTERM", [&](Done d) { first = d; });
  rt_->kill("c2", "SIGTERM", [&](Done d) { second = d; });
  ASSERT_TRUE(posts_.run_until([&] { return first && second; }));
  EXPECT_FALSE(first->error);
  EXPECT_FALSE(second->error);

  EXPECT_EQ(daemon_.requests_to("GET", "/version").size(), 1u);
  auto kills = daemon_.requests_to("POST", "/v1.40/containers/");
  ASSERT_EQ(kills.size(), 2u);
  EXPECT_EQ(kills[0].query_param("signal"), "SIGTERM");
}

TEST_F(DockerRuntimeTest, CapsANewerEngineAt141) {
  daemon_.on("GET", "/version", ok(R"({"Version":"24.0.7","ApiVersion":"1.43","MinAPIVersion":"1.12"})"));
  daemon_.on("DELETE", "/v1.41/containers/c1", ok("", 204));
  auto d = run<Done>([&](auto cb) { rt_->remove("c1", cb); });
  EXPECT_FALSE(d.error);
  EXPECT_EQ(daemon_.requests_to("DELETE", "/v1.41/containers/c1").size(), 1u);
}

TEST_F(DockerRuntimeTest, RisesToAnEnginesMinimumAbove141) {
  daemon_.on("GET", "/version", ok(R"({"Version":"29.0.0","ApiVersion":"1.52","MinAPIVersion":"1.44"})"));
  daemon_.on("DELETE", "/v1.44/containers/c1", ok("", 204));
  auto d = run<Done>([&](auto cb) { rt_->remove("c1", cb); });
  EXPECT_FALSE(d.error);
}

TEST_F(DockerRuntimeTest, RefusesAnEngineOlderThan124) {
  daemon_.on("GET", "/version", ok(R"({"Version":"1.11.0","ApiVersion":"1.23"})"));
  auto d = run<Done>([&](auto cb) { rt_->remove("c1", cb); });
  ASSERT_TRUE(d.error);
  EXPECT_EQ(d.error->kind, ErrorKind::kEngineUnavailable);
  EXPECT_NE(d.error->message.find("1.24"), std::string::npos) << d.error->message;
}

TEST_F(DockerRuntimeTest, InfoReportsVersions) {
  auto info = run<EngineInfo>([&](auto cb) { rt_->info(cb); });
  EXPECT_TRUE(info.reachable);
  EXPECT_EQ(info.version, "20.10.24");
  EXPECT_EQ(info.api_version, "1.41");
  EXPECT_EQ(info.error, "");
}

// --- engine unavailable
// -------------------------------------------------------------------------------------

TEST_F(DockerRuntimeTest, MissingSocketIsEngineUnavailableWithTheCliMessage) {
  DockerRuntime rt(options("unix:///nonexistent/berth/docker.sock"));
  const std::string expected =
      "Cannot connect to the Docker daemon at unix:///nonexistent/berth/docker.sock. Is the docker daemon "
      "running?";

  auto d = run<Done>([&](auto cb) { rt.kill("c1", "SIGTERM", cb); });
  ASSERT_TRUE(d.error);
  EXPECT_EQ(d.error->kind, ErrorKind::kEngineUnavailable);
  EXPECT_EQ(d.error->message, expected);

  auto img = run<ImageOutcome>([&](auto cb) { rt.ensure_image("busybox", std::nullopt, cb); });
  ASSERT_TRUE(img.error);
  EXPECT_EQ(img.error->kind, ErrorKind::kEngineUnavailable);

  auto info = run<EngineInfo>([&](auto cb) { rt.info(cb); });
  EXPECT_FALSE(info.reachable);
  EXPECT_EQ(info.error, expected);
}

TEST_F(DockerRuntimeTest, RefusedTcpPortIsEngineUnavailable) {
  // Port 1 on loopback is closed on any sane test machine: the connect is refused at once.
  DockerRuntime rt(options("tcp://127.0.0.1:1"));
  auto l = run<ListOutcome>([&](auto cb) { rt.list({}, cb); });
  ASSERT_TRUE(l.error);
  EXPECT_EQ(l.error->kind, ErrorKind::kEngineUnavailable);
  EXPECT_EQ(l.error->message,
            "Cannot connect to the Docker daemon at tcp://127.0.0.1:1. Is the docker daemon running?");
}

TEST_F(DockerRuntimeTest, UnsupportedHostIsReportedByEveryOperation) {
  DockerRuntime rt(options("ssh://me@box"));
  EXPECT_EQ(rt.host(), "ssh://me@box");
  auto d = run<Done>([&](auto cb) { rt.remove("c1", cb); });
  ASSERT_TRUE(d.error);
  EXPECT_EQ(d.error->kind, ErrorKind::kEngineUnavailable);
  EXPECT_NE(d.error->message.find("unsupported DOCKER_HOST"), std::string::npos);
  auto info = run<EngineInfo>([&](auto cb) { rt.info(cb); });
  EXPECT_FALSE(info.reachable);
}

// --- images
// -------------------------------------------------------------------------------------------------

TEST_F(DockerRuntimeTest, PresentImageIsNotPulled) {
  daemon_.on("GET", "/v1.41/images/busybox/json", ok(R"({"Id":"sha256:present"})"));
  auto img = run<ImageOutcome>([&](auto cb) { rt_->ensure_image("busybox", std::nullopt, cb); });
  EXPECT_FALSE(img.error);
  EXPECT_EQ(img.image_id, "sha256:present");
  EXPECT_FALSE(img.pulled);
  EXPECT_TRUE(daemon_.requests_to("POST", "/v1.41/images/create").empty());
}

TEST_F(DockerRuntimeTest, MissingImageIsPulledThenInspected) {
  daemon_.on("GET", "/v1.41/images/", ok(R"({"Id":"sha256:pulled"})"));
  daemon_.on("GET", "/v1.41/images/busybox/json", ok(R"({"message":"No such image: busybox:latest"})", 404),
             1);
  daemon_.on("POST", "/v1.41/images/create",
             chunked({R"({"status":"Pulling from library/busybox","id":"latest"})"
                      "\n",
                      R"({"status":"Downloading","progressDetail":{"current":1,"total":2},"id":"abc"})"
                      "\n",
                      R"({"status":"Status: Downloaded newer image for busybox:latest"})"
                      "\n"}));

  auto img = run<ImageOutcome>([&](auto cb) { rt_->ensure_image("busybox", std::nullopt, cb); });
  EXPECT_FALSE(img.error) << img.error->message;
  EXPECT_EQ(img.image_id, "sha256:pulled");
  EXPECT_TRUE(img.pulled);

  auto pulls = daemon_.requests_to("POST", "/v1.41/images/create");
  ASSERT_EQ(pulls.size(), 1u);
  EXPECT_EQ(pulls[0].query_param("fromImage"), "busybox");
  EXPECT_EQ(pulls[0].query_param("tag"), "latest");
  EXPECT_EQ(pulls[0].headers.count("x-registry-auth"), 0u);
  EXPECT_EQ(daemon_.requests_to("GET", "/v1.41/images/busybox:latest/json").size(), 1u);
}

TEST_F(DockerRuntimeTest, PullsByDigestFromARegistryWithPortAndSendsAuth) {
  auto o = options(daemon_.host());
  std::string asked_for;
  o.registry_auth = [&asked_for](const std::string& registry) -> std::optional<std::string> {
    asked_for = registry;
    return std::string("eyJ1c2VybmFtZSI6ImEifQ");
  };
  rt_ = std::make_unique<DockerRuntime>(std::move(o));
  const std::string image = "localhost:5000/team/app@" + kSha;
  daemon_.on("GET", "/v1.41/images/", ok(R"({"Id":"sha256:pulled"})"));
  daemon_.on("GET", "/v1.41/images/" + image + "/json", ok(R"({"message":"No such image"})", 404), 1);
  daemon_.on("POST", "/v1.41/images/create", chunked({R"({"status":"Digest: sha256:aaaa"})"}));

  auto img = run<ImageOutcome>([&](auto cb) { rt_->ensure_image(image, std::nullopt, cb); });
  EXPECT_FALSE(img.error);
  EXPECT_TRUE(img.pulled);
  auto pulls = daemon_.requests_to("POST", "/v1.41/images/create");
  ASSERT_EQ(pulls.size(), 1u);
  EXPECT_EQ(pulls[0].query_param("fromImage"), "localhost:5000/team/app");
  EXPECT_EQ(pulls[0].query_param("tag"), kSha);
  EXPECT_EQ(pulls[0].headers["x-registry-auth"], "eyJ1c2VybmFtZSI6ImEifQ");
  EXPECT_EQ(asked_for, "localhost:5000");
}

TEST_F(DockerRuntimeTest, ErrorInsideA200PullStreamIsImageNotFound) {
  daemon_.on("GET", "/v1.41/images/busybox:nope/json", ok(R"({"message":"No such image"})", 404));
  // The error line arrives split across two chunks.
  daemon_.on("POST", "/v1.41/images/create",
             chunked({R"({"status":"Pulling from library/busybox","id":"nope"})"
                      "\n{\"errorDetail\":{\"message\":\"manifest for busybox:nope not fo",
                      "und: manifest unknown\"},\"error\":\"manifest for busybox:nope not found: manifest "
                      "unknown\"}\n"}));

  auto img = run<ImageOutcome>([&](auto cb) { rt_->ensure_image("busybox:nope", std::nullopt, cb); });
  ASSERT_TRUE(img.error);
  EXPECT_EQ(img.error->kind, ErrorKind::kImageNotFound);
  EXPECT_EQ(img.error->message, "manifest for busybox:nope not found: manifest unknown");
  EXPECT_TRUE(img.image_id.empty());
}

TEST_F(DockerRuntimeTest, PullRefusedWithAnHttpErrorIsImageNotFound) {
  daemon_.on("GET", "/v1.41/images/nothere/json", ok(R"({"message":"No such image"})", 404));
  daemon_.on("POST", "/v1.41/images/create",
             ok(R"({"message":"Get \"https://registry-1.docker.io/v2/\": dial tcp: no such host"})", 500));
  auto img = run<ImageOutcome>([&](auto cb) { rt_->ensure_image("nothere", std::nullopt, cb); });
  ASSERT_TRUE(img.error);
  EXPECT_EQ(img.error->kind, ErrorKind::kImageNotFound);
  EXPECT_EQ(img.error->message,
            "Error response from daemon: Get \"https://registry-1.docker.io/v2/\": dial tcp: no such host");
}

TEST_F(DockerRuntimeTest, MalformedReferenceFailsWithoutAsking) {
  auto img = run<ImageOutcome>([&](auto cb) { rt_->ensure_image("Busybox", std::nullopt, cb); });
  ASSERT_TRUE(img.error);
  EXPECT_EQ(img.error->kind, ErrorKind::kImageNotFound);
  EXPECT_NE(img.error->message.find("repository name must be lowercase"), std::string::npos);
  EXPECT_TRUE(daemon_.requests_to("GET", "/v1.41/images/").empty());
}

TEST_F(DockerRuntimeTest, MissingImageIdIsNotPulled) {
  daemon_.on("GET", "/v1.41/images/", ok(R"({"message":"No such image"})", 404));
  auto img = run<ImageOutcome>([&](auto cb) { rt_->ensure_image(kSha, std::nullopt, cb); });
  ASSERT_TRUE(img.error);
  EXPECT_EQ(img.error->kind, ErrorKind::kImageNotFound);
  EXPECT_TRUE(daemon_.requests_to("POST", "/v1.41/images/create").empty());
}

TEST_F(DockerRuntimeTest, PullSendsTheCallersRegistryAuthOverTheRuntimes) {
  auto o = options(daemon_.host());
  bool asked = false;
  o.registry_auth = [&asked](const std::string&) -> std::optional<std::string> {
    asked = true;
    return std::string("runtime-wide");
  };
  rt_ = std::make_unique<DockerRuntime>(std::move(o));
  daemon_.on("GET", "/v1.41/images/", ok(R"({"Id":"sha256:pulled"})"));
  daemon_.on("GET", "/v1.41/images/private/json", ok(R"({"message":"No such image"})", 404), 1);
  daemon_.on("POST", "/v1.41/images/create", chunked({R"({"status":"Downloaded"})"}));
  auto img =
      run<ImageOutcome>([&](auto cb) { rt_->ensure_image("private", std::string("eyJ0YXNrIjoxfQ"), cb); });
  ASSERT_FALSE(img.error);
  auto pulls = daemon_.requests_to("POST", "/v1.41/images/create");
  ASSERT_EQ(pulls.size(), 1u);
  EXPECT_EQ(pulls[0].headers["x-registry-auth"], "eyJ0YXNrIjoxfQ");
  EXPECT_FALSE(asked);
}

TEST_F(DockerRuntimeTest, RegistryAuthWithALineBreakIsRefused) {
  daemon_.on("GET", "/v1.41/images/private/json", ok(R"({"message":"No such image"})", 404));
  auto img = run<ImageOutcome>(
      [&](auto cb) { rt_->ensure_image("private", std::string("eyJ9\r\nX-Injected: 1"), cb); });
  ASSERT_TRUE(img.error);
  EXPECT_EQ(img.error->kind, ErrorKind::kImageNotFound);
  EXPECT_EQ(img.error->message.find("eyJ9"), std::string::npos);  // credentials never echoed
  EXPECT_TRUE(daemon_.requests_to("POST", "/v1.41/images/create").empty());
}

TEST_F(DockerRuntimeTest, PresentImageIsNotPulledEvenWithAuth) {
  daemon_.on("GET", "/v1.41/images/busybox/json", ok(R"({"Id":"sha256:present"})"));
  auto img = run<ImageOutcome>([&](auto cb) { rt_->ensure_image("busybox", std::string("secret"), cb); });
  EXPECT_FALSE(img.error);
  EXPECT_FALSE(img.pulled);
  EXPECT_TRUE(daemon_.requests_to("POST", "/v1.41/images/create").empty());
}

TEST_F(DockerRuntimeTest, ImportSendsTheTarAsTheBody) {
  daemon_.on("POST", "/v1.41/images/create",
             chunked({R"({"status":"sha256:)" + std::string(64, 'b') + "\"}\n"}));
  std::string tar("binary\0tar\xff", 11);
  auto d = run<Done>([&](auto cb) { rt_->import_image("berth/pause:1.0", tar, cb); });
  ASSERT_FALSE(d.error) << d.error->message;
  auto reqs = daemon_.requests_to("POST", "/v1.41/images/create");
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].query_param("fromSrc"), "-");
  EXPECT_EQ(reqs[0].query_param("repo"), "berth/pause");
  EXPECT_EQ(reqs[0].query_param("tag"), "1.0");
  EXPECT_EQ(reqs[0].query_param("fromImage"), "");
  EXPECT_EQ(reqs[0].headers["content-type"], "application/x-tar");
  EXPECT_EQ(reqs[0].body, tar);

  // No tag: latest, as `docker import` does.
  d = run<Done>([&](auto cb) { rt_->import_image("localhost:5000/pause", "x", cb); });
  ASSERT_FALSE(d.error);
  reqs = daemon_.requests_to("POST", "/v1.41/images/create");
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[1].query_param("repo"), "localhost:5000/pause");
  EXPECT_EQ(reqs[1].query_param("tag"), "latest");
}

TEST_F(DockerRuntimeTest, ImportFailuresAreReported) {
  // The engine answers 200 and reports an unreadable tar in the stream.
  daemon_.on(
      "POST", "/v1.41/images/create",
      chunked(
          {R"({"errorDetail":{"message":"archive/tar: invalid tar header"},"error":"archive/tar: invalid tar header"})"
           "\n"}),
      1);
  auto d = run<Done>([&](auto cb) { rt_->import_image("berth/pause", "junk", cb); });
  ASSERT_TRUE(d.error);
  EXPECT_EQ(d.error->kind, ErrorKind::kOther);
  EXPECT_EQ(d.error->message, "archive/tar: invalid tar header");

  daemon_.on("POST", "/v1.41/images/create", ok(R"({"message":"invalid reference format"})", 400), 1);
  d = run<Done>([&](auto cb) { rt_->import_image("berth/pause", "x", cb); });
  ASSERT_TRUE(d.error);
  EXPECT_EQ(d.error->message, "Error response from daemon: invalid reference format");

  // Refused before asking the engine.
  for (const std::string& bad : std::vector<std::string>{"Upper/case", "berth/pause@" + kSha}) {
    d = run<Done>([&](auto cb) { rt_->import_image(bad, "x", cb); });
    ASSERT_TRUE(d.error) << bad;
    EXPECT_EQ(d.error->kind, ErrorKind::kOther);
  }
  EXPECT_EQ(daemon_.requests_to("POST", "/v1.41/images/create").size(), 2u);
}

// --- networks and volumes
// ------------------------------------------------------------------------------------

TEST_F(DockerRuntimeTest, EnsureNetworkLeavesAnExistingOneAlone) {
  daemon_.on("GET", "/v1.41/networks/berth-vpc", ok(R"({"Name":"berth-vpc","Id":"n1","Driver":"bridge"})"));
  auto d = run<Done>([&](auto cb) { rt_->ensure_network(NetworkSpec{"berth-vpc", {}}, cb); });
  EXPECT_FALSE(d.error);
  EXPECT_TRUE(daemon_.requests_to("POST", "/v1.41/networks/create").empty());
}

TEST_F(DockerRuntimeTest, EnsureNetworkCreatesAMissingOne) {
  daemon_.on("GET", "/v1.41/networks/", ok(R"({"message":"network berth-vpc not found"})", 404));
  daemon_.on("POST", "/v1.41/networks/create", ok(R"({"Id":"n1","Warning":""})", 201));
  auto d = run<Done>([&](auto cb) {
    rt_->ensure_network(NetworkSpec{"berth-vpc", {{"dev.berth.instance", "i1"}}}, cb);
  });
  ASSERT_FALSE(d.error) << d.error->message;
  auto creates = daemon_.requests_to("POST", "/v1.41/networks/create");
  ASSERT_EQ(creates.size(), 1u);
  EXPECT_EQ(json::parse(creates[0].body), json::parse(R"({"Name":"berth-vpc","Driver":"bridge",
      "CheckDuplicate":true,"Labels":{"dev.berth.instance":"i1"}})"));

  // A network found only by id prefix is some other network: create ours.
  daemon_.on("GET", "/v1.41/networks/abc", ok(R"({"Name":"other","Id":"abcdef"})"));
  d = run<Done>([&](auto cb) { rt_->ensure_network(NetworkSpec{"abc", {}}, cb); });
  EXPECT_FALSE(d.error);
  EXPECT_EQ(daemon_.requests_to("POST", "/v1.41/networks/create").size(), 2u);
}

TEST_F(DockerRuntimeTest, EnsureNetworkAsksForTheSubnetAndGatewayItNames) {
  daemon_.on("GET", "/v1.41/networks/", ok(R"({"message":"network berth-metadata not found"})", 404));
  daemon_.on("POST", "/v1.41/networks/create", ok(R"({"Id":"n1","Warning":""})", 201));
  NetworkSpec spec{"berth-metadata", {{"dev.berth.role", "metadata"}}, "169.254.170.0/24", "169.254.170.2"};
  auto d = run<Done>([&](auto cb) { rt_->ensure_network(spec, cb); });
  EXPECT_FALSE(d.error);
  auto creates = daemon_.requests_to("POST", "/v1.41/networks/create");
  ASSERT_EQ(creates.size(), 1u);
  auto body = json::parse(creates[0].body);
  EXPECT_EQ(body["Name"], "berth-metadata");
  EXPECT_EQ(body["Driver"], "bridge");
  EXPECT_EQ(body["Labels"]["dev.berth.role"], "metadata");
  EXPECT_EQ(body["IPAM"], json::parse(R"({"Driver":"default","Config":[{"Subnet":"169.254.170.0/24","Gateway":"169.254.170.2"}]})"));
  // Without a subnet the engine chooses: no IPAM section at all.
  d = run<Done>([&](auto cb) { rt_->ensure_network(NetworkSpec{"vpc", {}}, cb); });
  EXPECT_FALSE(d.error);
  creates = daemon_.requests_to("POST", "/v1.41/networks/create");
  ASSERT_EQ(creates.size(), 2u);
  EXPECT_FALSE(json::parse(creates[1].body).contains("IPAM"));
}

TEST_F(DockerRuntimeTest, StatsIsOneSampleOfTheEnginesDocument) {
  daemon_.on("GET", "/v1.41/containers/c1/stats",
             ok(R"({"id":"c1","read":"2026-01-01T00:00:01Z","networks":{"eth0":{"rx_bytes":10,"tx_bytes":20}}})"));
  auto s = run<StatsOutcome>([&](auto cb) { rt_->stats("c1", cb); });
  ASSERT_FALSE(s.error) << s.error->message;
  EXPECT_EQ(json::parse(s.body)["networks"]["eth0"]["tx_bytes"], 20);
  auto reqs = daemon_.requests_to("GET", "/v1.41/containers/c1/stats");
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].query_param("stream"), "false");

  daemon_.on("GET", "/v1.41/containers/gone/stats", ok(R"({"message":"No such container: gone"})", 404));
  s = run<StatsOutcome>([&](auto cb) { rt_->stats("gone", cb); });
  ASSERT_TRUE(s.error);
  EXPECT_EQ(s.error->kind, ErrorKind::kNotFound);
  EXPECT_EQ(s.error->message, "Error response from daemon: No such container: gone");

  daemon_.on("GET", "/v1.41/containers/bad/stats", ok("not json"));
  s = run<StatsOutcome>([&](auto cb) { rt_->stats("bad", cb); });
  ASSERT_TRUE(s.error);
  EXPECT_EQ(s.error->kind, ErrorKind::kOther);
}

TEST_F(DockerRuntimeTest, InspectReportsTheContainersAddress) {
  daemon_.on("GET", "/v1.41/containers/c1/json", ok(R"({"Id":"c1","State":{"Running":true},
      "HostConfig":{"NetworkMode":"default"},
      "NetworkSettings":{"Networks":{"bridge":{"IPAddress":"172.17.0.5","MacAddress":"02:42:ac:11:00:05"}}}})"));
  auto i = run<InspectOutcome>([&](auto cb) { rt_->inspect("c1", cb); });
  ASSERT_FALSE(i.error);
  EXPECT_EQ(i.state.ip_address, "172.17.0.5");
}

TEST_F(DockerRuntimeTest, EnsureNetworkRacingAnotherCreateSucceeds) {
  daemon_.on("GET", "/v1.41/networks/", ok(R"({"message":"not found"})", 404));
  daemon_.on("POST", "/v1.41/networks/create",
             ok(R"({"message":"network with name berth-vpc already exists"})", 409));
  auto d = run<Done>([&](auto cb) { rt_->ensure_network(NetworkSpec{"berth-vpc", {}}, cb); });
  EXPECT_FALSE(d.error);

  daemon_.on("POST", "/v1.41/networks/create",
             ok(R"({"message":"could not find an available, non-overlapping IPv4 address pool"})", 500));
  d = run<Done>([&](auto cb) { rt_->ensure_network(NetworkSpec{"berth-vpc", {}}, cb); });
  ASSERT_TRUE(d.error);
  EXPECT_EQ(d.error->kind, ErrorKind::kOther);
  EXPECT_EQ(d.error->message,
            "Error response from daemon: could not find an available, non-overlapping IPv4 address pool");

  daemon_.on("GET", "/v1.41/networks/", ok(R"({"message":"boom"})", 500));
  d = run<Done>([&](auto cb) { rt_->ensure_network(NetworkSpec{"berth-vpc", {}}, cb); });
  ASSERT_TRUE(d.error);
  EXPECT_EQ(d.error->message, "Error response from daemon: boom");
}

TEST_F(DockerRuntimeTest, RemoveNetworkToleratesMissingAndReportsInUse) {
  daemon_.on("DELETE", "/v1.41/networks/gone", ok(R"({"message":"network gone not found"})", 404));
  auto d = run<Done>([&](auto cb) { rt_->remove_network("gone", cb); });
  EXPECT_FALSE(d.error);
  daemon_.on("DELETE", "/v1.41/networks/ok", ok("", 204));
  d = run<Done>([&](auto cb) { rt_->remove_network("ok", cb); });
  EXPECT_FALSE(d.error);

  daemon_.on(
      "DELETE", "/v1.41/networks/busy",
      ok(R"({"message":"error while removing network: network busy id n1 has active endpoints"})", 403));
  d = run<Done>([&](auto cb) { rt_->remove_network("busy", cb); });
  ASSERT_TRUE(d.error);
  EXPECT_EQ(d.error->kind, ErrorKind::kConflict);
  EXPECT_EQ(
      d.error->message,
      "Error response from daemon: error while removing network: network busy id n1 has active endpoints");
  daemon_.on("DELETE", "/v1.41/networks/busy2", ok(R"({"message":"in use"})", 409));
  d = run<Done>([&](auto cb) { rt_->remove_network("busy2", cb); });
  ASSERT_TRUE(d.error);
  EXPECT_EQ(d.error->kind, ErrorKind::kConflict);
}

TEST_F(DockerRuntimeTest, EnsureVolumeCreatesIdempotently) {
  daemon_.on("POST", "/v1.41/volumes/create", ok(R"({"Name":"data","Driver":"local"})", 201));
  VolumeSpec spec{"data", "local", {{"type", "tmpfs"}, {"device", "tmpfs"}}, {{"dev.berth.task-id", "t1"}}};
  auto d = run<Done>([&](auto cb) { rt_->ensure_volume(spec, cb); });
  ASSERT_FALSE(d.error) << d.error->message;
  auto reqs = daemon_.requests_to("POST", "/v1.41/volumes/create");
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(json::parse(reqs[0].body), json::parse(R"({"Name":"data","Driver":"local",
      "DriverOpts":{"type":"tmpfs","device":"tmpfs"},"Labels":{"dev.berth.task-id":"t1"}})"));

  daemon_.on("POST", "/v1.41/volumes/create",
             ok(R"({"message":"create data: volume name must be unique"})", 409));
  d = run<Done>([&](auto cb) { rt_->ensure_volume(VolumeSpec{"data", "other-driver", {}, {}}, cb); });
  ASSERT_TRUE(d.error);
  EXPECT_EQ(d.error->kind, ErrorKind::kConflict);
}

TEST_F(DockerRuntimeTest, RemoveVolumeToleratesMissingAndReportsInUse) {
  daemon_.on("DELETE", "/v1.41/volumes/gone", ok(R"({"message":"get gone: no such volume"})", 404));
  auto d = run<Done>([&](auto cb) { rt_->remove_volume("gone", cb); });
  EXPECT_FALSE(d.error);
  daemon_.on("DELETE", "/v1.41/volumes/data", ok("", 204));
  d = run<Done>([&](auto cb) { rt_->remove_volume("data", cb); });
  EXPECT_FALSE(d.error);
  EXPECT_EQ(daemon_.requests_to("DELETE", "/v1.41/volumes/data").size(), 1u);

  daemon_.on("DELETE", "/v1.41/volumes/busy",
             ok(R"({"message":"remove busy: volume is in use - [c0ffee]"})", 409));
  d = run<Done>([&](auto cb) { rt_->remove_volume("busy", cb); });
  ASSERT_TRUE(d.error);
  EXPECT_EQ(d.error->kind, ErrorKind::kConflict);
  EXPECT_EQ(d.error->message, "Error response from daemon: remove busy: volume is in use - [c0ffee]");
}

TEST_F(DockerRuntimeTest, NewOperationsReportAnUnreachableEngine) {
  DockerRuntime rt(options("unix:///nonexistent/berth/docker.sock"));
  std::vector<Done> results;
  results.push_back(run<Done>([&](auto cb) { rt.import_image("berth/pause", "x", cb); }));
  results.push_back(run<Done>([&](auto cb) { rt.ensure_network(NetworkSpec{"n", {}}, cb); }));
  results.push_back(run<Done>([&](auto cb) { rt.remove_network("n", cb); }));
  results.push_back(run<Done>([&](auto cb) { rt.ensure_volume(VolumeSpec{"v"}, cb); }));
  results.push_back(run<Done>([&](auto cb) { rt.remove_volume("v", cb); }));
  for (const Done& d : results) {
    ASSERT_TRUE(d.error);
    EXPECT_EQ(d.error->kind, ErrorKind::kEngineUnavailable);
  }
  auto s = run<StatsOutcome>([&](auto cb) { rt.stats("c1", cb); });
  ASSERT_TRUE(s.error);
  EXPECT_EQ(s.error->kind, ErrorKind::kEngineUnavailable);
}

// --- containers
// ---------------------------------------------------------------------------------------------

TEST_F(DockerRuntimeTest, CreateSendsTheSpecAsEngineJson) {
  daemon_.on("POST", "/v1.41/containers/create", ok(R"({"Id":"c0ffee","Warnings":[]})", 201));
  ContainerSpec spec;
  spec.name = "ecs-web-1-app";
  spec.image = "nginx:1.25";
  spec.command = std::vector<std::string>{"nginx", "-g", "daemon off;"};
  spec.entrypoint = std::vector<std::string>{};
  spec.env = {"A=1", "B=two words"};
  spec.labels = {{"berth.task", "t1"}, {"com.amazonaws.ecs.cluster", "default"}};
  spec.ports = {PortBinding{80, 0, "tcp", ""}, PortBinding{53, 5353, "udp", "127.0.0.1"}};
  spec.memory_bytes = 512LL << 20;
  spec.memory_reservation_bytes = 256LL << 20;
  spec.cpu_shares = 256;
  spec.working_dir = "/srv";
  spec.hostname = "web";

  auto c = run<CreateOutcome>([&](auto cb) { rt_->create(spec, cb); });
  EXPECT_FALSE(c.error);
  EXPECT_EQ(c.container_id, "c0ffee");

  auto reqs = daemon_.requests_to("POST", "/v1.41/containers/create");
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].query_param("name"), "ecs-web-1-app");
  EXPECT_EQ(reqs[0].headers["content-type"], "application/json");
  json body = json::parse(reqs[0].body);
  EXPECT_EQ(body["Image"], "nginx:1.25");
  EXPECT_EQ(body["Cmd"], json::array({"nginx", "-g", "daemon off;"}));
  EXPECT_EQ(body["Entrypoint"], json::array());  // empty, not absent: clears the image's entrypoint
  EXPECT_EQ(body["Env"], json::array({"A=1", "B=two words"}));
  EXPECT_EQ(body["Labels"], json({{"berth.task", "t1"}, {"com.amazonaws.ecs.cluster", "default"}}));
  EXPECT_EQ(body["WorkingDir"], "/srv");
  EXPECT_EQ(body["Hostname"], "web");
  EXPECT_FALSE(body.contains("User"));
  EXPECT_EQ(body["ExposedPorts"], json({{"80/tcp", json::object()}, {"53/udp", json::object()}}));
  const json& host = body["HostConfig"];
  EXPECT_EQ(host["NetworkMode"], "bridge");
  EXPECT_EQ(host["PortBindings"], json::parse(R"({"80/tcp":[{"HostIp":"","HostPort":""}],
                                                  "53/udp":[{"HostIp":"127.0.0.1","HostPort":"5353"}]})"));
  EXPECT_EQ(host["Memory"], 512LL << 20);
  EXPECT_EQ(host["MemoryReservation"], 256LL << 20);
  EXPECT_EQ(host["CpuShares"], 256);
}

TEST_F(DockerRuntimeTest, CreateLeavesImageDefaultsAlone) {
  daemon_.on("POST", "/v1.41/containers/create", ok(R"({"Id":"c1"})", 201));
  ContainerSpec spec;
  spec.image = "busybox";
  spec.network_mode = "host";
  spec.ports = {PortBinding{8080, 0}};
  auto c = run<CreateOutcome>([&](auto cb) { rt_->create(spec, cb); });
  EXPECT_FALSE(c.error);
  auto reqs = daemon_.requests_to("POST", "/v1.41/containers/create");
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].query, "");  // no name: the engine picks one
  json body = json::parse(reqs[0].body);
  EXPECT_FALSE(body.contains("Cmd"));
  EXPECT_FALSE(body.contains("Entrypoint"));
  EXPECT_FALSE(body["HostConfig"].contains("Memory"));
  EXPECT_FALSE(body["HostConfig"].contains("PortBindings"));  // the engine ignores them under host networking
  EXPECT_EQ(body["HostConfig"]["NetworkMode"], "host");
}

TEST_F(DockerRuntimeTest, CreateErrorsCarryTheDaemonsMessage) {
  daemon_.on("POST", "/v1.41/containers/create",
             ok(R"({"message":"Conflict. The container name \"/web\" is already in use"})", 409), 1);
  auto c =
      run<CreateOutcome>([&](auto cb) { rt_->create(ContainerSpec{.name = "web", .image = "busybox"}, cb); });
  ASSERT_TRUE(c.error);
  EXPECT_EQ(c.error->kind, ErrorKind::kConflict);
  EXPECT_EQ(c.error->message,
            "Error response from daemon: Conflict. The container name \"/web\" is already in use");

  daemon_.on("POST", "/v1.41/containers/create", ok(R"({"message":"No such image: ghost:latest"})", 404), 1);
  c = run<CreateOutcome>([&](auto cb) { rt_->create(ContainerSpec{.name = "web", .image = "ghost"}, cb); });
  ASSERT_TRUE(c.error);
  EXPECT_EQ(c.error->kind, ErrorKind::kImageNotFound);
}

TEST_F(DockerRuntimeTest, CreateSendsEveryHostConfigField) {
  daemon_.on("POST", "/v1.41/containers/create", ok(R"({"Id":"c1","Warnings":[]})", 201));
  ContainerSpec spec;
  spec.name = "full";
  spec.image = "busybox";
  spec.user = "1000:1000";
  spec.nano_cpus = 250'000'000;
  spec.ulimits = {Ulimit{"nofile", 1024, 4096}, Ulimit{"nproc", 64, 128}};
  spec.cap_add = {"NET_ADMIN"};
  spec.cap_drop = {"MKNOD", "CHOWN"};
  spec.init = true;
  spec.shm_size_bytes = 128LL << 20;
  spec.devices = {Device{"/dev/fuse", "", "rw"}, Device{"/dev/null", "/dev/nothing", ""}};
  spec.read_only_rootfs = true;
  spec.privileged = true;
  spec.extra_hosts = {"db:10.0.0.5"};
  spec.dns = {"1.1.1.1"};
  spec.dns_search = {"corp.example"};
  spec.dns_options = {"ndots:2"};
  spec.mounts = {
      Mount{Mount::Type::kBind, "/srv/data", "/data", true, std::nullopt, {}},
      Mount{Mount::Type::kBind, "/srv/rw", "/rw", false, std::nullopt, {}},
      Mount{Mount::Type::kBind, "/srv/a:b", "/ab", false, std::nullopt, {}},
      Mount{Mount::Type::kVolume, "berth-vol", "/vol", false, std::nullopt, {}},
      Mount{Mount::Type::kTmpfs, "", "/scratch", false, 64LL << 20, {"mode=1777"}},
      Mount{Mount::Type::kTmpfs, "", "/run/x", true, 1LL << 20, {"noexec", "nosuid"}},
  };
  spec.volumes_from = {"abc123", "def456:ro"};
  spec.sysctls = {{"net.core.somaxconn", "1024"}, {"kernel.msgmax", "65536"}};
  spec.healthcheck = HealthCheck{
      {"CMD-SHELL", "curl -f http://localhost/ || exit 1"}, 10'000'000'000, 2'000'000'000, 5'000'000'000, 4};
  spec.log_driver = "json-file";
  spec.log_options = {{"max-size", "10m"}, {"max-file", "3"}};
  spec.stop_timeout_s = 45;
  spec.cgroup_parent = "/berth";

  auto c = run<CreateOutcome>([&](auto cb) { rt_->create(spec, cb); });
  ASSERT_FALSE(c.error) << c.error->message;
  auto reqs = daemon_.requests_to("POST", "/v1.41/containers/create");
  ASSERT_EQ(reqs.size(), 1u);
  json body = json::parse(reqs[0].body);
  EXPECT_EQ(body["User"], "1000:1000");
  EXPECT_EQ(body["StopTimeout"], 45);
  EXPECT_EQ(body["Healthcheck"], json::parse(R"({"Test":["CMD-SHELL","curl -f http://localhost/ || exit 1"],
      "Interval":10000000000,"Timeout":2000000000,"StartPeriod":5000000000,"Retries":4})"));
  EXPECT_FALSE(body.contains("NetworkingConfig"));  // aliases are for user networks only

  const json& h = body["HostConfig"];
  EXPECT_EQ(h["NetworkMode"], "bridge");
  EXPECT_EQ(h["NanoCpus"], 250'000'000);
  EXPECT_EQ(h["Ulimits"], json::parse(R"([{"Name":"nofile","Soft":1024,"Hard":4096},
                                          {"Name":"nproc","Soft":64,"Hard":128}])"));
  EXPECT_EQ(h["CapAdd"], json::array({"NET_ADMIN"}));
  EXPECT_EQ(h["CapDrop"], json::array({"MKNOD", "CHOWN"}));
  EXPECT_EQ(h["Init"], true);
  EXPECT_EQ(h["ShmSize"], 128LL << 20);
  // An empty container path means the host path; empty permissions mean all of them.
  EXPECT_EQ(h["Devices"], json::parse(R"([
      {"PathOnHost":"/dev/fuse","PathInContainer":"/dev/fuse","CgroupPermissions":"rw"},
      {"PathOnHost":"/dev/null","PathInContainer":"/dev/nothing","CgroupPermissions":"rwm"}])"));
  EXPECT_EQ(h["ReadonlyRootfs"], true);
  EXPECT_EQ(h["Privileged"], true);
  EXPECT_EQ(h["ExtraHosts"], json::array({"db:10.0.0.5"}));
  EXPECT_EQ(h["Dns"], json::array({"1.1.1.1"}));
  EXPECT_EQ(h["DnsSearch"], json::array({"corp.example"}));
  EXPECT_EQ(h["DnsOptions"], json::array({"ndots:2"}));
  // Host paths are Binds, so the engine creates a missing directory (as ECS host volumes do); a path with a
  // colon can't be a bind and becomes a Mount.
  EXPECT_EQ(h["Binds"], json::array({"/srv/data:/data:ro", "/srv/rw:/rw"}));
  EXPECT_EQ(h["Mounts"], json::parse(R"([
      {"Type":"bind","Source":"/srv/a:b","Target":"/ab","ReadOnly":false},
      {"Type":"volume","Source":"berth-vol","Target":"/vol","ReadOnly":false},
      {"Type":"tmpfs","Target":"/scratch","ReadOnly":false,
       "TmpfsOptions":{"SizeBytes":67108864,"Mode":1023}}])"));
  // Options API 1.41's TmpfsOptions can't carry go through the older Tmpfs map verbatim.
  EXPECT_EQ(h["Tmpfs"], json::parse(R"({"/run/x":"ro,size=1048576,noexec,nosuid"})"));
  EXPECT_EQ(h["VolumesFrom"], json::array({"abc123", "def456:ro"}));
  EXPECT_EQ(h["Sysctls"], json::parse(R"({"net.core.somaxconn":"1024","kernel.msgmax":"65536"})"));
  EXPECT_EQ(h["LogConfig"],
            json::parse(R"({"Type":"json-file","Config":{"max-size":"10m","max-file":"3"}})"));
  EXPECT_EQ(h["CgroupParent"], "/berth");
}

TEST_F(DockerRuntimeTest, CreateLeavesUnsetFieldsOut) {
  daemon_.on("POST", "/v1.41/containers/create", ok(R"({"Id":"c1"})", 201));
  auto c = run<CreateOutcome>([&](auto cb) { rt_->create(ContainerSpec{.image = "busybox"}, cb); });
  ASSERT_FALSE(c.error);
  json body = json::parse(daemon_.requests_to("POST", "/v1.41/containers/create")[0].body);
  for (const char* key :
       {"Healthcheck", "StopTimeout", "Hostname", "User", "WorkingDir", "NetworkingConfig"}) {
    EXPECT_FALSE(body.contains(key)) << key;
  }
  // Booleans left false are absent rather than false, so the engine's own defaults (e.g. a daemon-wide
  // --init) still apply.
  EXPECT_EQ(body["HostConfig"], json({{"NetworkMode", "bridge"}}));
}

TEST_F(DockerRuntimeTest, CreateJoiningAnotherContainersNetworkLeavesOutWhatTheEngineRefuses) {
  daemon_.on("POST", "/v1.41/containers/create", ok(R"({"Id":"c1"})", 201));
  ContainerSpec spec;
  spec.image = "busybox";
  spec.network_mode = "container:pause123";
  spec.network_aliases = {"web"};
  spec.hostname = "web";
  spec.ports = {PortBinding{80, 0}};
  spec.dns = {"1.1.1.1"};
  spec.dns_search = {"corp.example"};
  spec.dns_options = {"ndots:2"};
  spec.extra_hosts = {"db:10.0.0.5"};
  spec.sysctls = {{"net.core.somaxconn", "1024"}};
  auto c = run<CreateOutcome>([&](auto cb) { rt_->create(spec, cb); });
  ASSERT_FALSE(c.error);
  json body = json::parse(daemon_.requests_to("POST", "/v1.41/containers/create")[0].body);
  EXPECT_FALSE(body.contains("Hostname"));
  EXPECT_FALSE(body.contains("ExposedPorts"));
  EXPECT_FALSE(body.contains("NetworkingConfig"));
  const json& h = body["HostConfig"];
  EXPECT_EQ(h["NetworkMode"], "container:pause123");
  for (const char* key : {"PortBindings", "Dns", "DnsSearch", "DnsOptions", "ExtraHosts"}) {
    EXPECT_FALSE(h.contains(key)) << key;
  }
  // Namespaced sysctls are fine: they apply to the shared network namespace.
  EXPECT_EQ(h["Sysctls"], json({{"net.core.somaxconn", "1024"}}));
}

TEST_F(DockerRuntimeTest, CreateOnAUserNetworkSendsAliases) {
  daemon_.on("POST", "/v1.41/containers/create", ok(R"({"Id":"c1"})", 201));
  ContainerSpec spec;
  spec.image = "busybox";
  spec.network_mode = "berth-vpc-1";
  spec.network_aliases = {"web", "web.local"};
  spec.hostname = "web";
  auto c = run<CreateOutcome>([&](auto cb) { rt_->create(spec, cb); });
  ASSERT_FALSE(c.error);
  json body = json::parse(daemon_.requests_to("POST", "/v1.41/containers/create")[0].body);
  EXPECT_EQ(body["HostConfig"]["NetworkMode"], "berth-vpc-1");
  EXPECT_EQ(body["Hostname"], "web");
  EXPECT_EQ(body["NetworkingConfig"],
            json::parse(R"({"EndpointsConfig":{"berth-vpc-1":{"Aliases":["web","web.local"]}}})"));
}

constexpr const char* kInspectRunning = R"({
  "Id": "c1", "Name": "/web",
  "Config": {"Labels": {"berth.task": "t1"}, "ExposedPorts": {"80/tcp": {}}},
  "State": {"Status": "running", "Running": true, "OOMKilled": false, "ExitCode": 0,
            "FinishedAt": "0001-01-01T00:00:00Z"},
  "HostConfig": {"NetworkMode": "default"},
  "NetworkSettings": {"Ports": {
      "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "49153"}, {"HostIp": "::", "HostPort": "49153"}],
      "9000/udp": null}}
})";

TEST_F(DockerRuntimeTest, StartReturnsTheAssignedBindings) {
  daemon_.on("POST", "/v1.41/containers/c1/start", ok("", 204));
  daemon_.on("GET", "/v1.41/containers/c1/json", ok(kInspectRunning));
  auto s = run<StartOutcome>([&](auto cb) { rt_->start("c1", cb); });
  EXPECT_FALSE(s.error);
  ASSERT_EQ(s.bindings.size(), 2u);
  EXPECT_EQ(s.bindings[0].container_port, 80);
  EXPECT_EQ(s.bindings[0].host_port, 49153);
  EXPECT_EQ(s.bindings[0].protocol, "tcp");
  EXPECT_EQ(s.bindings[0].host_ip, "0.0.0.0");
  EXPECT_EQ(s.bindings[1].host_ip, "::");
}

TEST_F(DockerRuntimeTest, StartReportsTheContainersAddress) {
  daemon_.on("POST", "/v1.41/containers/", ok("", 204));
  // On a user network: that network's endpoint, though another network sorts first.
  daemon_.on("GET", "/v1.41/containers/c1/json", ok(R"({
    "Id": "c1", "State": {"Status": "running", "Running": true}, "HostConfig": {"NetworkMode": "vpc"},
    "NetworkSettings": {"IPAddress": "", "MacAddress": "", "Networks": {
      "aaa": {"IPAddress": "172.30.0.9", "MacAddress": "02:42:ac:1e:00:09"},
      "vpc": {"IPAddress": "10.0.1.7", "MacAddress": "02:42:0a:00:01:07"}}}})"));
  auto s = run<StartOutcome>([&](auto cb) { rt_->start("c1", cb); });
  ASSERT_FALSE(s.error);
  EXPECT_EQ(s.ip_address, "10.0.1.7");
  EXPECT_EQ(s.mac_address, "02:42:0a:00:01:07");

  // The default bridge is keyed "bridge" though HostConfig says "default"; an empty endpoint is skipped.
  daemon_.on("GET", "/v1.41/containers/c2/json", ok(R"({
    "Id": "c2", "State": {"Running": true}, "HostConfig": {"NetworkMode": "default"},
    "NetworkSettings": {"Networks": {"bridge": {"IPAddress": "172.17.0.3", "MacAddress": "02:42:ac:11:00:03"}}}})"));
  s = run<StartOutcome>([&](auto cb) { rt_->start("c2", cb); });
  EXPECT_EQ(s.ip_address, "172.17.0.3");
  EXPECT_EQ(s.mac_address, "02:42:ac:11:00:03");

  // Only the legacy top-level fields.
  daemon_.on("GET", "/v1.41/containers/c3/json", ok(R"({
    "Id": "c3", "State": {"Running": true}, "HostConfig": {"NetworkMode": "bridge"},
    "NetworkSettings": {"IPAddress": "172.17.0.4", "MacAddress": "02:42:ac:11:00:04", "Networks": {}}})"));
  s = run<StartOutcome>([&](auto cb) { rt_->start("c3", cb); });
  EXPECT_EQ(s.ip_address, "172.17.0.4");
  EXPECT_EQ(s.mac_address, "02:42:ac:11:00:04");

  // Sharing another container's namespace: no address of its own.
  daemon_.on("GET", "/v1.41/containers/c4/json", ok(R"({
    "Id": "c4", "State": {"Running": true}, "HostConfig": {"NetworkMode": "container:c1"},
    "NetworkSettings": {"IPAddress": "", "Networks": {}}})"));
  s = run<StartOutcome>([&](auto cb) { rt_->start("c4", cb); });
  ASSERT_FALSE(s.error);
  EXPECT_EQ(s.ip_address, "");
  EXPECT_EQ(s.mac_address, "");
}

TEST_F(DockerRuntimeTest, InspectReadsHealth) {
  daemon_.on("GET", "/v1.41/containers/c1/json", ok(R"({
    "Id": "c1", "State": {"Status": "running", "Running": true,
                          "Health": {"Status": "unhealthy", "FailingStreak": 3, "Log": []}}})"));
  auto i = run<InspectOutcome>([&](auto cb) { rt_->inspect("c1", cb); });
  ASSERT_FALSE(i.error);
  EXPECT_EQ(i.state.health, "unhealthy");

  // Without a health check the engine reports no Health at all.
  daemon_.on("GET", "/v1.41/containers/c2/json", ok(R"({"Id": "c2", "State": {"Running": true}})"));
  i = run<InspectOutcome>([&](auto cb) { rt_->inspect("c2", cb); });
  EXPECT_EQ(i.state.health, "");
}

TEST_F(DockerRuntimeTest, StartOfARunningContainerIsFineAndMissingIsNotFound) {
  daemon_.on("POST", "/v1.41/containers/c1/start", ok("", 304));
  daemon_.on("GET", "/v1.41/containers/c1/json", ok(kInspectRunning));
  auto s = run<StartOutcome>([&](auto cb) { rt_->start("c1", cb); });
  EXPECT_FALSE(s.error);
  EXPECT_EQ(s.bindings.size(), 2u);

  daemon_.on("POST", "/v1.41/containers/gone/start", ok(R"({"message":"No such container: gone"})", 404));
  s = run<StartOutcome>([&](auto cb) { rt_->start("gone", cb); });
  ASSERT_TRUE(s.error);
  EXPECT_EQ(s.error->kind, ErrorKind::kNotFound);
  EXPECT_EQ(s.error->message, "Error response from daemon: No such container: gone");
}

TEST_F(DockerRuntimeTest, KillOfAStoppedContainerIsNotAnError) {
  daemon_.on("POST", "/v1.41/containers/c1/kill",
             ok(R"({"message":"Cannot kill container: c1: Container c1 is not running"})", 409));
  auto d = run<Done>([&](auto cb) { rt_->kill("c1", "SIGKILL", cb); });
  EXPECT_FALSE(d.error);
  auto reqs = daemon_.requests_to("POST", "/v1.41/containers/c1/kill");
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].query_param("signal"), "SIGKILL");

  daemon_.on("POST", "/v1.41/containers/c2/kill", ok(R"({"message":"No such container: c2"})", 404));
  d = run<Done>([&](auto cb) { rt_->kill("c2", "SIGTERM", cb); });
  ASSERT_TRUE(d.error);
  EXPECT_EQ(d.error->kind, ErrorKind::kNotFound);
}

TEST_F(DockerRuntimeTest, RemoveForcesAndToleratesAMissingContainer) {
  daemon_.on("DELETE", "/v1.41/containers/c1", ok(R"({"message":"No such container: c1"})", 404));
  auto d = run<Done>([&](auto cb) { rt_->remove("c1", cb); });
  EXPECT_FALSE(d.error);
  auto reqs = daemon_.requests_to("DELETE", "/v1.41/containers/c1");
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].query_param("force"), "1");
  EXPECT_EQ(reqs[0].query_param("v"), "1");

  daemon_.on("DELETE", "/v1.41/containers/c2",
             ok(R"({"message":"removal of container c2 is already in progress"})", 409));
  d = run<Done>([&](auto cb) { rt_->remove("c2", cb); });
  ASSERT_TRUE(d.error);
  EXPECT_EQ(d.error->kind, ErrorKind::kConflict);
}

TEST_F(DockerRuntimeTest, InspectReadsExitCodeOomAndLabels) {
  daemon_.on("GET", "/v1.41/containers/c1/json", ok(R"({
    "Id": "c1", "Name": "/web", "Config": {"Labels": {"berth.task": "t1"}},
    "State": {"Status": "exited", "Running": false, "OOMKilled": true, "ExitCode": 137,
              "FinishedAt": "2026-11-22T11:12:12.700125795Z"},
    "HostConfig": {"NetworkMode": "default"}, "NetworkSettings": {"Ports": {}}})"));
  auto i = run<InspectOutcome>([&](auto cb) { rt_->inspect("c1", cb); });
  EXPECT_FALSE(i.error);
  EXPECT_EQ(i.state.id, "c1");
  EXPECT_EQ(i.state.name, "web");
  EXPECT_FALSE(i.state.running);
  EXPECT_EQ(i.state.exit_code, 137);
  EXPECT_TRUE(i.state.oom_killed);
  EXPECT_EQ(i.state.labels, (Labels{{"berth.task", "t1"}}));
  EXPECT_TRUE(i.state.bindings.empty());
}

TEST_F(DockerRuntimeTest, InspectOfACreatedContainerHasNoExitCode) {
  daemon_.on("GET", "/v1.41/containers/c1/json", ok(R"({
    "Id": "c1", "Name": "/web", "Config": {"Labels": null},
    "State": {"Status": "created", "Running": false, "ExitCode": 0, "FinishedAt": "0001-01-01T00:00:00Z"},
    "HostConfig": {"NetworkMode": "host"}, "NetworkSettings": {"Ports": {}}})"));
  auto i = run<InspectOutcome>([&](auto cb) { rt_->inspect("c1", cb); });
  EXPECT_FALSE(i.error);
  EXPECT_FALSE(i.state.exit_code);
  EXPECT_TRUE(i.state.labels.empty());
}

TEST_F(DockerRuntimeTest, InspectUnderHostNetworkingReportsExposedPortsAsBound) {
  daemon_.on("GET", "/v1.41/containers/c1/json", ok(R"({
    "Id": "c1", "Name": "/web", "Config": {"ExposedPorts": {"8080/tcp": {}}},
    "State": {"Status": "running", "Running": true},
    "HostConfig": {"NetworkMode": "host"}, "NetworkSettings": {"Ports": {}}})"));
  auto i = run<InspectOutcome>([&](auto cb) { rt_->inspect("c1", cb); });
  ASSERT_EQ(i.state.bindings.size(), 1u);
  EXPECT_EQ(i.state.bindings[0].container_port, 8080);
  EXPECT_EQ(i.state.bindings[0].host_port, 8080);
}

TEST_F(DockerRuntimeTest, InspectMissingIsNotFound) {
  daemon_.on("GET", "/v1.41/containers/nope/json", ok(R"({"message":"No such container: nope"})", 404));
  auto i = run<InspectOutcome>([&](auto cb) { rt_->inspect("nope", cb); });
  ASSERT_TRUE(i.error);
  EXPECT_EQ(i.error->kind, ErrorKind::kNotFound);
  EXPECT_EQ(i.error->message, "Error response from daemon: No such container: nope");
}

TEST_F(DockerRuntimeTest, UnreadableEngineJsonIsAnErrorNotAnException) {
  daemon_.on("GET", "/v1.41/containers/c1/json", ok("this is not json"));
  auto i = run<InspectOutcome>([&](auto cb) { rt_->inspect("c1", cb); });
  ASSERT_TRUE(i.error);
  EXPECT_EQ(i.error->kind, ErrorKind::kOther);

  daemon_.on("GET", "/v1.41/containers/json", ok(R"({"not":"a list"})"));
  auto l = run<ListOutcome>([&](auto cb) { rt_->list({}, cb); });
  ASSERT_TRUE(l.error);
  EXPECT_EQ(l.error->kind, ErrorKind::kOther);

  // Wrong types inside an otherwise fine document read as absent.
  daemon_.on("GET", "/v1.41/containers/c2/json",
             ok(R"({"Id": 5, "Name": null, "State": "odd", "Config": {"Labels": {"a": 1, "b": "x"}}})"));
  i = run<InspectOutcome>([&](auto cb) { rt_->inspect("c2", cb); });
  EXPECT_FALSE(i.error);
  EXPECT_EQ(i.state.labels, (Labels{{"b", "x"}}));
}

TEST_F(DockerRuntimeTest, ListFiltersByEveryLabel) {
  daemon_.on("GET", "/v1.41/containers/json", ok(R"([
    {"Id": "c1", "Names": ["/web"], "Labels": {"berth": "1", "task": "a"}, "State": "running",
     "Status": "Up 2 minutes",
     "Ports": [{"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 49153, "Type": "tcp"},
               {"PrivatePort": 443, "Type": "tcp"}]},
    {"Id": "c2", "Names": ["/db"], "Labels": {"berth": "1"}, "State": "exited",
     "Status": "Exited (137) 5 seconds ago", "Ports": []}])"));
  auto l = run<ListOutcome>([&](auto cb) { rt_->list(Labels{{"berth", "1"}, {"cluster", "default"}}, cb); });
  EXPECT_FALSE(l.error);

  auto reqs = daemon_.requests_to("GET", "/v1.41/containers/json");
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].query_param("all"), "1");
  EXPECT_EQ(json::parse(reqs[0].query_param("filters")),
            json::parse(R"({"label":["berth=1","cluster=default"]})"));
  // The filter travels URL-encoded, not as raw JSON.
  EXPECT_EQ(reqs[0].query.find('{'), std::string::npos);

  ASSERT_EQ(l.containers.size(), 2u);
  EXPECT_EQ(l.containers[0].id, "c1");
  EXPECT_EQ(l.containers[0].name, "web");
  EXPECT_TRUE(l.containers[0].running);
  EXPECT_FALSE(l.containers[0].exit_code);
  ASSERT_EQ(l.containers[0].bindings.size(), 1u);
  EXPECT_EQ(l.containers[0].bindings[0].host_port, 49153);
  EXPECT_FALSE(l.containers[1].running);
  EXPECT_EQ(l.containers[1].exit_code, 137);
}

// --- events
// -------------------------------------------------------------------------------------------------

std::string event_line(const std::string& action, const std::string& id, const std::string& attributes) {
  return R"({"Type":"container","Action":")" + action + R"(","Actor":{"ID":")" + id + R"(","Attributes":)" +
         attributes + R"(},"scope":"local","time":1795345932})" + "\n";
}

TEST_F(DockerRuntimeTest, EventStreamConnectsAndParsesSplitChunkedLines) {
  daemon_.on("GET", "/v1.41/events", stream());
  std::vector<RuntimeEvent> events;
  int connected = 0;
  rt_->watch(
      Labels{{"berth.cluster", "default"}}, [&](RuntimeEvent e) { events.push_back(std::move(e)); },
      [&] { ++connected; });

  // No event has been sent: the headers alone must count as connected.
  ASSERT_TRUE(posts_.run_until([&] { return connected == 1; }));
  auto reqs = daemon_.requests_to("GET", "/v1.41/events");
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(json::parse(reqs[0].query_param("filters")), json::parse(R"({
      "type": ["container"], "event": ["start", "die", "oom", "destroy", "health_status"], "label": ["berth.cluster=default"]})"));

  const std::string die = event_line(
      "die", "c1", R"({"berth.cluster":"default","exitCode":"137","image":"busybox","name":"web"})");
  const std::size_t half = die.size() / 2;
  // One chunk ends mid-line; its first event arriving shows the client read that chunk before the next.
  daemon_.send_chunk(
      event_line("start", "c1", R"({"berth.cluster":"default","image":"busybox","name":"web"})") +
      die.substr(0, half));
  ASSERT_TRUE(posts_.run_until([&] { return events.size() == 1; }));
  daemon_.send_chunk(die.substr(half) + R"({"Type":"network","Action":"connect","Actor":{"ID":"n1"}})" +
                     "\n" + "not json at all\n" + event_line("exec_start: sh", "c1", "{}") +
                     event_line("oom", "c1", "{}") +
                     event_line("destroy", "c1", R"({"berth.cluster":"default"})"));
  ASSERT_TRUE(posts_.run_until([&] { return events.size() == 4; }));

  EXPECT_EQ(events[0].type, RuntimeEvent::Type::kStart);
  EXPECT_EQ(events[0].container_id, "c1");
  EXPECT_EQ(events[0].labels, (Labels{{"berth.cluster", "default"}}));
  EXPECT_FALSE(events[0].exit_code);
  EXPECT_EQ(events[1].type, RuntimeEvent::Type::kDie);
  EXPECT_EQ(events[1].exit_code, 137);
  EXPECT_EQ(events[1].labels, (Labels{{"berth.cluster", "default"}}));
  EXPECT_EQ(events[2].type, RuntimeEvent::Type::kOom);
  EXPECT_EQ(events[3].type, RuntimeEvent::Type::kDestroy);
  EXPECT_EQ(connected, 1);
}

TEST_F(DockerRuntimeTest, HealthStatusEventsBecomeHealthEvents) {
  daemon_.on("GET", "/v1.41/events", stream());
  std::vector<RuntimeEvent> events;
  int connected = 0;
  rt_->watch(
      {}, [&](RuntimeEvent e) { events.push_back(std::move(e)); }, [&] { ++connected; });
  ASSERT_TRUE(posts_.run_until([&] { return connected == 1; }));
  ASSERT_TRUE(daemon_.wait_for_streams(1, kWait));
  daemon_.send_chunk(event_line("health_status: starting", "c1", R"({"berth.task":"t1"})") +
                     event_line("health_status: healthy", "c1", R"({"berth.task":"t1","image":"busybox"})") +
                     event_line("health_status: unhealthy", "c2", "{}"));
  ASSERT_TRUE(posts_.run_until([&] { return events.size() == 2; }));
  EXPECT_EQ(events[0].type, RuntimeEvent::Type::kHealth);
  EXPECT_EQ(events[0].container_id, "c1");
  EXPECT_EQ(events[0].health, "healthy");
  EXPECT_EQ(events[0].labels, (Labels{{"berth.task", "t1"}}));
  EXPECT_EQ(events[1].type, RuntimeEvent::Type::kHealth);
  EXPECT_EQ(events[1].container_id, "c2");
  EXPECT_EQ(events[1].health, "unhealthy");
}

TEST_F(DockerRuntimeTest, EventStreamReconnectsAfterTheEngineDropsIt) {
  daemon_.on("GET", "/v1.41/events", stream());
  int connected = 0;
  std::vector<RuntimeEvent> events;
  rt_->watch(
      {}, [&](RuntimeEvent e) { events.push_back(std::move(e)); }, [&] { ++connected; });
  ASSERT_TRUE(posts_.run_until([&] { return connected == 1; }));
  EXPECT_EQ(json::parse(daemon_.requests_to("GET", "/v1.41/events")[0].query_param("filters")).count("label"),
            0u);
  // The fake answers a stream's headers before it registers the stream; drop only once it is registered.
  ASSERT_TRUE(daemon_.wait_for_streams(1, kWait));

  daemon_.drop_streams();
  ASSERT_TRUE(posts_.run_until([&] { return connected == 2; }));
  ASSERT_TRUE(daemon_.wait_for_streams(2, kWait));
  daemon_.send_chunk(event_line("die", "c9", R"({"exitCode":"0"})"));
  ASSERT_TRUE(posts_.run_until([&] { return events.size() == 1; }));
  EXPECT_EQ(events[0].container_id, "c9");
  EXPECT_EQ(events[0].exit_code, 0);
  EXPECT_EQ(daemon_.requests_to("GET", "/v1.41/events").size(), 2u);
}

TEST_F(DockerRuntimeTest, EventStreamRetriesAfterAnErrorStatus) {
  daemon_.on("GET", "/v1.41/events", stream());
  daemon_.on("GET", "/v1.41/events", ok(R"({"message":"invalid filter"})", 400), 1);
  int connected = 0;
  rt_->watch(
      {}, [](RuntimeEvent) {}, [&] { ++connected; });
  ASSERT_TRUE(posts_.run_until([&] { return connected == 1; }));
  // The refused attempt never counted as a connection.
  EXPECT_EQ(daemon_.requests_to("GET", "/v1.41/events").size(), 2u);
}

TEST_F(DockerRuntimeTest, ShutdownWhileStreamingAndPullingReturnsPromptly) {
  daemon_.on("GET", "/v1.41/events", stream());
  daemon_.on("GET", "/v1.41/images/", ok(R"({"message":"No such image"})", 404));
  daemon_.on("POST", "/v1.41/images/create", stream());  // a pull that never ends
  int connected = 0;
  std::optional<ImageOutcome> pulled;
  rt_->watch(
      {}, [](RuntimeEvent) {}, [&] { ++connected; });
  rt_->ensure_image("busybox", std::nullopt, [&](ImageOutcome o) { pulled = std::move(o); });
  ASSERT_TRUE(posts_.run_until([&] { return connected == 1; }));
  ASSERT_TRUE(daemon_.wait_for_streams(2, kWait));

  const auto begin = std::chrono::steady_clock::now();
  rt_->shutdown();
  // A generous bound that only a hang (e.g. waiting out a request timeout) would exceed.
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 2s);
  rt_->shutdown();

  // Nothing more is delivered, and later calls are dropped rather than crashing.
  rt_->kill("c1", "SIGTERM", [](Done) { ADD_FAILURE() << "completion after shutdown"; });
  EXPECT_EQ(posts_.pending(), 0u);
  EXPECT_FALSE(pulled);
  rt_.reset();  // the destructor's own shutdown() is a no-op now
}

// --- against the real engine
// --------------------------------------------------------------------------------

constexpr const char* kTestImage = "berth-test/busybox:latest";

// Runs a shell command and returns its standard output with trailing newlines trimmed.
std::string shell(const std::string& command) {
  std::string out;
  if (FILE* p = ::popen(command.c_str(), "r")) {
    std::array<char, 4096> buf{};
    while (std::size_t n = std::fread(buf.data(), 1, buf.size(), p)) {
      out.append(buf.data(), n);
    }
    ::pclose(p);
  }
  while (!out.empty() && out.back() == '\n') {
    out.pop_back();
  }
  return out;
}

// A ustar archive holding one small regular file: the least `docker import` accepts as a root filesystem.
std::string tiny_rootfs_tar() {
  const std::string name = "hello.txt";
  const std::string content = "hello from berth\n";
  std::string header(512, '\0');
  auto put = [&header](std::size_t offset, const std::string& value) {
    header.replace(offset, value.size(), value);
  };
  char octal[32];
  put(0, name);
  put(100, "0000644");
  put(108, "0000000");
  put(116, "0000000");
  std::snprintf(octal, sizeof octal, "%011o", static_cast<unsigned>(content.size()));
  put(124, octal);
  put(136, "00000000000");
  header[156] = '0';
  put(257, std::string("ustar\0", 6));
  put(263, "00");
  std::fill(header.begin() + 148, header.begin() + 156, ' ');
  unsigned sum = 0;
  for (char c : header) {
    sum += static_cast<unsigned char>(c);
  }
  std::snprintf(octal, sizeof octal, "%06o", sum);
  header.replace(148, 7, std::string(octal, 6) + '\0');
  std::string tar = header + content;
  tar.resize((tar.size() + 511) / 512 * 512, '\0');
  tar.append(1024, '\0');
  return tar;
}

// Runs only where a Docker engine (DOCKER_HOST, else /var/run/docker.sock) answers and has the test image;
// skips otherwise.
class DockerRuntimeRealEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string host = DockerRuntime::host_from_env();
    if (host.starts_with("unix://") && ::access(host.c_str() + 7, R_OK | W_OK) != 0) {
      GTEST_SKIP() << "no usable Docker socket at " << host;
    }
    DockerRuntime::Options o;
    o.host = host;
    o.post = posts_.poster();
    o.pull_timeout = 20s;
    rt_ = std::make_unique<DockerRuntime>(std::move(o));
    auto info = run<EngineInfo>([&](auto cb) { rt_->info(cb); });
    if (!info.reachable) {
      GTEST_SKIP() << info.error;
    }
    auto img = run<ImageOutcome>([&](auto cb) { rt_->ensure_image(kTestImage, std::nullopt, cb); });
    if (img.error) {
      GTEST_SKIP() << kTestImage << " unavailable: " << img.error->message;
    }
    EXPECT_FALSE(img.pulled);
    EXPECT_TRUE(img.image_id.starts_with("sha256:")) << img.image_id;
  }

  void TearDown() override {
    for (const auto& id : created_) {
      auto d = run<Done>([&](auto cb) { rt_->remove(id, cb); });
      EXPECT_FALSE(d.error) << d.error->message;
    }
  }

  template <typename T, typename Op>
  T run(Op&& op) {
    return await<T>(posts_, std::forward<Op>(op));
  }

  PostQueue posts_;
  std::unique_ptr<DockerRuntime> rt_;
  std::vector<std::string> created_;
};

TEST_F(DockerRuntimeRealEngineTest, RunsKillsListsAndRemovesAContainer) {
  const std::string run_id = ids::hex32();
  const Labels labels{{"berth.test", run_id}};
  std::vector<RuntimeEvent> events;
  int connected = 0;
  rt_->watch(
      labels, [&](RuntimeEvent e) { events.push_back(std::move(e)); }, [&] { ++connected; });
  ASSERT_TRUE(posts_.run_until([&] { return connected >= 1; }));
  auto saw = [&](RuntimeEvent::Type type) {
    return std::find_if(events.begin(), events.end(), [&](const RuntimeEvent& e) { return e.type == type; });
  };

  ContainerSpec spec;
  spec.name = "berth-test-" + run_id.substr(0, 12);
  spec.image = kTestImage;
  spec.command = std::vector<std::string>{"sleep", "30"};
  spec.labels = labels;
  spec.ports = {PortBinding{80, 0}};
  auto c = run<CreateOutcome>([&](auto cb) { rt_->create(spec, cb); });
  ASSERT_FALSE(c.error) << c.error->message;
  created_.push_back(c.container_id);

  auto s = run<StartOutcome>([&](auto cb) { rt_->start(c.container_id, cb); });
  ASSERT_FALSE(s.error) << s.error->message;
  ASSERT_FALSE(s.bindings.empty());
  EXPECT_EQ(s.bindings[0].container_port, 80);
  EXPECT_GT(s.bindings[0].host_port, 0);  // the dynamic port, resolved
  ASSERT_TRUE(posts_.run_until([&] { return saw(RuntimeEvent::Type::kStart) != events.end(); }));

  // Its address on docker0, from start and from inspect alike; and a real stats sample.
  EXPECT_FALSE(s.ip_address.empty());
  auto running = run<InspectOutcome>([&](auto cb) { rt_->inspect(c.container_id, cb); });
  ASSERT_FALSE(running.error);
  EXPECT_EQ(running.state.ip_address, s.ip_address);
  auto st = run<StatsOutcome>([&](auto cb) { rt_->stats(c.container_id, cb); });
  ASSERT_FALSE(st.error) << st.error->message;
  auto doc = json::parse(st.body);
  EXPECT_EQ(doc["id"], c.container_id);
  EXPECT_TRUE(doc["memory_stats"].contains("usage")) << st.body;
  EXPECT_TRUE(doc["cpu_stats"].contains("cpu_usage")) << st.body;
  EXPECT_TRUE(doc["networks"].contains("eth0")) << st.body;

  auto k = run<Done>([&](auto cb) { rt_->kill(c.container_id, "SIGKILL", cb); });
  ASSERT_FALSE(k.error) << k.error->message;
  ASSERT_TRUE(posts_.run_until([&] { return saw(RuntimeEvent::Type::kDie) != events.end(); }));
  auto die = saw(RuntimeEvent::Type::kDie);
  EXPECT_EQ(die->container_id, c.container_id);
  EXPECT_EQ(die->exit_code, 137);
  EXPECT_EQ(die->labels.at("berth.test"), run_id);

  auto i = run<InspectOutcome>([&](auto cb) { rt_->inspect(c.container_id, cb); });
  ASSERT_FALSE(i.error);
  EXPECT_FALSE(i.state.running);
  EXPECT_EQ(i.state.exit_code, 137);
  EXPECT_EQ(i.state.name, spec.name);

  auto l = run<ListOutcome>([&](auto cb) { rt_->list(labels, cb); });
  ASSERT_FALSE(l.error);
  ASSERT_EQ(l.containers.size(), 1u);
  EXPECT_EQ(l.containers[0].id, c.container_id);
  EXPECT_EQ(l.containers[0].exit_code, 137);

  auto again = run<Done>([&](auto cb) { rt_->kill(c.container_id, "SIGTERM", cb); });
  EXPECT_FALSE(again.error) << again.error->message;  // not running: not an error

  auto r = run<Done>([&](auto cb) { rt_->remove(c.container_id, cb); });
  ASSERT_FALSE(r.error) << r.error->message;
  ASSERT_TRUE(posts_.run_until([&] { return saw(RuntimeEvent::Type::kDestroy) != events.end(); }));
  l = run<ListOutcome>([&](auto cb) { rt_->list(labels, cb); });
  EXPECT_TRUE(l.containers.empty());
  auto gone = run<InspectOutcome>([&](auto cb) { rt_->inspect(c.container_id, cb); });
  ASSERT_TRUE(gone.error);
  EXPECT_EQ(gone.error->kind, ErrorKind::kNotFound);
}

TEST_F(DockerRuntimeRealEngineTest, HealthCheckNetworksAndEveryHostConfigField) {
  const std::string run_id = ids::hex32();
  const std::string network = "berth-test-" + run_id.substr(0, 12);
  const Labels labels{{"berth.test", run_id}};
  std::vector<RuntimeEvent> events;
  int connected = 0;
  rt_->watch(
      labels, [&](RuntimeEvent e) { events.push_back(std::move(e)); }, [&] { ++connected; });
  ASSERT_TRUE(posts_.run_until([&] { return connected >= 1; }));

  // Twice, as two tasks of one VPC would: still one network.
  for (int i = 0; i < 2; ++i) {
    auto n = run<Done>([&](auto cb) { rt_->ensure_network(NetworkSpec{network, labels}, cb); });
    ASSERT_FALSE(n.error) << n.error->message;
  }
  EXPECT_EQ(shell("docker network ls -q --filter label=berth.test=" + run_id + " | wc -l"), "1");

  ContainerSpec spec;
  spec.name = "berth-test-" + run_id.substr(0, 12) + "-a";
  spec.image = kTestImage;
  spec.command = std::vector<std::string>{"sleep", "60"};
  spec.labels = labels;
  spec.network_mode = network;
  spec.network_aliases = {"web"};
  spec.hostname = "web-host";
  spec.nano_cpus = 250'000'000;
  spec.memory_bytes = 64LL << 20;
  spec.ulimits = {Ulimit{"nofile", 1024, 2048}};
  spec.cap_add = {"NET_ADMIN"};
  spec.cap_drop = {"MKNOD"};
  spec.init = true;
  spec.shm_size_bytes = 32LL << 20;
  spec.read_only_rootfs = true;
  spec.extra_hosts = {"db:10.9.8.7"};
  spec.dns = {"10.0.0.2"};
  spec.dns_search = {"corp.example"};
  spec.mounts = {Mount{Mount::Type::kTmpfs, "", "/scratch", false, 8LL << 20, {"mode=1777"}},
                 Mount{Mount::Type::kTmpfs, "", "/run/x", false, 1LL << 20, {"noexec", "nosuid"}}};
  spec.sysctls = {{"net.core.somaxconn", "511"}};
  spec.healthcheck = HealthCheck{{"CMD-SHELL", "test -d /scratch"}, 1'000'000'000, 2'000'000'000, 0, 3};
  spec.log_driver = "json-file";
  spec.log_options = {{"max-size", "1m"}};
  spec.stop_timeout_s = 7;
  auto c = run<CreateOutcome>([&](auto cb) { rt_->create(spec, cb); });
  ASSERT_FALSE(c.error) << c.error->message;
  created_.push_back(c.container_id);
  auto s = run<StartOutcome>([&](auto cb) { rt_->start(c.container_id, cb); });
  ASSERT_FALSE(s.error) << s.error->message;
  EXPECT_FALSE(s.ip_address.empty());
  EXPECT_FALSE(s.mac_address.empty());

  auto healthy = [&] {
    return std::find_if(events.begin(), events.end(), [&](const RuntimeEvent& e) {
             return e.type == RuntimeEvent::Type::kHealth && e.container_id == c.container_id;
           }) != events.end();
  };
  ASSERT_TRUE(posts_.run_until(healthy, 30s)) << "no health_status event";
  auto health_event = std::find_if(events.begin(), events.end(), [](const RuntimeEvent& e) {
    return e.type == RuntimeEvent::Type::kHealth;
  });
  EXPECT_EQ(health_event->health, "healthy");
  EXPECT_EQ(health_event->labels.at("berth.test"), run_id);
  auto i = run<InspectOutcome>([&](auto cb) { rt_->inspect(c.container_id, cb); });
  ASSERT_FALSE(i.error);
  EXPECT_EQ(i.state.health, "healthy");

  const std::string inspected = shell(
      "docker inspect -f '{{.HostConfig.NanoCpus}} {{.HostConfig.Init}} {{.HostConfig.ReadonlyRootfs}} "
      "{{.HostConfig.ShmSize}} {{.Config.StopTimeout}} {{.HostConfig.LogConfig.Type}} "
      "{{index .HostConfig.LogConfig.Config \"max-size\"}} {{.Config.Hostname}} "
      "{{index .NetworkSettings.Networks \"" +
      network + "\" \"Aliases\"}}' " + c.container_id);
  EXPECT_EQ(inspected.substr(0, inspected.find('[')),
            "250000000 true true 33554432 7 json-file 1m web-host ");
  EXPECT_NE(inspected.find("web"), std::string::npos) << inspected;
  EXPECT_EQ(shell("docker exec " + c.container_id + " cat /proc/sys/net/core/somaxconn"), "511");
  EXPECT_EQ(shell("docker exec " + c.container_id + " sh -c 'ulimit -n'"), "1024");
  EXPECT_NE(shell("docker exec " + c.container_id + " cat /etc/hosts").find("10.9.8.7\tdb"),
            std::string::npos);
  EXPECT_NE(shell("docker exec " + c.container_id + " grep /run/x /proc/mounts").find("noexec"),
            std::string::npos);
  EXPECT_NE(shell("docker exec " + c.container_id + " sh -c 'touch /x 2>&1'").find("Read-only"),
            std::string::npos);

  // Joining its namespace with everything the engine would refuse there: all left out, so it starts.
  ContainerSpec joiner;
  joiner.name = spec.name + "-b";
  joiner.image = kTestImage;
  joiner.command = std::vector<std::string>{"sleep", "60"};
  joiner.labels = labels;
  joiner.network_mode = "container:" + c.container_id;
  joiner.hostname = "ignored";
  joiner.ports = {PortBinding{80, 0}};
  joiner.dns = {"1.1.1.1"};
  joiner.extra_hosts = {"x:1.2.3.4"};
  auto jc = run<CreateOutcome>([&](auto cb) { rt_->create(joiner, cb); });
  ASSERT_FALSE(jc.error) << jc.error->message;
  created_.push_back(jc.container_id);
  auto js = run<StartOutcome>([&](auto cb) { rt_->start(jc.container_id, cb); });
  ASSERT_FALSE(js.error) << js.error->message;
  EXPECT_EQ(js.ip_address, "");
  EXPECT_EQ(shell("docker exec " + jc.container_id + " hostname"), "web-host");

  // In use: refused, and kept.
  auto busy = run<Done>([&](auto cb) { rt_->remove_network(network, cb); });
  ASSERT_TRUE(busy.error);
  EXPECT_EQ(busy.error->kind, ErrorKind::kConflict);
  for (const auto& id : created_) {
    auto d = run<Done>([&](auto cb) { rt_->remove(id, cb); });
    EXPECT_FALSE(d.error);
  }
  created_.clear();
  auto removed = run<Done>([&](auto cb) { rt_->remove_network(network, cb); });
  EXPECT_FALSE(removed.error) << removed.error->message;
  auto again = run<Done>([&](auto cb) { rt_->remove_network(network, cb); });
  EXPECT_FALSE(again.error) << again.error->message;
  EXPECT_EQ(shell("docker network ls -q --filter label=berth.test=" + run_id + " | wc -l"), "0");
}

TEST_F(DockerRuntimeRealEngineTest, ImportsAnImageAndManagesVolumes) {
  const std::string run_id = ids::hex32();
  const std::string image = "berth-test/imported:" + run_id.substr(0, 12);
  auto imported = run<Done>([&](auto cb) { rt_->import_image(image, tiny_rootfs_tar(), cb); });
  ASSERT_FALSE(imported.error) << imported.error->message;
  auto img = run<ImageOutcome>([&](auto cb) { rt_->ensure_image(image, std::nullopt, cb); });
  EXPECT_FALSE(img.error) << img.error->message;
  EXPECT_FALSE(img.pulled);
  EXPECT_TRUE(img.image_id.starts_with("sha256:")) << img.image_id;
  shell("docker image rm -f " + image + " >/dev/null 2>&1");

  auto junk = run<Done>([&](auto cb) { rt_->import_image(image, std::string(1024, 'x'), cb); });
  ASSERT_TRUE(junk.error);
  shell("docker image rm -f " + image + " >/dev/null 2>&1");

  const std::string volume = "berth-test-" + run_id.substr(0, 12);
  const VolumeSpec spec{volume, "local", {}, {{"berth.test", run_id}}};
  for (int i = 0; i < 2; ++i) {
    auto v = run<Done>([&](auto cb) { rt_->ensure_volume(spec, cb); });
    ASSERT_FALSE(v.error) << v.error->message;
  }
  EXPECT_EQ(shell("docker volume ls -q --filter label=berth.test=" + run_id), volume);

  ContainerSpec user;
  user.name = volume + "-user";
  user.image = kTestImage;
  user.command = std::vector<std::string>{"sh", "-c", "echo hi > /data/f"};
  user.mounts = {Mount{Mount::Type::kVolume, volume, "/data", false, std::nullopt, {}}};
  auto c = run<CreateOutcome>([&](auto cb) { rt_->create(user, cb); });
  ASSERT_FALSE(c.error) << c.error->message;
  created_.push_back(c.container_id);
  auto busy = run<Done>([&](auto cb) { rt_->remove_volume(volume, cb); });
  ASSERT_TRUE(busy.error);
  EXPECT_EQ(busy.error->kind, ErrorKind::kConflict);
  auto r = run<Done>([&](auto cb) { rt_->remove(c.container_id, cb); });
  EXPECT_FALSE(r.error);
  created_.clear();
  auto removed = run<Done>([&](auto cb) { rt_->remove_volume(volume, cb); });
  EXPECT_FALSE(removed.error) << removed.error->message;
  auto again = run<Done>([&](auto cb) { rt_->remove_volume(volume, cb); });
  EXPECT_FALSE(again.error) << again.error->message;
  EXPECT_EQ(shell("docker volume ls -q --filter label=berth.test=" + run_id), "");
}

}  // namespace
}  // namespace berth::runtime
