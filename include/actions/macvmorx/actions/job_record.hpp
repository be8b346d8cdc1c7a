#pragma once

#include "macvmorx/base/clock.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace macvmorx::actions {

// queued -> in_progress -> completed; a job cancelled before any runner took it goes from
// queued to completed (conclusion "cancelled"). A job an environment's protection rules hold is
// waiting until it is approved (then queued) or rejected (then completed): it gets no runner.
enum class JobState { queued, in_progress, completed, waiting };

std::string_view to_string(JobState state);
std::optional<JobState> parse_job_state(std::string_view text);

// A GitHub Actions job a runner pool takes, with the time of each step of its wait.
struct JobRecord {
    std::int64_t job_id = 0;
    std::int64_t run_id = 0;
    std::string repository;
    std::string workflow_name;
    std::string job_name;
    std::vector<std::string> labels;
    std::string html_url;
    std::string pool;
    JobState state = JobState::queued;
    std::string conclusion;
    std::string runner_name;
    std::string vm_id;   // the VM of the runner that took it
    std::string node_id; // where that VM ran

    TimePoint queued_at;
    std::optional<TimePoint> vm_assigned_at; // the runner's VM was placed on a host
    std::optional<TimePoint> image_ready_at; // its host had the image (downloaded, or cached) and began the boot
    std::optional<TimePoint> vm_running_at;  // that VM was running
    std::optional<TimePoint> started_at;     // GitHub: in_progress
    std::optional<TimePoint> completed_at;
    TimePoint updated_at;
};

struct JobFilter {
    std::optional<JobState> state;
    std::string repository;
    std::string pool;
};

} // namespace macvmorx::actions
