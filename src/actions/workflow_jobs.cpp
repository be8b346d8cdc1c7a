#include "macvmorx/actions/workflow_jobs.hpp"

#include "macvmorx/base/id_source.hpp"
#include "macvmorx/github/workflow_job.hpp"
#include "macvmorx/orchestrator/orchestrator.hpp"

#include <nlohmann/json.hpp>
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

struct WorkflowJobs::Runner {
    std::string vm_id;
    std::string name; // <prefix>-<vmId>, as GitHub lists it
    std::string pool;
    std::int64_t runner_id = 0; // GitHub's, once registered
    bool vm_requested = false;
    bool retiring = false;
    bool checking = false; // a retire_if_idle task asks GitHub whether it is busy
    std::optional<std::int64_t> job_id;
    std::string node_id;
    std::optional<TimePoint> assigned_at;
    std::optional<TimePoint> image_ready_at;
    std::optional<TimePoint> running_at;
    TimePoint created_at;
};

struct WorkflowJobs::Actions {
    std::vector<std::string> delete_vms;
    bool wake = false;
};

WorkflowJobs::WorkflowJobs(WorkflowJobsOptions options, orchestrator::Orchestrator& orchestrator,
                           github::RunnerRegistrar& registrar, const Clock& clock, IdSource& ids)
    : options_{std::move(options)}, orchestrator_{orchestrator}, registrar_{registrar}, clock_{clock}, ids_{ids} {
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
    for (const auto& delivery : deliveries) {
        if (deliveries_.insert(delivery).second) delivery_order_.push_back(delivery);
    }
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
        if (!delivery_id.empty()) {
            if (!deliveries_.insert(delivery_id).second) return {DeliveryOutcome::duplicate, std::nullopt};
            delivery_order_.push_back(delivery_id);
            if (observer_ != nullptr) observer_->delivery_remembered(delivery_id);
            while (delivery_order_.size() > options_.remembered_deliveries) {
                if (observer_ != nullptr) observer_->delivery_forgotten(delivery_order_.front());
                deliveries_.erase(delivery_order_.front());
                delivery_order_.pop_front();
            }
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
        recent_repositories_[job.repository] = now;
        result.outcome = DeliveryOutcome::applied;
        if (event.action == "queued" || event.action == "waiting") {
            // handled above
        } else if (event.action == "in_progress" && (job.state == JobState::queued || job.state == JobState::waiting)) {
            job.state = JobState::in_progress;
            job.started_at = now;
            job.runner_name = event.runner_name;
            wait_.observe(std::chrono::duration<double>(now - job.queued_at).count());
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

void WorkflowJobs::bind(JobRecord& job, Runner& runner) {
    runner.job_id = job.job_id;
    pool_state_[runner.pool].failures = 0; // the pool's runners work
    job.vm_id = runner.vm_id;
    job.node_id = runner.node_id;
    job.vm_assigned_at = runner.assigned_at;
    job.image_ready_at = runner.image_ready_at;
    job.vm_running_at = runner.running_at;
}

void WorkflowJobs::forget_old_jobs() {
    while (completed_order_.size() > options_.retained_completed_jobs) {
        if (observer_ != nullptr) observer_->job_removed(completed_order_.front());
        jobs_.erase(completed_order_.front());
        completed_order_.pop_front();
    }
}

// Each pool wants as many idle runners as it has queued jobs, plus its warm size.
void WorkflowJobs::balance(Actions& actions) {
    const auto now = clock_.now();
    for (const auto& pool : options_.pools) {
        std::size_t wanted = static_cast<std::size_t>(std::max(pool.warm, 0));
        for (const auto& [id, job] : jobs_) {
            if (job.pool == pool.name && job.state == JobState::queued) ++wanted;
        }
        std::vector<Runner*> idle;
        for (auto& [vm_id, runner] : runners_) {
            if (runner->pool == pool.name && !runner->retiring && !runner->job_id) idle.push_back(runner.get());
        }
        if (idle.size() > wanted) {
            // The least advanced go first: nothing asked of GitHub yet, then VMs still starting.
            std::sort(idle.begin(), idle.end(), [](const Runner* a, const Runner* b) {
                const auto rank = [](const Runner* r) { return r->running_at ? 2 : r->vm_requested ? 1 : 0; };
                if (rank(a) != rank(b)) return rank(a) < rank(b);
                return a->created_at > b->created_at;
            });
            for (std::size_t i = 0; i < idle.size() - wanted; ++i) {
                if (!idle[i]->running_at) {
                    retire(*idle[i], actions);
                } else if (!idle[i]->checking) {
                    idle[i]->checking = true; // GitHub may have just given it a job: asked first
                    tasks_.push_back({Task::Kind::retire_if_idle, now, idle[i]->vm_id, pool.name, idle[i]->runner_id, 0});
                    actions.wake = true;
                }
            }
            continue;
        }
        if (pool_state_[pool.name].paused_until > now) continue;
        for (std::size_t i = idle.size(); i < wanted; ++i) {
            auto runner = std::make_unique<Runner>();
            runner->vm_id = ids_.next("runner");
            runner->name = options_.runner_prefix + "-" + runner->vm_id;
            runner->pool = pool.name;
            runner->created_at = now;
            runner_by_name_[runner->name] = runner->vm_id;
            tasks_.push_back({Task::Kind::register_runner, now, runner->vm_id, pool.name, 0, 0});
            runners_.emplace(runner->vm_id, std::move(runner));
            actions.wake = true;
        }
    }
}

void WorkflowJobs::retire(Runner& runner, Actions& actions) {
    if (runner.retiring) return;
    runner.retiring = true;
    // A runner still waiting for GitHub has no VM: its registration task finds it retiring and
    // undoes itself. Otherwise the VM's end (vm_changed) removes the registration.
    if (runner.vm_requested) actions.delete_vms.push_back(runner.vm_id);
}

// The runner's VM is gone: so is the runner, and its registration with GitHub.
void WorkflowJobs::end_runner(const std::string& vm_id, Actions& actions) {
    const auto it = runners_.find(vm_id);
    if (it == runners_.end()) return;
    Runner& runner = *it->second;
    if (runner.runner_id != 0) {
        tasks_.push_back({Task::Kind::remove_runner, clock_.now(), {}, runner.pool, runner.runner_id, 0});
        actions.wake = true;
    }
    runner_by_name_.erase(runner.name);
    runners_.erase(it);
    rebalance_ = true;
    actions.wake = true;
}

void WorkflowJobs::carry_out(Actions& actions) {
    for (const auto& vm_id : actions.delete_vms) orchestrator_.delete_vm(vm_id);
    if (actions.wake) wake();
}

void WorkflowJobs::vm_changed(const lifecycle::VmRecord& vm) {
    std::lock_guard lock{mutex_};
    const auto it = runners_.find(vm.vm_id);
    if (it == runners_.end()) return;
    Runner& runner = *it->second;
    const auto now = clock_.now();
    if (!vm.node_id.empty()) runner.node_id = vm.node_id;
    if (protocol::is_starting(vm.state) && !runner.assigned_at) runner.assigned_at = now;
    // The agent reports the download's progress; at 1 the image is there and the boot begins.
    if (protocol::is_starting(vm.state) && vm.progress && *vm.progress >= 1.0 && !runner.image_ready_at) {
        runner.image_ready_at = now;
    }
    if (vm.state == protocol::VmState::running && !runner.running_at) {
        runner.running_at = now;
        if (!runner.assigned_at) runner.assigned_at = now;
        if (!runner.image_ready_at) runner.image_ready_at = now; // an agent that reports no progress
    }
    if (runner.job_id) {
        if (const auto job = jobs_.find(*runner.job_id); job != jobs_.end()) {
            bind(job->second, runner);
            changed(job->second);
        }
    }
    if (protocol::is_final(vm.state)) {
        if (vm.state == protocol::VmState::failed && !runner.retiring) runner_failed(runner, vm.failure_reason);
        Actions actions; // only tasks and a wake-up: nothing may call back into the lifecycle here
        end_runner(vm.vm_id, actions);
        work_.notify_all();
    }
}

void WorkflowJobs::vm_removed(const std::string& vm_id) {
    std::lock_guard lock{mutex_};
    Actions actions;
    end_runner(vm_id, actions);
    work_.notify_all();
}

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
        std::optional<Task> task;
        Actions actions;
        {
            std::lock_guard lock{mutex_};
            if (rebalance_) {
                rebalance_ = false;
                balance(actions);
            }
            const auto now = clock_.now();
            const auto due = now < github_paused_until_
                                 ? tasks_.end()
                                 : std::find_if(tasks_.begin(), tasks_.end(), [now](const Task& t) { return t.due <= now; });
            if (due != tasks_.end()) {
                task = std::move(*due);
                tasks_.erase(due);
            }
        }
        carry_out(actions);
        if (!task) break;
        switch (task->kind) {
        case Task::Kind::register_runner: register_runner(task->vm_id); break;
        case Task::Kind::remove_runner: remove_runner(task->pool, task->runner_id, task->attempt); break;
        case Task::Kind::retire_if_idle: retire_if_idle(task->vm_id); break;
        }
    }
    std::lock_guard lock{mutex_};
    std::optional<TimePoint> next;
    if (options_.reconcile_interval.count() > 0) next = next_reconcile_;
    for (const auto& task : tasks_) {
        const auto due = std::max(task.due, github_paused_until_);
        if (!next || due < *next) next = due;
        clock_.expect_wake_up(due);
    }
    return next;
}

void WorkflowJobs::wait_for_work(TimePoint until) {
    std::unique_lock lock{mutex_};
    // The clock may be a test's: wake at least every 50 ms to look at it again.
    const auto limit = std::chrono::steady_clock::now() + std::chrono::milliseconds{50};
    work_.wait_until(lock, limit, [this, until] {
        const auto now = clock_.now();
        return rebalance_ || now >= until ||
               std::any_of(tasks_.begin(), tasks_.end(), [now](const Task& t) { return t.due <= now; });
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
            if (it != runners_.end()) tasks_.push_back({Task::Kind::register_runner, now + wait, vm_id, pool.name, 0, 0});
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
        const auto it = runners_.find(vm_id);
        if (it == runners_.end() || it->second->retiring) {
            // No longer wanted while GitHub answered: undo the registration.
            tasks_.push_back({Task::Kind::remove_runner, clock_.now(), {}, pool.name, registration.runner_id, 0});
            if (it != runners_.end()) {
                runner_by_name_.erase(it->second->name);
                runners_.erase(it);
            }
            return;
        }
        it->second->runner_id = registration.runner_id;
        it->second->vm_requested = true;
    }
    spec.image_name = pool.image;
    spec.labels = pool.node_labels;
    spec.cpu = pool.cpu;
    spec.memory_gb = pool.memory_gb;
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
    const auto* pool = pool_config(pool_name);
    if (pool == nullptr) return;
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
        tasks_.push_back({Task::Kind::remove_runner, clock_.now() + wait, {}, pool_name, runner_id, attempt + 1});
    }
}

void WorkflowJobs::retire_if_idle(const std::string& vm_id) {
    std::string pool_name;
    std::int64_t runner_id = 0;
    {
        std::lock_guard lock{mutex_};
        const auto it = runners_.find(vm_id);
        if (it == runners_.end() || it->second->retiring || it->second->job_id) return;
        pool_name = it->second->pool;
        runner_id = it->second->runner_id;
    }
    const auto* pool = pool_config(pool_name);
    bool busy = false;
    if (pool != nullptr && runner_id != 0) {
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

// A runner's VM failed before its runner took a job: the image, the host or the runner itself
// is broken, and a fresh VM at once would loop (boot, register, exit). The pool waits, longer
// at each failure in a row, until one of its runners takes a job.
void WorkflowJobs::runner_failed(Runner& runner, const std::string& why) {
    if (runner.job_id) {
        spdlog::warn("runner VM {} of pool {} failed during its job ({})", runner.vm_id, runner.pool, why);
        return;
    }
    auto& state = pool_state_[runner.pool];
    const auto wait = backoff(state.failures++);
    state.paused_until = std::max(state.paused_until, clock_.now() + wait);
    spdlog::warn("runner VM {} of pool {} failed before taking a job ({}): no new runner for {} s", runner.vm_id,
                 runner.pool, why, std::chrono::duration_cast<std::chrono::seconds>(wait).count());
}

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
        // The repositories worth asking each time: each repository-scoped pool's, and those with
        // jobs open in the ledger or heard of in the last day. The rest of the budget goes, in
        // turn, to the organisations' other repositories.
        std::vector<std::string> first;
        for (const auto& pool : options_.pools) {
            if (!pool.scope.is_organisation()) first.push_back(pool.scope.owner + "/" + pool.scope.repository);
        }
        for (const auto& [id, job] : jobs_) {
            if (job.state != JobState::completed) first.push_back(job.repository);
        }
        for (auto it = recent_repositories_.begin(); it != recent_repositories_.end();) {
            if (now - it->second > std::chrono::hours{24}) {
                it = recent_repositories_.erase(it);
                continue;
            }
            first.push_back(it->first);
            ++it;
        }
        std::sort(first.begin(), first.end());
        first.erase(std::unique(first.begin(), first.end()), first.end());
        for (std::size_t i = 0; i < first.size() && repositories.size() < options_.repositories_per_reconcile; ++i) {
            repositories.push_back(first[(priority_cursor_ + i) % first.size()]);
        }
        priority_cursor_ = first.empty() ? 0 : (priority_cursor_ + repositories.size()) % first.size();
        const auto& others = organisation_repositories_;
        std::size_t examined = 0;
        for (; examined < others.size() && repositories.size() < options_.repositories_per_reconcile; ++examined) {
            const auto& name = others[(reconcile_cursor_ + examined) % others.size()];
            if (!std::binary_search(first.begin(), first.end(), name)) repositories.push_back(name);
        }
        if (!others.empty()) reconcile_cursor_ = (reconcile_cursor_ + examined) % others.size();
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
    std::vector<const config::RunnerPool*> scopes;
    {
        std::lock_guard lock{mutex_};
        const auto now = clock_.now();
        if (now < github_paused_until_ || now < next_repository_listing_) return;
        next_repository_listing_ = now + std::chrono::hours{1};
        for (const auto& pool : options_.pools) {
            if (pool.scope.is_organisation() &&
                std::none_of(scopes.begin(), scopes.end(), [&pool](const auto* p) { return p->scope == pool.scope; })) {
                scopes.push_back(&pool);
            }
        }
    }
    if (scopes.empty()) return;
    std::vector<std::string> names;
    try {
        for (const auto* pool : scopes) {
            auto found = registrar_.repositories(*pool);
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
    organisation_repositories_ = std::move(names);
    reconcile_cursor_ = organisation_repositories_.empty() ? 0 : reconcile_cursor_ % organisation_repositories_.size();
}

// Runners under macvmorx's name prefix that no VM stands behind (and that run no job) are removed.
void WorkflowJobs::reconcile_runners() {
    // One pool stands for each scope: runners are listed per organisation or repository.
    std::vector<const config::RunnerPool*> scopes;
    for (const auto& pool : options_.pools) {
        if (std::none_of(scopes.begin(), scopes.end(), [&pool](const config::RunnerPool* p) { return p->scope == pool.scope; })) {
            scopes.push_back(&pool);
        }
    }
    const std::string prefix = options_.runner_prefix + "-";
    for (const auto* pool : scopes) {
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

void WorkflowJobs::sweep() {
    Actions actions;
    {
        std::lock_guard lock{mutex_};
        const auto now = clock_.now();
        for (auto& [vm_id, runner] : runners_) {
            if (runner->retiring || runner->job_id || !runner->running_at) continue;
            if (now - *runner->running_at < options_.registration_deadline) continue;
            const bool jobs_wait = std::any_of(jobs_.begin(), jobs_.end(), [&runner](const auto& entry) {
                return entry.second.pool == runner->pool && entry.second.state == JobState::queued;
            });
            if (!jobs_wait) continue; // a warm runner may idle
            if (runner->checking) continue;
            spdlog::warn("runner {} took no job within {} s while jobs of pool {} wait: replacing its VM unless GitHub "
                         "gave it one meanwhile",
                         runner->name, std::chrono::duration_cast<std::chrono::seconds>(options_.registration_deadline).count(),
                         runner->pool);
            runner->checking = true;
            tasks_.push_back({Task::Kind::retire_if_idle, now, vm_id, runner->pool, runner->runner_id, 0});
            actions.wake = true;
        }
        balance(actions);
    }
    carry_out(actions);
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

std::vector<PoolStatus> WorkflowJobs::pools() const {
    std::lock_guard lock{mutex_};
    std::vector<PoolStatus> out;
    for (const auto& pool : options_.pools) {
        PoolStatus status;
        status.pool = pool.name;
        for (const auto& [id, job] : jobs_) {
            if (job.pool == pool.name && job.state == JobState::queued) ++status.queued_jobs;
        }
        for (const auto& [vm_id, runner] : runners_) {
            if (runner->pool != pool.name) continue;
            if (runner->retiring) {
                ++status.runners_retiring;
            } else if (runner->job_id) {
                ++status.runners_busy;
            } else if (runner->running_at) {
                ++status.runners_idle;
            } else if (runner->vm_requested) {
                ++status.runners_starting;
            } else {
                ++status.runners_registering;
            }
        }
        out.push_back(std::move(status));
    }
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
