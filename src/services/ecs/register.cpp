#include "ecs_common.hpp"

namespace berth::services {

void register_ecs_handlers(protocol::HandlerTable& table, EcsContext& ctx) {
  ecs::register_cluster_handlers(table, ctx);
  ecs::register_capacity_provider_handlers(table, ctx);
  ecs::register_account_setting_handlers(table, ctx);
  ecs::register_tag_handlers(table, ctx);
  ecs::register_task_definition_handlers(table, ctx);
  ecs::register_task_handlers(table, ctx);
  ecs::register_service_handlers(table, ctx);
  ecs::register_container_instance_handlers(table, ctx);
  ecs::register_task_protection_handlers(table, ctx);
  ecs::register_daemon_handlers(table, ctx);
  ecs::register_express_gateway_handlers(table, ctx);
}

}  // namespace berth::services
