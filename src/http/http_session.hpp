#pragma once

#include "macvmorx/http/message.hpp"
#include "macvmorx/http/server.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <array>
#include <memory>
#include <optional>
#include <string>

namespace macvmorx::http {

class ConnectionRegistry;
class Router;

// One client connection: reads requests (with the server's size limits and deadlines), hands
// each to the Router, writes the answer, and keeps the connection alive when the client asks.
//
// Threading: every member runs on the connection's strand; `shutdown` may be called from any
// thread and posts itself there.
class HttpSession : public std::enable_shared_from_this<HttpSession> {
public:
    HttpSession(boost::asio::ip::tcp::socket&& socket, const Router& router, const ServerLimits& limits,
                ConnectionRegistry& registry);
    ~HttpSession();

    void run();
    // Closes an idle connection now; a busy one after its current answer.
    void shutdown();

private:
    friend class SessionReply;

    void do_read();
    void on_read_header(boost::beast::error_code ec, std::size_t bytes);
    void on_continue_sent(boost::beast::error_code ec, std::size_t bytes);
    void read_body();
    void on_read_body(boost::beast::error_code ec, std::size_t bytes);
    void on_read_error(boost::beast::error_code ec);

    void handle_request();
    void send(Response&& response, unsigned version, bool keep_alive, bool head);
    void on_write(boost::beast::error_code ec, std::size_t bytes);

    // Answers a request the parser refused, then closes without cutting off the answer.
    void send_error_and_close(int status, std::string error, std::string detail);
    void close();
    void linger_close();
    void on_linger_read(boost::beast::error_code ec, std::size_t bytes);

    boost::beast::tcp_stream stream_;
    boost::beast::flat_buffer buffer_;
    std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
    boost::beast::http::response<boost::beast::http::string_body> response_;
    boost::beast::http::response<boost::beast::http::empty_body> continue_;
    std::array<char, 4096> drain_buffer_{};

    const Router& router_;
    const ServerLimits& limits_;
    ConnectionRegistry& registry_;
    std::string remote_address_;

    bool busy_ = false;        // between the header of a request and the end of its answer
    bool closing_ = false;     // shutdown asked: no keep-alive after the current answer
    bool linger_after_write_ = false;
};

} // namespace macvmorx::http
