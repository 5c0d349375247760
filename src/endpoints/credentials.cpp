#include <berth/endpoints/credentials.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <fstream>
#include <sstream>

#include <berth/common/arn.hpp>
#include <berth/common/base64.hpp>
#include <berth/common/sha256.hpp>

namespace berth::endpoints {
namespace {

constexpr std::string_view kBase32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
constexpr std::string_view kKeyPrefix = "ASIA";
constexpr std::uint64_t kMaxAccount = 999'999'999'999;

// Access key id layout, 10 bytes as 16 base32 characters after the prefix:
//   [0..4] account number (40 bits), [5..6] role discriminator, [7..9] check = HMAC(seed, bytes 0..6).
constexpr std::size_t kKeyBytes = 10;

std::string base32(const std::array<std::uint8_t, kKeyBytes>& bytes) {
  std::string out;
  std::uint32_t buffer = 0;
  int bits = 0;
  for (std::uint8_t b : bytes) {
    buffer = (buffer << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out.push_back(kBase32[(buffer >> (bits - 5)) & 0x1f]);
      bits -= 5;
    }
  }
  return out;  // 80 bits: exactly 16 characters, no padding
}

std::optional<std::array<std::uint8_t, kKeyBytes>> unbase32(std::string_view text) {
  if (text.size() != 16) {
    return std::nullopt;
  }
  std::array<std::uint8_t, kKeyBytes> out{};
  std::uint32_t buffer = 0;
  int bits = 0;
  std::size_t n = 0;
  for (char c : text) {
    auto pos = kBase32.find(c);
    if (pos == std::string_view::npos) {
      return std::nullopt;
    }
    buffer = (buffer << 5) | static_cast<std::uint32_t>(pos);
    bits += 5;
    if (bits >= 8) {
      out[n++] = static_cast<std::uint8_t>(buffer >> (bits - 8));
      bits -= 8;
    }
  }
  return out;
}

std::string as_text(const Sha256::Digest& d, std::size_t n) {
  return std::string(reinterpret_cast<const char*>(d.data()), std::min(n, d.size()));
}

std::array<std::uint8_t, 3> check_of(std::string_view seed, const std::array<std::uint8_t, kKeyBytes>& key) {
  auto mac = hmac_sha256(seed, "berth-akid\n" + std::string(reinterpret_cast<const char*>(key.data()), 7));
  return {mac[0], mac[1], mac[2]};
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
}

std::string trim(std::string s) {
  auto not_space = [](unsigned char c) { return !std::isspace(c); };
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
  s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
  return s;
}

// The keys of one [profile] section of an INI-style AWS credentials file.
std::optional<RoleCredentials> from_credentials_file(const std::string& path, const std::string& profile) {
  std::ifstream in(path);
  if (!in) {
    return std::nullopt;
  }
  RoleCredentials out;
  bool in_profile = false;
  std::string line;
  while (std::getline(in, line)) {
    line = trim(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') {
      continue;
    }
    if (line.front() == '[' && line.back() == ']') {
      in_profile = trim(line.substr(1, line.size() - 2)) == profile;
      continue;
    }
    auto eq = line.find('=');
    if (!in_profile || eq == std::string::npos) {
      continue;
    }
    const std::string key = trim(line.substr(0, eq));
    const std::string value = trim(line.substr(eq + 1));
    if (key == "aws_access_key_id") {
      out.access_key_id = value;
    } else if (key == "aws_secret_access_key") {
      out.secret_access_key = value;
    } else if (key == "aws_session_token") {
      out.token = value;
    }
  }
  if (out.access_key_id.empty() || out.secret_access_key.empty()) {
    return std::nullopt;
  }
  return out;
}

}  // namespace

LocalCredentialIssuer::LocalCredentialIssuer(std::string seed) : seed_(std::move(seed)) {}

RoleCredentials LocalCredentialIssuer::issue(std::string_view role_arn, std::string_view account, TimeMs now) const {
  std::uint64_t number = 0;
  if (all_digits(account) && account.size() <= 12) {
    number = std::stoull(std::string(account));
  }
  std::array<std::uint8_t, kKeyBytes> key{};
  for (int i = 0; i < 5; ++i) {
    key[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(number >> (8 * (4 - i)));
  }
  const auto role_mac = hmac_sha256(seed_, "berth-role\n" + std::string(role_arn));
  key[5] = role_mac[0];
  key[6] = role_mac[1];
  const auto check = check_of(seed_, key);
  std::copy(check.begin(), check.end(), key.begin() + 7);

  RoleCredentials c;
  c.access_key_id = std::string(kKeyPrefix) + base32(key);
  const std::string scope = std::string(account) + "\n" + std::string(role_arn);
  // 30 bytes of base64 make the 40 characters of an AWS secret access key.
  c.secret_access_key = base64_encode(as_text(hmac_sha256(seed_, "berth-secret\n" + scope), 30));
  c.token = base64_encode(as_text(hmac_sha256(seed_, "berth-token-1\n" + scope), 32) +
                          as_text(hmac_sha256(seed_, "berth-token-2\n" + scope), 32));
  // Whole seconds, as STS states expirations.
  c.expiration = (now / 1000) * 1000 + kCredentialsLifetimeMs;
  return c;
}

std::optional<std::string> LocalCredentialIssuer::account_of(std::string_view access_key_id) const {
  if (!access_key_id.starts_with(kKeyPrefix)) {
    return std::nullopt;
  }
  auto key = unbase32(access_key_id.substr(kKeyPrefix.size()));
  if (!key) {
    return std::nullopt;
  }
  const auto check = check_of(seed_, *key);
  if (!std::equal(check.begin(), check.end(), key->begin() + 7)) {
    return std::nullopt;
  }
  std::uint64_t number = 0;
  for (int i = 0; i < 5; ++i) {
    number = (number << 8) | (*key)[static_cast<std::size_t>(i)];
  }
  if (number > kMaxAccount) {
    return std::nullopt;
  }
  std::string digits = std::to_string(number);
  return std::string(12 - digits.size(), '0') + digits;
}

std::string role_account(std::string_view role_arn, std::string_view task_account) {
  auto arn = parse_arn(role_arn);
  if (arn && arn->account.size() == 12 && all_digits(arn->account)) {
    return arn->account;
  }
  return std::string(task_account);
}

std::optional<RoleCredentials> passthrough_credentials(const EnvLookup& env, TimeMs now) {
  auto get = [&](const char* name) { return env(name).value_or(""); };
  std::optional<RoleCredentials> found;
  if (!get("AWS_ACCESS_KEY_ID").empty() && !get("AWS_SECRET_ACCESS_KEY").empty()) {
    found = RoleCredentials{get("AWS_ACCESS_KEY_ID"), get("AWS_SECRET_ACCESS_KEY"), get("AWS_SESSION_TOKEN"), 0};
  } else {
    std::string path = get("AWS_SHARED_CREDENTIALS_FILE");
    if (path.empty() && !get("HOME").empty()) {
      path = get("HOME") + "/.aws/credentials";
    }
    std::string profile = get("AWS_PROFILE");
    found = path.empty() ? std::nullopt : from_credentials_file(path, profile.empty() ? "default" : profile);
  }
  if (found) {
    // Long-term keys do not expire, but the container provider needs a time: the SDKs just ask again.
    found->expiration = (now / 1000) * 1000 + kCredentialsLifetimeMs;
  }
  return found;
}

}  // namespace berth::endpoints
