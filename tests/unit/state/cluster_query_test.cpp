#include <gtest/gtest.h>

#include <berth/state/cluster_query.hpp>

namespace berth::state {
namespace {

using Attributes = std::map<std::string, std::optional<std::string>, std::less<>>;

class ClusterQueryTest : public ::testing::Test {
 protected:
  ClusterQueryTest() {
    attrs_ = {{"ecs.instance-type", "t2.small"},
              {"ecs.availability-zone", "us-east-1a"},
              {"stack", "prod"},
              {"gpu", std::nullopt},
              {"weight", "10"}};
    target_.agent_connected = true;
    target_.agent_version = "1.14.5";
    target_.ec2_instance_id = "i-abcd1234";
    target_.registered_at = 1518480000000;  // 2018-02-13T00:00:00Z
    target_.running_tasks_count = 1;
    target_.attributes = &attrs_;
    target_.task_groups = {"service:production", "family:web"};
  }

  bool eval(const std::string& expr) {
    auto q = ClusterQuery::parse(expr);
    EXPECT_TRUE(q) << expr << ": " << (q ? "" : q.error().message);
    return q && q->matches(target_);
  }

  std::string parse_error(const std::string& expr) {
    auto q = ClusterQuery::parse(expr);
    EXPECT_FALSE(q) << expr << " parsed but should not";
    if (q) {
      return "";
    }
    EXPECT_EQ(q.error().type, "InvalidParameterException");
    return q.error().message;
  }

  Attributes attrs_;
  QueryTarget target_;
};

TEST_F(ClusterQueryTest, TheDocumentedExamples) {
  EXPECT_TRUE(eval("attribute:ecs.instance-type == t2.small"));
  EXPECT_TRUE(eval("attribute:ecs.availability-zone in [us-east-1a, us-east-1b]"));
  EXPECT_FALSE(eval("attribute:ecs.instance-type =~ g2.* and attribute:ecs.availability-zone != us-east-1d"));
  EXPECT_TRUE(eval("attribute:ecs.instance-type =~ t2.* and attribute:ecs.availability-zone != us-east-1d"));
  EXPECT_TRUE(eval("task:group == service:production"));
  EXPECT_TRUE(eval("not(task:group == database)"));
  EXPECT_TRUE(eval("runningTasksCount == 1"));
  EXPECT_FALSE(eval("agentVersion < 1.14.5"));
  EXPECT_TRUE(eval("agentVersion < 1.14.10"));  // numeric, not string, comparison
  EXPECT_TRUE(eval("registeredAt < 2018-02-14"));
  EXPECT_FALSE(eval("registeredAt < 2018-02-13"));
  EXPECT_TRUE(eval("ec2InstanceId in ['i-abcd1234', 'i-wxyx7890']"));
}

TEST_F(ClusterQueryTest, EveryOperatorAndItsWordForm) {
  EXPECT_TRUE(eval("attribute:stack equals prod"));
  EXPECT_TRUE(eval("attribute:stack not_equals dev"));
  EXPECT_FALSE(eval("attribute:stack != prod"));
  EXPECT_TRUE(eval("attribute:weight > 9"));
  EXPECT_TRUE(eval("attribute:weight greater_than 9"));
  EXPECT_FALSE(eval("attribute:weight > 10"));
  EXPECT_TRUE(eval("attribute:weight >= 10"));
  EXPECT_TRUE(eval("attribute:weight greater_than_equal 10"));
  EXPECT_TRUE(eval("attribute:weight < 11"));
  EXPECT_TRUE(eval("attribute:weight less_than 100"));  // 10 < 100 numerically, though "10" > "100" as text
  EXPECT_TRUE(eval("attribute:weight <= 10"));
  EXPECT_TRUE(eval("attribute:weight less_than_equal 10"));
  EXPECT_TRUE(eval("attribute:gpu exists"));
  EXPECT_FALSE(eval("attribute:nope exists"));
  EXPECT_TRUE(eval("attribute:nope !exists"));
  EXPECT_TRUE(eval("attribute:nope not_exists"));
  EXPECT_TRUE(eval("attribute:stack not_in [dev, test]"));
  EXPECT_TRUE(eval("attribute:stack !in [dev, test]"));
  EXPECT_FALSE(eval("attribute:stack in [dev,test]"));
  EXPECT_TRUE(eval("attribute:stack matches pr.*"));
  EXPECT_TRUE(eval("attribute:stack !~ de.*"));
  EXPECT_TRUE(eval("attribute:stack not_matches de.*"));
  EXPECT_TRUE(eval("agentConnected == true"));
  EXPECT_FALSE(eval("agentConnected != true"));
}

TEST_F(ClusterQueryTest, BooleanOperatorsPrecedenceAndParentheses) {
  EXPECT_TRUE(eval("attribute:stack == dev or attribute:stack == prod"));
  EXPECT_TRUE(eval("attribute:stack == dev || attribute:stack == prod"));
  EXPECT_FALSE(eval("attribute:stack == dev && attribute:stack == prod"));
  EXPECT_TRUE(eval("!attribute:stack == dev"));
  // `and` binds tighter than `or`.
  EXPECT_TRUE(eval("attribute:stack == prod or attribute:stack == dev and runningTasksCount == 9"));
  EXPECT_FALSE(eval("(attribute:stack == prod or attribute:stack == dev) and runningTasksCount == 9"));
  EXPECT_TRUE(eval("not (attribute:stack == dev or (runningTasksCount > 3))"));
  EXPECT_TRUE(eval("((attribute:weight == 10))"));
}

TEST_F(ClusterQueryTest, ArgumentsMayHoldRegexGroupsAndQuotedSpaces) {
  attrs_["desc"] = "big box";
  EXPECT_TRUE(eval("attribute:desc == 'big box'"));
  EXPECT_TRUE(eval("attribute:desc == \"big box\""));
  EXPECT_TRUE(eval("(attribute:ecs.instance-type =~ t(2|3)\\.small)"));
  EXPECT_TRUE(eval("attribute:ecs.instance-type =~ t(2|3).small and runningTasksCount == 1"));
}

TEST_F(ClusterQueryTest, MissingValuesAndTasks) {
  EXPECT_FALSE(eval("attribute:gpu == x"));  // present without a value
  EXPECT_TRUE(eval("attribute:gpu != x"));
  target_.task_groups.clear();
  EXPECT_FALSE(eval("task:group exists"));
  EXPECT_TRUE(eval("not(task:group == database)"));
  target_.agent_version.clear();
  EXPECT_FALSE(eval("agentVersion >= 1.0.0"));
}

TEST_F(ClusterQueryTest, DateFormats) {
  EXPECT_TRUE(eval("registeredAt == 2018-02-13T00:00:00Z"));
  EXPECT_TRUE(eval("registeredAt == 2018-02-13T00:00:00"));
  EXPECT_TRUE(eval("registeredAt == 2018-02-13T01:00:00+01:00"));
  EXPECT_TRUE(eval("registeredAt > 2018-02-12T23:59:59+00:30"));   // 23:29:59 UTC
  EXPECT_FALSE(eval("registeredAt > 2018-02-12T23:59:59-00:30"));  // 00:29:59 UTC on the 13th
}

TEST_F(ClusterQueryTest, MalformedExpressionsAreInvalidParameter) {
  EXPECT_NE(parse_error("").find("expected an expression"), std::string::npos);
  EXPECT_NE(parse_error("bogus == 1").find("unknown subject 'bogus'"), std::string::npos);
  EXPECT_NE(parse_error("attribute:stack").find("expected an operator"), std::string::npos);
  EXPECT_NE(parse_error("attribute:stack ~~ x").find("unknown operator"), std::string::npos);
  EXPECT_NE(parse_error("attribute:stack ==").find("expected an argument"), std::string::npos);
  EXPECT_NE(parse_error("attribute:stack in dev").find("expected '['"), std::string::npos);
  EXPECT_NE(parse_error("attribute:stack in [dev").find("expected ',' or ']'"), std::string::npos);
  EXPECT_NE(parse_error("(attribute:stack == dev").find("expected ')'"), std::string::npos);
  EXPECT_NE(parse_error("attribute:stack == dev)").find("unexpected ')'"), std::string::npos);
  EXPECT_NE(parse_error("attribute:stack == dev and").find("expected an expression"), std::string::npos);
  EXPECT_NE(parse_error("attribute:stack == 'dev").find("unterminated"), std::string::npos);
  EXPECT_NE(parse_error("agentConnected > 1").find("cannot be used with agentConnected"), std::string::npos);
  EXPECT_NE(parse_error("runningTasksCount == many").find("not a valid runningTasksCount"),
            std::string::npos);
  EXPECT_NE(parse_error("registeredAt < yesterday").find("not a valid registeredAt date"), std::string::npos);
  EXPECT_NE(parse_error("attribute:x =~ (").find("not a valid regular expression"), std::string::npos);
  EXPECT_NE(parse_error("attribute: == x").find("unknown subject"), std::string::npos);
  EXPECT_NE(parse_error(std::string(kMaxQueryLength + 1, 'a')).find("longer than"), std::string::npos);
  std::string deep(100, '(');
  EXPECT_NE(parse_error(deep + "runningTasksCount == 1" + std::string(100, ')')).find("nested too deeply"),
            std::string::npos);
  EXPECT_NE(parse_error("attribute:stack == dev attribute:stack == prod").find("unexpected"),
            std::string::npos);
}

TEST_F(ClusterQueryTest, MessagesSayWhere) {
  const std::string m = parse_error("attribute:stack == dev and bogus == 1");
  EXPECT_EQ(m, "The cluster query expression is not valid: unknown subject 'bogus' at position 28.");
}

}  // namespace
}  // namespace berth::state
