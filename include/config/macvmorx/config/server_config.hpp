#pragma once

#include "macvmorx/base/clock.hpp"
#include "macvmorx/config/actions_config.hpp"
#include "macvmorx/config/log_config.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace macvmorx::config {

// The effective settings of `macvmorx server`, after flags, environment and defaults.
struct ServerConfig {
    std::string bind_address = "0.0.0.0";
    std::uint16_t port = 8080;
    Duration offline_timeout = std::chrono::seconds{30};
    Duration monitor_interval = std::chrono::seconds{5};
    Duration placement_ttl = std::chrono::minutes{10};
    Duration start_deadline = std::chrono::minutes{15};
    Duration queue_timeout = std::chrono::hours{1};
    Duration vm_retention = std::chrono::hours{1};
    int max_attempts = 3;
    std::size_t max_queue_length = 10'000; // requests waiting for a node; more are refused (503)
    unsigned threads = 1;
    int max_vms_per_node = 2;
    LogConfig log;
    std::size_t max_body_bytes = 1 << 20;
    std::size_t max_connections = 10'000;
    Duration idle_timeout = std::chrono::seconds{30};
    Duration io_timeout = std::chrono::seconds{30};
    std::string web_dir; // empty: the dashboard built into the binary
    // SHA-256 hashes of the API's tokens with their roles (docs/security.md); empty: the API is
    // open to anyone who can reach the port. Re-read on SIGHUP.
    std::string tokens_file;
    // HTTPS on the port (PEM files, re-read on SIGHUP); empty: plain HTTP. With a client CA,
    // agents must show a certificate naming their node (mutual TLS).
    std::string tls_certificate_file;
    std::string tls_key_file;
    std::string client_ca_file;
    std::string data_dir = "./macvmorx-data"; // durable records; empty: kept in memory only
    // GitHub Actions (--config): runner pools and how to reach GitHub; absent when not used.
    std::optional<ActionsConfig> actions;
    GithubSecrets github_secrets; // never printed or logged
};

// Hardware threads, at least one.
unsigned default_thread_count();

// Whether anyone beyond this machine may use the API without a token: no tokens file, and an
// address other than loopback. The daemon warns about it at start.
bool is_open_beyond_loopback(const ServerConfig& config);

// One line naming every setting and its value, for the startup log.
std::string describe(const ServerConfig& config);

} // namespace macvmorx::config
