#pragma once

// The API's handlers: plain functions from a request and the context to a response. They
// never touch a socket, so tests call them directly; errors are thrown as http::HttpError and
// answered by the router.

#include "macvmorx/api/api_context.hpp"
#include "macvmorx/http/message.hpp"

namespace macvmorx::api {

// Nodes and heartbeats (node_handlers.cpp)
http::Response handle_heartbeat(const http::Request& request, ApiContext& context);
http::Response handle_list_nodes(const http::Request& request, ApiContext& context);
http::Response handle_get_node(const http::Request& request, ApiContext& context);

// Placements (placement_handlers.cpp)
http::Response handle_schedule_vm(const http::Request& request, ApiContext& context);

// The dashboard (web_handlers.cpp)
http::Response handle_dashboard(const http::Request& request, ApiContext& context);
http::Response handle_web_asset(const http::Request& request, ApiContext& context);

} // namespace macvmorx::api
