#include <berth/state/store.hpp>

namespace berth::state {

RegionState& Store::region(const Scope& scope) { return regions_[{scope.account, scope.region}]; }

RegionState* Store::find_region(const Scope& scope) {
  auto it = regions_.find(std::pair{scope.account, scope.region});
  return it == regions_.end() ? nullptr : &it->second;
}

Task* Store::find_task(std::string_view task_id) {
  auto it = task_scopes_.find(task_id);
  if (it == task_scopes_.end()) {
    return nullptr;
  }
  auto* r = find_region(it->second);
  if (r == nullptr) {
    return nullptr;
  }
  auto t = r->tasks.find(task_id);
  return t == r->tasks.end() ? nullptr : &t->second;
}

void Store::index_task(const Task& task) { task_scopes_[task.id] = task.scope; }

void Store::erase_task(std::string_view task_id) {
  auto it = task_scopes_.find(task_id);
  if (it == task_scopes_.end()) {
    return;
  }
  if (auto* r = find_region(it->second)) {
    if (auto t = r->tasks.find(task_id); t != r->tasks.end()) {
      // The instance it ran on no longer needs to remember it.
      for (auto& [id, ci] : r->container_instances) {
        std::erase(ci.task_ids, std::string(task_id));
      }
      r->tasks.erase(t);
    }
  }
  task_scopes_.erase(it);
}

void Store::clear() {
  regions_.clear();
  task_scopes_.clear();
}

}  // namespace berth::state
