#include "server_options.hpp"

#include "setting_option.hpp"

#include "macvmorx/base/byte_size.hpp"
#include "macvmorx/base/duration.hpp"

#include <CLI/CLI.hpp>

namespace macvmorx::cli {
namespace {

// The runner pools and GitHub settings: the file, then the flags over it; secrets read from
// their files. Throws config::ConfigError.
void apply_github_text(config::ServerConfig& config, const ServerText& text) {
    const bool any_flag = !text.github_api_url.empty() || !text.github_app_id.empty() ||
                          !text.github_installation_id.empty() || !text.github_app_key_file.empty() ||
                          !text.github_token_file.empty() || !text.github_webhook_secret_file.empty();
    if (text.config_file.empty()) {
        if (any_flag) throw config::ConfigError("--github-* settings need --config, the file that declares the runner pools");
        return;
    }
    auto actions = config::load_actions_config(text.config_file);
    config.config_file = text.config_file;
    config.scheduling = actions.scheduling;
    if (actions.pools.empty()) {
        // A file of settings alone (database-url = "..."): no GitHub Actions.
        if (!actions.declares_github && !any_flag) return;
        throw config::ConfigError(text.config_file + ": declares no [[pools]]");
    }
    auto& github = actions.github;
    if (!text.github_api_url.empty()) {
        if (const auto problem = config::github_api_url_problem(text.github_api_url)) {
            throw config::ConfigError("--github-api-url: '" + text.github_api_url + "' " + *problem);
        }
        github.api_url = text.github_api_url;
    }
    if (!text.github_app_id.empty()) github.app_id = std::stoll(text.github_app_id);
    if (!text.github_installation_id.empty()) github.installation_id = std::stoll(text.github_installation_id);
    if (!text.github_app_key_file.empty()) github.app_key_file = text.github_app_key_file;
    if (!text.github_token_file.empty()) github.token_file = text.github_token_file;
    if (!text.github_webhook_secret_file.empty()) github.webhook_secret_file = text.github_webhook_secret_file;
    config.github_secrets = config::load_github_secrets(github);
    config.actions = std::move(actions);
}

void apply_text(config::ServerConfig& config, const ServerText& text) {
    // Every value was validated by its option's check; these parses cannot fail.
    config.offline_timeout = *parse_duration(text.offline_timeout);
    config.monitor_interval = *parse_duration(text.monitor_interval);
    config.placement_ttl = *parse_duration(text.placement_ttl);
    config.start_deadline = *parse_duration(text.start_deadline);
    config.queue_timeout = *parse_duration(text.queue_timeout);
    config.vm_retention = *parse_duration(text.vm_retention);
    config.idle_timeout = *parse_duration(text.idle_timeout);
    config.io_timeout = *parse_duration(text.io_timeout);
    config.max_body_bytes = static_cast<std::size_t>(*parse_byte_size(text.max_body_size));
    config.lease_duration = *parse_duration(text.lease_duration);
    config.database_start_wait = *parse_duration(text.database_start_wait);
    if (text.in_memory) config.data_dir.clear();
}

} // namespace

void add_server_options(CLI::App& server, config::ServerConfig& config, ServerText& text) {
    using config::server_setting;
    add_setting(server, server_setting("--port"), config.port)->check(CLI::Range(0, 65535));
    add_setting(server, server_setting("--bind"), config.bind_address);
    add_setting(server, server_setting("--offline-timeout"), text.offline_timeout);
    add_setting(server, server_setting("--monitor-interval"), text.monitor_interval);
    add_setting(server, server_setting("--placement-ttl"), text.placement_ttl);
    add_setting(server, server_setting("--start-deadline"), text.start_deadline);
    add_setting(server, server_setting("--max-attempts"), config.max_attempts)->check(CLI::Range(1, 100));
    add_setting(server, server_setting("--queue-timeout"), text.queue_timeout);
    add_setting(server, server_setting("--max-queue-length"), config.max_queue_length)
        ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}));
    add_setting(server, server_setting("--max-concurrent-pulls"), config.max_concurrent_pulls)->check(CLI::Range(0, 1000));
    add_setting(server, server_setting("--vm-retention"), text.vm_retention);
    // Shown as the hardware threads the command line found.
    add_setting(server, server_setting("--threads"), config.threads)->check(CLI::Range(1, 256))->capture_default_str();
    add_setting(server, server_setting("--max-vms-per-node"), config.max_vms_per_node)->check(CLI::Range(1, 64));
    add_setting(server, server_setting("--max-body-size"), text.max_body_size);
    add_setting(server, server_setting("--max-connections"), config.max_connections)->check(CLI::Range(1, 1'000'000));
    add_setting(server, server_setting("--max-long-polls"), config.max_long_polls)->check(CLI::Range(0, 1'000'000));
    add_setting(server, server_setting("--idle-timeout"), text.idle_timeout);
    add_setting(server, server_setting("--io-timeout"), text.io_timeout);
    add_setting(server, server_setting("--data-dir"), config.data_dir);
    add_setting(server, server_setting("--tokens-file"), config.tokens_file)->check(CLI::ExistingFile);
    auto* tls_cert =
        add_setting(server, server_setting("--tls-cert"), config.tls_certificate_file)->check(CLI::ExistingFile);
    auto* tls_key = add_setting(server, server_setting("--tls-key"), config.tls_key_file)->check(CLI::ExistingFile);
    tls_cert->needs(tls_key);
    tls_key->needs(tls_cert);
    add_setting(server, server_setting("--client-ca"), config.client_ca_file)
        ->check(CLI::ExistingFile)
        ->needs(tls_cert);
    const auto& in_memory = server_setting("--in-memory");
    server.add_flag(std::string{in_memory.flags}, text.in_memory, std::string{in_memory.help});
    auto* database_url = add_setting(server, server_setting("--database-url"), config.database_url);
    database_url->excludes(server.get_option("--in-memory"));
    add_setting(server, server_setting("--advertise-url"), config.advertise_url)->needs(database_url);
    add_setting(server, server_setting("--lease-duration"), text.lease_duration)->needs(database_url);
    add_setting(server, server_setting("--database-start-wait"), text.database_start_wait)->needs(database_url);
    add_setting(server, server_setting("--web-dir"), config.web_dir)->check(CLI::ExistingDirectory);
    add_setting(server, server_setting("--config"), text.config_file)->check(CLI::ExistingFile);
    add_setting(server, server_setting("--github-api-url"), text.github_api_url);
    add_setting(server, server_setting("--github-app-id"), text.github_app_id)->check(CLI::PositiveNumber);
    add_setting(server, server_setting("--github-installation-id"), text.github_installation_id)
        ->check(CLI::PositiveNumber);
    add_setting(server, server_setting("--github-app-key-file"), text.github_app_key_file);
    add_setting(server, server_setting("--github-token-file"), text.github_token_file);
    add_setting(server, server_setting("--github-webhook-secret-file"), text.github_webhook_secret_file);
    add_log_options(server, config.log, text.log);
}

void apply_server_text(config::ServerConfig& config, const ServerText& text) {
    apply_text(config, text);
    apply_log_text(config.log, text.log);
    apply_github_text(config, text);
}

} // namespace macvmorx::cli
