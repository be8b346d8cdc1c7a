// The API over a real socket: every answer and every refusal a client can get.

#include "raw_connection.hpp"
#include "test_daemon.hpp"

#include "macvmorx/orchestrator/orchestrator.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

using namespace std::chrono_literals;
using macvmorx::http::Method;
using macvmorx::testing::RawConnection;
using macvmorx::testing::status_of;
using macvmorx::testing::TestDaemon;
using nlohmann::json;

namespace {

class HttpApiTest : public ::testing::Test {
protected:
    TestDaemon server;
    macvmorx::http::HttpClient client = server.client();

    int heartbeat(const json& body) { return client.post_json("/api/heartbeat", body.dump()).status; }

    // Each refusal is a JSON object with "error", and leaves the fleet as it was.
    void expect_refused(const macvmorx::http::ClientResponse& response, int status) {
        EXPECT_EQ(response.status, status) << response.body;
        EXPECT_EQ(response.header("Content-Type"), "application/json");
        const auto body = json::parse(response.body, nullptr, false);
        ASSERT_TRUE(body.is_object()) << response.body;
        EXPECT_TRUE(body.contains("error")) << response.body;
        const auto nodes = json::parse(client.get("/api/nodes").body);
        EXPECT_EQ(nodes.size(), 1u) << "a refused request changed the fleet";
        EXPECT_EQ(nodes[0]["cpuUsagePercent"], 12.5) << "a refused request changed the fleet";
    }

    void SetUp() override { ASSERT_EQ(heartbeat({{"nodeId", "mac-1"}, {"cpuUsagePercent", 12.5}}), 200); }
};

} // namespace

TEST_F(HttpApiTest, AHeartbeatIsAcknowledgedAsJson) {
    const auto response = client.post_json("/api/heartbeat", R"({"nodeId":"mac-2"})");
    EXPECT_EQ(response.status, 200);
    EXPECT_EQ(response.header("Content-Type"), "application/json");
    EXPECT_EQ(json::parse(response.body), json({{"message", "Heartbeat received"}}));
}

TEST_F(HttpApiTest, NodesAreListedWithTheirTimesAndOneNodeCanBeFetched) {
    const auto list = json::parse(client.get("/api/nodes").body);
    ASSERT_TRUE(list.is_array());
    ASSERT_EQ(list.size(), 1u);
    EXPECT_EQ(list[0]["nodeId"], "mac-1");
    EXPECT_EQ(list[0]["isOnline"], true);
    EXPECT_TRUE(list[0]["lastSeen"].get<std::string>().ends_with("Z"));
    EXPECT_EQ(list[0]["firstSeen"], list[0]["lastSeen"]);
    EXPECT_EQ(json::parse(client.get("/api/nodes/mac-1").body)["nodeId"], "mac-1");
}

TEST_F(HttpApiTest, MalformedJsonIsA400) {
    expect_refused(client.post_json("/api/heartbeat", R"({"nodeId": "mac-1", "cpuUsagePercent": )"), 400);
    expect_refused(client.post_json("/api/heartbeat", "not json at all"), 400);
    expect_refused(client.post_json("/api/schedule-vm", "[1,2]"), 400);
}

TEST_F(HttpApiTest, AMissingRequiredFieldIsA400NamingIt) {
    const auto response = client.post_json("/api/heartbeat", R"({"cpuUsagePercent": 99})");
    expect_refused(response, 400);
    EXPECT_EQ(json::parse(response.body)["field"], "nodeId");
    expect_refused(client.post_json("/api/schedule-vm", "{}"), 400);
}

TEST_F(HttpApiTest, AValueOutOfRangeIsA422) {
    const auto response = client.post_json("/api/heartbeat", R"({"nodeId":"mac-1","cpuUsagePercent":140})");
    expect_refused(response, 422);
    EXPECT_EQ(json::parse(response.body)["field"], "cpuUsagePercent");
    expect_refused(client.post_json("/api/heartbeat", R"({"nodeId":"bad id!"})"), 422);
}

TEST_F(HttpApiTest, AnUnknownRouteOrNodeIsA404) {
    expect_refused(client.get("/api/does-not-exist"), 404);
    expect_refused(client.get("/api/nodes/mac-unknown"), 404);
}

TEST_F(HttpApiTest, AWrongMethodIsA405WithAllow) {
    const auto response = client.request(Method::put, "/api/heartbeat", R"({"nodeId":"mac-1"})",
                                         {{"Content-Type", "application/json"}});
    expect_refused(response, 405);
    EXPECT_EQ(response.header("Allow"), "POST, OPTIONS");
    expect_refused(client.del("/api/nodes"), 405);
}

TEST_F(HttpApiTest, ANonJsonContentTypeIsA415) {
    expect_refused(client.request(Method::post, "/api/heartbeat", "nodeId=mac-1",
                                  {{"Content-Type", "application/x-www-form-urlencoded"}}),
                   415);
}

TEST_F(HttpApiTest, ABodyOverTheLimitIsA413) {
    const std::string huge = R"({"nodeId":"mac-1","padding":")" + std::string(2 << 20, 'x') + "\"}";
    expect_refused(client.post_json("/api/heartbeat", huge), 413);
}

TEST_F(HttpApiTest, ADeclaredLengthOverTheLimitIsRefusedBeforeTheBodyArrives) {
    RawConnection raw{server.port()};
    raw.send("POST /api/heartbeat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
             "Content-Length: 50000000\r\n\r\n");
    const auto response = raw.read_response();
    EXPECT_EQ(status_of(response), 413) << response;
}

TEST_F(HttpApiTest, AHugeHeaderIsRefusedWith431) {
    RawConnection raw{server.port()};
    raw.send("GET /api/nodes HTTP/1.1\r\nHost: x\r\nX-Junk: " + std::string(64 << 10, 'a') + "\r\n\r\n");
    EXPECT_EQ(status_of(raw.read_response()), 431);
}

TEST_F(HttpApiTest, MalformedHttpIsA400AndTheConnectionIsClosed) {
    RawConnection raw{server.port()};
    raw.send("THIS IS NOT HTTP\r\n\r\n");
    const auto response = raw.read_until_closed();
    EXPECT_EQ(status_of(response), 400) << response;
    EXPECT_TRUE(raw.closed_by_peer());
    EXPECT_EQ(client.get("/api/nodes").status, 200) << "the daemon still serves";
}

TEST_F(HttpApiTest, SchedulingPicksANodeAndRefusesWhenTheFleetIsFull) {
    const auto first = client.post_json("/api/schedule-vm", R"({"imageName":"macos-sonoma-runner"})");
    ASSERT_EQ(first.status, 200);
    const auto answer = json::parse(first.body);
    EXPECT_EQ(answer["message"], "VM scheduled successfully");
    EXPECT_EQ(answer["nodeId"], "mac-1");
    EXPECT_EQ(answer["imageCached"], false);
    EXPECT_EQ(client.post_json("/api/schedule-vm", R"({"imageName":"macos-sonoma-runner"})").status, 200);
    const auto full = client.post_json("/api/schedule-vm", R"({"imageName":"macos-sonoma-runner"})");
    EXPECT_EQ(full.status, 503);
    EXPECT_EQ(json::parse(full.body)["error"], "no suitable node");
}

TEST_F(HttpApiTest, TheDashboardIsServedFromTheSamePort) {
    const auto page = client.get("/");
    EXPECT_EQ(page.status, 200);
    EXPECT_EQ(page.header("Content-Type"), "text/html; charset=utf-8");
    EXPECT_NE(page.body.find("<html"), std::string::npos);
}

// `--web-dir` serves the page from a directory and re-reads it on every request, so that a
// developer sees an edit on reload; nothing outside the directory is reachable.
TEST(WebDirectory, ThePageIsReadFromTheDirectoryOnEveryRequestAndNothingOutsideIt) {
    const auto root = std::filesystem::temp_directory_path() /
                      ("macvmorx-web-dir-" + std::to_string(::getpid()));
    std::filesystem::create_directories(root / "site");
    const auto write = [](const std::filesystem::path& path, const std::string& text) {
        std::ofstream{path, std::ios::binary | std::ios::trunc} << text;
    };
    write(root / "site" / "index.html", "<html><body>first edition</body></html>");
    write(root / "site" / "x.js", "console.log('from disk');");
    write(root / "secret.txt", "outside the web directory");

    auto config = macvmorx::testing::test_config();
    config.web_dir = (root / "site").string();
    TestDaemon daemon{config};
    auto client = daemon.client();

    auto page = client.get("/");
    EXPECT_EQ(page.status, 200);
    EXPECT_EQ(page.body, "<html><body>first edition</body></html>");
    EXPECT_EQ(page.header("Content-Type"), "text/html; charset=utf-8");
    EXPECT_TRUE(page.header("Content-Security-Policy").value_or("").starts_with("default-src 'self'"));

    const auto script = client.get("/assets/x.js");
    EXPECT_EQ(script.status, 200);
    EXPECT_EQ(script.body, "console.log('from disk');");
    EXPECT_EQ(script.header("Content-Type"), "text/javascript; charset=utf-8");

    write(root / "site" / "index.html", "<html><body>second edition</body></html>");
    page = client.get("/");
    EXPECT_EQ(page.body, "<html><body>second edition</body></html>") << "an edit shows on the next request";

    EXPECT_EQ(client.get("/assets/missing.js").status, 404);
    for (const std::string target : {"/assets/..%2Fsecret.txt", "/assets/%2E%2E%2Fsecret.txt", "/assets/.hidden",
                                     "/assets/../secret.txt"}) {
        const auto answer = client.get(target);
        EXPECT_EQ(answer.status, 404) << target;
        EXPECT_EQ(answer.body.find("outside the web directory"), std::string::npos) << target;
    }
    std::filesystem::remove_all(root);
}

TEST_F(HttpApiTest, HeadAnswersTheHeadersOfGet) {
    const auto get = client.get("/api/nodes");
    const auto head = client.request(Method::head, "/api/nodes");
    EXPECT_EQ(head.status, 200);
    EXPECT_TRUE(head.body.empty());
    EXPECT_EQ(head.header("Content-Length"), std::to_string(get.body.size()));
    EXPECT_EQ(client.get("/api/nodes").status, 200) << "the connection survives a HEAD";
}

TEST_F(HttpApiTest, TheMonitorTakesASilentNodeOfflineAndAHeartbeatBringsItBack) {
    macvmorx::config::ServerConfig config = macvmorx::testing::test_config();
    config.monitor_interval = 20ms;
    TestDaemon fast{config};
    auto fast_client = fast.client();
    ASSERT_EQ(fast_client.post_json("/api/heartbeat", R"({"nodeId":"mac-9"})").status, 200);
    fast.clock().advance(31s);
    EXPECT_TRUE(macvmorx::testing::eventually(
        [&] { return json::parse(fast_client.get("/api/nodes/mac-9").body)["isOnline"] == false; }));
    EXPECT_EQ(fast_client.post_json("/api/schedule-vm", R"({"imageName":"x"})").status, 503);
    ASSERT_EQ(fast_client.post_json("/api/heartbeat", R"({"nodeId":"mac-9"})").status, 200);
    EXPECT_EQ(json::parse(fast_client.get("/api/nodes/mac-9").body)["isOnline"], true);
    EXPECT_EQ(fast_client.post_json("/api/schedule-vm", R"({"imageName":"x"})").status, 200);
}

TEST_F(HttpApiTest, ADegradedNodeShowsItsStatusReasonUntilAHeartbeatWithoutOneClearsIt) {
    const std::string reason =
        "macOS refuses another VM with 0 running: a ghost VM holds a slot until the host is rebooted";
    auto answer = client.post_json(
        "/api/heartbeat", json{{"nodeId", "mac-1"}, {"status", "degraded"}, {"statusReason", "a\nb"}}.dump());
    expect_refused(answer, 422);
    EXPECT_EQ(json::parse(answer.body)["field"], "statusReason");

    ASSERT_EQ(heartbeat({{"nodeId", "mac-1"}, {"status", "degraded"}, {"statusReason", reason}}), 200);
    const auto node = json::parse(client.get("/api/nodes/mac-1").body);
    EXPECT_EQ(node["status"], "degraded");
    EXPECT_EQ(node["statusReason"], reason);
    EXPECT_EQ(json::parse(client.get("/api/nodes").body)[0]["statusReason"], reason);

    ASSERT_EQ(heartbeat({{"nodeId", "mac-1"}, {"status", "idle"}}), 200);
    const auto healed = json::parse(client.get("/api/nodes/mac-1").body);
    EXPECT_EQ(healed["status"], "idle");
    EXPECT_FALSE(healed.contains("statusReason")) << healed.dump();
}

TEST_F(HttpApiTest, ANumberTooLargeForADoubleIsA400NotACrash) {
    expect_refused(client.post_json("/api/heartbeat", R"({"nodeId":"mac-1","cpuUsagePercent":1e400})"), 400);
    expect_refused(client.post_json("/api/schedule-vm", R"({"imageName":"x","memoryGB":1e999})"), 400);
}

TEST_F(HttpApiTest, HugeArraysAreRefusedNotStored) {
    json images = json::array();
    for (int i = 0; i < 257; ++i) images.push_back("image-" + std::to_string(i));
    auto answer = client.post_json("/api/heartbeat", json{{"nodeId", "mac-1"}, {"cachedImages", images}}.dump());
    expect_refused(answer, 422);
    EXPECT_EQ(json::parse(answer.body)["field"], "cachedImages");

    json vms = json::array();
    for (int i = 0; i < 65; ++i) vms.push_back({{"vmId", "vm-" + std::to_string(i)}, {"imageName", "x"}});
    answer = client.post_json("/api/heartbeat", json{{"nodeId", "mac-1"}, {"vmCount", 65}, {"vms", vms}}.dump());
    expect_refused(answer, 422);
    EXPECT_EQ(json::parse(answer.body)["field"], "vms");

    // A million images do not fit the body limit: refused before anything is parsed.
    std::string million = R"({"nodeId":"mac-1","cachedImages":[)";
    for (int i = 0; i < 1'000'000; ++i) million += i == 0 ? "\"x\"" : ",\"x\"";
    million += "]}";
    expect_refused(client.post_json("/api/heartbeat", million), 413);
}
