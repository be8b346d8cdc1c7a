#pragma once

#include "macvmorx/base/clock.hpp"
#include "macvmorx/config/actions_config.hpp"
#include "macvmorx/github/workflow_job.hpp"

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace macvmorx::actions {

// A just-in-time runner GitHub registered: its id, and the encoded configuration the runner in
// the guest starts with (`run.sh --jitconfig ...`). The configuration is a secret.
struct RunnerRegistration {
    std::int64_t runner_id = 0;
    std::string encoded_jit_config;
};

// A refusal or failure of GitHub. `retry_after` is set when trying again later may succeed
// (5xx, rate limits, network errors), with how long to wait when GitHub said so.
class RegistrarError : public std::runtime_error {
public:
    RegistrarError(std::string what, int status, bool retryable, std::optional<Duration> retry_after = {})
        : std::runtime_error(std::move(what)), status_{status}, retryable_{retryable}, retry_after_{retry_after} {}

    int status() const { return status_; } // 0 for a network failure
    bool retryable() const { return retryable_; }
    std::optional<Duration> retry_after() const { return retry_after_; }

private:
    int status_;
    bool retryable_;
    std::optional<Duration> retry_after_;
};

// A self-hosted runner as GitHub lists it.
struct RegisteredRunner {
    std::int64_t id = 0;
    std::string name;
    bool busy = false;
};

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
    // The queued jobs of the pool's repository, or of the organisation's repositories, as
    // `queued` events. Throws RegistrarError.
    virtual std::vector<github::WorkflowJobEvent> queued_jobs(const config::RunnerPool& pool) = 0;
};

} // namespace macvmorx::actions
