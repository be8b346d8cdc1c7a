#include "macvmorx/cli/command_line.hpp"

#include "macvmorx/app/daemon.hpp"
#include "macvmorx/app/logging.hpp"
#include "macvmorx/base/version.hpp"
#include "macvmorx/app/simulation.hpp"
#include "macvmorx/agent/orchestrator_link.hpp"
#include "macvmorx/auth/token_table.hpp"
#include "macvmorx/base/byte_size.hpp"
#include "macvmorx/base/duration.hpp"
#include "macvmorx/config/settings_file.hpp"

#include <CLI/CLI.hpp>
#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <iostream>
#include <sstream>

namespace macvmorx::cli {
namespace {

const CLI::Validator duration_check{
    [](std::string& value) -> std::string {
        return parse_duration(value) ? std::string{} : "'" + value + "' is not a duration (use e.g. 500ms, 45s, 1m, 1h)";
    },
    "DURATION"};

const CLI::Validator positive_duration_check{
    [](std::string& value) -> std::string {
        const auto parsed = parse_duration(value);
        if (!parsed) return "'" + value + "' is not a duration (use e.g. 500ms, 45s, 1m, 1h)";
        return parsed->count() > 0 ? std::string{} : "must be longer than 0";
    },
    "DURATION"};

const CLI::Validator address_check{
    [](std::string& value) -> std::string {
        unsigned char buffer[sizeof(in6_addr)];
        if (inet_pton(AF_INET, value.c_str(), buffer) == 1 || inet_pton(AF_INET6, value.c_str(), buffer) == 1) return {};
        return "'" + value + "' is not an IPv4 or IPv6 address";
    },
    "ADDRESS"};

const CLI::Validator byte_size_check{
    [](std::string& value) -> std::string {
        const auto parsed = parse_byte_size(value);
        if (!parsed) return "'" + value + "' is not a size (use e.g. 65536, 512KiB, 1MiB)";
        return *parsed > 0 ? std::string{} : "must be larger than 0";
    },
    "SIZE"};

// The raw text of the log settings that need our own parsing.
struct LogText {
    std::string file_max_size = "100MiB";
};

// Logging flags, the same for every command.
void add_log_options(CLI::App& command, config::LogConfig& log, LogText& text) {
    command.add_option("--log-level", log.level, "trace, debug (access logs), info, warn, error, critical or off")
        ->envname("MACVMORX_LOG_LEVEL")
        ->check(CLI::IsMember(std::vector<std::string>(std::begin(app::log_levels), std::end(app::log_levels))))
        ->capture_default_str();
    command.add_option("--log-format", log.format, "text, or json (one object per line, for log shippers)")
        ->envname("MACVMORX_LOG_FORMAT")
        ->check(CLI::IsMember({"text", "json"}))
        ->capture_default_str();
    command.add_option("--log-file", log.file, "Log to this file, rotated by size, instead of standard error")
        ->envname("MACVMORX_LOG_FILE");
    command.add_option("--log-file-max-size", text.file_max_size, "Rotate the log file at this size")
        ->envname("MACVMORX_LOG_FILE_MAX_SIZE")
        ->check(byte_size_check)
        ->capture_default_str();
    command.add_option("--log-file-count", log.file_count, "Rotated log files kept")
        ->envname("MACVMORX_LOG_FILE_COUNT")
        ->check(CLI::Range(1, 1000))
        ->capture_default_str();
}

void apply_log_text(config::LogConfig& log, const LogText& text) {
    log.file_max_bytes = static_cast<std::size_t>(*parse_byte_size(text.file_max_size));
}

// The raw text of the settings that need our own parsing after CLI11 has validated them.
struct ServerText {
    std::string offline_timeout = "30s";
    std::string monitor_interval = "5s";
    std::string placement_ttl = "10m";
    std::string start_deadline = "15m";
    std::string queue_timeout = "1h";
    std::string vm_retention = "1h";
    std::string idle_timeout = "30s";
    std::string io_timeout = "30s";
    std::string max_body_size = "1MiB";
    bool in_memory = false;
    // GitHub Actions: the file, and flags that override what it says.
    std::string config_file;
    std::string github_api_url;
    std::string github_app_id;
    std::string github_installation_id;
    std::string github_app_key_file;
    std::string github_token_file;
    std::string github_webhook_secret_file;
};

void add_server_options(CLI::App& server, config::ServerConfig& config, ServerText& text, LogText& log_text) {
    server.add_option("-p,--port", config.port, "Port for the REST API and the dashboard (0: any free port)")
        ->envname("MACVMORX_WEB_PORT")
        ->check(CLI::Range(0, 65535))
        ->capture_default_str();
    server.add_option("--bind", config.bind_address, "Address to listen on (0.0.0.0: every IPv4 interface, :: for IPv6)")
        ->envname("MACVMORX_BIND")
        ->check(address_check)
        ->capture_default_str();
    server.add_option("--offline-timeout", text.offline_timeout,
                      "A node without a heartbeat for this long is marked offline")
        ->envname("MACVMORX_OFFLINE_TIMEOUT")
        ->check(positive_duration_check)
        ->capture_default_str();
    server.add_option("--monitor-interval", text.monitor_interval, "How often to look for offline nodes")
        ->envname("MACVMORX_MONITOR_INTERVAL")
        ->check(positive_duration_check)
        ->capture_default_str();
    server.add_option("--placement-ttl", text.placement_ttl,
                      "How long a placed VM holds its slot before its agent takes the createVm command; "
                      "then it fails and is placed again")
        ->envname("MACVMORX_PLACEMENT_TTL")
        ->check(positive_duration_check)
        ->capture_default_str();
    server.add_option("--start-deadline", text.start_deadline,
                      "A placed VM not running by then fails and is placed again (big images take time to download)")
        ->envname("MACVMORX_START_DEADLINE")
        ->check(positive_duration_check)
        ->capture_default_str();
    server.add_option("--max-attempts", config.max_attempts, "Placements per VM before it fails for good")
        ->envname("MACVMORX_MAX_ATTEMPTS")
        ->check(CLI::Range(1, 100))
        ->capture_default_str();
    server.add_option("--queue-timeout", text.queue_timeout, "A queued request (\"wait\": true) not placed by then fails")
        ->envname("MACVMORX_QUEUE_TIMEOUT")
        ->check(positive_duration_check)
        ->capture_default_str();
    server.add_option("--max-queue-length", config.max_queue_length,
                      "Requests waiting for a node at most; more are refused with 503 and Retry-After")
        ->envname("MACVMORX_MAX_QUEUE_LENGTH")
        ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}))
        ->capture_default_str();
    server.add_option("--vm-retention", text.vm_retention, "How long deleted and failed VM records stay visible")
        ->envname("MACVMORX_VM_RETENTION")
        ->check(positive_duration_check)
        ->capture_default_str();
    server.add_option("--threads", config.threads, "Threads serving requests (default: hardware threads)")
        ->envname("MACVMORX_THREADS")
        ->check(CLI::Range(1, 256))
        ->capture_default_str();
    server.add_option("--max-vms-per-node", config.max_vms_per_node,
                      "VMs one Mac may run at once (Apple's licence allows 2 macOS VMs)")
        ->envname("MACVMORX_MAX_VMS_PER_NODE")
        ->check(CLI::Range(1, 64))
        ->capture_default_str();
    server.add_option("--max-body-size", text.max_body_size, "Largest request body accepted")
        ->envname("MACVMORX_MAX_BODY_SIZE")
        ->check(byte_size_check)
        ->capture_default_str();
    server.add_option("--max-connections", config.max_connections, "Open connections accepted at once")
        ->envname("MACVMORX_MAX_CONNECTIONS")
        ->check(CLI::Range(1, 1'000'000))
        ->capture_default_str();
    server.add_option("--idle-timeout", text.idle_timeout,
                      "How long a connection may wait for its next request (and its header)")
        ->envname("MACVMORX_IDLE_TIMEOUT")
        ->check(positive_duration_check)
        ->capture_default_str();
    server.add_option("--io-timeout", text.io_timeout, "How long a request body or an answer may take to transfer")
        ->envname("MACVMORX_IO_TIMEOUT")
        ->check(positive_duration_check)
        ->capture_default_str();
    server.add_option("--data-dir", config.data_dir,
                      "Where VM records, the queue and node settings are kept (SQLite) across restarts")
        ->envname("MACVMORX_DATA_DIR")
        ->capture_default_str();
    server.add_option("--tokens-file", config.tokens_file,
                      "Require tokens: a file of their SHA-256 hashes and roles, re-read on SIGHUP (docs/security.md)")
        ->envname("MACVMORX_TOKENS_FILE")
        ->check(CLI::ExistingFile);
    auto* tls_cert = server.add_option("--tls-cert", config.tls_certificate_file,
                                       "Serve HTTPS only: the certificate chain (PEM), re-read on SIGHUP")
                         ->envname("MACVMORX_TLS_CERT")
                         ->check(CLI::ExistingFile);
    auto* tls_key = server.add_option("--tls-key", config.tls_key_file, "The private key of --tls-cert (PEM)")
                        ->envname("MACVMORX_TLS_KEY")
                        ->check(CLI::ExistingFile);
    tls_cert->needs(tls_key);
    tls_key->needs(tls_cert);
    server.add_option("--client-ca", config.client_ca_file,
                      "Mutual TLS: agents must show a certificate from this CA (PEM) naming their node")
        ->envname("MACVMORX_CLIENT_CA")
        ->check(CLI::ExistingFile)
        ->needs(tls_cert);
    server.add_flag("--in-memory", text.in_memory, "Keep no durable records (tests, throwaway demos)");
    server.add_option("--web-dir", config.web_dir,
                      "Serve the dashboard from this directory instead of the built-in copy (for development)")
        ->envname("MACVMORX_WEB_DIR")
        ->check(CLI::ExistingDirectory);
    server.add_option("--config", text.config_file,
                      "GitHub Actions: a TOML file of runner pools and GitHub settings (docs/github-actions.md)")
        ->envname("MACVMORX_CONFIG")
        ->check(CLI::ExistingFile);
    server.add_option("--github-api-url", text.github_api_url,
                      "GitHub's REST API (default https://api.github.com; GitHub Enterprise Server: https://HOST/api/v3)")
        ->envname("MACVMORX_GITHUB_API_URL");
    server.add_option("--github-app-id", text.github_app_id, "The GitHub App macvmorx acts as")
        ->envname("MACVMORX_GITHUB_APP_ID")
        ->check(CLI::PositiveNumber);
    server.add_option("--github-installation-id", text.github_installation_id, "The App's installation")
        ->envname("MACVMORX_GITHUB_INSTALLATION_ID")
        ->check(CLI::PositiveNumber);
    server.add_option("--github-app-key-file", text.github_app_key_file, "The App's private key (PEM)")
        ->envname("MACVMORX_GITHUB_APP_KEY_FILE");
    server.add_option("--github-token-file", text.github_token_file,
                      "A fine-grained token (instead of an App), read from this file")
        ->envname("MACVMORX_GITHUB_TOKEN_FILE");
    server.add_option("--github-webhook-secret-file", text.github_webhook_secret_file,
                      "The webhook secret deliveries are signed with, read from this file")
        ->envname("MACVMORX_GITHUB_WEBHOOK_SECRET_FILE");
    add_log_options(server, config.log, log_text);
}

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
    if (actions.pools.empty()) throw config::ConfigError(text.config_file + ": declares no [[pools]]");
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
    if (text.in_memory) config.data_dir.clear();
}

// The raw text of the simulator's settings that need our own parsing.
struct SimulateText {
    std::string server = "http://127.0.0.1:8080";
    std::string heartbeat_interval = "5s";
    std::string failure_duration = "2m";
    std::string boot_time = "20s";
    std::string job_runtime = "5m";
    std::vector<std::string> images;
    bool no_long_poll = false;
    bool no_queue = false;
    std::string token_file;
};

const CLI::Validator server_url_check{
    [](std::string& value) -> std::string {
        return agent::ServerAddress::parse(value) ? std::string{} : "'" + value + "' is not an http(s)://host:port URL";
    },
    "URL"};

// NAME[:GB[:WEIGHT]]
std::optional<sim::SimulatedImage> parse_image_spec(const std::string& text) {
    sim::SimulatedImage image;
    const auto first = text.find(':');
    image.name = text.substr(0, first);
    if (image.name.empty()) return std::nullopt;
    try {
        if (first != std::string::npos) {
            const auto second = text.find(':', first + 1);
            image.size_gb = std::stod(text.substr(first + 1, second - first - 1));
            if (second != std::string::npos) image.weight = std::stod(text.substr(second + 1));
        }
    } catch (const std::exception&) {
        return std::nullopt;
    }
    if (image.size_gb <= 0 || image.weight <= 0) return std::nullopt;
    return image;
}

const CLI::Validator image_spec_check{
    [](std::string& value) -> std::string {
        return parse_image_spec(value) ? std::string{} : "'" + value + "' is not NAME[:SIZE_GB[:WEIGHT]]";
    },
    "IMAGE"};

void add_simulate_options(CLI::App& simulate, sim::SimulationOptions& options, SimulateText& text,
                          config::LogConfig& log, LogText& log_text) {
    simulate.add_option("--server", text.server, "The orchestrator to report to")
        ->envname("MACVMORX_SERVER")
        ->check(server_url_check)
        ->capture_default_str();
    simulate.add_option("--token-file", text.token_file,
                        "A token for an orchestrator that requires them (admin: the simulated Macs report and "
                        "place VMs), read from this file")
        ->envname("MACVMORX_SIMULATE_TOKEN_FILE")
        ->check(CLI::ExistingFile);
    simulate.add_option("--nodes", options.nodes, "Simulated Mac Minis")->check(CLI::Range(1, 100'000))->capture_default_str();
    simulate.add_option("--node-prefix", options.node_prefix, "Node ids are this prefix and a number")
        ->capture_default_str();
    simulate.add_option("--heartbeat-interval", text.heartbeat_interval, "How often each Mac reports")
        ->check(positive_duration_check)
        ->capture_default_str();
    simulate.add_option("--jobs-per-minute", options.jobs_per_minute,
                        "CI jobs asking for a VM, on average per minute (arriving at random)")
        ->check(CLI::Range(0.0, 1'000'000.0))
        ->capture_default_str();
    simulate.add_option("--initial-jobs", options.initial_jobs,
                        "Jobs asked for at once when the fleet has reported (a demo that starts busy)")
        ->check(CLI::Range(0, 100'000))
        ->capture_default_str();
    simulate.add_option("--image", text.images,
                        "An image of the mix, NAME[:SIZE_GB[:WEIGHT]] (repeat it; default: five common macOS images)")
        ->check(image_spec_check);
    simulate.add_option("--seed", options.seed, "Seed of every random choice: the same seed gives the same run")
        ->capture_default_str();
    simulate.add_option("--node-failures-per-hour", options.node_failures_per_hour,
                        "Macs that stop heartbeating (and lose their VMs), on average per hour")
        ->check(CLI::Range(0.0, 100'000.0))
        ->capture_default_str();
    simulate.add_option("--failure-duration", text.failure_duration, "How long a failed Mac stays silent")
        ->check(positive_duration_check)
        ->capture_default_str();
    simulate.add_option("--bandwidth-mbps", options.profile.bandwidth_mbps, "Image download speed of each Mac")
        ->check(CLI::Range(1.0, 1'000'000.0))
        ->capture_default_str();
    simulate.add_option("--boot-time", text.boot_time, "Mean time from clone to running runner")
        ->check(positive_duration_check)
        ->capture_default_str();
    simulate.add_option("--job-runtime", text.job_runtime, "Mean time a runner works before its VM ends")
        ->check(positive_duration_check)
        ->capture_default_str();
    simulate.add_option("--max-cached-images", options.max_cached_images, "Images each Mac keeps (LRU)")
        ->check(CLI::Range(1, 100))
        ->capture_default_str();
    simulate.add_option("--pull-failure-rate", options.profile.pull_failure_rate, "Share of image pulls that fail")
        ->check(CLI::Range(0.0, 1.0))
        ->capture_default_str();
    simulate.add_option("--boot-failure-rate", options.profile.boot_failure_rate, "Share of boots that fail")
        ->check(CLI::Range(0.0, 1.0))
        ->capture_default_str();
    simulate.add_option("--ghost-rate", options.profile.ghost_rate,
                        "Share of deletions that leave a ghost VM holding one of macOS's two slots")
        ->check(CLI::Range(0.0, 1.0))
        ->capture_default_str();
    simulate.add_flag("--no-long-poll", text.no_long_poll, "Agents learn of commands only from heartbeat answers");
    simulate.add_flag("--no-queue", text.no_queue, "Jobs do not wait when the fleet is full (they get 503)");
    add_log_options(simulate, log, log_text);
}

void apply_simulate_text(sim::SimulationOptions& options, const SimulateText& text) {
    options.server = *agent::ServerAddress::parse(text.server);
    options.heartbeat_interval = *parse_duration(text.heartbeat_interval);
    options.failure_duration = *parse_duration(text.failure_duration);
    options.profile.boot_time = *parse_duration(text.boot_time);
    options.profile.job_runtime = *parse_duration(text.job_runtime);
    options.long_poll = !text.no_long_poll;
    options.queue_jobs = !text.no_queue;
    if (!text.images.empty()) {
        options.images.clear();
        for (const auto& spec : text.images) options.images.push_back(*parse_image_spec(spec));
    }
}

// The raw text of the agent's settings that need our own parsing.
struct AgentText {
    std::string config_file; // read before parsing, by merge_settings_file
    std::string server = "http://127.0.0.1:8080";
    std::string heartbeat_interval = "5s";
    std::string boot_timeout = "3m";
    std::vector<std::string> labels; // KEY=VALUE
};

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

void add_agent_options(CLI::App& command, app::AgentCommandOptions& options, AgentText& text, config::LogConfig& log,
                       LogText& log_text) {
    options.agent.node_id = host_name();
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
    }
    command.add_option("--vm-log-dir", options.tart.vm_log_dir,
                       "Where `tart run` and the runner in each VM write their output (a file per VM)")
        ->envname("MACVMORX_AGENT_VM_LOG_DIR")
        ->capture_default_str();
    command.add_option("--state-file", options.agent.state_file,
                       "Where the agent remembers its VMs across restarts (no secrets); empty: nowhere")
        ->envname("MACVMORX_AGENT_STATE_FILE")
        ->capture_default_str();
    command.add_option("--vm-storage", options.vm_storage_path, "The volume that holds the VMs (its free space is reported)")
        ->envname("MACVMORX_AGENT_VM_STORAGE")
        ->capture_default_str();
    add_log_options(command, log, log_text);
}

std::optional<std::string> apply_agent_text(app::AgentCommandOptions& options, const AgentText& text) {
    options.server = *agent::ServerAddress::parse(text.server);
    const auto& tls = options.tls;
    if (!options.server.tls && (!tls.ca_file.empty() || !tls.certificate_file.empty())) {
        return "--ca-file and --client-cert need an https:// --server";
    }
    options.agent.heartbeat_interval = *parse_duration(text.heartbeat_interval);
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
    return std::nullopt;
}

// When a refused value came from an environment variable rather than a flag, say which
// variable: the operator may not know it is set.
std::string name_the_variable(const CLI::App& command, const std::vector<std::string>& arguments,
                              std::string message) {
    for (const CLI::Option* option : command.get_options()) {
        const std::string& variable = option->get_envname();
        if (variable.empty() || std::getenv(variable.c_str()) == nullptr) continue;
        if (!message.starts_with(option->get_name() + ":")) continue;
        const bool given_as_flag = std::any_of(arguments.begin(), arguments.end(), [option](const std::string& arg) {
            const std::string flag = arg.substr(0, arg.find('='));
            return flag.starts_with("-") && option->check_name(flag);
        });
        if (!given_as_flag) message.insert(option->get_name().size(), " (from " + variable + ")");
    }
    return message;
}

// The value of `--config` among the subcommand's arguments, or of its environment variable.
std::string config_file_argument(const std::vector<std::string>& arguments, const char* variable) {
    for (std::size_t i = 0; i < arguments.size(); ++i) {
        if (arguments[i] == "--config" && i + 1 < arguments.size()) return arguments[i + 1];
        if (arguments[i].starts_with("--config=")) return arguments[i].substr(9);
    }
    const char* value = std::getenv(variable);
    return value == nullptr ? std::string{} : std::string{value};
}

// Turns a settings file into flags for the settings given neither as flags nor as variables,
// so that flags beat variables, which beat the file, which beats defaults (CLI11's own config
// files would beat variables). Returns an error naming the file and the key.
std::optional<std::string> merge_settings_file(const CLI::App& command, const std::string& path,
                                               std::vector<std::string>& arguments) {
    if (path.empty()) return std::nullopt;
    std::vector<std::pair<std::string, std::string>> settings;
    try {
        settings = config::read_settings_file(path);
    } catch (const config::ConfigError& error) {
        return std::string{"--config: "} + error.what();
    }
    const std::vector<std::string> given = arguments;
    for (const auto& [key, value] : settings) {
        const CLI::Option* option = command.get_option_no_throw("--" + key);
        if (option == nullptr || key == "config" || key == "help") {
            return "--config: " + path + ": '" + key + "' is not a setting of `macvmorx " + command.get_name() + "`";
        }
        const bool as_flag = std::any_of(given.begin(), given.end(), [option](const std::string& arg) {
            const std::string flag = arg.substr(0, arg.find('='));
            return flag.starts_with("-") && option->check_name(flag);
        });
        const auto& variable = option->get_envname();
        const bool as_variable = !variable.empty() && std::getenv(variable.c_str()) != nullptr;
        if (as_flag || as_variable) continue;
        if (option->get_type_size() == 0) { // a flag without a value
            if (value == "true") arguments.push_back("--" + key);
            continue;
        }
        arguments.push_back("--" + key);
        arguments.push_back(value);
    }
    return std::nullopt;
}

} // namespace

ParsedCommandLine parse_command_line(const std::vector<std::string>& given_arguments) {
    std::vector<std::string> arguments = given_arguments;
    ParsedCommandLine parsed;
    parsed.server.threads = config::default_thread_count();
    ServerText text;
    LogText server_log_text;
    LogText simulate_log_text;

    CLI::App app{"macvmorx: an orchestrator for fleets of Mac hosts running ephemeral macOS VMs", "macvmorx"};
    app.set_version_flag("--version", std::string(version()));
    app.require_subcommand(1);
    auto* server = app.add_subcommand("server", "Run the orchestrator: the REST API and the dashboard on one port");
    add_server_options(*server, parsed.server, text, server_log_text);
    auto* simulate = app.add_subcommand(
        "simulate", "Run a simulated fleet of Mac Minis (and optionally CI jobs) against an orchestrator");
    SimulateText simulate_text;
    add_simulate_options(*simulate, parsed.simulation, simulate_text, parsed.log, simulate_log_text);
    auto* agent_command = app.add_subcommand(
        "agent", "Run the host agent on a Mac: report it, and make and delete its VMs with tart as the orchestrator says");
    AgentText agent_text;
    LogText agent_log_text;
    add_agent_options(*agent_command, parsed.agent, agent_text, parsed.log, agent_log_text);
    auto* token_command = app.add_subcommand("token", "Manage the API's tokens");
    token_command->require_subcommand(1);
    auto* token_create = token_command->add_subcommand(
        "create", "Print a new random token once, and the line that adds its hash to the tokens file");
    std::string role_text;
    std::string nodes_text;
    token_create->add_option("--role", role_text, "agent, ci, viewer or admin")
        ->required()
        ->check(CLI::IsMember({"agent", "ci", "viewer", "admin"}));
    token_create->add_option("--name", parsed.new_token.name, "Who holds it, e.g. the Mac's name or the pipeline's")
        ->required()
        ->check([](const std::string& value) {
            const bool plain = !value.empty() && std::none_of(value.begin(), value.end(), [](char c) {
                return c == '#' || std::isspace(static_cast<unsigned char>(c));
            });
            return plain ? std::string{} : "a name has no spaces and no '#'";
        });
    token_create->add_option("--nodes", nodes_text,
                             "Agent tokens: the node ids it may report for, comma-separated; '*' matches any run "
                             "of characters (default: any node)");
    auto* version_command = app.add_subcommand("version", "Print the version");

    if (!arguments.empty() && arguments.front() == "agent") {
        const std::vector<std::string> agent_arguments(arguments.begin() + 1, arguments.end());
        if (const auto error = merge_settings_file(*agent_command,
                                                   config_file_argument(agent_arguments, "MACVMORX_AGENT_CONFIG"),
                                                   arguments)) {
            parsed.exit_code = 2;
            parsed.output = "macvmorx: error: " + *error + "\n";
            return parsed;
        }
    }

    // CLI11 wants argv order reversed when given a vector.
    std::vector<std::string> reversed(arguments.rbegin(), arguments.rend());
    try {
        app.parse(reversed);
    } catch (const CLI::CallForHelp&) {
        parsed.output = app.help();
        return parsed;
    } catch (const CLI::CallForAllHelp&) {
        parsed.output = app.help("", CLI::AppFormatMode::All);
        return parsed;
    } catch (const CLI::CallForVersion&) {
        parsed.output = std::string(version()) + "\n";
        return parsed;
    } catch (const CLI::ParseError& error) {
        parsed.exit_code = 2;
        std::string message = error.what();
        for (const CLI::App* command : {server, simulate, agent_command}) message = name_the_variable(*command, arguments, message);
        parsed.output = "macvmorx: error: " + message + "\n";
        return parsed;
    }

    if (version_command->parsed()) {
        parsed.command = Command::version;
    } else if (token_create->parsed()) {
        parsed.new_token.role = *auth::parse_role(role_text);
        for (std::size_t start = 0; start < nodes_text.size();) {
            const auto comma = std::min(nodes_text.find(',', start), nodes_text.size());
            if (comma > start) parsed.new_token.node_patterns.push_back(nodes_text.substr(start, comma - start));
            start = comma + 1;
        }
        // The line must read back: no spaces or '#' (a comment) in a pattern.
        if (nodes_text.find_first_of(" \t#") != std::string::npos) {
            parsed.exit_code = 2;
            parsed.output = "macvmorx: error: --nodes: node ids and patterns have no spaces and no '#'\n";
            return parsed;
        }
        if (!parsed.new_token.node_patterns.empty() && parsed.new_token.role != auth::Role::agent) {
            parsed.exit_code = 2;
            parsed.output = "macvmorx: error: --nodes binds agent tokens only\n";
            return parsed;
        }
        parsed.command = Command::token_create;
    } else if (server->parsed()) {
        apply_text(parsed.server, text);
        apply_log_text(parsed.server.log, server_log_text);
        try {
            apply_github_text(parsed.server, text);
        } catch (const config::ConfigError& error) {
            parsed.exit_code = 2;
            parsed.output = std::string("macvmorx: error: ") + error.what() + "\n";
            return parsed;
        }
        parsed.command = Command::server;
    } else if (simulate->parsed()) {
        apply_simulate_text(parsed.simulation, simulate_text);
        if (!simulate_text.token_file.empty()) {
            try {
                parsed.simulation.token = config::read_secret_file(simulate_text.token_file, "--token-file");
            } catch (const config::ConfigError& error) {
                parsed.exit_code = 2;
                parsed.output = std::string("macvmorx: error: ") + error.what() + "\n";
                return parsed;
            }
        }
        apply_log_text(parsed.log, simulate_log_text);
        parsed.command = Command::simulate;
    } else if (agent_command->parsed()) {
        if (const auto error = apply_agent_text(parsed.agent, agent_text)) {
            parsed.exit_code = 2;
            parsed.output = "macvmorx: error: " + *error + "\n";
            return parsed;
        }
        apply_log_text(parsed.log, agent_log_text);
        parsed.command = Command::agent;
    }
    return parsed;
}

int run(int argc, char** argv) {
    std::vector<std::string> arguments;
    for (int i = 1; i < argc; ++i) arguments.emplace_back(argv[i]);
    const auto parsed = parse_command_line(arguments);
    switch (parsed.command) {
    case Command::version:
        std::cout << "macvmorx " << version() << '\n';
        return 0;
    case Command::server:
        return app::run_server(parsed.server);
    case Command::simulate:
        return app::run_simulation(parsed.simulation, parsed.log);
    case Command::agent:
        return app::run_agent(parsed.agent, parsed.log);
    case Command::token_create: {
        const std::string token = auth::generate_token();
        std::cout << token << '\n' << auth::token_file_line(auth::sha256_hex(token), parsed.new_token) << '\n'
                  << std::flush; // before the note on stderr, so that the two lines come first
        std::cerr << "macvmorx: the first line is the token, shown only now: give it to '" << parsed.new_token.name
                  << "'.\nThe second line goes into the tokens file; then send the daemon SIGHUP.\n";
        return 0;
    }
    case Command::exit:
        (parsed.exit_code == 0 ? std::cout : std::cerr) << parsed.output;
        return parsed.exit_code;
    }
    return 0;
}

} // namespace macvmorx::cli
