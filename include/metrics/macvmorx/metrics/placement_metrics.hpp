#pragma once

#include "macvmorx/lifecycle/lifecycle_observer.hpp"
#include "macvmorx/base/histogram.hpp"

#include <array>
#include <atomic>
#include <string_view>
#include <cstdint>

namespace macvmorx::metrics {

class PrometheusWriter;

// Placements by result, how long a decision takes, how long VMs take to start, and what hosts
// report beyond the records they may make the daemon keep.
class PlacementMetrics final : public lifecycle::LifecycleObserver {
public:
    void placed(bool image_cached, double decision_seconds) override;
    void refused(double decision_seconds) override;
    void queued() override;
    void started(double seconds_since_placement) override;
    void failed(std::string_view cause, bool placed_again) override;
    void lost() override;
    void unmanaged_not_recorded() override;

    void write(PrometheusWriter& out) const;

private:
    std::atomic<std::uint64_t> cached_{0};
    std::atomic<std::uint64_t> download_{0};
    std::atomic<std::uint64_t> no_capacity_{0};
    std::atomic<std::uint64_t> queued_{0};
    std::atomic<std::uint64_t> lost_{0};
    std::atomic<std::uint64_t> unmanaged_not_recorded_{0};
    // By cause (queue_timeout, placement_ttl, start_deadline, agent_reported, agent_restarted) and outcome.
    std::array<std::array<std::atomic<std::uint64_t>, 2>, 5> failures_{};
    Histogram decision_{Histogram::decision_bounds()};
    Histogram startup_{Histogram::startup_bounds()};
};

} // namespace macvmorx::metrics
