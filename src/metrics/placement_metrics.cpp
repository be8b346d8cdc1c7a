#include "macvmorx/metrics/placement_metrics.hpp"

#include "buckets.hpp"
#include "macvmorx/metrics/scrape.hpp"

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <initializer_list>
#include <string>

namespace macvmorx::metrics {
namespace {

constexpr std::array<std::string_view, 5> failure_causes{"queue_timeout", "placement_ttl", "start_deadline",
                                                         "agent_reported", "agent_restarted"};

prometheus::Family<prometheus::Counter>& counter_family(prometheus::Registry& registry, const char* name, const char* help) {
    return prometheus::BuildCounter().Name(name).Help(help).Register(registry);
}

prometheus::Family<prometheus::Histogram>& histogram_family(prometheus::Registry& registry, const char* name,
                                                            const char* help) {
    return prometheus::BuildHistogram().Name(name).Help(help).Register(registry);
}

} // namespace

PlacementMetrics::PlacementMetrics(prometheus::Registry& registry)
    : failures_family_{counter_family(
          registry, "macvmorx_vm_failures_total",
          "Placements that failed, by cause, and whether the VM was placed again or failed for good.")},
      lost_family_{counter_family(registry, "macvmorx_vms_lost_total", "Running VMs whose host went offline.")},
      unmanaged_family_{counter_family(
          registry, "macvmorx_unmanaged_vms_not_recorded_total",
          "Reports of VMs nobody asked for that found their node at its limit of such records.")},
      placements_family_{counter_family(registry, "macvmorx_placements_total",
                                        "Placement decisions by result: a host caching the image, a host that "
                                        "downloads it, no capacity (refused), or queued to wait.")},
      decision_family_{histogram_family(registry, "macvmorx_placement_decision_duration_seconds",
                                        "Time the scheduler took to decide one placement.")},
      startup_family_{histogram_family(
          registry, "macvmorx_vm_start_duration_seconds",
          "Time from a VM's placement to its host reporting it running (downloads and boots included).")},
      lost_{lost_family_.Add({})},
      unmanaged_not_recorded_{unmanaged_family_.Add({})},
      cached_{placements_family_.Add({{"result", "cached_image"}})},
      download_{placements_family_.Add({{"result", "download"}})},
      no_capacity_{placements_family_.Add({{"result", "no_capacity"}})},
      queued_{placements_family_.Add({{"result", "queued"}})},
      decision_{decision_family_.Add({}, decision_buckets())},
      startup_{startup_family_.Add({}, startup_buckets())} {
    for (std::size_t i = 0; i < failure_causes.size(); ++i) {
        const std::string cause{failure_causes[i]};
        failures_[i][0] = &failures_family_.Add({{"cause", cause}, {"outcome", "failed"}});
        failures_[i][1] = &failures_family_.Add({{"cause", cause}, {"outcome", "placed_again"}});
    }
}

void PlacementMetrics::placed(const std::string&, bool image_cached, double decision_seconds) {
    (image_cached ? cached_ : download_).Increment();
    decision_.Observe(decision_seconds);
}

void PlacementMetrics::refused(double decision_seconds) {
    no_capacity_.Increment();
    decision_.Observe(decision_seconds);
}

void PlacementMetrics::queued() { queued_.Increment(); }

void PlacementMetrics::started(double seconds_since_placement, double) { startup_.Observe(seconds_since_placement); }

void PlacementMetrics::failed(std::string_view cause, bool placed_again) {
    for (std::size_t i = 0; i < failure_causes.size(); ++i) {
        if (failure_causes[i] == cause) failures_[i][placed_again ? 1 : 0]->Increment();
    }
}

void PlacementMetrics::lost() { lost_.Increment(); }

void PlacementMetrics::unmanaged_not_recorded() { unmanaged_not_recorded_.Increment(); }

void PlacementMetrics::collect(Scrape& scrape) const {
    for (const prometheus::Collectable* family :
         std::initializer_list<const prometheus::Collectable*>{&failures_family_, &lost_family_, &unmanaged_family_,
                                                               &placements_family_, &decision_family_, &startup_family_}) {
        scrape.add(family->Collect());
    }
}

} // namespace macvmorx::metrics
