#pragma once
// Snapshot (--data-dir) of container instances, attributes, task protection, daemons and Express gateway
// services; kept apart from snapshot.cpp so that file only calls in here.
#include <berth/common/json.hpp>
#include <berth/state/store.hpp>

namespace berth::state::detail {

// Adds this group's members to one region's snapshot object.
void put_instances_and_daemons(json& region_json, const RegionState& region);

// Reads them back; a snapshot written before they existed simply has none. Throws on malformed entries
// (restore() turns that into an error and keeps the old store).
void get_instances_and_daemons(const json& region_json, RegionState& region);

}  // namespace berth::state::detail
