// The heartbeat's fast path (simdjson) must never disagree with the checked parser: same
// heartbeat for what both accept, and only what the checked parser accepts.

#include "protocol/heartbeat_fast_path.hpp"
#include "macvmorx/base/invalid_input.hpp"
#include "macvmorx/protocol/heartbeat_json.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <random>

using macvmorx::protocol::parse_heartbeat;
using macvmorx::protocol::parse_heartbeat_checked;
using macvmorx::protocol::parse_heartbeat_fast;
using nlohmann::json;

namespace {

const json full = json::parse(R"({
    "nodeId": "mac-mini-001", "vmCount": 1,
    "vms": [{"vmId": "vm-1", "imageName": "ghcr.io/acme/macos:15", "runtimeSeconds": 3600,
             "vmHostname": "runner-1", "vmIpAddress": "10.0.0.101"}],
    "cpuUsagePercent": 45.2, "memoryUsageGB": 8.5, "totalMemoryGB": 16.0,
    "diskUsageGB": 150.0, "totalDiskGB": 500.0, "status": "degraded",
    "statusReason": "the login keychain is locked: tart cannot read the registry's password",
    "cachedImages": ["ghcr.io/acme/macos:15", "macos-ventura-base"],
    "pullingImages": ["ghcr.io/acme/macos:16", "s3://lab-images/sequoia.aar"],
    "labels": {"arch": "arm64", "xcode": "16.1"}, "agentInstance": "5f0c9a3e71d2b846",
    "peerUrl": "http://mac-mini-001.lab:9100"
})");

struct Outcome {
    bool accepted = false;
    macvmorx::protocol::Heartbeat heartbeat;
    int status = 0;
    std::string field;
};

template <typename Parse>
Outcome outcome_of(Parse parse, const std::string& body) {
    Outcome outcome;
    try {
        outcome.heartbeat = parse(body);
        outcome.accepted = true;
    } catch (const macvmorx::InvalidInput& error) {
        outcome.status = error.kind() == macvmorx::InvalidInput::Kind::malformed ? 400 : 422;
        outcome.field = error.field();
    }
    return outcome;
}

// The full parser and the checked one give the same answer, and the fast path never accepts
// what the checked one refuses, nor returns anything else.
void expect_agreement(const std::string& body) {
    const auto reference = outcome_of(parse_heartbeat_checked, body);
    const auto combined = outcome_of([](const std::string& b) { return parse_heartbeat(b); }, body);
    EXPECT_EQ(combined.accepted, reference.accepted) << body;
    EXPECT_EQ(combined.status, reference.status) << body;
    EXPECT_EQ(combined.field, reference.field) << body;
    if (reference.accepted && combined.accepted) {
        EXPECT_TRUE(combined.heartbeat == reference.heartbeat) << body;
    }
    const auto fast = parse_heartbeat_fast(body);
    if (fast) {
        EXPECT_TRUE(reference.accepted) << "the fast path accepted what the checked parser refuses: " << body;
        if (reference.accepted) {
            EXPECT_TRUE(*fast == reference.heartbeat) << body;
        }
    }
}

} // namespace

TEST(HeartbeatFastPath, TakesValidHeartbeats) {
    const auto fast = parse_heartbeat_fast(full.dump());
    ASSERT_TRUE(fast);
    EXPECT_TRUE(*fast == parse_heartbeat_checked(full.dump()));
    EXPECT_EQ(fast->agent_instance, "5f0c9a3e71d2b846");
    EXPECT_EQ(fast->peer_url, "http://mac-mini-001.lab:9100");
    EXPECT_EQ(fast->status_reason, "the login keychain is locked: tart cannot read the registry's password");
    EXPECT_EQ(fast->pulling_images, (std::vector<std::string>{"ghcr.io/acme/macos:16", "s3://lab-images/sequoia.aar"}));
    ASSERT_TRUE(parse_heartbeat_fast(R"({"nodeId":"a"})"));
    EXPECT_EQ(parse_heartbeat_fast(R"({"nodeId":"a"})")->status, "unknown");
    EXPECT_TRUE(parse_heartbeat_fast(R"({"nodeId":"a","labels":["arm64","xcode=16"]})"));
}

TEST(HeartbeatFastPath, AgreesWhenEveryFieldTakesEveryKindOfValue) {
    const std::vector<json> values{
        nullptr, true, 0, -1, 1, 64, 65, 1.5, 2.0, 100, 100.5, -0.0, 1e6, 1e7, 9223372036854775807ull,
        18446744073709551615ull, "", "x", "has space", "a\u0001b", "ghcr.io/x:1", std::string(129, 'a'),
        std::string(64, 'c'), std::string(65, 'c'), std::string(300, 'b'), json::array(), json::array({"a"}), json::array({1}), json::object(),
        json::object({{"k", "v"}}), json::object({{"k", 1}}), json::array({json::object({{"vmId", "v"}})}),
        json::array({json::object({{"imageName", "x"}})}), json::array({nullptr}), "é", "日本",
        std::string(512, 'r'), std::string(513, 'r'), "two\nlines", "tab\there", "del\x7f", "a \"quoted\" reason",
    };
    for (const auto& [key, ignored] : full.items()) {
        for (const auto& value : values) {
            json body = full;
            body[key] = value;
            expect_agreement(body.dump());
        }
    }
    for (const auto& value : values) {
        json body = full;
        body["pullingImages"] = json::array({value});
        expect_agreement(body.dump());
        body = full;
        body["vms"][0]["runtimeSeconds"] = value;
        expect_agreement(body.dump());
        body = full;
        body["vms"][0]["vmId"] = value;
        expect_agreement(body.dump());
        body = full;
        body["labels"] = json::object({{"k", value}});
        expect_agreement(body.dump());
    }
}

TEST(HeartbeatFastPath, AgreesOnRepeatedKeysNullsAndOddDocuments) {
    for (const std::string body : {
             R"({"nodeId":"a","nodeId":"b"})",
             R"({"nodeId":"a","nodeId":null})",
             R"({"nodeId":"a","cpuUsagePercent":10,"cpuUsagePercent":200})",
             R"({"nodeId":"a","cpuUsagePercent":200,"cpuUsagePercent":10})",
             R"({"nodeId":"a","vms":[{"vmId":"x"}],"vms":null})",
             R"({"nodeId":"a","labels":{"a":"1","a":"2"}})",
             R"({"nodeId":"a","vms":[{"vmId":"x","vmId":"y"}]})",
             R"({"nodeId":"a","cpuUsagePercent":1e400})",
             R"({"nodeId":"a","vmCount":1e2})",
             R"({"nodeId":"a","extra":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]})",
             R"({"nodeId":"a","extra":[1,2,}  )",
             R"({"nodeId":"a"} trailing)",
             "\xEF\xBB\xBF{\"nodeId\":\"a\"}",
             "{\"nodeId\":\"\xC3\x28\"}",
             R"([{"nodeId":"a"}])",
             R"("just a string")",
             "",
             " ",
             R"({"nodeId":"a","status":"\u0000"})",
             R"({"nodeId":"a","statusReason":"locked","statusReason":null})",
             R"({"nodeId":"a","statusReason":null,"statusReason":"locked"})",
             R"({"nodeId":"a","statusReason":"locked","statusReason":7})",
             R"({"nodeId":"a","statusReason":"\u001b[31mred"})",
             R"({"nodeId":"a","labels":[]})",
             R"({"nodeId":"a","labels":["=x"]})",
             R"({"nodeId":"a","labels":["k="]})",
             R"({"nodeId":"a","pullingImages":["x"],"pullingImages":null})",
             R"({"nodeId":"a","pullingImages":null,"pullingImages":["x"]})",
             R"({"nodeId":"a","pullingImages":["x"],"pullingImages":["has space"]})",
             R"({"nodeId":"a","pullingImages":["x",null]})",
             R"({"nodeId":"a","pullingImages":{"x":"y"}})",
             R"({"nodeId":"a","cachedImages":["x"],"pullingImages":["x"]})",
         }) {
        expect_agreement(body);
    }
}

TEST(HeartbeatFastPath, TakesPullingImagesRatherThanFallingBackAndAgreesAtTheirLimit) {
    json body = full;
    body["pullingImages"] = json::array();
    for (std::size_t i = 0; i < macvmorx::protocol::max_cached_images; ++i) body["pullingImages"].push_back("img-" + std::to_string(i));
    ASSERT_TRUE(parse_heartbeat_fast(body.dump())) << "the most a heartbeat may list";
    expect_agreement(body.dump());
    body["pullingImages"].push_back("one-more");
    EXPECT_FALSE(parse_heartbeat_fast(body.dump()));
    expect_agreement(body.dump());
}

TEST(HeartbeatFastPath, AgreesAtEveryDepthAroundTheLimit) {
    for (int depth = 25; depth <= 40; ++depth) {
        expect_agreement(R"({"nodeId":"a","extra":)" + std::string(static_cast<std::size_t>(depth), '[') +
                         std::string(static_cast<std::size_t>(depth), ']') + "}");
        std::string objects = R"({"nodeId":"a","x":)";
        for (int i = 0; i < depth; ++i) objects += R"({"y":)";
        objects += "1" + std::string(static_cast<std::size_t>(depth), '}') + "}";
        expect_agreement(objects);
    }
}

TEST(HeartbeatFastPath, AgreesOnRandomlyDamagedHeartbeats) {
    const std::string original = full.dump();
    std::mt19937 random{12345};
    std::uniform_int_distribution<std::size_t> position{0, original.size() - 1};
    std::uniform_int_distribution<int> byte{0, 255};
    static constexpr char structural[] = "{}[]\",:0123456789.-enultrfa\\ ";
    std::uniform_int_distribution<std::size_t> pick{0, sizeof structural - 2};
    for (int round = 0; round < 3000; ++round) {
        std::string body = original;
        const int edits = 1 + round % 4;
        for (int e = 0; e < edits; ++e) {
            const auto at = position(random);
            switch (round % 3) {
            case 0: body[at] = static_cast<char>(byte(random)); break;
            case 1: body[at] = structural[pick(random)]; break;
            default: body.erase(at, 1 + at % 5); break;
            }
            if (body.empty()) break;
            position = std::uniform_int_distribution<std::size_t>{0, body.size() - 1};
        }
        position = std::uniform_int_distribution<std::size_t>{0, original.size() - 1};
        expect_agreement(body);
    }
}
