#include "macvmorx/app/agent_command.hpp"

#include "signals.hpp"

#include "macvmorx/agent/host_checks.hpp"
#include "macvmorx/agent/host_probe.hpp"
#include "macvmorx/agent/registry_client.hpp"
#include "macvmorx/app/logging.hpp"
#include "macvmorx/base/loopback.hpp"
#include "macvmorx/config/actions_config.hpp"
#include "macvmorx/http/web_client.hpp"
#include "macvmorx/object_store/sigv4.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <future>
#include <optional>
#include <stdexcept>
#include <thread>

namespace macvmorx::app {
namespace {

// Questions to the daemon about peers, asked on the threads that need the answer (a download's,
// the peer server's): a blocking client of their own, with the agent's credentials.
class PeerQuestions {
public:
    PeerQuestions(const AgentCommandOptions& options, std::string token) : options_{options}, token_{std::move(token)} {}

    // Whom to fetch `image` from, with the grant to show them.
    object_store::PeerOffer offer(const std::string& image) const {
        const auto answer = get("/api/nodes/" + object_store::uri_encode(options_.agent.node_id, false) +
                                "/image-peers?imageName=" + object_store::uri_encode(image, false));
        object_store::PeerOffer offer;
        offer.grant = answer.value("grant", std::string{});
        offer.wait = answer.value("wait", false);
        offer.retry_after = std::chrono::seconds{std::clamp<std::int64_t>(answer.value("retryAfterSeconds", 15), 1, 300)};
        offer.reason = answer.value("reason", std::string{});
        for (const auto& peer : answer.value("peers", nlohmann::json::array())) {
            offer.peers.push_back({peer.value("nodeId", std::string{}), peer.value("url", std::string{})});
        }
        return offer;
    }

    // The daemon's public key for grants; empty when it cannot be had (logged).
    std::string grant_key() const {
        try {
            return get("/api/peer-grants/key").value("publicKeyPem", std::string{});
        } catch (const std::exception& error) {
            spdlog::warn("agent: cannot get the daemon's key for peer grants: {}", error.what());
            return {};
        }
    }

private:
    nlohmann::json get(const std::string& target) const {
        http::WebClientOptions client;
        client.timeout = std::chrono::seconds{10};
        client.ca_file = options_.tls.ca_file;
        client.client_certificate_file = options_.tls.certificate_file;
        client.client_key_file = options_.tls.key_file;
        http::WebClient web{options_.server, client};
        std::vector<http::Header> headers;
        if (!token_.empty()) headers.push_back({"Authorization", "Bearer " + token_});
        const auto response = web.request(http::Method::get, target, {}, headers);
        if (response.status != 200) {
            throw std::runtime_error("the daemon answered " + std::to_string(response.status) + ": " + response.body.substr(0, 200));
        }
        auto json = nlohmann::json::parse(response.body, nullptr, false);
        if (!json.is_object()) throw std::runtime_error("the daemon answered no JSON object");
        return json;
    }

    const AgentCommandOptions& options_;
    std::string token_;
};

} // namespace

int run_agent(const AgentCommandOptions& options, const config::LogConfig& log) {
    block_signals();
    try {
        configure_logging(log);
    } catch (const std::exception& error) {
        std::fprintf(stderr, "macvmorx: error: cannot open the log file %s: %s\n", log.file.c_str(), error.what());
        return 1;
    }
    std::string token;
    if (!options.token_file.empty()) {
        try {
            token = config::read_secret_file(options.token_file, "--token-file");
        } catch (const config::ConfigError& error) {
            spdlog::critical("{}", error.what());
            return 2;
        }
    }

    if (!options.token_file.empty() && !options.server.tls && !is_loopback_host(options.server.host)) {
        spdlog::warn("agent: the token goes to {} in clear text over http://; use https:// (docs/security.md)",
                     options.server.origin());
    }
    for (const auto& warning : agent::check_host_prerequisites()) spdlog::warn("agent: {}", warning);

    SystemClock clock;
    boost::asio::io_context ioc;
    auto work = boost::asio::make_work_guard(ioc);
    std::optional<agent::HttpOrchestratorLink> link;
    try {
        link.emplace(ioc, options.server, token, std::chrono::seconds{10}, options.tls);
    } catch (const std::system_error& error) {
        spdlog::critical("cannot use the TLS files (--ca-file, --client-cert, --client-key): {}", error.what());
        return 2;
    }
    // The lab's peers: fetching bucket images from them always, serving them with --peer-listen.
    const PeerQuestions peer_questions{options, token};
    auto tart_options = options.tart;
    tart_options.keep_image_seeds = options.serve_peers;
    tart_options.find_image_peers = [&peer_questions](const std::string& image) { return peer_questions.offer(image); };
    agent::TartBackend backend{ioc, tart_options,
                               std::make_shared<agent::RegistryClient>(agent::registry_credentials_from_environment())};
    auto agent_options = options.agent;
    std::optional<image_peers::PeerServer> peer_server;
    if (options.serve_peers) {
        peer_server.emplace(
            options.peer_server,
            [&backend](const std::string& image) -> std::optional<image_peers::Seed> {
                const auto seed = backend.image_seed(image);
                if (!seed) return std::nullopt;
                return image_peers::Seed{seed->archive, seed->manifest};
            },
            [&peer_questions](bool) { return peer_questions.grant_key(); }, clock);
        try {
            const auto port = peer_server->start();
            if (agent_options.peer_url.empty()) {
                const bool ipv6 = options.peer_url_host.find(':') != std::string::npos;
                agent_options.peer_url = "http://" + (ipv6 ? "[" + options.peer_url_host + "]" : options.peer_url_host) + ":" +
                                         std::to_string(port);
            }
            spdlog::info("agent: serving bucket images to the lab's peers on {}:{} as {}", options.peer_server.bind_address, port,
                         agent_options.peer_url);
        } catch (const std::system_error& error) {
            spdlog::critical("cannot listen for peers on {}:{}: {}", options.peer_server.bind_address, options.peer_server.port,
                             error.what());
            return 2;
        }
    }
    const auto probe = agent::make_system_probe(options.vm_storage_path);
    agent::Agent host_agent{ioc, agent_options, *link, backend, *probe, clock};
    boost::asio::post(ioc, [&host_agent] { host_agent.start(); });
    std::thread runner{[&ioc] { ioc.run(); }};
    spdlog::info("macvmorx agent for node {} reporting to {} every {} ms (tart: {})", options.agent.node_id,
                 options.server.origin(),
                 std::chrono::duration_cast<std::chrono::milliseconds>(options.agent.heartbeat_interval).count(),
                 options.tart.tart);

    int signal_number = 0;
    do {
        signal_number = wait_for_signal();
    } while (signal_number == SIGHUP);
    spdlog::info("agent: received {}, stopping; the VMs it runs go on, and the next start takes them over",
                 strsignal(signal_number));
    std::promise<void> stopped;
    boost::asio::post(ioc, [&] {
        host_agent.stop();
        stopped.set_value();
    });
    stopped.get_future().wait();
    if (peer_server) peer_server->stop();
    work.reset();
    ioc.stop();
    runner.join();
    return 0;
}

} // namespace macvmorx::app
