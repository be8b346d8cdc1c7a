// Scheduling through the real daemon (docs/scheduling.md): an operator's pin brings an image to
// hosts ahead of demand, a waiting VM says why it waits, tenants share the fleet, and bad input
// changes nothing.

#include "test_daemon.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <set>
#include <thread>
#include <vector>
#include <string>

using namespace std::chrono_literals;
using macvmorx::testing::TestDaemon;
using nlohmann::json;

namespace {

macvmorx::config::ServerConfig quick_sweeps() {
    auto config = macvmorx::testing::test_config();
    config.monitor_interval = std::chrono::milliseconds{100};
    return config;
}

class SchedulingTest : public ::testing::Test {
protected:
    TestDaemon server{quick_sweeps()};
    macvmorx::http::HttpClient client = server.client();

    // A heartbeat; returns the commands of its answer.
    json beat(const std::string& node_id, const json& cached = json::array(), const json& pulling = json::array(),
              int vms = 0) {
        json body{{"nodeId", node_id}, {"cachedImages", cached}, {"pullingImages", pulling}, {"totalMemoryGB", 16},
                  {"totalDiskGB", 500}, {"vmCount", vms}};
        const auto response = client.post_json("/api/heartbeat", body.dump());
        EXPECT_EQ(response.status, 200) << response.body;
        const auto answer = json::parse(response.body, nullptr, false);
        return answer.is_object() && answer.contains("commands") ? answer["commands"] : json::array();
    }
    macvmorx::http::ClientResponse put(const std::string& target, const std::string& body) {
        return client.request(macvmorx::http::Method::put, target, body, {{"Content-Type", "application/json"}});
    }
    json images() { return json::parse(client.get("/api/images").body); }
    static json image_named(const json& list, const std::string& name) {
        for (const auto& image : list["images"]) {
            if (image["imageName"] == name) return image;
        }
        return {};
    }
};

} // namespace

TEST_F(SchedulingTest, APinnedImageReachesAsManyHostsAsAsked) {
    beat("mac-1", {"sonoma"});
    for (const auto* node : {"mac-2", "mac-3", "mac-4"}) beat(node);
    const auto pinned = put("/api/images/sonoma", R"({"minHosts":3})");
    ASSERT_EQ(pinned.status, 200) << pinned.body;
    EXPECT_EQ(json::parse(pinned.body)["minHosts"], 3);

    // The next sweeps ask two idle hosts to pull it; their heartbeats carry the pullImage.
    std::set<std::string> asked;
    for (int round = 0; round < 100 && asked.size() < 2; ++round) {
        std::this_thread::sleep_for(50ms);
        for (const auto* node : {"mac-2", "mac-3", "mac-4"}) {
            for (const auto& command : beat(node)) {
                if (command["type"] == "pullImage") {
                    EXPECT_EQ(command["imageName"], "sonoma");
                    EXPECT_FALSE(command.contains("vmId"));
                    asked.insert(node);
                }
            }
        }
    }
    ASSERT_EQ(asked.size(), 2u) << images().dump();
    // They pull it, then hold it.
    for (const auto& node : asked) beat(node, json::array(), {"sonoma"});
    EXPECT_EQ(image_named(images(), "sonoma")["pulling"], 2) << images().dump();
    for (const auto& node : asked) beat(node, {"sonoma"});
    json sonoma;
    for (int round = 0; round < 100; ++round) {
        sonoma = image_named(images(), "sonoma");
        if (sonoma["holders"] == 3) break;
        std::this_thread::sleep_for(20ms);
    }
    EXPECT_EQ(sonoma["holders"], 3) << sonoma.dump();
    EXPECT_EQ(sonoma["target"], 3);
    EXPECT_EQ(images()["pullsAheadOfDemand"]["finished"], 2);
    const auto metrics = client.get("/metrics").body;
    EXPECT_NE(metrics.find("macvmorx_image_holders{image=\"sonoma\"} 3"), std::string::npos) << metrics;
    EXPECT_NE(metrics.find("macvmorx_image_pulls_ahead_of_demand_total{result=\"finished\"} 2"), std::string::npos);
}

TEST_F(SchedulingTest, BadPinsAreRefusedAndChangeNothing) {
    beat("mac-1", {"sonoma"});
    EXPECT_EQ(put("/api/images/never-heard-of", R"({"minHosts":1})").status, 422);
    EXPECT_EQ(put("/api/images/sonoma", R"({"minHosts":-1})").status, 422);
    EXPECT_EQ(put("/api/images/sonoma", R"({"minHosts":1000000000})").status, 422);
    EXPECT_EQ(put("/api/images/sonoma", R"({"minHosts":"two"})").status, 400);
    EXPECT_EQ(put("/api/images/sonoma", R"({"minHosts":1.5})").status, 400);
    EXPECT_EQ(put("/api/images/sonoma", R"({})").status, 400);
    EXPECT_EQ(put("/api/images/sonoma", R"({"minHosts":)").status, 400);
    const auto refused = put("/api/images/never-heard-of", R"({"minHosts":1})");
    EXPECT_EQ(json::parse(refused.body)["error"], "unknown image");
    json sonoma;
    for (int round = 0; round < 100 && sonoma.is_null(); ++round) {
        std::this_thread::sleep_for(20ms); // until a sweep has counted the holders
        sonoma = image_named(images(), "sonoma");
    }
    EXPECT_EQ(sonoma["minHosts"], 0) << images().dump();
}

TEST_F(SchedulingTest, AWaitingVmSaysWhyAndARefusalCarriesTheSameReason) {
    beat("mac-1", {"sonoma"});
    for (int i = 0; i < 2; ++i) {
        ASSERT_EQ(client.post_json("/api/schedule-vm", R"({"imageName":"sonoma"})").status, 200);
    }
    const auto queued = client.post_json("/api/schedule-vm", R"({"imageName":"sonoma","wait":true})");
    ASSERT_EQ(queued.status, 202) << queued.body;
    const auto vm_id = json::parse(queued.body)["vmId"].get<std::string>();
    const auto vm = json::parse(client.get("/api/vms/" + vm_id).body);
    EXPECT_EQ(vm["pendingReason"]["code"], "noFreeSlot") << vm.dump();
    EXPECT_EQ(vm["pendingReason"]["nodes"]["full"], 1);
    EXPECT_EQ(vm["pendingReason"]["aheadInQueue"], 0);

    const auto refused = client.post_json("/api/schedule-vm", R"({"imageName":"sonoma","labels":{"xcode":"99"}})");
    EXPECT_EQ(refused.status, 503);
    const auto reason = json::parse(refused.body)["pendingReason"];
    EXPECT_EQ(reason["code"], "noNodeCarriesLabels") << refused.body;
    EXPECT_EQ(reason["missingLabels"], json::array({"xcode=99"}));

    const auto queue = json::parse(client.get("/api/queue").body);
    ASSERT_EQ(queue.size(), 1u);
    EXPECT_EQ(queue[0]["position"], 1);
    EXPECT_EQ(queue[0]["pendingReason"]["code"], "noFreeSlot");
    const auto metrics = client.get("/metrics").body;
    EXPECT_NE(metrics.find("macvmorx_pending_vms{reason=\"noFreeSlot\"} 1"), std::string::npos) << metrics;
    EXPECT_NE(metrics.find("macvmorx_pending_vms{reason=\"tenantAtCap\"} 0"), std::string::npos);
}

TEST_F(SchedulingTest, ATenantsFloodCannotStarveItsNeighbour) {
    beat("mac-1", {"sonoma"});
    std::vector<std::string> flood;
    for (int i = 0; i < 12; ++i) {
        const auto answer = client.post_json("/api/schedule-vm", R"({"imageName":"sonoma","wait":true,"tenant":"flood"})");
        ASSERT_LT(answer.status, 300);
        flood.push_back(json::parse(answer.body)["vmId"]);
    }
    const auto neighbour =
        json::parse(client.post_json("/api/schedule-vm", R"({"imageName":"sonoma","wait":true,"tenant":"neighbour"})").body);
    EXPECT_EQ(neighbour["state"], "pending");
    const auto queue = json::parse(client.get("/api/queue").body);
    ASSERT_EQ(queue.size(), 11u);
    EXPECT_EQ(queue[0]["tenant"], "neighbour") << "the neighbour, using nothing, is placed next";
    EXPECT_EQ(queue[0]["tenantShare"]["inUse"], 0);
    EXPECT_EQ(queue[1]["tenantShare"]["inUse"], 2);
    // A flood VM ends: its slot goes to the neighbour.
    ASSERT_EQ(client.request(macvmorx::http::Method::del, "/api/vms/" + flood[0]).status, 200);
    EXPECT_EQ(json::parse(client.get("/api/vms/" + neighbour["vmId"].get<std::string>()).body)["state"], "assigned");
}

TEST_F(SchedulingTest, APriorityMustBeAWholeNumberInRange) {
    beat("mac-1");
    EXPECT_EQ(client.post_json("/api/schedule-vm", R"({"imageName":"sonoma","priority":1.5})").status, 400);
    EXPECT_EQ(client.post_json("/api/schedule-vm", R"({"imageName":"sonoma","priority":"high"})").status, 400);
    EXPECT_EQ(client.post_json("/api/schedule-vm", R"({"imageName":"sonoma","priority":100000})").status, 422);
    EXPECT_TRUE(json::parse(client.get("/api/vms").body).empty()) << "a refused request made a record";
    const auto placed = client.post_json("/api/schedule-vm", R"({"imageName":"sonoma","priority":7,"tenant":"acme/app"})");
    ASSERT_EQ(placed.status, 200) << placed.body;
    const auto vm = json::parse(client.get("/api/vms/" + json::parse(placed.body)["vmId"].get<std::string>()).body);
    EXPECT_EQ(vm["priority"], 7);
    EXPECT_EQ(vm["tenant"], "acme/app");
}
