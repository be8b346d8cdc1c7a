#pragma once

// Starts the real daemon in process on a loopback port chosen by the kernel, with a clock the
// test controls and predictable VM ids.

#include "macvmorx/app/daemon.hpp"
#include "macvmorx/base/clock.hpp"
#include "macvmorx/base/id_source.hpp"
#include "macvmorx/http/client.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <thread>

namespace macvmorx::testing {

inline config::ServerConfig test_config() {
    config::ServerConfig config;
    config.bind_address = "127.0.0.1";
    config.port = 0;
    config.threads = 2;
    config.log.level = "warn";
    config.data_dir.clear(); // in memory unless a test asks for durable records
    return config;
}

class TestDaemon {
public:
    explicit TestDaemon(config::ServerConfig config = test_config())
        : daemon_{std::make_unique<app::Daemon>(std::move(config), clock_, ids_)} {
        port_ = daemon_->start();
    }
    ~TestDaemon() { daemon_->stop(); }

    std::uint16_t port() const { return port_; }
    ManualClock& clock() { return clock_; }
    app::Daemon& daemon() { return *daemon_; }
    http::HttpClient client(Duration timeout = std::chrono::seconds{10}) const {
        return http::HttpClient{"127.0.0.1", port_, timeout};
    }

private:
    ManualClock clock_;
    SequentialIdSource ids_;
    std::unique_ptr<app::Daemon> daemon_;
    std::uint16_t port_ = 0;
};

// Waits for a condition that another thread makes true; fails after `limit`.
inline bool eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds limit = std::chrono::seconds{5}) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        if (condition()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds{10});
    }
    return condition();
}

} // namespace macvmorx::testing
