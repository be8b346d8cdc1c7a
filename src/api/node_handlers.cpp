#include "node_access.hpp"

#include "macvmorx/api/fleet_json.hpp"
#include "macvmorx/api/handlers.hpp"
#include "macvmorx/api/vm_json.hpp"
#include "macvmorx/base/invalid_input.hpp"
#include "macvmorx/http/http_error.hpp"
#include "macvmorx/json/json_writer.hpp"
#include "macvmorx/orchestrator/orchestrator.hpp"
#include "macvmorx/protocol/command_json.hpp"
#include "macvmorx/protocol/heartbeat_json.hpp"
#include "macvmorx/protocol/json_fields.hpp"

#include <cstdint>

namespace macvmorx::api {
namespace {

http::NotFound unknown_node(std::string_view node_id) {
    return http::NotFound("node not found", "no node with id '" + std::string(node_id) + "' has sent a heartbeat");
}

http::Response node_answer(const fleet::NodeRecord& node, ApiContext& context) {
    const auto& scheduler = context.orchestrator.scheduler();
    http::Response response;
    JsonWriter json{response.body};
    write_node(json, node, {scheduler.max_vms_per_node(), scheduler.reserved_slots(node.node_id())});
    return response;
}

} // namespace

void handle_heartbeat(const http::Request& request, ApiContext& context, std::shared_ptr<http::Reply> reply) {
    auto heartbeat = protocol::parse_heartbeat(request.body);
    require_node_access(request, heartbeat.node_id);
    auto outcome = context.orchestrator.record_heartbeat(std::move(heartbeat));
    if (outcome.commands.empty()) return reply->send(http::Response::json(200, R"({"message":"Heartbeat received"})"));
    send_commands_when_durable(context, reply, std::move(outcome.commands), "Heartbeat received");
}

http::Response handle_list_nodes(const http::Request&, ApiContext& context) {
    const auto nodes = context.orchestrator.nodes();
    const auto& scheduler = context.orchestrator.scheduler();
    const auto reserved = scheduler.reservations_by_node();
    http::Response response;
    // About 700 bytes per node; reserving avoids regrowing a multi-megabyte buffer.
    response.body.reserve(64 + nodes.size() * 768);
    JsonWriter json{response.body};
    json.begin_array();
    for (const auto& node : nodes) {
        const auto it = reserved.find(node->node_id());
        write_node(json, *node, {scheduler.max_vms_per_node(), it == reserved.end() ? 0 : it->second});
    }
    json.end_array();
    return response;
}

http::Response handle_fleet_summary(const http::Request&, ApiContext& context) {
    const auto summary = context.orchestrator.summary();
    http::Response response;
    JsonWriter json{response.body};
    json.begin_object()
        .key("nodes")
        .begin_object()
        .field("total", std::uint64_t{summary.nodes})
        .field("online", std::uint64_t{summary.online})
        .field("offline", std::uint64_t{summary.offline})
        .field("draining", std::uint64_t{summary.drained})
        .field("acceptingVms", std::uint64_t{summary.accepting_vms})
        .end_object()
        .key("slots")
        .begin_object()
        .field("total", std::uint64_t{summary.capacity.total_slots})
        .field("used", std::uint64_t{summary.capacity.total_slots - summary.capacity.free_slots})
        .field("free", std::uint64_t{summary.capacity.free_slots})
        .field("reserved", std::uint64_t{summary.capacity.reserved_slots})
        .end_object()
        .key("vms")
        .begin_object();
    std::uint64_t total = 0;
    for (std::size_t state = 0; state < summary.vms.by_state.size(); ++state) {
        json.field(protocol::to_string(static_cast<protocol::VmState>(state)), std::uint64_t{summary.vms.by_state[state]});
        total += summary.vms.by_state[state];
    }
    json.field("total", total)
        .end_object()
        .field("queueLength", std::uint64_t{summary.vms.queued})
        .field("maxVmsPerNode", context.orchestrator.scheduler().max_vms_per_node())
        .field("generatedAt", context.orchestrator.clock().now())
        .end_object();
    return response;
}

http::Response handle_get_node(const http::Request& request, ApiContext& context) {
    const auto node_id = request.path_param("nodeId");
    const auto node = context.orchestrator.node(node_id);
    if (!node) throw unknown_node(node_id);
    return node_answer(*node, context);
}

void handle_drain_node(const http::Request& request, ApiContext& context, Reply reply) {
    const auto node = context.orchestrator.set_drained(request.path_param("nodeId"), true);
    if (!node) throw unknown_node(request.path_param("nodeId"));
    answer_when_durable(context, reply, node_answer(*node, context));
}

void handle_undrain_node(const http::Request& request, ApiContext& context, Reply reply) {
    const auto node = context.orchestrator.set_drained(request.path_param("nodeId"), false);
    if (!node) throw unknown_node(request.path_param("nodeId"));
    answer_when_durable(context, reply, node_answer(*node, context));
}

void handle_set_node_labels(const http::Request& request, ApiContext& context, Reply reply) {
    const nlohmann::json document = protocol::parse_json_object(request.body);
    const protocol::FieldReader fields{document};
    if (!fields.has("labels")) throw MalformedInput("labels is required", "labels");
    const auto node = context.orchestrator.set_operator_labels(request.path_param("nodeId"), fields.labels("labels"));
    if (!node) throw unknown_node(request.path_param("nodeId"));
    answer_when_durable(context, reply, node_answer(*node, context));
}

void handle_forget_node(const http::Request& request, ApiContext& context, Reply reply) {
    const auto node_id = request.path_param("nodeId");
    switch (context.orchestrator.forget_node(node_id)) {
    case orchestrator::NodeOperation::unknown_node:
        throw unknown_node(node_id);
    case orchestrator::NodeOperation::node_online:
        throw http::Conflict("node is online",
                             "only an offline node can be forgotten: stop its agent (and drain it first) and wait "
                             "until it is marked offline");
    case orchestrator::NodeOperation::done:
        break;
    }
    http::Response response;
    JsonWriter{response.body}.begin_object().field("message", "Node forgotten").field("nodeId", node_id).end_object();
    answer_when_durable(context, reply, std::move(response));
}

} // namespace macvmorx::api
