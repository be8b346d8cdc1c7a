#pragma once

#include "macvmorx/agent/agent.hpp"
#include "macvmorx/agent/http_orchestrator_link.hpp"
#include "macvmorx/agent/tart_backend.hpp"
#include "macvmorx/config/log_config.hpp"
#include "macvmorx/http/base_url.hpp"
#include "macvmorx/image_peers/peer_server.hpp"

#include <string>

namespace macvmorx::app {

// The settings of `macvmorx agent`, after flags, environment and defaults.
struct AgentCommandOptions {
    http::BaseUrl server;
    std::string token_file; // a bearer token for the orchestrator, read from this file
    http::ClientTls tls;    // for an https:// server: the CA to trust, the agent's certificate
    agent::AgentOptions agent;
    agent::TartOptions tart;
    std::string vm_storage_path = "/"; // the volume whose free space the heartbeat reports
    // Serving bucket images to the lab's other Macs (--peer-listen), and fetching from them.
    bool serve_peers = false;
    image_peers::PeerServerOptions peer_server;
    double peer_upload_mb_per_second = 0;
    std::string peer_url_host; // for the default --peer-url: the listen address, or the host name
};

// Runs `macvmorx agent` until SIGINT or SIGTERM: the real host agent over tart. Returns the
// process exit status.
int run_agent(const AgentCommandOptions& options, const config::LogConfig& log);

} // namespace macvmorx::app
