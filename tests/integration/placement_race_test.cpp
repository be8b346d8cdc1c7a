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
