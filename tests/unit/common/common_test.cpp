#include <gtest/gtest.h>

#include <berth/common/arn.hpp>
#include <berth/common/base64.hpp>
#include <berth/common/ids.hpp>
#include <berth/common/json.hpp>
#include <berth/common/tar.hpp>
#include <berth/common/time_format.hpp>

namespace berth {
namespace {

const Scope kScope{"123456789012", "eu-west-1"};

TEST(ArnTest, BuildsEcsArns) {
  EXPECT_EQ(ecs_arn::cluster(kScope, "prod"), "arn:aws:ecs:eu-west-1:123456789012:cluster/prod");
  EXPECT_EQ(ecs_arn::task_definition(kScope, "web", 3), "arn:aws:ecs:eu-west-1:123456789012:task-definition/web:3");
  EXPECT_EQ(ecs_arn::task(kScope, "prod", "abc"), "arn:aws:ecs:eu-west-1:123456789012:task/prod/abc");
  EXPECT_EQ(ecs_arn::container(kScope, "prod", "abc", "u"), "arn:aws:ecs:eu-west-1:123456789012:container/prod/abc/u");
}

TEST(ArnTest, ParsesAndRejects) {
  auto p = parse_arn("arn:aws:ecs:eu-west-1:123456789012:task/prod/abc");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->service, "ecs");
  EXPECT_EQ(p->region, "eu-west-1");
  EXPECT_EQ(p->account, "123456789012");
  EXPECT_EQ(p->resource, "task/prod/abc");
  EXPECT_FALSE(parse_arn("arn:aws:ecs"));
  EXPECT_FALSE(parse_arn("not-an-arn"));
  EXPECT_FALSE(parse_arn("arn::ecs:r:a:x"));
}

TEST(ArnTest, ResourceNameFromNameOrArn) {
  EXPECT_EQ(resource_name_from("prod", "ecs", "cluster"), "prod");
  EXPECT_EQ(resource_name_from("arn:aws:ecs:r:1:cluster/prod", "ecs", "cluster"), "prod");
  EXPECT_FALSE(resource_name_from("arn:aws:ecs:r:1:service/prod", "ecs", "cluster"));
  EXPECT_FALSE(resource_name_from("arn:aws:ecr:r:1:cluster/prod", "ecs", "cluster"));
  EXPECT_FALSE(resource_name_from("arn:aws:ecs:r:1:cluster/", "ecs", "cluster"));
}

TEST(IdsTest, Shapes) {
  auto h = ids::hex32();
  EXPECT_EQ(h.size(), 32u);
  EXPECT_EQ(h.find_first_not_of("0123456789abcdef"), std::string::npos);
  auto u = ids::uuid4();
  EXPECT_EQ(u.size(), 36u);
  EXPECT_EQ(u[14], '4');
  EXPECT_EQ(ids::digits(19).size(), 19u);
  EXPECT_NE(ids::hex32(), ids::hex32());
}

TEST(Base64Test, RoundTripsAndRejects) {
  for (const std::string& s : std::vector<std::string>{"", "f", "fo", "foo", "foob", "fooba", "foobar", std::string("\0\xff\x10", 3)}) {
    auto d = base64_decode(base64_encode(s));
    ASSERT_TRUE(d);
    EXPECT_EQ(*d, s);
  }
  EXPECT_EQ(base64_encode("AWS:secret"), "QVdTOnNlY3JldA==");
  EXPECT_FALSE(base64_decode("abc"));
  EXPECT_FALSE(base64_decode("ab=c"));
  EXPECT_FALSE(base64_decode("a!bc"));
}

TEST(JsonTest, EmptyBodyIsEmptyObject) {
  auto r = parse_request_json("  ");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->is_object());
  EXPECT_TRUE(r->empty());
}

TEST(JsonTest, MalformedAndNonObjectBodiesAreSerializationExceptions) {
  for (const char* body : {"{", "{\"a\":}", "[1,2]", "42", "\"s\"", "{\"a\":1}x", "nul"}) {
    auto r = parse_request_json(body);
    ASSERT_FALSE(r) << body;
    EXPECT_EQ(r.error().type, "SerializationException") << body;
    EXPECT_EQ(r.error().http_status, 400);
  }
}

TEST(JsonTest, DepthIsBounded) {
  std::string deep(200, '[');
  deep = "{\"a\":" + deep + std::string(200, ']') + "}";
  auto r = parse_request_json(deep, 64);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().type, "SerializationException");
  std::string ok = "{\"a\":[[[1]]]}";
  EXPECT_TRUE(parse_request_json(ok, 64));
}

TEST(TarTest, UstarHeaderFieldsAndChecksum) {
  const std::string tar = make_tar({TarEntry{"pause", "abc", 0755}});
  ASSERT_EQ(tar.size(), 512u + 512u + 1024u);  // header, padded content, two zero blocks
  EXPECT_EQ(tar.substr(0, 5), "pause");
  EXPECT_EQ(std::string(tar.data() + 100, 7), "0000755");
  EXPECT_EQ(std::string(tar.data() + 124, 11), "00000000003");
  EXPECT_EQ(tar[156], '0');
  EXPECT_EQ(std::string(tar.data() + 257, 5), "ustar");
  EXPECT_EQ(tar.substr(512, 3), "abc");
  unsigned sum = 0;
  for (int i = 0; i < 512; ++i) {
    sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(tar[i]);
  }
  EXPECT_EQ(std::stoul(std::string(tar.data() + 148, 6), nullptr, 8), sum);
}

TEST(TimeFormatTest, Rfc3339) {
  EXPECT_EQ(format_rfc3339(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(format_rfc3339(1700000000123), "2023-11-14T22:13:20.123Z");
}

}  // namespace
}  // namespace berth
