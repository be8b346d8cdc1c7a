#include "macvmorx/agent/host_probe.hpp"

#include "macvmorx/base/byte_size.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <fstream>
#include <optional>
#include <sstream>

#ifdef __APPLE__
#include <mach/mach.h>
#include <sys/mount.h>
#include <sys/sysctl.h>
#else
#include <sys/vfs.h>
#endif

namespace macvmorx::agent {
namespace {


// statfs, not statvfs: macOS's statvfs counts blocks in 32 bits, too few for a large volume.
void sample_disk(const std::string& path, HostFigures& figures) {
    struct statfs volume {};
    if (statfs(path.c_str(), &volume) != 0) return;
#ifdef __APPLE__
    const double block = static_cast<double>(volume.f_bsize);
#else
    // Linux counts blocks in fragments (statvfs's f_frsize); 0 from old kernels means f_bsize.
    const double block = static_cast<double>(volume.f_frsize != 0 ? volume.f_frsize : volume.f_bsize);
#endif
    const double total = static_cast<double>(volume.f_blocks) * block;
    const double available = static_cast<double>(volume.f_bavail) * block;
    figures.disk_total_gb = total / bytes_per_gib;
    figures.disk_used_gb = (total - available) / bytes_per_gib;
}

// How far a counter `bits` wide moved from `before` to `after`, across a wrap; 0 when it went back.
std::uint64_t counter_step(std::uint64_t before, std::uint64_t after, int bits) {
    const std::uint64_t mask = bits >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << bits) - 1;
    const std::uint64_t step = (after - before) & mask;
    return step > mask / 2 ? 0 : step;
}

#ifdef __APPLE__

// Asked once: every mach_host_self() adds a reference to the port that is never given back,
// and an agent that samples every few seconds for months would overflow its count.
host_t this_host() {
    static const host_t host = mach_host_self();
    return host;
}

std::optional<CpuCounters> read_cpu_counters() {
    host_cpu_load_info_data_t load{};
    mach_msg_type_number_t count = HOST_CPU_LOAD_INFO_COUNT;
    if (host_statistics(this_host(), HOST_CPU_LOAD_INFO, reinterpret_cast<host_info_t>(&load), &count) !=
        KERN_SUCCESS) {
        return std::nullopt;
    }
    const std::uint64_t user = load.cpu_ticks[CPU_STATE_USER];
    const std::uint64_t system = load.cpu_ticks[CPU_STATE_SYSTEM];
    const std::uint64_t nice = load.cpu_ticks[CPU_STATE_NICE];
    return CpuCounters{user + system + nice, load.cpu_ticks[CPU_STATE_IDLE], 32};
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
    figures.memory_total_gb = static_cast<double>(total) / bytes_per_gib;
    figures.memory_used_gb = (static_cast<double>(total) - available) / bytes_per_gib;
}

#else

std::optional<CpuCounters> read_cpu_counters() {
    std::ifstream stat{"/proc/stat"};
    std::string label;
    std::array<std::uint64_t, 8> fields{}; // user nice system idle iowait irq softirq steal
    stat >> label;
    for (auto& field : fields) stat >> field;
    if (!stat || label != "cpu") return std::nullopt;
    const std::uint64_t idle = fields[3] + fields[4];
    std::uint64_t total = 0;
    for (const auto field : fields) total += field;
    return CpuCounters{total - idle, idle, 64};
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
    explicit SystemProbe(std::string disk_path)
        : disk_path_{std::move(disk_path)}, previous_{read_cpu_counters()} {}

    HostFigures sample() override {
        HostFigures figures;
        if (const auto now = read_cpu_counters()) {
            if (previous_) figures.cpu_usage_percent = cpu_busy_percent(*previous_, *now);
            previous_ = now;
        }
        sample_memory(figures);
        sample_disk(disk_path_, figures);
        return figures;
    }

private:
    std::string disk_path_;
    std::optional<CpuCounters> previous_; // none until the counters could be read
};

} // namespace

double cpu_busy_percent(const CpuCounters& before, const CpuCounters& after) {
    const int bits = std::clamp(after.bits, 1, 64);
    const auto busy = static_cast<double>(counter_step(before.busy, after.busy, bits));
    const auto idle = static_cast<double>(counter_step(before.idle, after.idle, bits));
    return busy + idle > 0 ? 100.0 * busy / (busy + idle) : 0.0;
}

std::unique_ptr<HostProbe> make_system_probe(std::string disk_path) {
    return std::make_unique<SystemProbe>(std::move(disk_path));
}

} // namespace macvmorx::agent
