// The daemon's outgoing HTTPS (to GitHub) trusts only what it should: a server whose certificate
// no trusted CA signed, or that names another host, is refused; a private CA given as `ca_file`
// is trusted. The server here is a small TLS server on 127.0.0.1 with certificates made at run time.

#include "test_certificates.hpp"

#include "macvmorx/http/web_client.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <system_error>
#include <thread>

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using macvmorx::http::BaseUrl;
using macvmorx::http::Method;
using macvmorx::http::WebClient;
using macvmorx::http::WebClientOptions;
using macvmorx::testing::Certificate;
using macvmorx::testing::TestCertificateAuthority;
using tcp = net::ip::tcp;

namespace {

// Answers every request on every connection with 200 "hello over tls", then closes it.
class TinyTlsServer {
public:
    explicit TinyTlsServer(const Certificate& certificate) : tls_{ssl::context::tls_server} {
        tls_.use_certificate_chain(net::buffer(certificate.certificate_pem));
        tls_.use_private_key(net::buffer(certificate.private_key_pem), ssl::context::pem);
        acceptor_.open(tcp::v4());
        acceptor_.set_option(tcp::acceptor::reuse_address(true));
        acceptor_.bind({net::ip::make_address("127.0.0.1"), 0});
        acceptor_.listen();
        port_ = acceptor_.local_endpoint().port();
        accept();
        thread_ = std::thread{[this] { io_.run(); }};
    }
    ~TinyTlsServer() {
        net::post(io_, [this] { acceptor_.close(); });
        io_.stop();
        thread_.join();
    }

    std::uint16_t port() const { return port_; }

private:
    struct Connection {
        Connection(tcp::socket socket, ssl::context& tls) : stream{std::move(socket), tls} {}
        ssl::stream<tcp::socket> stream;
        net::streambuf request;
        std::string answer = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 14\r\n"
                             "Connection: close\r\n\r\nhello over tls";
    };

    void accept() {
        acceptor_.async_accept([this](boost::system::error_code error, tcp::socket socket) {
            if (error) return;
            auto connection = std::make_shared<Connection>(std::move(socket), tls_);
            connection->stream.async_handshake(ssl::stream_base::server, [connection](boost::system::error_code ec) {
                if (ec) return; // the client refused the certificate
                net::async_read_until(connection->stream, connection->request, "\r\n\r\n",
                                      [connection](boost::system::error_code read_error, std::size_t) {
                                          if (read_error) return;
                                          net::async_write(connection->stream, net::buffer(connection->answer),
                                                           [connection](boost::system::error_code, std::size_t) {});
                                      });
            });
            accept();
        });
    }

    net::io_context io_;
    ssl::context tls_;
    tcp::acceptor acceptor_{io_};
    std::uint16_t port_ = 0;
    std::thread thread_;
};

class WebClientTls : public ::testing::Test {
protected:
    TestCertificateAuthority authority;
    std::filesystem::path directory = std::filesystem::temp_directory_path() /
                                      ("macvmorx-tls-" + std::to_string(::getpid()));

    void SetUp() override { std::filesystem::create_directories(directory); }
    void TearDown() override { std::filesystem::remove_all(directory); }

    std::string write_file(const std::string& name, const std::string& text) {
        const auto path = directory / name;
        std::ofstream{path, std::ios::trunc} << text;
        return path.string();
    }

    static WebClientOptions trusting(const std::string& ca_file) {
        WebClientOptions options;
        options.timeout = std::chrono::seconds{5};
        options.ca_file = ca_file;
        return options;
    }

    static BaseUrl url(const std::string& host, std::uint16_t port) {
        return BaseUrl::parse("https://" + host + ":" + std::to_string(port));
    }
};

TEST_F(WebClientTls, ACertificateFromAnUntrustedAuthorityIsRefused) {
    TinyTlsServer server{authority.issue("127.0.0.1", {"IP:127.0.0.1"})};
    WebClient client{url("127.0.0.1", server.port()), trusting("")};
    EXPECT_THROW(client.request(Method::get, "/"), std::system_error) << "no system CA signed the test CA";
}

TEST_F(WebClientTls, APrivateAuthorityGivenAsCaFileIsTrusted) {
    TinyTlsServer server{authority.issue("127.0.0.1", {"IP:127.0.0.1"})};
    const auto ca_file = write_file("ca.pem", authority.certificate_pem());
    WebClient client{url("127.0.0.1", server.port()), trusting(ca_file)};
    const auto answer = client.request(Method::get, "/");
    EXPECT_EQ(answer.status, 200);
    EXPECT_EQ(answer.body, "hello over tls");
}

TEST_F(WebClientTls, ACertificateForAnotherHostIsRefusedEvenFromATrustedAuthority) {
    TinyTlsServer server{authority.issue("github.example", {"DNS:github.example"})};
    const auto ca_file = write_file("ca.pem", authority.certificate_pem());
    WebClient client{url("127.0.0.1", server.port()), trusting(ca_file)};
    EXPECT_THROW(client.request(Method::get, "/"), std::system_error) << "the certificate names github.example";
}

TEST_F(WebClientTls, AnotherAuthorityIsNotTrustedBecauseOneCaFileIsGiven) {
    TestCertificateAuthority impostor{"impostor CA"};
    TinyTlsServer server{impostor.issue("127.0.0.1", {"IP:127.0.0.1"})};
    const auto ca_file = write_file("ca.pem", authority.certificate_pem());
    WebClient client{url("127.0.0.1", server.port()), trusting(ca_file)};
    EXPECT_THROW(client.request(Method::get, "/"), std::system_error);
}

} // namespace
