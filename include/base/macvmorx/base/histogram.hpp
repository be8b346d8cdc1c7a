#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

namespace macvmorx {

// A Prometheus histogram: counts of observations at or below fixed upper bounds, their count
// and their sum. Lock-free: `observe` is a few atomic additions, safe from any thread.
class Histogram {
public:
    explicit Histogram(std::vector<double> upper_bounds);

    void observe(double value);

    struct Snapshot {
        std::vector<std::uint64_t> cumulative; // per bound, then +Inf
        double sum = 0;
        std::uint64_t count = 0;
    };
    Snapshot snapshot() const;
    const std::vector<double>& upper_bounds() const { return bounds_; }

    // Bounds for request latencies: 50 µs to 10 s.
    static std::vector<double> latency_bounds();
    // Bounds for in-process decisions: 1 µs to 10 ms.
    static std::vector<double> decision_bounds();
    // Bounds for how long VMs take to start: 1 s to 1 h.
    static std::vector<double> startup_bounds();

private:
    std::vector<double> bounds_;
    std::unique_ptr<std::atomic<std::uint64_t>[]> counts_; // per bound, then +Inf
    std::atomic<double> sum_{0};
};

} // namespace macvmorx
