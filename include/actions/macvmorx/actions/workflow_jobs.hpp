#pragma once

#include "macvmorx/actions/job_observer.hpp"
#include "macvmorx/actions/job_wait_observer.hpp"
#include "macvmorx/actions/job_record.hpp"
#include "macvmorx/github/runner_registrar.hpp"
#include "macvmorx/base/clock.hpp"
#include "macvmorx/config/actions_config.hpp"
#include "macvmorx/lifecycle/lifecycle_observer.hpp"

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace macvmorx {
class IdSource;
}
namespace macvmorx::github {
struct WorkflowJobEvent;
}
namespace macvmorx::orchestrator {
class Orchestrator;
}

namespace macvmorx::actions {

class DeliveryLog;
class RegistrarQueue;
class RepositoryRotation;

struct WorkflowJobsOptions {
    std::vector<config::RunnerPool> pools;
    std::string runner_prefix = "macvmorx";
    // An idle runner that has not taken a job by then, while jobs of its pool wait, is
    // replaced by a fresh VM.
    Duration registration_deadline = std::chrono::minutes{10};
    // Waits between attempts of a failed GitHub call: doubling from base up to max.
    Duration retry_base = std::chrono::seconds{1};
    Duration retry_max = std::chrono::minutes{5};
    // How often GitHub is asked what webhooks may have missed (0: never); the first time at start.
    Duration reconcile_interval = std::chrono::minutes{1};
    // What one reconciliation asks at most: the jobs waiting in this many repositories, and the
    // state of this many jobs the ledger thinks open (not heard of for job_check_age).
    std::size_t repositories_per_reconcile = 10;
    std::size_t jobs_per_reconcile = 20;
    Duration job_check_age = std::chrono::minutes{1};
    std::size_t remembered_deliveries = 10'000;
    std::size_t retained_completed_jobs = 10'000;
    // The GitHub App's installation: jobs another installation's webhooks announce are not ours.
    std::optional<std::int64_t> installation_id;
};

enum class DeliveryOutcome {
    applied,   // the job record changed
    duplicate, // this delivery id was seen before: nothing changed
    no_pool,   // a queued job whose labels match no pool: ignored (and counted)
    out_of_scope, // a queued job a pool's labels take, of a repository or installation outside its scope
    unchanged, // an action that changes nothing here (news of a job we never took, or old news)
};

struct DeliveryResult {
    DeliveryOutcome outcome;
    std::optional<JobRecord> job;
};

// What a pool has: jobs waiting and runners by stage.
struct PoolStatus {
    std::string pool;
    std::size_t queued_jobs = 0;
    std::size_t runners_registering = 0; // asking GitHub for a just-in-time configuration
    std::size_t runners_starting = 0;    // VM placed, not running yet
    std::size_t runners_idle = 0;        // VM running, runner waiting for a job
    std::size_t runners_busy = 0;        // running a job
    std::size_t runners_retiring = 0;    // being deleted
};

// Turns GitHub Actions jobs into runner VMs. Each pool keeps as many idle runners (registered
// with GitHub, in a VM placed through the lifecycle) as it has queued jobs, plus its warm size;
// a runner takes one job and its VM is deleted when the job completes. Jobs are not bound to a
// runner until GitHub says which one took it (in_progress): any runner of the pool may.
//
// Calls to GitHub (registering and removing runners) run in `run_due_tasks`, on a worker
// thread of the daemon, never on a server thread; webhook deliveries only change records.
//
// Locking: one mutex guards the records, runners and tasks; it is never held while calling
// the orchestrator or the registrar. As a lifecycle observer it is called under the
// lifecycle's lock (lifecycle before this one), and only notes what changed.
//
// Its parts (src/actions/): the job ledger, its deliveries and restore (workflow_jobs.cpp);
// runner pools, their runners' stages and rebalancing (runner_pools.cpp); the registrar worker,
// the GitHub calls that are due with their retries and rate limits (registrar_worker.cpp);
// reconciliation with GitHub and its budget (github_reconciliation.cpp). The delivery ids are a
// DeliveryLog, the calls owed to GitHub a RegistrarQueue, the repositories reconciliation asks
// in turn a RepositoryRotation.
class WorkflowJobs final : public lifecycle::LifecycleObserver {
public:
    WorkflowJobs(WorkflowJobsOptions options, orchestrator::Orchestrator& orchestrator, github::RunnerRegistrar& registrar,
                 const Clock& clock, IdSource& ids);
    ~WorkflowJobs() override;

    // Durable records: set before use; not owned.
    void set_observer(JobObserver* observer) { observer_ = observer; }
    // Metrics: told how long each job waited for a runner. Set before use; not owned.
    void set_wait_observer(JobWaitObserver* observer) { wait_observer_ = observer; }
    // Brings back the jobs and delivery ids of an earlier run. Runners are not brought back:
    // queued jobs get fresh ones; the VM of a job in progress is deleted when it completes.
    void restore(std::vector<JobRecord> jobs, const std::vector<std::string>& deliveries);

    // A `workflow_job` delivery whose signature was checked. `delivery_id` is GitHub's
    // X-GitHub-Delivery: a redelivery changes nothing.
    DeliveryResult receive(const std::string& delivery_id, const github::WorkflowJobEvent& event);

    std::optional<JobRecord> find(std::int64_t job_id) const;
    // Matching jobs, oldest first.
    std::vector<JobRecord> list(const JobFilter& filter) const;
    std::vector<PoolStatus> pools() const;
    // What a runner VM for this job asks of the fleet (its pool's image, labels, memory,
    // priority, and the job's tenant): why a queued job waits is why such a VM would. nullopt
    // for a job of no pool known now.
    std::optional<lifecycle::VmSpec> runner_spec(const JobRecord& job) const;

    // The worker: carries out the GitHub calls that are due and rebalances the pools when
    // their VMs changed. Returns when the next call is due, if any is waiting.
    std::optional<TimePoint> run_due_tasks();
    // Blocks until there may be work, or until `until`, or until `wake` is called.
    void wait_for_work(TimePoint until);
    void wake();

    // Periodic: registration deadlines, pools whose GitHub calls were paused, rollouts of a new
    // image that may switch, and what the pools ask of each image (Orchestrator::set_pool_load).
    void sweep();
    // A reloaded configuration (SIGHUP): pools named as before take their new settings; a new
    // image rolls out (RunnerPool::switch_when_hosts). Pools added or removed need a restart:
    // returns their names.
    std::vector<std::string> update_pools(const std::vector<config::RunnerPool>& pools);
    // Asks GitHub what webhooks may have missed, both ways: jobs waiting for a runner in the
    // repositories worth asking (a repository-scoped pool's, those with open or recent jobs),
    // taken as queued; jobs the ledger thinks open, closed or started as GitHub says; runners
    // under macvmorx's name prefix that no VM stands behind (and that run no job), removed.
    // Within a budget of requests per pass, and not while GitHub limits the rate. Run by the
    // worker every reconcile_interval; calls GitHub.
    void reconcile();

    // What the ledger counts, for metrics/ to write out (how long jobs wait goes to the
    // JobWaitObserver).
    struct Figures {
        std::uint64_t ignored_jobs = 0;        // queued jobs whose labels match no pool
        std::uint64_t out_of_scope_jobs = 0;   // a pool's labels, outside its scope
        std::uint64_t registration_failures = 0;
        std::uint64_t rate_limited = 0;        // times GitHub limited the requests
        std::optional<std::int64_t> rate_limit_remaining; // GitHub's last X-RateLimit-Remaining
    };
    Figures figures() const;

    // lifecycle::LifecycleObserver
    void vm_changed(const lifecycle::VmRecord& vm) override;
    void vm_removed(const std::string& vm_id) override;

private:
    struct Runner;  // pool_runner.hpp
    struct Actions; // what to do once the lock is released (pool_runner.hpp)
    struct Pool {
        // After GitHub refused to register a runner (not a passing failure), no new runner is
        // asked for before then, so that a wrong permission does not turn into a storm of calls.
        TimePoint paused_until{};
        int failures = 0;
        // A new image waiting for enough hosts to hold it before the pool switches to it.
        std::string rollout_image;
    };

    // The job ledger: jobs by id, their states, deliveries (workflow_jobs.cpp).
    const config::RunnerPool* pool_config(const std::string& name) const;
    bool serves(const config::RunnerPool& pool, const github::WorkflowJobEvent& event) const;
    void forget_old_jobs();
    void changed(const JobRecord& job);

    // Runner pools: runners and their stages, rebalancing (runner_pools.cpp).
    void balance(Actions& actions);
    // Switches pools whose new image enough hosts hold; tells the orchestrator what each image
    // is asked for. Not under the lock (it calls the orchestrator).
    void follow_images();
    void retire(Runner& runner, Actions& actions);
    void bind(JobRecord& job, Runner& runner);
    void end_runner(const std::string& vm_id, Actions& actions);
    void runner_failed(Runner& runner, const std::string& why);
    void carry_out(Actions& actions);

    // The registrar worker: the GitHub calls that are due, retries, rate limits
    // (registrar_worker.cpp).
    void register_runner(const std::string& vm_id);
    void remove_runner(const std::string& pool, std::int64_t runner_id, int attempt);
    void retire_if_idle(const std::string& vm_id);
    void note_github_error(const github::RegistrarError& error);
    Duration backoff(int attempt) const;

    // GitHub reconciliation (github_reconciliation.cpp).
    void reconcile_runners();
    void refresh_organisation_repositories();

    WorkflowJobsOptions options_;
    orchestrator::Orchestrator& orchestrator_;
    github::RunnerRegistrar& registrar_;
    const Clock& clock_;
    IdSource& ids_;
    JobObserver* observer_ = nullptr;
    JobWaitObserver* wait_observer_ = nullptr;

    // Guards everything below, the parts included: they lock nothing of their own.
    mutable std::mutex mutex_;
    std::condition_variable work_;
    bool rebalance_ = false;
    std::map<std::int64_t, JobRecord> jobs_;
    std::deque<std::int64_t> completed_order_;
    std::unique_ptr<DeliveryLog> deliveries_;
    std::unordered_map<std::string, std::unique_ptr<Runner>> runners_; // by VM id
    std::unordered_map<std::string, std::string> runner_by_name_;      // runner name -> VM id
    std::unordered_map<std::string, Pool> pool_state_;
    std::unique_ptr<RegistrarQueue> tasks_;
    TimePoint next_reconcile_{};                       // the first one at once
    TimePoint github_paused_until_{};                  // a rate limit: no call to GitHub before then
    std::unique_ptr<RepositoryRotation> repositories_; // which to ask, within the budget
    TimePoint next_repository_listing_{};
    std::uint64_t rate_limited_ = 0;
    std::uint64_t ignored_jobs_ = 0;
    std::uint64_t out_of_scope_jobs_ = 0;
    std::uint64_t registration_failures_ = 0;
};

} // namespace macvmorx::actions
