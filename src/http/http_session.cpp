#include "http_session.hpp"

#include "connection_registry.hpp"
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

} // namespace

// The Reply a handler answers through: it brings the answer back onto the session's strand,
// at once when the handler answered there (the usual case), later for asynchronous routes.
class SessionReply final : public Reply {
public:
    SessionReply(std::shared_ptr<HttpSession> session, unsigned version, bool keep_alive, bool head)
        : session_{std::move(session)}, version_{version}, keep_alive_{keep_alive}, head_{head} {}

    void send(Response response) override {
        if (sent_.exchange(true)) return;
        auto executor = session_->stream_.get_executor();
        net::dispatch(executor, [session = std::move(session_), response = std::move(response), version = version_,
                                 keep_alive = keep_alive_, head = head_]() mutable {
            session->send(std::move(response), version, keep_alive && !session->closing_, head);
        });
    }

private:
    std::shared_ptr<HttpSession> session_;
    unsigned version_;
    bool keep_alive_;
    bool head_;
    std::atomic<bool> sent_{false};
};

HttpSession::HttpSession(net::ip::tcp::socket&& socket, const Router& router, const ServerLimits& limits,
                         ConnectionRegistry& registry)
    : stream_{std::move(socket)}, router_{router}, limits_{limits}, registry_{registry} {
    beast::error_code ec;
    const auto endpoint = stream_.socket().remote_endpoint(ec);
    remote_address_ = ec ? "unknown" : endpoint.address().to_string();
    stream_.socket().set_option(net::ip::tcp::no_delay{true}, ec);
}

HttpSession::~HttpSession() { registry_.remove(this); }

void HttpSession::run() {
    registry_.add(this, weak_from_this());
    net::dispatch(stream_.get_executor(), beast::bind_front_handler(&HttpSession::do_read, shared_from_this()));
}

void HttpSession::shutdown() {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
        self->closing_ = true;
        if (!self->busy_) self->close();
    });
}

void HttpSession::do_read() {
    if (closing_) return close();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(limits_.max_header_bytes));
    parser_->body_limit(limits_.max_body_bytes);
    stream_.expires_after(limits_.idle_timeout);
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             beast::bind_front_handler(&HttpSession::on_read_header, shared_from_this()));
}

void HttpSession::on_read_header(beast::error_code ec, std::size_t) {
    if (ec) return on_read_error(ec);
    busy_ = true;
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
        stream_.expires_after(limits_.io_timeout);
        return bhttp::async_write(stream_, continue_,
                                  beast::bind_front_handler(&HttpSession::on_continue_sent, shared_from_this()));
    }
    read_body();
}

void HttpSession::on_continue_sent(beast::error_code ec, std::size_t) {
    if (ec) return on_read_error(ec);
    read_body();
}

void HttpSession::read_body() {
    stream_.expires_after(limits_.io_timeout);
    bhttp::async_read(stream_, buffer_, *parser_,
                      beast::bind_front_handler(&HttpSession::on_read_body, shared_from_this()));
}

void HttpSession::on_read_body(beast::error_code ec, std::size_t) {
    if (ec) return on_read_error(ec);
    handle_request();
}

void HttpSession::on_read_error(beast::error_code ec) {
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
    if (is_quiet_end(ec)) {
        if (busy_ && ec == beast::error::timeout) {
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

void HttpSession::handle_request() {
    auto message = parser_->release();
    Request request;
    request.method = to_method(message.method());
    request.target = std::string(message.target());
    request.headers.reserve(8);
    for (const auto& field : message) {
        request.headers.push_back({std::string(field.name_string()), std::string(field.value())});
    }
    request.body = std::move(message.body());
    request.remote_address = remote_address_;

    router_.dispatch(request, std::make_shared<SessionReply>(shared_from_this(), message.version(),
                                                             message.keep_alive(), request.method == Method::head));
}

void HttpSession::send(Response&& response, unsigned version, bool keep_alive, bool head) {
    response_ = {};
    response_.version(version);
    response_.result(static_cast<unsigned>(response.status));
    response_.set(bhttp::field::server, server_name);
    if (!response.content_type.empty()) response_.set(bhttp::field::content_type, response.content_type);
    for (auto& header : response.headers) response_.set(header.name, std::move(header.value));
    response_.body() = std::move(response.body);
    response_.keep_alive(keep_alive);
    response_.prepare_payload();
    if (head) response_.body().clear(); // Content-Length still tells the size of the GET answer
    stream_.expires_after(limits_.io_timeout);
    bhttp::async_write(stream_, response_, beast::bind_front_handler(&HttpSession::on_write, shared_from_this()));
}

void HttpSession::on_write(beast::error_code ec, std::size_t) {
    busy_ = false;
    if (ec) return close();
    if (linger_after_write_) return linger_close();
    if (!response_.keep_alive() || closing_) return close();
    do_read();
}

void HttpSession::send_error_and_close(int status, std::string error, std::string detail) {
    spdlog::warn("request from {} refused with {}: {}", remote_address_, status, detail);
    // The start line is parsed before any limit can be hit, so the target is known when there was one.
    router_.refused(parser_ ? std::string_view{parser_->get().target()} : std::string_view{}, status);
    busy_ = true;
    linger_after_write_ = true;
    auto response = error_response(HttpError(status, std::move(error), std::move(detail)));
    const unsigned version = parser_ && parser_->is_header_done() ? parser_->get().version() : 11;
    send(std::move(response), version, false, false);
}

void HttpSession::close() {
    beast::error_code ec;
    stream_.socket().shutdown(net::ip::tcp::socket::shutdown_both, ec);
    stream_.close();
}

// After refusing a request whose body may still be arriving, stop sending and read (and drop)
// what the client still sends for a moment: closing at once would reset the connection and
// could destroy the answer before the client reads it.
void HttpSession::linger_close() {
    beast::error_code ec;
    stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ec);
    stream_.expires_after(std::chrono::seconds{2});
    stream_.async_read_some(net::buffer(drain_buffer_),
                            beast::bind_front_handler(&HttpSession::on_linger_read, shared_from_this()));
}

void HttpSession::on_linger_read(beast::error_code ec, std::size_t) {
    if (ec || closing_) return close();
    stream_.async_read_some(net::buffer(drain_buffer_),
                            beast::bind_front_handler(&HttpSession::on_linger_read, shared_from_this()));
}

} // namespace macvmorx::http
