#include "macvmorx/api/fleet_json.hpp"
#include "macvmorx/api/handlers.hpp"
#include "macvmorx/http/http_error.hpp"
#include "macvmorx/json/json_writer.hpp"
#include "macvmorx/orchestrator/orchestrator.hpp"

namespace macvmorx::api {

http::Response handle_heartbeat(const http::Request& request, ApiContext& context) {
    context.orchestrator.record_heartbeat(parse_heartbeat(request.body));
    return http::Response::json(200, R"({"message":"Heartbeat received"})");
}

http::Response handle_list_nodes(const http::Request&, ApiContext& context) {
    const auto nodes = context.orchestrator.nodes();
    http::Response response;
    // About 600 bytes per node; reserving avoids regrowing a multi-megabyte buffer.
    response.body.reserve(64 + nodes.size() * 640);
    JsonWriter json{response.body};
    json.begin_array();
    for (const auto& node : nodes) write_node(json, *node);
    json.end_array();
    return response;
}

http::Response handle_get_node(const http::Request& request, ApiContext& context) {
    const auto node_id = request.path_param("nodeId");
    const auto node = context.orchestrator.node(node_id);
    if (!node) throw http::NotFound("node not found", "no node with id '" + std::string(node_id) + "' has sent a heartbeat");
    http::Response response;
    JsonWriter json{response.body};
    write_node(json, *node);
    return response;
}

} // namespace macvmorx::api
