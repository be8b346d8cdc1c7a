#include "macvmorx/agent/http_orchestrator_link.hpp"

#include "macvmorx/base/duration.hpp"
#include "macvmorx/http/async_client.hpp"
#include "macvmorx/json/json_writer.hpp"
#include "macvmorx/protocol/command_json.hpp"
#include "macvmorx/protocol/heartbeat_json.hpp"
#include "macvmorx/protocol/vm_event_json.hpp"

namespace macvmorx::agent {
namespace {

LinkResult result_of(std::error_code ec, const http::ClientResponse& response) {
    if (ec) return {0, ec.message()};
    LinkResult result{response.status, {}};
    if (!result.ok()) result.error = "HTTP " + std::to_string(response.status) + ": " + response.body.substr(0, 300);
    return result;
}

std::vector<http::Header> to_headers(const std::vector<std::pair<std::string, std::string>>& pairs) {
    std::vector<http::Header> headers;
    for (const auto& [name, value] : pairs) headers.push_back({name, value});
    return headers;
}

// Commands from an answer body; a body the agent cannot read is reported as a failure.
void deliver_commands(std::error_code ec, const http::ClientResponse& response,
                      const OrchestratorLink::CommandsReply& done) {
    LinkResult result = result_of(ec, response);
    std::vector<protocol::Command> commands;
    if (result.ok()) {
        try {
            commands = protocol::parse_commands(response.body);
        } catch (const std::exception& error) {
            result = {0, std::string("unreadable answer: ") + error.what()};
        }
    }
    done(std::move(result), std::move(commands));
}

} // namespace

HttpOrchestratorLink::HttpOrchestratorLink(boost::asio::io_context& ioc, http::BaseUrl server, std::string token,
                                   Duration timeout, http::ClientTls tls)
    : server_{std::move(server)},
      token_{std::move(token)},
      control_{std::make_unique<http::AsyncClient>(ioc, server_.host, server_.port, timeout,
                                                   server_.tls ? std::optional{tls} : std::nullopt)},
      // The long poll's own deadline comes on top of the wait it asks for.
      poll_{std::make_unique<http::AsyncClient>(ioc, server_.host, server_.port, timeout + std::chrono::seconds{60},
                                                server_.tls ? std::optional{tls} : std::nullopt)} {}

HttpOrchestratorLink::~HttpOrchestratorLink() = default;

std::vector<std::pair<std::string, std::string>> HttpOrchestratorLink::headers(bool json) const {
    std::vector<std::pair<std::string, std::string>> headers;
    if (json) headers.emplace_back("Content-Type", "application/json");
    if (!token_.empty()) headers.emplace_back("Authorization", "Bearer " + token_);
    return headers;
}

void HttpOrchestratorLink::heartbeat(const protocol::Heartbeat& heartbeat, CommandsReply done) {
    std::string body;
    JsonWriter json{body};
    protocol::write_heartbeat(json, heartbeat);
    control_->request(http::Method::post, "/api/heartbeat", std::move(body), to_headers(headers(true)),
                      [done = std::move(done)](std::error_code ec, http::ClientResponse response) {
                          deliver_commands(ec, response, done);
                      });
}

void HttpOrchestratorLink::poll_commands(const std::string& node_id, Duration wait, CommandsReply done) {
    poll_->request(http::Method::get, "/api/nodes/" + node_id + "/commands?wait=" + format_duration(wait), {},
                   to_headers(headers(false)), [done = std::move(done)](std::error_code ec, http::ClientResponse response) {
                       deliver_commands(ec, response, done);
                   });
}

void HttpOrchestratorLink::acknowledge(const std::string& node_id, const std::string& command_id, Reply done) {
    control_->request(http::Method::post, "/api/nodes/" + node_id + "/commands/" + command_id + "/ack", {},
                      to_headers(headers(false)),
                      [done = std::move(done)](std::error_code ec, http::ClientResponse response) {
                          done(result_of(ec, response));
                      });
}

void HttpOrchestratorLink::report(const std::string& vm_id, const protocol::VmEvent& event, Reply done) {
    std::string body;
    JsonWriter json{body};
    protocol::write_vm_event(json, event);
    control_->request(http::Method::post, "/api/vms/" + vm_id + "/events", std::move(body), to_headers(headers(true)),
                      [done = std::move(done)](std::error_code ec, http::ClientResponse response) {
                          done(result_of(ec, response));
                      });
}

} // namespace macvmorx::agent
