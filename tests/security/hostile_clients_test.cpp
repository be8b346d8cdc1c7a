// The security regression suite: each weakness found by probing macvmorx as an attacker would
// (docs/security.md, "Hostile clients"), run against the real daemon on a loopback port. A
// hostile host with an agent token, a web page in a lab member's browser, a client behind a
// careless proxy, and anyone who can reach the port.

#include "log_capture.hpp"
#include "raw_connection.hpp"
#include "test_daemon.hpp"

#include "macvmorx/auth/token.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

using namespace std::chrono_literals;
using macvmorx::http::ClientResponse;
using macvmorx::http::Header;
using macvmorx::http::HttpClient;
using macvmorx::http::Method;
using macvmorx::testing::eventually;
using macvmorx::testing::RawConnection;
using macvmorx::testing::status_of;
using macvmorx::testing::TestDaemon;
using nlohmann::json;

namespace {

const std::vector<Header> json_type{{"Content-Type", "application/json"}};

json heartbeat_of(const std::string& node_id, const json& vms = json::array()) {
    return {{"nodeId", node_id}, {"vmCount", vms.size()}, {"vms", vms}, {"status", "healthy"}, {"cachedImages", json::array()}};
}

int beat(HttpClient& client, const json& heartbeat, const std::vector<Header>& extra = {}) {
    auto headers = json_type;
    headers.insert(headers.end(), extra.begin(), extra.end());
    return client.request(Method::post, "/api/heartbeat", heartbeat.dump(), headers).status;
}

json vms(HttpClient& client, const std::string& query = "") { return json::parse(client.get("/api/vms" + query).body); }

double metric(HttpClient& client, const std::string& series) {
    const std::string text = client.get("/metrics").body;
    const auto at = text.find("\n" + series + " ");
    return at == std::string::npos ? -1 : std::stod(text.substr(at + series.size() + 2));
}

// A daemon with tokens: mac-a and mac-b each have an agent token bound to their node.
class WithTokens : public ::testing::Test {
protected:
    static constexpr const char* ci_token = "mvx_ci-token-of-the-suite";
    static constexpr const char* mac_a_token = "mvx_agent-token-of-mac-a";
    static constexpr const char* mac_b_token = "mvx_agent-token-of-mac-b";
    std::filesystem::path directory = std::filesystem::temp_directory_path() /
                                      ("macvmorx-security-" + std::to_string(::getpid()) + "-" +
                                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::unique_ptr<TestDaemon> daemon;

    void SetUp() override {
        std::filesystem::create_directories(directory);
        const auto line = [](const char* token, const std::string& rest) {
            return "sha256:" + macvmorx::auth::sha256_hex(token) + " " + rest + "\n";
        };
        std::ofstream{directory / "tokens"} << line(ci_token, "ci pipeline") << line(mac_a_token, "agent mac-a nodes=mac-a")
                                            << line(mac_b_token, "agent mac-b nodes=mac-b");
        auto config = macvmorx::testing::test_config();
        config.tokens_file = (directory / "tokens").string();
        daemon = std::make_unique<TestDaemon>(config);
    }
    void TearDown() override {
        daemon.reset();
        std::filesystem::remove_all(directory);
    }
    static Header bearer(const char* token) { return {"Authorization", std::string{"Bearer "} + token}; }
};

} // namespace

// 1. A host token cannot grow the daemon without bound: a VM reported on and off keeps one record
// whose id never grows, and a node keeps at most 64 records of VMs nobody asked for.
TEST(HostileHost, ReportingVmsOnAndOffOrByTheHundredMakesBoundedRecords) {
    TestDaemon daemon;
    auto client = daemon.client();
    for (int round = 0; round < 40; ++round) {
        ASSERT_EQ(beat(client, heartbeat_of("mac-x", json::array({{{"vmId", "flapping"}, {"imageName", "x"}}}))), 200);
        ASSERT_EQ(beat(client, heartbeat_of("mac-x")), 200);
    }
    auto listed = vms(client);
    ASSERT_EQ(listed.size(), 1u) << listed.dump();
    EXPECT_EQ(listed[0]["vmId"], "mac-x:flapping") << "one record, its id as long as the first time";

    for (int batch = 0; batch < 3; ++batch) {
        json many = json::array();
        for (int i = 0; i < 60; ++i) many.push_back({{"vmId", "ghost-" + std::to_string(batch * 60 + i)}, {"imageName", "x"}});
        ASSERT_EQ(beat(client, heartbeat_of("mac-x", many)), 200);
    }
    EXPECT_LE(vms(client).size(), 64u);
    EXPECT_GT(metric(client, "macvmorx_unmanaged_vms_not_recorded_total"), 0);
}

// 2. A host cannot squat a client's VM id: a placement never resolves to a VM a host reported.
TEST_F(WithTokens, AHostCannotSquatTheVmIdAClientWillAskFor) {
    auto client = daemon->client();
    ASSERT_EQ(beat(client, heartbeat_of("mac-a", json::array({{{"vmId", "job-7"}, {"imageName", "sonoma"}, {"vmIpAddress", "10.6.6.6"}}})),
                   {bearer(mac_a_token)}),
              200);
    ASSERT_EQ(beat(client, heartbeat_of("mac-b"), {bearer(mac_b_token)}), 200);
    const auto answer = client.request(Method::post, "/api/schedule-vm", R"({"imageName":"sonoma","vmId":"job-7"})",
                                       {{"Content-Type", "application/json"}, bearer(ci_token)});
    ASSERT_EQ(answer.status, 200) << answer.body;
    const auto placed = json::parse(answer.body);
    EXPECT_EQ(placed["vmId"], "job-7");
    EXPECT_EQ(placed["state"], "assigned") << "a fresh placement, not the host's running VM";
    EXPECT_EQ(answer.body.find("10.6.6.6"), std::string::npos) << "the host's address never reaches the client";
}

// 3. A host cannot act on another host's VM, however its events race with the VM's moves: its
// first failure report moves the VM to another host, and the reports sent with it, checked
// while the VM was still its own, must not fail it there.
TEST_F(WithTokens, AHostsRacingEventsNeverFailAVmMovedToAnotherHost) {
    auto client = daemon->client();
    for (int round = 0; round < 10; ++round) {
        const std::string vm_id = "job-r" + std::to_string(round);
        ASSERT_EQ(beat(client, heartbeat_of("mac-a"), {bearer(mac_a_token)}), 200);
        ASSERT_EQ(beat(client, heartbeat_of("mac-b"), {bearer(mac_b_token)}), 200);
        // mac-b is busy for a moment: the VM goes to mac-a.
        auto busy_b = heartbeat_of("mac-b", json::array({{{"vmId", "x1"}, {"imageName", "y"}}, {{"vmId", "x2"}, {"imageName", "y"}}}));
        ASSERT_EQ(beat(client, busy_b, {bearer(mac_b_token)}), 200);
        const auto placed = client.request(Method::post, "/api/schedule-vm",
                                           R"({"imageName":"sonoma","vmId":")" + vm_id + R"("})",
                                           {{"Content-Type", "application/json"}, bearer(ci_token)});
        ASSERT_EQ(placed.status, 200) << placed.body;
        ASSERT_EQ(json::parse(placed.body)["nodeId"], "mac-a");
        ASSERT_EQ(beat(client, heartbeat_of("mac-b"), {bearer(mac_b_token)}), 200); // mac-b free again
        std::vector<std::thread> reports;
        for (int i = 0; i < 8; ++i) {
            reports.emplace_back([&, vm_id] {
                auto own = daemon->client();
                own.request(Method::post, "/api/vms/" + vm_id + "/events", R"({"state":"failed","message":"mac-a failed it"})",
                            {{"Content-Type", "application/json"}, bearer(mac_a_token)});
            });
        }
        for (auto& report : reports) report.join();
        const auto vm = json::parse(client.request(Method::get, "/api/vms/" + vm_id, {}, {bearer(ci_token)}).body);
        for (const auto& transition : vm["transitions"]) {
            EXPECT_FALSE(transition["state"] == "failed" && transition["nodeId"] == "mac-b") << vm.dump();
        }
        EXPECT_EQ(vm["nodeId"], "mac-b") << vm.dump();
        EXPECT_EQ(vm["state"], "assigned") << "placed again on mac-b, and left alone there: " << vm.dump();
        // Clean up for the next round: mac-b's VM is deleted.
        client.request(Method::del, "/api/vms/" + vm_id, {}, {bearer(ci_token)});
    }
}

// 4. Abandoned long polls give their connection back at once.
TEST(HostileClient, AbandonedLongPollsDoNotHoldConnectionSlots) {
    auto config = macvmorx::testing::test_config();
    config.max_connections = 16;
    TestDaemon daemon{config};
    auto client = daemon.client();
    ASSERT_EQ(beat(client, heartbeat_of("mac-1")), 200);
    client = daemon.client(); // let go of the first connection: the hostile ones may use all slots
    for (int i = 0; i < 100; ++i) {
        RawConnection raw{daemon.port()};
        raw.send("GET /api/nodes/mac-1/commands?wait=60s HTTP/1.1\r\nHost: x\r\n\r\n");
        // Closed at once, with the wait still running on the daemon.
    }
    EXPECT_TRUE(eventually([&] {
        try {
            return daemon.client(1s).get("/healthz").status == 200;
        } catch (const std::exception&) {
            return false;
        }
    })) << "the daemon still answers";
    EXPECT_TRUE(eventually([&] { return daemon.daemon().open_connections() <= 2; }))
        << daemon.daemon().open_connections() << " connections still held";
}

TEST(HostileClient, ANodesLongPollsAreBounded) {
    TestDaemon daemon;
    auto client = daemon.client();
    ASSERT_EQ(beat(client, heartbeat_of("mac-1")), 200);
    std::vector<std::unique_ptr<RawConnection>> polls;
    for (int i = 0; i < 10; ++i) {
        // One poll at a time, each held before the next is sent: "oldest" is then the order sent,
        // not the order in which the daemon's threads happened to read ten connections.
        daemon.clock().advance(1ms);
        const auto deadline = daemon.clock().now() + 60s;
        polls.push_back(std::make_unique<RawConnection>(daemon.port()));
        polls.back()->send("GET /api/nodes/mac-1/commands?wait=60s HTTP/1.1\r\nHost: x\r\n\r\n");
        if (i < 4) {
            ASSERT_TRUE(eventually([&] { return daemon.clock().wake_up_expected_at(deadline); })) << "poll " << i;
        } else {
            // Beyond four, the newest wait pushes out the oldest; the answer to that one is the sign.
            ASSERT_EQ(status_of(polls[static_cast<std::size_t>(i - 4)]->read_response(5s)), 200) << "poll " << i - 4;
        }
    }
    // The four newest still wait: nothing more arrives for them.
    for (std::size_t i = 6; i < 10; ++i) {
        EXPECT_TRUE(polls[i]->read_response(200ms).empty()) << "poll " << i << " is still held";
    }
}

// 5. The queue has a length limit, and says so.
TEST(HostileClient, TheQueueIsBoundedWithAClearRefusal) {
    auto config = macvmorx::testing::test_config();
    config.max_queue_length = 20;
    TestDaemon daemon{config};
    auto client = daemon.client();
    for (int i = 0; i < 20; ++i) {
        ASSERT_EQ(client.post_json("/api/schedule-vm", R"({"imageName":"sonoma","wait":true})").status, 202) << i;
    }
    const auto refused = client.post_json("/api/schedule-vm", R"({"imageName":"sonoma","wait":true})");
    EXPECT_EQ(refused.status, 503);
    EXPECT_EQ(json::parse(refused.body)["error"], "queue full");
    EXPECT_EQ(refused.header("Retry-After"), "30");
    EXPECT_EQ(json::parse(client.get("/api/queue").body).size(), 20u);
}

// 6. No log line comes from a client as it sent it, and bad requests cannot flood the log.
TEST(HostileClient, RequestsCannotForgeOrFloodTheLog) {
    TestDaemon daemon;
    macvmorx::testing::LogCapture log;
    RawConnection raw{daemon.port()};
    raw.send("GET /api/nodes/x%0d%0a2026-12-06T00:00:00Z%20info%20%20forged%1b%5b31m HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_EQ(status_of(raw.read_response()), 404);
    ASSERT_TRUE(eventually([&] { return log.count("forged") > 0; }));
    for (const auto& line : log.lines()) {
        if (line.find("forged") == std::string::npos) continue;
        EXPECT_EQ(line.find('\r'), std::string::npos) << line;
        EXPECT_EQ(line.find('\x1b'), std::string::npos) << line;
        EXPECT_EQ(line.find("\n2026"), std::string::npos) << line;
    }
    // The 404's detail names the decoded node id: escaped, still readable.
    EXPECT_EQ(log.count("no node with id 'x\\x0d\\x0a2026-12-06T00:00:00Z info  forged\\x1b[31m'"), 1u);

    auto client = daemon.client();
    for (int i = 0; i < 1000; ++i) client.get("/no/such/path/" + std::to_string(i));
    const std::size_t logged = log.count("warning GET /no/such/path/");
    EXPECT_LE(logged, 150u) << "1000 bad requests, throttled";
    EXPECT_GE(logged, 50u) << "but still seen";
}

// 7. Request smuggling: a length the proxy and the daemon could read two ways is refused.
TEST(HostileClient, AnAmbiguousRequestLengthIsRefusedAndItsBodyNeverRunsAsARequest) {
    TestDaemon daemon;
    for (const char* encoding : {"gzip", "chunked, identity", "identity"}) {
        RawConnection raw{daemon.port()};
        const std::string smuggled = "GET /api/nodes HTTP/1.1\r\nHost: x\r\n\r\n";
        raw.send(std::string{"POST /api/heartbeat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                             "Transfer-Encoding: "} +
                 encoding + "\r\n\r\n" + smuggled);
        const std::string answer = raw.read_until_closed();
        EXPECT_EQ(status_of(answer), 400) << encoding << ": " << answer;
        EXPECT_EQ(answer.find("HTTP/1.1 200"), std::string::npos) << "the body ran as a request: " << answer;
        EXPECT_TRUE(raw.closed_by_peer());
    }
    RawConnection both{daemon.port()};
    both.send("POST /api/heartbeat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4\r\n"
              "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
    EXPECT_EQ(status_of(both.read_until_closed()), 400);
    EXPECT_TRUE(both.closed_by_peer());
}

// 8. A web page in a lab member's browser cannot change an open daemon.
TEST(HostileWebPage, CrossSiteRequestsChangeNothingAndCurlStillWorks) {
    TestDaemon daemon;
    auto client = daemon.client();
    ASSERT_EQ(beat(client, heartbeat_of("mac-1")), 200);
    const std::string host = "127.0.0.1:" + std::to_string(daemon.port());
    const auto drain = [&](std::vector<Header> headers, const std::string& body = {}) {
        headers.push_back({"Host", host});
        return client.request(Method::post, "/api/nodes/mac-1/drain", body, headers).status;
    };
    EXPECT_EQ(drain({{"Origin", "http://evil.example"}}), 403);
    EXPECT_EQ(drain({{"Origin", "null"}}), 403);
    EXPECT_EQ(drain({{"Sec-Fetch-Site", "cross-site"}}), 403);
    EXPECT_EQ(drain({{"Sec-Fetch-Site", "same-site"}}), 403) << "another port of the lab's host is another site";
    EXPECT_EQ(drain({{"Content-Type", "application/x-www-form-urlencoded"}}, "a=b"), 415) << "a form post";
    EXPECT_EQ(drain({{"Content-Type", "text/plain"}}), 415) << "a body-less simple request";
    EXPECT_EQ(client.request(Method::post, "/api/schedule-vm", R"({"imageName":"sonoma"})").status, 415)
        << "a JSON body without its media type (fetch with a Blob)";
    EXPECT_EQ(json::parse(client.get("/api/nodes/mac-1").body)["drained"], false) << "nothing changed";

    EXPECT_EQ(drain({}), 200) << "curl, the agent: no Origin";
    EXPECT_EQ(drain({{"Origin", "http://" + host}, {"Sec-Fetch-Site", "same-origin"}}), 200) << "the dashboard";
    EXPECT_EQ(client.request(Method::post, "/api/nodes/mac-1/undrain", {},
                             {{"Origin", "https://macvmorx.lab.example"}, {"X-Forwarded-Host", "macvmorx.lab.example"}})
                  .status,
              200)
        << "the dashboard behind a proxy that rewrites Host";
}

// 9. Error bodies are JSON whatever the request held.
TEST(HostileClient, ErrorBodiesAreValidJsonAndNameTheMethodAsSent) {
    TestDaemon daemon;
    RawConnection raw{daemon.port()};
    raw.send("GET /api/%ff%fe%c0%af HTTP/1.1\r\nHost: x\r\n\r\n");
    const std::string answer = raw.read_response();
    ASSERT_EQ(status_of(answer), 404);
    const auto body = json::parse(answer.substr(answer.find("\r\n\r\n") + 4)); // strict: throws on bad UTF-8
    EXPECT_NE(body["detail"].get<std::string>().find("\xEF\xBF\xBD"), std::string::npos) << body.dump();

    RawConnection propfind{daemon.port()};
    propfind.send("PROPFIND /api/vms HTTP/1.1\r\nHost: x\r\n\r\n");
    const std::string refused = propfind.read_response();
    ASSERT_EQ(status_of(refused), 405);
    EXPECT_NE(refused.find("PROPFIND is not allowed"), std::string::npos) << refused;
}

// 10. What one host may make the daemon keep is bounded.
TEST(HostileHost, AHeartbeatThatWouldMakeTheDaemonKeepTooMuchIsRefused) {
    TestDaemon daemon;
    auto client = daemon.client();
    json images = json::array();
    for (int i = 0; i < 256; ++i) images.push_back("ghcr.io/acme/" + std::string(200, 'i') + std::to_string(i));
    auto heavy = heartbeat_of("mac-heavy");
    heavy["cachedImages"] = images;
    const auto refused = client.request(Method::post, "/api/heartbeat", heavy.dump(), json_type);
    EXPECT_EQ(refused.status, 422) << refused.body;
    EXPECT_EQ(json::parse(refused.body)["field"], "heartbeat");
    EXPECT_EQ(client.get("/api/nodes/mac-heavy").status, 404) << "nothing kept";
    heavy["cachedImages"] = json::array({"ghcr.io/acme/sonoma:1", "ghcr.io/acme/sequoia:1"});
    EXPECT_EQ(client.request(Method::post, "/api/heartbeat", heavy.dump(), json_type).status, 200);
}

// The per-token bound leaves an honest agent's long poll alone.
TEST_F(WithTokens, AnAgentsLongPollWithItsTokenWaitsAndIsAnswered) {
    auto client = daemon->client();
    ASSERT_EQ(beat(client, heartbeat_of("mac-a"), {bearer(mac_a_token)}), 200);
    // The daemon's clock is the test's: the wait ends when the test moves it past the second.
    std::atomic<bool> answered{false};
    const auto deadline = daemon->clock().now() + 1s;
    std::thread later{[&] {
        // Time moves only once the daemon holds the wait; moved earlier, the wait would start late.
        EXPECT_TRUE(macvmorx::testing::eventually([&] { return daemon->clock().wake_up_expected_at(deadline); }));
        std::this_thread::sleep_for(100ms);
        EXPECT_FALSE(answered) << "it waited";
        daemon->clock().advance(2s);
    }};
    const auto answer = client.request(Method::get, "/api/nodes/mac-a/commands?wait=1s", {}, {bearer(mac_a_token)});
    answered = true;
    later.join();
    EXPECT_EQ(answer.status, 200) << answer.body;
    EXPECT_EQ(json::parse(answer.body)["commands"], json::array());
}
