#pragma once

// Images ahead of demand and fair share, measured (issue 23): a fleet of Macs runs CI jobs for
// hours of virtual time in seconds of CPU. The daemon is the real orchestrator::Orchestrator,
// driven in process on a ManualClock and swept every monitor interval; each Mac is a small model
// of `macvmorx agent` that speaks the agent protocol to it (docs/agent-protocol.md): heartbeats
// with its cached and pulling images, commands taken and acknowledged, VM events. Images take
// size / bandwidth to download (the Mac's link shared by its downloads), VMs boot, run a job and
// are deleted by the CI side. Jobs arrive by a Poisson process, their images by a Zipf law; mid-run
// the most used image gets a new version, and later one of two tenants floods the queue.
//
// A discrete-event simulation, single-threaded and seeded: the same options give the same
// numbers. It measures what the daemon decides (placements on holders, pulls ahead of demand, the
// queue's order), not HTTP or tart.

#include "macvmorx/base/clock.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace macvmorx::sim {

struct SchedulingStudyOptions {
    int macs = 200;
    double hours = 8;                   // of job arrivals; the run goes on until every job has run
    Duration warm_up = std::chrono::hours{1}; // not measured: caches and demand settle
    // Jobs asked for per minute, both tenants, outside the flood; 0: half the fleet's slots busy.
    double jobs_per_minute = 0;
    Duration job_runtime = std::chrono::minutes{10};  // mean of an exponential law
    Duration boot_time = std::chrono::seconds{20};     // mean; each boot 0.5-1.5 times it
    Duration heartbeat_interval = std::chrono::seconds{5};
    Duration monitor_interval = std::chrono::seconds{5}; // the daemon's sweep
    double bandwidth_mbps = 1000;       // each Mac's download link, shared by its downloads
    int images = 12;
    double zipf_exponent = 1.1;
    double image_gb_min = 30;           // sizes drawn between these, by the seed
    double image_gb_max = 60;
    int cached_images = 5;              // each Mac's cache (LRU); it starts full
    // The "flood" tenant asks this many times its usual rate for flood_duration, from 3/4 of the
    // hours; the "neighbour" asks at its usual rate throughout. Each has half the usual rate.
    double flood_factor = 10;
    Duration flood_duration = std::chrono::minutes{20};
    int max_concurrent_pulls = 4;       // with pre-distribution on (the daemon's default); off: 0
    // An operator pins the new version (PUT /api/images) to as many Macs as the old version's
    // target, this long before its demand moves over, in every run (only pre-distribution acts on
    // it); zero: no pin.
    Duration rollout_lead = std::chrono::minutes{30};
    Duration priority_aging = std::chrono::minutes{10}; // the daemon's default
    // The agents acknowledge deleteVm once the clone is gone, not when they take it (as
    // `macvmorx agent` does; docs/agent-protocol.md allows both).
    bool ack_delete_when_gone = false;
    std::uint64_t seed = 1;
};

// Figures of the jobs asked for (and the placements made) in one part of the run.
struct StudyFigures {
    std::size_t jobs = 0;              // that ran
    std::size_t placements = 0;        // a retried VM is placed more than once
    std::size_t placed_on_holder = 0;  // the daemon's image_cached: a host holding or fetching it
    std::size_t found_on_disk = 0;     // the agent found the image cached when the createVm came
    double mean_wait_seconds = 0;      // request to VM running
    double p95_wait_seconds = 0;
    double cached_share() const;       // placed_on_holder / placements
    double on_disk_share() const;      // found_on_disk / placements
};

struct StudyRun {
    bool pre_distribution = false;
    bool fair_share = false;
    double measured_hours = 0;  // from the end of the warm-up to the last arrival
    StudyFigures all;           // jobs asked for after the warm-up
    StudyFigures steady;        // after the warm-up, before the new version
    StudyFigures new_version;   // from the new version to the flood
    StudyFigures flood;         // from the flood on (its queue drained included)
    StudyFigures new_image_first_hour; // the new version's own jobs in its first hour (waits only)
    double neighbour_p95_seconds = 0;
    double flood_p95_seconds = 0;
    // Downloads the agents started after the warm-up, per measured hour.
    double pulls_ahead_per_hour = 0;  // for a pullImage
    double pulls_for_vms_per_hour = 0; // for a createVm whose image was neither cached nor coming
    std::uint64_t pull_commands = 0;       // pullImage sent by the daemon, whole run
    std::uint64_t pulls_without_room = 0;  // pullImage not carried out: no room without keepImages
    std::uint64_t pulls_on_busy_host = 0;  // pullImage that came while the Mac downloaded another image
    std::uint64_t failed_placements = 0;   // placements that failed (start deadline, ...) and were retried
    std::size_t jobs_never_run = 0;
    double virtual_hours = 0;  // simulated, drain included
    double cpu_seconds = 0;
};

StudyRun run_scheduling_study(const SchedulingStudyOptions& options, bool pre_distribution, bool fair_share);

// The four runs (pre-distribution on and off, fair share on and off) on the same seed, as
// Markdown tables (docs/benchmarks.md).
std::string scheduling_study_report(const SchedulingStudyOptions& options);

} // namespace macvmorx::sim
