#pragma once
#include <berth/common/json.hpp>
#include <berth/common/result.hpp>
#include <berth/state/store.hpp>

namespace berth::state {

// The whole store as JSON (for --data-dir). Reconciler bookkeeping is saved too, so a restarted berth can
// pick its containers up again.
json snapshot(Store& store);

// Replaces the store's contents with a snapshot. Work that was under way when the snapshot was taken is
// rolled back to the last step that is safe to repeat (a pull is redone, a start is re-sent).
Result<Unit> restore(Store& store, const json& snapshot);

}  // namespace berth::state
