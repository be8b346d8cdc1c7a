#include "macvmorx/http/server.hpp"

#include "connection_registry.hpp"
#include "http_session.hpp"
#include "listener.hpp"
#include "tls_context.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <future>
#include <thread>

namespace macvmorx::http {
namespace net = boost::asio;

struct Server::Impl {
    Impl(ServerOptions server_options, const Router& server_router)
        : options{std::move(server_options)}, router{server_router}, work{net::make_work_guard(ioc)} {}

    ServerOptions options;
    const Router& router;
    std::optional<TlsContext> tls;
    // Declared before the io_context: sessions still queued in it unregister when it is destroyed.
    ConnectionRegistry registry;
    net::io_context ioc;
    net::executor_work_guard<net::io_context::executor_type> work;
    std::shared_ptr<Listener> listener;
    std::vector<std::shared_ptr<net::steady_timer>> timers;
    std::vector<std::thread> threads;
    std::atomic<bool> started{false};
    std::atomic<bool> stopped{false};
    std::uint16_t port = 0;

    void schedule(const std::shared_ptr<net::steady_timer>& timer, Duration interval,
                  const std::shared_ptr<std::function<void()>>& task) {
        timer->expires_after(interval);
        timer->async_wait([this, timer, interval, task](boost::system::error_code ec) {
            if (ec || stopped) return;
            try {
                (*task)();
            } catch (const std::exception& error) {
                spdlog::error("periodic task failed: {}", error.what());
            }
            schedule(timer, interval, task);
        });
    }
};

Server::Server(ServerOptions options, const Router& router) : impl_{std::make_unique<Impl>(std::move(options), router)} {}

Server::~Server() { stop(); }

std::uint16_t Server::start() {
    auto& impl = *impl_;
    if (impl.options.tls) impl.tls.emplace(*impl.options.tls); // throws TlsError before anything listens
    const auto address = net::ip::make_address(impl.options.bind_address);
    impl.listener = std::make_shared<Listener>(impl.ioc, net::ip::tcp::endpoint{address, impl.options.port},
                                               impl.router, impl.options.limits, impl.registry,
                                               impl.tls ? &*impl.tls : nullptr);
    impl.port = impl.listener->port();
    impl.listener->run();
    const unsigned thread_count = std::max(1u, impl.options.threads);
    for (unsigned i = 0; i < thread_count; ++i) {
        impl.threads.emplace_back([&impl] {
            for (;;) {
                try {
                    impl.ioc.run();
                    return;
                } catch (const std::exception& error) {
                    spdlog::error("unexpected exception on a server thread: {}", error.what());
                }
            }
        });
    }
    impl.started = true;
    return impl.port;
}

void Server::every(Duration interval, std::function<void()> task) {
    auto timer = std::make_shared<net::steady_timer>(impl_->ioc);
    impl_->timers.push_back(timer);
    impl_->schedule(timer, interval, std::make_shared<std::function<void()>>(std::move(task)));
}

void Server::stop() {
    auto& impl = *impl_;
    if (impl.stopped.exchange(true)) return;
    // Stop accepting before anything else, and be sure of it: the close runs on the pool.
    if (impl.listener) {
        std::promise<void> closed;
        impl.listener->stop([&closed] { closed.set_value(); });
        if (impl.started) {
            closed.get_future().wait();
        }
    }
    for (const auto& timer : impl.timers) {
        net::post(impl.ioc, [timer] { timer->cancel(); });
    }
    for (const auto& session : impl.registry.live_sessions()) session->shutdown();

    // In-flight requests finish and their connections close; wait for that, within the grace.
    const auto deadline = std::chrono::steady_clock::now() + impl.options.limits.shutdown_grace;
    while (impl.started && impl.registry.size() > 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds{5});
    }
    if (impl.registry.size() > 0) {
        spdlog::warn("stopping with {} connections still open after the shutdown grace", impl.registry.size());
    }
    impl.work.reset();
    impl.ioc.stop();
    for (auto& thread : impl.threads) thread.join();
    impl.threads.clear();
}

void Server::reload_tls() {
    if (impl_->tls) impl_->tls->reload();
}

std::uint16_t Server::port() const { return impl_->port; }

std::size_t Server::open_connections() const { return impl_->registry.size(); }

} // namespace macvmorx::http
