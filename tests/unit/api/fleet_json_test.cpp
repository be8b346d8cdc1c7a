#include "macvmorx/api/fleet_json.hpp"
#include "macvmorx/base/invalid_input.hpp"

#include "macvmorx/base/timestamp.hpp"
#include "macvmorx/http/http_error.hpp"
#include "macvmorx/json/json_writer.hpp"
#include "macvmorx/protocol/heartbeat_json.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

using macvmorx::protocol::parse_heartbeat;
using macvmorx::InvalidInput;

namespace {

// The heartbeat of the README's walkthrough.
const char* const full_heartbeat = R"({
    "nodeId": "mac-mini-001",
    "vmCount": 1,
    "vms": [{"vmId": "vm-001-job-abc", "imageName": "macos-sonoma-runner", "runtimeSeconds": 3600,
             "vmHostname": "runner-abc", "vmIpAddress": "10.0.0.101"}],
    "cpuUsagePercent": 45.2, "memoryUsageGB": 8.5, "totalMemoryGB": 16.0,
    "diskUsageGB": 150.0, "totalDiskGB": 500.0, "status": "healthy",
    "cachedImages": ["macos-sonoma-runner", "macos-ventura-base"]
})";

// Parses `body` expecting a refusal; returns the status and the field it names.
std::pair<int, std::string> refusal(const std::string& body) {
    try {
        parse_heartbeat(body);
    } catch (const InvalidInput& error) {
        return {error.kind() == InvalidInput::Kind::malformed ? 400 : 422, error.field()};
    }
    ADD_FAILURE() << "accepted: " << body;
    return {0, ""};
}

std::string with(const std::string& member) { return R"({"nodeId":"mac-1",)" + member + "}"; }

} // namespace

TEST(HeartbeatJson, ReadsEveryField) {
    const auto heartbeat = parse_heartbeat(full_heartbeat);
    EXPECT_EQ(heartbeat.node_id, "mac-mini-001");
    EXPECT_EQ(heartbeat.vm_count, 1);
    ASSERT_EQ(heartbeat.vms.size(), 1u);
    EXPECT_EQ(heartbeat.vms[0].vm_id, "vm-001-job-abc");
    EXPECT_EQ(heartbeat.vms[0].image_name, "macos-sonoma-runner");
    EXPECT_EQ(heartbeat.vms[0].runtime_seconds, 3600);
    EXPECT_EQ(heartbeat.vms[0].vm_hostname, "runner-abc");
    EXPECT_EQ(heartbeat.vms[0].vm_ip_address, "10.0.0.101");
    EXPECT_DOUBLE_EQ(heartbeat.cpu_usage_percent, 45.2);
    EXPECT_DOUBLE_EQ(heartbeat.memory_usage_gb, 8.5);
    EXPECT_DOUBLE_EQ(heartbeat.total_memory_gb, 16);
    EXPECT_DOUBLE_EQ(heartbeat.disk_usage_gb, 150);
    EXPECT_DOUBLE_EQ(heartbeat.total_disk_gb, 500);
    EXPECT_EQ(heartbeat.status, "healthy");
    EXPECT_EQ(heartbeat.cached_images, (std::vector<std::string>{"macos-sonoma-runner", "macos-ventura-base"}));
}

TEST(HeartbeatJson, OnlyNodeIdIsRequiredAndOtherFieldsTakeDefaults) {
    const auto heartbeat = parse_heartbeat(R"({"nodeId":"mac-1"})");
    EXPECT_EQ(heartbeat.node_id, "mac-1");
    EXPECT_EQ(heartbeat.vm_count, 0);
    EXPECT_TRUE(heartbeat.vms.empty());
    EXPECT_EQ(heartbeat.cpu_usage_percent, 0);
    EXPECT_EQ(heartbeat.status, "unknown");
    EXPECT_TRUE(heartbeat.cached_images.empty());
}

TEST(HeartbeatJson, IgnoresUnknownFieldsAndTreatsNullAsAbsent) {
    const auto heartbeat = parse_heartbeat(R"({"nodeId":"mac-1","agentVersion":"9.9","extra":{"a":[1,2]},
        "vms":null,"status":null,"cachedImages":null})");
    EXPECT_EQ(heartbeat.node_id, "mac-1");
    EXPECT_TRUE(heartbeat.vms.empty());
}

TEST(HeartbeatJson, VmCountDefaultsToTheListedVms) {
    const auto heartbeat = parse_heartbeat(with(R"("vms":[{"vmId":"a"},{"vmId":"b"}])"));
    EXPECT_EQ(heartbeat.vm_count, 2);
    EXPECT_EQ(heartbeat.running_vms(), 2);
}

TEST(HeartbeatJson, MalformedJsonOrAMissingOrMistypedFieldIsA400) {
    EXPECT_EQ(refusal("").first, 400);
    EXPECT_EQ(refusal("{").first, 400);
    EXPECT_EQ(refusal("[]").first, 400);
    EXPECT_EQ(refusal(R"({"nodeId":"a",})").first, 400);
    EXPECT_EQ(refusal("{}"), std::make_pair(400, std::string("nodeId")));
    EXPECT_EQ(refusal(R"({"nodeId":7})"), std::make_pair(400, std::string("nodeId")));
    EXPECT_EQ(refusal(with(R"("cpuUsagePercent":"high")")), std::make_pair(400, std::string("cpuUsagePercent")));
    EXPECT_EQ(refusal(with(R"("vms":{})")), std::make_pair(400, std::string("vms")));
    EXPECT_EQ(refusal(with(R"("vms":[{"imageName":"x"}])")), std::make_pair(400, std::string("vms[0].vmId")));
    EXPECT_EQ(refusal(with(R"("cachedImages":[1])")), std::make_pair(400, std::string("cachedImages[0]")));
    EXPECT_EQ(refusal(with(R"("vmCount":1.5)")), std::make_pair(400, std::string("vmCount")));
    EXPECT_EQ(refusal(with(R"("statusReason":7)")), std::make_pair(400, std::string("statusReason")));
    EXPECT_EQ(refusal(with(R"("statusReason":["locked"])")), std::make_pair(400, std::string("statusReason")));
}

TEST(HeartbeatJson, AValueOutOfRangeIsA422NamingTheField) {
    EXPECT_EQ(refusal(R"({"nodeId":""})"), std::make_pair(422, std::string("nodeId")));
    EXPECT_EQ(refusal(R"({"nodeId":"has space"})"), std::make_pair(422, std::string("nodeId")));
    EXPECT_EQ(refusal(R"({"nodeId":"mac/1"})"), std::make_pair(422, std::string("nodeId")));
    EXPECT_EQ(refusal(R"({"nodeId":")" + std::string(129, 'a') + R"("})"), std::make_pair(422, std::string("nodeId")));
    EXPECT_EQ(refusal(with(R"("cpuUsagePercent":100.5)")), std::make_pair(422, std::string("cpuUsagePercent")));
    EXPECT_EQ(refusal(with(R"("cpuUsagePercent":-1)")), std::make_pair(422, std::string("cpuUsagePercent")));
    EXPECT_EQ(refusal(with(R"("memoryUsageGB":-0.5)")), std::make_pair(422, std::string("memoryUsageGB")));
    EXPECT_EQ(refusal(with(R"("totalDiskGB":-1)")), std::make_pair(422, std::string("totalDiskGB")));
    EXPECT_EQ(refusal(with(R"("vmCount":-1)")), std::make_pair(422, std::string("vmCount")));
    EXPECT_EQ(refusal(with(R"("vms":[{"vmId":"a","runtimeSeconds":-5}])")),
              std::make_pair(422, std::string("vms[0].runtimeSeconds")));
    EXPECT_EQ(refusal(with(R"("cachedImages":["has space"])")), std::make_pair(422, std::string("cachedImages[0]")));
    EXPECT_EQ(refusal(with(R"("status":"a\u0000b")")), std::make_pair(422, std::string("status")));
    EXPECT_EQ(refusal(with(R"("agentInstance":")" + std::string(65, 'a') + R"(")")),
              std::make_pair(422, std::string("agentInstance")));
    EXPECT_EQ(refusal(with(R"("agentInstance":"a b")")), std::make_pair(422, std::string("agentInstance")));
    EXPECT_EQ(refusal(with(R"("agentInstance":7)")), std::make_pair(400, std::string("agentInstance")));
    EXPECT_EQ(refusal(with(R"("peerUrl":"http://mac 7:9100")")), std::make_pair(422, std::string("peerUrl")));
    EXPECT_EQ(refusal(with(R"("peerUrl":")" + std::string(257, 'h') + R"(")")), std::make_pair(422, std::string("peerUrl")));
    EXPECT_EQ(refusal(with(R"("peerUrl":9100)")), std::make_pair(400, std::string("peerUrl")));
    EXPECT_EQ(refusal(with(R"("statusReason":")" + std::string(513, 'r') + R"(")")),
              std::make_pair(422, std::string("statusReason")));
    EXPECT_EQ(refusal(with(R"("statusReason":"two\nlines")")), std::make_pair(422, std::string("statusReason")));
    EXPECT_EQ(refusal(with(R"("statusReason":"bell\u0007")")), std::make_pair(422, std::string("statusReason")));
    EXPECT_EQ(refusal(with(R"("statusReason":"del\u007f")")), std::make_pair(422, std::string("statusReason")));
}

TEST(HeartbeatJson, TheAgentInstanceAndPeerUrlAreReadAndWrittenBack) {
    const auto heartbeat =
        parse_heartbeat(with(R"("agentInstance":"5f0c9a3e71d2b846","peerUrl":"http://[fd00::7]:9100")"));
    EXPECT_EQ(heartbeat.agent_instance, "5f0c9a3e71d2b846");
    EXPECT_EQ(heartbeat.peer_url, "http://[fd00::7]:9100");
    std::string out;
    macvmorx::JsonWriter json{out};
    macvmorx::protocol::write_heartbeat(json, heartbeat);
    EXPECT_TRUE(parse_heartbeat(out) == heartbeat) << out;
    EXPECT_TRUE(parse_heartbeat(R"({"nodeId":"mac-1"})").agent_instance.empty()) << "optional";
}

TEST(HeartbeatJson, TheStatusReasonIsReadAndWrittenBackOnlyWhenGiven) {
    // As JSON text: quotes escaped, and a character beyond ASCII.
    const std::string reason = R"(the login keychain is locked: run \"security unlock-keychain\" — or log in)";
    const auto heartbeat = parse_heartbeat(with(R"("status":"degraded","statusReason":")" + reason + R"(")"));
    EXPECT_EQ(heartbeat.status_reason, "the login keychain is locked: run \"security unlock-keychain\" — or log in");
    std::string out;
    macvmorx::JsonWriter json{out};
    macvmorx::protocol::write_heartbeat(json, heartbeat);
    EXPECT_TRUE(parse_heartbeat(out) == heartbeat) << out;

    EXPECT_EQ(parse_heartbeat(with(R"("statusReason":")" + std::string(512, 'r') + R"(")")).status_reason.size(), 512u);
    EXPECT_TRUE(parse_heartbeat(with(R"("statusReason":null)")).status_reason.empty());
    const auto without = parse_heartbeat(R"({"nodeId":"mac-1","status":"degraded"})");
    EXPECT_TRUE(without.status_reason.empty()) << "optional";
    out.clear();
    macvmorx::JsonWriter plain{out};
    macvmorx::protocol::write_heartbeat(plain, without);
    EXPECT_FALSE(nlohmann::json::parse(out).contains("statusReason")) << out;
}

TEST(HeartbeatJson, ANodeIdUsesTheWholeAllowedAlphabet) {
    EXPECT_EQ(parse_heartbeat(R"({"nodeId":"Mac_mini-01.lab"})").node_id, "Mac_mini-01.lab");
    EXPECT_EQ(parse_heartbeat(R"({"nodeId":")" + std::string(128, 'a') + R"("})").node_id.size(), 128u);
}

TEST(HeartbeatJson, OversizedListsAreRefusedNotStored) {
    std::string images = R"("cachedImages":[)";
    for (int i = 0; i < 300; ++i) images += (i ? ",\"img-" : "\"img-") + std::to_string(i) + "\"";
    images += "]";
    EXPECT_EQ(refusal(with(images)), std::make_pair(422, std::string("cachedImages")));
}

TEST(HeartbeatJson, DeepNestingIsRefusedBeforeParsing) {
    const std::string deep = with(R"("extra":)" + std::string(10'000, '[') + std::string(10'000, ']'));
    EXPECT_EQ(refusal(deep).first, 400);
}

TEST(NodeJson, WritesTheHeartbeatFieldsAndTheTimes) {
    macvmorx::fleet::NodeRecord node;
    node.report = parse_heartbeat(full_heartbeat);
    node.first_seen = macvmorx::from_unix_millis(1'000);
    node.last_seen = macvmorx::from_unix_millis(61'000);
    node.online = false;
    std::string out;
    macvmorx::JsonWriter json{out};
    macvmorx::api::write_node(json, node, {2, 0});

    const auto written = nlohmann::json::parse(out);
    auto expected = nlohmann::json::parse(full_heartbeat);
    for (const auto& [key, value] : expected.items()) EXPECT_EQ(written.at(key), value) << key;
    EXPECT_EQ(written.at("lastSeen"), "1970-01-01T00:01:01.000Z");
    EXPECT_EQ(written.at("firstSeen"), "1970-01-01T00:00:01.000Z");
    EXPECT_EQ(written.at("isOnline"), false);
    EXPECT_EQ(written.at("freeSlots"), 0) << "an offline node has no free slot";
    EXPECT_EQ(written.at("maxVms"), 2);
}

TEST(NodeJson, WritesTheStatusReasonOnlyWhenTheAgentGaveOne) {
    macvmorx::fleet::NodeRecord node;
    node.report =
        parse_heartbeat(R"({"nodeId":"mac-1","status":"degraded","statusReason":"the login keychain is locked"})");
    std::string out;
    macvmorx::JsonWriter json{out};
    macvmorx::api::write_node(json, node, {2, 0});
    EXPECT_EQ(nlohmann::json::parse(out).at("statusReason"), "the login keychain is locked");

    node.report.status_reason.clear();
    out.clear();
    macvmorx::JsonWriter again{out};
    macvmorx::api::write_node(again, node, {2, 0});
    EXPECT_FALSE(nlohmann::json::parse(out).contains("statusReason")) << out;
}

TEST(NodeJson, FreeSlotsCountReportedVmsAndReservations) {
    macvmorx::fleet::NodeRecord node;
    node.report = parse_heartbeat(R"({"nodeId":"mac-1","vms":[{"vmId":"a"}],"labels":{"arch":"arm64"}})");
    std::string out;
    macvmorx::JsonWriter json{out};
    macvmorx::api::write_node(json, node, {3, 1});
    const auto written = nlohmann::json::parse(out);
    EXPECT_EQ(written.at("freeSlots"), 1);
    EXPECT_EQ(written.at("reservedSlots"), 1);
    EXPECT_EQ(written.at("labels"), nlohmann::json::parse(R"({"arch":"arm64"})"));
    EXPECT_EQ(written.at("drained"), false);
}

TEST(HeartbeatJson, LabelsComeAsAnObjectOrAnArray) {
    using macvmorx::protocol::Labels;
    EXPECT_EQ(parse_heartbeat(with(R"("labels":{"chip":"m2","arch":"arm64"})")).labels,
              (Labels{{"arch", "arm64"}, {"chip", "m2"}}));
    EXPECT_EQ(parse_heartbeat(with(R"("labels":["xcode=16.1","arm64"])")).labels,
              (Labels{{"arm64", ""}, {"xcode", "16.1"}}));
    EXPECT_EQ(refusal(with(R"("labels":"arm64")")), std::make_pair(400, std::string("labels")));
    EXPECT_EQ(refusal(with(R"("labels":{"arch":1})")), std::make_pair(400, std::string("labels.arch")));
    EXPECT_EQ(refusal(with(R"("labels":["has space"])")), std::make_pair(422, std::string("labels[0]")));
}
