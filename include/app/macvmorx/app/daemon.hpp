#pragma once

#include "macvmorx/config/server_config.hpp"

#include <cstdint>
#include <functional>
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

    // Several daemons on PostgreSQL: `action` runs (on another thread) when this daemon stops
    // leading; it must be stopped and made again, a follower with nothing of its term in memory.
    void on_step_down(std::function<void()> action);
    bool stepped_down() const;

    std::uint16_t port() const;
    // Client connections open now (each takes one of --max-connections, but for long polls).
    std::size_t open_connections() const;
    // Agents' long polls waiting now (each takes one of --max-long-polls).
    std::size_t long_polls_waiting() const;
    const config::ServerConfig& config() const;
    orchestrator::Orchestrator& orchestrator();

private:
    struct Parts;
    std::unique_ptr<Parts> parts_;
};

// Exit statuses of `macvmorx server` besides 0, 1 (cannot start) and 2 (a bad setting).
inline constexpr int exit_database_unreachable = 69; // EX_UNAVAILABLE (sysexits.h)
inline constexpr int exit_schema_too_new = 65;       // EX_DATAERR: the database is a newer macvmorx's

// Runs the daemon until SIGINT or SIGTERM; returns the process exit status.
int run_server(const config::ServerConfig& config);

} // namespace macvmorx::app
