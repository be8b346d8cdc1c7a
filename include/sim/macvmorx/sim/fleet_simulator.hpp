#pragma once

#include "macvmorx/sim/image_rollout.hpp"
#include "macvmorx/sim/scheduling_study.hpp"
#include "macvmorx/agent/orchestrator_link.hpp"
#include "macvmorx/base/clock.hpp"
#include "macvmorx/sim/simulated_mac.hpp"
#include "macvmorx/http/base_url.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace macvmorx::sim {

struct SimulatedImage {
    std::string name;
    double size_gb = 30;
    double weight = 1; // share of the jobs that ask for it
};

// The images a simulated lab uses when none are given.
std::vector<SimulatedImage> default_images();

struct SimulationOptions {
    // Not a fleet against a daemon but the model of a lab taking a new bucket image of this many
    // GB, with and without peers (image_rollout.hpp); its Macs are `nodes`. 0: the fleet.
    double image_rollout_gb = 0;
    RolloutOptions rollout;
    // Not a fleet against a daemon but the scheduling study (scheduling_study.hpp): the real
    // orchestrator in process, model agents in virtual time, four runs printed as tables.
    bool scheduling_study = false;
    SchedulingStudyOptions study;

    http::BaseUrl server; // the daemon: given by the command line (the --port setting's default) or a test
    std::string token; // bearer token for the orchestrator, if it wants one
    int nodes = 24;
    std::string node_prefix = "sim-mac-";
    Duration heartbeat_interval = std::chrono::seconds{5};
    bool long_poll = true;
    std::size_t max_cached_images = 5;
    std::vector<SimulatedImage> images = default_images();
    SimulationProfile profile;
    // The CI side: jobs asking for VMs, arriving at random (Poisson) at this average rate.
    double jobs_per_minute = 0;
    int initial_jobs = 0;   // asked for once the fleet has reported, so that a demo starts busy
    bool queue_jobs = true; // ask with "wait": true, so that jobs queue when the fleet is full
    // Hosts that fail: they stop heartbeating (and lose their VMs) for `failure_duration`.
    double node_failures_per_hour = 0;
    Duration failure_duration = std::chrono::minutes{2};
    std::uint64_t seed = 1;
};

struct SimulationStats {
    std::uint64_t jobs_requested = 0;
    std::uint64_t jobs_placed = 0;
    std::uint64_t jobs_queued = 0;
    std::uint64_t jobs_refused = 0;
    std::uint64_t node_failures = 0;
    int nodes_up = 0;
    int vms_running = 0;
};

// Many simulated Mac Minis in one process, each driven by the real host agent over the real
// agent protocol, plus an optional CI load. Everything runs on one io_context thread: no thread
// per node. Seeded: the same seed and options give the same fleet and the same job stream.
class FleetSimulator {
public:
    explicit FleetSimulator(SimulationOptions options);
    ~FleetSimulator();
    FleetSimulator(const FleetSimulator&) = delete;
    FleetSimulator& operator=(const FleetSimulator&) = delete;

    // Runs until `stop` is called (from any thread).
    void run();
    void stop();

    SimulationStats stats() const;
    // One line per Mac (id, chip, memory, disk, images it starts with): the same seed gives
    // the same lines.
    std::vector<std::string> describe() const;

private:
    struct Fleet;
    std::unique_ptr<Fleet> fleet_;
};

} // namespace macvmorx::sim
