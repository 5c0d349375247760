#pragma once
#include <string_view>

#include <berth/common/json.hpp>
#include <berth/protocol/model.hpp>

namespace berth::protocol {

// Keeps only what the named shape models, recursively: members a structure does not have are dropped (the
// input validator ignores unknown members, so a stored request may carry some), lists and maps are projected
// element by element, scalars are kept as they are. Used to store and return a resource exactly as its output
// shape describes it.
json project_to_shape(const ServiceModel& model, std::string_view shape_name, const json& value);

}  // namespace berth::protocol
