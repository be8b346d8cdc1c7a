#include "macvmorx/base/timestamp.hpp"

#include <gtest/gtest.h>

using macvmorx::format_rfc3339;
using macvmorx::from_unix_millis;
using macvmorx::parse_rfc3339;
using macvmorx::to_unix_millis;

TEST(Timestamp, FormatsUtcWithMilliseconds) {
    EXPECT_EQ(format_rfc3339(from_unix_millis(0)), "1970-01-01T00:00:00.000Z");
    EXPECT_EQ(format_rfc3339(from_unix_millis(1'764'062'520'123)), "2025-11-25T09:22:00.123Z");
    EXPECT_EQ(format_rfc3339(from_unix_millis(951'782'400'000)), "2000-02-29T00:00:00.000Z");
}

TEST(Timestamp, ParsesWhatItFormatsAndGithubStyleTimes) {
    const auto time = from_unix_millis(1'764'062'520'123);
    EXPECT_EQ(parse_rfc3339(format_rfc3339(time)), time);
    EXPECT_EQ(to_unix_millis(*parse_rfc3339("2025-11-25T09:22:00Z")), 1'764'062'520'000);
    EXPECT_EQ(to_unix_millis(*parse_rfc3339("2025-11-25T10:22:00+01:00")), 1'764'062'520'000);
    EXPECT_EQ(to_unix_millis(*parse_rfc3339("2025-11-25T04:22:00-05:00")), 1'764'062'520'000);
}

TEST(Timestamp, RefusesMalformedTimes) {
    for (const char* text : {"", "2025-11-25", "2025-11-25T09:22:00", "2025-13-01T00:00:00Z", "2025-11-25T09:22:00.Z",
                             "2025-11-25T09:22:00Zjunk", "yesterday"}) {
        EXPECT_FALSE(parse_rfc3339(text).has_value()) << text;
    }
}
