#include "macvmorx/agent/host_probe.hpp"

#include <sys/statvfs.h>

#include <array>
#include <cstdint>
#include <fstream>
#include <sstream>

#ifdef __APPLE__
#include <mach/mach.h>
#include <sys/sysctl.h>
#endif

namespace macvmorx::agent {
namespace {

constexpr double gib = 1024.0 * 1024.0 * 1024.0;

void sample_disk(const std::string& path, HostFigures& figures) {
    struct statvfs volume {};
    if (statvfs(path.c_str(), &volume) != 0) return;
    const double total = static_cast<double>(volume.f_blocks) * static_cast<double>(volume.f_frsize);
    const double available = static_cast<double>(volume.f_bavail) * static_cast<double>(volume.f_frsize);
    figures.disk_total_gb = total / gib;
    figures.disk_used_gb = (total - available) / gib;
}

// Busy and total CPU ticks since boot.
struct CpuTicks {
    std::uint64_t busy = 0;
    std::uint64_t total = 0;
};

#ifdef __APPLE__

// Asked once: every mach_host_self() adds a reference to the port that is never given back,
// and an agent that samples every few seconds for months would overflow its count.
host_t this_host() {
    static const host_t host = mach_host_self();
    return host;
}

CpuTicks read_cpu_ticks() {
    host_cpu_load_info_data_t load{};
    mach_msg_type_number_t count = HOST_CPU_LOAD_INFO_COUNT;
    if (host_statistics(this_host(), HOST_CPU_LOAD_INFO, reinterpret_cast<host_info_t>(&load), &count) !=
        KERN_SUCCESS) {
        return {};
    }
    const std::uint64_t user = load.cpu_ticks[CPU_STATE_USER];
    const std::uint64_t system = load.cpu_ticks[CPU_STATE_SYSTEM];
    const std::uint64_t nice = load.cpu_ticks[CPU_STATE_NICE];
    const std::uint64_t idle = load.cpu_ticks[CPU_STATE_IDLE];
    return {user + system + nice, user + system + nice + idle};
}

void sample_memory(HostFigures& figures) {
    std::uint64_t total = 0;
    std::size_t size = sizeof total;
    if (sysctlbyname("hw.memsize", &total, &size, nullptr, 0) != 0) return;
    vm_statistics64_data_t stats{};
    mach_msg_type_number_t count = HOST_VM_INFO64_COUNT;
    if (host_statistics64(this_host(), HOST_VM_INFO64, reinterpret_cast<host_info64_t>(&stats), &count) !=
        KERN_SUCCESS) {
        return;
    }
    vm_size_t page_size = 0;
    host_page_size(this_host(), &page_size);
    const double available =
        static_cast<double>(stats.free_count + stats.inactive_count + stats.speculative_count) * page_size;
    figures.memory_total_gb = static_cast<double>(total) / gib;
    figures.memory_used_gb = (static_cast<double>(total) - available) / gib;
}

#else

CpuTicks read_cpu_ticks() {
    std::ifstream stat{"/proc/stat"};
    std::string label;
    std::array<std::uint64_t, 8> fields{}; // user nice system idle iowait irq softirq steal
    stat >> label;
    for (auto& field : fields) stat >> field;
    if (!stat || label != "cpu") return {};
    const std::uint64_t idle = fields[3] + fields[4];
    std::uint64_t total = 0;
    for (const auto field : fields) total += field;
    return {total - idle, total};
}

void sample_memory(HostFigures& figures) {
    std::ifstream meminfo{"/proc/meminfo"};
    std::string line;
    double total_kib = 0;
    double available_kib = 0;
    while (std::getline(meminfo, line)) {
        std::istringstream fields{line};
        std::string name;
        double value = 0;
        fields >> name >> value;
        if (name == "MemTotal:") total_kib = value;
        if (name == "MemAvailable:") available_kib = value;
    }
    figures.memory_total_gb = total_kib / (1024.0 * 1024.0);
    figures.memory_used_gb = (total_kib - available_kib) / (1024.0 * 1024.0);
}

#endif

class SystemProbe final : public HostProbe {
public:
    explicit SystemProbe(std::string disk_path) : disk_path_{std::move(disk_path)}, previous_{read_cpu_ticks()} {}

    HostFigures sample() override {
        HostFigures figures;
        const CpuTicks now = read_cpu_ticks();
        if (now.total > previous_.total) {
            figures.cpu_usage_percent =
                100.0 * static_cast<double>(now.busy - previous_.busy) / static_cast<double>(now.total - previous_.total);
        }
        previous_ = now;
        sample_memory(figures);
        sample_disk(disk_path_, figures);
        return figures;
    }

private:
    std::string disk_path_;
    CpuTicks previous_;
};

} // namespace

std::unique_ptr<HostProbe> make_system_probe(std::string disk_path) {
    return std::make_unique<SystemProbe>(std::move(disk_path));
}

} // namespace macvmorx::agent
