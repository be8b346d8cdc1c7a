#include "macvmorx/base/byte_size.hpp"
#include "macvmorx/base/duration.hpp"

#include <gtest/gtest.h>

using namespace std::chrono_literals;
using macvmorx::Duration;
using macvmorx::format_duration;
using macvmorx::parse_duration;

TEST(Duration, ParsesTheUnitsOperatorsWrite) {
    EXPECT_EQ(parse_duration("500ms"), Duration{500ms});
    EXPECT_EQ(parse_duration("45s"), Duration{45s});
    EXPECT_EQ(parse_duration("1m"), Duration{1min});
    EXPECT_EQ(parse_duration("1h"), Duration{1h});
    EXPECT_EQ(parse_duration("250us"), Duration{250us});
    EXPECT_EQ(parse_duration("10ns"), Duration{10ns});
    EXPECT_EQ(parse_duration("0"), Duration{0s});
}

TEST(Duration, ParsesCompoundsAndFractions) {
    EXPECT_EQ(parse_duration("1m30s"), Duration{90s});
    EXPECT_EQ(parse_duration("1h2m3s"), Duration{3723s});
    EXPECT_EQ(parse_duration("1.5s"), Duration{1500ms});
    EXPECT_EQ(parse_duration("0.25h"), Duration{15min});
}

TEST(Duration, RefusesWhatIsNotADuration) {
    for (const char* text : {"", "banana", "45", "-5s", "5 s", "5sec", "s", "1.2.3s", "5s ", "m5"}) {
        EXPECT_FALSE(parse_duration(text).has_value()) << text;
    }
}

TEST(Duration, RefusesDurationsTooLongToRepresent) {
    EXPECT_FALSE(parse_duration("9999999999999h").has_value());
}

TEST(Duration, FormatsInTheUnitsItParses) {
    EXPECT_EQ(format_duration(30s), "30s");
    EXPECT_EQ(format_duration(10min), "10m");
    EXPECT_EQ(format_duration(90s), "1m30s");
    EXPECT_EQ(format_duration(2h), "2h");
    EXPECT_EQ(format_duration(500ms), "500ms");
    EXPECT_EQ(format_duration(0s), "0s");
    for (const char* text : {"45s", "1m30s", "500ms", "1h", "250us"}) {
        EXPECT_EQ(format_duration(*parse_duration(text)), text);
    }
}

TEST(ByteSize, ParsesBinaryAndDecimalUnits) {
    EXPECT_EQ(macvmorx::parse_byte_size("1048576"), 1048576u);
    EXPECT_EQ(macvmorx::parse_byte_size("1MiB"), 1048576u);
    EXPECT_EQ(macvmorx::parse_byte_size("512KiB"), 524288u);
    EXPECT_EQ(macvmorx::parse_byte_size("2GiB"), 2147483648u);
    EXPECT_EQ(macvmorx::parse_byte_size("1MB"), 1000000u);
    EXPECT_EQ(macvmorx::parse_byte_size("10B"), 10u);
    EXPECT_FALSE(macvmorx::parse_byte_size("1 MiB"));
    EXPECT_FALSE(macvmorx::parse_byte_size("MiB"));
    EXPECT_FALSE(macvmorx::parse_byte_size("-1"));
    EXPECT_FALSE(macvmorx::parse_byte_size("99999999999999999999GiB"));
    EXPECT_EQ(macvmorx::format_byte_size(1048576), "1MiB");
    EXPECT_EQ(macvmorx::format_byte_size(1500), "1500B");
}
