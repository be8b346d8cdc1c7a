// The lifecycle's own state and its clients' operations: construction, lookups, the end of every
// change (notify, called by mutate), restoring an earlier run, requests and deletions, the
// periodic sweep. The state machine is in vm_transitions.cpp, nodes' records in
// node_reconciliation.cpp, what agents report in agent_reports.cpp; the commands for agents are
// a CommandMailbox, the records' deadlines a DeadlineIndex.

#include "macvmorx/lifecycle/vm_lifecycle.hpp"

#include "command_mailbox.hpp"
#include "deadline_index.hpp"
#include "mutation.hpp"
#include "placement_order.hpp"
#include "macvmorx/base/duration.hpp"
#include "macvmorx/base/id_source.hpp"
#include "macvmorx/scheduling/scheduler.hpp"

#include <algorithm>
#include <map>

namespace macvmorx::lifecycle {

VmLifecycle::VmLifecycle(LifecycleOptions options, scheduling::Scheduler& scheduler, const Clock& clock,
                         IdSource& ids)
    : options_{options},
      scheduler_{scheduler},
      clock_{clock},
      ids_{ids},
      mailbox_{std::make_unique<CommandMailbox>(clock, options.max_waiters_per_node)},
      deadlines_{std::make_unique<DeadlineIndex>(options)} {}

VmLifecycle::~VmLifecycle() = default;

void VmLifecycle::add_observer(LifecycleObserver* observer) { observers_.push_back(observer); }

// Ends every change (mutate), still under the lock: the deadlines of the records it changed are
// set again, and the observers told, in order.
void VmLifecycle::notify(Effects& effects) {
    std::sort(effects.touched.begin(), effects.touched.end());
    effects.touched.erase(std::unique(effects.touched.begin(), effects.touched.end()), effects.touched.end());
    for (const auto& vm_id : effects.touched) {
        VmRecord* vm = find_record(vm_id);
        if (vm != nullptr) deadlines_->update(*vm);
        for (auto* observer : observers_) {
            if (vm != nullptr) {
                observer->vm_changed(*vm);
            } else {
                observer->vm_removed(vm_id);
            }
        }
    }
    for (const auto& [vm_id, change] : effects.queue_changes) {
        for (auto* observer : observers_) {
            if (change == Effects::QueueChange::left) {
                observer->queue_left(vm_id);
            } else {
                observer->queue_joined(vm_id, change == Effects::QueueChange::joined_front);
            }
        }
    }
}

VmLifecycle::NodeState& VmLifecycle::node_state(const std::string& node_id) { return nodes_[node_id]; }

VmRecord* VmLifecycle::find_record(std::string_view vm_id) {
    const auto it = vms_.find(std::string(vm_id));
    return it == vms_.end() ? nullptr : &it->second;
}

VmRecord* VmLifecycle::find_on_node(NodeState& node, const std::string& node_id, std::string_view host_vm_id) {
    for (const auto& vm_id : node.vm_ids) {
        VmRecord* vm = find_record(vm_id);
        if (vm != nullptr && vm->node_id == node_id && vm->host_vm_id == host_vm_id) return vm;
    }
    return nullptr;
}

void VmLifecycle::restore(std::vector<VmRecord> records, const std::vector<std::string>& queue) {
    // Before serving, so no agent waits; no transition, so the observers hear nothing of the
    // records they gave back.
    mutate([&](Effects& effects) {
        for (auto& record : records) {
            const std::string id = record.vm_id;
            VmRecord& vm = vms_.insert_or_assign(id, std::move(record)).first->second;
            if (is_final(vm.state) || vm.node_id.empty()) continue;
            NodeState& node = node_state(vm.node_id);
            node.vm_ids.insert(id);
            if (vm.managed && vm.host_vm_id == vm.vm_id && vm.seen_on_host) node.speaks_protocol = true;
            vm.counted_for_tenant = false;
            count_for_tenant(vm, true);
            if (vm.reserved) {
                scheduler_.restore_reservation(vm.node_id, {vm.spec.image_name, vm.vm_id, {}, vm.spec.memory_gb, {}});
            }
            // What was asked of the agent is asked again: commands are idempotent.
            if (is_starting(vm.state) && !vm.seen_on_host) {
                mailbox_->post(vm.node_id, create_command(vm), effects.replies);
            } else if (vm.state == VmState::deleting) {
                send_cleanup(vm.node_id, vm.host_vm_id, effects);
            }
        }
        for (const auto& vm_id : queue) {
            const VmRecord* vm = find_record(vm_id);
            if (vm != nullptr && vm->state == VmState::pending) queue_.push_back(vm_id);
        }
        for (auto& [id, vm] : vms_) {
            vm.deadline.reset();
            deadlines_->update(vm);
        }
    });
}

// ---------------------------------------------------------------------------------------------
// Clients

RequestResult VmLifecycle::request_vm(const std::string& vm_id, VmSpec spec, bool wait) {
    return mutate([&](Effects& effects) -> RequestResult {
        if (!vm_id.empty()) {
            if (const VmRecord* existing = find_record(vm_id)) {
                const bool same = existing->spec.image_name == spec.image_name;
                return {same ? RequestOutcome::existing : RequestOutcome::conflict, *existing};
            }
        }
        std::string id = vm_id;
        while (id.empty() || vms_.contains(id)) id = ids_.next("vm");

        VmRecord fresh;
        fresh.vm_id = id;
        fresh.host_vm_id = id;
        fresh.spec = std::move(spec);
        fresh.created_at = fresh.updated_at = clock_.now();
        fresh.transitions.push_back({VmState::pending, fresh.created_at, {}, "requested"});
        VmRecord& vm = vms_.emplace(id, std::move(fresh)).first->second;

        double decision_seconds = 0;
        if (place(vm, effects, &decision_seconds)) return {RequestOutcome::placed, vm};
        if (wait && queue_.size() >= options_.max_queue_length) {
            effects.log(spdlog::level::warn, "VM request for image {} refused: the queue holds {} requests, its limit",
                        vm.spec.image_name, queue_.size());
            vms_.erase(id);
            return {RequestOutcome::queue_full, std::nullopt};
        }
        if (wait) {
            queue_.push_back(id);
            effects.queue_changes.emplace_back(id, Effects::QueueChange::joined_back);
            effects.touch(id);
            for (auto* observer : observers_) observer->queued();
            effects.log(spdlog::level::info, "VM {} of image {} queued: no node fits yet ({} waiting)", id,
                        vm.spec.image_name, queue_.size());
            return {RequestOutcome::queued, vm};
        }
        for (auto* observer : observers_) observer->refused(decision_seconds);
        vms_.erase(id);
        return {RequestOutcome::no_capacity, std::nullopt};
    });
}

std::optional<VmRecord> VmLifecycle::delete_vm(std::string_view vm_id) {
    return mutate([&](Effects& effects) -> std::optional<VmRecord> {
        VmRecord* vm = find_record(vm_id);
        if (vm == nullptr) return std::nullopt;
        start_deletion(*vm, effects);
        drain_queue(effects);
        return *vm;
    });
}

std::optional<VmRecord> VmLifecycle::find(std::string_view vm_id) const {
    std::shared_lock lock{mutex_};
    const auto it = vms_.find(std::string(vm_id));
    if (it == vms_.end()) return std::nullopt;
    return it->second;
}

std::vector<VmRecord> VmLifecycle::list(const VmFilter& filter) const {
    std::vector<VmRecord> matching;
    {
        std::shared_lock lock{mutex_};
        for (const auto& [id, vm] : vms_) {
            if (filter.state && vm.state != *filter.state) continue;
            if (!filter.node_id.empty() && vm.node_id != filter.node_id) continue;
            if (!filter.image_name.empty() && vm.spec.image_name != filter.image_name) continue;
            matching.push_back(vm);
        }
    }
    std::sort(matching.begin(), matching.end(), [](const VmRecord& a, const VmRecord& b) {
        return a.created_at != b.created_at ? a.created_at < b.created_at : a.vm_id < b.vm_id;
    });
    return matching;
}

std::vector<VmRecord> VmLifecycle::queue() const {
    std::vector<VmRecord> waiting;
    std::shared_lock lock{mutex_};
    for (const auto& [vm, order] : ordered_queue()) waiting.push_back(*vm);
    return waiting;
}

std::vector<QueuedVm> VmLifecycle::queue_view() const {
    std::vector<QueuedVm> waiting;
    std::lock_guard lock{mutex_};
    const auto ordered = ordered_queue();
    waiting.reserve(ordered.size());
    // Requests with the same constraints have the same nodes' counts: one look at the fleet each.
    std::map<std::string, scheduling::NodeCounts> counts_by_constraints;
    for (const auto& [vm, order] : ordered) {
        QueuedVm queued;
        queued.vm = *vm;
        queued.position = waiting.size() + 1;
        queued.effective_priority = order.effective_priority;
        queued.tenant_in_use = tenant_in_use(vm->spec.tenant);
        queued.tenant_policy = options_.queue.policy(vm->spec.tenant);
        std::string key = protocol::to_string(vm->spec.labels) + '|' +
                          (vm->spec.memory_gb ? std::to_string(*vm->spec.memory_gb) : std::string{});
        auto [it, inserted] = counts_by_constraints.try_emplace(std::move(key));
        if (inserted) {
            it->second = scheduler_.explain({vm->spec.image_name, vm->vm_id, vm->spec.labels, vm->spec.memory_gb, {}});
        }
        queued.reason.nodes = it->second;
        queued.reason.ahead_in_queue = waiting.size();
        queued.reason.tenant_at_cap = order.tenant_at_cap;
        queued.reason.code = pending_code(queued.reason.nodes, order.tenant_at_cap);
        waiting.push_back(std::move(queued));
    }
    return waiting;
}

std::optional<PendingReason> VmLifecycle::pending_reason(std::string_view vm_id) const {
    std::lock_guard lock{mutex_};
    const auto it = vms_.find(std::string(vm_id));
    if (it == vms_.end() || it->second.state != VmState::pending) return std::nullopt;
    const VmRecord& vm = it->second;
    std::size_t ahead = 0;
    bool at_cap = tenant_at_cap(vm.spec.tenant);
    for (const auto& [queued, order] : ordered_queue()) {
        if (queued == &vm) {
            at_cap = order.tenant_at_cap;
            break;
        }
        ++ahead;
    }
    return explain_locked(vm.spec, vm.previous_nodes, ahead, at_cap);
}

PendingReason VmLifecycle::explain(const VmSpec& spec) const {
    std::lock_guard lock{mutex_};
    return explain_locked(spec, {}, 0, tenant_at_cap(spec.tenant));
}

PendingReason VmLifecycle::explain_locked(const VmSpec& spec, const std::vector<std::string>& avoid, std::size_t ahead,
                                          bool at_cap) const {
    PendingReason reason;
    reason.nodes = scheduler_.explain({spec.image_name, {}, spec.labels, spec.memory_gb, avoid});
    reason.ahead_in_queue = ahead;
    reason.tenant_at_cap = at_cap;
    reason.code = pending_code(reason.nodes, at_cap);
    return reason;
}

int VmLifecycle::tenant_in_use(std::string_view tenant) const {
    const auto it = tenant_in_use_.find(std::string(tenant));
    return it == tenant_in_use_.end() ? 0 : it->second;
}

LifecycleCounts VmLifecycle::counts() const {
    LifecycleCounts counts;
    std::shared_lock lock{mutex_};
    for (const auto& [id, vm] : vms_) ++counts.by_state[static_cast<std::size_t>(vm.state)];
    counts.queued = queue_.size();
    return counts;
}

std::map<std::string, ImageUse, std::less<>> VmLifecycle::image_use() const {
    std::map<std::string, ImageUse, std::less<>> use;
    std::shared_lock lock{mutex_};
    for (const auto& [id, vm] : vms_) {
        if (!vm.managed) continue;
        if (vm.state == VmState::pending) {
            ++use[vm.spec.image_name].queued;
        } else if (!is_final(vm.state) && !vm.node_id.empty()) {
            ++use[vm.spec.image_name].vms_in_use;
        }
    }
    return use;
}

void VmLifecycle::send_pull(const std::string& node_id, const std::string& image, std::vector<std::string> keep_images) {
    mutate([&](Effects& effects) {
        // One pull of an image per node in the mailbox: a pull asked again replaces the old one.
        mailbox_->drop(node_id, image, protocol::CommandType::pull_image);
        protocol::Command command;
        command.id = ids_.next("cmd");
        command.type = protocol::CommandType::pull_image;
        command.image_name = image;
        command.keep_images = std::move(keep_images);
        command.created_at = clock_.now();
        send_command(node_id, std::move(command), effects);
    });
}

void VmLifecycle::withdraw_pull(const std::string& node_id, const std::string& image) {
    mutate([&](Effects&) { mailbox_->drop(node_id, image, protocol::CommandType::pull_image); });
}

// ---------------------------------------------------------------------------------------------
// Periodic work

void VmLifecycle::sweep() {
    mutate([&](Effects& effects) {
        const TimePoint now = clock_.now();
        bool released = false;
        // Only the records whose deadline has come: a sweep costs what is due, not the fleet.
        while (const auto due = deadlines_->take_due(now)) {
            const std::string& vm_id = *due;
            const auto it = vms_.find(vm_id);
            if (it == vms_.end()) continue;
            VmRecord& vm = it->second;
            vm.deadline.reset();
            effects.touch(vm_id); // its next deadline, if any, is set when the sweep ends
            switch (vm.state) {
            case VmState::pending:
                for (auto* observer : observers_) observer->failed("queue_timeout", false);
                finish(vm, VmState::failed, "no node could take it within " + format_duration(options_.queue_timeout),
                       effects);
                break;
            case VmState::assigned:
                if (now - vm.assigned_at >= options_.placement_ttl) {
                    fail(vm, "the node did not take the createVm command within " + format_duration(options_.placement_ttl),
                         effects, "placement_ttl");
                    released = true;
                    break;
                }
                [[fallthrough]];
            case VmState::provisioning:
            case VmState::running:
                // A VM an agent called running but no heartbeat listed yet is still starting.
                if (!vm.seen_on_host && now - vm.assigned_at >= options_.start_deadline) {
                    fail(vm, "not running within " + format_duration(options_.start_deadline) + " of its placement",
                         effects, "start_deadline");
                    released = true;
                }
                break;
            case VmState::deleting:
                if (node_state(vm.node_id).online) {
                    finish(vm, VmState::deleted, "the node never created it nor confirmed its deletion", effects);
                    released = true;
                }
                break;
            case VmState::deleted:
            case VmState::failed:
                if (!vm.managed) {
                    if (const auto node = nodes_.find(vm.node_id); node != nodes_.end() && node->second.unmanaged_records > 0) {
                        --node->second.unmanaged_records;
                    }
                }
                vms_.erase(it); // retention over: notify() reports it removed
                break;
            default:
                break;
            }
        }
        if (released || !queue_.empty()) drain_queue(effects);
    });
}

void VmLifecycle::expire_waiters() {
    mutate([&](Effects& effects) {
        mailbox_->expire(effects.replies);
    });
}

void VmLifecycle::release_waiters() {
    mutate([&](Effects& effects) {
        mailbox_->release(effects.replies);
    });
}

} // namespace macvmorx::lifecycle
