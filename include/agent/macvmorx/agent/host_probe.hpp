#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace macvmorx::agent {

struct HostFigures {
    double cpu_usage_percent = 0;
    double memory_used_gb = 0;
    double memory_total_gb = 0;
    double disk_used_gb = 0;
    double disk_total_gb = 0;
};

// The host's CPU, memory and disk, as the heartbeat reports them.
class HostProbe {
public:
    virtual ~HostProbe() = default;
    // CPU is the use since the previous sample.
    virtual HostFigures sample() = 0;
};

// CPU time since boot as the system counts it: ticks busy and ticks idle, in unsigned counters
// `bits` wide that wrap to 0 (32 on macOS, whose cpu_ticks are natural_t: weeks on a Mac with
// many cores; 64 for Linux's /proc/stat). `busy` may be the sum of several such counters
// (user + system + nice).
struct CpuCounters {
    std::uint64_t busy = 0;
    std::uint64_t idle = 0;
    int bits = 64;
};

// The share of the time between two samples the CPUs were busy, 0 to 100; 0 when no tick passed.
// Each counter's step is taken modulo 2^bits, so a sample across a wrap reads the true share. A
// step of half the range or more is a counter that went back (Linux's iowait may) and counts
// as none.
double cpu_busy_percent(const CpuCounters& before, const CpuCounters& after);

// The probe of the machine the agent runs on: the system's own calls on macOS, /proc and
// statfs on Linux. `disk_path` is the volume that holds the VMs.
std::unique_ptr<HostProbe> make_system_probe(std::string disk_path);

} // namespace macvmorx::agent
