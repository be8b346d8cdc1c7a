#pragma once

// The API's handlers: plain functions from a request and the context to a response. They
// never touch a socket, so tests call them directly; errors are thrown as http::HttpError and
// answered by the router. The long poll answers later, through the Reply it is given.

#include "macvmorx/api/api_context.hpp"
#include "macvmorx/http/message.hpp"
#include "macvmorx/http/router.hpp"
#include "macvmorx/protocol/command.hpp"

#include <memory>
#include <string_view>
#include <vector>

namespace macvmorx::api {

// Nodes and heartbeats (node_handlers.cpp)
// Asynchronous only when it carries commands: they are sent once their records are durable.
void handle_heartbeat(const http::Request& request, ApiContext& context, std::shared_ptr<http::Reply> reply);
http::Response handle_list_nodes(const http::Request& request, ApiContext& context);
http::Response handle_get_node(const http::Request& request, ApiContext& context);
// Operators' changes are answered once they are durable (an asynchronous Reply).
using Reply = std::shared_ptr<http::Reply>;
void handle_drain_node(const http::Request& request, ApiContext& context, Reply reply);
void handle_undrain_node(const http::Request& request, ApiContext& context, Reply reply);
void handle_forget_node(const http::Request& request, ApiContext& context, Reply reply);
void handle_set_node_labels(const http::Request& request, ApiContext& context, Reply reply);
http::Response handle_fleet_summary(const http::Request& request, ApiContext& context);
http::Response handle_fleet_history(const http::Request& request, ApiContext& context);

// Peers (peer_handlers.cpp): whom a Mac may fetch a bucket image from, with a grant, and the key
// that grants are checked with.
http::Response handle_image_peers(const http::Request& request, ApiContext& context);
http::Response handle_peer_grant_key(const http::Request& request, ApiContext& context);

// VMs (vm_handlers.cpp); placements and deletions are answered once they are durable.
void handle_schedule_vm(const http::Request& request, ApiContext& context, Reply reply);
http::Response handle_list_vms(const http::Request& request, ApiContext& context);
http::Response handle_get_vm(const http::Request& request, ApiContext& context);
void handle_delete_vm(const http::Request& request, ApiContext& context, Reply reply);
http::Response handle_vm_event(const http::Request& request, ApiContext& context);
http::Response handle_queue(const http::Request& request, ApiContext& context);
// Images (image_handlers.cpp).
http::Response handle_list_images(const http::Request& request, ApiContext& context);
void handle_pin_image(const http::Request& request, ApiContext& context, Reply reply);

// Commands for agents (command_handlers.cpp)
void handle_poll_commands(const http::Request& request, ApiContext& context, std::shared_ptr<http::Reply> reply);
http::Response handle_ack_command(const http::Request& request, ApiContext& context);

// Operations (operations_handlers.cpp)
http::Response handle_metrics(const http::Request& request, ApiContext& context);
http::Response handle_healthz(const http::Request& request, ApiContext& context);
http::Response handle_readyz(const http::Request& request, ApiContext& context);
// Who the caller's token names, so that the dashboard can show only what its role may do.
http::Response handle_whoami(const http::Request& request, ApiContext& context);

// GitHub Actions (github_handlers.cpp)
// A delivery is answered once the job record it changed is durable.
void handle_github_webhook(const http::Request& request, ApiContext& context, Reply reply);
http::Response handle_list_jobs(const http::Request& request, ApiContext& context);
http::Response handle_get_job(const http::Request& request, ApiContext& context);

// Sends `response` once every change made so far is durable; at once without durable records.
// A change that cannot be written is answered 503.
void answer_when_durable(ApiContext& context, const Reply& reply, http::Response response);
// Sends the commands an agent is to carry out once the changes that made them are durable, so
// that no Mac acts on a placement the store did not commit (a leader fenced out, a database
// away): then the answer carries no commands, and they stay for the agent's next poll.
void send_commands_when_durable(ApiContext& context, const Reply& reply, std::vector<protocol::Command> commands,
                                std::string_view message);

// The dashboard (web_handlers.cpp)
http::Response handle_dashboard(const http::Request& request, ApiContext& context);
http::Response handle_web_asset(const http::Request& request, ApiContext& context);

} // namespace macvmorx::api
