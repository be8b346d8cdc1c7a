#include "macvmorx/monitor/offline_monitor.hpp"

#include "fleet_builders.hpp"
#include "log_capture.hpp"
#include "macvmorx/fleet/node_store.hpp"

#include <gtest/gtest.h>

using namespace std::chrono_literals;
using macvmorx::ManualClock;
using macvmorx::fleet::NodeRecord;
using macvmorx::fleet::NodeSnapshot;
using macvmorx::testing::heartbeat;
using macvmorx::testing::LogCapture;

namespace {

class OfflineMonitorTest : public ::testing::Test {
protected:
    ManualClock clock;
    macvmorx::fleet::NodeStore store;
    macvmorx::monitor::OfflineMonitor monitor{store, clock, 30s};

    // What the heartbeat path does: publish a fresh record.
    void heard_from(const std::string& node_id) {
        store.update(node_id, [&](NodeSnapshot& slot) {
            auto node = std::make_shared<NodeRecord>(macvmorx::testing::record(heartbeat(node_id)));
            node->last_seen = clock.now();
            node->first_seen = slot ? slot->first_seen : clock.now();
            node->revision = slot ? slot->revision + 1 : 1;
            slot = node;
        });
    }

    static std::vector<std::string> ids(const std::vector<NodeSnapshot>& records) {
        std::vector<std::string> out;
        for (const auto& record : records) out.push_back(record->node_id());
        return out;
    }
};

} // namespace

TEST_F(OfflineMonitorTest, ANodeStaysOnlineUntilTheTimeoutHasPassed) {
    heard_from("mac-1");
    clock.advance(30s);
    EXPECT_TRUE(monitor.sweep().empty());
    EXPECT_TRUE(store.find("mac-1")->online);
}

TEST_F(OfflineMonitorTest, ANodeSilentForLongerThanTheTimeoutGoesOffline) {
    heard_from("mac-1");
    const auto before = store.find("mac-1")->revision;
    clock.advance(31s);
    const auto offline = monitor.sweep();
    EXPECT_EQ(ids(offline), std::vector<std::string>{"mac-1"});
    EXPECT_FALSE(store.find("mac-1")->online);
    EXPECT_EQ(offline[0], store.find("mac-1")) << "the published record is returned";
    EXPECT_GT(store.find("mac-1")->revision, before);
}

TEST_F(OfflineMonitorTest, OnlyTheSilentNodesGoOffline) {
    heard_from("mac-quiet");
    clock.advance(20s);
    heard_from("mac-chatty");
    clock.advance(15s);
    EXPECT_EQ(ids(monitor.sweep()), std::vector<std::string>{"mac-quiet"});
    EXPECT_FALSE(store.find("mac-quiet")->online);
    EXPECT_TRUE(store.find("mac-chatty")->online);
}

TEST_F(OfflineMonitorTest, TheTransitionIsReportedAndLoggedOnceNotOnEveryTick) {
    LogCapture logs;
    heard_from("mac-1");
    clock.advance(31s);
    EXPECT_EQ(monitor.sweep().size(), 1u);
    clock.advance(5s);
    EXPECT_TRUE(monitor.sweep().empty());
    EXPECT_TRUE(monitor.sweep().empty());
    EXPECT_EQ(logs.count("node mac-1 is offline"), 1u);
}

TEST_F(OfflineMonitorTest, AnOfflineNodeKeepsItsLastReport) {
    heard_from("mac-1");
    const auto before = store.find("mac-1");
    clock.advance(1min);
    monitor.sweep();
    const auto after = store.find("mac-1");
    EXPECT_EQ(after->report.cpu_usage_percent, before->report.cpu_usage_percent);
    EXPECT_EQ(after->last_seen, before->last_seen);
    EXPECT_FALSE(after->online);
}

TEST_F(OfflineMonitorTest, SweepingAnEmptyStoreFindsNothing) {
    EXPECT_TRUE(monitor.sweep().empty());
    EXPECT_EQ(monitor.offline_timeout(), 30s);
}
