#include "node_access.hpp"

#include "macvmorx/api/fleet_json.hpp"
#include "macvmorx/api/handlers.hpp"
#include "macvmorx/api/listing.hpp"
#include "macvmorx/api/vm_json.hpp"
#include "macvmorx/base/invalid_input.hpp"
#include "macvmorx/base/timestamp.hpp"
#include "macvmorx/http/http_error.hpp"
#include "macvmorx/json/json_writer.hpp"
#include "macvmorx/orchestrator/orchestrator.hpp"
#include "macvmorx/protocol/command_json.hpp"
#include "macvmorx/protocol/heartbeat_json.hpp"
#include "macvmorx/protocol/json_fields.hpp"

#include <algorithm>
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

// Every node by nodeId; as a page (?limit=&after=<nodeId>) or as what changed (?since=), with
// an ETag and gzip (listing.hpp).
http::Response handle_list_nodes(const http::Request& request, ApiContext& context) {
    const auto query = parse_listing_query(request);
    const auto nodes = context.orchestrator.nodes();
    const auto& scheduler = context.orchestrator.scheduler();
    const auto reserved = scheduler.reservations_by_node();
    const auto capacity_of = [&](const fleet::NodeRecord& node) {
        const auto it = reserved.find(node.node_id());
        return NodeCapacity{scheduler.max_vms_per_node(), it == reserved.end() ? 0 : it->second};
    };
    const auto write_one = [&](JsonWriter& json, std::size_t i) { write_node(json, *nodes[i], capacity_of(*nodes[i])); };
    http::Response response;
    JsonWriter json{response.body};
    if (query.since) {
        std::vector<ItemDigest> digests;
        digests.reserve(nodes.size());
        for (const auto& node : nodes) digests.push_back({node->node_id(), node_digest(*node, capacity_of(*node))});
        const auto delta = context.listing_changes.tracker("nodes")->observe(digests, *query.since);
        response.body.reserve(128 + (delta.full ? nodes.size() : delta.changed.size()) * 768);
        write_delta(json, delta, "nodes", nodes.size(), write_one);
    } else {
        std::size_t first = 0;
        if (query.after) {
            first = static_cast<std::size_t>(
                std::upper_bound(nodes.begin(), nodes.end(), *query.after,
                                 [](const std::string& after, const fleet::NodeSnapshot& node) { return after < node->node_id(); }) -
                nodes.begin());
        }
        // About 700 bytes per node.
        write_page(json, request, response, query, nodes.size(), first, 768, write_one,
                   [&nodes](std::size_t i) { return nodes[i]->node_id(); });
    }
    finish_listing(request, response);
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

// The last hours in samples, oldest first, for the dashboard's charts; ?after=<time> only those
// taken after it (a page that has the rest asks for the new ones).
http::Response handle_fleet_history(const http::Request& request, ApiContext& context) {
    std::optional<TimePoint> after;
    if (const auto text = request.query_param("after")) {
        after = parse_rfc3339(*text);
        if (!after) {
            throw InvalidValue("after must be a time as the samples give it (RFC 3339), not '" + std::string(*text) + "'",
                               "after");
        }
    }
    const auto& history = context.orchestrator.history();
    auto samples = history.samples();
    if (after) {
        samples.erase(samples.begin(), std::find_if(samples.begin(), samples.end(),
                                                    [&after](const auto& sample) { return sample.at > *after; }));
    }
    http::Response response;
    response.body.reserve(64 + samples.size() * 260);
    JsonWriter json{response.body};
    const auto optional = [&json](const char* name, const std::optional<double>& value) {
        json.key(name);
        value ? json.value(*value) : json.null();
    };
    json.begin_object()
        .field("intervalSeconds", std::chrono::duration<double>(history.interval()).count())
        .key("samples")
        .begin_array();
    for (const auto& sample : samples) {
        json.begin_object()
            .field("at", sample.at)
            .field("nodesOnline", std::uint64_t{sample.nodes_online})
            .field("nodesOffline", std::uint64_t{sample.nodes_offline})
            .field("slotsTotal", std::uint64_t{sample.slots_total})
            .field("slotsUsed", std::uint64_t{sample.slots_used})
            .field("queueLength", std::uint64_t{sample.queue_length})
            .field("heartbeatsPerSecond", sample.heartbeats_per_second)
            .field("vmsStarted", std::uint64_t{sample.vms_started});
        optional("waitP50Seconds", sample.wait_p50_seconds);
        optional("waitP95Seconds", sample.wait_p95_seconds);
        json.end_object();
    }
    json.end_array().end_object();
    finish_listing(request, response);
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
