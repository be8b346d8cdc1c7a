#pragma once

#include "macvmorx/config/setting.hpp"

#include <array>

namespace macvmorx::config {

// The settings of `macvmorx server` besides logging (log_settings). Its --config file holds any of
// them as a top-level key named like the long flag without its dashes (database-url = "..."),
// beside the GitHub Actions tables (actions_config.hpp); flags beat variables, which beat the file.
inline constexpr auto server_settings = std::to_array<Setting>({
    {"-p,--port", "MACVMORX_WEB_PORT", "", "8080", "", "Port for the REST API and the dashboard (0: any free port)"},
    {"--bind", "MACVMORX_BIND", "", "0.0.0.0", "ADDRESS",
     "Address to listen on (0.0.0.0: every IPv4 interface, :: for IPv6)"},
    {"--offline-timeout", "MACVMORX_OFFLINE_TIMEOUT", "", "30s", "DURATION",
     "A node without a heartbeat for this long is marked offline"},
    {"--monitor-interval", "MACVMORX_MONITOR_INTERVAL", "", "5s", "DURATION", "How often to look for offline nodes"},
    {"--placement-ttl", "MACVMORX_PLACEMENT_TTL", "", "10m", "DURATION",
     "How long a placed VM holds its slot before its agent takes the createVm command; then it fails and is "
     "placed again"},
    {"--start-deadline", "MACVMORX_START_DEADLINE", "", "15m", "DURATION",
     "A placed VM not running by then fails and is placed again (big images take time to download)"},
    {"--max-attempts", "MACVMORX_MAX_ATTEMPTS", "", "3", "", "Placements per VM before it fails for good"},
    {"--queue-timeout", "MACVMORX_QUEUE_TIMEOUT", "", "1h", "DURATION",
     "A queued request (\"wait\": true) not placed by then fails"},
    {"--max-queue-length", "MACVMORX_MAX_QUEUE_LENGTH", "", "10000", "",
     "Requests waiting for a node at most; more are refused with 503 and Retry-After"},
    {"--max-concurrent-pulls", "MACVMORX_MAX_CONCURRENT_PULLS", "", "4", "",
     "Images pulled ahead of demand at once in the whole fleet, so that the registry is not stampeded (0: none; "
     "docs/scheduling.md)"},
    {"--vm-retention", "MACVMORX_VM_RETENTION", "", "1h", "DURATION",
     "How long deleted and failed VM records stay visible"},
    // Worked out at start: the hardware threads.
    {"--threads", "MACVMORX_THREADS", "", "", "", "Threads serving requests (default: hardware threads)"},
    {"--max-vms-per-node", "MACVMORX_MAX_VMS_PER_NODE", "", "2", "",
     "VMs one Mac may run at once (Apple's licence allows 2 macOS VMs)"},
    {"--max-body-size", "MACVMORX_MAX_BODY_SIZE", "", "1MiB", "SIZE", "Largest request body accepted"},
    {"--max-connections", "MACVMORX_MAX_CONNECTIONS", "", "10000", "",
     "Open connections accepted at once, besides agents' waiting long polls"},
    {"--max-long-polls", "MACVMORX_MAX_LONG_POLLS", "", "100000", "",
     "Agents' long polls for commands waiting at once; more are answered 503 with Retry-After"},
    {"--idle-timeout", "MACVMORX_IDLE_TIMEOUT", "", "30s", "DURATION",
     "How long a connection may wait for its next request (and its header)"},
    {"--io-timeout", "MACVMORX_IO_TIMEOUT", "", "30s", "DURATION",
     "How long a request body or an answer may take to transfer"},
    {"--data-dir", "MACVMORX_DATA_DIR", "", "./macvmorx-data", "",
     "Where VM records, the queue and node settings are kept (SQLite) across restarts"},
    {"--in-memory", "", "", "", "", "Keep no durable records (tests, throwaway demos)"},
    {"--database-url", "MACVMORX_DATABASE_URL", "", "", "",
     "Keep the records in PostgreSQL instead (postgresql://user@host/db), shared by several daemons of which one "
     "leads (docs/high-availability.md)"},
    {"--advertise-url", "MACVMORX_ADVERTISE_URL", "", "", "URL",
     "With --database-url: where clients reach this daemon when it leads; followers redirect there (default "
     "http://HOSTNAME:PORT)"},
    {"--lease-duration", "MACVMORX_LEASE_DURATION", "", "3s", "DURATION",
     "With --database-url: how long the leader's lease lasts unrenewed (renewed every second), so how soon a "
     "follower takes over from a leader that is gone"},
    {"--database-start-wait", "MACVMORX_DATABASE_START_WAIT", "", "15s", "DURATION",
     "With --database-url: how long to wait for PostgreSQL at start before giving up (exit status 69)"},
    {"--tokens-file", "MACVMORX_TOKENS_FILE", "", "", "",
     "Require tokens: a file of their SHA-256 hashes and roles, re-read on SIGHUP (docs/security.md)"},
    {"--tls-cert", "MACVMORX_TLS_CERT", "", "", "", "Serve HTTPS only: the certificate chain (PEM), re-read on SIGHUP"},
    {"--tls-key", "MACVMORX_TLS_KEY", "", "", "", "The private key of --tls-cert (PEM)"},
    {"--client-ca", "MACVMORX_CLIENT_CA", "", "", "",
     "Mutual TLS: agents must show a certificate from this CA (PEM) naming their node"},
    {"--web-dir", "MACVMORX_WEB_DIR", "", "", "",
     "Serve the dashboard from this directory instead of the built-in copy (for development)"},
    {"--config", "MACVMORX_CONFIG", "", "", "",
     "A TOML file of settings (top-level keys named like these flags: database-url = \"...\") and of GitHub "
     "Actions' runner pools and settings (docs/github-actions.md)"},
    {"--github-api-url", "MACVMORX_GITHUB_API_URL", "", "", "",
     "GitHub's REST API (default https://api.github.com; GitHub Enterprise Server: https://HOST/api/v3)"},
    {"--github-app-id", "MACVMORX_GITHUB_APP_ID", "", "", "", "The GitHub App macvmorx acts as"},
    {"--github-installation-id", "MACVMORX_GITHUB_INSTALLATION_ID", "", "", "", "The App's installation"},
    {"--github-app-key-file", "MACVMORX_GITHUB_APP_KEY_FILE", "", "", "", "The App's private key (PEM)"},
    {"--github-token-file", "MACVMORX_GITHUB_TOKEN_FILE", "", "", "",
     "A fine-grained token (instead of an App), read from this file"},
    {"--github-webhook-secret-file", "MACVMORX_GITHUB_WEBHOOK_SECRET_FILE", "", "", "",
     "The webhook secret deliveries are signed with, read from this file"},
});

consteval const Setting& server_setting(std::string_view long_flag) { return find_setting(server_settings, long_flag); }

} // namespace macvmorx::config
