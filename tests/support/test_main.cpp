// The tests' main: the process-wide logger is created here, before any test starts a thread,
// as the daemon's main does (spdlog builds its registry lazily, on first use).

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

int main(int argc, char** argv) {
    spdlog::default_logger()->set_level(spdlog::level::info);
    ::testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
