#pragma once

#include "macvmorx/base/clock.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <vector>

namespace macvmorx::orchestrator {

// The fleet at one moment, and what happened in the interval before it.
struct FleetSample {
    TimePoint at;
    std::uint32_t nodes_online = 0;
    std::uint32_t nodes_offline = 0;
    std::uint32_t slots_total = 0;
    std::uint32_t slots_used = 0; // running VMs and placements not started yet
    std::uint32_t queue_length = 0;
    double heartbeats_per_second = 0;
    std::uint32_t vms_started = 0;
    // How long the VMs that started in the interval waited, from request to running.
    std::optional<double> wait_p50_seconds;
    std::optional<double> wait_p95_seconds;
};

// The last hours of the fleet in a bounded ring, for the dashboard's small charts
// (GET /api/fleet/history): a sample every `interval`, `capacity` of them. Heartbeats and VM
// starts are counted as they happen; the rest is read when a sample is taken.
//
// Threading: any thread. heartbeat() is one relaxed atomic increment (the heartbeat path).
class FleetHistory {
public:
    static constexpr Duration default_interval = std::chrono::seconds{30};
    static constexpr std::size_t default_capacity = 720; // 6 hours

    explicit FleetHistory(Duration interval = default_interval, std::size_t capacity = default_capacity);

    void heartbeat() { heartbeats_.fetch_add(1, std::memory_order_relaxed); }
    void vm_started(double seconds_since_request);

    // Whether a sample is due at `now` (the first one at once).
    bool due(TimePoint now) const;
    // Completes `sample` (its fleet figures filled by the caller) with the interval's heartbeat
    // rate and waits, and keeps it, dropping the oldest beyond the capacity.
    void record(FleetSample sample);

    std::vector<FleetSample> samples() const;
    Duration interval() const { return interval_; }

private:
    // Waits kept per interval for the percentiles; beyond, every other one is dropped.
    static constexpr std::size_t max_waits = 8192;

    const Duration interval_;
    const std::size_t capacity_;
    std::atomic<std::uint64_t> heartbeats_{0};
    mutable std::mutex mutex_;
    std::deque<FleetSample> samples_;
    std::vector<double> waits_;
    std::uint32_t started_ = 0;
    std::uint64_t heartbeats_at_last_ = 0;
    std::optional<TimePoint> last_;
};

} // namespace macvmorx::orchestrator
