#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace berth {
std::string base64_encode(std::string_view in);
// Standard alphabet with padding; returns nullopt on any invalid character or length.
std::optional<std::string> base64_decode(std::string_view in);
}  // namespace berth
