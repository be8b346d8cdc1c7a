#include "macvmorx/agent/orchestrator_link.hpp"

#include "macvmorx/base/duration.hpp"
#include "macvmorx/http/async_client.hpp"
#include "macvmorx/json/json_writer.hpp"
#include "macvmorx/protocol/command_json.hpp"
#include "macvmorx/protocol/heartbeat_json.hpp"
#include "macvmorx/protocol/vm_event_json.hpp"

#include <charconv>

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

std::optional<ServerAddress> ServerAddress::parse(std::string_view url) {
    ServerAddress address;
    if (url.starts_with("https://")) {
        address.tls = true;
        url.remove_prefix(8);
    } else if (url.starts_with("http://")) {
        url.remove_prefix(7);
    } else {
        return std::nullopt;
    }
    if (const auto slash = url.find('/'); slash != std::string_view::npos) url = url.substr(0, slash);
    std::string_view host = url;
    if (url.starts_with('[')) { // [::1]:8080
        const auto close = url.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        host = url.substr(1, close - 1);
        url.remove_prefix(close + 1);
    } else {
        const auto colon = url.rfind(':');
        host = url.substr(0, colon);
        url = colon == std::string_view::npos ? std::string_view{} : url.substr(colon);
    }
    if (!url.empty()) {
        if (url.front() != ':') return std::nullopt;
        unsigned port = 0;
        const auto [end, ec] = std::from_chars(url.data() + 1, url.data() + url.size(), port);
        if (ec != std::errc{} || end != url.data() + url.size() || port == 0 || port > 65535) return std::nullopt;
        address.port = static_cast<std::uint16_t>(port);
    } else {
        address.port = address.tls ? 443 : 80;
    }
    if (host.empty()) return std::nullopt;
    address.host = std::string(host);
    return address;
}

std::string ServerAddress::to_string() const {
    const bool ipv6 = host.find(':') != std::string::npos;
    return (tls ? "https://" : "http://") + (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

OrchestratorLink::OrchestratorLink(boost::asio::io_context& ioc, ServerAddress server, std::string token,
                                   Duration timeout, http::ClientTls tls)
    : server_{std::move(server)},
      token_{std::move(token)},
      timeout_{timeout},
      control_{std::make_unique<http::AsyncClient>(ioc, server_.host, server_.port, timeout,
                                                   server_.tls ? std::optional{tls} : std::nullopt)},
      // The long poll's own deadline comes on top of the wait it asks for.
      poll_{std::make_unique<http::AsyncClient>(ioc, server_.host, server_.port, timeout + std::chrono::seconds{60},
                                                server_.tls ? std::optional{tls} : std::nullopt)} {}

OrchestratorLink::~OrchestratorLink() = default;

std::vector<std::pair<std::string, std::string>> OrchestratorLink::headers(bool json) const {
    std::vector<std::pair<std::string, std::string>> headers;
    if (json) headers.emplace_back("Content-Type", "application/json");
    if (!token_.empty()) headers.emplace_back("Authorization", "Bearer " + token_);
    return headers;
}

void OrchestratorLink::heartbeat(const protocol::Heartbeat& heartbeat, CommandsReply done) {
    std::string body;
    JsonWriter json{body};
    protocol::write_heartbeat(json, heartbeat);
    control_->request(http::Method::post, "/api/heartbeat", std::move(body), to_headers(headers(true)),
                      [done = std::move(done)](std::error_code ec, http::ClientResponse response) {
                          deliver_commands(ec, response, done);
                      });
}

void OrchestratorLink::poll_commands(const std::string& node_id, Duration wait, CommandsReply done) {
    poll_->request(http::Method::get, "/api/nodes/" + node_id + "/commands?wait=" + format_duration(wait), {},
                   to_headers(headers(false)), [done = std::move(done)](std::error_code ec, http::ClientResponse response) {
                       deliver_commands(ec, response, done);
                   });
}

void OrchestratorLink::acknowledge(const std::string& node_id, const std::string& command_id, Reply done) {
    control_->request(http::Method::post, "/api/nodes/" + node_id + "/commands/" + command_id + "/ack", {},
                      to_headers(headers(false)),
                      [done = std::move(done)](std::error_code ec, http::ClientResponse response) {
                          done(result_of(ec, response));
                      });
}

void OrchestratorLink::report(const std::string& vm_id, const protocol::VmEvent& event, Reply done) {
    std::string body;
    JsonWriter json{body};
    protocol::write_vm_event(json, event);
    control_->request(http::Method::post, "/api/vms/" + vm_id + "/events", std::move(body), to_headers(headers(true)),
                      [done = std::move(done)](std::error_code ec, http::ClientResponse response) {
                          done(result_of(ec, response));
                      });
}

} // namespace macvmorx::agent
