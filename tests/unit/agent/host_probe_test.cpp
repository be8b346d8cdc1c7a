#include "macvmorx/agent/host_probe.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <limits>

using macvmorx::agent::cpu_busy_percent;
using macvmorx::agent::CpuCounters;

namespace {

// macOS's host_cpu_load_info: user, system and nice make the busy ticks, each a natural_t.
CpuCounters mac_ticks(std::uint32_t user, std::uint32_t system, std::uint32_t nice, std::uint32_t idle) {
    return {std::uint64_t{user} + system + nice, idle, 32};
}

} // namespace

TEST(CpuBusyPercent, IsTheBusyShareOfTheTicksBetweenTwoSamples) {
    EXPECT_DOUBLE_EQ(cpu_busy_percent({1'000, 3'000, 64}, {1'250, 3'750, 64}), 25.0);
    EXPECT_DOUBLE_EQ(cpu_busy_percent(mac_ticks(500, 200, 0, 9'000), mac_ticks(800, 300, 0, 9'600)), 40.0);
    EXPECT_DOUBLE_EQ(cpu_busy_percent({1'000, 3'000, 64}, {1'400, 3'000, 64}), 100.0);
    EXPECT_DOUBLE_EQ(cpu_busy_percent({1'000, 3'000, 64}, {1'000, 3'500, 64}), 0.0);
}

TEST(CpuBusyPercent, ReadsTheTrueShareWhenA32BitCounterWraps) {
    // user crosses 2^32: 0xFFFFFF00 -> 0x100 is 512 ticks, while idle moves 1,536.
    EXPECT_DOUBLE_EQ(cpu_busy_percent(mac_ticks(0xFFFFFF00, 0x500, 0x10, 0x10000000),
                                      mac_ticks(0x00000100, 0x500, 0x10, 0x10000600)),
                     25.0);
    // The wrapped user counter is summed with system: the sum crosses 2^32 too.
    EXPECT_DOUBLE_EQ(cpu_busy_percent(mac_ticks(0xFFFFFF00, 0x500, 0, 0x7000), mac_ticks(0x100, 0x600, 0, 0x7900)),
                     768.0 / (768.0 + 2'304.0) * 100.0);
    // idle wraps, busy does not: 200 busy ticks and 800 idle ones.
    EXPECT_DOUBLE_EQ(cpu_busy_percent(mac_ticks(7'000, 0, 0, 0xFFFFFDE0), mac_ticks(7'200, 0, 0, 0x00000100)), 20.0);
}

TEST(CpuBusyPercent, NoTickBetweenTheSamplesIsZero) {
    EXPECT_EQ(cpu_busy_percent({1'000, 3'000, 64}, {1'000, 3'000, 64}), 0.0);
    EXPECT_EQ(cpu_busy_percent(mac_ticks(0xFFFFFFFF, 1, 2, 3), mac_ticks(0xFFFFFFFF, 1, 2, 3)), 0.0);
    EXPECT_EQ(cpu_busy_percent({}, {}), 0.0);
}

TEST(CpuBusyPercent, Takes64BitCountersWhole) {
    const std::uint64_t high = std::uint64_t{1} << 40; // far beyond what 32 bits hold
    EXPECT_DOUBLE_EQ(cpu_busy_percent({high, high, 64}, {high + 300, high + 700, 64}), 30.0);
    // 2^32 more busy ticks is a real step for a 64-bit counter, not a wrap.
    EXPECT_DOUBLE_EQ(cpu_busy_percent({0, 0, 64}, {std::uint64_t{1} << 32, std::uint64_t{1} << 32, 64}), 50.0);
    const std::uint64_t top = std::numeric_limits<std::uint64_t>::max();
    EXPECT_DOUBLE_EQ(cpu_busy_percent({top - 99, 5'000, 64}, {200, 5'700, 64}), 30.0);
}

TEST(CpuBusyPercent, ACounterThatGoesBackCountsAsNoTicks) {
    // Linux's iowait, counted as idle, may step back (Documentation/filesystems/proc.rst).
    EXPECT_DOUBLE_EQ(cpu_busy_percent({1'000, 3'000, 64}, {1'300, 2'995, 64}), 100.0);
    EXPECT_DOUBLE_EQ(cpu_busy_percent(mac_ticks(1'000, 0, 0, 3'000), mac_ticks(1'300, 0, 0, 2'995)), 100.0);
    EXPECT_EQ(cpu_busy_percent({1'000, 3'000, 64}, {900, 2'000, 64}), 0.0);
}

TEST(SystemProbe, ReadsTheDiskOfItsPathAndTheMemoryOfThisMachine) {
    const auto root = std::filesystem::temp_directory_path();
    auto probe = macvmorx::agent::make_system_probe(root.string());
    const auto figures = probe->sample();
    const double gib = 1024.0 * 1024.0 * 1024.0;
    const auto space = std::filesystem::space(root);
    EXPECT_NEAR(figures.disk_total_gb, static_cast<double>(space.capacity) / gib, 0.001);
    EXPECT_GT(figures.disk_total_gb, 0);
    EXPECT_GE(figures.disk_used_gb, 0);
    EXPECT_LE(figures.disk_used_gb, figures.disk_total_gb);
    EXPECT_GT(figures.memory_total_gb, 0);
    EXPECT_GE(figures.cpu_usage_percent, 0);
    EXPECT_LE(figures.cpu_usage_percent, 100);
}
