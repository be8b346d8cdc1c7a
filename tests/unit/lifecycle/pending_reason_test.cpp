// Why a VM waits: every code, with the counts behind it, as the lifecycle works them out; and the
// tenants' caps that are one of the causes.

#include "lifecycle_fixture.hpp"

#include "macvmorx/lifecycle/pending_reason.hpp"

using macvmorx::lifecycle::PendingCode;
using macvmorx::lifecycle::PendingReason;

namespace {

class PendingReasonTest : public LifecycleTest {
protected:
    // Asks for a VM that waits, and returns why.
    PendingReason waiting(VmSpec spec) {
        const auto result = orchestrator->request_vm("", std::move(spec), true);
        EXPECT_EQ(result.outcome, RequestOutcome::queued);
        if (!result.record) return {};
        const auto reason = orchestrator->pending_reason(result.record->vm_id);
        EXPECT_TRUE(reason);
        return reason.value_or(PendingReason{});
    }
    static VmSpec spec(std::string tenant = {}, macvmorx::protocol::Labels labels = {}, std::optional<double> memory = {}) {
        VmSpec asked;
        asked.image_name = "sonoma";
        asked.tenant = std::move(tenant);
        asked.labels = std::move(labels);
        asked.memory_gb = memory;
        return asked;
    }
};

} // namespace

TEST_F(PendingReasonTest, NoNodesWhenNoneHasReported) {
    EXPECT_EQ(waiting(spec()).code, PendingCode::no_nodes);
}

TEST_F(PendingReasonTest, NoFreeSlotCountsTheFullNodesAndTheRequestsAhead) {
    beat("mac-a");
    placed();
    placed();
    const auto first = waiting(spec());
    EXPECT_EQ(first.code, PendingCode::no_free_slot);
    EXPECT_EQ(first.nodes.total, 1u);
    EXPECT_EQ(first.nodes.full, 1u);
    EXPECT_EQ(first.ahead_in_queue, 0u);
    EXPECT_EQ(waiting(spec()).ahead_in_queue, 1u);
}

TEST_F(PendingReasonTest, NoNodeCarriesLabelsNamesTheLabelsNothingCarries) {
    beat("mac-a", {}, {{"arch", "arm64"}});
    const auto reason = waiting(spec({}, {{"arch", "arm64"}, {"xcode", "99"}}));
    EXPECT_EQ(reason.code, PendingCode::no_node_carries_labels);
    ASSERT_EQ(reason.nodes.missing_labels.size(), 1u);
    EXPECT_EQ(reason.nodes.missing_labels[0].key, "xcode");
}

TEST_F(PendingReasonTest, NotEnoughMemoryWhenFreeSlotsLackIt) {
    beat("mac-a"); // 16 GB
    const auto reason = waiting(spec({}, {}, 64.0));
    EXPECT_EQ(reason.code, PendingCode::not_enough_memory);
    EXPECT_EQ(reason.nodes.not_enough_memory, 1u);
}

TEST_F(PendingReasonTest, AllOfflineAndAllDrainingWhenNoNodeTakesVms) {
    beat("mac-a");
    beat("mac-b");
    orchestrator->set_drained("mac-b", true);
    clock.advance(31s);
    beat("mac-b");
    orchestrator->sweep(); // mac-a is offline, mac-b drained
    EXPECT_EQ(waiting(spec()).code, PendingCode::all_draining);
    clock.advance(31s);
    orchestrator->sweep();
    EXPECT_EQ(waiting(spec()).code, PendingCode::all_offline);
}

TEST_F(PendingReasonTest, LabelsMismatchWhenTheNodesCarryingThemDoNotTakeVms) {
    beat("mac-xcode", {}, {{"xcode", "16"}});
    beat("mac-plain");
    orchestrator->set_drained("mac-xcode", true);
    const auto reason = waiting(spec({}, {{"xcode", "16"}}));
    EXPECT_EQ(reason.code, PendingCode::labels_mismatch);
    EXPECT_EQ(reason.nodes.labels_mismatch, 1u);
    EXPECT_EQ(reason.nodes.draining, 1u);
}

TEST_F(PendingReasonTest, ATenantAtItsCapWaitsWhileOthersArePlaced) {
    LifecycleOptions options;
    options.queue.tenants["acme"].max_vms = 1;
    orchestrator = make(options);
    beat("mac-a");
    ASSERT_EQ(orchestrator->request_vm("", spec("acme"), true).outcome, RequestOutcome::placed);
    const auto reason = waiting(spec("acme"));
    EXPECT_EQ(reason.code, PendingCode::tenant_at_cap);
    EXPECT_TRUE(reason.tenant_at_cap);
    EXPECT_EQ(orchestrator->request_vm("", spec("other"), true).outcome, RequestOutcome::placed)
        << "the free slot goes to another tenant";
    EXPECT_EQ(orchestrator->request_vm("", spec("acme"), false).outcome, RequestOutcome::no_capacity);
}

TEST_F(PendingReasonTest, BehindInQueueWhenANodeFitsButRequestsAheadGoFirst) {
    macvmorx::scheduling::NodeCounts nodes;
    nodes.total = 3;
    nodes.carrying_labels = 3;
    nodes.fits = 1;
    nodes.full = 2;
    EXPECT_EQ(macvmorx::lifecycle::pending_code(nodes, false), PendingCode::behind_in_queue);
    EXPECT_EQ(macvmorx::lifecycle::pending_code(nodes, true), PendingCode::tenant_at_cap);
    EXPECT_EQ(macvmorx::lifecycle::to_string(PendingCode::behind_in_queue), "behindInQueue");
}

TEST_F(PendingReasonTest, AFloodOfOneTenantDoesNotStarveANeighbourWhenSlotsFree) {
    beat("mac-a");
    const auto first = orchestrator->request_vm("", spec("flood"), true);
    const auto second = orchestrator->request_vm("", spec("flood"), true);
    for (int i = 0; i < 20; ++i) orchestrator->request_vm("", spec("flood"), true);
    const auto neighbour = orchestrator->request_vm("", spec("neighbour"), true);
    ASSERT_EQ(neighbour.outcome, RequestOutcome::queued);
    // One of the flood's VMs ends: the slot goes to the neighbour, not to the flood's next.
    orchestrator->delete_vm(first.record->vm_id);
    beat("mac-a");
    EXPECT_EQ(state(neighbour.record->vm_id), VmState::assigned);
    EXPECT_EQ(orchestrator->queue().size(), 20u);
    (void)second;
}
