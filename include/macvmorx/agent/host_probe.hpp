#pragma once

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

// The probe of the machine the agent runs on: the system's own calls on macOS, /proc and
// statfs on Linux. `disk_path` is the volume that holds the VMs.
std::unique_ptr<HostProbe> make_system_probe(std::string disk_path);

} // namespace macvmorx::agent
