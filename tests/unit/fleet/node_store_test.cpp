#include "macvmorx/fleet/node_store.hpp"

#include "fleet_builders.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

using macvmorx::fleet::NodeRecord;
using macvmorx::fleet::NodeSnapshot;
using macvmorx::fleet::NodeStore;
using macvmorx::testing::heartbeat;
using macvmorx::testing::record;

namespace {

void put(NodeStore& store, const std::string& node_id, double cpu = 10) {
    store.update(node_id, [&](NodeSnapshot& slot) {
        slot = std::make_shared<NodeRecord>(record(heartbeat(node_id, {}, cpu)));
    });
}

} // namespace

TEST(NodeStore, FindsWhatWasStoredAndNothingElse) {
    NodeStore store;
    put(store, "mac-1", 42);
    ASSERT_NE(store.find("mac-1"), nullptr);
    EXPECT_EQ(store.find("mac-1")->report.cpu_usage_percent, 42);
    EXPECT_EQ(store.find("mac-2"), nullptr);
    EXPECT_EQ(store.size(), 1u);
}

TEST(NodeStore, AnUpdateReplacesTheRecordAndReadersKeepTheirSnapshot) {
    NodeStore store;
    put(store, "mac-1", 10);
    const NodeSnapshot before = store.find("mac-1");
    put(store, "mac-1", 90);
    EXPECT_EQ(before->report.cpu_usage_percent, 10);
    EXPECT_EQ(store.find("mac-1")->report.cpu_usage_percent, 90);
    EXPECT_EQ(store.size(), 1u);
}

TEST(NodeStore, ListsEveryNodeSortedById) {
    NodeStore store{8};
    for (const char* id : {"mac-c", "mac-a", "mac-b", "build-1", "z"}) put(store, id);
    const auto all = store.list();
    ASSERT_EQ(all.size(), 5u);
    std::vector<std::string> ids;
    for (const auto& node : all) ids.push_back(node->node_id());
    EXPECT_EQ(ids, (std::vector<std::string>{"build-1", "mac-a", "mac-b", "mac-c", "z"}));
}

TEST(NodeStore, ResettingTheSlotForgetsTheNode) {
    NodeStore store;
    put(store, "mac-1");
    store.update("mac-1", [](NodeSnapshot& slot) { slot.reset(); });
    EXPECT_EQ(store.find("mac-1"), nullptr);
    EXPECT_EQ(store.size(), 0u);
    store.update("never-seen", [](NodeSnapshot&) {});
    EXPECT_EQ(store.size(), 0u);
}

TEST(NodeStore, ConcurrentWritersAndReadersSeeWholeRecords) {
    NodeStore store;
    constexpr int writers = 4;
    constexpr int nodes_per_writer = 250;
    std::atomic<bool> done{false};
    std::thread reader([&] {
        while (!done) {
            for (const auto& node : store.list()) {
                // A record is published whole: its id always matches its own report.
                ASSERT_FALSE(node->node_id().empty());
                ASSERT_EQ(node->report.cpu_usage_percent, 10);
            }
        }
    });
    std::vector<std::thread> threads;
    for (int w = 0; w < writers; ++w) {
        threads.emplace_back([&store, w] {
            for (int round = 0; round < 3; ++round) {
                for (int n = 0; n < nodes_per_writer; ++n) put(store, "mac-" + std::to_string(w) + "-" + std::to_string(n));
            }
        });
    }
    for (auto& thread : threads) thread.join();
    done = true;
    reader.join();
    EXPECT_EQ(store.size(), static_cast<std::size_t>(writers * nodes_per_writer));
}
