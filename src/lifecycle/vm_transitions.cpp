// The state machine of a VM record: its transitions, its placement (and the queue it waits in when
// nothing fits), its failure and retries, its end, and the commands each step asks of its node's
// agent. Called under the lifecycle's lock, from the operations in the other files.

#include "macvmorx/lifecycle/vm_lifecycle.hpp"

#include "command_mailbox.hpp"
#include "contains.hpp"
#include "mutation.hpp"
#include "placement_order.hpp"
#include "macvmorx/base/id_source.hpp"
#include "macvmorx/protocol/vm_event.hpp"
#include "macvmorx/scheduling/scheduler.hpp"

#include <algorithm>

namespace macvmorx::lifecycle {

using protocol::Command;
using protocol::CommandType;

namespace {

constexpr std::size_t max_transitions = 32;

} // namespace

void VmLifecycle::transition(VmRecord& vm, VmState state, std::string message, Effects& effects) {
    const TimePoint now = clock_.now();
    effects.log(spdlog::level::info, "VM {} {} -> {}{}{}{}{}", vm.vm_id, to_string(vm.state), to_string(state),
                vm.node_id.empty() ? "" : " on node ", vm.node_id, message.empty() ? "" : ": ", message);
    if (state == VmState::running && is_starting(vm.state)) {
        const double seconds = std::chrono::duration<double>(now - vm.assigned_at).count();
        const double waited = std::chrono::duration<double>(now - vm.created_at).count();
        for (auto* observer : observers_) observer->started(seconds, waited);
    }
    vm.state = state;
    vm.updated_at = now;
    if (vm.transitions.size() >= max_transitions) vm.transitions.erase(vm.transitions.begin() + 1);
    vm.transitions.push_back({state, now, vm.node_id, std::move(message)});
    effects.touch(vm.vm_id);
}

bool VmLifecycle::place(VmRecord& vm, Effects& effects, double* decision_seconds) {
    if (tenant_at_cap(vm.spec.tenant)) return false;
    scheduling::PlacementRequest request{vm.spec.image_name, vm.vm_id, vm.spec.labels, vm.spec.memory_gb,
                                         vm.previous_nodes};
    const auto decision_start = std::chrono::steady_clock::now();
    const auto placement = scheduler_.place(request);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - decision_start).count();
    if (decision_seconds != nullptr) *decision_seconds = seconds;
    if (!placement) return false;
    for (auto* observer : observers_) observer->placed(vm.spec.image_name, placement->image_cached, seconds);

    vm.node_id = placement->node_id;
    vm.image_cached = placement->image_cached;
    vm.assigned_at = clock_.now();
    vm.reserved = true;
    vm.seen_on_host = false;
    vm.delete_acked = false;
    vm.host_vm_id = vm.vm_id;
    ++vm.attempts;
    count_for_tenant(vm, true);
    transition(vm, VmState::assigned,
               placement->image_cached ? "the node holds the image" : "the node will download the image", effects);
    node_state(vm.node_id).vm_ids.insert(vm.vm_id);
    send_command(vm.node_id, create_command(vm), effects);
    return true;
}

// A request accepted earlier than everything queued goes to the front when it has to wait.
void VmLifecycle::place_or_queue_first(VmRecord& vm, Effects& effects) {
    if (place(vm, effects)) return;
    transition(vm, VmState::pending, "waiting for a node with a free slot", effects);
    queue_.push_front(vm.vm_id);
    effects.queue_changes.emplace_back(vm.vm_id, Effects::QueueChange::joined_front);
}

// Moves a VM its node never started (the node went offline, or was forgotten) to another node.
// Not the VM's fault: the placement it loses does not count against its attempts.
void VmLifecycle::place_elsewhere(VmRecord& vm, const std::string& node_id, Effects& effects) {
    detach(vm, effects);
    if (!contains(vm.previous_nodes, node_id)) vm.previous_nodes.push_back(node_id);
    vm.node_id.clear();
    --vm.attempts;
    place_or_queue_first(vm, effects);
}

// Tries the waiting requests in placement order (placement_order.hpp); those placed, and any
// that stopped waiting, leave the queue.
void VmLifecycle::drain_queue(Effects& effects) {
    // A full fleet places nothing: the order of a long queue is not worked out for nothing.
    if (queue_.empty() || !scheduler_.any_free_slot()) return;
    std::vector<std::string> leaving;
    for (const auto& [record, order] : ordered_queue()) {
        if (order.tenant_at_cap) break; // the rest are too: they wait for their tenants' VMs to end
        VmRecord& vm = *find_record(record->vm_id);
        if (place(vm, effects)) {
            leaving.push_back(vm.vm_id);
            continue;
        }
        // When a request without constraints finds no node, no later one will either (unless
        // its tenant reached its cap meanwhile).
        if (vm.spec.labels.empty() && !vm.spec.memory_gb && vm.previous_nodes.empty() &&
            !tenant_at_cap(vm.spec.tenant)) {
            break;
        }
    }
    for (const auto& vm_id : queue_) {
        const VmRecord* vm = find_record(vm_id);
        if (vm == nullptr || vm->state != VmState::pending) leaving.push_back(vm_id);
    }
    if (leaving.empty()) return;
    std::sort(leaving.begin(), leaving.end());
    leaving.erase(std::unique(leaving.begin(), leaving.end()), leaving.end());
    std::erase_if(queue_, [&](const std::string& vm_id) {
        if (!std::binary_search(leaving.begin(), leaving.end(), vm_id)) return false;
        effects.queue_changes.emplace_back(vm_id, Effects::QueueChange::left);
        return true;
    });
}

std::vector<std::pair<const VmRecord*, OrderedRequest>> VmLifecycle::ordered_queue() const {
    std::vector<const VmRecord*> waiting;
    std::vector<WaitingRequest> requests;
    waiting.reserve(queue_.size());
    requests.reserve(queue_.size());
    for (const auto& vm_id : queue_) {
        const auto it = vms_.find(vm_id);
        if (it == vms_.end() || it->second.state != VmState::pending) continue;
        waiting.push_back(&it->second);
        requests.push_back({it->second.spec.priority, it->second.spec.tenant, it->second.created_at});
    }
    const auto in_use = [this](std::string_view tenant) { return tenant_in_use(tenant); };
    std::vector<std::pair<const VmRecord*, OrderedRequest>> ordered;
    ordered.reserve(waiting.size());
    for (const auto& order : placement_order(requests, options_.queue, in_use, clock_.now())) {
        ordered.emplace_back(waiting[order.index], order);
    }
    return ordered;
}

bool VmLifecycle::tenant_at_cap(const std::string& tenant) const {
    const auto& cap = options_.queue.policy(tenant).max_vms;
    return cap && tenant_in_use(tenant) >= *cap;
}

void VmLifecycle::count_for_tenant(VmRecord& vm, bool in_use) {
    if (vm.counted_for_tenant == in_use || !vm.managed) return;
    vm.counted_for_tenant = in_use;
    auto& count = tenant_in_use_[vm.spec.tenant];
    count += in_use ? 1 : -1;
    if (count <= 0) tenant_in_use_.erase(vm.spec.tenant);
}

// Takes the VM off its node: frees its slot, withdraws a createVm the agent has not seen, and
// asks the agent to clean up when it may already be making the VM.
void VmLifecycle::detach(VmRecord& vm, Effects& effects) {
    if (vm.node_id.empty()) return;
    count_for_tenant(vm, false);
    NodeState& node = node_state(vm.node_id);
    if (vm.reserved) {
        scheduler_.release(vm.node_id, vm.vm_id);
        vm.reserved = false;
    }
    bool agent_may_have_it = vm.state == VmState::provisioning;
    if (const auto create = mailbox_->withdraw(vm.node_id, CommandType::create_vm, vm.vm_id)) {
        agent_may_have_it = agent_may_have_it || create->delivered_at.has_value();
    }
    if (agent_may_have_it && !vm.seen_on_host) send_cleanup(vm.node_id, vm.host_vm_id, effects);
    node.vm_ids.erase(vm.vm_id);
}

void VmLifecycle::fail(VmRecord& vm, std::string reason, Effects& effects, std::string_view cause) {
    const std::string node_id = vm.node_id;
    const bool had_started = vm.state == VmState::running || vm.state == VmState::lost;
    // Placing again only helps when macvmorx drives the creation, i.e. the node runs its agent;
    // a VM that ran once has done its job, and one whose image is bad would fail anywhere.
    const bool retry = !node_id.empty() && !had_started && vm.attempts < options_.max_attempts &&
                       node_state(node_id).speaks_protocol && !protocol::names_reason(reason, protocol::image_checksum_mismatch);
    vm.failure_reason = reason;
    for (auto* observer : observers_) observer->failed(cause, retry);
    if (had_started) send_cleanup(node_id, vm.host_vm_id, effects);
    if (!retry) return finish(vm, VmState::failed, std::move(reason), effects);

    detach(vm, effects);
    if (!contains(vm.previous_nodes, node_id)) vm.previous_nodes.push_back(node_id);
    transition(vm, VmState::failed, reason + "; placing it again", effects);
    vm.node_id.clear();
    place_or_queue_first(vm, effects);
}

void VmLifecycle::finish(VmRecord& vm, VmState state, std::string message, Effects& effects) {
    detach(vm, effects);
    if (state == VmState::deleted && !vm.node_id.empty()) {
        // Gone from its host: whatever was still asked of the agent about it is moot.
        mailbox_->drop(vm.node_id, vm.host_vm_id, CommandType::delete_vm);
    }
    if (vm.state == VmState::pending && std::erase(queue_, vm.vm_id) > 0) {
        effects.queue_changes.emplace_back(vm.vm_id, Effects::QueueChange::left);
    }
    transition(vm, state, std::move(message), effects);
}

void VmLifecycle::start_deletion(VmRecord& vm, Effects& effects) {
    switch (vm.state) {
    case VmState::pending:
        return finish(vm, VmState::deleted, "deleted before it was placed", effects);
    case VmState::assigned: {
        const bool unseen = mailbox_->holds_undelivered(vm.node_id, CommandType::create_vm, vm.vm_id);
        if (unseen) return finish(vm, VmState::deleted, "deleted before the node was told to create it", effects);
        break;
    }
    case VmState::provisioning:
    case VmState::running:
    case VmState::lost:
    case VmState::unmanaged:
        break;
    case VmState::deleting:
    case VmState::deleted:
    case VmState::failed:
        return; // already on its way, or done
    }
    mailbox_->drop(vm.node_id, vm.vm_id, CommandType::create_vm);
    vm.deleting_since = clock_.now();
    vm.delete_acked = false;
    transition(vm, VmState::deleting, "deletion requested", effects);
    send_cleanup(vm.node_id, vm.host_vm_id, effects);
}

// ---------------------------------------------------------------------------------------------
// Commands

Command VmLifecycle::create_command(const VmRecord& vm) {
    Command command;
    command.id = ids_.next("cmd");
    command.type = CommandType::create_vm;
    command.vm_id = vm.vm_id;
    command.image_name = vm.spec.image_name;
    command.image_cached = vm.image_cached;
    command.cpu = vm.spec.cpu;
    command.memory_gb = vm.spec.memory_gb;
    command.runner_config = vm.spec.runner_config;
    command.created_at = clock_.now();
    return command;
}

void VmLifecycle::send_command(const std::string& node_id, Command command, Effects& effects) {
    node_state(node_id); // a node with commands has a state: forgetting the node forgets both
    mailbox_->post(node_id, std::move(command), effects.replies);
}

void VmLifecycle::send_cleanup(const std::string& node_id, const std::string& vm_id, Effects& effects) {
    if (mailbox_->holds(node_id, CommandType::delete_vm, vm_id)) return;
    Command command;
    command.id = ids_.next("cmd");
    command.type = CommandType::delete_vm;
    command.vm_id = vm_id;
    command.created_at = clock_.now();
    send_command(node_id, std::move(command), effects);
}

} // namespace macvmorx::lifecycle
