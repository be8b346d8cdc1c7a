#pragma once

#include "macvmorx/lifecycle/lifecycle_observer.hpp"

#include <array>
#include <string>
#include <string_view>

namespace prometheus {
class Counter;
class Histogram;
class Registry;
template <typename T>
class Family;
} // namespace prometheus

namespace macvmorx::metrics {

class Scrape;

// Placements by result, how long a decision takes, how long VMs take to start, and what hosts
// report beyond the records they may make the daemon keep: prometheus-cpp counters and
// histograms of a registry, every series made at construction. Told under the lifecycle's lock;
// `collect` from any thread.
class PlacementMetrics final : public lifecycle::LifecycleObserver {
public:
    explicit PlacementMetrics(prometheus::Registry& registry);

    void placed(const std::string& image_name, bool image_cached, double decision_seconds) override;
    void refused(double decision_seconds) override;
    void queued() override;
    void started(double seconds_since_placement, double seconds_since_request) override;
    void failed(std::string_view cause, bool placed_again) override;
    void lost() override;
    void unmanaged_not_recorded() override;

    void collect(Scrape& scrape) const;

private:
    prometheus::Family<prometheus::Counter>& failures_family_;
    prometheus::Family<prometheus::Counter>& lost_family_;
    prometheus::Family<prometheus::Counter>& unmanaged_family_;
    prometheus::Family<prometheus::Counter>& placements_family_;
    prometheus::Family<prometheus::Histogram>& decision_family_;
    prometheus::Family<prometheus::Histogram>& startup_family_;
    // By cause (queue_timeout, placement_ttl, start_deadline, agent_reported, agent_restarted)
    // and outcome (failed, placed again).
    std::array<std::array<prometheus::Counter*, 2>, 5> failures_{};
    prometheus::Counter& lost_;
    prometheus::Counter& unmanaged_not_recorded_;
    prometheus::Counter& cached_;
    prometheus::Counter& download_;
    prometheus::Counter& no_capacity_;
    prometheus::Counter& queued_;
    prometheus::Histogram& decision_;
    prometheus::Histogram& startup_;
};

} // namespace macvmorx::metrics
