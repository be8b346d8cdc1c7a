#pragma once

#include "log_options.hpp"

#include "macvmorx/config/server_config.hpp"

#include <string>

namespace CLI {
class App;
}

namespace macvmorx::cli {

// The raw text of the settings that need our own parsing after CLI11 has validated them, with the
// defaults of server_settings.
struct ServerText {
    std::string offline_timeout{config::server_setting("--offline-timeout").default_text};
    std::string monitor_interval{config::server_setting("--monitor-interval").default_text};
    std::string placement_ttl{config::server_setting("--placement-ttl").default_text};
    std::string start_deadline{config::server_setting("--start-deadline").default_text};
    std::string queue_timeout{config::server_setting("--queue-timeout").default_text};
    std::string vm_retention{config::server_setting("--vm-retention").default_text};
    std::string idle_timeout{config::server_setting("--idle-timeout").default_text};
    std::string io_timeout{config::server_setting("--io-timeout").default_text};
    std::string max_body_size{config::server_setting("--max-body-size").default_text};
    std::string lease_duration{config::server_setting("--lease-duration").default_text};
    std::string database_start_wait{config::server_setting("--database-start-wait").default_text};
    bool in_memory = false;
    // GitHub Actions: the file, and flags that override what it says.
    std::string config_file;
    std::string github_api_url;
    std::string github_app_id;
    std::string github_installation_id;
    std::string github_app_key_file;
    std::string github_token_file;
    std::string github_webhook_secret_file;
    LogText log;
};

// The options of `macvmorx server`.
void add_server_options(CLI::App& server, config::ServerConfig& config, ServerText& text);

// Turns the validated text into settings, reads the GitHub Actions file and its secrets, the
// flags over it. Throws config::ConfigError.
void apply_server_text(config::ServerConfig& config, const ServerText& text);

} // namespace macvmorx::cli
