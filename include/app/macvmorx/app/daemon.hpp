#pragma once

#include "macvmorx/config/server_config.hpp"

#include <cstdint>
#include <memory>

namespace macvmorx {
class Clock;
class IdSource;
}
namespace macvmorx::orchestrator {
class Orchestrator;
}

namespace macvmorx::app {

// The whole `macvmorx server`: orchestrator, route table, HTTP server and the periodic
// monitor, wired from one configuration. The command line and the integration tests both
// run it, so the tests exercise what ships.
class Daemon {
public:
    // Uses the system clock and random ids.
    explicit Daemon(config::ServerConfig config);
    // For tests: a clock they control and predictable ids.
    Daemon(config::ServerConfig config, const Clock& clock, IdSource& ids);
    ~Daemon();

    // Binds and serves; returns the bound port. Throws std::system_error if it cannot listen.
    std::uint16_t start();
    // SIGHUP: re-reads the tokens file; open connections stay. A file with a mistake is
    // logged and the tokens in use are kept. Returns whether everything was re-read.
    bool reload();
    // Graceful stop: in-flight requests finish, then the threads end. Idempotent.
    void stop();

    std::uint16_t port() const;
    // Client connections open now (each takes one of --max-connections).
    std::size_t open_connections() const;
    const config::ServerConfig& config() const;
    orchestrator::Orchestrator& orchestrator();

private:
    struct Parts;
    std::unique_ptr<Parts> parts_;
};

// Runs the daemon until SIGINT or SIGTERM; returns the process exit status.
int run_server(const config::ServerConfig& config);

} // namespace macvmorx::app
