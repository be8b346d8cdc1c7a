// The registrar worker: carries out the calls to GitHub that are due (registering runners and
// requesting their VMs, removing registrations, asking whether a runner is busy), on a worker
// thread of the daemon; retries with backoff, and waits out GitHub's rate limits.

#include "macvmorx/actions/workflow_jobs.hpp"

#include "pool_runner.hpp"
#include "registrar_queue.hpp"
#include "macvmorx/orchestrator/orchestrator.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace macvmorx::actions {

std::optional<TimePoint> WorkflowJobs::run_due_tasks() {
    bool reconcile_now = false;
    {
        std::lock_guard lock{mutex_};
        const auto now = clock_.now();
        if (options_.reconcile_interval.count() > 0 && now >= next_reconcile_) {
            next_reconcile_ = now + options_.reconcile_interval;
            reconcile_now = true;
        }
    }
    if (reconcile_now) reconcile();
    for (;;) {
        std::optional<RegistrarTask> task;
        Actions actions;
        {
            std::lock_guard lock{mutex_};
            if (rebalance_) {
                rebalance_ = false;
                balance(actions);
            }
            task = tasks_->take_due(clock_.now(), github_paused_until_);
        }
        carry_out(actions);
        if (!task) break;
        switch (task->kind) {
        case RegistrarTask::Kind::register_runner: register_runner(task->vm_id); break;
        case RegistrarTask::Kind::remove_runner: remove_runner(task->pool, task->runner_id, task->attempt); break;
        case RegistrarTask::Kind::retire_if_idle: retire_if_idle(task->vm_id); break;
        }
    }
    std::lock_guard lock{mutex_};
    std::optional<TimePoint> next;
    if (options_.reconcile_interval.count() > 0) next = next_reconcile_;
    if (const auto due = tasks_->next_due(github_paused_until_, clock_); due && (!next || *due < *next)) next = due;
    return next;
}

void WorkflowJobs::wait_for_work(TimePoint until) {
    std::unique_lock lock{mutex_};
    // The clock may be a test's: wake at least every 50 ms to look at it again.
    const auto limit = std::chrono::steady_clock::now() + std::chrono::milliseconds{50};
    work_.wait_until(lock, limit, [this, until] {
        const auto now = clock_.now();
        return rebalance_ || now >= until || tasks_->any_due(now);
    });
}

void WorkflowJobs::wake() {
    std::lock_guard lock{mutex_};
    work_.notify_all();
}

Duration WorkflowJobs::backoff(int attempt) const {
    Duration wait = options_.retry_base;
    for (int i = 0; i < attempt && wait < options_.retry_max; ++i) wait *= 2;
    return std::min(wait, options_.retry_max);
}

void WorkflowJobs::register_runner(const std::string& vm_id) {
    config::RunnerPool pool;
    std::string name;
    {
        std::lock_guard lock{mutex_};
        const auto it = runners_.find(vm_id);
        if (it == runners_.end()) return;
        if (it->second->retiring) { // retired before GitHub was asked: nothing to undo
            runner_by_name_.erase(it->second->name);
            runners_.erase(it);
            rebalance_ = true;
            return;
        }
        pool = *pool_config(it->second->pool);
        name = it->second->name;
    }

    github::RunnerRegistration registration;
    try {
        registration = registrar_.register_runner(pool, name);
    } catch (const github::RegistrarError& error) {
        note_github_error(error);
        std::lock_guard lock{mutex_};
        ++registration_failures_;
        auto& state = pool_state_[pool.name];
        const auto now = clock_.now();
        const auto it = runners_.find(vm_id);
        if (error.retryable()) {
            const auto wait = error.retry_after().value_or(backoff(state.failures++));
            spdlog::warn("GitHub could not register runner {} of pool {} ({}); trying again in {} s", name, pool.name,
                         error.what(), std::chrono::duration_cast<std::chrono::seconds>(wait).count());
            if (it != runners_.end()) tasks_->push({RegistrarTask::Kind::register_runner, now + wait, vm_id, pool.name, 0, 0});
        } else {
            const auto wait = backoff(state.failures++);
            state.paused_until = now + wait;
            spdlog::error("GitHub refused to register runner {} of pool {}: {}; no new runner for {} s", name,
                          pool.name, error.what(), std::chrono::duration_cast<std::chrono::seconds>(wait).count());
            if (it != runners_.end()) {
                runner_by_name_.erase(it->second->name);
                runners_.erase(it);
            }
        }
        return;
    }

    lifecycle::VmSpec spec;
    {
        std::lock_guard lock{mutex_};
        pool_state_[pool.name].failures = 0;
        // The image in use now: a rollout may have switched it during the call to GitHub.
        if (const auto* current = pool_config(pool.name)) pool.image = current->image;
        const auto it = runners_.find(vm_id);
        if (it == runners_.end() || it->second->retiring) {
            // No longer wanted while GitHub answered: undo the registration.
            tasks_->push({RegistrarTask::Kind::remove_runner, clock_.now(), {}, pool.name, registration.runner_id, 0});
            if (it != runners_.end()) {
                runner_by_name_.erase(it->second->name);
                runners_.erase(it);
            }
            return;
        }
        it->second->runner_id = registration.runner_id;
        it->second->vm_requested = true;
        spec.tenant = it->second->tenant;
    }
    spec.image_name = pool.image;
    spec.labels = pool.node_labels;
    spec.cpu = pool.cpu;
    spec.memory_gb = pool.memory_gb;
    spec.priority = pool.priority;
    spec.metadata_json = nlohmann::json{{"pool", pool.name}, {"runnerName", name}}.dump();
    spec.runner_config = std::move(registration.encoded_jit_config);
    const auto result = orchestrator_.request_vm(vm_id, std::move(spec), true);
    bool retired_meanwhile = false;
    {
        std::lock_guard lock{mutex_};
        if (result.outcome != lifecycle::RequestOutcome::placed && result.outcome != lifecycle::RequestOutcome::queued) {
            spdlog::error("the VM of runner {} could not be requested", name);
            Actions ignored;
            end_runner(vm_id, ignored);
            return;
        }
        const auto it = runners_.find(vm_id);
        // Retired between the registration and the request: its deletion found no VM yet.
        retired_meanwhile = it != runners_.end() && it->second->retiring;
    }
    if (retired_meanwhile) orchestrator_.delete_vm(vm_id);
}

void WorkflowJobs::remove_runner(const std::string& pool_name, std::int64_t runner_id, int attempt) {
    std::optional<config::RunnerPool> pool; // a copy: a reload may change the pools meanwhile
    {
        std::lock_guard lock{mutex_};
        if (const auto* config = pool_config(pool_name)) pool = *config;
    }
    if (!pool) return;
    try {
        registrar_.remove_runner(*pool, runner_id);
    } catch (const github::RegistrarError& error) {
        note_github_error(error);
        // A rate limit is waited out, however often: the registration would be left behind.
        if (!error.retryable() || (attempt >= 8 && !error.rate_limited())) {
            spdlog::warn("GitHub runner {} of pool {} could not be removed: {}", runner_id, pool_name, error.what());
            return;
        }
        std::lock_guard lock{mutex_};
        const auto wait = error.retry_after().value_or(backoff(attempt));
        tasks_->push({RegistrarTask::Kind::remove_runner, clock_.now() + wait, {}, pool_name, runner_id, attempt + 1});
    }
}

void WorkflowJobs::retire_if_idle(const std::string& vm_id) {
    std::string pool_name;
    std::int64_t runner_id = 0;
    std::optional<config::RunnerPool> pool;
    {
        std::lock_guard lock{mutex_};
        const auto it = runners_.find(vm_id);
        if (it == runners_.end() || it->second->retiring || it->second->job_id) return;
        pool_name = it->second->pool;
        runner_id = it->second->runner_id;
        if (const auto* config = pool_config(pool_name)) pool = *config; // a copy, as in remove_runner
    }
    bool busy = false;
    if (pool && runner_id != 0) {
        try {
            const auto listed = registrar_.runner(*pool, runner_id);
            busy = listed && listed->busy;
        } catch (const github::RegistrarError& error) {
            note_github_error(error);
            // Not known either way: kept, and asked again at the next occasion.
            std::lock_guard lock{mutex_};
            if (const auto it = runners_.find(vm_id); it != runners_.end()) it->second->checking = false;
            return;
        }
    }
    Actions actions;
    {
        std::lock_guard lock{mutex_};
        const auto it = runners_.find(vm_id);
        if (it == runners_.end()) return;
        it->second->checking = false;
        if (busy) {
            // GitHub gave it a job (its in_progress delivery is on its way): let it work.
            spdlog::info("runner {} is busy on GitHub: kept", it->second->name);
            return;
        }
        if (it->second->job_id) return;
        retire(*it->second, actions);
        rebalance_ = true; // jobs that still wait get a fresh runner in its place
    }
    carry_out(actions);
}

// A rate limit stops every call to GitHub until it passes, not only the one that met it.
void WorkflowJobs::note_github_error(const github::RegistrarError& error) {
    if (!error.rate_limited()) return;
    std::lock_guard lock{mutex_};
    const auto until = clock_.now() + error.retry_after().value_or(std::chrono::minutes{1});
    if (until > github_paused_until_) {
        github_paused_until_ = until;
        ++rate_limited_;
        spdlog::warn("GitHub limits macvmorx's requests ({}): no call to GitHub for {} s", error.what(),
                     std::chrono::duration_cast<std::chrono::seconds>(until - clock_.now()).count());
    }
}

} // namespace macvmorx::actions
