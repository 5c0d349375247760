#pragma once
#include <cstddef>
#include <string_view>

#include <nlohmann/json.hpp>

#include <berth/common/result.hpp>

namespace berth {

using json = nlohmann::json;

inline constexpr std::size_t kMaxJsonDepth = 64;

// Parses a request body with a nesting bound. An empty body is `{}` (AWS JSON allows it).
// Failures are SerializationException, as AWS JSON services answer malformed input.
Result<json> parse_request_json(std::string_view body, std::size_t max_depth = kMaxJsonDepth);

}  // namespace berth
