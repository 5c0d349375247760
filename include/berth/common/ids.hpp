#pragma once
#include <string>

namespace berth::ids {

// 32 lowercase hex characters: ECS task ids, container-instance ids.
std::string hex32();
// A random RFC 4122 version-4 UUID, lowercase.
std::string uuid4();
// `n` random decimal digits (ECS deployment ids are `ecs-svc/` + 19 digits).
std::string digits(int n);
// `n` random characters of [A-Za-z0-9_-] (ECS service deployment ids are 21 of them).
std::string url_safe(int n);
// `n` random ASCII letters and digits (daemon and service deployment ids).
std::string alnum(int n);
// `n` random bytes as lowercase hex, drawn from the operating system's CSPRNG for every call (std::random_device),
// not from a seeded engine: for ids that are capabilities, which must stay unguessable even to a caller who has
// seen others (metadata endpoint tokens, credential ids, secret seeds).
std::string secret_hex(int bytes);
// A version-4 UUID from the same source as secret_hex.
std::string secret_uuid4();
// A request id as AWS sends in x-amzn-RequestId (a UUID).
inline std::string request_id() { return uuid4(); }

}  // namespace berth::ids
