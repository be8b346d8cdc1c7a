// The model of a lab taking a new bucket image, with and without peers (issue 21's goal: about
// one copy from the bucket, and at least 5 times sooner, for 100 Macs and a 40 GB image).

#include "macvmorx/sim/image_rollout.hpp"

#include <gtest/gtest.h>

using macvmorx::sim::RolloutOptions;
using macvmorx::sim::simulate_rollout;

TEST(ImageRollout, WithoutPeersEveryMacSharesTheUplinkForItsWholeCopy) {
    RolloutOptions options; // 100 Macs, 40 GB, 1 Gbit/s uplink
    const auto run = simulate_rollout(options, false);
    EXPECT_NEAR(run.gb_from_bucket, 4000, 1);
    EXPECT_NEAR(run.minutes_until_all, 100 * 40e9 / 125e6 / 60, 1); // 533 minutes
    EXPECT_EQ(run.gb_from_peers, 0);
}

TEST(ImageRollout, WithPeersTheLabTakesOneCopyFromTheBucketAndHoldsItFiveTimesSooner) {
    RolloutOptions options;
    const auto without = simulate_rollout(options, false);
    const auto with = simulate_rollout(options, true);
    EXPECT_NEAR(with.gb_from_bucket, 40, 1) << "one copy";
    EXPECT_NEAR(with.gb_from_bucket + with.gb_from_peers, 4000, 1);
    EXPECT_NEAR(with.minutes_until_first, 40e9 / 125e6 / 60, 0.1) << "the lab's copy at the whole uplink";
    EXPECT_GE(without.minutes_until_all / with.minutes_until_all, 5.0) << with.minutes_until_all << " min";
}

TEST(ImageRollout, UploadsBoundTheSpreadTheFasterTheWiderTheBound) {
    RolloutOptions bounded;
    bounded.peer_upload_mb_per_second = 50;
    RolloutOptions unbounded;
    unbounded.peer_upload_mb_per_second = 0; // the network card's 10 Gbit/s
    EXPECT_GT(simulate_rollout(bounded, true).minutes_until_all, simulate_rollout(unbounded, true).minutes_until_all);
}
