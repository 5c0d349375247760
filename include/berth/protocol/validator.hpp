#pragma once
#include <optional>

#include <berth/common/json.hpp>
#include <berth/common/result.hpp>
#include <berth/protocol/model.hpp>

namespace berth::protocol {

// Checks a request body against the operation's input shape, as AWS's Coral front end does:
//  - a JSON value of the wrong type (string for an integer, object for a list, ...) -> SerializationException;
//  - missing required members, enum violations, length/size/range violations -> one ValidationException that
//    lists every violation: "2 validation errors detected: Value null at 'family' failed to satisfy
//    constraint: Member must not be null; Value '...' at '...' failed to satisfy constraint: ...".
// Unknown members are ignored (AWS JSON services accept them). Returns nullopt when the input is valid.
std::optional<AwsError> validate_input(const ServiceModel& service, const Operation& op, const json& input);

}  // namespace berth::protocol
