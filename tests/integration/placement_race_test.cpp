// Many CI clients asking for VMs at once must never put more VMs on a node than it has slots.

#include "test_daemon.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

using macvmorx::testing::TestDaemon;
using nlohmann::json;

TEST(PlacementRace, ConcurrentRequestsFillEverySlotExactlyOnce) {
    auto config = macvmorx::testing::test_config();
    config.threads = 4;
    TestDaemon server{config};
    constexpr int nodes = 10;
    {
        auto agent = server.client();
        for (int i = 0; i < nodes; ++i) {
            // Every node already runs one VM: one slot left each, ten in the fleet.
            const json heartbeat{{"nodeId", "mac-" + std::to_string(i)},
                                 {"vms", json::array({{{"vmId", "busy-" + std::to_string(i)}, {"imageName", "other"}}})},
                                 {"cachedImages", i % 3 == 0 ? json::array({"sonoma"}) : json::array()}};
            ASSERT_EQ(agent.post_json("/api/heartbeat", heartbeat.dump()).status, 200);
        }
    }

    std::mutex mutex;
    std::map<std::string, int> placed_per_node;
    std::atomic<int> placed{0}, refused{0}, other{0};
    std::vector<std::thread> clients;
    for (int c = 0; c < 16; ++c) {
        clients.emplace_back([&] {
            auto client = server.client();
            for (int i = 0; i < 8; ++i) {
                const auto response = client.post_json("/api/schedule-vm", R"({"imageName":"sonoma"})");
                if (response.status == 503) {
                    ++refused;
                } else if (response.status == 200) {
                    ++placed;
                    std::lock_guard lock{mutex};
                    ++placed_per_node[json::parse(response.body)["nodeId"].get<std::string>()];
                } else {
                    ++other;
                }
            }
        });
    }
    for (auto& thread : clients) thread.join();

    EXPECT_EQ(other.load(), 0);
    EXPECT_EQ(placed.load(), nodes);
    EXPECT_EQ(refused.load(), 16 * 8 - nodes);
    EXPECT_EQ(placed_per_node.size(), static_cast<std::size_t>(nodes));
    for (const auto& [node, count] : placed_per_node) EXPECT_EQ(count, 1) << node;
}

TEST(PlacementRace, HeartbeatsDuringPlacementsDoNotFreeReservedSlots) {
    TestDaemon server;
    auto agent = server.client();
    ASSERT_EQ(agent.post_json("/api/heartbeat", R"({"nodeId":"mac-1","cachedImages":["sonoma"]})").status, 200);
    std::atomic<bool> stop{false};
    std::thread heartbeats([&] {
        auto client = server.client();
        while (!stop) client.post_json("/api/heartbeat", R"({"nodeId":"mac-1","cachedImages":["sonoma"]})");
    });
    auto ci = server.client();
    int placed = 0;
    for (int i = 0; i < 20; ++i) {
        if (ci.post_json("/api/schedule-vm", R"({"imageName":"sonoma"})").status == 200) ++placed;
    }
    stop = true;
    heartbeats.join();
    EXPECT_EQ(placed, 2) << "heartbeats that do not show the VMs yet must not release their slots";
}

TEST(PlacementRace, PlacementsAndDeletionsRacingOverHttpNeverOverbookNorLoseARecord) {
    auto config = macvmorx::testing::test_config();
    config.threads = 4;
    TestDaemon server{config};
    constexpr int nodes = 6;
    {
        auto agent = server.client();
        for (int i = 0; i < nodes; ++i) {
            ASSERT_EQ(agent.post_json("/api/heartbeat", json{{"nodeId", "mac-" + std::to_string(i)}}.dump()).status, 200);
        }
    }
    std::mutex mutex;
    std::vector<std::string> accepted;
    std::atomic<int> unexpected{0};
    std::vector<std::thread> clients;
    for (int c = 0; c < 8; ++c) {
        clients.emplace_back([&, c] {
            auto client = server.client();
            for (int i = 0; i < 40; ++i) {
                const std::string vm_id = "c" + std::to_string(c) + "-" + std::to_string(i);
                const auto response = client.post_json(
                    "/api/schedule-vm", json{{"imageName", "sonoma"}, {"vmId", vm_id}, {"wait", i % 4 == 0}}.dump());
                if (response.status == 200 || response.status == 202) {
                    std::lock_guard lock{mutex};
                    accepted.push_back(vm_id);
                } else if (response.status != 503) {
                    ++unexpected;
                }
                if (i % 2 == 0 && response.status != 503) {
                    if (client.del("/api/vms/" + vm_id).status != 200) ++unexpected;
                }
            }
        });
    }
    for (auto& thread : clients) thread.join();

    EXPECT_EQ(unexpected.load(), 0);
    auto client = server.client();
    const auto vms = json::parse(client.get("/api/vms").body);
    std::map<std::string, int> holding;
    for (const auto& vm : vms) {
        const std::string state = vm["state"];
        if (state == "assigned" || state == "provisioning" || state == "running") ++holding[vm["nodeId"]];
    }
    for (const auto& [node, count] : holding) EXPECT_LE(count, 2) << node;
    for (const auto& node : json::parse(client.get("/api/nodes").body)) {
        EXPECT_LE(node["reservedSlots"].get<int>(), 2) << node["nodeId"];
    }
    for (const auto& vm_id : accepted) EXPECT_EQ(client.get("/api/vms/" + vm_id).status, 200) << vm_id << " was lost";
}
