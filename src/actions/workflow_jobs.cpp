// The job ledger: jobs by id and their states, the webhook deliveries that change them, restore
// after a restart, and what the ledger tells readers.

#include "macvmorx/actions/workflow_jobs.hpp"

#include "delivery_log.hpp"
#include "pool_runner.hpp"
#include "registrar_queue.hpp"
#include "repository_rotation.hpp"
#include "macvmorx/github/workflow_job.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace macvmorx::actions {

std::string_view to_string(JobState state) {
    switch (state) {
    case JobState::queued: return "queued";
    case JobState::in_progress: return "in_progress";
    case JobState::completed: return "completed";
    case JobState::waiting: return "waiting";
    }
    return "queued";
}

std::optional<JobState> parse_job_state(std::string_view text) {
    for (const auto state : {JobState::queued, JobState::in_progress, JobState::completed, JobState::waiting}) {
        if (to_string(state) == text) return state;
    }
    return std::nullopt;
}

WorkflowJobs::WorkflowJobs(WorkflowJobsOptions options, orchestrator::Orchestrator& orchestrator,
                           github::RunnerRegistrar& registrar, const Clock& clock, IdSource& ids)
    : options_{std::move(options)}, orchestrator_{orchestrator}, registrar_{registrar}, clock_{clock}, ids_{ids},
      deliveries_{std::make_unique<DeliveryLog>(options_.remembered_deliveries)},
      tasks_{std::make_unique<RegistrarQueue>()}, repositories_{std::make_unique<RepositoryRotation>()} {
    for (const auto& pool : options_.pools) pool_state_[pool.name];
    // Warm runners are wanted from the start.
    std::lock_guard lock{mutex_};
    rebalance_ = true;
}

WorkflowJobs::~WorkflowJobs() = default;

void WorkflowJobs::restore(std::vector<JobRecord> jobs, const std::vector<std::string>& deliveries) {
    std::lock_guard lock{mutex_};
    for (auto& job : jobs) {
        const auto id = job.job_id;
        if (job.state == JobState::completed) completed_order_.push_back(id);
        jobs_[id] = std::move(job);
    }
    // Oldest first, as they completed.
    std::sort(completed_order_.begin(), completed_order_.end(), [this](std::int64_t a, std::int64_t b) {
        return jobs_.at(a).completed_at < jobs_.at(b).completed_at;
    });
    deliveries_->restore(deliveries);
    rebalance_ = true;
}

void WorkflowJobs::changed(const JobRecord& job) {
    if (observer_ != nullptr) observer_->job_changed(job);
}

const config::RunnerPool* WorkflowJobs::pool_config(const std::string& name) const {
    for (const auto& pool : options_.pools) {
        if (pool.name == name) return &pool;
    }
    return nullptr;
}

DeliveryResult WorkflowJobs::receive(const std::string& delivery_id, const github::WorkflowJobEvent& event) {
    Actions actions;
    DeliveryResult result{DeliveryOutcome::unchanged, std::nullopt};
    {
        std::lock_guard lock{mutex_};
        if (!delivery_id.empty() && !deliveries_->remember(delivery_id, observer_)) {
            return {DeliveryOutcome::duplicate, std::nullopt};
        }

        const auto now = clock_.now();
        auto it = jobs_.find(event.job_id);
        const bool created = it == jobs_.end();
        if (created) {
            if (event.action != "queued" && event.action != "waiting" && event.action != "in_progress" &&
                event.action != "completed") {
                return result;
            }
            // A pool that takes the job's labels and whose scope the job is of: a GitHub App's
            // webhooks come for every installation, an organisation's for every repository.
            const config::RunnerPool* pool = nullptr;
            bool labels_taken = false;
            for (const auto& candidate : options_.pools) {
                if (!candidate.takes(event.labels)) continue;
                labels_taken = true;
                if (serves(candidate, event)) {
                    pool = &candidate;
                    break;
                }
            }
            if (pool == nullptr) {
                if (event.action == "queued" || event.action == "waiting") {
                    if (labels_taken) {
                        ++out_of_scope_jobs_;
                        result.outcome = DeliveryOutcome::out_of_scope;
                        spdlog::info("GitHub job {} of {} wants a pool's labels but is outside every such pool's scope: "
                                     "ignored",
                                     event.job_id, event.repository);
                    } else {
                        ++ignored_jobs_;
                        result.outcome = DeliveryOutcome::no_pool;
                    }
                }
                return result;
            }
            JobRecord job;
            job.job_id = event.job_id;
            job.run_id = event.run_id;
            job.repository = event.repository;
            job.workflow_name = event.workflow_name;
            job.job_name = event.job_name;
            job.labels = event.labels;
            job.html_url = event.html_url;
            job.pool = pool->name;
            job.state = event.waiting() ? JobState::waiting : JobState::queued;
            job.queued_at = now;
            job.updated_at = now;
            it = jobs_.emplace(job.job_id, std::move(job)).first;
            spdlog::info("GitHub job {} ({} / {}, {}) {} for pool {}", event.job_id, event.repository, event.job_name,
                         event.html_url, event.waiting() ? "waiting for approval" : "queued", pool->name);
        } else if (event.action == "queued" || event.action == "waiting") {
            // A held job approved (queued with status queued), or held again: else old news.
            JobRecord& job = it->second;
            const bool approved = job.state == JobState::waiting && !event.waiting();
            const bool held = job.state == JobState::queued && event.waiting();
            if (!approved && !held) return result;
            job.state = approved ? JobState::queued : JobState::waiting;
            if (approved) job.queued_at = now; // its wait for a runner starts now
            spdlog::info("GitHub job {} {}", job.job_id, approved ? "was approved: queued" : "waits for approval");
        }

        JobRecord& job = it->second;
        repositories_->heard_of(job.repository, now);
        result.outcome = DeliveryOutcome::applied;
        if (event.action == "queued" || event.action == "waiting") {
            // handled above
        } else if (event.action == "in_progress" && (job.state == JobState::queued || job.state == JobState::waiting)) {
            job.state = JobState::in_progress;
            job.started_at = now;
            job.runner_name = event.runner_name;
            if (wait_observer_ != nullptr) wait_observer_->job_started(std::chrono::duration<double>(now - job.queued_at).count());
            if (const auto name = runner_by_name_.find(event.runner_name); name != runner_by_name_.end()) {
                bind(job, *runners_.at(name->second));
            }
            spdlog::info("GitHub job {} started on runner {}", job.job_id, event.runner_name);
        } else if (event.action == "completed" && job.state != JobState::completed) {
            if ((job.state == JobState::queued || job.state == JobState::waiting) && !event.runner_name.empty()) {
                job.runner_name = event.runner_name; // the in_progress delivery was lost
                if (const auto name = runner_by_name_.find(event.runner_name); name != runner_by_name_.end()) {
                    bind(job, *runners_.at(name->second));
                }
            }
            job.state = JobState::completed;
            job.completed_at = now;
            job.conclusion = event.conclusion.empty() ? "unknown" : event.conclusion;
            completed_order_.push_back(job.job_id);
            if (!job.vm_id.empty()) {
                if (const auto runner = runners_.find(job.vm_id); runner != runners_.end()) {
                    retire(*runner->second, actions);
                } else {
                    actions.delete_vms.push_back(job.vm_id); // its runner was of an earlier run
                }
            }
            spdlog::info("GitHub job {} completed ({}){}", job.job_id, job.conclusion,
                         job.runner_name.empty() ? " before any runner took it" : " on runner " + job.runner_name);
        } else if (!created) {
            result.outcome = DeliveryOutcome::unchanged;
        }
        job.updated_at = now;
        result.job = job;
        if (result.outcome == DeliveryOutcome::applied) changed(job);
        forget_old_jobs(); // after the last use of `job`: it may be the one forgotten
        balance(actions);
    }
    carry_out(actions);
    return result;
}

bool WorkflowJobs::serves(const config::RunnerPool& pool, const github::WorkflowJobEvent& event) const {
    if (!pool.scope.covers(event.repository)) return false;
    if (pool.scope.is_organisation() && !event.organization.empty() &&
        !pool.scope.covers(event.organization + "/" + event.repository.substr(event.repository.find('/') + 1))) {
        return false; // the organisation that owns the repository is another one
    }
    // The App's installation: another installation's jobs are another account's.
    return !options_.installation_id || !event.installation_id || *event.installation_id == *options_.installation_id;
}

void WorkflowJobs::forget_old_jobs() {
    while (completed_order_.size() > options_.retained_completed_jobs) {
        if (observer_ != nullptr) observer_->job_removed(completed_order_.front());
        jobs_.erase(completed_order_.front());
        completed_order_.pop_front();
    }
}

std::optional<JobRecord> WorkflowJobs::find(std::int64_t job_id) const {
    std::lock_guard lock{mutex_};
    const auto it = jobs_.find(job_id);
    if (it == jobs_.end()) return std::nullopt;
    return it->second;
}

std::vector<JobRecord> WorkflowJobs::list(const JobFilter& filter) const {
    std::lock_guard lock{mutex_};
    std::vector<JobRecord> out;
    for (const auto& [id, job] : jobs_) {
        if (filter.state && job.state != *filter.state) continue;
        if (!filter.repository.empty() && job.repository != filter.repository) continue;
        if (!filter.pool.empty() && job.pool != filter.pool) continue;
        out.push_back(job);
    }
    std::stable_sort(out.begin(), out.end(), [](const JobRecord& a, const JobRecord& b) { return a.queued_at < b.queued_at; });
    return out;
}

WorkflowJobs::Figures WorkflowJobs::figures() const {
    Figures figures;
    {
        std::lock_guard lock{mutex_};
        figures.ignored_jobs = ignored_jobs_;
        figures.out_of_scope_jobs = out_of_scope_jobs_;
        figures.registration_failures = registration_failures_;
        figures.rate_limited = rate_limited_;
    }
    figures.rate_limit_remaining = registrar_.rate_limit_remaining();
    return figures;
}

} // namespace macvmorx::actions
