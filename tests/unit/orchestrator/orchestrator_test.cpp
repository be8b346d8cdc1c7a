#include "macvmorx/orchestrator/orchestrator.hpp"

#include "fleet_builders.hpp"
#include "log_capture.hpp"
#include "macvmorx/base/id_source.hpp"

#include <gtest/gtest.h>

using namespace std::chrono_literals;
using macvmorx::ManualClock;
using macvmorx::SequentialIdSource;
using macvmorx::lifecycle::RequestOutcome;
using macvmorx::orchestrator::NodeOperation;
using macvmorx::orchestrator::Orchestrator;
using macvmorx::orchestrator::OrchestratorOptions;
using macvmorx::testing::heartbeat;
using macvmorx::testing::LogCapture;

namespace {

class OrchestratorTest : public ::testing::Test {
protected:
    ManualClock clock;
    SequentialIdSource ids;
    Orchestrator orchestrator{OrchestratorOptions{30s, {2}, {}, {}}, clock, ids};

    bool place(const std::string& image) {
        return orchestrator.request_vm("", {image, {}, {}, {}, {}, {}, 0, {}}, false).outcome == RequestOutcome::placed;
    }
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
    EXPECT_EQ(node->revision, 2u);
}

TEST_F(OrchestratorTest, TheNextHeartbeatBringsAnOfflineNodeBackOnlineLoggedOnce) {
    LogCapture logs;
    orchestrator.record_heartbeat(heartbeat("mac-1"));
    clock.advance(31s);
    orchestrator.sweep();
    ASSERT_FALSE(orchestrator.node("mac-1")->online);
    EXPECT_FALSE(place("sonoma")) << "an offline node takes no VMs";

    EXPECT_TRUE(orchestrator.record_heartbeat(heartbeat("mac-1")).back_online);
    EXPECT_FALSE(orchestrator.record_heartbeat(heartbeat("mac-1")).back_online);
    EXPECT_TRUE(orchestrator.node("mac-1")->online);
    EXPECT_EQ(logs.count("node mac-1 is back online"), 1u);
    EXPECT_TRUE(place("sonoma"));
}

TEST_F(OrchestratorTest, APlacementNobodyActsOnReleasesItsSlotAfterThePlacementTtl) {
    orchestrator.record_heartbeat(heartbeat("mac-1"));
    ASSERT_TRUE(place("sonoma"));
    ASSERT_TRUE(place("sonoma"));
    EXPECT_FALSE(place("sonoma"));
    clock.advance(10min);
    orchestrator.record_heartbeat(heartbeat("mac-1")); // still online, but never showed the VMs
    orchestrator.sweep();
    EXPECT_TRUE(place("sonoma"));
}

TEST_F(OrchestratorTest, DrainingStopsPlacementsAndUndrainingResumesThem) {
    orchestrator.record_heartbeat(heartbeat("mac-1"));
    const auto drained = orchestrator.set_drained("mac-1", true);
    ASSERT_NE(drained, nullptr);
    EXPECT_TRUE(drained->drained);
    EXPECT_FALSE(place("sonoma"));
    orchestrator.record_heartbeat(heartbeat("mac-1"));
    EXPECT_TRUE(orchestrator.node("mac-1")->drained) << "a heartbeat does not undo a drain";
    EXPECT_FALSE(place("sonoma"));
    orchestrator.set_drained("mac-1", false);
    EXPECT_TRUE(place("sonoma"));
    EXPECT_EQ(orchestrator.set_drained("mac-unknown", true), nullptr);
}

TEST_F(OrchestratorTest, OnlyAnOfflineNodeCanBeForgotten) {
    orchestrator.record_heartbeat(heartbeat("mac-1"));
    EXPECT_EQ(orchestrator.forget_node("mac-1"), NodeOperation::node_online);
    EXPECT_EQ(orchestrator.forget_node("mac-unknown"), NodeOperation::unknown_node);
    clock.advance(31s);
    orchestrator.sweep();
    EXPECT_EQ(orchestrator.forget_node("mac-1"), NodeOperation::done);
    EXPECT_EQ(orchestrator.node("mac-1"), nullptr);
    EXPECT_TRUE(orchestrator.nodes().empty());
}

TEST_F(OrchestratorTest, ALongPollOnAnUnknownNodeIsRefused) {
    bool answered = false;
    EXPECT_FALSE(orchestrator.wait_for_commands("mac-unknown", 1s, [&](auto) { answered = true; }));
    EXPECT_FALSE(answered);
}
