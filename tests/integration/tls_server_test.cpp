// The daemon over HTTPS (--tls-cert, --tls-key) and mutual TLS (--client-ca): certificates made
// at run time, clients on 127.0.0.1.

#include "raw_connection.hpp"
#include "test_certificates.hpp"
#include "test_daemon.hpp"

#include "macvmorx/agent/http_orchestrator_link.hpp"
#include "macvmorx/http/server.hpp"
#include "macvmorx/http/web_client.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <openssl/bio.h>
#include <openssl/ssl.h>

#include <filesystem>
#include <fstream>
#include <future>

using macvmorx::http::BaseUrl;
using macvmorx::http::Method;
using macvmorx::http::WebClient;
using macvmorx::http::WebClientOptions;
using macvmorx::testing::Certificate;
using macvmorx::testing::TestCertificateAuthority;
using macvmorx::testing::TestDaemon;
using nlohmann::json;

namespace {

class Https : public ::testing::Test {
protected:
    std::filesystem::path directory =
        std::filesystem::temp_directory_path() / ("macvmorx-https-" + std::to_string(::getpid()));
    TestCertificateAuthority server_ca{"server CA"};
    TestCertificateAuthority agent_ca{"agent CA"};

    Https() { std::filesystem::create_directories(directory); }
    ~Https() override { std::filesystem::remove_all(directory); }

    std::string write(const std::string& name, const std::string& text) {
        const auto path = directory / name;
        std::ofstream{path, std::ios::trunc} << text;
        return path.string();
    }
    // The server's certificate for 127.0.0.1 from `authority`, as the daemon's files.
    void write_server_files(TestCertificateAuthority& authority) {
        const auto certificate = authority.issue("macvmorx", {"IP:127.0.0.1", "DNS:localhost"});
        write("server.pem", certificate.certificate_pem);
        write("server.key", certificate.private_key_pem);
    }
    macvmorx::config::ServerConfig tls_config(bool mutual) {
        write_server_files(server_ca);
        auto config = macvmorx::testing::test_config();
        config.tls_certificate_file = (directory / "server.pem").string();
        config.tls_key_file = (directory / "server.key").string();
        if (mutual) config.client_ca_file = write("agents-ca.pem", agent_ca.certificate_pem());
        return config;
    }
    WebClient client(std::uint16_t port, const std::string& trust, const std::string& identity = {}) {
        WebClientOptions options;
        options.timeout = std::chrono::seconds{5};
        options.ca_file = write("trust-" + std::to_string(++files_) + ".pem", trust);
        if (!identity.empty()) {
            options.client_certificate_file = (directory / (identity + ".pem")).string();
            options.client_key_file = (directory / (identity + ".key")).string();
        }
        return WebClient{BaseUrl::parse("https://127.0.0.1:" + std::to_string(port)), options};
    }
    // A client certificate from the agents' CA (or another) naming `node`.
    void write_identity(const std::string& identity, TestCertificateAuthority& authority, const std::string& common_name,
                        const std::vector<std::string>& alt_names = {}) {
        const auto certificate = authority.issue(common_name, alt_names);
        write(identity + ".pem", certificate.certificate_pem);
        write(identity + ".key", certificate.private_key_pem);
    }
    static std::string secure_header(WebClient& client) {
        return std::string{client.request(Method::get, "/healthz").header("Strict-Transport-Security").value_or("")};
    }
    static macvmorx::http::ClientResponse heartbeat(WebClient& client, const std::string& node) {
        return client.request(Method::post, "/api/heartbeat", json{{"nodeId", node}}.dump(),
                              {{"Content-Type", "application/json"}});
    }

private:
    int files_ = 0;
};

} // namespace

TEST_F(Https, ThePortServesHttpsOnlyWithTheGivenCertificate) {
    TestDaemon daemon{tls_config(false)};
    auto secure = client(daemon.port(), server_ca.certificate_pem());
    EXPECT_EQ(heartbeat(secure, "mac-1").status, 200);
    const auto nodes = secure.request(Method::get, "/api/nodes");
    EXPECT_EQ(nodes.status, 200);
    EXPECT_EQ(json::parse(nodes.body)[0]["nodeId"], "mac-1");
    EXPECT_EQ(secure.request(Method::get, "/").status, 200) << "the dashboard too";

    // Plain HTTP on the HTTPS port gets no answer and changes nothing.
    macvmorx::testing::RawConnection raw{daemon.port()};
    raw.send("POST /api/heartbeat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n"
             "{\"nodeId\":\"m2\"}\n");
    EXPECT_EQ(raw.read_until_closed().find("HTTP/1.1 200"), std::string::npos);
    EXPECT_EQ(json::parse(secure.request(Method::get, "/api/nodes").body).size(), 1u);

    // A client that does not trust the server's CA refuses it.
    auto wary = client(daemon.port(), agent_ca.certificate_pem());
    EXPECT_THROW(wary.request(Method::get, "/api/nodes"), std::system_error);
}

TEST_F(Https, AReloadServesANewCertificateToNewConnections) {
    TestDaemon daemon{tls_config(false)};
    TestCertificateAuthority renewed_ca{"renewed CA"};
    auto old_client = client(daemon.port(), server_ca.certificate_pem());
    ASSERT_EQ(old_client.request(Method::get, "/healthz").status, 200);

    write_server_files(renewed_ca);
    ASSERT_TRUE(daemon.daemon().reload());
    auto renewed = client(daemon.port(), renewed_ca.certificate_pem());
    EXPECT_EQ(renewed.request(Method::get, "/healthz").status, 200) << "a new connection gets the renewed certificate";
    EXPECT_EQ(old_client.request(Method::get, "/healthz").status, 200) << "an open connection keeps its session";

    // A broken file keeps the certificate in use.
    write("server.key", "not a key");
    EXPECT_FALSE(daemon.daemon().reload());
    auto again = client(daemon.port(), renewed_ca.certificate_pem());
    EXPECT_EQ(again.request(Method::get, "/healthz").status, 200);
}

TEST_F(Https, AMissingOrMismatchedKeyStopsTheDaemonAtStart) {
    auto config = tls_config(false);
    const auto other = server_ca.issue("other", {"IP:127.0.0.1"});
    config.tls_key_file = write("other.key", other.private_key_pem);
    EXPECT_THROW(TestDaemon{config}, macvmorx::http::TlsError);
    config.tls_key_file = (directory / "missing.key").string();
    EXPECT_THROW(TestDaemon{config}, macvmorx::http::TlsError);
}

TEST_F(Https, WithAClientCaAgentsMustShowACertificateNamingTheirNode) {
    TestDaemon daemon{tls_config(true)};
    write_identity("mac-1", agent_ca, "mac-1");
    write_identity("rack", agent_ca, "rack agent", {"DNS:rack-1", "DNS:rack-2"});
    TestCertificateAuthority stranger_ca{"stranger CA"};
    write_identity("forged", stranger_ca, "mac-1");

    auto mac1 = client(daemon.port(), server_ca.certificate_pem(), "mac-1");
    EXPECT_EQ(heartbeat(mac1, "mac-1").status, 200);
    auto refused = heartbeat(mac1, "mac-2");
    EXPECT_EQ(refused.status, 403);
    EXPECT_EQ(json::parse(refused.body)["error"], "forbidden");
    EXPECT_EQ(mac1.request(Method::get, "/api/nodes/mac-2/commands").status, 403);

    auto rack = client(daemon.port(), server_ca.certificate_pem(), "rack");
    EXPECT_EQ(heartbeat(rack, "rack-2").status, 200) << "a DNS name of the certificate names the node";
    EXPECT_EQ(heartbeat(rack, "rack-3").status, 403);

    // Without a certificate: the dashboard and CI still work, reporting as an agent does not.
    auto browser = client(daemon.port(), server_ca.certificate_pem());
    EXPECT_EQ(browser.request(Method::get, "/api/nodes").status, 200);
    refused = heartbeat(browser, "mac-3");
    EXPECT_EQ(refused.status, 403);
    EXPECT_EQ(json::parse(refused.body)["error"], "client certificate required");

    // A certificate from another CA fails the handshake.
    auto forged = client(daemon.port(), server_ca.certificate_pem(), "forged");
    EXPECT_THROW(heartbeat(forged, "mac-1"), std::system_error);

    // Nor may anyone but mac-1's certificate report events of a VM placed on mac-1.
    ASSERT_EQ(browser.request(Method::post, "/api/nodes/rack-2/drain").status, 200);
    const auto placed = browser.request(Method::post, "/api/schedule-vm", R"({"imageName":"sonoma","vmId":"vm-on-1"})",
                                        {{"Content-Type", "application/json"}});
    ASSERT_EQ(placed.status, 200) << placed.body;
    ASSERT_EQ(json::parse(placed.body)["nodeId"], "mac-1");
    const auto event = [](WebClient& as) {
        return as.request(Method::post, "/api/vms/vm-on-1/events", R"({"state":"failed","message":"forged"})",
                          {{"Content-Type", "application/json"}});
    };
    EXPECT_EQ(event(browser).status, 403) << "no certificate";
    EXPECT_EQ(event(rack).status, 403) << "another node's certificate";
    EXPECT_NE(json::parse(browser.request(Method::get, "/api/vms/vm-on-1").body)["state"], "failed");
    EXPECT_EQ(mac1.request(Method::post, "/api/vms/vm-on-1/events", R"({"state":"provisioning"})",
                           {{"Content-Type", "application/json"}})
                  .status,
              200);
    EXPECT_EQ(secure_header(browser), "max-age=15552000");

    const auto nodes = json::parse(browser.request(Method::get, "/api/nodes").body);
    ASSERT_EQ(nodes.size(), 2u) << nodes;
    EXPECT_EQ(nodes[0]["nodeId"], "mac-1");
    EXPECT_EQ(nodes[1]["nodeId"], "rack-2");
}

// The agent's link to the orchestrator speaks HTTPS with its own certificate, as `macvmorx agent
// --server https://... --ca-file ... --client-cert ... --client-key ...` does.
TEST_F(Https, TheAgentLinkReportsOverMutualTls) {
    TestDaemon daemon{tls_config(true)};
    write_identity("mac-7", agent_ca, "mac-7");
    const auto address = macvmorx::http::BaseUrl::parse("https://127.0.0.1:" + std::to_string(daemon.port()));
    ASSERT_TRUE(address.tls);
    EXPECT_EQ(address.origin(), "https://127.0.0.1:" + std::to_string(daemon.port()));
    macvmorx::http::ClientTls tls;
    tls.ca_file = write("agent-trust.pem", server_ca.certificate_pem());
    tls.certificate_file = (directory / "mac-7.pem").string();
    tls.key_file = (directory / "mac-7.key").string();

    boost::asio::io_context ioc;
    macvmorx::agent::HttpOrchestratorLink link{ioc, address, "", std::chrono::seconds{5}, tls};
    const auto beat = [&](const std::string& node) {
        std::promise<macvmorx::agent::LinkResult> result;
        macvmorx::protocol::Heartbeat heartbeat;
        heartbeat.node_id = node;
        link.heartbeat(heartbeat, [&](macvmorx::agent::LinkResult r, std::vector<macvmorx::protocol::Command>) {
            result.set_value(std::move(r));
        });
        ioc.restart();
        ioc.run();
        return result.get_future().get();
    };
    const auto ok = beat("mac-7");
    EXPECT_TRUE(ok.ok()) << ok.status << " " << ok.error;
    const auto other = beat("mac-8");
    EXPECT_EQ(other.status, 403) << other.error;

    // Without its certificate the same link is refused; without trusting the server it never connects.
    macvmorx::http::ClientTls anonymous;
    anonymous.ca_file = tls.ca_file;
    macvmorx::agent::HttpOrchestratorLink no_certificate{ioc, address, "", std::chrono::seconds{5}, anonymous};
    std::promise<macvmorx::agent::LinkResult> refused;
    macvmorx::protocol::Heartbeat heartbeat;
    heartbeat.node_id = "mac-7";
    no_certificate.heartbeat(heartbeat, [&](macvmorx::agent::LinkResult r, std::vector<macvmorx::protocol::Command>) {
        refused.set_value(std::move(r));
    });
    ioc.restart();
    ioc.run();
    EXPECT_EQ(refused.get_future().get().status, 403);

    auto browser = client(daemon.port(), server_ca.certificate_pem());
    const auto nodes = json::parse(browser.request(Method::get, "/api/nodes").body);
    ASSERT_EQ(nodes.size(), 1u);
    EXPECT_EQ(nodes[0]["nodeId"], "mac-7");
}

namespace {

// A TLS handshake with the daemon from a bare OpenSSL client limited to one protocol version;
// the client's security level is lowered so that only the server can refuse an old version.
bool handshake_with_version(std::uint16_t port, int version, const std::string& ca_file) {
    std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> context{SSL_CTX_new(TLS_client_method()), &SSL_CTX_free};
    SSL_CTX_set_security_level(context.get(), 0);
    SSL_CTX_set_min_proto_version(context.get(), version);
    SSL_CTX_set_max_proto_version(context.get(), version);
    SSL_CTX_set_cipher_list(context.get(), "DEFAULT:@SECLEVEL=0");
    SSL_CTX_load_verify_locations(context.get(), ca_file.c_str(), nullptr);
    SSL_CTX_set_verify(context.get(), SSL_VERIFY_PEER, nullptr);
    std::unique_ptr<BIO, decltype(&BIO_free_all)> connection{
        BIO_new_connect(("127.0.0.1:" + std::to_string(port)).c_str()), &BIO_free_all};
    if (BIO_do_connect(connection.get()) != 1) return false;
    std::unique_ptr<SSL, decltype(&SSL_free)> tls{SSL_new(context.get()), &SSL_free};
    BIO* raw = connection.release();
    SSL_set_bio(tls.get(), raw, raw); // the SSL owns the BIO now
    return SSL_connect(tls.get()) == 1;
}

} // namespace

TEST_F(Https, TlsOlderThan12IsRefused) {
    TestDaemon daemon{tls_config(false)};
    const auto ca_file = write("version-trust.pem", server_ca.certificate_pem());
    EXPECT_TRUE(handshake_with_version(daemon.port(), TLS1_2_VERSION, ca_file)) << "the same client speaks TLS 1.2";
    EXPECT_TRUE(handshake_with_version(daemon.port(), TLS1_3_VERSION, ca_file));
    EXPECT_FALSE(handshake_with_version(daemon.port(), TLS1_1_VERSION, ca_file));
    EXPECT_FALSE(handshake_with_version(daemon.port(), TLS1_VERSION, ca_file));
}
