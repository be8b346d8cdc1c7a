#pragma once

#include "macvmorx/sim/fleet_simulator.hpp"

#include <string>

namespace macvmorx::app {

// Runs `macvmorx simulate` until SIGINT or SIGTERM; returns the process exit status.
int run_simulation(const sim::SimulationOptions& options, const std::string& log_level);

} // namespace macvmorx::app
