#include <berth/scheduler/placement.hpp>

namespace berth::scheduler {

PlacementResult place(state::RegionState& /*region*/, const PlacementRequest& request) {
  // No placement over container instances yet (issue 5): every task runs on berth's engine without one.
  PlacementResult result;
  result.instances.assign(static_cast<std::size_t>(std::max(request.count, 0)), nullptr);
  return result;
}

}  // namespace berth::scheduler
