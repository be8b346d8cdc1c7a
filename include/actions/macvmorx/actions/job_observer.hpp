#pragma once

#include "macvmorx/actions/job_record.hpp"

#include <cstdint>
#include <string>

namespace macvmorx::actions {

// Told of every change to the job records and of the webhook deliveries remembered, for the
// durable records. Called under WorkflowJobs' lock, in the order of the changes: copy what you
// need and return; never call back into WorkflowJobs.
class JobObserver {
public:
    virtual ~JobObserver() = default;
    virtual void job_changed(const JobRecord& job) = 0;
    virtual void job_removed(std::int64_t job_id) = 0;
    virtual void delivery_remembered(const std::string& delivery_id) = 0;
    virtual void delivery_forgotten(const std::string& delivery_id) = 0;
};

} // namespace macvmorx::actions
