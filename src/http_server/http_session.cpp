#include "http_session.hpp"

#include "connection_registry.hpp"
#include "peer_certificate.hpp"
#include "request_framing.hpp"

#include "macvmorx/http/client_log.hpp"
#include "macvmorx/http/http_error.hpp"
#include "macvmorx/http/router.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cerrno>
#include <sys/socket.h>
#include <type_traits>

namespace macvmorx::http {
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;

namespace {

constexpr std::string_view server_name = "macvmorx";

Method to_method(bhttp::verb verb) {
    switch (verb) {
    case bhttp::verb::get: return Method::get;
    case bhttp::verb::head: return Method::head;
    case bhttp::verb::post: return Method::post;
    case bhttp::verb::put: return Method::put;
    case bhttp::verb::patch: return Method::patch;
    case bhttp::verb::delete_: return Method::del;
    case bhttp::verb::options: return Method::options;
    default: return Method::other;
    }
}

bool is_quiet_end(beast::error_code ec) {
    return ec == bhttp::error::end_of_stream || ec == net::error::operation_aborted || ec == net::error::eof ||
           ec == net::error::connection_reset || ec == net::error::broken_pipe || ec == beast::error::timeout ||
           ec == net::error::bad_descriptor;
}

using tcp = net::ip::tcp;

template <class Stream>
Stream make_stream(tcp::socket&& socket, net::ssl::context* tls) {
    if constexpr (std::is_same_v<Stream, TlsStream>) {
        return Stream{std::move(socket), *tls};
    } else {
        return Stream{std::move(socket)};
    }
}

} // namespace

// The Reply a handler answers through: it brings the answer back onto the session's strand,
// at once when the handler answered there (the usual case), later for asynchronous routes.
template <class Stream>
class SessionReply final : public Reply {
public:
    SessionReply(std::shared_ptr<HttpSession<Stream>> session, unsigned version, bool keep_alive, bool head)
        : session_{std::move(session)}, gone_{session_->peer_gone()}, version_{version}, keep_alive_{keep_alive}, head_{head} {}

    void send(Response response) override {
        if (sent_.exchange(true)) return;
        auto session = std::move(session_);
        session->answer(std::move(response), version_, keep_alive_, head_);
    }
    bool abandoned() const override { return sent_ || *gone_; }

private:
    std::shared_ptr<HttpSession<Stream>> session_;
    std::shared_ptr<const std::atomic<bool>> gone_;
    unsigned version_;
    bool keep_alive_;
    bool head_;
    std::atomic<bool> sent_{false};
};

template <class Stream>
HttpSession<Stream>::HttpSession(tcp::socket&& socket, std::shared_ptr<net::ssl::context> tls, bool client_certificates,
                                 const Router& router, const ServerLimits& limits, ConnectionRegistry& registry)
    : tls_{std::move(tls)},
      stream_{make_stream<Stream>(std::move(socket), tls_.get())},
      router_{router},
      limits_{limits},
      registry_{registry},
      client_certificates_{client_certificates} {
    beast::error_code ec;
    const auto endpoint = transport().socket().remote_endpoint(ec);
    remote_address_ = ec ? "unknown" : endpoint.address().to_string();
    transport().socket().set_option(tcp::no_delay{true}, ec);
}

template <class Stream>
HttpSession<Stream>::~HttpSession() {
    registry_.remove(this);
}

template <class Stream>
beast::tcp_stream& HttpSession<Stream>::transport() {
    return beast::get_lowest_layer(stream_);
}

template <class Stream>
void HttpSession<Stream>::run() {
    registry_.add(this, this->weak_from_this());
    if constexpr (std::is_same_v<Stream, TlsStream>) {
        net::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
            self->transport().expires_after(self->limits_.io_timeout);
            self->stream_.async_handshake(net::ssl::stream_base::server,
                                          beast::bind_front_handler(&HttpSession::on_handshake, self));
        });
    } else {
        net::dispatch(stream_.get_executor(), beast::bind_front_handler(&HttpSession::do_read, this->shared_from_this()));
    }
}

template <class Stream>
void HttpSession<Stream>::on_handshake(beast::error_code ec) {
    if (ec) {
        // Plain HTTP on the HTTPS port, an old TLS version, a refused client certificate.
        spdlog::debug("TLS handshake with {} failed: {}", remote_address_, ec.message());
        return close();
    }
    if constexpr (std::is_same_v<Stream, TlsStream>) {
        if (client_certificates_) {
            SSL* connection = stream_.native_handle();
            X509* peer = SSL_get0_peer_certificate(connection);
            if (peer != nullptr && SSL_get_verify_result(connection) == X509_V_OK) {
                certificate_names_ = certificate_names(peer);
            }
        }
    }
    do_read();
}

template <class Stream>
void HttpSession<Stream>::shutdown() {
    net::post(stream_.get_executor(), [self = this->shared_from_this()] {
        self->closing_ = true;
        if (!self->busy_) self->close();
    });
}

template <class Stream>
void HttpSession<Stream>::answer(Response response, unsigned version, bool keep_alive, bool head) {
    net::dispatch(stream_.get_executor(), [self = this->shared_from_this(), response = std::move(response), version,
                                           keep_alive, head]() mutable {
        self->send(std::move(response), version, keep_alive && !self->closing_, head);
    });
}

template <class Stream>
void HttpSession<Stream>::do_read() {
    if (closing_) return close();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(limits_.max_header_bytes));
    parser_->body_limit(limits_.max_body_bytes);
    transport().expires_after(limits_.idle_timeout);
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             beast::bind_front_handler(&HttpSession::on_read_header, this->shared_from_this()));
}

template <class Stream>
void HttpSession<Stream>::on_read_header(beast::error_code ec, std::size_t) {
    if (ec) return on_read_error(ec);
    busy_ = true;
    if (const auto problem = framing_problem(parser_->get())) {
        return send_error_and_close(400, "bad request", "the request's length is ambiguous: " + *problem);
    }
    if (parser_->is_done()) return handle_request();

    // The body usually arrives in the same packet as the header: parse what is already
    // buffered instead of starting another read.
    parser_->eager(true);
    while (buffer_.size() > 0 && !parser_->is_done()) {
        const auto used = parser_->put(buffer_.data(), ec);
        buffer_.consume(used);
        if (ec == bhttp::error::need_more) {
            ec = {};
            break;
        }
        if (ec) return on_read_error(ec);
        if (used == 0) break;
    }
    if (parser_->is_done()) return handle_request();

    if (beast::iequals(parser_->get()[bhttp::field::expect], "100-continue")) {
        continue_ = {bhttp::status::continue_, parser_->get().version()};
        transport().expires_after(limits_.io_timeout);
        return bhttp::async_write(stream_, continue_,
                                  beast::bind_front_handler(&HttpSession::on_continue_sent, this->shared_from_this()));
    }
    read_body();
}

template <class Stream>
void HttpSession<Stream>::on_continue_sent(beast::error_code ec, std::size_t) {
    if (ec) return on_read_error(ec);
    read_body();
}

template <class Stream>
void HttpSession<Stream>::read_body() {
    transport().expires_after(limits_.io_timeout);
    bhttp::async_read(stream_, buffer_, *parser_,
                      beast::bind_front_handler(&HttpSession::on_read_body, this->shared_from_this()));
}

template <class Stream>
void HttpSession<Stream>::on_read_body(beast::error_code ec, std::size_t) {
    if (ec) return on_read_error(ec);
    handle_request();
}

template <class Stream>
void HttpSession<Stream>::on_read_error(beast::error_code ec) {
    if (ec == bhttp::error::body_limit) {
        return send_error_and_close(413, "payload too large",
                                    "the body is larger than the limit of " + std::to_string(limits_.max_body_bytes) +
                                        " bytes");
    }
    if (ec == bhttp::error::header_limit) {
        return send_error_and_close(431, "request header fields too large",
                                    "the header is larger than the limit of " +
                                        std::to_string(limits_.max_header_bytes) + " bytes");
    }
    if (is_quiet_end(ec) || ec == net::ssl::error::stream_truncated) {
        if (busy_ && ec == beast::error::timeout && router_.client_errors().admit()) {
            spdlog::warn("client {} took too long to send its request body; connection closed", remote_address_);
        }
        return close();
    }
    if (ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category()) {
        return send_error_and_close(400, "bad request", "malformed HTTP request: " + ec.message());
    }
    spdlog::debug("connection from {} ended: {}", remote_address_, ec.message());
    close();
}

template <class Stream>
void HttpSession<Stream>::handle_request() {
    auto message = parser_->release();
    Request request;
    request.method = to_method(message.method());
    if (request.method == Method::other) request.other_method = std::string(message.method_string());
    request.target = std::string(message.target());
    request.headers.reserve(8);
    for (const auto& field : message) {
        request.headers.push_back({std::string(field.name_string()), std::string(field.value())});
    }
    request.body = std::move(message.body());
    request.remote_address = remote_address_;
    if (client_certificates_) request.client_certificate_names = certificate_names_;

    router_.dispatch(request, std::make_shared<SessionReply<Stream>>(this->shared_from_this(), message.version(),
                                                                     message.keep_alive(),
                                                                     request.method == Method::head));
    // Answered later (a long poll): meanwhile, notice the client going away.
    if (busy_ && !writing_) watch_peer();
}

// A wait for the socket to become readable, not a read: whatever arrives stays where the next
// request's read finds it. A read of zero bytes on a peek then means the client closed (FIN or
// reset); its slot is freed at once, and the awaited answer, when it comes, reaches nobody.
// A client that pipelines its next request instead is simply no longer watched.
template <class Stream>
void HttpSession<Stream>::watch_peer() {
    watching_ = true;
    transport().socket().async_wait(tcp::socket::wait_read,
                                    beast::bind_front_handler(&HttpSession::on_peer_readable, this->shared_from_this()));
}

template <class Stream>
void HttpSession<Stream>::on_peer_readable(beast::error_code ec) {
    if (!watching_ || ec == net::error::operation_aborted) return;
    watching_ = false;
    char byte = 0;
    const auto peeked = ec ? -1 : ::recv(transport().socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (peeked > 0) return; // the next request, sent early: it waits in the socket for its turn
    if (peeked < 0 && !ec && (errno == EAGAIN || errno == EWOULDBLOCK)) return watch_peer();
    peer_gone_->store(true);
    registry_.remove(this); // the slot is free now, not when the wait ends
    close();
}

template <class Stream>
void HttpSession<Stream>::send(Response&& response, unsigned version, bool keep_alive, bool head) {
    response_ = {};
    response_.version(version);
    response_.result(static_cast<unsigned>(response.status));
    response_.set(bhttp::field::server, server_name);
    if (!response.content_type.empty()) response_.set(bhttp::field::content_type, response.content_type);
    if constexpr (std::is_same_v<Stream, TlsStream>) {
        // Browsers that reached the daemon over HTTPS keep to it (180 days).
        response_.set(bhttp::field::strict_transport_security, "max-age=15552000");
    }
    for (auto& header : response.headers) response_.set(header.name, std::move(header.value));
    response_.body() = std::move(response.body);
    response_.keep_alive(keep_alive);
    response_.prepare_payload();
    if (head) response_.body().clear(); // Content-Length still tells the size of the GET answer
    if (watching_) {
        watching_ = false;
        beast::error_code ignored;
        transport().socket().cancel(ignored); // only the watch is pending
    }
    writing_ = true;
    transport().expires_after(limits_.io_timeout);
    bhttp::async_write(stream_, response_, beast::bind_front_handler(&HttpSession::on_write, this->shared_from_this()));
}

template <class Stream>
void HttpSession<Stream>::on_write(beast::error_code ec, std::size_t) {
    busy_ = false;
    writing_ = false;
    if (ec) return close();
    if (linger_after_write_) return linger_close();
    if (!response_.keep_alive() || closing_) return close();
    do_read();
}

template <class Stream>
void HttpSession<Stream>::send_error_and_close(int status, std::string error, std::string detail) {
    if (const auto unlogged = router_.client_errors().admit()) {
        spdlog::warn("request from {} refused with {}: {}{}", remote_address_, status, loggable(detail),
                     *unlogged > 0 ? " (" + std::to_string(*unlogged) + " client errors before this one not logged)" : "");
    }
    // The start line is parsed before any limit can be hit, so the target is known when there was one.
    router_.refused(parser_ ? std::string_view{parser_->get().target()} : std::string_view{}, status);
    busy_ = true;
    linger_after_write_ = true;
    auto response = error_response(HttpError(status, std::move(error), std::move(detail)));
    const unsigned version = parser_ && parser_->is_header_done() ? parser_->get().version() : 11;
    send(std::move(response), version, false, false);
}

template <class Stream>
void HttpSession<Stream>::close() {
    beast::error_code ec;
    transport().socket().shutdown(tcp::socket::shutdown_both, ec);
    transport().close();
}

// After refusing a request whose body may still be arriving, stop sending and read (and drop)
// what the client still sends for a moment: closing at once would reset the connection and
// could destroy the answer before the client reads it.
template <class Stream>
void HttpSession<Stream>::linger_close() {
    beast::error_code ec;
    transport().socket().shutdown(tcp::socket::shutdown_send, ec);
    transport().expires_after(std::chrono::seconds{2});
    transport().async_read_some(net::buffer(drain_buffer_),
                                beast::bind_front_handler(&HttpSession::on_linger_read, this->shared_from_this()));
}

template <class Stream>
void HttpSession<Stream>::on_linger_read(beast::error_code ec, std::size_t) {
    if (ec || closing_) return close();
    transport().async_read_some(net::buffer(drain_buffer_),
                                beast::bind_front_handler(&HttpSession::on_linger_read, this->shared_from_this()));
}

template class HttpSession<PlainStream>;
template class HttpSession<TlsStream>;

} // namespace macvmorx::http
