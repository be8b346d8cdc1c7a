#pragma once

#include "macvmorx/lifecycle/lifecycle_observer.hpp"
#include "macvmorx/metrics/histogram.hpp"

#include <atomic>
#include <cstdint>

namespace macvmorx::metrics {

class PrometheusWriter;

// Placements by result, how long a decision takes, and how long VMs take to start.
class PlacementMetrics final : public lifecycle::LifecycleObserver {
public:
    void placed(bool image_cached, double decision_seconds) override;
    void refused(double decision_seconds) override;
    void queued() override;
    void started(double seconds_since_placement) override;

    void write(PrometheusWriter& out) const;

private:
    std::atomic<std::uint64_t> cached_{0};
    std::atomic<std::uint64_t> download_{0};
    std::atomic<std::uint64_t> no_capacity_{0};
    std::atomic<std::uint64_t> queued_{0};
    Histogram decision_{Histogram::latency_bounds()};
    Histogram startup_{Histogram::startup_bounds()};
};

} // namespace macvmorx::metrics
