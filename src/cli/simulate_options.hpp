#pragma once

#include "log_options.hpp"

#include "macvmorx/config/log_config.hpp"
#include "macvmorx/sim/fleet_simulator.hpp"

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace macvmorx::cli {

// The raw text of the simulator's settings that need our own parsing. Their defaults are the
// options' own, written out by add_simulate_options.
struct SimulateText {
    std::string server;
    std::string heartbeat_interval;
    std::string failure_duration;
    std::string boot_time;
    std::string job_runtime;
    std::vector<std::string> images;
    std::string warm_up;
    std::string flood_duration;
    std::string priority_aging;
    std::string rollout_lead;
    bool no_long_poll = false;
    bool no_queue = false;
    std::string token_file;
    LogText log;
};

// The options of `macvmorx simulate`.
void add_simulate_options(CLI::App& simulate, sim::SimulationOptions& options, SimulateText& text,
                          config::LogConfig& log);

// Turns the validated text into options and reads the token file. Throws config::ConfigError.
void apply_simulate_text(sim::SimulationOptions& options, config::LogConfig& log, const SimulateText& text);

} // namespace macvmorx::cli
