#include "macvmorx/orchestrator/fleet_history.hpp"

#include <gtest/gtest.h>

using macvmorx::TimePoint;
using macvmorx::orchestrator::FleetHistory;
using macvmorx::orchestrator::FleetSample;
using namespace std::chrono_literals;

namespace {

FleetSample at(TimePoint when, std::uint32_t used = 0) {
    FleetSample sample;
    sample.at = when;
    sample.slots_total = 10;
    sample.slots_used = used;
    return sample;
}

} // namespace

TEST(FleetHistory, ASampleIsDueOncePerInterval) {
    FleetHistory history{30s, 10};
    const TimePoint start{1'000'000s};
    EXPECT_TRUE(history.due(start)) << "the first at once";
    history.record(at(start));
    EXPECT_FALSE(history.due(start + 29s));
    EXPECT_TRUE(history.due(start + 30s));
}

TEST(FleetHistory, TheRingKeepsTheLatestSamplesOldestFirst) {
    FleetHistory history{30s, 3};
    const TimePoint start{1'000'000s};
    for (std::uint32_t i = 0; i < 5; ++i) history.record(at(start + i * 30s, i));
    const auto samples = history.samples();
    ASSERT_EQ(samples.size(), 3u);
    EXPECT_EQ(samples[0].slots_used, 2u);
    EXPECT_EQ(samples[2].slots_used, 4u);
    EXPECT_EQ(samples[2].at, start + 120s);
}

TEST(FleetHistory, HeartbeatsAreARateOverTheInterval) {
    FleetHistory history{30s, 10};
    const TimePoint start{1'000'000s};
    history.record(at(start));
    for (int i = 0; i < 600; ++i) history.heartbeat();
    history.record(at(start + 30s));
    const auto samples = history.samples();
    EXPECT_DOUBLE_EQ(samples[0].heartbeats_per_second, 0) << "no interval before the first";
    EXPECT_DOUBLE_EQ(samples[1].heartbeats_per_second, 20);
}

TEST(FleetHistory, WaitsArePercentilesOfTheIntervalsStarts) {
    FleetHistory history{30s, 10};
    const TimePoint start{1'000'000s};
    for (int seconds = 1; seconds <= 100; ++seconds) history.vm_started(seconds);
    history.record(at(start));
    history.record(at(start + 30s)); // nothing started in this one
    const auto samples = history.samples();
    EXPECT_EQ(samples[0].vms_started, 100u);
    EXPECT_DOUBLE_EQ(samples[0].wait_p50_seconds.value_or(-1), 50);
    EXPECT_DOUBLE_EQ(samples[0].wait_p95_seconds.value_or(-1), 95);
    EXPECT_EQ(samples[1].vms_started, 0u);
    EXPECT_FALSE(samples[1].wait_p50_seconds);
}

TEST(FleetHistory, AFloodOfStartsKeepsABoundedFairSample) {
    FleetHistory history{30s, 10};
    // 100,000 starts waiting 0..99 s evenly: the sample kept still has their median.
    for (int i = 0; i < 100'000; ++i) history.vm_started(i % 100);
    history.record(at(TimePoint{1'000'000s}));
    const auto sample = history.samples().at(0);
    EXPECT_EQ(sample.vms_started, 100'000u);
    EXPECT_NEAR(sample.wait_p50_seconds.value_or(-1), 49.5, 2);
    EXPECT_NEAR(sample.wait_p95_seconds.value_or(-1), 94.5, 2);
}
