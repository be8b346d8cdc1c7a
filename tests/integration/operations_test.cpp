// What operators watch: Prometheus metrics and the health endpoints.

#include "raw_connection.hpp"
#include "test_daemon.hpp"

#include "macvmorx/orchestrator/orchestrator.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstring>

using macvmorx::testing::TestDaemon;
using nlohmann::json;

namespace {

// Whether `line` is `macvmorx_name{labels} value`: a lower-case name in the project's namespace,
// labels in braces, a number. (No std::regex: GCC 12 warns inside it under the sanitizers.)
bool is_sample_line(const std::string& line) {
    if (!line.starts_with("macvmorx_")) return false;
    std::size_t at = 0;
    while (at < line.size() && (std::islower(static_cast<unsigned char>(line[at])) || line[at] == '_')) ++at;
    if (at < line.size() && line[at] == '{') {
        const auto close = line.rfind("} ");
        if (close == std::string::npos || close < at) return false;
        at = close + 1;
    }
    if (at >= line.size() || line[at] != ' ' || at + 1 == line.size()) return false;
    const std::string value = line.substr(at + 1);
    return std::all_of(value.begin(), value.end(),
                       [](char c) { return std::isdigit(static_cast<unsigned char>(c)) || std::strchr("+-.eInfNa", c); });
}

// The value of one sample in a Prometheus text exposition, or -1.
double sample(const std::string& text, const std::string& series) {
    const auto at = text.find("\n" + series + " ");
    if (at == std::string::npos) return -1;
    return std::stod(text.substr(at + series.size() + 2));
}

} // namespace

TEST(Operations, HealthAndReadiness) {
    TestDaemon server;
    auto client = server.client();
    const auto health = client.get("/healthz");
    EXPECT_EQ(health.status, 200);
    EXPECT_EQ(json::parse(health.body)["status"], "ok");
    EXPECT_EQ(client.get("/readyz").status, 200);
}

TEST(Operations, MetricsCountNodesVmsHeartbeatsPlacementsAndRequests) {
    TestDaemon server;
    auto client = server.client();
    client.post_json("/api/heartbeat", R"({"nodeId":"mac-1","cpuUsagePercent":40,"totalMemoryGB":16,"memoryUsageGB":4,
                                          "cachedImages":["sonoma"]})");
    client.post_json("/api/heartbeat", R"({"nodeId":"mac-2","cpuUsagePercent":90})");
    client.post_json("/api/heartbeat", R"({"nodeId":"mac-2","cpuUsagePercent":140})");  // 422
    client.post_json("/api/heartbeat", R"({"nodeId":)");                                 // 400
    {
        macvmorx::testing::RawConnection raw{server.port()};                            // 413
        raw.send("POST /api/heartbeat HTTP/1.1\r\nHost: x\r\nContent-Length: 9999999\r\n\r\n");
        raw.read_response();
    }
    client.post_json("/api/schedule-vm", R"({"imageName":"sonoma"})");    // cached
    client.post_json("/api/schedule-vm", R"({"imageName":"ventura"})");   // download
    client.post_json("/api/schedule-vm", R"({"imageName":"ventura"})");   // the download attracts it
    client.post_json("/api/schedule-vm", R"({"imageName":"x"})");         // mac-2's second slot
    client.post_json("/api/schedule-vm", R"({"imageName":"x"})");         // full: 503
    client.post_json("/api/schedule-vm", R"({"imageName":"x","wait":true})"); // queued

    const auto response = client.get("/metrics");
    ASSERT_EQ(response.status, 200);
    EXPECT_EQ(response.header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
    const std::string& text = response.body;

    EXPECT_EQ(sample(text, "macvmorx_build_info{version=\"0.1.0\"}"), 1);
    EXPECT_EQ(sample(text, "macvmorx_nodes{state=\"online\"}"), 2);
    EXPECT_EQ(sample(text, "macvmorx_nodes{state=\"offline\"}"), 0);
    EXPECT_EQ(sample(text, "macvmorx_vm_slots{kind=\"total\"}"), 4);
    EXPECT_EQ(sample(text, "macvmorx_vm_slots{kind=\"free\"}"), 0);
    EXPECT_EQ(sample(text, "macvmorx_vms{state=\"assigned\"}"), 4);
    EXPECT_EQ(sample(text, "macvmorx_vms{state=\"pending\"}"), 1);
    EXPECT_EQ(sample(text, "macvmorx_placement_queue_length"), 1);

    EXPECT_EQ(sample(text, "macvmorx_heartbeats_received_total"), 5);
    EXPECT_EQ(sample(text, "macvmorx_heartbeats_rejected_total{reason=\"invalid_value\"}"), 1);
    EXPECT_EQ(sample(text, "macvmorx_heartbeats_rejected_total{reason=\"malformed\"}"), 1);
    EXPECT_EQ(sample(text, "macvmorx_heartbeats_rejected_total{reason=\"too_large\"}"), 1);

    EXPECT_EQ(sample(text, "macvmorx_placements_total{result=\"cached_image\"}"), 2);
    EXPECT_EQ(sample(text, "macvmorx_placements_total{result=\"download\"}"), 2);
    EXPECT_EQ(sample(text, "macvmorx_placements_total{result=\"no_capacity\"}"), 1);
    EXPECT_EQ(sample(text, "macvmorx_placements_total{result=\"queued\"}"), 1);
    EXPECT_EQ(sample(text, "macvmorx_placement_decision_duration_seconds_count"), 5) << "4 placed, 1 refused";

    EXPECT_EQ(sample(text, "macvmorx_http_requests_total{route=\"/api/heartbeat\",method=\"POST\",status=\"200\"}"), 2);
    EXPECT_EQ(sample(text, "macvmorx_http_requests_total{route=\"/api/schedule-vm\",method=\"POST\",status=\"503\"}"), 1);
    EXPECT_GE(sample(text, "macvmorx_http_request_duration_seconds_count{route=\"/api/heartbeat\",method=\"POST\"}"), 4);
    EXPECT_EQ(sample(text, "macvmorx_http_requests_refused_total{status=\"413\"}"), 1);

    EXPECT_EQ(sample(text, "macvmorx_node_cpu_usage_ratio{node=\"mac-1\"}"), 0.4);
    EXPECT_EQ(sample(text, "macvmorx_node_memory_total_bytes{node=\"mac-1\"}"), 16.0 * 1024 * 1024 * 1024);
    EXPECT_EQ(sample(text, "macvmorx_node_online{node=\"mac-2\"}"), 1);

    // Every sample line belongs to a family announced by # TYPE, and names follow the conventions.
    std::istringstream lines{text};
    std::string line;
    while (std::getline(lines, line)) {
        if (line.starts_with("#")) continue;
        EXPECT_TRUE(is_sample_line(line)) << line;
    }
}

TEST(Operations, TheStartOfAVmIsTimedFromPlacementToRunning) {
    TestDaemon server;
    auto client = server.client();
    client.post_json("/api/heartbeat", R"({"nodeId":"mac-1"})");
    client.post_json("/api/schedule-vm", R"({"imageName":"sonoma","vmId":"job-1"})");
    server.clock().advance(std::chrono::seconds{42});
    client.post_json("/api/heartbeat", R"({"nodeId":"mac-1","vms":[{"vmId":"job-1","imageName":"sonoma"}]})");
    const auto text = client.get("/metrics").body;
    EXPECT_EQ(sample(text, "macvmorx_vm_start_duration_seconds_count"), 1);
    EXPECT_EQ(sample(text, "macvmorx_vm_start_duration_seconds_sum"), 42);
    EXPECT_EQ(sample(text, "macvmorx_vm_start_duration_seconds_bucket{le=\"30\"}"), 0);
    EXPECT_EQ(sample(text, "macvmorx_vm_start_duration_seconds_bucket{le=\"60\"}"), 1);
}

TEST(Operations, FailedPlacementsAreCountedByCauseAndLostVmsByTheirHostGoingOffline) {
    TestDaemon server;
    auto client = server.client();
    // mac-1 speaks the agent protocol (it reports events), mac-2 is there to take retries.
    client.post_json("/api/heartbeat", R"({"nodeId":"mac-1","cachedImages":["sonoma"]})");
    client.post_json("/api/heartbeat", R"({"nodeId":"mac-2"})");
    ASSERT_EQ(client.post_json("/api/schedule-vm", R"({"imageName":"sonoma","vmId":"job-1"})").status, 200);
    ASSERT_EQ(client.post_json("/api/vms/job-1/events", R"({"state":"failed","message":"tart pull: 404"})").status, 200);
    EXPECT_EQ(json::parse(client.get("/api/vms/job-1").body)["state"], "assigned") << "placed again";

    // The second VM runs on its host, then the host falls silent.
    ASSERT_EQ(client.post_json("/api/schedule-vm", R"({"imageName":"ventura","vmId":"job-2"})").status, 200);
    const std::string host = json::parse(client.get("/api/vms/job-2").body)["nodeId"];
    client.post_json("/api/heartbeat",
                     R"({"nodeId":")" + host + R"(","vms":[{"vmId":"job-2","imageName":"ventura"}]})");
    ASSERT_EQ(json::parse(client.get("/api/vms/job-2").body)["state"], "running");
    server.clock().advance(std::chrono::minutes{5});
    server.daemon().orchestrator().sweep();

    const auto text = client.get("/metrics").body;
    EXPECT_EQ(sample(text, "macvmorx_vm_failures_total{cause=\"agent_reported\",outcome=\"placed_again\"}"), 1);
    EXPECT_EQ(sample(text, "macvmorx_vm_failures_total{cause=\"agent_reported\",outcome=\"failed\"}"), 0);
    EXPECT_EQ(sample(text, "macvmorx_vm_failures_total{cause=\"start_deadline\",outcome=\"failed\"}"), 0);
    EXPECT_EQ(sample(text, "macvmorx_vms_lost_total"), 1);
    EXPECT_EQ(sample(text, "macvmorx_heartbeats_rejected_total{reason=\"unsupported_media_type\"}"), 0)
        << "the usual reasons are written before their first refusal";
}
