#pragma once

#include "macvmorx/base/clock.hpp"
#include "macvmorx/config/actions_config.hpp"
#include "macvmorx/github/workflow_job.hpp"

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace macvmorx::github {

// A just-in-time runner GitHub registered: its id, and the encoded configuration the runner in
// the guest starts with (`run.sh --jitconfig ...`). The configuration is a secret.
struct RunnerRegistration {
    std::int64_t runner_id = 0;
    std::string encoded_jit_config;
};

// A refusal or failure of GitHub. `retryable` when trying again later may succeed (5xx, rate
// limits, network errors), with how long to wait when that is known. `rate_limited` when GitHub
// limits the integration's requests: every call waits, not only this one (continuing may get the
// integration banned, GitHub's "Rate limits for the REST API").
class RegistrarError : public std::runtime_error {
public:
    RegistrarError(std::string what, int status, bool retryable, std::optional<Duration> retry_after = {},
                   bool rate_limited = false)
        : std::runtime_error(std::move(what)),
          status_{status},
          retryable_{retryable},
          retry_after_{retry_after},
          rate_limited_{rate_limited} {}

    int status() const { return status_; } // 0 for a network failure
    bool retryable() const { return retryable_; }
    std::optional<Duration> retry_after() const { return retry_after_; }
    bool rate_limited() const { return rate_limited_; }

private:
    int status_;
    bool retryable_;
    std::optional<Duration> retry_after_;
    bool rate_limited_;
};

// A self-hosted runner as GitHub lists it.
struct RegisteredRunner {
    std::int64_t id = 0;
    std::string name;
    bool busy = false;
};

// What GitHub says of one job now (GET /repos/{owner}/{repo}/actions/jobs/{job_id}), as the
// webhook event it stands for: queued (status queued or waiting), in_progress, completed.
// nullopt when GitHub no longer knows the job.
using JobStatus = std::optional<github::WorkflowJobEvent>;

// Registers and removes runners with GitHub. Called from the worker thread only, never from
// the server's threads: every call may take as long as a round trip to GitHub.
class RunnerRegistrar {
public:
    virtual ~RunnerRegistrar() = default;
    // Throws RegistrarError.
    virtual RunnerRegistration register_runner(const config::RunnerPool& pool, const std::string& runner_name) = 0;
    // Throws RegistrarError; a runner GitHub no longer knows is not an error.
    virtual void remove_runner(const config::RunnerPool& pool, std::int64_t runner_id) = 0;
    // For reconciliation with GitHub (missed webhooks). The runners registered in the pool's
    // scope; throws RegistrarError.
    virtual std::vector<RegisteredRunner> list_runners(const config::RunnerPool& pool) = 0;
    // One runner as GitHub lists it now; nullopt when GitHub no longer knows it. Throws.
    virtual std::optional<RegisteredRunner> runner(const config::RunnerPool& pool, std::int64_t runner_id) = 0;
    // The jobs of one repository ("owner/name") that wait for a runner: queued (or held for
    // approval) jobs of its queued and in-progress runs, every page of them, as `queued` events
    // with their status. Throws RegistrarError.
    virtual std::vector<github::WorkflowJobEvent> queued_jobs(const std::string& repository) = 0;
    // The repositories ("owner/name") of an organisation-scoped pool: the App installation's, or
    // the organisation's with a token; every page. Throws RegistrarError.
    virtual std::vector<std::string> repositories(const config::RunnerPool& pool) = 0;
    // What GitHub says of one job of `repository` now. Throws RegistrarError.
    virtual JobStatus job_status(const std::string& repository, std::int64_t job_id) = 0;
    // How many requests the primary rate limit still allows this hour, as GitHub's last answer
    // said (X-RateLimit-Remaining); nullopt before any answer.
    virtual std::optional<std::int64_t> rate_limit_remaining() const { return std::nullopt; }
};

} // namespace macvmorx::github
