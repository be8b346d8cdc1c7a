// What the node records the store publishes mean for the VM records: a heartbeat's VM list is
// the truth about what runs on its node (reconcile), a node going offline loses its running VMs
// and gives up the ones it has not started, a forgotten node ends them.

#include "macvmorx/lifecycle/vm_lifecycle.hpp"

#include "command_mailbox.hpp"
#include "contains.hpp"
#include "mutation.hpp"
#include "macvmorx/scheduling/scheduler.hpp"

#include <algorithm>
#include <functional>
#include <utility>

namespace macvmorx::lifecycle {

using protocol::Command;
using protocol::CommandType;

namespace {

// An agent instance is only ever compared: its hash stands for it (0: the heartbeat named none).
std::size_t instance_hash(std::string_view instance) {
    return instance.empty() ? 0 : std::hash<std::string_view>{}(instance);
}

// Whether two heartbeats list the same host VM names in the same order.
bool same_vm_names(const std::vector<protocol::VmReport>& before, const std::vector<protocol::VmReport>& now) {
    return std::equal(before.begin(), before.end(), now.begin(), now.end(),
                      [](const auto& a, const auto& b) { return a.vm_id == b.vm_id; });
}

} // namespace

bool VmLifecycle::NodeState::reports(std::string_view host_vm_id) const {
    if (!reconciled) return false;
    const auto& vms = reconciled->report.vms;
    return std::any_of(vms.begin(), vms.end(), [host_vm_id](const auto& vm) { return vm.vm_id == host_vm_id; });
}

std::mutex& VmLifecycle::stripe_of(std::string_view node_id) const {
    return stripes_[std::hash<std::string_view>{}(node_id) % stripes_.size()];
}

void VmLifecycle::reconcile(const std::string& node_id, NodeState& node, const fleet::NodeSnapshot& snapshot,
                            Effects& effects) {
    const fleet::NodeRecord& record = *snapshot;
    const auto& reported = record.report.vms;
    node.reconciled = snapshot;
    // This heartbeat counts the clones of deleted VMs still there: their held slots are free.
    for (const auto& vm_id : node.held_slots) scheduler_.release(node_id, vm_id);
    node.held_slots.clear();
    const std::size_t instance = instance_hash(record.report.agent_instance);
    const bool restarted = instance != 0 && node.agent_instance != 0 && instance != node.agent_instance;
    if (instance != 0) node.agent_instance = instance;

    for (const auto& report : reported) {
        VmRecord* vm = find_on_node(node, node_id, report.vm_id);
        if (vm == nullptr && !node.speaks_protocol) {
            // An agent that names VMs itself: a new VM of the image placed here is that placement.
            for (const auto& candidate_id : node.vm_ids) {
                VmRecord* candidate = find_record(candidate_id);
                if (candidate != nullptr && is_starting(candidate->state) && !candidate->seen_on_host &&
                    candidate->spec.image_name == report.image_name &&
                    !node.reports(candidate->vm_id)) {
                    candidate->host_vm_id = report.vm_id;
                    vm = candidate;
                    break;
                }
            }
        }
        if (vm != nullptr) {
            if (vm->host_vm_id == vm->vm_id && vm->managed) node.speaks_protocol = true;
            if (!vm->seen_on_host) effects.touch(vm->vm_id);
            vm->seen_on_host = true;
            if (vm->reserved) {
                // From now on the heartbeat's own count holds the slot.
                scheduler_.release(node_id, vm->vm_id);
                vm->reserved = false;
            }
            if (is_starting(vm->state)) {
                mailbox_->drop(node_id, vm->vm_id, CommandType::create_vm);
                transition(*vm, VmState::running, "reported by the node", effects);
            } else if (vm->state == VmState::lost) {
                transition(*vm, VmState::running, "the node reports it again", effects);
            }
            continue;
        }

        const VmRecord* other = find_record(report.vm_id);
        if (other != nullptr && other->managed &&
            (contains(other->previous_nodes, node_id) || (other->node_id == node_id && is_final(other->state)))) {
            // A copy left behind by an attempt that was given up: ask the agent to remove it.
            send_cleanup(node_id, report.vm_id, effects);
            continue;
        }

        // A VM nobody asked for lives in a namespace of its own: "<node>:<its name>", a name no
        // client can ask for (vmIds have no ':'), so that a placement never resolves to a VM a
        // host made up; and one record per node and name, so that a VM reported on and off
        // reuses its record instead of piling up new ones.
        const std::string id = node_id + ":" + report.vm_id;
        if (const auto retained = vms_.find(id); retained != vms_.end()) {
            VmRecord& again = retained->second;
            again.spec.image_name = report.image_name;
            again.node_id = node_id;
            transition(again, VmState::unmanaged, "reported by the node again", effects);
            node.vm_ids.insert(id);
            continue;
        }
        if (node.unmanaged_records >= options_.max_unmanaged_per_node) {
            if (!node.unmanaged_refused) {
                effects.log(spdlog::level::warn,
                            "node {} reports more VMs macvmorx did not ask for than the {} it keeps records of; the "
                            "others count against its slots, unrecorded",
                            node_id, options_.max_unmanaged_per_node);
            }
            node.unmanaged_refused = true;
            for (auto* observer : observers_) observer->unmanaged_not_recorded();
            continue;
        }
        ++node.unmanaged_records;
        VmRecord unmanaged;
        unmanaged.vm_id = id;
        unmanaged.host_vm_id = report.vm_id;
        unmanaged.managed = false;
        unmanaged.spec.image_name = report.image_name;
        unmanaged.node_id = node_id;
        unmanaged.state = VmState::unmanaged;
        unmanaged.seen_on_host = true;
        unmanaged.created_at = unmanaged.updated_at = clock_.now();
        unmanaged.transitions.push_back(
            {VmState::unmanaged, unmanaged.created_at, node_id, "reported by the node; macvmorx did not ask for it"});
        effects.log(spdlog::level::info, "node {} runs VM {} that macvmorx did not ask for (unmanaged)", node_id,
                    report.vm_id);
        vms_.emplace(id, std::move(unmanaged));
        node.vm_ids.insert(id);
        effects.touch(id);
    }

    const std::vector<std::string> known(node.vm_ids.begin(), node.vm_ids.end());
    for (const auto& vm_id : known) {
        VmRecord* vm = find_record(vm_id);
        if (vm == nullptr || node.reports(vm->host_vm_id)) continue;
        switch (vm->state) {
        case VmState::running:
            // Reported before and gone now: it ended on its own (a runner finished its job).
            if (vm->seen_on_host) finish(*vm, VmState::deleted, "the node no longer reports it", effects);
            break;
        case VmState::unmanaged:
            finish(*vm, VmState::deleted, "the node no longer reports it", effects);
            break;
        case VmState::lost:
            finish(*vm, VmState::deleted, "gone while the node was offline", effects);
            break;
        case VmState::deleting:
            if (vm->seen_on_host || vm->delete_acked) finish(*vm, VmState::deleted, "deleted by the node", effects);
            break;
        default:
            break; // still being made
        }
    }
    if (restarted) agent_restarted(node_id, node, effects);
}

void VmLifecycle::agent_restarted(const std::string& node_id, NodeState& node, Effects& effects) {
    // Every heartbeat, not once, would mean two agents reporting as one node.
    effects.log(spdlog::level::info, "the agent on node {} restarted (a new agentInstance)", node_id);
    const std::vector<std::string> known(node.vm_ids.begin(), node.vm_ids.end());
    for (const auto& vm_id : known) {
        VmRecord* vm = find_record(vm_id);
        if (vm == nullptr || !vm->managed) continue;
        const bool listed = node.reports(vm->host_vm_id);
        const bool taken = vm->state == VmState::provisioning || (vm->state == VmState::running && !vm->seen_on_host);
        if (taken && !listed) {
            // The old agent took the createVm and the new one knows nothing of it: waiting for the
            // start deadline would only hold the slot. (An assigned VM's command is still pending:
            // the new agent gets it.)
            fail(*vm, "the agent on node " + node_id + " restarted while making it", effects, "agent_restarted");
        } else if (vm->state == VmState::deleting && vm->delete_acked && listed) {
            // The old agent took the deleteVm and did not finish: ask the new one.
            vm->delete_acked = false;
            send_cleanup(node_id, vm->host_vm_id, effects);
        }
    }
}

void VmLifecycle::node_went_offline(const std::string& node_id, NodeState& node, Effects& effects) {
    const std::vector<std::string> known(node.vm_ids.begin(), node.vm_ids.end());
    for (const auto& vm_id : known) {
        VmRecord* vm = find_record(vm_id);
        if (vm == nullptr) continue;
        if (is_starting(vm->state) && !vm->seen_on_host) {
            place_elsewhere(*vm, node_id, effects);
        } else if (vm->state == VmState::running) {
            transition(*vm, VmState::lost, "its node went offline", effects);
            for (auto* observer : observers_) observer->lost();
        }
    }
}

bool VmLifecycle::quiet(const fleet::NodeRecord& record, const NodeState* node) const {
    if (!queue_.empty()) return false;
    const auto& reported = record.report.vms;
    const std::string& instance = record.report.agent_instance;
    // A node's first agent instance is remembered, so that its restart is noticed.
    if (node == nullptr) return reported.empty() && instance.empty();
    if (!node->online || !mailbox_->idle(record.node_id()) || !node->held_slots.empty()) return false;
    if (!instance.empty() && instance_hash(instance) != node->agent_instance) return false;
    if (!node->reconciled) return reported.empty();
    return same_vm_names(node->reconciled->report.vms, reported);
}

std::vector<Command> VmLifecycle::on_heartbeat(const fleet::NodeSnapshot& snapshot) {
    const fleet::NodeRecord& record = *snapshot;
    fleet::NodeSnapshot replaced; // the record the view leaves, freed once the locks are released
    {
        // Most heartbeats: nothing to reconcile, no commands. Heartbeats of different nodes then
        // share the lock, and only the scheduler's view (it has its own lock) is updated.
        std::shared_lock lock{mutex_};
        std::unique_lock stripe{stripe_of(record.node_id())};
        const auto it = nodes_.find(record.node_id());
        NodeState* node = it == nodes_.end() ? nullptr : &it->second;
        if (quiet(record, node)) {
            if (node != nullptr) {
                std::uint64_t seen = node->revision.load();
                while (seen < record.revision && !node->revision.compare_exchange_weak(seen, record.revision)) {
                }
                // The same VMs: the view follows the newer record, and the older one can go.
                if (node->reconciled && node->reconciled->revision < record.revision) {
                    replaced = std::exchange(node->reconciled, snapshot);
                }
            }
            stripe.unlock();
            scheduler_.observe(snapshot);
            return {};
        }
    }
    return mutate([&](Effects& effects) {
        const std::string& node_id = record.node_id();
        NodeState& node = node_state(node_id);
        if (record.revision > node.revision) {
            node.revision = record.revision;
            node.online = record.online;
            reconcile(node_id, node, snapshot, effects);
            scheduler_.observe(snapshot);
            if (!queue_.empty()) drain_queue(effects);
        }
        return mailbox_->deliver(node_id);
    });
}

void VmLifecycle::on_node_changed(const fleet::NodeSnapshot& snapshot) {
    const fleet::NodeRecord& record = *snapshot;
    mutate([&](Effects& effects) {
        const std::string& node_id = record.node_id();
        NodeState& node = node_state(node_id);
        if (record.revision <= node.revision) return;
        node.revision = record.revision;
        const bool went_offline = node.online && !record.online;
        node.online = record.online;
        // A record republished offline or drained lists the VMs reconciled already: view it, so
        // that the older record can go. (One that lists others waits for its heartbeat's turn.)
        if (node.reconciled && same_vm_names(node.reconciled->report.vms, record.report.vms)) {
            node.reconciled = snapshot;
        }
        scheduler_.observe(snapshot);
        if (went_offline) node_went_offline(node_id, node, effects);
        if (!queue_.empty()) drain_queue(effects);
    });
}

void VmLifecycle::on_node_forgotten(std::string_view node_id_view) {
    mutate([&](Effects& effects) {
        const std::string node_id{node_id_view};
        const auto it = nodes_.find(node_id);
        if (it == nodes_.end()) return;
        const std::vector<std::string> known(it->second.vm_ids.begin(), it->second.vm_ids.end());
        for (const auto& vm_id : known) {
            VmRecord* vm = find_record(vm_id);
            if (vm == nullptr) continue;
            if (is_starting(vm->state) && !vm->seen_on_host) {
                place_elsewhere(*vm, node_id, effects);
            } else {
                finish(*vm, VmState::deleted, "its node was forgotten", effects);
            }
        }
        mailbox_->forget(node_id, effects.replies);
        nodes_.erase(node_id);
        scheduler_.forget(node_id);
        drain_queue(effects);
    });
}

} // namespace macvmorx::lifecycle
