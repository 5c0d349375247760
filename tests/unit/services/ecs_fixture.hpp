#pragma once
// A fixture for ECS handler tests: every request goes through the real protocol layer (target lookup, model
// validation) and the registered handlers, against a fresh store and a manual clock.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <berth/protocol/aws_json.hpp>
#include <berth/services/ecs.hpp>

namespace berth::services::testing {

class EcsFixture : public ::testing::Test {
 protected:
  EcsFixture() : ctx_{store_, clock_, [this](const std::string& id) { kicked_.push_back(id); }} {
    ctx_.self_url = "http://127.0.0.1:4566";
    register_ecs_handlers(table_, ctx_);
  }

  // One request; returns {status, body}.
  std::pair<int, json> call(const std::string& op, const json& body) {
    const std::string target = "AmazonEC2ContainerServiceV20141113." + op;
    const std::string text = body.dump();
    protocol::AwsJsonRequest req{target, text, ""};
    auto prepared = protocol::prepare_call(req, scope_, "rid");
    protocol::AwsResponse res =
        prepared ? protocol::invoke(table_, *prepared) : protocol::render_error(prepared.error(), "rid");
    return {res.status, res.body.empty() ? json::object() : json::parse(res.body)};
  }

  json ok(const std::string& op, const json& body) {
    auto [status, out] = call(op, body);
    EXPECT_EQ(status, 200) << op << ": " << out.dump();
    return out;
  }

  // Expects a 400 of `type` (and, when given, exactly `message`); returns the message.
  std::string expect_error(const std::string& op, const json& body, const std::string& type,
                           const std::string& message = "") {
    auto [status, out] = call(op, body);
    EXPECT_EQ(status, 400) << op << ": " << out.dump();
    EXPECT_EQ(out.value("__type", ""), type) << op << ": " << out.dump();
    if (!message.empty()) {
      EXPECT_EQ(out.value("message", ""), message);
    }
    return out.value("message", "");
  }

  state::RegionState& region() { return store_.region(scope_); }

  std::string arn(const std::string& resource) const {
    return "arn:aws:ecs:" + scope_.region + ":" + scope_.account + ":" + resource;
  }

  Scope scope_{"000000000000", "us-east-1"};
  ManualClock clock_;
  state::Store store_;
  std::vector<std::string> kicked_;
  EcsContext ctx_;
  protocol::HandlerTable table_;
};

}  // namespace berth::services::testing
