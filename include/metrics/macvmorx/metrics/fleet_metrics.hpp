#pragma once

#include "macvmorx/base/clock.hpp"
#include "macvmorx/fleet/node_store.hpp"

#include <vector>

namespace macvmorx::orchestrator {
struct FleetSummary;
}

namespace macvmorx::metrics {

class Scrape;

// The running build and when the daemon started.
void collect_build_info(Scrape& scrape, TimePoint started_at);
// The fleet's families: nodes by state, VM slots, VMs by state, the placement queue.
void collect_fleet(Scrape& scrape, const orchestrator::FleetSummary& summary);
// One series per node for each figure its heartbeat reports.
void collect_nodes(Scrape& scrape, const std::vector<fleet::NodeSnapshot>& nodes);

} // namespace macvmorx::metrics
