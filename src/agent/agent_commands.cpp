// The agent's command inbox: commands from the orchestrator are acknowledged each time they come,
// carried out once (createVm, deleteVm, pullImage), and refused with a reason the host cannot take.

#include "macvmorx/agent/agent.hpp"

#include "macvmorx/agent/vm_backend.hpp"
#include "macvmorx/protocol/vm_state.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace macvmorx::agent {
namespace {

using protocol::CommandType;
using protocol::VmState;

constexpr std::size_t remembered_commands = 512;

// Names from the network become arguments of host commands: refuse what could read as an option.
bool safe_name(const std::string& name) {
    return !name.empty() && name.front() != '-' &&
           std::none_of(name.begin(), name.end(), [](char c) { return static_cast<unsigned char>(c) < 0x21; });
}

} // namespace

void Agent::handle(const std::vector<protocol::Command>& commands) {
    for (const auto& command : commands) {
        if (seen_commands_.contains(command.id)) {
            // Sent again: our acknowledgement was lost. The work is under way or done.
            acknowledge(command.id);
            continue;
        }
        seen_commands_.emplace(command.id, command.vm_id);
        seen_order_.push_back(command.id);
        if (seen_order_.size() > remembered_commands) {
            seen_commands_.erase(seen_order_.front());
            seen_order_.erase(seen_order_.begin());
        }
        switch (command.type) {
        case CommandType::create_vm: take_create(command); break;
        case CommandType::delete_vm: take_delete(command); break;
        case CommandType::pull_image: take_pull(command); break;
        }
    }
}

void Agent::take_create(const protocol::Command& command) {
    acknowledge(command.id);
    if (vms_.contains(command.vm_id)) return; // made already, or being made
    if (!safe_name(command.vm_id) || !safe_name(command.image_name)) {
        return report(command.vm_id, static_cast<int>(VmState::failed), "refused: the VM id or image name is not usable");
    }
    if (const std::string& reason = !degraded_reason_.empty() ? degraded_reason_ : inventory_problem_; !reason.empty()) {
        return report(command.vm_id, static_cast<int>(VmState::failed), "this host is degraded: " + reason);
    }
    if (vms_on_host() >= options_.max_vms) {
        return report(command.vm_id, static_cast<int>(VmState::failed),
                      "this host runs " + std::to_string(vms_on_host()) + " VMs already, its limit");
    }
    AgentVm vm;
    vm.vm_id = command.vm_id;
    vm.image = command.image_name;
    vm.command = command;
    vms_.emplace(command.vm_id, std::move(vm));
    spdlog::info("agent {}: creating VM {} from {}", options_.node_id, command.vm_id, command.image_name);

    if (cache_.contains(command.image_name)) {
        hold_image(vms_.at(command.vm_id));
        return launch(command.vm_id);
    }
    report(command.vm_id, static_cast<int>(VmState::provisioning), "waiting for image " + command.image_name, 0.0);
    // Two VMs needing the same missing image share one download, and a VM joins a download the
    // daemon asked for ahead of demand.
    const bool under_way = waiting_for_image_.contains(command.image_name);
    waiting_for_image_[command.image_name].push_back(command.vm_id);
    if (!under_way) fetch(command.image_name);
}

void Agent::take_delete(const protocol::Command& command) {
    acknowledge(command.id);
    const auto it = vms_.find(command.vm_id);
    if (it == vms_.end()) {
        // Not ours (any more): make sure no clone of that name is left, e.g. from a failed attempt.
        if (safe_name(command.vm_id)) backend_.delete_vm(vm_name(command.vm_id), [](Outcome) {});
        return;
    }
    AgentVm& vm = it->second;
    switch (vm.phase) {
    case AgentVm::Phase::waiting_for_image:
        // The download goes on (its image stays listed as pulling, and the next VM joins it).
        if (const auto waiting = waiting_for_image_.find(vm.image); waiting != waiting_for_image_.end()) {
            std::erase(waiting->second, vm.vm_id);
        }
        vms_.erase(it);
        return;
    case AgentVm::Phase::starting:
        vm.phase = AgentVm::Phase::deleting; // finished when the start completes
        return remember();
    case AgentVm::Phase::running:
        return remove(command.vm_id);
    case AgentVm::Phase::deleting:
        return;
    }
}

// Acknowledged as taken up: the daemon learns whether the image came from the heartbeats
// (pullingImages, then cachedImages). A pull refused or failed is logged, and not reported.
void Agent::take_pull(const protocol::Command& command) {
    acknowledge(command.id);
    const std::string& image = command.image_name;
    if (cache_.contains(image) || waiting_for_image_.contains(image)) return;
    if (!safe_name(image)) {
        spdlog::warn("agent {}: refusing to pull image [{}]: the name is not usable", options_.node_id, image);
        return;
    }
    if (const std::string& reason = !degraded_reason_.empty() ? degraded_reason_ : inventory_problem_; !reason.empty()) {
        spdlog::warn("agent {}: not pulling image {} ahead of demand: this host is degraded: {}", options_.node_id, image,
                     reason);
        return;
    }
    spdlog::info("agent {}: pulling image {} ahead of demand, as the daemon asks", options_.node_id, image);
    waiting_for_image_.try_emplace(image); // under way, with no VM waiting yet
    fetch(image, command.keep_images);
}

} // namespace macvmorx::agent
