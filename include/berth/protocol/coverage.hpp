#pragma once
#include <string>

#include <berth/protocol/aws_json.hpp>

namespace berth::protocol {

// The README's coverage table in Markdown, from the built-in service models and the registered handlers,
// so the table cannot claim an operation that has no handler (a unit test compares it with README.md).
std::string coverage_markdown(const HandlerTable& table);

}  // namespace berth::protocol
