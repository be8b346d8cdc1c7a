#include "macvmorx/config/server_config.hpp"

#include "macvmorx/base/byte_size.hpp"
#include "macvmorx/base/duration.hpp"
#include "macvmorx/base/loopback.hpp"

#include <thread>

namespace macvmorx::config {

unsigned default_thread_count() { return std::max(1u, std::thread::hardware_concurrency()); }

bool is_open_beyond_loopback(const ServerConfig& config) {
    if (!config.tokens_file.empty()) return false;
    const auto& address = config.bind_address;
    return !is_loopback_host(address);
}

std::string without_password(const std::string& url) {
    std::string shown = url;
    // postgresql://user:secret@host/db
    if (const auto scheme = shown.find("://"); scheme != std::string::npos) {
        const auto at = shown.find('@', scheme + 3);
        const auto colon = shown.find(':', scheme + 3);
        if (at != std::string::npos && colon < at) shown.replace(colon + 1, at - colon - 1, "***");
    }
    // ...?password=secret, or key=value pairs: password=secret
    for (auto at = shown.find("password="); at != std::string::npos; at = shown.find("password=", at + 1)) {
        const auto start = at + 9;
        const auto end = shown.find_first_of("& ", start);
        shown.replace(start, (end == std::string::npos ? shown.size() : end) - start, "***");
    }
    return shown;
}

std::string describe(const ServerConfig& config) {
    std::string line;
    line += "bind=" + config.bind_address;
    line += " port=" + std::to_string(config.port);
    line += " offline-timeout=" + format_duration(config.offline_timeout);
    line += " monitor-interval=" + format_duration(config.monitor_interval);
    line += " placement-ttl=" + format_duration(config.placement_ttl);
    line += " start-deadline=" + format_duration(config.start_deadline);
    line += " max-attempts=" + std::to_string(config.max_attempts);
    line += " queue-timeout=" + format_duration(config.queue_timeout);
    line += " max-queue-length=" + std::to_string(config.max_queue_length);
    line += " max-concurrent-pulls=" + std::to_string(config.max_concurrent_pulls);
    line += " vm-retention=" + format_duration(config.vm_retention);
    line += " threads=" + std::to_string(config.threads);
    line += " max-vms-per-node=" + std::to_string(config.max_vms_per_node);
    line += " max-body-size=" + format_byte_size(config.max_body_bytes);
    line += " max-connections=" + std::to_string(config.max_connections);
    line += " max-long-polls=" + std::to_string(config.max_long_polls);
    line += " idle-timeout=" + format_duration(config.idle_timeout);
    line += " io-timeout=" + format_duration(config.io_timeout);
    line += " log-level=" + config.log.level + " log-format=" + config.log.format;
    if (!config.log.file.empty()) line += " log-file=" + config.log.file;
    if (!config.database_url.empty()) {
        line += " database-url=" + without_password(config.database_url);
        line += " advertise-url=" + config.advertise_url;
        line += " lease-duration=" + format_duration(config.lease_duration);
    } else {
        line += " data-dir=" + (config.data_dir.empty() ? std::string{"none (in memory)"} : config.data_dir);
    }
    line += " web=" + (config.web_dir.empty() ? std::string{"embedded"} : config.web_dir);
    line += " tokens=" + (config.tokens_file.empty() ? std::string{"none (open API)"} : config.tokens_file);
    line += " tls=" + (config.tls_certificate_file.empty() ? std::string{"off"} : config.tls_certificate_file);
    if (!config.client_ca_file.empty()) line += " client-ca=" + config.client_ca_file;
    if (config.actions) {
        const auto& github = config.actions->github;
        line += " github-api-url=" + github.api_url;
        line += " github-auth=" + std::string(github.app_id ? "app " + std::to_string(*github.app_id) : "token");
        line += " pools=";
        for (std::size_t i = 0; i < config.actions->pools.size(); ++i) {
            line += (i ? "," : "") + config.actions->pools[i].name;
        }
    }
    return line;
}

} // namespace macvmorx::config
