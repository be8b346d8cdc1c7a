// The outgoing client's one retry on a kept-alive connection the server closed: a request that
// never reached the server is sent again, a GET that reached it is too (it changes nothing), but
// a POST that reached it is not: GitHub may have carried it out (a second generate-jitconfig of
// the same runner name answers 409 and orphans the first). The server here is a small HTTP/1.1
// server on 127.0.0.1 that counts what it receives and hangs up on the request it is told to.

#include "macvmorx/http/web_client.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace net = boost::asio;
using macvmorx::http::BaseUrl;
using macvmorx::http::Method;
using macvmorx::http::WebClient;
using macvmorx::http::WebClientOptions;
using tcp = net::ip::tcp;

namespace {

// Answers each request 200 with keep-alive, except the one numbered `hang_up_on` (counting from
// 1), which it reads whole and then closes the connection without answering.
class HangingUpServer {
public:
    explicit HangingUpServer(int hang_up_on) : hang_up_on_{hang_up_on} {
        acceptor_.open(tcp::v4());
        acceptor_.set_option(tcp::acceptor::reuse_address(true));
        acceptor_.bind({net::ip::make_address("127.0.0.1"), 0});
        acceptor_.listen();
        port_ = acceptor_.local_endpoint().port();
        thread_ = std::thread{[this] { serve(); }};
    }
    ~HangingUpServer() {
        stopping_ = true;
        boost::system::error_code ignored;
        // Wakes the blocking accept: one last connection that sends nothing.
        tcp::socket waker{io_};
        waker.connect(acceptor_.local_endpoint(), ignored);
        thread_.join();
    }

    std::uint16_t port() const { return port_; }
    std::vector<std::string> received() const {
        std::lock_guard lock{mutex_};
        return received_;
    }

private:
    void serve() {
        while (!stopping_) {
            tcp::socket socket{io_};
            boost::system::error_code error;
            acceptor_.accept(socket, error);
            if (error || stopping_) return;
            net::streambuf buffer;
            for (;;) {
                const auto head_size = net::read_until(socket, buffer, "\r\n\r\n", error);
                if (error) break;
                std::string head(net::buffers_begin(buffer.data()), net::buffers_begin(buffer.data()) + head_size);
                buffer.consume(head_size);
                std::size_t body_size = 0;
                if (const auto at = head.find("Content-Length: "); at != std::string::npos) {
                    body_size = std::stoul(head.substr(at + 16));
                }
                if (buffer.size() < body_size) net::read(socket, buffer, net::transfer_exactly(body_size - buffer.size()), error);
                if (error) break;
                buffer.consume(body_size);
                int number = 0;
                {
                    std::lock_guard lock{mutex_};
                    received_.push_back(head.substr(0, head.find(' ')));
                    number = static_cast<int>(received_.size());
                }
                if (number == hang_up_on_) break; // read whole, never answered
                const std::string answer = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
                net::write(socket, net::buffer(answer), error);
                if (error) break;
            }
            socket.close(error);
        }
    }

    const int hang_up_on_;
    net::io_context io_;
    tcp::acceptor acceptor_{io_};
    std::uint16_t port_ = 0;
    std::atomic<bool> stopping_{false};
    mutable std::mutex mutex_;
    std::vector<std::string> received_;
    std::thread thread_;
};

WebClient client_of(const HangingUpServer& server) {
    WebClientOptions options;
    options.timeout = std::chrono::seconds{5};
    return WebClient{BaseUrl::parse("http://127.0.0.1:" + std::to_string(server.port())), options};
}

} // namespace

TEST(WebClientRetry, APostWhoseAnswerIsLostIsNotSentAgain) {
    HangingUpServer server{2};
    auto client = client_of(server);
    ASSERT_EQ(client.request(Method::post, "/generate-jitconfig", R"({"name":"a"})").status, 200);
    EXPECT_THROW(client.request(Method::post, "/generate-jitconfig", R"({"name":"b"})"), std::system_error)
        << "the caller learns that the outcome is unknown";
    EXPECT_EQ(server.received(), (std::vector<std::string>{"POST", "POST"})) << "sent once, not twice";
    EXPECT_EQ(client.request(Method::post, "/generate-jitconfig", R"({"name":"c"})").status, 200)
        << "the next request opens a fresh connection";
}

TEST(WebClientRetry, AGetWhoseAnswerIsLostIsAskedAgainOnAFreshConnection) {
    HangingUpServer server{2};
    auto client = client_of(server);
    ASSERT_EQ(client.request(Method::get, "/runners").status, 200);
    EXPECT_EQ(client.request(Method::get, "/runners").status, 200);
    EXPECT_EQ(server.received(), (std::vector<std::string>{"GET", "GET", "GET"}));
}

TEST(WebClientRetry, ADeleteWhoseAnswerIsLostIsSentAgainForItChangesNothingTwice) {
    HangingUpServer server{2};
    auto client = client_of(server);
    ASSERT_EQ(client.request(Method::get, "/runners").status, 200);
    EXPECT_EQ(client.request(Method::del, "/runners/7").status, 200);
    EXPECT_EQ(server.received(), (std::vector<std::string>{"GET", "DELETE", "DELETE"}));
}
