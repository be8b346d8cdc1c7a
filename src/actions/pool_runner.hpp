#pragma once

// A pool's runner, and what a change leaves to do once WorkflowJobs' lock is released.
// Private to actions.

#include "macvmorx/actions/workflow_jobs.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace macvmorx::actions {

// Registered with GitHub (or being), then in a VM placed through the lifecycle, until that VM
// ends. Its stages, in order: registering, starting (vm_requested), idle (running_at), busy
// (job_id); retiring at any of them.
struct WorkflowJobs::Runner {
    std::string vm_id;
    std::string name; // <prefix>-<vmId>, as GitHub lists it
    std::string pool;
    // Whose share of the fleet its VM counts against: the tenant of the job it was made for
    // (RunnerPool::tenant_of), or the pool's for a warm runner (docs/scheduling.md).
    std::string tenant;
    std::int64_t runner_id = 0; // GitHub's, once registered
    bool vm_requested = false;
    bool retiring = false;
    bool checking = false; // a retire_if_idle task asks GitHub whether it is busy
    std::optional<std::int64_t> job_id;
    std::string node_id;
    std::optional<TimePoint> assigned_at;
    std::optional<TimePoint> image_ready_at;
    std::optional<TimePoint> running_at;
    TimePoint created_at;
};

// Calls into the orchestrator may call back into observers: they wait until the lock is released.
struct WorkflowJobs::Actions {
    std::vector<std::string> delete_vms;
    bool wake = false;
};

} // namespace macvmorx::actions
