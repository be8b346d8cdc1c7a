#include "macvmorx/orchestrator/orchestrator.hpp"

#include "fleet_builders.hpp"
#include "log_capture.hpp"
#include "macvmorx/base/id_source.hpp"

#include <gtest/gtest.h>

using namespace std::chrono_literals;
using macvmorx::ManualClock;
using macvmorx::SequentialIdSource;
using macvmorx::orchestrator::Orchestrator;
using macvmorx::orchestrator::OrchestratorOptions;
using macvmorx::testing::heartbeat;
using macvmorx::testing::LogCapture;

namespace {

class OrchestratorTest : public ::testing::Test {
protected:
    ManualClock clock;
    SequentialIdSource ids;
    Orchestrator orchestrator{OrchestratorOptions{30s, {2, 10min}}, clock, ids};
};

} // namespace

TEST_F(OrchestratorTest, AFirstHeartbeatRegistersTheNode) {
    LogCapture logs;
    const auto outcome = orchestrator.record_heartbeat(heartbeat("mac-1"));
    EXPECT_TRUE(outcome.new_node);
    EXPECT_FALSE(outcome.back_online);
    EXPECT_EQ(logs.count("node mac-1 registered"), 1u);
    orchestrator.record_heartbeat(heartbeat("mac-1"));
    EXPECT_EQ(logs.count("node mac-1 registered"), 1u);
}

TEST_F(OrchestratorTest, EachHeartbeatReplacesTheReportAndKeepsFirstSeen) {
    const auto start = clock.now();
    orchestrator.record_heartbeat(heartbeat("mac-1", {"sonoma"}, 10));
    clock.advance(7s);
    orchestrator.record_heartbeat(heartbeat("mac-1", {"ventura"}, 60));
    const auto node = orchestrator.node("mac-1");
    EXPECT_EQ(node->first_seen, start);
    EXPECT_EQ(node->last_seen, start + 7s);
    EXPECT_EQ(node->report.cpu_usage_percent, 60);
    EXPECT_EQ(node->report.cached_images, std::vector<std::string>{"ventura"});
}

TEST_F(OrchestratorTest, TheNextHeartbeatBringsAnOfflineNodeBackOnlineLoggedOnce) {
    LogCapture logs;
    orchestrator.record_heartbeat(heartbeat("mac-1"));
    clock.advance(31s);
    orchestrator.sweep();
    ASSERT_FALSE(orchestrator.node("mac-1")->online);
    EXPECT_FALSE(orchestrator.schedule_vm("sonoma"));

    EXPECT_TRUE(orchestrator.record_heartbeat(heartbeat("mac-1")).back_online);
    EXPECT_FALSE(orchestrator.record_heartbeat(heartbeat("mac-1")).back_online);
    EXPECT_TRUE(orchestrator.node("mac-1")->online);
    EXPECT_EQ(logs.count("node mac-1 is back online"), 1u);
    EXPECT_TRUE(orchestrator.schedule_vm("sonoma"));
}

TEST_F(OrchestratorTest, PlacementsGetFreshVmIdsAndAreLogged) {
    LogCapture logs;
    orchestrator.record_heartbeat(heartbeat("mac-1", {"sonoma"}));
    const auto first = orchestrator.schedule_vm("sonoma");
    const auto second = orchestrator.schedule_vm("sonoma");
    ASSERT_TRUE(first && second);
    EXPECT_NE(first->vm_id, second->vm_id);
    EXPECT_EQ(logs.count("placed VM " + first->vm_id), 1u);
}

TEST_F(OrchestratorTest, TheSweepReleasesPlacementsTheNodeNeverReported) {
    orchestrator.record_heartbeat(heartbeat("mac-1"));
    ASSERT_TRUE(orchestrator.schedule_vm("sonoma"));
    ASSERT_TRUE(orchestrator.schedule_vm("sonoma"));
    EXPECT_FALSE(orchestrator.schedule_vm("sonoma"));
    clock.advance(10min);
    orchestrator.record_heartbeat(heartbeat("mac-1"));
    orchestrator.sweep();
    EXPECT_TRUE(orchestrator.schedule_vm("sonoma"));
}
