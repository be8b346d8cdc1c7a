#include "macvmorx/scheduling/scheduler.hpp"

#include "fleet_builders.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

using macvmorx::fleet::NodeRecord;
using macvmorx::scheduling::PlacementRequest;
using macvmorx::scheduling::Scheduler;
using macvmorx::scheduling::SchedulerOptions;
using macvmorx::testing::heartbeat;
using macvmorx::testing::record;

namespace {

class SchedulerTest : public ::testing::Test {
protected:
    Scheduler scheduler{SchedulerOptions{2}};
    int next_vm = 0;

    void observe(const NodeRecord& node) { scheduler.observe(std::make_shared<const NodeRecord>(node)); }

    std::optional<macvmorx::scheduling::Placement> place(const std::string& image) {
        return scheduler.place(PlacementRequest{image, "vm-" + std::to_string(++next_vm), {}, {}, {}});
    }
    std::optional<macvmorx::scheduling::Placement> place(PlacementRequest request) {
        request.vm_id = "vm-" + std::to_string(++next_vm);
        return scheduler.place(request);
    }
};

} // namespace

TEST_F(SchedulerTest, PrefersNodeThatCachesTheImage) {
    observe(record(heartbeat("mac-a", {"ventura"}, 1)));
    observe(record(heartbeat("mac-b", {"sonoma", "ventura"}, 90)));
    const auto placement = place("sonoma");
    ASSERT_TRUE(placement);
    EXPECT_EQ(placement->node_id, "mac-b");
    EXPECT_TRUE(placement->image_cached);
}

TEST_F(SchedulerTest, FallsBackToAnyNodeWhenNoneCachesTheImage) {
    observe(record(heartbeat("mac-a", {"ventura"}, 50)));
    observe(record(heartbeat("mac-b", {}, 20)));
    const auto placement = place("sequoia");
    ASSERT_TRUE(placement);
    EXPECT_EQ(placement->node_id, "mac-b");
    EXPECT_FALSE(placement->image_cached);
}

TEST_F(SchedulerTest, FallsBackWhenEveryNodeCachingTheImageIsFull) {
    observe(record(heartbeat("mac-a", {"sonoma"}, 10, 2)));
    observe(record(heartbeat("mac-b", {}, 80)));
    const auto placement = place("sonoma");
    ASSERT_TRUE(placement);
    EXPECT_EQ(placement->node_id, "mac-b");
    EXPECT_FALSE(placement->image_cached);
}

TEST_F(SchedulerTest, TieBreaksByFewestVmsThenLowestCpuThenNodeId) {
    observe(record(heartbeat("mac-busy", {"sonoma"}, 1, 1)));
    observe(record(heartbeat("mac-hot", {"sonoma"}, 70, 0)));
    observe(record(heartbeat("mac-z", {"sonoma"}, 30, 0)));
    observe(record(heartbeat("mac-y", {"sonoma"}, 30, 0)));
    // Fewest VMs first (not mac-busy despite its low CPU), then CPU, then id.
    EXPECT_EQ(place("sonoma")->node_id, "mac-y");
    EXPECT_EQ(place("sonoma")->node_id, "mac-z");
    EXPECT_EQ(place("sonoma")->node_id, "mac-hot");
    // Now every node has one slot used; lowest CPU wins.
    EXPECT_EQ(place("sonoma")->node_id, "mac-busy");
}

TEST_F(SchedulerTest, SkipsOfflineDrainingAndMaintenanceNodes) {
    observe(record(heartbeat("mac-offline", {"sonoma"}, 1), false));
    auto draining = heartbeat("mac-draining", {"sonoma"}, 1);
    draining.status = "Draining";
    observe(record(draining));
    auto maintenance = heartbeat("mac-maintenance", {"sonoma"}, 1);
    maintenance.status = "maintenance";
    observe(record(maintenance));
    EXPECT_FALSE(place("sonoma"));
    observe(record(heartbeat("mac-ok", {}, 99)));
    EXPECT_EQ(place("sonoma")->node_id, "mac-ok");
}

TEST_F(SchedulerTest, APlacementCountsAgainstCapacityAtOnce) {
    observe(record(heartbeat("mac-a", {"sonoma"}, 10)));
    ASSERT_TRUE(place("sonoma"));
    ASSERT_TRUE(place("sonoma"));
    EXPECT_FALSE(place("sonoma")) << "two reservations fill a two-slot node before any heartbeat";
    EXPECT_EQ(scheduler.reserved_slots("mac-a"), 2);
}

TEST_F(SchedulerTest, ReportedVmsAndReservationsTogetherFillTheNode) {
    observe(record(heartbeat("mac-a", {}, 10, 1)));
    ASSERT_TRUE(place("sonoma"));
    EXPECT_FALSE(place("sonoma"));
}

TEST_F(SchedulerTest, ANodeGoingOfflineStopsPlacementsAndComingBackRestoresThem) {
    const auto online = record(heartbeat("mac-a", {"sonoma"}, 10));
    observe(online);
    observe(record(heartbeat("mac-a", {"sonoma"}, 10), false));
    EXPECT_FALSE(place("sonoma"));
    observe(online);
    EXPECT_TRUE(place("sonoma"));
}

TEST_F(SchedulerTest, ADrainedNodeTakesNoVms) {
    auto drained = record(heartbeat("mac-a", {"sonoma"}, 10));
    drained.drained = true;
    observe(drained);
    EXPECT_FALSE(place("sonoma"));
}

TEST_F(SchedulerTest, ReleasingAReservationFreesItsSlot) {
    observe(record(heartbeat("mac-a", {}, 10)));
    const auto first = place("sonoma");
    ASSERT_TRUE(first && place("sonoma"));
    EXPECT_FALSE(place("sonoma"));
    EXPECT_TRUE(scheduler.release("mac-a", first->vm_id));
    EXPECT_FALSE(scheduler.release("mac-a", first->vm_id)) << "a reservation is released once";
    EXPECT_EQ(scheduler.reserved_slots("mac-a"), 1);
    EXPECT_TRUE(place("sonoma"));
}

TEST_F(SchedulerTest, AnImageBeingDownloadedCountsAsCachedForLaterPlacements) {
    observe(record(heartbeat("mac-a", {}, 50)));
    observe(record(heartbeat("mac-b", {}, 10)));
    const auto first = place("sequoia");
    ASSERT_EQ(first->node_id, "mac-b");
    EXPECT_FALSE(first->image_cached);
    // mac-a is now less loaded, but mac-b is fetching the image already.
    const auto second = place("sequoia");
    EXPECT_EQ(second->node_id, "mac-b");
    EXPECT_TRUE(second->image_cached);
}

TEST_F(SchedulerTest, OnlyNodesCarryingTheRequiredLabelsAreChosen) {
    auto intel = heartbeat("mac-intel", {"sonoma"}, 1);
    intel.labels = {{"arch", "x86_64"}};
    auto m2 = heartbeat("mac-m2", {}, 90);
    m2.labels = {{"arch", "arm64"}, {"chip", "m2"}, {"xcode-16", ""}};
    observe(record(intel));
    observe(record(m2));
    PlacementRequest request{"sonoma", "", {{"arch", "arm64"}}, {}, {}};
    EXPECT_EQ(place(request)->node_id, "mac-m2");
    request.required_labels = {{"xcode-16", ""}};
    EXPECT_EQ(place(request)->node_id, "mac-m2");
    request.required_labels = {{"arch", "ppc"}};
    EXPECT_FALSE(place(request));
}

TEST_F(SchedulerTest, MemoryAskedForMustBeFreeCountingEarlierReservations) {
    auto small = heartbeat("mac-small", {}, 1);
    small.total_memory_gb = 16;
    small.memory_usage_gb = 10;
    auto big = heartbeat("mac-big", {}, 90);
    big.total_memory_gb = 64;
    big.memory_usage_gb = 20;
    observe(record(small));
    observe(record(big));
    PlacementRequest request{"sonoma", "", {}, 8.0, {}};
    EXPECT_EQ(place(request)->node_id, "mac-big");
    request.memory_gb = 40.0;
    EXPECT_FALSE(place(request)) << "44 GB were free on mac-big, 36 after the first 8 GB were reserved";
    // Another image, so that mac-big fetching sonoma does not attract it.
    request.image_name = "ventura";
    request.memory_gb = 6.0;
    EXPECT_EQ(place(request)->node_id, "mac-small");
}

TEST_F(SchedulerTest, NodesToAvoidAreUsedOnlyWhenNothingElseFits) {
    observe(record(heartbeat("mac-a", {"sonoma"}, 1)));
    observe(record(heartbeat("mac-b", {}, 90)));
    PlacementRequest request{"sonoma", "", {}, {}, {"mac-a"}};
    EXPECT_EQ(place(request)->node_id, "mac-b");
    EXPECT_EQ(place(request)->node_id, "mac-b");
    EXPECT_EQ(place(request)->node_id, "mac-a") << "mac-b is full";
}

TEST_F(SchedulerTest, AnImageNoLongerCachedIsNoLongerPreferred) {
    observe(record(heartbeat("mac-a", {"sonoma"}, 10)));
    observe(record(heartbeat("mac-b", {}, 50)));
    observe(record(heartbeat("mac-a", {"ventura"}, 90)));
    const auto placement = place("sonoma");
    EXPECT_EQ(placement->node_id, "mac-b");
    EXPECT_FALSE(placement->image_cached);
}

TEST_F(SchedulerTest, ForgettingANodeRemovesItFromEveryIndex) {
    observe(record(heartbeat("mac-a", {"sonoma"}, 10)));
    scheduler.forget("mac-a");
    EXPECT_FALSE(place("sonoma"));
    EXPECT_FALSE(place("anything"));
}

TEST_F(SchedulerTest, CapacityCountsFreeAndReservedSlotsOfSchedulableNodes) {
    observe(record(heartbeat("mac-a", {}, 10, 1)));
    observe(record(heartbeat("mac-b", {}, 10)));
    observe(record(heartbeat("mac-c", {}, 10), false));
    ASSERT_TRUE(place("sonoma"));
    const auto capacity = scheduler.capacity();
    EXPECT_EQ(capacity.schedulable_nodes, 2u);
    EXPECT_EQ(capacity.total_slots, 4u);
    EXPECT_EQ(capacity.free_slots, 2u);
    EXPECT_EQ(capacity.reserved_slots, 1u);
}

TEST_F(SchedulerTest, ManyThreadsRacingForTheLastSlotsNeverOverbook) {
    constexpr int nodes = 20;
    for (int i = 0; i < nodes; ++i) {
        // Half the nodes cache the image, and each already runs one VM: 20 free slots in all.
        observe(record(heartbeat("mac-" + std::to_string(i), i % 2 ? std::vector<std::string>{"sonoma"}
                                                                    : std::vector<std::string>{},
                                 i, 1)));
    }
    std::mutex mutex;
    std::map<std::string, int> placed;
    std::atomic<int> refused{0};
    std::atomic<int> counter{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 25; ++i) {
                const auto placement =
                    scheduler.place(PlacementRequest{"sonoma", "vm-" + std::to_string(counter++), {}, {}, {}});
                if (!placement) {
                    ++refused;
                    continue;
                }
                std::lock_guard lock{mutex};
                ++placed[placement->node_id];
            }
        });
    }
    for (auto& thread : threads) thread.join();
    int total = 0;
    for (const auto& [node, count] : placed) {
        EXPECT_EQ(count, 1) << node << " had one free slot";
        total += count;
    }
    EXPECT_EQ(total, nodes);
    EXPECT_EQ(refused.load(), 8 * 25 - nodes);
}

TEST_F(SchedulerTest, CpuRanksInWholePercent) {
    observe(record(heartbeat("mac-b", {}, 20.2)));
    observe(record(heartbeat("mac-a", {}, 20.4)));
    observe(record(heartbeat("mac-c", {}, 19.4)));
    EXPECT_EQ(place("sonoma")->node_id, "mac-c");
    // Another image, so that mac-c fetching sonoma does not attract it.
    EXPECT_EQ(place("ventura")->node_id, "mac-a") << "20.2 and 20.4 are both 20%: the smaller id";
}

TEST_F(SchedulerTest, AHeartbeatThatOnlyMovesTheCpuMovesTheNodeInTheRanking) {
    observe(record(heartbeat("mac-a", {"sonoma"}, 10)));
    observe(record(heartbeat("mac-b", {"sonoma"}, 30)));
    observe(record(heartbeat("mac-a", {"sonoma"}, 50)));
    const auto placement = place("sonoma");
    EXPECT_EQ(placement->node_id, "mac-b");
    EXPECT_TRUE(placement->image_cached);
}

TEST_F(SchedulerTest, TheOrderOfCachedImagesDoesNotMatterButTheirSetDoes) {
    observe(record(heartbeat("mac-a", {"sonoma", "ventura"}, 10)));
    observe(record(heartbeat("mac-a", {"ventura", "sonoma"}, 10)));
    EXPECT_TRUE(place("ventura")->image_cached);
    observe(record(heartbeat("mac-b", {"x", "y"}, 90)));
    observe(record(heartbeat("mac-b", {"x", "x"}, 90)));
    const auto placement = place("y");
    EXPECT_FALSE(placement->image_cached) << "a list repeating one image no longer holds the other";
}

TEST_F(SchedulerTest, AnOlderRecordOfANodeIsIgnored) {
    auto newer = record(heartbeat("mac-a", {"sonoma"}, 10));
    newer.revision = 5;
    auto older = record(heartbeat("mac-a", {"sonoma"}, 10), false);
    older.revision = 4;
    observe(newer);
    observe(older);
    EXPECT_TRUE(place("sonoma")) << "the offline record came late and changes nothing";
}

TEST_F(SchedulerTest, KeepsThePublishedRecordItselfAndLetsTheOlderOneGo) {
    auto first = std::make_shared<NodeRecord>(record(heartbeat("mac-a", {"sonoma"}, 10)));
    first->revision = 1;
    const std::weak_ptr<const NodeRecord> first_seen = first;
    scheduler.observe(std::move(first));
    auto second = std::make_shared<NodeRecord>(record(heartbeat("mac-a", {"sonoma"}, 20)));
    second->revision = 2;
    scheduler.observe(second);
    EXPECT_TRUE(first_seen.expired()) << "the scheduler kept an older record alive";
    EXPECT_EQ(second.use_count(), 2) << "the scheduler shares the published record: this test's and its own";
    EXPECT_EQ(place("sonoma")->node_id, "mac-a");
}

TEST_F(SchedulerTest, ImagesListedInAnotherOrderOrTwiceAreTheSameImages) {
    observe(record(heartbeat("mac-a", {"sonoma", "ventura"}, 10)));
    observe(record(heartbeat("mac-b", {}, 1)));
    observe(record(heartbeat("mac-a", {"ventura", "sonoma", "sonoma"}, 10)));
    const auto first = place("sonoma");
    ASSERT_TRUE(first);
    EXPECT_EQ(first->node_id, "mac-a");
    EXPECT_TRUE(first->image_cached);
    // The same images in another order with a CPU change: the node moves within its sets.
    observe(record(heartbeat("mac-a", {"ventura", "ventura", "sonoma"}, 50)));
    const auto second = place("ventura");
    ASSERT_TRUE(second);
    EXPECT_EQ(second->node_id, "mac-a");
    EXPECT_TRUE(second->image_cached);
    // Once the node is gone, no index still names it under an image.
    EXPECT_TRUE(scheduler.release("mac-a", first->vm_id));
    EXPECT_TRUE(scheduler.release("mac-a", second->vm_id));
    scheduler.forget("mac-a");
    const auto third = place("sonoma");
    ASSERT_TRUE(third);
    EXPECT_EQ(third->node_id, "mac-b");
    EXPECT_FALSE(third->image_cached);
}

TEST_F(SchedulerTest, LabelsAreReadFromTheLatestRecord) {
    auto report = heartbeat("mac-a", {"sonoma"}, 10);
    report.labels = {{"arch", "x86_64"}};
    observe(record(report));
    PlacementRequest request{"sonoma", "", {{"arch", "arm64"}}, {}, {}};
    EXPECT_FALSE(place(request));
    report.labels = {{"arch", "arm64"}}; // only the labels change
    observe(record(report));
    EXPECT_EQ(place(request)->node_id, "mac-a");
}

TEST_F(SchedulerTest, AnOperatorsLabelOverridesTheAgentsOfTheSameKey) {
    auto report = heartbeat("mac-a", {"sonoma"}, 10);
    report.labels = {{"arch", "x86_64"}, {"pool", "a"}};
    auto node = record(report);
    node.operator_labels = {{"arch", "arm64"}};
    observe(node);
    EXPECT_FALSE(place(PlacementRequest{"sonoma", "", {{"arch", "x86_64"}}, {}, {}}));
    EXPECT_EQ(place(PlacementRequest{"sonoma", "", {{"arch", "arm64"}, {"pool", "a"}}, {}, {}})->node_id, "mac-a");
}
