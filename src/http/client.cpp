#include "macvmorx/http/client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <optional>
#include <system_error>

namespace macvmorx::http {
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;

namespace {

bhttp::verb to_verb(Method method) {
    switch (method) {
    case Method::get: return bhttp::verb::get;
    case Method::head: return bhttp::verb::head;
    case Method::post: return bhttp::verb::post;
    case Method::put: return bhttp::verb::put;
    case Method::patch: return bhttp::verb::patch;
    case Method::del: return bhttp::verb::delete_;
    case Method::options: return bhttp::verb::options;
    case Method::other: break;
    }
    return bhttp::verb::unknown;
}

void throw_if(const beast::error_code& ec, const char* what) {
    if (ec) throw std::system_error(ec, what);
}

} // namespace

struct HttpClient::Impl {
    std::string host;
    std::uint16_t port;
    Duration timeout;
    net::io_context ioc;
    std::optional<beast::tcp_stream> stream;
    beast::flat_buffer buffer;
    std::size_t connections = 0;

    // Runs the queued asynchronous operations to completion; the stream's deadline bounds them.
    void run() {
        ioc.restart();
        ioc.run();
    }

    void connect() {
        stream.emplace(ioc);
        buffer.clear();
        beast::error_code result;
        net::ip::tcp::resolver resolver{ioc};
        beast::error_code resolve_ec;
        const auto endpoints = resolver.resolve(host, std::to_string(port), resolve_ec);
        throw_if(resolve_ec, "resolve");
        stream->expires_after(timeout);
        stream->async_connect(endpoints, [&result](beast::error_code ec, const auto&) { result = ec; });
        run();
        throw_if(result, "connect");
        ++connections;
    }

    // Sends the request and reads the answer into `response`; returns the first error.
    beast::error_code exchange(bhttp::request<bhttp::string_body>& request, ClientResponse& response) {
        beast::error_code result;
        stream->expires_after(timeout);
        bhttp::async_write(*stream, request, [&result](beast::error_code ec, std::size_t) { result = ec; });
        run();
        if (result) return result;

        bhttp::response_parser<bhttp::string_body> parser;
        parser.body_limit(256u << 20);
        if (request.method() == bhttp::verb::head) parser.skip(true);
        stream->expires_after(timeout);
        bhttp::async_read(*stream, buffer, parser, [&result](beast::error_code ec, std::size_t) { result = ec; });
        run();
        if (result) return result;

        auto message = parser.release();
        response = {};
        response.status = static_cast<int>(message.result_int());
        response.keep_alive = message.keep_alive();
        for (const auto& field : message) {
            response.headers.push_back({std::string(field.name_string()), std::string(field.value())});
        }
        response.body = std::move(message.body());
        return {};
    }
};

HttpClient::HttpClient(std::string host, std::uint16_t port, Duration timeout)
    : impl_{std::make_unique<Impl>()} {
    impl_->host = std::move(host);
    impl_->port = port;
    impl_->timeout = timeout;
}

HttpClient::~HttpClient() = default;
HttpClient::HttpClient(HttpClient&&) noexcept = default;
HttpClient& HttpClient::operator=(HttpClient&&) noexcept = default;

ClientResponse HttpClient::request(Method method, const std::string& target, const std::string& body,
                                   const std::vector<Header>& headers) {
    auto& impl = *impl_;
    bhttp::request<bhttp::string_body> request{to_verb(method), target, 11};
    request.set(bhttp::field::host, impl.host + ":" + std::to_string(impl.port));
    request.set(bhttp::field::user_agent, "macvmorx");
    for (const auto& header : headers) request.set(header.name, header.value);
    request.body() = body;
    request.keep_alive(true);
    request.prepare_payload();

    const bool reused = impl.stream && impl.stream->socket().is_open();
    if (!reused) impl.connect();
    ClientResponse response;
    auto ec = impl.exchange(request, response);
    // A kept-alive connection the server closed meanwhile fails at once with a reset or an end
    // of stream: retry once on a new connection. Anything else (a timeout, a fresh connection
    // failing) is a real failure and is not repeated.
    const bool stale = ec == bhttp::error::end_of_stream || ec == net::error::eof ||
                       ec == net::error::connection_reset || ec == net::error::broken_pipe;
    if (ec && reused && stale) {
        impl.connect();
        ec = impl.exchange(request, response);
    }
    if (ec) {
        close();
        throw_if(ec, "HTTP exchange");
    }
    if (!response.keep_alive) close();
    return response;
}

std::size_t HttpClient::connections_opened() const { return impl_->connections; }

void HttpClient::close() {
    if (!impl_->stream) return;
    beast::error_code ec;
    impl_->stream->socket().shutdown(net::ip::tcp::socket::shutdown_both, ec);
    impl_->stream->close();
    impl_->stream.reset();
}

} // namespace macvmorx::http
