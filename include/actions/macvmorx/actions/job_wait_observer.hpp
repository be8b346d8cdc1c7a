#pragma once

namespace macvmorx::actions {

// Told how long each GitHub job waited for a runner, for metrics. Called under WorkflowJobs'
// lock: record and return; never call back into WorkflowJobs.
class JobWaitObserver {
public:
    virtual ~JobWaitObserver() = default;
    // A job started on a runner, `seconds_waited` after its queued webhook (or its approval).
    virtual void job_started(double seconds_waited) = 0;
};

} // namespace macvmorx::actions
