// The webhook delivery ids on their own: a redelivery is recognised, the oldest ids are
// forgotten beyond the capacity, and the durable records hear of each id remembered and forgotten.

#include "actions/delivery_log.hpp"

#include "macvmorx/actions/job_observer.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using macvmorx::actions::DeliveryLog;
using macvmorx::actions::JobObserver;
using macvmorx::actions::JobRecord;

namespace {

struct RecordingObserver final : JobObserver {
    std::vector<std::string> events;
    void job_changed(const JobRecord&) override {}
    void job_removed(std::int64_t) override {}
    void delivery_remembered(const std::string& id) override { events.push_back("+" + id); }
    void delivery_forgotten(const std::string& id) override { events.push_back("-" + id); }
};

} // namespace

TEST(DeliveryLog, RecognisesARedelivery) {
    DeliveryLog log{10};
    EXPECT_TRUE(log.remember("a", nullptr));
    EXPECT_FALSE(log.remember("a", nullptr));
    EXPECT_TRUE(log.remember("b", nullptr));
    EXPECT_EQ(log.size(), 2u);
}

TEST(DeliveryLog, ForgetsTheOldestBeyondItsCapacityAndTellsTheObserver) {
    DeliveryLog log{2};
    RecordingObserver observer;
    log.remember("a", &observer);
    log.remember("b", &observer);
    log.remember("c", &observer);
    EXPECT_EQ(observer.events, (std::vector<std::string>{"+a", "+b", "+c", "-a"}));
    EXPECT_FALSE(log.contains("a"));
    EXPECT_TRUE(log.contains("b"));
    EXPECT_TRUE(log.contains("c"));
    // Forgotten, so a late redelivery of it is news again.
    EXPECT_TRUE(log.remember("a", &observer));
    EXPECT_FALSE(log.contains("b"));
}

TEST(DeliveryLog, ARedeliveryTellsTheObserverNothing) {
    DeliveryLog log{10};
    RecordingObserver observer;
    log.remember("a", &observer);
    log.remember("a", &observer);
    EXPECT_EQ(observer.events, (std::vector<std::string>{"+a"}));
}

TEST(DeliveryLog, RestoredIdsAreRecognisedAndForgottenOldestFirst) {
    DeliveryLog log{2};
    log.restore({"a", "b", "a"});
    EXPECT_EQ(log.size(), 2u);
    EXPECT_FALSE(log.remember("a", nullptr));
    RecordingObserver observer;
    EXPECT_TRUE(log.remember("c", &observer));
    EXPECT_EQ(observer.events, (std::vector<std::string>{"+c", "-a"}));
}
