#pragma once
// Creating task records. RunTask, StartTask and the service scheduler all make tasks through add_task, so a
// task looks the same whoever started it.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <berth/common/arn.hpp>
#include <berth/common/clock.hpp>
#include <berth/common/json.hpp>
#include <berth/state/store.hpp>

namespace berth::state {

// What varies between the tasks of one task definition: how and where it was asked to run.
struct NewTask {
  std::string launch_type = "EC2";
  std::string
      capacity_provider_name;       // set when a capacity provider places it (the task then reports FARGATE)
  std::string platform_version;     // as requested; empty or LATEST resolve to 1.4.0 on Fargate
  json network_configuration;       // null when none (required for awsvpc)
  json overrides = json::object();  // RunTask's TaskOverride
  std::string group;                // empty: family:<family>
  std::string started_by;
  json tags = json::array();
  ContainerInstance* instance =
      nullptr;  // where placement put it (the task is recorded there); null: no instance
};

// A task-level size as stored ("256", "512") or as a task definition or override may spell it ("0.25 vCPU",
// "1 GB"): `unit_word` ("vcpu"/"gb") scales by `per_unit`. nullopt when empty, unreadable or not positive.
std::optional<std::int64_t> task_size(std::string_view text, std::string_view unit_word,
                                      std::int64_t per_unit);

// Applies one containerOverride to a container definition, as ECS does: command replaces, environment merges
// by name, cpu/memory/memoryReservation replace.
void apply_container_override(json& definition, const json& container_override);

// Creates a task of `td` in `cluster` (lastStatus PROVISIONING, desiredStatus RUNNING), indexes it in the
// store and returns it. The caller hands its id to the task reconciler.
Task& add_task(Store& store, const Scope& scope, const Cluster& cluster, const TaskDefinition& td,
               const NewTask& spec, TimeMs now);

}  // namespace berth::state
