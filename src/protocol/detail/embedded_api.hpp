#pragma once
#include <string_view>
#include <utility>
#include <vector>

namespace berth::protocol::detail {

// The api/*.json tables compiled into this binary, as (service id, table text) sorted by id. The text has
// static storage duration. Defined in the embedded_api.cpp that src/protocol/embed_api.cmake writes at build
// time.
std::vector<std::pair<std::string_view, std::string_view>> embedded_api_tables();

}  // namespace berth::protocol::detail
