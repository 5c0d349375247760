#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include <berth/common/ids.hpp>
#include <berth/endpoints/credentials.hpp>

namespace berth::endpoints {
namespace {

constexpr TimeMs kNow = 1'700'000'000'123;

bool shaped_like_sts_key(const std::string& k) {
  return k.size() == 20 && k.starts_with("ASIA") &&
         k.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 4) == std::string::npos;
}

TEST(LocalCredentials, SameRoleSameKeysDifferentRoleDifferentKeys) {
  LocalCredentialIssuer issuer("seed-1");
  auto a = issuer.issue("arn:aws:iam::111122223333:role/app", "111122223333", kNow);
  auto again = issuer.issue("arn:aws:iam::111122223333:role/app", "111122223333", kNow + 3'600'000);
  auto other = issuer.issue("arn:aws:iam::111122223333:role/worker", "111122223333", kNow);
  EXPECT_EQ(a.access_key_id, again.access_key_id);
  EXPECT_EQ(a.secret_access_key, again.secret_access_key);
  EXPECT_EQ(a.token, again.token);
  EXPECT_NE(a.access_key_id, other.access_key_id);
  EXPECT_NE(a.secret_access_key, other.secret_access_key);
  EXPECT_NE(a.token, other.token);
  // Another berth (another seed) hands out other keys for the same role.
  LocalCredentialIssuer elsewhere("seed-2");
  auto b = elsewhere.issue("arn:aws:iam::111122223333:role/app", "111122223333", kNow);
  EXPECT_NE(a.secret_access_key, b.secret_access_key);
  EXPECT_NE(a.access_key_id, b.access_key_id);
}

TEST(LocalCredentials, ShapedAsStsTemporaryCredentials) {
  LocalCredentialIssuer issuer(ids::secret_hex(32));
  auto c = issuer.issue("arn:aws:iam::111122223333:role/app", "111122223333", kNow);
  EXPECT_TRUE(shaped_like_sts_key(c.access_key_id)) << c.access_key_id;
  EXPECT_EQ(c.secret_access_key.size(), 40u);
  EXPECT_GE(c.token.size(), 80u);
  // Whole seconds, six hours ahead.
  EXPECT_EQ(c.expiration, 1'700'000'000'000 + 6 * 3600 * 1000);
}

TEST(LocalCredentials, TheAccessKeyNamesTheRolesAccountToThisBerthOnly) {
  LocalCredentialIssuer issuer("seed-1");
  for (std::string account : {"111122223333", "000000000000", "999999999999", "000000000042"}) {
    auto c = issuer.issue("arn:aws:iam::" + account + ":role/r", account, kNow);
    EXPECT_EQ(issuer.account_of(c.access_key_id), account);
  }
  auto c = issuer.issue("arn:aws:iam::111122223333:role/app", "111122223333", kNow);
  EXPECT_FALSE(LocalCredentialIssuer("seed-2").account_of(c.access_key_id));
  // Keys berth did not make: AWS's documentation example, long-term keys, a tampered key, nonsense.
  EXPECT_FALSE(issuer.account_of("ASIAIOSFODNN7EXAMPLE"));
  EXPECT_FALSE(issuer.account_of("AKIAIOSFODNN7EXAMPLE"));
  std::string tampered = c.access_key_id;
  tampered[6] = tampered[6] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(issuer.account_of(tampered));
  EXPECT_FALSE(issuer.account_of("test"));
  EXPECT_FALSE(issuer.account_of(""));
  EXPECT_FALSE(issuer.account_of("ASIA"));
}

TEST(LocalCredentials, RoleAccount) {
  EXPECT_EQ(role_account("arn:aws:iam::111122223333:role/app", "000000000000"), "111122223333");
  EXPECT_EQ(role_account("not-an-arn", "000000000000"), "000000000000");
  EXPECT_EQ(role_account("arn:aws:iam::abc:role/app", "123456789012"), "123456789012");
}

TEST(PassthroughCredentials, FromTheEnvironmentThenTheSharedFile) {
  std::map<std::string, std::string> env;
  auto lookup = [&](const std::string& k) -> std::optional<std::string> {
    auto it = env.find(k);
    return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
  env["HOME"] = "/nonexistent-berth-home";
  EXPECT_FALSE(passthrough_credentials(lookup, kNow));

  env["AWS_ACCESS_KEY_ID"] = "AKIAENV";
  env["AWS_SECRET_ACCESS_KEY"] = "secret-env";
  env["AWS_SESSION_TOKEN"] = "token-env";
  auto c = passthrough_credentials(lookup, kNow);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->access_key_id, "AKIAENV");
  EXPECT_EQ(c->secret_access_key, "secret-env");
  EXPECT_EQ(c->token, "token-env");
  EXPECT_GT(c->expiration, kNow);

  const auto path = std::filesystem::temp_directory_path() / ("berth-creds-" + ids::hex32());
  {
    std::ofstream out(path);
    out << "[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = s-default\n\n"
        << "# a comment\n[dev]\naws_access_key_id=AKIADEV\naws_secret_access_key=s-dev\naws_session_token=t-dev\n";
  }
  env.erase("AWS_ACCESS_KEY_ID");
  env.erase("AWS_SECRET_ACCESS_KEY");
  env.erase("AWS_SESSION_TOKEN");
  env["AWS_SHARED_CREDENTIALS_FILE"] = path.string();
  c = passthrough_credentials(lookup, kNow);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->access_key_id, "AKIADEFAULT");
  EXPECT_EQ(c->token, "");
  env["AWS_PROFILE"] = "dev";
  c = passthrough_credentials(lookup, kNow);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->access_key_id, "AKIADEV");
  EXPECT_EQ(c->secret_access_key, "s-dev");
  EXPECT_EQ(c->token, "t-dev");
  env["AWS_PROFILE"] = "missing";
  EXPECT_FALSE(passthrough_credentials(lookup, kNow));
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace berth::endpoints
