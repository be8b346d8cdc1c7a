// Runner pools: each pool's runners through their stages, as many idle as its queued jobs plus
// its warm size, and what the lifecycle says of their VMs.

#include "macvmorx/actions/workflow_jobs.hpp"

#include "pool_runner.hpp"
#include "registrar_queue.hpp"
#include "macvmorx/base/id_source.hpp"
#include "macvmorx/orchestrator/orchestrator.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <utility>

namespace macvmorx::actions {

void WorkflowJobs::bind(JobRecord& job, Runner& runner) {
    runner.job_id = job.job_id;
    pool_state_[runner.pool].failures = 0; // the pool's runners work
    job.vm_id = runner.vm_id;
    job.node_id = runner.node_id;
    job.vm_assigned_at = runner.assigned_at;
    job.image_ready_at = runner.image_ready_at;
    job.vm_running_at = runner.running_at;
}

// Each pool wants as many idle runners as it has queued jobs, plus its warm size.
namespace {

// The tenant a job's runner VM counts against (docs/scheduling.md).
std::string tenant_of(const config::RunnerPool& pool, const JobRecord* job) {
    if (job == nullptr || pool.tenant_of == config::TenantOf::pool) return pool.name;
    if (pool.tenant_of == config::TenantOf::organisation) return job->repository.substr(0, job->repository.find('/'));
    return job->repository;
}

} // namespace

void WorkflowJobs::balance(Actions& actions) {
    const auto now = clock_.now();
    for (const auto& pool : options_.pools) {
        std::vector<const JobRecord*> queued; // oldest first: each new runner counts against its job's tenant
        for (const auto& [id, job] : jobs_) {
            if (job.pool == pool.name && job.state == JobState::queued) queued.push_back(&job);
        }
        std::sort(queued.begin(), queued.end(), [](const JobRecord* a, const JobRecord* b) {
            return a->queued_at != b->queued_at ? a->queued_at < b->queued_at : a->job_id < b->job_id;
        });
        const std::size_t wanted = static_cast<std::size_t>(std::max(pool.warm, 0)) + queued.size();
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
                    tasks_->push({RegistrarTask::Kind::retire_if_idle, now, idle[i]->vm_id, pool.name, idle[i]->runner_id, 0});
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
            runner->tenant = tenant_of(pool, i < queued.size() ? queued[i] : nullptr);
            runner->created_at = now;
            runner_by_name_[runner->name] = runner->vm_id;
            tasks_->push({RegistrarTask::Kind::register_runner, now, runner->vm_id, pool.name, 0, 0});
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
        tasks_->push({RegistrarTask::Kind::remove_runner, clock_.now(), {}, runner.pool, runner.runner_id, 0});
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
            tasks_->push({RegistrarTask::Kind::retire_if_idle, now, vm_id, runner->pool, runner->runner_id, 0});
            actions.wake = true;
        }
        balance(actions);
    }
    carry_out(actions);
    follow_images();
}

void WorkflowJobs::follow_images() {
    struct Rollout {
        std::string pool;
        std::string image;
        int hosts;
    };
    std::vector<Rollout> rollouts;
    std::map<std::string, orchestrator::ImageLoad, std::less<>> load;
    {
        std::lock_guard lock{mutex_};
        for (const auto& pool : options_.pools) {
            auto& entry = load[pool.image];
            entry.pool_warm += std::max(pool.warm, 0);
            for (const auto& [id, job] : jobs_) {
                if (job.pool == pool.name && job.state == JobState::queued) ++entry.pool_queued_jobs;
            }
            const auto& rollout_image = pool_state_[pool.name].rollout_image;
            if (rollout_image.empty()) continue;
            // The new image is pulled ahead of demand to the hosts the switch waits for.
            auto& next = load[rollout_image];
            next.rollout_hosts = std::max(next.rollout_hosts, pool.switch_when_hosts);
            rollouts.push_back({pool.name, rollout_image, pool.switch_when_hosts});
        }
    }
    std::vector<std::string> switched;
    if (!rollouts.empty()) {
        const auto images = orchestrator_.images();
        for (const auto& rollout : rollouts) {
            const auto status = std::find_if(images.begin(), images.end(),
                                             [&rollout](const auto& image) { return image.image_name == rollout.image; });
            if (status != images.end() && status->holders >= rollout.hosts) switched.push_back(rollout.pool);
        }
    }
    if (!switched.empty()) {
        std::lock_guard lock{mutex_};
        for (auto& pool : options_.pools) {
            if (std::find(switched.begin(), switched.end(), pool.name) == switched.end()) continue;
            auto& state = pool_state_[pool.name];
            if (state.rollout_image.empty()) continue;
            spdlog::info("pool {} switches from image {} to {}: {} hosts hold it", pool.name, pool.image,
                         state.rollout_image, pool.switch_when_hosts);
            pool.image = std::exchange(state.rollout_image, {});
            // Its old image's demand falls with its runners; the new one's rises with the next.
        }
    }
    orchestrator_.set_pool_load(std::move(load));
}

std::optional<lifecycle::VmSpec> WorkflowJobs::runner_spec(const JobRecord& job) const {
    std::lock_guard lock{mutex_};
    const auto* pool = pool_config(job.pool);
    if (pool == nullptr) return std::nullopt;
    lifecycle::VmSpec spec;
    spec.image_name = pool->image;
    spec.labels = pool->node_labels;
    spec.cpu = pool->cpu;
    spec.memory_gb = pool->memory_gb;
    spec.priority = pool->priority;
    spec.tenant = tenant_of(*pool, &job);
    return spec;
}

std::vector<std::string> WorkflowJobs::update_pools(const std::vector<config::RunnerPool>& pools) {
    std::vector<std::string> need_restart;
    std::lock_guard lock{mutex_};
    for (const auto& updated : pools) {
        const auto current = std::find_if(options_.pools.begin(), options_.pools.end(),
                                          [&updated](const config::RunnerPool& pool) { return pool.name == updated.name; });
        if (current == options_.pools.end()) {
            need_restart.push_back(updated.name);
            continue;
        }
        auto& state = pool_state_[current->name];
        const std::string in_use = current->image;
        const std::string waiting = state.rollout_image;
        *current = updated;
        current->image = in_use;
        if (updated.image == in_use) {
            if (!waiting.empty()) spdlog::info("pool {}: the rollout of image {} is called off", updated.name, waiting);
            state.rollout_image.clear();
        } else if (updated.switch_when_hosts <= 0) {
            spdlog::info("pool {} switches from image {} to {} at once", updated.name, in_use, updated.image);
            current->image = updated.image;
            state.rollout_image.clear();
        } else if (updated.image != waiting) {
            spdlog::info("pool {}: image {} rolls out; the pool keeps {} until {} hosts hold it", updated.name,
                         updated.image, in_use, updated.switch_when_hosts);
            state.rollout_image = updated.image;
        }
    }
    for (const auto& pool : options_.pools) {
        if (std::none_of(pools.begin(), pools.end(), [&pool](const config::RunnerPool& p) { return p.name == pool.name; })) {
            need_restart.push_back(pool.name);
        }
    }
    rebalance_ = true;
    return need_restart;
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

} // namespace macvmorx::actions
