// What host agents tell the lifecycle besides heartbeats: VM events, acknowledged commands, and
// long polls for commands.

#include "macvmorx/lifecycle/vm_lifecycle.hpp"

#include "command_mailbox.hpp"
#include "mutation.hpp"
#include "macvmorx/scheduling/scheduler.hpp"

#include <utility>

namespace macvmorx::lifecycle {

using protocol::Command;
using protocol::CommandType;
using protocol::VmEvent;

EventOutcome VmLifecycle::record_event(std::string_view vm_id, const VmEvent& event,
                                       const std::function<bool(std::string_view node_id)>& may_report) {
    return mutate([&](Effects& effects) {
        VmRecord* vm = find_record(vm_id);
        if (vm == nullptr) return EventOutcome::unknown_vm;
        if (may_report && !may_report(vm->node_id)) return EventOutcome::not_the_callers;
        if (!vm->node_id.empty()) node_state(vm->node_id).speaks_protocol = true;
        const VmState current = vm->state;
        EventOutcome outcome = EventOutcome::applied;
        switch (event.state) {
        case VmState::provisioning:
            if (current == VmState::assigned) {
                mailbox_->drop(vm->node_id, vm->vm_id, CommandType::create_vm);
                transition(*vm, VmState::provisioning, event.message, effects);
            } else if (current != VmState::provisioning) {
                outcome = EventOutcome::not_allowed;
            }
            break;
        case VmState::running:
            if (is_starting(current) || current == VmState::lost) {
                // The slot stays reserved until the heartbeat lists the VM and counts it.
                mailbox_->drop(vm->node_id, vm->vm_id, CommandType::create_vm);
                transition(*vm, VmState::running, event.message, effects);
            } else if (current != VmState::running) {
                outcome = EventOutcome::not_allowed;
            }
            break;
        case VmState::failed:
            if (is_starting(current) || current == VmState::running || current == VmState::lost) {
                fail(*vm, event.message.empty() ? "the agent reported a failure" : event.message, effects,
                     "agent_reported");
                drain_queue(effects);
            } else if (current != VmState::failed) {
                outcome = EventOutcome::not_allowed;
            }
            break;
        case VmState::deleted:
            if (current == VmState::deleting) {
                finish(*vm, VmState::deleted, event.message.empty() ? "deleted by the agent" : event.message, effects);
                drain_queue(effects);
            } else if (current != VmState::deleted) {
                outcome = EventOutcome::not_allowed;
            }
            break;
        default:
            outcome = EventOutcome::not_allowed;
        }
        if (outcome == EventOutcome::applied) {
            if (!event.message.empty()) vm->message = event.message;
            if (event.progress) vm->progress = event.progress;
            vm->updated_at = clock_.now();
            effects.touch(vm->vm_id);
        }
        return outcome;
    });
}

bool VmLifecycle::acknowledge(std::string_view node_id_view, std::string_view command_id) {
    return mutate([&](Effects& effects) {
        const std::string node_id{node_id_view};
        const auto node_it = nodes_.find(node_id);
        if (node_it == nodes_.end()) return false;
        NodeState& node = node_it->second;
        const auto taken = mailbox_->take(node_id, command_id);
        if (!taken) return false;
        const Command& command = *taken;
        node.speaks_protocol = true;

        VmRecord* vm = find_record(command.vm_id);
        if (vm != nullptr && vm->node_id == node_id) {
            if (command.type == CommandType::create_vm && vm->state == VmState::assigned) {
                transition(*vm, VmState::provisioning, "the agent took the createVm command", effects);
            } else if (command.type == CommandType::delete_vm && vm->state == VmState::deleting) {
                vm->delete_acked = true;
                effects.touch(vm->vm_id);
                if (!node.reports(vm->host_vm_id)) {
                    // Its slot stays booked until the next heartbeat (NodeState::held_slots):
                    // freed now, it would go to a VM the agent refuses while the clone is there.
                    const bool held = std::exchange(vm->reserved, false);
                    finish(*vm, VmState::deleted, "deleted by the agent", effects);
                    if (held) nodes_[node_id].held_slots.push_back(vm->vm_id);
                    drain_queue(effects);
                }
            }
        }
        return true;
    });
}

void VmLifecycle::wait_for_commands(std::string_view node_id, TimePoint deadline, CommandsReply reply,
                                    std::function<bool()> abandoned) {
    mutate([&](Effects& effects) {
        const std::string id{node_id};
        node_state(id).speaks_protocol = true;
        // Answered once the lock is released: this poll at once, or the ones it pushes out.
        mailbox_->wait(id, deadline, std::move(reply), std::move(abandoned), effects.replies);
    });
}

} // namespace macvmorx::lifecycle
