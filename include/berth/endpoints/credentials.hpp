#pragma once
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <berth/common/clock.hpp>

namespace berth::endpoints {

// What GET /v2/credentials/<id> hands a task: its role's temporary credentials.
struct RoleCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string token;
  TimeMs expiration = 0;
};

// How long issued credentials say they last (the SDKs refresh them well before).
inline constexpr TimeMs kCredentialsLifetimeMs = 6 * 3600 * 1000;

// berth's default source of task role credentials: keys derived from the role and a secret seed, the same for a
// role every time (and across restarts with the same seed), shaped as STS temporary keys (ASIA + 16 uppercase
// letters and digits). The access key id carries the role's account and a check only this seed can make, so
// berth's own API can tell which account a task calling it with these keys acts in. Pure and thread-safe.
class LocalCredentialIssuer {
 public:
  explicit LocalCredentialIssuer(std::string seed);

  // `account` is the role's (12 digits).
  RoleCredentials issue(std::string_view role_arn, std::string_view account, TimeMs now) const;
  // The account of an access key id this issuer made; nullopt for any other key.
  std::optional<std::string> account_of(std::string_view access_key_id) const;

 private:
  std::string seed_;
};

// The account a task's role belongs to: the role ARN's account when it names one, else the task's own.
std::string role_account(std::string_view role_arn, std::string_view task_account);

// The credentials berth itself runs with, for --task-credentials passthrough: AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN from `env`, else the profile (AWS_PROFILE, else "default") of the
// shared credentials file (AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials). Read at each call so rotated
// keys are picked up. nullopt when neither has an access key and secret.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
std::optional<RoleCredentials> passthrough_credentials(const EnvLookup& env, TimeMs now);

}  // namespace berth::endpoints
