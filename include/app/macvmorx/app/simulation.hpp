#pragma once

#include "macvmorx/config/log_config.hpp"
#include "macvmorx/sim/fleet_simulator.hpp"

#include <string>

namespace macvmorx::app {

// Runs `macvmorx simulate` until SIGINT or SIGTERM; returns the process exit status.
int run_simulation(const sim::SimulationOptions& options, const config::LogConfig& log);

} // namespace macvmorx::app
