#pragma once

#include "macvmorx/http/message.hpp"
#include "macvmorx/http/server.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <array>
#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace macvmorx::http {

class ConnectionRegistry;
class Router;

// A connection as the registry knows it: something a shutdown can reach.
class Session {
public:
    virtual ~Session() = default;
    // Closes an idle connection now; a busy one after its current answer. Any thread.
    virtual void shutdown() = 0;
};

using PlainStream = boost::beast::tcp_stream;
using TlsStream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

// One client connection: (for TLS, the handshake first,) then reads requests with the server's
// size limits and deadlines, hands each to the Router, writes the answer, and keeps the
// connection alive when the client asks. Instantiated for PlainStream and TlsStream only.
//
// Threading: every member runs on the connection's strand; `shutdown` may be called from any
// thread and posts itself there.
template <class Stream>
class HttpSession final : public Session, public std::enable_shared_from_this<HttpSession<Stream>> {
public:
    // `tls` is the TLS context for a TlsStream (null for a PlainStream); with
    // `client_certificates`, the names of a verified client certificate go with each request.
    HttpSession(boost::asio::ip::tcp::socket&& socket, std::shared_ptr<boost::asio::ssl::context> tls,
                bool client_certificates, const Router& router, const ServerLimits& limits,
                ConnectionRegistry& registry);
    ~HttpSession() override;

    void run();
    void shutdown() override;

    // Brings an answer back onto the strand and writes it (SessionReply calls it).
    void answer(Response response, unsigned version, bool keep_alive, bool head);
    // Set when the client closed its connection while its answer was awaited; shared with the
    // replies, which may outlive the session. Read from any thread.
    std::shared_ptr<const std::atomic<bool>> peer_gone() const { return peer_gone_; }

private:
    void on_handshake(boost::beast::error_code ec);
    void do_read();
    void on_read_header(boost::beast::error_code ec, std::size_t bytes);
    void on_continue_sent(boost::beast::error_code ec, std::size_t bytes);
    void read_body();
    void on_read_body(boost::beast::error_code ec, std::size_t bytes);
    void on_read_error(boost::beast::error_code ec);

    void handle_request();
    // While an answer is awaited (a long poll), notice the client closing its connection, so
    // that its slot is freed at once rather than when the wait ends.
    void watch_peer();
    void on_peer_readable(boost::beast::error_code ec);
    void send(Response&& response, unsigned version, bool keep_alive, bool head);
    void on_write(boost::beast::error_code ec, std::size_t bytes);

    // Answers a request the parser refused, then closes without cutting off the answer.
    void send_error_and_close(int status, std::string error, std::string detail);
    void close();
    void linger_close();
    void on_linger_read(boost::beast::error_code ec, std::size_t bytes);

    boost::beast::tcp_stream& transport();

    std::shared_ptr<boost::asio::ssl::context> tls_; // keeps the context alive for the stream
    Stream stream_;
    boost::beast::flat_buffer buffer_;
    std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
    boost::beast::http::response<boost::beast::http::string_body> response_;
    boost::beast::http::response<boost::beast::http::empty_body> continue_;
    std::array<char, 4096> drain_buffer_{};

    const Router& router_;
    const ServerLimits& limits_;
    ConnectionRegistry& registry_;
    std::string remote_address_;
    bool client_certificates_;
    std::vector<std::string> certificate_names_; // of a verified client certificate

    bool busy_ = false;        // between the header of a request and the end of its answer
    bool writing_ = false;     // an answer is being written
    bool watching_ = false;    // watch_peer's wait is pending
    std::shared_ptr<std::atomic<bool>> peer_gone_ = std::make_shared<std::atomic<bool>>(false);
    bool closing_ = false;     // shutdown asked: no keep-alive after the current answer
    bool linger_after_write_ = false;
};

extern template class HttpSession<PlainStream>;
extern template class HttpSession<TlsStream>;

} // namespace macvmorx::http
