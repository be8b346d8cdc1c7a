// The largest durations. tests/fuzz/duration_fuzz found that the largest one an operator can
// write (INT64_MAX nanoseconds) was parsed as a negative duration: the sum, rounded to a double,
// became 2^63 and wrapped.

#include "macvmorx/base/duration.hpp"

#include <gtest/gtest.h>

using macvmorx::format_duration;
using macvmorx::parse_duration;

TEST(DurationRange, RefusesSumsThatRoundToTwoToTheSixtyThirdNanoseconds) {
    for (const char* text : {"2562047h47m16.854775807s", "9223372036854774784ns1023ns", "9223372036854774784ns600ns",
                             "9223372036854775807ns", "9223372036854775808ns", "2562048h"}) {
        EXPECT_FALSE(parse_duration(text).has_value()) << text;
    }
}

TEST(DurationRange, KeepsTheLargestDurationsBelowTheLimit) {
    EXPECT_EQ(parse_duration("9223372036854774784ns")->count(), 9'223'372'036'854'774'784);
    EXPECT_EQ(parse_duration("9223372036854774784ns511ns")->count(), 9'223'372'036'854'774'784);
    const auto largest = parse_duration("2562047h47m16.854774784s");
    ASSERT_TRUE(largest.has_value());
    EXPECT_GT(largest->count(), 0);
    EXPECT_EQ(parse_duration(format_duration(*largest)), largest);
}
