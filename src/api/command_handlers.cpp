#include "node_access.hpp"

#include "macvmorx/api/handlers.hpp"
#include "macvmorx/api/vm_json.hpp"
#include "macvmorx/api/wait_budget.hpp"
#include "macvmorx/auth/token.hpp"
#include "macvmorx/base/duration.hpp"
#include "macvmorx/base/invalid_input.hpp"
#include "macvmorx/http/http_error.hpp"
#include "macvmorx/json/json_writer.hpp"
#include "macvmorx/orchestrator/orchestrator.hpp"
#include "macvmorx/protocol/command_json.hpp"

namespace macvmorx::api {
namespace {

// A long poll may wait this long at most: proxies and load balancers cut idle requests soon after.
constexpr Duration max_wait = std::chrono::seconds{60};

Duration parse_wait(const http::Request& request) {
    const auto text = request.query_param("wait");
    if (!text) return Duration::zero();
    const auto wait = parse_duration(*text);
    if (!wait) throw InvalidValue("wait must be a duration such as 25s", "wait");
    if (*wait > max_wait) throw InvalidValue("wait may be at most " + format_duration(max_wait), "wait");
    return *wait;
}

} // namespace

void handle_poll_commands(const http::Request& request, ApiContext& context, std::shared_ptr<http::Reply> reply) {
    const auto node_id = request.path_param("nodeId");
    require_node_access(request, node_id);
    const Duration wait = parse_wait(request);
    std::shared_ptr<void> share; // of the token's waits, held until the answer
    if (wait > Duration::zero() && request.caller && context.waits != nullptr) {
        share = context.waits->take(request.caller->name);
        if (!share) {
            throw http::HttpError(429, "too many waiting requests",
                                  "the token '" + request.caller->name + "' holds " +
                                      std::to_string(context.waits->per_token()) + " long polls already")
                .with_header("Retry-After", "5");
        }
    }
    const bool known = context.orchestrator.wait_for_commands(
        node_id, wait,
        [reply, share, &context](std::vector<protocol::Command> commands) {
            send_commands_when_durable(context, reply, std::move(commands), {});
        },
        [reply] { return reply->abandoned(); });
    if (!known) {
        throw http::NotFound("node not found", "no node with id '" + std::string(node_id) + "' has sent a heartbeat");
    }
}

http::Response handle_ack_command(const http::Request& request, ApiContext& context) {
    const auto node_id = request.path_param("nodeId");
    const auto command_id = request.path_param("commandId");
    require_node_access(request, node_id);
    if (!context.orchestrator.acknowledge_command(node_id, command_id)) {
        throw http::NotFound("command not found", "node '" + std::string(node_id) + "' has no pending command '" +
                                                      std::string(command_id) + "' (already acknowledged?)");
    }
    return http::Response::json(200, R"({"message":"Command acknowledged"})");
}

} // namespace macvmorx::api
