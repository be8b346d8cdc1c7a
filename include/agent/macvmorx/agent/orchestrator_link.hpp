#pragma once

#include "macvmorx/base/clock.hpp"
#include "macvmorx/protocol/heartbeat.hpp"
#include "macvmorx/protocol/command.hpp"
#include "macvmorx/protocol/vm_event.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "macvmorx/http/async_client.hpp"

namespace boost::asio {
class io_context;
}

namespace macvmorx::agent {

// Where the orchestrator listens: parsed from "http://host:port" or "https://host:port".
struct ServerAddress {
    std::string host;
    std::uint16_t port = 8080;
    bool tls = false;

    static std::optional<ServerAddress> parse(std::string_view url);
    std::string to_string() const;
};

// How a call to the orchestrator went.
struct LinkResult {
    int status = 0;    // the HTTP status, 0 when there was no answer
    std::string error; // what went wrong, for the log

    bool ok() const { return status >= 200 && status < 300; }
    // Worth trying again later: no answer, a server error, or too many requests.
    bool retryable() const { return status == 0 || status >= 500 || status == 429; }
};

// The agent's side of docs/agent-protocol.md: heartbeats, long polls, acknowledgements and
// progress events, over two keep-alive connections (one for the long poll, so that it never
// holds a heartbeat up).
//
// Threading: callbacks run on the io_context given at construction.
class OrchestratorLink {
public:
    using CommandsReply = std::function<void(LinkResult, std::vector<protocol::Command>)>;
    using Reply = std::function<void(LinkResult)>;

    // `tls` applies when the address is https:// (the CA to trust, the agent's certificate).
    OrchestratorLink(boost::asio::io_context& ioc, ServerAddress server, std::string token,
                     Duration timeout = std::chrono::seconds{10}, http::ClientTls tls = {});
    ~OrchestratorLink();

    void heartbeat(const protocol::Heartbeat& heartbeat, CommandsReply done);
    void poll_commands(const std::string& node_id, Duration wait, CommandsReply done);
    void acknowledge(const std::string& node_id, const std::string& command_id, Reply done);
    void report(const std::string& vm_id, const protocol::VmEvent& event, Reply done);

    const ServerAddress& server() const { return server_; }

private:
    std::vector<std::pair<std::string, std::string>> headers(bool json) const;

    ServerAddress server_;
    std::string token_;
    Duration timeout_;
    std::unique_ptr<http::AsyncClient> control_;
    std::unique_ptr<http::AsyncClient> poll_;
};

} // namespace macvmorx::agent
