#pragma once
#include <string>

#include <berth/common/clock.hpp>

namespace berth {
// RFC 3339 / ISO 8601 in UTC with milliseconds, e.g. 2026-11-22T11:07:00.123Z.
std::string format_rfc3339(TimeMs t);
}  // namespace berth
