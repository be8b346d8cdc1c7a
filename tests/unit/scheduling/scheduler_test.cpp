#include "macvmorx/scheduling/scheduler.hpp"

#include "fleet_builders.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

using namespace std::chrono_literals;
using macvmorx::TimePoint;
using macvmorx::fleet::NodeRecord;
using macvmorx::scheduling::PlacementRequest;
using macvmorx::scheduling::Scheduler;
using macvmorx::scheduling::SchedulerOptions;
using macvmorx::testing::heartbeat;
using macvmorx::testing::record;

namespace {

const TimePoint t0{std::chrono::seconds{1'800'000'000}};

class SchedulerTest : public ::testing::Test {
protected:
    Scheduler scheduler{SchedulerOptions{2, 10min}};
    int next_vm = 0;

    void observe(const NodeRecord& node, const NodeRecord* previous = nullptr) { scheduler.observe(node, previous); }

    std::optional<macvmorx::scheduling::Placement> place(const std::string& image, TimePoint now = t0) {
        return scheduler.place(PlacementRequest{image, "vm-" + std::to_string(++next_vm)}, now);
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

TEST_F(SchedulerTest, AReservationEndsWhenTheHeartbeatShowsTheVmById) {
    const auto before = record(heartbeat("mac-a", {}, 10));
    observe(before);
    const auto placement = place("sonoma");
    ASSERT_TRUE(placement);

    auto report = heartbeat("mac-a", {"sonoma"}, 10);
    report.vms.push_back({placement->vm_id, "sonoma", 5, "runner", "10.0.0.2"});
    observe(record(report), &before);
    EXPECT_EQ(scheduler.reserved_slots("mac-a"), 0);
    // The VM now occupies the slot as a reported VM: one left.
    EXPECT_TRUE(place("sonoma"));
    EXPECT_FALSE(place("sonoma"));
}

TEST_F(SchedulerTest, AReservationEndsWhenANewVmOfItsImageAppearsUnderAnotherName) {
    const auto before = record(heartbeat("mac-a", {}, 10));
    observe(before);
    ASSERT_TRUE(place("sonoma"));
    ASSERT_TRUE(place("ventura"));

    auto report = heartbeat("mac-a", {}, 10);
    report.vms.push_back({"agent-chosen-name", "ventura", 5, "", ""});
    observe(record(report), &before);
    EXPECT_EQ(scheduler.reserved_slots("mac-a"), 1) << "the ventura reservation is fulfilled, sonoma still waits";

    // The same VM in the next heartbeat fulfils nothing more.
    const auto second = record(report);
    observe(second, &second);
    EXPECT_EQ(scheduler.reserved_slots("mac-a"), 1);
}

TEST_F(SchedulerTest, AReservationExpiresAfterThePlacementTtl) {
    observe(record(heartbeat("mac-a", {}, 10)));
    ASSERT_TRUE(place("sonoma", t0));
    ASSERT_TRUE(place("sonoma", t0 + 1min));
    EXPECT_TRUE(scheduler.expire_reservations(t0 + 9min).empty());
    const auto expired = scheduler.expire_reservations(t0 + 10min);
    ASSERT_EQ(expired.size(), 1u);
    EXPECT_EQ(expired[0].node_id, "mac-a");
    EXPECT_EQ(scheduler.reserved_slots("mac-a"), 1);
    EXPECT_TRUE(place("sonoma", t0 + 10min));
}

TEST_F(SchedulerTest, AnExpiryOfAFulfilledReservationChangesNothing) {
    const auto before = record(heartbeat("mac-a", {}, 10));
    observe(before);
    const auto placement = place("sonoma", t0);
    auto report = heartbeat("mac-a", {}, 10);
    report.vms.push_back({placement->vm_id, "sonoma", 5, "", ""});
    observe(record(report), &before);
    EXPECT_TRUE(scheduler.expire_reservations(t0 + 11min).empty());
}

TEST_F(SchedulerTest, ANodeGoingOfflineStopsPlacementsAndComingBackRestoresThem) {
    const auto online = record(heartbeat("mac-a", {"sonoma"}, 10));
    observe(online);
    const auto offline = record(heartbeat("mac-a", {"sonoma"}, 10), false);
    observe(offline, &online);
    EXPECT_FALSE(place("sonoma"));
    observe(online, &offline);
    EXPECT_TRUE(place("sonoma"));
}

TEST_F(SchedulerTest, AnImageNoLongerCachedIsNoLongerPreferred) {
    const auto before = record(heartbeat("mac-a", {"sonoma"}, 10));
    observe(before);
    observe(record(heartbeat("mac-b", {}, 50)));
    observe(record(heartbeat("mac-a", {"ventura"}, 90)), &before);
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
                    scheduler.place(PlacementRequest{"sonoma", "vm-" + std::to_string(counter++)}, t0);
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
