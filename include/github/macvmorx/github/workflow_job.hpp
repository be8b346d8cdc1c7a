#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace macvmorx::github {

// The fields of a `workflow_job` webhook delivery that macvmorx acts on.
struct WorkflowJobEvent {
    std::string action; // queued, waiting, in_progress, completed
    // workflow_job.status: "waiting" for a job an environment's protection rules hold, even
    // with the action "queued" (octokit/webhooks' queued.with-deployment example).
    std::string status;
    std::int64_t job_id = 0;
    std::int64_t run_id = 0;
    std::string repository; // "owner/name"
    std::string organization; // organization.login, when the repository is an organisation's
    std::optional<std::int64_t> installation_id; // installation.id: the GitHub App installation it came through
    std::string workflow_name;
    std::string job_name;
    std::vector<std::string> labels; // the job's `runs-on`
    std::string html_url;
    std::string runner_name; // empty until a runner took the job
    std::string conclusion;  // for completed: success, failure, cancelled, skipped, ...

    // Whether GitHub holds the job until someone approves it: no runner can take it yet.
    bool waiting() const { return action == "waiting" || status == "waiting"; }
};

// Reads a `workflow_job` delivery body. Throws std::invalid_argument naming the field that is
// missing or of the wrong type.
WorkflowJobEvent parse_workflow_job(std::string_view body);

} // namespace macvmorx::github
