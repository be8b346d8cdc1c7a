#pragma once

#include "macvmorx/base/clock.hpp"
#include "macvmorx/fleet/node_store.hpp"

#include <vector>

namespace macvmorx::orchestrator {
struct FleetSummary;
}

namespace macvmorx::metrics {

class PrometheusWriter;

// The running build and when the daemon started.
void write_build_info(PrometheusWriter& out, TimePoint started_at);
// The fleet's families: nodes by state, VM slots, VMs by state, the placement queue.
void write_fleet(PrometheusWriter& out, const orchestrator::FleetSummary& summary);
// One series per node for each figure its heartbeat reports.
void write_nodes(PrometheusWriter& out, const std::vector<fleet::NodeSnapshot>& nodes);

} // namespace macvmorx::metrics
