#include "listener.hpp"

#include "connection_registry.hpp"
#include "http_session.hpp"
#include "tls_context.hpp"

#include "macvmorx/http/router.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace macvmorx::http {
namespace beast = boost::beast;
namespace net = boost::asio;
using tcp = net::ip::tcp;

Listener::Listener(net::io_context& ioc, const tcp::endpoint& endpoint, const Router& router,
                   const ServerLimits& limits, ConnectionRegistry& registry, const TlsContext* tls)
    : ioc_{ioc},
      strand_{net::make_strand(ioc)},
      acceptor_{strand_},
      retry_timer_{strand_},
      router_{router},
      limits_{limits},
      registry_{registry},
      tls_{tls} {
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(net::socket_base::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen(net::socket_base::max_listen_connections);
    port_ = acceptor_.local_endpoint().port();
}

void Listener::run() {
    net::dispatch(strand_, beast::bind_front_handler(&Listener::do_accept, shared_from_this()));
}

void Listener::stop(std::function<void()> closed) {
    net::post(strand_, [self = shared_from_this(), closed = std::move(closed)] {
        beast::error_code ec;
        self->acceptor_.close(ec);
        self->retry_timer_.cancel();
        closed();
    });
}

void Listener::do_accept() {
    if (!acceptor_.is_open()) return;
    acceptor_.async_accept(net::make_strand(ioc_), beast::bind_front_handler(&Listener::on_accept, shared_from_this()));
}

void Listener::on_accept(beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) {
        // Out of file descriptors and the like: wait a little instead of spinning.
        spdlog::error("accepting a connection failed: {}", ec.message());
        retry_timer_.expires_after(std::chrono::milliseconds{100});
        retry_timer_.async_wait([self = shared_from_this()](beast::error_code wait_ec) {
            if (!wait_ec) self->do_accept();
        });
        return;
    }
    // Connections parked in a long poll (agents waiting for commands) are bounded by the router
    // (--max-long-polls), not here: a fleet's agents must not lock the dashboard and CI out.
    const auto open = registry_.size();
    const auto waiting = std::min(open, router_.long_polls_waiting());
    if (open - waiting >= limits_.max_connections) {
        const auto now = std::chrono::steady_clock::now();
        if (now - last_refusal_log_ > std::chrono::seconds{10}) {
            spdlog::warn("refusing connections: {} are open besides {} long polls, the limit is {}", open - waiting,
                         waiting, limits_.max_connections);
            last_refusal_log_ = now;
        }
        beast::error_code close_ec;
        socket.close(close_ec);
    } else if (tls_ != nullptr) {
        std::make_shared<HttpSession<TlsStream>>(std::move(socket), tls_->current(), tls_->asks_for_client_certificates(),
                                                 router_, limits_, registry_)
            ->run();
    } else {
        std::make_shared<HttpSession<PlainStream>>(std::move(socket), nullptr, false, router_, limits_, registry_)->run();
    }
    do_accept();
}

} // namespace macvmorx::http
