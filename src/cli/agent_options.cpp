#include "agent_options.hpp"

#include "option_checks.hpp"
#include "setting_sources.hpp"

#include "macvmorx/base/duration.hpp"
#include "macvmorx/http/base_url.hpp"

#include <CLI/CLI.hpp>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <stdexcept>

namespace macvmorx::cli {
namespace {

std::string host_name() {
    char name[256] = {};
    if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "mac";
    std::string text = name;
    // The short name: node ids allow letters, digits, '.', '_' and '-'.
    for (char& c : text) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') c = '-';
    }
    return text.substr(0, 128);
}

} // namespace

void add_agent_options(CLI::App& command, app::AgentCommandOptions& options, AgentText& text, config::LogConfig& log) {
    options.agent.node_id = host_name();
    text.server = default_orchestrator_url();
    text.heartbeat_interval = format_duration(options.agent.heartbeat_interval);
    text.boot_timeout = format_duration(options.tart.boot_timeout);
    command.add_option("--config", text.config_file,
                       "A TOML file of these settings, one key per flag without its dashes; flags and "
                       "variables beat it (docs/agent.md)")
        ->envname("MACVMORX_AGENT_CONFIG")
        ->check(CLI::ExistingFile);
    command.add_option("--server", text.server, "The orchestrator")
        ->envname("MACVMORX_AGENT_SERVER")
        ->check(server_url_check)
        ->capture_default_str();
    command.add_option("--node-id", options.agent.node_id, "This Mac's name in the fleet (default: the host name)")
        ->envname("MACVMORX_AGENT_NODE_ID")
        ->capture_default_str();
    command.add_option("--token-file", options.token_file, "A bearer token for the orchestrator, read from this file")
        ->envname("MACVMORX_AGENT_TOKEN_FILE");
    command.add_option("--ca-file", options.tls.ca_file,
                       "https:// server: a CA (PEM) to trust besides the system's, e.g. the fleet's private CA")
        ->envname("MACVMORX_AGENT_CA_FILE")
        ->check(CLI::ExistingFile);
    auto* client_cert = command.add_option("--client-cert", options.tls.certificate_file,
                                           "Mutual TLS: this Mac's certificate (PEM), naming the node id")
                            ->envname("MACVMORX_AGENT_CLIENT_CERT")
                            ->check(CLI::ExistingFile);
    auto* client_key = command.add_option("--client-key", options.tls.key_file, "The private key of --client-cert (PEM)")
                           ->envname("MACVMORX_AGENT_CLIENT_KEY")
                           ->check(CLI::ExistingFile);
    client_cert->needs(client_key);
    client_key->needs(client_cert);
    command.add_option("--heartbeat-interval", text.heartbeat_interval, "How often to report")
        ->envname("MACVMORX_AGENT_HEARTBEAT_INTERVAL")
        ->check(positive_duration_check)
        ->capture_default_str();
    command.add_option("--max-cached-images", options.agent.max_cached_images, "Images kept on the Mac (LRU)")
        ->envname("MACVMORX_AGENT_MAX_CACHED_IMAGES")
        ->check(CLI::Range(1, 1000))
        ->capture_default_str();
    command.add_option("--min-free-disk", options.agent.min_free_disk_gb, "GB of disk never filled by images")
        ->envname("MACVMORX_AGENT_MIN_FREE_DISK")
        ->check(CLI::Range(0.0, 100000.0))
        ->capture_default_str();
    command.add_option("--max-vms", options.agent.max_vms, "VMs at once (Apple allows two macOS VMs per host)")
        ->envname("MACVMORX_AGENT_MAX_VMS")
        ->check(CLI::Range(1, 64))
        ->capture_default_str();
    command.add_option("--label", text.labels, "A node label KEY=VALUE (repeatable), e.g. chip=m2")
        ->envname("MACVMORX_AGENT_LABELS")
        ->delimiter(',');
    command.add_option("--tart", options.tart.tart, "The tart program")
        ->envname("MACVMORX_AGENT_TART")
        ->capture_default_str();
    command.add_option("--ssh", options.tart.ssh, "The ssh program")->envname("MACVMORX_AGENT_SSH")->capture_default_str();
    command.add_option("--guest-user", options.tart.guest_user, "The user SSH logs into the guest as")
        ->envname("MACVMORX_AGENT_GUEST_USER")
        ->capture_default_str();
    command.add_option("--guest-key-file", options.tart.guest_key_file, "The SSH private key for the guest")
        ->envname("MACVMORX_AGENT_GUEST_KEY_FILE");
    command.add_option("--runner-command", options.tart.runner_command,
                       "What runs in the guest for a GitHub runner; the configuration arrives on its standard input")
        ->envname("MACVMORX_AGENT_RUNNER_COMMAND")
        ->capture_default_str();
    command.add_option("--start-command", options.tart.start_command,
                       "What runs in the guest for VMs without a runner configuration (default: nothing)")
        ->envname("MACVMORX_AGENT_START_COMMAND");
    command.add_option("--watch-command", options.tart.watch_command,
                       "Lasts in the guest while a runner started before an agent restart works")
        ->envname("MACVMORX_AGENT_WATCH_COMMAND")
        ->capture_default_str();
    command.add_option("--boot-timeout", text.boot_timeout,
                       "From `tart run` to a guest that answers SSH; a VM that takes longer fails")
        ->envname("MACVMORX_AGENT_BOOT_TIMEOUT")
        ->check(positive_duration_check)
        ->capture_default_str();
    if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
        options.agent.state_file = std::string{home} + "/.macvmorx/agent-state.json";
        options.tart.vm_log_dir = std::string{home} + "/.macvmorx/vm-logs";
        options.tart.image_download_dir = std::string{home} + "/.macvmorx/image-downloads";
    }
    command.add_option("--vm-log-dir", options.tart.vm_log_dir,
                       "Where `tart run` and the runner in each VM write their output (a file per VM)")
        ->envname("MACVMORX_AGENT_VM_LOG_DIR")
        ->capture_default_str();
    command.add_option("--image-download-dir", options.tart.image_download_dir,
                       "Where images from storage buckets download (resumable) before tart imports them")
        ->envname("MACVMORX_AGENT_IMAGE_DOWNLOAD_DIR")
        ->capture_default_str();
    command.add_option("--peer-listen", text.peer_listen,
                       "ADDRESS:PORT where this Mac serves its bucket images to its lab's other Macs (empty: it serves "
                       "none, and deletes each archive once imported)")
        ->envname("MACVMORX_AGENT_PEER_LISTEN");
    command.add_option("--peer-url", options.agent.peer_url,
                       "The URL other Macs reach --peer-listen at (default: http://HOST-NAME:PORT)")
        ->envname("MACVMORX_AGENT_PEER_URL");
    command.add_option("--peer-max-uploads", options.peer_server.max_uploads, "Uploads to peers at once")
        ->envname("MACVMORX_AGENT_PEER_MAX_UPLOADS")
        ->check(CLI::Range(1, 64))
        ->capture_default_str();
    options.peer_upload_mb_per_second = options.peer_server.upload_bytes_per_second / 1e6;
    command.add_option("--peer-upload-rate", options.peer_upload_mb_per_second,
                       "MB/s this Mac uploads to peers at most, on average (0: no bound)")
        ->envname("MACVMORX_AGENT_PEER_UPLOAD_RATE")
        ->check(CLI::Range(0.0, 100000.0))
        ->capture_default_str();
    command.add_option("--state-file", options.agent.state_file,
                       "Where the agent remembers its VMs across restarts (no secrets); empty: nowhere")
        ->envname("MACVMORX_AGENT_STATE_FILE")
        ->capture_default_str();
    command.add_option("--vm-storage", options.vm_storage_path, "The volume that holds the VMs (its free space is reported)")
        ->envname("MACVMORX_AGENT_VM_STORAGE")
        ->capture_default_str();
    add_log_options(command, log, text.log);
}

std::optional<std::string> apply_agent_text(app::AgentCommandOptions& options, config::LogConfig& log,
                                            const AgentText& text) {
    options.server = http::BaseUrl::parse(text.server);
    const auto& tls = options.tls;
    if (!options.server.tls && (!tls.ca_file.empty() || !tls.certificate_file.empty())) {
        return "--ca-file and --client-cert need an https:// --server";
    }
    options.agent.heartbeat_interval = *parse_duration(text.heartbeat_interval);
    options.peer_server.upload_bytes_per_second = options.peer_upload_mb_per_second * 1e6;
    options.serve_peers = !text.peer_listen.empty();
    if (options.serve_peers) {
        // "0.0.0.0:9100", "[::]:9100", ":9100" (every address)
        const auto colon = text.peer_listen.rfind(':');
        if (colon == std::string::npos) return "--peer-listen: '" + text.peer_listen + "' is not ADDRESS:PORT";
        std::string address = text.peer_listen.substr(0, colon);
        if (address.size() >= 2 && address.front() == '[' && address.back() == ']') address = address.substr(1, address.size() - 2);
        const std::string port = text.peer_listen.substr(colon + 1);
        if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
            std::stoi(port) > 65535) {
            return "--peer-listen: '" + port + "' is not a port";
        }
        options.peer_server.bind_address = address.empty() ? "0.0.0.0" : address;
        options.peer_server.port = static_cast<std::uint16_t>(std::stoi(port));
        options.peer_url_host = address.empty() || address == "0.0.0.0" || address == "::" ? host_name() : address;
    }
    if (!options.agent.peer_url.empty()) {
        if (!options.serve_peers) return "--peer-url needs --peer-listen";
        try {
            (void)http::BaseUrl::parse(options.agent.peer_url);
        } catch (const std::invalid_argument& error) {
            return "--peer-url: " + std::string{error.what()};
        }
    }
    options.tart.boot_timeout = *parse_duration(text.boot_timeout);
    for (const auto& label : text.labels) {
        const auto equals = label.find('=');
        if (equals == std::string::npos || equals == 0) return "--label: '" + label + "' is not KEY=VALUE";
        options.agent.labels.push_back({label.substr(0, equals), label.substr(equals + 1)});
    }
    const auto& id = options.agent.node_id;
    if (id.empty() || id.size() > 128 || !std::all_of(id.begin(), id.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
        })) {
        return "--node-id: '" + id + "' must be 1 to 128 letters, digits, '.', '_' or '-'";
    }
    apply_log_text(log, text.log);
    return std::nullopt;
}

} // namespace macvmorx::cli
