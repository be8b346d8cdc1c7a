#include "macvmorx/http/async_client.hpp"

#include "beast_method.hpp"
#include "client_tls.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <atomic>
#include <deque>
#include <optional>

namespace macvmorx::http {
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
namespace ssl = net::ssl;

namespace {

bool is_stale_connection_error(beast::error_code ec) {
    return ec == bhttp::error::end_of_stream || ec == net::error::eof || ec == net::error::connection_reset ||
           ec == net::error::broken_pipe || ec == ssl::error::stream_truncated;
}

} // namespace

// Everything runs on `strand`. The Impl is shared by the pending operations, so it outlives a
// client destroyed mid-request.
struct AsyncClient::Impl : std::enable_shared_from_this<Impl> {
    struct Pending {
        bhttp::request<bhttp::string_body> request;
        Callback done;
        bool retried = false;
    };

    Impl(net::io_context& ioc, std::string server_host, std::uint16_t server_port, Duration deadline,
         const std::optional<ClientTls>& tls)
        : strand{net::make_strand(ioc)},
          resolver{strand},
          tls_context{tls ? make_client_tls_context(tls->ca_file, tls->certificate_file, tls->key_file) : nullptr},
          host{std::move(server_host)},
          port{server_port},
          timeout{deadline} {}

    net::strand<net::io_context::executor_type> strand;
    tcp::resolver resolver;
    std::unique_ptr<ssl::context> tls_context; // null: plain HTTP
    std::optional<beast::tcp_stream> stream;   // plain HTTP
    std::optional<beast::ssl_stream<beast::tcp_stream>> secure; // HTTPS
    beast::flat_buffer buffer;
    std::optional<bhttp::response_parser<bhttp::string_body>> parser;
    std::deque<Pending> queue;
    std::string host;
    std::uint16_t port;
    Duration timeout;
    bool busy = false;
    bool reused = false; // the current exchange runs on a connection that served before
    bool closed = false;
    std::atomic<std::size_t> connections{0};

    void enqueue(Pending pending) {
        queue.push_back(std::move(pending));
        if (!busy) next();
    }

    void next() {
        if (closed) {
            busy = false;
            while (!queue.empty()) {
                auto pending = std::move(queue.front());
                queue.pop_front();
                pending.done(make_error_code(std::errc::operation_canceled), {});
            }
            return;
        }
        if (queue.empty()) {
            busy = false;
            return;
        }
        busy = true;
        if (beast::tcp_stream* open = lowest(); open != nullptr && open->socket().is_open()) {
            reused = true;
            return write();
        }
        reused = false;
        resolver.async_resolve(host, std::to_string(port),
                               [self = shared_from_this()](beast::error_code ec, tcp::resolver::results_type results) {
                                   if (ec) return self->finish(ec);
                                   self->connect(results);
                               });
    }

    // The connection's TCP layer, plain or under TLS; null when there is none.
    beast::tcp_stream* lowest() {
        if (secure) return &beast::get_lowest_layer(*secure);
        return stream ? &*stream : nullptr;
    }

    // Calls `operation` with the stream requests travel on.
    template <class Operation>
    void on_stream(Operation&& operation) {
        if (secure) {
            operation(*secure);
        } else {
            operation(*stream);
        }
    }

    void connect(const tcp::resolver::results_type& results) {
        stream.emplace(strand);
        secure.reset();
        buffer.clear();
        stream->expires_after(timeout);
        stream->async_connect(results, [self = shared_from_this()](beast::error_code ec, const tcp::endpoint&) {
            if (!ec && self->lowest() == nullptr) ec = net::error::operation_aborted; // shut meanwhile
            if (ec) return self->finish(ec);
            ++self->connections;
            beast::error_code ignored;
            self->stream->socket().set_option(tcp::no_delay{true}, ignored);
            if (self->tls_context) return self->handshake();
            self->write();
        });
    }

    void handshake() {
        secure.emplace(std::move(*stream), *tls_context);
        stream.reset();
        if (const auto ec = expect_server_name(*secure, host)) return finish(ec);
        secure->async_handshake(ssl::stream_base::client, [self = shared_from_this()](beast::error_code ec) {
            if (!ec && self->lowest() == nullptr) ec = net::error::operation_aborted;
            if (ec) return self->finish(ec);
            self->write();
        });
    }

    void write() {
        lowest()->expires_after(timeout);
        on_stream([this](auto& s) {
            bhttp::async_write(s, queue.front().request, [self = shared_from_this()](beast::error_code ec, std::size_t) {
                // A completion already queued when shut() dropped the connection: nothing to read from.
                if (!ec && self->lowest() == nullptr) ec = net::error::operation_aborted;
                if (ec) return self->finish(ec);
                self->read();
            });
        });
    }

    void read() {
        parser.emplace();
        parser->body_limit(256u << 20);
        if (queue.front().request.method() == bhttp::verb::head) parser->skip(true);
        lowest()->expires_after(timeout);
        on_stream([this](auto& s) {
            bhttp::async_read(s, buffer, *parser,
                              [self = shared_from_this()](beast::error_code ec, std::size_t) { self->finish(ec); });
        });
    }

    void drop_connection() {
        beast::tcp_stream* open = lowest();
        if (open == nullptr) return;
        beast::error_code ignored;
        open->socket().shutdown(tcp::socket::shutdown_both, ignored);
        open->close();
        stream.reset();
        secure.reset();
    }

    void finish(beast::error_code ec) {
        if (ec && reused && is_stale_connection_error(ec) && !queue.front().retried && !closed) {
            queue.front().retried = true;
            drop_connection();
            reused = false;
            return next();
        }
        Pending done = std::move(queue.front());
        queue.pop_front();
        ClientResponse response;
        if (!ec) {
            auto message = parser->release();
            response.status = static_cast<int>(message.result_int());
            response.keep_alive = message.keep_alive();
            for (const auto& field : message) {
                response.headers.push_back({std::string(field.name_string()), std::string(field.value())});
            }
            response.body = std::move(message.body());
            if (!response.keep_alive) drop_connection();
        } else {
            drop_connection();
        }
        done.done(ec, std::move(response));
        next();
    }

    // In-flight work completes with an error (the connection is gone) and next() then fails
    // what is still queued.
    void shut() {
        closed = true;
        resolver.cancel();
        drop_connection();
        if (!busy) next();
    }
};

AsyncClient::AsyncClient(net::io_context& ioc, std::string host, std::uint16_t port, Duration timeout,
                         std::optional<ClientTls> tls)
    : impl_{std::make_shared<Impl>(ioc, std::move(host), port, timeout, tls)} {}

AsyncClient::~AsyncClient() {
    net::post(impl_->strand, [impl = impl_] { impl->shut(); });
}

void AsyncClient::request(Method method, std::string target, std::string body, std::vector<Header> headers,
                          Callback done) {
    Impl::Pending pending;
    pending.request = {to_verb(method), target, 11};
    // An IPv6 address goes in brackets (RFC 9110 §7.2), as in a URL.
    const bool ipv6 = impl_->host.find(':') != std::string::npos;
    pending.request.set(bhttp::field::host, (ipv6 ? "[" + impl_->host + "]" : impl_->host) + ":" + std::to_string(impl_->port));
    pending.request.set(bhttp::field::user_agent, "macvmorx");
    for (auto& header : headers) pending.request.set(header.name, header.value);
    pending.request.body() = std::move(body);
    pending.request.keep_alive(true);
    pending.request.prepare_payload();
    pending.done = std::move(done);
    net::post(impl_->strand, [impl = impl_, pending = std::move(pending)]() mutable { impl->enqueue(std::move(pending)); });
}

std::size_t AsyncClient::connections_opened() const { return impl_->connections; }

} // namespace macvmorx::http
