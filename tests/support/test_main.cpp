// The tests' main: the process-wide logger is created here, before any test starts a thread,
// as the daemon's main does (spdlog builds its registry lazily, on first use).

#include "log_capture.hpp"

#include <gtest/gtest.h>

int main(int argc, char** argv) {
    macvmorx::testing::install_test_logger();
    ::testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
