// What the agent reads from tart's output: the pull's percentages and the VM limit.

#include "macvmorx/agent/tart_backend.hpp"

#include <gtest/gtest.h>

using macvmorx::agent::is_vm_limit_error;
using macvmorx::agent::pull_percent;

TEST(TartOutput, APullsPercentagesAreReadFromTheirLines) {
    EXPECT_EQ(pull_percent("0%"), 0);
    EXPECT_EQ(pull_percent("42%"), 42);
    EXPECT_EQ(pull_percent("100%"), 100);
    EXPECT_EQ(pull_percent("  7%\r"), 7);
    EXPECT_EQ(pull_percent("\x1B[K"), std::nullopt) << "the interactive meter's erase line";
    EXPECT_EQ(pull_percent("\x1B[K63%"), 63);
}

TEST(TartOutput, OtherLinesAreNoPercentage) {
    for (const char* line : {"", "%", "pulling manifest...", "pulling disk (22.4 GB compressed)...", "101%", "1000%",
                             "-5%", "12.5%", "50% done", "ab%", "12 %x"}) {
        EXPECT_EQ(pull_percent(line), std::nullopt) << line;
    }
}

TEST(TartOutput, TheVmLimitIsRecognisedInTheWaysMacOsSaysIt) {
    EXPECT_TRUE(is_vm_limit_error("Error: The number of virtual machines exceeds the limit the system supports."));
    EXPECT_TRUE(is_vm_limit_error("VZErrorDomain Code=6: VM limit reached"));
    EXPECT_FALSE(is_vm_limit_error("Error: VM macvmorx-a does not exist"));
    EXPECT_FALSE(is_vm_limit_error(""));
}
