#include "macvmorx/metrics/placement_metrics.hpp"

#include "macvmorx/metrics/prometheus_writer.hpp"

namespace macvmorx::metrics {
namespace {

constexpr std::array<std::string_view, 5> failure_causes{"queue_timeout", "placement_ttl", "start_deadline",
                                                         "agent_reported", "agent_restarted"};

} // namespace

void PlacementMetrics::placed(bool image_cached, double decision_seconds) {
    (image_cached ? cached_ : download_).fetch_add(1, std::memory_order_relaxed);
    decision_.observe(decision_seconds);
}

void PlacementMetrics::refused(double decision_seconds) {
    no_capacity_.fetch_add(1, std::memory_order_relaxed);
    decision_.observe(decision_seconds);
}

void PlacementMetrics::queued() { queued_.fetch_add(1, std::memory_order_relaxed); }

void PlacementMetrics::started(double seconds_since_placement) { startup_.observe(seconds_since_placement); }

void PlacementMetrics::failed(std::string_view cause, bool placed_again) {
    for (std::size_t i = 0; i < failure_causes.size(); ++i) {
        if (failure_causes[i] == cause) failures_[i][placed_again ? 1 : 0].fetch_add(1, std::memory_order_relaxed);
    }
}

void PlacementMetrics::lost() { lost_.fetch_add(1, std::memory_order_relaxed); }

void PlacementMetrics::unmanaged_not_recorded() { unmanaged_not_recorded_.fetch_add(1, std::memory_order_relaxed); }

void PlacementMetrics::write(PrometheusWriter& out) const {
    out.family("macvmorx_vm_failures_total",
               "Placements that failed, by cause, and whether the VM was placed again or failed for good.", "counter");
    for (std::size_t i = 0; i < failure_causes.size(); ++i) {
        out.sample("macvmorx_vm_failures_total", {{"cause", failure_causes[i]}, {"outcome", "placed_again"}},
                   failures_[i][1].load(std::memory_order_relaxed));
        out.sample("macvmorx_vm_failures_total", {{"cause", failure_causes[i]}, {"outcome", "failed"}},
                   failures_[i][0].load(std::memory_order_relaxed));
    }
    out.family("macvmorx_vms_lost_total", "Running VMs whose host went offline.", "counter");
    out.sample("macvmorx_vms_lost_total", {}, lost_.load(std::memory_order_relaxed));
    out.family("macvmorx_unmanaged_vms_not_recorded_total",
               "Reports of VMs nobody asked for that found their node at its limit of such records.", "counter");
    out.sample("macvmorx_unmanaged_vms_not_recorded_total", {}, unmanaged_not_recorded_.load(std::memory_order_relaxed));
    out.family("macvmorx_placements_total",
               "Placement decisions by result: a host caching the image, a host that downloads it, no capacity "
               "(refused), or queued to wait.",
               "counter");
    out.sample("macvmorx_placements_total", {{"result", "cached_image"}}, cached_.load(std::memory_order_relaxed));
    out.sample("macvmorx_placements_total", {{"result", "download"}}, download_.load(std::memory_order_relaxed));
    out.sample("macvmorx_placements_total", {{"result", "no_capacity"}}, no_capacity_.load(std::memory_order_relaxed));
    out.sample("macvmorx_placements_total", {{"result", "queued"}}, queued_.load(std::memory_order_relaxed));
    out.family("macvmorx_placement_decision_duration_seconds", "Time the scheduler took to decide one placement.",
               "histogram");
    out.histogram("macvmorx_placement_decision_duration_seconds", {}, decision_);
    out.family("macvmorx_vm_start_duration_seconds",
               "Time from a VM's placement to its host reporting it running (downloads and boots included).",
               "histogram");
    out.histogram("macvmorx_vm_start_duration_seconds", {}, startup_);
}

} // namespace macvmorx::metrics
