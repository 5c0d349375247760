#pragma once
#include <string>

#include <berth/common/clock.hpp>
#include <berth/state/model.hpp>

namespace berth::state {

// The one place task and container statuses change. Each moves forward only, stamps the matching timestamp
// and bumps the task's version; each returns false (and changes nothing) when the move is not forward.

bool advance_task(Task& task, TaskStatus to, TimeMs now);

// Sets desired status STOPPED with the ECS stop code and reason (first reason wins, as in ECS).
bool request_task_stop(Task& task, std::string stop_code, std::string reason, TimeMs now);

bool advance_container(Task& task, Container& container, ContainerStatus to, TimeMs now);

}  // namespace berth::state
