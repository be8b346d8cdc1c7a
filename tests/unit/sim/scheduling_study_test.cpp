// The scheduling study (issue 23) on a small fleet, 40 Macs for 2 virtual hours: the relations it
// was built to measure, as measured, not numbers written down.

#include "macvmorx/sim/scheduling_study.hpp"

#include <gtest/gtest.h>

using namespace std::chrono_literals;
using macvmorx::Duration;
using macvmorx::sim::run_scheduling_study;
using macvmorx::sim::SchedulingStudyOptions;

namespace {

SchedulingStudyOptions small_study_options() {
    SchedulingStudyOptions options;
    options.macs = 40;
    options.hours = 2;
    options.warm_up = 20min;
    options.seed = 7;
    // Acknowledged when taken, a deleteVm frees the slot of a VM deleted before any heartbeat
    // listed it while its clone is still there: the next createVm there is refused, and the
    // queue's VMs spend their attempts on that slot (docs/benchmarks.md). Not what is measured here.
    options.ack_delete_when_gone = true;
    return options;
}

} // namespace

TEST(SchedulingStudy, TheSameSeedGivesTheSameNumbers) {
    const auto first = run_scheduling_study(small_study_options(), true, true);
    const auto second = run_scheduling_study(small_study_options(), true, true);
    EXPECT_GT(first.all.jobs, 100u);
    EXPECT_EQ(first.all.jobs, second.all.jobs);
    EXPECT_EQ(first.all.placements, second.all.placements);
    EXPECT_EQ(first.all.placed_on_holder, second.all.placed_on_holder);
    EXPECT_EQ(first.all.found_on_disk, second.all.found_on_disk);
    EXPECT_EQ(first.all.mean_wait_seconds, second.all.mean_wait_seconds);
    EXPECT_EQ(first.all.p95_wait_seconds, second.all.p95_wait_seconds);
    EXPECT_EQ(first.neighbour_p95_seconds, second.neighbour_p95_seconds);
    EXPECT_EQ(first.pulls_ahead_per_hour, second.pulls_ahead_per_hour);
    EXPECT_EQ(first.pull_commands, second.pull_commands);
    EXPECT_EQ(first.jobs_never_run, 0u);

    auto other_seed = small_study_options();
    other_seed.seed = 8;
    const auto other = run_scheduling_study(other_seed, true, true);
    EXPECT_NE(other.all.mean_wait_seconds, first.all.mean_wait_seconds);
}

TEST(SchedulingStudy, PreDistributionFindsMoreImagesOnTheMacsThanPlacementAlone) {
    const auto with = run_scheduling_study(small_study_options(), true, true);
    const auto without = run_scheduling_study(small_study_options(), false, true);
    EXPECT_EQ(with.all.jobs, without.all.jobs) << "the same jobs";
    EXPECT_GT(with.pull_commands, 0u);
    EXPECT_EQ(without.pull_commands, 0u);
    EXPECT_EQ(without.pulls_ahead_per_hour, 0);
    // Under steady demand the warm caches hold what the jobs ask for either way; the new version
    // of the most used image is where pulls ahead of demand tell.
    EXPECT_GE(with.steady.on_disk_share(), without.steady.on_disk_share());
    EXPECT_GT(with.new_version.on_disk_share(), without.new_version.on_disk_share());
    EXPECT_GT(with.new_version.cached_share(), without.new_version.cached_share());
    EXPECT_LT(with.new_version.mean_wait_seconds, without.new_version.mean_wait_seconds);
    EXPECT_GT(with.all.on_disk_share(), without.all.on_disk_share());
    // Pinned ahead of its demand, the new version is on the Macs when its jobs come. (This small
    // lab is busy, so queueing dominates its waits: the 5x of docs/benchmarks.md is at 200 Macs.)
    ASSERT_GT(with.new_image_first_hour.jobs, 0u);
    EXPECT_LT(with.new_image_first_hour.mean_wait_seconds, without.new_image_first_hour.mean_wait_seconds);
    EXPECT_LT(with.new_image_first_hour.p95_wait_seconds, without.new_image_first_hour.p95_wait_seconds);
}

TEST(SchedulingStudy, FairShareShortensTheNeighboursWaitDuringAFlood) {
    const auto fair = run_scheduling_study(small_study_options(), true, true);
    const auto first_come = run_scheduling_study(small_study_options(), true, false);
    EXPECT_LT(fair.neighbour_p95_seconds, first_come.neighbour_p95_seconds);
    EXPECT_GT(fair.flood_p95_seconds, fair.neighbour_p95_seconds) << "the flood waits for its own jobs";
}

TEST(SchedulingStudy, PriorityAgeingDoesNotUndoFairShareDuringAFlood) {
    // Ageing lets a request join a higher priority's requests, never outrank its own priority's:
    // a flood's requests that waited an interval do not go before the neighbour's newer ones.
    auto options = small_study_options();
    options.priority_aging = Duration::zero();
    const auto without_ageing = run_scheduling_study(options, true, true);
    const auto first_come = run_scheduling_study(options, true, false);
    EXPECT_LT(without_ageing.neighbour_p95_seconds * 3, first_come.neighbour_p95_seconds);
    const auto aged = run_scheduling_study(small_study_options(), true, true);
    EXPECT_LE(aged.neighbour_p95_seconds, without_ageing.neighbour_p95_seconds * 1.1);
    EXPECT_LT(aged.neighbour_p95_seconds * 3, first_come.neighbour_p95_seconds);
}
