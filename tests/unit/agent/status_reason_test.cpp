// What the agent says of a degraded host fits the heartbeat's statusReason, whatever tart printed.

#include "macvmorx/agent/agent.hpp"

#include <gtest/gtest.h>

using macvmorx::agent::heartbeat_status_reason;

TEST(HeartbeatStatusReason, ControlCharactersBecomeSpaces) {
    EXPECT_EQ(heartbeat_status_reason("tart list: exit status 1:\tError\r\n\x7f"), "tart list: exit status 1: Error   ");
}

TEST(HeartbeatStatusReason, ALongReasonIsCutBetweenCharactersWithin512Bytes) {
    // tart's words hold curly quotes: three bytes each in UTF-8.
    std::string reason(510, 'x');
    reason += "\xE2\x80\x9Cvms\xE2\x80\x9D";
    const auto cut = heartbeat_status_reason(reason);
    EXPECT_EQ(cut, std::string(510, 'x')) << "the quote that would straddle byte 512 goes whole";
    EXPECT_EQ(heartbeat_status_reason(std::string(512, 'y')), std::string(512, 'y'));
    EXPECT_EQ(heartbeat_status_reason(""), "");
}
