// Tokens over a real socket: a daemon with --tokens-file refuses whoever has no token (401),
// lets each role reach its routes only (403 otherwise), keeps a bound agent to its own nodes,
// slows down token guessing (429), and takes a new tokens file without dropping connections.

#include "test_daemon.hpp"

#include "macvmorx/auth/token.hpp"
#include "macvmorx/orchestrator/orchestrator.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <filesystem>
#include <fstream>

using namespace std::chrono_literals;
using macvmorx::auth::sha256_hex;
using macvmorx::http::ClientResponse;
using macvmorx::http::Method;
using macvmorx::testing::TestDaemon;
using nlohmann::json;

namespace {

constexpr const char* admin_token = "mvx_admin-token-for-tests";
constexpr const char* ci_token = "mvx_ci-token-for-tests";
constexpr const char* viewer_token = "mvx_viewer-token-for-tests";
constexpr const char* agent_token = "mvx_agent-token-of-mac-1";     // bound to mac-1
constexpr const char* rack_token = "mvx_agent-token-of-the-rack";   // bound to rack-*

std::string tokens_file_text() {
    const auto line = [](const char* token, const std::string& rest) { return "sha256:" + sha256_hex(token) + " " + rest + "\n"; };
    return "# tokens of the test fleet\n" + line(admin_token, "admin alice") + line(ci_token, "ci pipeline") +
           line(viewer_token, "viewer ops") + line(agent_token, "agent mac-1 nodes=mac-1") +
           line(rack_token, "agent rack nodes=rack-*");
}

class Tokens : public ::testing::Test {
protected:
    std::filesystem::path directory =
        std::filesystem::temp_directory_path() / ("macvmorx-tokens-" + std::to_string(::getpid()));
    std::filesystem::path tokens_file = directory / "tokens";
    bool written = write_tokens(tokens_file_text());
    TestDaemon daemon{config()};
    macvmorx::http::HttpClient client = daemon.client();

    ~Tokens() override { std::filesystem::remove_all(directory); }

    bool write_tokens(const std::string& text) {
        std::filesystem::create_directories(directory);
        std::ofstream{tokens_file, std::ios::trunc} << text;
        return true;
    }
    macvmorx::config::ServerConfig config() const {
        auto config = macvmorx::testing::test_config();
        config.tokens_file = tokens_file.string();
        return config;
    }

    ClientResponse call(Method method, const std::string& target, const std::string& token, const std::string& body = {}) {
        std::vector<macvmorx::http::Header> headers;
        if (!token.empty()) headers.push_back({"Authorization", "Bearer " + token});
        if (!body.empty()) headers.push_back({"Content-Type", "application/json"});
        return client.request(method, target, body, headers);
    }
    ClientResponse heartbeat(const std::string& node, const std::string& token) {
        return call(Method::post, "/api/heartbeat", token, json{{"nodeId", node}, {"cachedImages", {"sonoma"}}}.dump());
    }
    std::size_t node_count() { return json::parse(call(Method::get, "/api/nodes", admin_token).body).size(); }

    static std::string error_of(const ClientResponse& answer) { return json::parse(answer.body)["error"]; }
};

} // namespace

TEST_F(Tokens, NoTokenOrAnUnknownOneIsA401WithWwwAuthenticateAndChangesNothing) {
    auto answer = heartbeat("mac-1", "");
    EXPECT_EQ(answer.status, 401);
    EXPECT_EQ(answer.header("WWW-Authenticate"), R"(Bearer realm="macvmorx")");
    EXPECT_EQ(error_of(answer), "unauthorized");

    answer = heartbeat("mac-1", "mvx_not-a-token");
    EXPECT_EQ(answer.status, 401);
    EXPECT_EQ(answer.header("WWW-Authenticate"), R"(Bearer realm="macvmorx", error="invalid_token")");
    EXPECT_EQ(call(Method::get, "/api/nodes", "").status, 401);
    EXPECT_EQ(call(Method::get, "/metrics", "").status, 401);
    EXPECT_EQ(call(Method::get, "/api/nodes", sha256_hex(viewer_token)).status, 401) << "the hash is not the token";
    EXPECT_EQ(client.request(Method::get, "/api/nodes", {}, {{"Authorization", std::string{"Basic "} + viewer_token}}).status, 401);
    EXPECT_EQ(node_count(), 0u) << "refused heartbeats recorded nothing";
}

TEST_F(Tokens, ThePageHealthChecksAndGithubWebhooksNeedNoToken) {
    EXPECT_EQ(call(Method::get, "/", "").status, 200);
    EXPECT_EQ(call(Method::get, "/healthz", "").status, 200);
    EXPECT_EQ(call(Method::get, "/readyz", "").status, 200);
    // Not configured for GitHub here: the answer is the webhook's own, not a 401.
    EXPECT_NE(call(Method::post, "/webhooks/github", "", R"({"zen":"x"})").status, 401);
}

TEST_F(Tokens, EachRoleReachesItsRoutesAndGetsA403ElsewhereChangingNothing) {
    ASSERT_EQ(heartbeat("mac-1", agent_token).status, 200);
    EXPECT_EQ(heartbeat("rack-7", rack_token).status, 200);

    // The agent reports, but reads nothing else and places nothing.
    auto answer = call(Method::get, "/api/nodes", agent_token);
    EXPECT_EQ(answer.status, 403);
    EXPECT_EQ(error_of(answer), "forbidden");
    EXPECT_EQ(call(Method::post, "/api/schedule-vm", agent_token, R"({"imageName":"sonoma"})").status, 403);

    // A viewer reads everything and changes nothing.
    EXPECT_EQ(call(Method::get, "/api/nodes", viewer_token).status, 200);
    EXPECT_EQ(call(Method::get, "/api/vms", viewer_token).status, 200);
    EXPECT_EQ(call(Method::get, "/api/jobs", viewer_token).status, 404) << "no GitHub here; but not refused";
    EXPECT_EQ(call(Method::get, "/metrics", viewer_token).status, 200);
    EXPECT_EQ(call(Method::post, "/api/schedule-vm", viewer_token, R"({"imageName":"sonoma"})").status, 403);
    EXPECT_EQ(heartbeat("mac-9", viewer_token).status, 403);
    EXPECT_EQ(call(Method::post, "/api/nodes/mac-1/drain", viewer_token).status, 403);

    // CI places, reads and deletes VMs, but does not drain nodes or pose as an agent.
    answer = call(Method::post, "/api/schedule-vm", ci_token, R"({"imageName":"sonoma","vmId":"job-1"})");
    ASSERT_EQ(answer.status, 200) << answer.body;
    EXPECT_EQ(call(Method::get, "/api/vms/job-1", ci_token).status, 200);
    EXPECT_EQ(call(Method::post, "/api/nodes/mac-1/drain", ci_token).status, 403);
    EXPECT_EQ(heartbeat("mac-9", ci_token).status, 403);
    EXPECT_EQ(call(Method::del, "/api/vms/job-1", ci_token).status, 200);

    // An admin does everything.
    EXPECT_EQ(call(Method::post, "/api/nodes/rack-7/drain", admin_token).status, 200);
    EXPECT_EQ(json::parse(call(Method::get, "/api/nodes/rack-7", admin_token).body)["drained"], true);
    EXPECT_EQ(call(Method::post, "/api/nodes/rack-7/undrain", admin_token).status, 200);
    EXPECT_EQ(node_count(), 2u) << "no refused call added a node";
}

TEST_F(Tokens, ABoundAgentTokenSpeaksForItsOwnNodesOnly) {
    ASSERT_EQ(heartbeat("mac-1", agent_token).status, 200);
    ASSERT_EQ(heartbeat("mac-2", admin_token).status, 200);

    auto answer = heartbeat("mac-2", agent_token);
    EXPECT_EQ(answer.status, 403);
    EXPECT_NE(json::parse(answer.body)["detail"].get<std::string>().find("may not act for node 'mac-2'"), std::string::npos);
    EXPECT_EQ(heartbeat("rack-1", agent_token).status, 403);
    EXPECT_EQ(heartbeat("rack-1", rack_token).status, 200) << "a pattern binds a rack";
    EXPECT_EQ(heartbeat("mac-1", rack_token).status, 403);

    // Nor read another node's commands, nor acknowledge them.
    EXPECT_EQ(call(Method::get, "/api/nodes/mac-1/commands", agent_token).status, 200);
    EXPECT_EQ(call(Method::get, "/api/nodes/mac-2/commands", agent_token).status, 403);
    EXPECT_EQ(call(Method::post, "/api/nodes/mac-2/commands/c-1/ack", agent_token).status, 403);

    // Nor report events of a VM placed on another node.
    ASSERT_EQ(call(Method::post, "/api/nodes/mac-1/drain", admin_token).status, 200);
    const auto placed = call(Method::post, "/api/schedule-vm", ci_token, R"({"imageName":"sonoma","vmId":"on-mac-2"})");
    ASSERT_EQ(placed.status, 200) << placed.body;
    ASSERT_EQ(json::parse(placed.body)["nodeId"], "mac-2");
    answer = call(Method::post, "/api/vms/on-mac-2/events", agent_token, R"({"state":"failed","message":"forged"})");
    EXPECT_EQ(answer.status, 403);
    EXPECT_NE(json::parse(call(Method::get, "/api/vms/on-mac-2", admin_token).body)["state"], "failed");
    EXPECT_EQ(call(Method::post, "/api/vms/on-mac-2/events", admin_token, R"({"state":"provisioning"})").status, 200);
    EXPECT_EQ(json::parse(call(Method::get, "/api/vms/on-mac-2", admin_token).body)["state"], "provisioning");
}

TEST_F(Tokens, WhoAmINamesTheTokenAndItsRole) {
    auto me = json::parse(call(Method::get, "/api/whoami", agent_token).body);
    EXPECT_EQ(me["authRequired"], true);
    EXPECT_EQ(me["name"], "mac-1");
    EXPECT_EQ(me["role"], "agent");
    EXPECT_EQ(me["nodes"], json({"mac-1"}));
    me = json::parse(call(Method::get, "/api/whoami", viewer_token).body);
    EXPECT_EQ(me["role"], "viewer");
    EXPECT_EQ(call(Method::get, "/api/whoami", "").status, 401) << "the dashboard learns that it must ask for a token";

    TestDaemon open_daemon;
    me = json::parse(open_daemon.client().get("/api/whoami").body);
    EXPECT_EQ(me["authRequired"], false);
    EXPECT_EQ(me["role"], "admin");
}

TEST_F(Tokens, GuessingTokensFromOneAddressIsRefusedWith429UntilTheWindowEnds) {
    for (int i = 0; i < 10; ++i) ASSERT_EQ(call(Method::get, "/api/nodes", "mvx_guess-" + std::to_string(i)).status, 401);
    auto answer = call(Method::get, "/api/nodes", viewer_token);
    EXPECT_EQ(answer.status, 429) << "even the right token waits: the guesser must not learn it guessed right";
    EXPECT_EQ(answer.header("Retry-After"), "60");
    EXPECT_EQ(call(Method::get, "/healthz", "").status, 200) << "open routes stay open";
    daemon.clock().advance(61s);
    EXPECT_EQ(call(Method::get, "/api/nodes", viewer_token).status, 200);
}

TEST_F(Tokens, ANewTokensFileIsTakenOnReloadWithoutDroppingConnections) {
    ASSERT_EQ(call(Method::get, "/api/nodes", viewer_token).status, 200);
    const std::string new_token = "mvx_rotated-viewer-token";
    write_tokens("sha256:" + sha256_hex(new_token) + " viewer ops\n" + "sha256:" + sha256_hex(admin_token) + " admin alice\n");
    ASSERT_TRUE(daemon.daemon().reload());
    EXPECT_EQ(call(Method::get, "/api/nodes", viewer_token).status, 401) << "the removed token no longer works";
    EXPECT_EQ(call(Method::get, "/api/nodes", new_token).status, 200);
    EXPECT_EQ(client.connections_opened(), 1u) << "the keep-alive connection survived the reload";

    // A file with a mistake keeps the tokens in use.
    write_tokens("mvx_cleartext admin mallory\n");
    EXPECT_FALSE(daemon.daemon().reload());
    EXPECT_EQ(call(Method::get, "/api/nodes", new_token).status, 200);
    EXPECT_EQ(call(Method::get, "/api/nodes", "mvx_cleartext").status, 401);
}

TEST(TokensAtStart, ADaemonWithABrokenTokensFileDoesNotStart) {
    const auto path = std::filesystem::temp_directory_path() / ("macvmorx-bad-tokens-" + std::to_string(::getpid()));
    std::ofstream{path} << "sha256:abc admin alice\n";
    auto config = macvmorx::testing::test_config();
    config.tokens_file = path.string();
    EXPECT_THROW(TestDaemon{config}, std::runtime_error);
    std::filesystem::remove(path);
}
