#pragma once

#include "macvmorx/lifecycle/vm_lifecycle.hpp"
#include "macvmorx/orchestrator/image_distribution.hpp"

#include <vector>

namespace macvmorx::metrics {

class Scrape;

// Images ahead of demand: per image its holders, target and pulls under way; pulls asked for
// ahead of demand by result (docs/scheduling.md).
void collect_images(Scrape& scrape, const std::vector<orchestrator::ImageStatus>& images,
                    const orchestrator::PullCounts& pulls);
// Waiting VMs by the code of their pending reason, every code present (0 when none).
void collect_pending(Scrape& scrape, const std::vector<lifecycle::QueuedVm>& queue);

} // namespace macvmorx::metrics
