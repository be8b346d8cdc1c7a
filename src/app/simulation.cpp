#include "macvmorx/app/simulation.hpp"

#include "signals.hpp"

#include "macvmorx/app/logging.hpp"

#include <spdlog/spdlog.h>

#include <csignal>
#include <iostream>
#include <cstring>
#include <thread>

namespace macvmorx::app {

int run_simulation(const sim::SimulationOptions& options, const config::LogConfig& log) {
    if (options.image_rollout_gb > 0) {
        auto rollout = options.rollout;
        rollout.macs = options.nodes;
        rollout.image_gb = options.image_rollout_gb;
        std::cout << sim::rollout_table(rollout);
        return 0;
    }
    if (options.scheduling_study) {
        auto study = options.study;
        study.macs = options.nodes;
        study.jobs_per_minute = options.jobs_per_minute;
        study.seed = options.seed;
        study.bandwidth_mbps = options.profile.bandwidth_mbps;
        study.boot_time = options.profile.boot_time;
        study.job_runtime = options.profile.job_runtime;
        study.heartbeat_interval = options.heartbeat_interval;
        study.cached_images = static_cast<int>(options.max_cached_images);
        std::cout << sim::scheduling_study_report(study);
        return 0;
    }
    block_signals();
    configure_logging(log);
    sim::FleetSimulator simulator{options};
    std::thread runner{[&simulator] { simulator.run(); }};
    int signal_number = 0;
    do {
        signal_number = wait_for_signal();
    } while (signal_number == SIGHUP);
    spdlog::info("simulate: received {}, stopping", strsignal(signal_number));
    simulator.stop();
    runner.join();
    const auto stats = simulator.stats();
    spdlog::info("simulate: {} jobs asked, {} placed at once, {} queued, {} refused; {} node failures",
                 stats.jobs_requested, stats.jobs_placed, stats.jobs_queued, stats.jobs_refused, stats.node_failures);
    return 0;
}

} // namespace macvmorx::app
