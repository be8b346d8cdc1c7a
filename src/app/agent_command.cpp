#include "macvmorx/app/agent_command.hpp"

#include "signals.hpp"

#include "macvmorx/agent/host_checks.hpp"
#include "macvmorx/agent/host_probe.hpp"
#include "macvmorx/agent/registry_client.hpp"
#include "macvmorx/app/logging.hpp"
#include "macvmorx/base/loopback.hpp"
#include "macvmorx/config/actions_config.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <future>
#include <thread>

namespace macvmorx::app {

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
    agent::TartBackend backend{ioc, options.tart,
                               std::make_shared<agent::RegistryClient>(agent::registry_credentials_from_environment())};
    const auto probe = agent::make_system_probe(options.vm_storage_path);
    agent::Agent host_agent{ioc, options.agent, *link, backend, *probe, clock};
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
    work.reset();
    ioc.stop();
    runner.join();
    return 0;
}

} // namespace macvmorx::app
