// The reference the daemon's figures are divided by: a server that does no work.
//
// --mode router (default): macvmorx's own HTTP stack (http::Server, sessions, http::Router)
//   with a fixed 200 JSON answer on the daemon's benchmarked routes. The daemon minus fleet
//   logic: the ceiling macvmorx can reach on this machine.
// --mode bare: a minimal Beast server (one strand per connection, read a request, answer a
//   fixed 200 JSON, keep alive) parsing nothing: the ceiling of any Beast server here.
//
// `--list-bytes N` makes GET /api/nodes answer N bytes of JSON (a copy of a prebuilt body per
// request), so the daemon's node listing can be compared with the cost of moving its bytes.
//
// Prints `listening on http://ADDRESS:PORT` on stderr once it accepts; stops on SIGINT/SIGTERM.

#include "macvmorx/http/router.hpp"
#include "macvmorx/http/server.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;

constexpr std::string_view heartbeat_answer = R"({"message":"Heartbeat received"})";
constexpr std::string_view schedule_answer =
    R"({"message":"VM scheduled successfully","nodeId":"mac-mini-000001","vmId":"vm-null","imageName":"macos-sonoma-14.6-base","imageCached":true,"state":"assigned"})";
constexpr std::string_view delete_answer = R"({"vmId":"vm-null","state":"deleted"})";

struct Options {
    std::string mode = "router";
    std::string bind = "127.0.0.1";
    unsigned short port = 0;
    unsigned threads = 2;
    std::size_t list_bytes = 2;
};

// A JSON array of about `size` bytes ("[]" at least), standing in for the node listing.
std::string make_listing(std::size_t size) {
    std::string body = "[";
    const std::string filler = R"({"nodeId":"mac-mini-000000","status":"idle","padding":")";
    while (body.size() + filler.size() + 8 < size) {
        if (body.size() > 1) body += ',';
        body += filler;
        const std::size_t room = size - body.size() - 3;
        body.append(std::min<std::size_t>(room, 600), 'x');
        body += "\"}";
    }
    body += ']';
    return body;
}

// ---------------------------------------------------------------------------------------------
// The bare Beast server

class BareSession : public std::enable_shared_from_this<BareSession> {
public:
    BareSession(tcp::socket&& socket, const std::string& listing) : stream_{std::move(socket)}, listing_{listing} {}

    void run() {
        stream_.socket().set_option(tcp::no_delay{true});
        net::dispatch(stream_.get_executor(), beast::bind_front_handler(&BareSession::do_read, shared_from_this()));
    }

private:
    void do_read() {
        request_ = {};
        stream_.expires_after(std::chrono::seconds{30});
        bhttp::async_read(stream_, buffer_, request_, beast::bind_front_handler(&BareSession::on_read, shared_from_this()));
    }

    void on_read(beast::error_code ec, std::size_t) {
        if (ec) return close();
        response_ = {};
        response_.version(request_.version());
        response_.result(bhttp::status::ok);
        response_.set(bhttp::field::server, "null");
        response_.set(bhttp::field::content_type, "application/json");
        const std::string_view target = request_.target();
        if (request_.method() == bhttp::verb::get && target == "/api/nodes") response_.body() = listing_;
        else if (target == "/api/schedule-vm") response_.body() = schedule_answer;
        else if (request_.method() == bhttp::verb::delete_) response_.body() = delete_answer;
        else response_.body() = heartbeat_answer;
        response_.keep_alive(request_.keep_alive());
        response_.prepare_payload();
        bhttp::async_write(stream_, response_, beast::bind_front_handler(&BareSession::on_write, shared_from_this()));
    }

    void on_write(beast::error_code ec, std::size_t) {
        if (ec || !response_.keep_alive()) return close();
        do_read();
    }

    void close() {
        beast::error_code ec;
        stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    }

    beast::tcp_stream stream_;
    beast::flat_buffer buffer_;
    bhttp::request<bhttp::string_body> request_;
    bhttp::response<bhttp::string_body> response_;
    const std::string& listing_;
};

class BareListener : public std::enable_shared_from_this<BareListener> {
public:
    BareListener(net::io_context& ioc, tcp::endpoint endpoint, const std::string& listing)
        : ioc_{ioc}, acceptor_{net::make_strand(ioc)}, listing_{listing} {
        acceptor_.open(endpoint.protocol());
        acceptor_.set_option(net::socket_base::reuse_address(true));
        acceptor_.bind(endpoint);
        acceptor_.listen(net::socket_base::max_listen_connections);
    }

    unsigned short port() const { return acceptor_.local_endpoint().port(); }

    void do_accept() {
        acceptor_.async_accept(net::make_strand(ioc_), beast::bind_front_handler(&BareListener::on_accept, shared_from_this()));
    }

private:
    void on_accept(beast::error_code ec, tcp::socket socket) {
        if (!ec) std::make_shared<BareSession>(std::move(socket), listing_)->run();
        do_accept();
    }

    net::io_context& ioc_;
    tcp::acceptor acceptor_;
    const std::string& listing_;
};

int run_bare(const Options& options, const std::string& listing) {
    net::io_context ioc{static_cast<int>(options.threads)};
    auto listener = std::make_shared<BareListener>(ioc, tcp::endpoint{net::ip::make_address(options.bind), options.port}, listing);
    listener->do_accept();
    std::fprintf(stderr, "listening on http://%s:%u (bare Beast, %u threads)\n", options.bind.c_str(), listener->port(),
                 options.threads);
    net::signal_set signals{ioc, SIGINT, SIGTERM};
    signals.async_wait([&ioc](beast::error_code, int) { ioc.stop(); });
    std::vector<std::thread> threads;
    for (unsigned i = 1; i < options.threads; ++i) threads.emplace_back([&ioc] { ioc.run(); });
    ioc.run();
    for (auto& thread : threads) thread.join();
    return 0;
}

// ---------------------------------------------------------------------------------------------
// macvmorx's own stack with handlers that do nothing

int run_router(const Options& options, const std::string& listing) {
    using macvmorx::http::Method;
    using macvmorx::http::Request;
    using macvmorx::http::Response;
    namespace mhttp = macvmorx::http;

    const auto fixed = [](std::string_view body) {
        return mhttp::Handler{[answer = std::string(body)](const Request&) { return Response::json(200, answer); }};
    };
    mhttp::Router router;
    router.add({Method::post, "/api/heartbeat", fixed(heartbeat_answer), "null heartbeat", mhttp::Body::json});
    router.add({Method::get, "/api/nodes", mhttp::Handler{[&listing](const Request&) { return Response::json(200, listing); }},
                "null listing"});
    router.add({Method::post, "/api/schedule-vm", fixed(schedule_answer), "null placement", mhttp::Body::json});
    router.add({Method::del, "/api/vms/{vmId}", fixed(delete_answer), "null deletion"});

    mhttp::ServerOptions server_options;
    server_options.bind_address = options.bind;
    server_options.port = options.port;
    server_options.threads = options.threads;
    mhttp::Server server{server_options, router};
    const auto port = server.start();
    std::fprintf(stderr, "listening on http://%s:%u (macvmorx HTTP stack, null handlers, %u threads)\n",
                 options.bind.c_str(), static_cast<unsigned>(port), options.threads);

    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    int signal_number = 0;
    sigwait(&signals, &signal_number);
    server.stop();
    return 0;
}

[[noreturn]] void usage(const char* message) {
    std::fprintf(stderr,
                 "error: %s\nusage: null_server [--mode router|bare] [--bind 127.0.0.1] [--port 0] [--threads 2] "
                 "[--list-bytes N]\n",
                 message);
    std::exit(2);
}

} // namespace

int main(int argc, char** argv) {
    // Block the stop signals in every thread; the main thread waits for them.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);

    Options options;
    for (int i = 1; i < argc; ++i) {
        const std::string_view flag = argv[i];
        if (i + 1 >= argc) usage("every flag takes a value");
        const char* value = argv[++i];
        if (flag == "--mode") options.mode = value;
        else if (flag == "--bind") options.bind = value;
        else if (flag == "--port") options.port = static_cast<unsigned short>(std::strtoul(value, nullptr, 10));
        else if (flag == "--threads") options.threads = static_cast<unsigned>(std::strtoul(value, nullptr, 10));
        else if (flag == "--list-bytes") options.list_bytes = std::strtoull(value, nullptr, 10);
        else usage("unknown flag");
    }
    if (options.threads == 0) usage("--threads must be at least 1");
    spdlog::set_level(spdlog::level::warn);
    const std::string listing = make_listing(options.list_bytes);

    if (options.mode == "bare") return run_bare(options, listing);
    if (options.mode != "router") usage("--mode is router or bare");
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    return run_router(options, listing);
}
