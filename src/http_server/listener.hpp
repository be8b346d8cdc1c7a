#pragma once

#include "macvmorx/http/server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/error.hpp>

#include <functional>
#include <memory>

namespace macvmorx::http {

class ConnectionRegistry;
class Router;
class TlsContext;

// Accepts connections and starts a session for each, on its own strand. Refuses connections
// beyond the server's limit.
//
// Threading: the acceptor lives on its own strand; `stop` may be called from any thread.
class Listener : public std::enable_shared_from_this<Listener> {
public:
    // Opens, binds and listens; throws boost::system::system_error on failure.
    // With `tls` (not owned; null for plain HTTP) every connection is HTTPS.
    Listener(boost::asio::io_context& ioc, const boost::asio::ip::tcp::endpoint& endpoint, const Router& router,
             const ServerLimits& limits, ConnectionRegistry& registry, const TlsContext* tls);

    void run();
    // Closes the acceptor on its strand, then calls `closed` there.
    void stop(std::function<void()> closed);
    std::uint16_t port() const { return port_; }

private:
    void do_accept();
    void on_accept(boost::beast::error_code ec, boost::asio::ip::tcp::socket socket);

    boost::asio::io_context& ioc_;
    boost::asio::strand<boost::asio::io_context::executor_type> strand_;
    boost::asio::ip::tcp::acceptor acceptor_;
    boost::asio::steady_timer retry_timer_;
    const Router& router_;
    const ServerLimits& limits_;
    ConnectionRegistry& registry_;
    const TlsContext* tls_;
    std::uint16_t port_ = 0;
    std::chrono::steady_clock::time_point last_refusal_log_{};
};

} // namespace macvmorx::http
