#pragma once

#include "macvmorx/http/base_url.hpp"
#include "macvmorx/agent/orchestrator_link.hpp"
#include "macvmorx/http/async_client.hpp"

#include <memory>

namespace boost::asio {
class io_context;
}

namespace macvmorx::agent {

// The agent's link to a real orchestrator over HTTP(S), on two keep-alive connections (one for
// the long poll, so that it never holds a heartbeat up).
//
// Threading: callbacks run on the io_context given at construction.
class HttpOrchestratorLink final : public OrchestratorLink {
public:
    // `tls` applies when the address is https:// (the CA to trust, the agent's certificate).
    HttpOrchestratorLink(boost::asio::io_context& ioc, http::BaseUrl server, std::string token,
                         Duration timeout = std::chrono::seconds{10}, http::ClientTls tls = {});
    ~HttpOrchestratorLink() override;

    void heartbeat(const protocol::Heartbeat& heartbeat, CommandsReply done) override;
    void poll_commands(const std::string& node_id, Duration wait, CommandsReply done) override;
    void acknowledge(const std::string& node_id, const std::string& command_id, Reply done) override;
    void report(const std::string& vm_id, const protocol::VmEvent& event, Reply done) override;
    std::string destination() const override { return server_.origin(); }

    const http::BaseUrl& server() const { return server_; }

private:
    std::vector<std::pair<std::string, std::string>> headers(bool json) const;

    http::BaseUrl server_;
    std::string token_;
    std::unique_ptr<http::AsyncClient> control_;
    std::unique_ptr<http::AsyncClient> poll_;
};

} // namespace macvmorx::agent
