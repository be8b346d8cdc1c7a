#pragma once

#include "macvmorx/base/clock.hpp"
#include "macvmorx/config/actions_config.hpp"
#include "macvmorx/config/log_config.hpp"
#include "macvmorx/config/server_settings.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace macvmorx::config {

// The effective settings of `macvmorx server`, after flags, environment and defaults. The
// defaults are those of server_settings.
struct ServerConfig {
    std::string bind_address{server_setting("--bind").default_text};
    std::uint16_t port = setting_default::number<std::uint16_t>(server_setting("--port"));
    Duration offline_timeout = setting_default::duration(server_setting("--offline-timeout"));
    Duration monitor_interval = setting_default::duration(server_setting("--monitor-interval"));
    Duration placement_ttl = setting_default::duration(server_setting("--placement-ttl"));
    Duration start_deadline = setting_default::duration(server_setting("--start-deadline"));
    Duration queue_timeout = setting_default::duration(server_setting("--queue-timeout"));
    Duration vm_retention = setting_default::duration(server_setting("--vm-retention"));
    int max_attempts = setting_default::number<int>(server_setting("--max-attempts"));
    // Requests waiting for a node; more are refused (503).
    std::size_t max_queue_length = setting_default::number<std::size_t>(server_setting("--max-queue-length"));
    // Images pulled ahead of demand at once in the fleet; 0: none.
    int max_concurrent_pulls = setting_default::number<int>(server_setting("--max-concurrent-pulls"));
    unsigned threads = 1; // the command line gives the hardware threads
    int max_vms_per_node = setting_default::number<int>(server_setting("--max-vms-per-node"));
    LogConfig log;
    std::size_t max_body_bytes = setting_default::byte_size(server_setting("--max-body-size"));
    std::size_t max_connections = setting_default::number<std::size_t>(server_setting("--max-connections"));
    std::size_t max_long_polls = setting_default::number<std::size_t>(server_setting("--max-long-polls"));
    Duration idle_timeout = setting_default::duration(server_setting("--idle-timeout"));
    Duration io_timeout = setting_default::duration(server_setting("--io-timeout"));
    std::string web_dir; // empty: the dashboard built into the binary
    // SHA-256 hashes of the API's tokens with their roles (docs/security.md); empty: the API is
    // open to anyone who can reach the port. Re-read on SIGHUP.
    std::string tokens_file;
    // HTTPS on the port (PEM files, re-read on SIGHUP); empty: plain HTTP. With a client CA,
    // agents must show a certificate naming their node (mutual TLS).
    std::string tls_certificate_file;
    std::string tls_key_file;
    std::string client_ca_file;
    std::string data_dir{server_setting("--data-dir").default_text}; // durable records; empty: in memory only
    // Several daemons on PostgreSQL (docs/high-availability.md): the database, where this daemon
    // is reached when it leads (empty: http://HOSTNAME:PORT), the leader's lease, and how long
    // to wait for the database at start. With a database URL, data_dir is not used.
    std::string database_url;
    std::string advertise_url;
    Duration lease_duration = setting_default::duration(server_setting("--lease-duration"));
    Duration database_start_wait = setting_default::duration(server_setting("--database-start-wait"));
    // The --config file, re-read on SIGHUP for its runner pools; empty: none.
    std::string config_file;
    // How waiting requests are ordered (the file's [scheduling] table).
    SchedulingConfig scheduling;
    // GitHub Actions (--config): runner pools and how to reach GitHub; absent when not used.
    std::optional<ActionsConfig> actions;
    GithubSecrets github_secrets; // never printed or logged
};

// Hardware threads, at least one.
unsigned default_thread_count();

// Whether anyone beyond this machine may use the API without a token: no tokens file, and an
// address other than loopback. The daemon warns about it at start.
bool is_open_beyond_loopback(const ServerConfig& config);

// A database URL as logs may show it: its password replaced by ***.
std::string without_password(const std::string& url);

// One line naming every setting and its value, for the startup log.
std::string describe(const ServerConfig& config);

} // namespace macvmorx::config
