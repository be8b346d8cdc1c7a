// The records' deadlines on their own: which deadline each state calls for, and that the index
// gives a sweep exactly the records that are due, in time order, each once.

#include "lifecycle/deadline_index.hpp"

#include "test_time.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace std::chrono_literals;
using macvmorx::TimePoint;
using macvmorx::lifecycle::deadline_of;
using macvmorx::lifecycle::DeadlineIndex;
using macvmorx::lifecycle::LifecycleOptions;
using macvmorx::lifecycle::VmRecord;
using macvmorx::protocol::VmState;

namespace {

using macvmorx::testing::t0;

LifecycleOptions options() {
    LifecycleOptions made;
    made.placement_ttl = 10min;
    made.start_deadline = 15min;
    made.queue_timeout = 1h;
    made.retention = 2h;
    return made;
}

VmRecord record(const std::string& vm_id, VmState state) {
    VmRecord vm;
    vm.vm_id = vm_id;
    vm.state = state;
    vm.created_at = vm.updated_at = vm.assigned_at = vm.deleting_since = t0;
    return vm;
}

std::vector<std::string> due(DeadlineIndex& index, TimePoint now) {
    std::vector<std::string> ids;
    while (auto vm_id = index.take_due(now)) ids.push_back(std::move(*vm_id));
    return ids;
}

} // namespace

TEST(DeadlineOf, EachStateWaitsForWhatItNeedsNext) {
    const auto opts = options();
    EXPECT_EQ(deadline_of(record("a", VmState::pending), opts), t0 + 1h) << "the queue timeout";
    EXPECT_EQ(deadline_of(record("a", VmState::assigned), opts), t0 + 10min) << "the placement TTL, the sooner";
    auto short_start = opts;
    short_start.start_deadline = 5min;
    EXPECT_EQ(deadline_of(record("a", VmState::assigned), short_start), t0 + 5min) << "the start deadline, the sooner";
    EXPECT_EQ(deadline_of(record("a", VmState::provisioning), opts), t0 + 15min);
    EXPECT_EQ(deadline_of(record("a", VmState::running), opts), t0 + 15min) << "an agent's word, no heartbeat yet";
    EXPECT_EQ(deadline_of(record("a", VmState::deleting), opts), t0 + 10min);
    EXPECT_EQ(deadline_of(record("a", VmState::deleted), opts), t0 + 2h) << "the retention";
    EXPECT_EQ(deadline_of(record("a", VmState::failed), opts), t0 + 2h);
    EXPECT_FALSE(deadline_of(record("a", VmState::lost), opts));
    EXPECT_FALSE(deadline_of(record("a", VmState::unmanaged), opts));

    auto seen = record("a", VmState::running);
    seen.seen_on_host = true;
    EXPECT_FALSE(deadline_of(seen, opts)) << "a heartbeat listed it: it started";
    seen.state = VmState::deleting;
    EXPECT_FALSE(deadline_of(seen, opts)) << "the host has it: its heartbeat will say when it is gone";
    auto acked = record("a", VmState::deleting);
    acked.delete_acked = true;
    EXPECT_FALSE(deadline_of(acked, opts)) << "the agent took the deleteVm";
}

TEST(DeadlineIndex, GivesTheDueRecordsInTimeOrderEachOnce) {
    DeadlineIndex index{options()};
    auto queued = record("queued", VmState::pending);      // t0 + 1h
    auto placed = record("placed", VmState::assigned);     // t0 + 10min
    auto starting = record("starting", VmState::running);  // t0 + 15min
    auto ended = record("ended", VmState::lost);           // none
    for (auto* vm : {&queued, &placed, &starting, &ended}) index.update(*vm);
    EXPECT_EQ(index.size(), 3u);
    EXPECT_EQ(placed.deadline, t0 + 10min) << "the record says where the index holds it";
    EXPECT_FALSE(ended.deadline);

    EXPECT_TRUE(due(index, t0 + 10min - 1s).empty());
    EXPECT_EQ(due(index, t0 + 15min), (std::vector<std::string>{"placed", "starting"}));
    EXPECT_TRUE(due(index, t0 + 15min).empty()) << "taken out";
    EXPECT_EQ(due(index, t0 + 1h), std::vector<std::string>{"queued"});
    EXPECT_EQ(index.size(), 0u);
}

TEST(DeadlineIndex, ARecordMovesWithItsStateAndLeavesNoStaleDeadlineBehind) {
    DeadlineIndex index{options()};
    auto vm = record("vm-1", VmState::assigned);
    index.update(vm);
    index.update(vm);
    EXPECT_EQ(index.size(), 1u) << "the same deadline again: one entry";

    vm.state = VmState::provisioning;
    index.update(vm);
    EXPECT_EQ(vm.deadline, t0 + 15min);
    EXPECT_EQ(index.size(), 1u);
    EXPECT_TRUE(due(index, t0 + 10min).empty()) << "the placement TTL no longer applies";

    vm.state = VmState::running;
    vm.seen_on_host = true;
    index.update(vm);
    EXPECT_FALSE(vm.deadline);
    EXPECT_EQ(index.size(), 0u);
    EXPECT_TRUE(due(index, t0 + 1h).empty());

    vm.state = VmState::deleted;
    vm.updated_at = t0 + 1h;
    index.update(vm);
    EXPECT_EQ(due(index, t0 + 3h - 1s), std::vector<std::string>{}) << "retained two hours after it ended";
    EXPECT_EQ(due(index, t0 + 3h), std::vector<std::string>{"vm-1"});
}
