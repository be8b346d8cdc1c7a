// The calls owed to GitHub on their own: each is taken when due, in the order asked, none while
// GitHub limits the rate, and the worker learns when to look again.

#include "actions/registrar_queue.hpp"

#include "macvmorx/base/clock.hpp"

#include "test_time.hpp"

#include <gtest/gtest.h>

#include <set>

using namespace std::chrono_literals;
using macvmorx::Clock;
using macvmorx::TimePoint;
using macvmorx::actions::RegistrarQueue;
using macvmorx::actions::RegistrarTask;

namespace {

using macvmorx::testing::t0;

struct WatchedClock final : Clock {
    TimePoint now() const override { return t0; }
    void expect_wake_up(TimePoint when) const override { wake_ups.insert(when); }
    mutable std::set<TimePoint> wake_ups;
};

RegistrarTask removal(TimePoint due, std::int64_t runner_id) {
    return {RegistrarTask::Kind::remove_runner, due, {}, "pool", runner_id, 0};
}

} // namespace

TEST(RegistrarQueue, TakesTheDueTasksInTheOrderAsked) {
    RegistrarQueue queue;
    queue.push(removal(t0 + 5s, 1));
    queue.push(removal(t0, 2));
    queue.push(removal(t0 - 1s, 3));
    auto first = queue.take_due(t0, {});
    ASSERT_TRUE(first);
    EXPECT_EQ(first->runner_id, 2);
    auto second = queue.take_due(t0, {});
    ASSERT_TRUE(second);
    EXPECT_EQ(second->runner_id, 3);
    EXPECT_FALSE(queue.take_due(t0, {}));
    EXPECT_EQ(queue.size(), 1u);
    EXPECT_EQ(queue.take_due(t0 + 5s, {})->runner_id, 1);
}

TEST(RegistrarQueue, NothingIsDueWhileGithubLimitsTheRate) {
    RegistrarQueue queue;
    queue.push(removal(t0, 1));
    EXPECT_FALSE(queue.take_due(t0, t0 + 1min));
    EXPECT_TRUE(queue.any_due(t0)); // due by its own time: the worker wakes, and finds the pause
    EXPECT_TRUE(queue.take_due(t0 + 1min, t0 + 1min));
}

TEST(RegistrarQueue, TellsWhenTheNextTaskIsDueNotBeforeAPauseEnds) {
    RegistrarQueue queue;
    WatchedClock clock;
    EXPECT_FALSE(queue.next_due({}, clock));
    queue.push(removal(t0 + 30s, 1));
    queue.push(removal(t0 + 10s, 2));
    EXPECT_EQ(queue.next_due({}, clock), t0 + 10s);
    EXPECT_EQ(clock.wake_ups, (std::set<TimePoint>{t0 + 10s, t0 + 30s}));
    EXPECT_EQ(queue.next_due(t0 + 20s, clock), t0 + 20s);
    EXPECT_FALSE(queue.any_due(t0));
}
