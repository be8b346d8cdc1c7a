#include "macvmorx/http/web_client.hpp"

#include "beast_method.hpp"
#include "client_tls.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <algorithm>
#include <charconv>
#include <optional>
#include <system_error>
#include <vector>

namespace macvmorx::http {
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;

// Operations are asynchronous with deadlines, run to completion on a private io_context.
struct WebClient::Impl {
    Impl(const BaseUrl& url, const WebClientOptions& client_options)
        : base{url},
          options{client_options},
          tls_context{base.tls ? make_client_tls_context(options.ca_file, options.client_certificate_file,
                                                         options.client_key_file)
                               : nullptr} {}

    BaseUrl base;
    WebClientOptions options;
    net::io_context ioc;
    std::unique_ptr<ssl::context> tls_context; // null for http://
    std::optional<beast::tcp_stream> plain;
    std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
    beast::flat_buffer buffer;
    bool written = false; // the last exchange's request reached the server whole

    beast::tcp_stream& lowest() { return secure ? beast::get_lowest_layer(*secure) : *plain; }
    bool connected() { return (plain || secure) && lowest().socket().is_open(); }

    beast::error_code run() {
        ioc.restart();
        ioc.run();
        return {};
    }

    beast::error_code connect() {
        plain.reset();
        secure.reset();
        buffer.clear();
        beast::error_code result;
        tcp::resolver resolver{ioc};
        const auto endpoints = resolver.resolve(base.host, std::to_string(base.port), result);
        if (result) return result;
        if (base.tls) {
            secure.emplace(ioc, *tls_context);
            if (const auto ec = expect_server_name(*secure, base.host)) return ec;
        } else {
            plain.emplace(ioc);
        }
        lowest().expires_after(options.timeout);
        lowest().async_connect(endpoints, [&result](beast::error_code ec, const tcp::endpoint&) { result = ec; });
        run();
        if (result || !base.tls) return result;
        lowest().expires_after(options.timeout);
        secure->async_handshake(ssl::stream_base::client, [&result](beast::error_code ec) { result = ec; });
        run();
        return result;
    }

    // Sends the request; `written` tells whether it reached the server whole.
    template <typename Stream>
    beast::error_code write(Stream& stream, bhttp::request<bhttp::string_body>& request) {
        beast::error_code result;
        written = false;
        lowest().expires_after(options.timeout);
        bhttp::async_write(stream, request, [&result](beast::error_code ec, std::size_t) { result = ec; });
        run();
        written = !result;
        return result;
    }

    template <typename Stream>
    beast::error_code exchange(Stream& stream, bhttp::request<bhttp::string_body>& request, ClientResponse& response) {
        beast::error_code result = write(stream, request);
        if (result) return result;
        bhttp::response_parser<bhttp::string_body> parser;
        parser.body_limit(64u << 20);
        // A HEAD's answer announces a length but carries no body (RFC 9110 §9.3.2).
        if (request.method() == bhttp::verb::head) parser.skip(true);
        lowest().expires_after(options.timeout);
        bhttp::async_read(stream, buffer, parser, [&result](beast::error_code ec, std::size_t) { result = ec; });
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

    // As exchange, but the body is read piece by piece into `sink` (2xx) or, its first 64 KiB,
    // into the response. `delivered` tells whether any piece reached the sink.
    template <typename Stream>
    beast::error_code exchange_streamed(Stream& stream, bhttp::request<bhttp::string_body>& request,
                                        ClientResponse& response, const BodySink& sink, bool& delivered) {
        static constexpr std::size_t piece_size = 256 * 1024;
        static constexpr std::size_t kept_error_body = 64 * 1024;
        beast::error_code result = write(stream, request);
        if (result) return result;
        bhttp::response_parser<bhttp::buffer_body> parser;
        parser.body_limit(boost::none); // the size is the store's business; the sink decides
        if (request.method() == bhttp::verb::head) parser.skip(true); // as in exchange
        lowest().expires_after(options.timeout);
        bhttp::async_read_header(stream, buffer, parser, [&result](beast::error_code ec, std::size_t) { result = ec; });
        run();
        if (result) return result;
        const auto& header = parser.get();
        response = {};
        response.status = static_cast<int>(header.result_int());
        response.keep_alive = header.keep_alive();
        for (const auto& field : header) {
            response.headers.push_back({std::string(field.name_string()), std::string(field.value())});
        }
        const bool to_sink = response.status / 100 == 2;
        std::vector<char> piece(piece_size);
        while (!parser.is_done()) {
            parser.get().body().data = piece.data();
            parser.get().body().size = piece.size();
            lowest().expires_after(options.timeout);
            bhttp::async_read(stream, buffer, parser, [&result](beast::error_code ec, std::size_t) { result = ec; });
            run();
            if (result == bhttp::error::need_buffer) result = {};
            if (result) return result;
            const std::size_t size = piece.size() - parser.get().body().size;
            if (size == 0) continue;
            if (to_sink) {
                delivered = true;
                sink(response, std::string_view{piece.data(), size});
            } else if (response.body.size() < kept_error_body) {
                response.body.append(piece.data(), std::min(size, kept_error_body - response.body.size()));
            }
        }
        return {};
    }

    void drop() {
        beast::error_code ignored;
        if (plain || secure) lowest().socket().close(ignored);
        plain.reset();
        secure.reset();
    }
};

namespace {

bhttp::request<bhttp::string_body> make_request(const BaseUrl& base, Method method, const std::string& target,
                                                const std::string& body, const std::vector<Header>& headers) {
    bhttp::request<bhttp::string_body> request{to_verb(method), base.path_prefix + target, 11};
    request.set(bhttp::field::host, base.authority());
    request.set(bhttp::field::user_agent, "macvmorx");
    for (const auto& header : headers) request.set(header.name, header.value);
    request.body() = body;
    request.keep_alive(true);
    request.prepare_payload();
    return request;
}

} // namespace

WebClient::WebClient(BaseUrl base, WebClientOptions options)
    : base_{std::move(base)}, impl_{std::make_unique<Impl>(base_, options)} {}

WebClient::~WebClient() = default;

ClientResponse WebClient::request(Method method, const std::string& target, const std::string& body,
                                  const std::vector<Header>& headers) {
    auto& impl = *impl_;
    auto request = make_request(base_, method, target, body, headers);

    ClientResponse response;
    beast::error_code ec;
    // A kept-alive connection may have been closed by the server: one fresh attempt, but a POST
    // only if it could not even be written. One that was written and whose answer was lost may
    // have been carried out (a second generate-jitconfig of the same runner name answers 409
    // and orphans the first): its failure is the caller's to judge (RFC 9110 §9.2.2).
    const bool idempotent = method != Method::post && method != Method::patch;
    for (int attempt = 0; attempt < 2; ++attempt) {
        const bool reused = impl.connected();
        if (!reused) {
            ec = impl.connect();
            if (ec) break;
        }
        ec = impl.secure ? impl.exchange(*impl.secure, request, response) : impl.exchange(*impl.plain, request, response);
        if (!ec || !reused || (!idempotent && impl.written)) break;
        impl.drop();
    }
    if (ec) {
        impl.drop();
        throw std::system_error(ec, std::string(to_string(method)) + " " + base_.host + base_.path_prefix + target);
    }
    if (!response.keep_alive) impl.drop();
    return response;
}

ClientResponse WebClient::request_streamed(Method method, const std::string& target,
                                           const std::vector<Header>& headers, const BodySink& sink) {
    auto& impl = *impl_;
    auto request = make_request(base_, method, target, {}, headers);

    ClientResponse response;
    beast::error_code ec;
    bool delivered = false;
    try {
        // As in request(): one fresh attempt when a kept-alive connection turns out closed, but
        // only while nothing has reached the sink.
        for (int attempt = 0; attempt < 2; ++attempt) {
            const bool reused = impl.connected();
            if (!reused) {
                ec = impl.connect();
                if (ec) break;
            }
            ec = impl.secure ? impl.exchange_streamed(*impl.secure, request, response, sink, delivered)
                             : impl.exchange_streamed(*impl.plain, request, response, sink, delivered);
            if (!ec || !reused || delivered) break;
            impl.drop();
        }
    } catch (...) {
        impl.drop(); // the rest of the body is still on the wire
        throw;
    }
    if (ec) {
        impl.drop();
        throw std::system_error(ec, std::string(to_string(method)) + " " + base_.host + base_.path_prefix + target);
    }
    if (!response.keep_alive) impl.drop();
    return response;
}

} // namespace macvmorx::http
