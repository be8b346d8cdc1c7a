// Reconciliation with GitHub, for what webhooks missed: the jobs GitHub lists as waiting, the
// jobs GitHub finished or started, the runners no VM stands behind; within a request budget.

#include "macvmorx/actions/workflow_jobs.hpp"

#include "repository_rotation.hpp"
#include "macvmorx/github/workflow_job.hpp"
#include "macvmorx/orchestrator/orchestrator.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace macvmorx::actions {

// Reconciliation spends GitHub's rate limit (5,000 requests an hour for a token): it asks about a
// few repositories and a few jobs a pass, the oldest news first, and nothing while GitHub limits us.
void WorkflowJobs::reconcile() {
    refresh_organisation_repositories();
    std::vector<std::string> repositories;
    std::vector<std::pair<std::string, std::int64_t>> open_jobs; // repository, job id
    {
        std::lock_guard lock{mutex_};
        const auto now = clock_.now();
        if (now < github_paused_until_) return;
        // Worth asking each time, besides those with recent news: each repository-scoped pool's,
        // and those with jobs open in the ledger.
        std::vector<std::string> worth_asking;
        for (const auto& pool : options_.pools) {
            if (!pool.scope.is_organisation()) worth_asking.push_back(pool.scope.owner + "/" + pool.scope.repository);
        }
        for (const auto& [id, job] : jobs_) {
            if (job.state != JobState::completed) worth_asking.push_back(job.repository);
        }
        repositories = repositories_->choose(std::move(worth_asking), now, options_.repositories_per_reconcile);
        // The jobs the ledger thinks open, least recently heard of first.
        std::vector<const JobRecord*> open;
        for (const auto& [id, job] : jobs_) {
            if (job.state != JobState::completed && now - job.updated_at >= options_.job_check_age) open.push_back(&job);
        }
        std::sort(open.begin(), open.end(), [](const JobRecord* a, const JobRecord* b) { return a->updated_at < b->updated_at; });
        for (std::size_t i = 0; i < std::min(open.size(), options_.jobs_per_reconcile); ++i) {
            open_jobs.emplace_back(open[i]->repository, open[i]->job_id);
        }
    }

    try {
        for (const auto& repository : repositories) {
            for (const auto& event : registrar_.queued_jobs(repository)) {
                if (find(event.job_id)) continue;
                if (receive({}, event).outcome == DeliveryOutcome::applied) {
                    spdlog::warn("GitHub job {} ({}) waits for a runner but no webhook said so: taken up by reconciliation",
                                 event.job_id, event.repository);
                }
            }
        }
        // GitHub does not send a failed delivery again: what finished while macvmorx was down, or
        // whose delivery was lost, is closed from GitHub's own answer.
        for (const auto& [repository, job_id] : open_jobs) {
            const auto status = registrar_.job_status(repository, job_id);
            // A 404 is as likely a token that cannot see the repository as a job long gone: the
            // job is left as it is (and asked about again later).
            if (status && receive({}, *status).outcome == DeliveryOutcome::applied) {
                spdlog::warn("GitHub job {} of {} is {} but no webhook said so: recorded by reconciliation", job_id,
                             repository, status->action);
                continue;
            }
            if (!status) spdlog::warn("GitHub does not show job {} of {} (404): left as it is", job_id, repository);
            std::lock_guard lock{mutex_};
            if (const auto it = jobs_.find(job_id); it != jobs_.end()) it->second.updated_at = clock_.now();
        }
    } catch (const github::RegistrarError& error) {
        note_github_error(error);
        spdlog::warn("reconciliation with GitHub failed: {}", error.what());
        if (error.rate_limited()) return;
    }
    reconcile_runners();
}

// The repositories of organisation-scoped pools, listed again at most hourly (an unchanged list
// is a 304, which GitHub does not count).
void WorkflowJobs::refresh_organisation_repositories() {
    std::vector<config::RunnerPool> scopes; // copies: a reload may change the pools meanwhile
    {
        std::lock_guard lock{mutex_};
        const auto now = clock_.now();
        if (now < github_paused_until_ || now < next_repository_listing_) return;
        next_repository_listing_ = now + std::chrono::hours{1};
        for (const auto& pool : options_.pools) {
            if (pool.scope.is_organisation() &&
                std::none_of(scopes.begin(), scopes.end(), [&pool](const auto& p) { return p.scope == pool.scope; })) {
                scopes.push_back(pool);
            }
        }
    }
    if (scopes.empty()) return;
    std::vector<std::string> names;
    try {
        for (const auto& pool : scopes) {
            auto found = registrar_.repositories(pool);
            names.insert(names.end(), std::make_move_iterator(found.begin()), std::make_move_iterator(found.end()));
        }
    } catch (const github::RegistrarError& error) {
        note_github_error(error);
        spdlog::warn("listing the organisations' repositories failed: {}", error.what());
        std::lock_guard lock{mutex_};
        next_repository_listing_ = clock_.now() + std::chrono::minutes{5};
        return;
    }
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    std::lock_guard lock{mutex_};
    repositories_->set_organisation_repositories(std::move(names));
}

// Runners under macvmorx's name prefix that no VM stands behind (and that run no job) are removed.
void WorkflowJobs::reconcile_runners() {
    // One pool stands for each scope: runners are listed per organisation or repository. Copies,
    // taken under the lock: a reload (update_pools) may change the pools meanwhile.
    std::vector<config::RunnerPool> scopes;
    {
        std::lock_guard lock{mutex_};
        for (const auto& pool : options_.pools) {
            if (std::none_of(scopes.begin(), scopes.end(), [&pool](const config::RunnerPool& p) { return p.scope == pool.scope; })) {
                scopes.push_back(pool);
            }
        }
    }
    const std::string prefix = options_.runner_prefix + "-";
    for (const auto& scope_pool : scopes) {
        const auto* pool = &scope_pool;
        try {
            std::vector<std::pair<std::int64_t, std::string>> stale;
            const auto registered = registrar_.list_runners(*pool);
            {
                std::lock_guard lock{mutex_};
                for (const auto& runner : registered) {
                    if (!runner.name.starts_with(prefix) || runner.busy) continue;
                    if (runner_by_name_.contains(runner.name)) continue;
                    stale.emplace_back(runner.id, runner.name);
                }
            }
            for (const auto& [id, name] : stale) {
                spdlog::warn("GitHub runner {} ({}) in {} is not one macvmorx keeps: removing its registration", name, id,
                             pool->scope.to_string());
                // After a restart its VM may still be there, without the configuration to start
                // it again: it goes too, and demand makes a fresh runner.
                const std::string vm_id = name.substr(prefix.size());
                if (const auto vm = orchestrator_.vm(vm_id); vm && !protocol::is_final(vm->state)) {
                    orchestrator_.delete_vm(vm_id);
                }
                remove_runner(pool->name, id, 0);
            }
        } catch (const github::RegistrarError& error) {
            note_github_error(error);
            spdlog::warn("reconciliation of the runners of {} failed: {}", pool->scope.to_string(), error.what());
            if (error.rate_limited()) return;
        }
    }
}

} // namespace macvmorx::actions
