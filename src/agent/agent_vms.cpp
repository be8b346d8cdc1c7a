// The host's VMs as the agent runs them: booted, deleted, failed, ended on their own, and what
// their failures say of the host.

#include "macvmorx/agent/agent.hpp"

#include "macvmorx/agent/vm_backend.hpp"
#include "macvmorx/protocol/vm_state.hpp"

#include <spdlog/spdlog.h>

namespace macvmorx::agent {

using protocol::VmState;

int Agent::vms_on_host() const { return static_cast<int>(vms_.size()); }

void Agent::launch(const std::string& vm_id) {
    VmLaunch launch;
    {
        auto& starting = vms_.at(vm_id);
        starting.phase = AgentVm::Phase::starting;
        launch.vm_name = vm_name(vm_id);
        launch.vm_id = vm_id;
        launch.image = starting.image;
        launch.cpu = starting.command.cpu;
        launch.memory_gb = starting.command.memory_gb;
        launch.runner_config = starting.command.runner_config;
    }
    remember();
    report(vm_id, static_cast<int>(VmState::provisioning), "booting", 1.0);
    backend_.start_vm(launch, guard([this, vm_id](Outcome outcome, StartedVm started) {
        const auto it = vms_.find(vm_id);
        if (it == vms_.end()) return;
        AgentVm& vm = it->second;
        if (vm.phase == AgentVm::Phase::deleting) return remove(vm_id); // deleted while it booted
        if (!outcome.ok) {
            note_host_problem(outcome.problem);
            return fail(vm_id, outcome.message);
        }
        vm.phase = AgentVm::Phase::running;
        vm.started_at = clock_.now();
        vm.ip_address = started.ip_address;
        vm.hostname = started.hostname;
        vm.guest = started.guest;
        remember();
        spdlog::info("agent {}: VM {} running at {}", options_.node_id, vm_id, started.ip_address);
        report(vm_id, static_cast<int>(VmState::running), "running at " + started.ip_address);
    }));
}

// A failure that says something of the host, not of one VM: the node is reported degraded with
// the reason, and placements go elsewhere until an operator has acted and restarted the agent.
void Agent::note_host_problem(HostProblem problem) {
    std::string reason;
    switch (problem) {
    case HostProblem::none: return;
    case HostProblem::vm_limit:
        // The VM that failed is still counted: the others run.
        if (vms_on_host() - 1 >= options_.max_vms) return;
        reason = "macOS refuses another VM with " + std::to_string(vms_on_host() - 1) +
                 " running: a ghost VM holds a slot until the host is rebooted";
        break;
    case HostProblem::keychain_locked:
        reason = "macOS starts no VM without an unlocked login keychain: log in once on the Mac's screen, or "
                 "`security unlock-keychain login.keychain` as the agent's user (docs/agent.md)";
        break;
    case HostProblem::local_network_denied:
        reason = "macOS's Local Network privacy refuses the agent's SSH connections to its VMs: allow it in System "
                 "Settings > Privacy & Security > Local Network (docs/agent.md)";
        break;
    }
    if (degraded_reason_ == reason) return;
    degraded_reason_ = reason;
    spdlog::error("agent {}: {}; reporting the node as degraded", options_.node_id, degraded_reason_);
}

void Agent::remove(const std::string& vm_id) {
    auto& vm = vms_.at(vm_id);
    if (vm.delete_started) return;
    vm.phase = AgentVm::Phase::deleting;
    vm.delete_started = true;
    spdlog::info("agent {}: deleting VM {}", options_.node_id, vm_id);
    remember();
    backend_.delete_vm(vm_name(vm_id), guard([this, vm_id](Outcome outcome) {
        const auto it = vms_.find(vm_id);
        if (it == vms_.end()) return;
        if (!outcome.ok) {
            // Listed still, so the orchestrator keeps asking; try again with its next command.
            spdlog::warn("agent {}: deleting VM {} failed: {}", options_.node_id, vm_id, outcome.message);
            it->second.phase = AgentVm::Phase::running;
            it->second.delete_started = false;
            // The orchestrator's deleteVm comes again until the VM is gone: let it be taken again.
            forget_command_about(vm_id);
            return remember();
        }
        let_go_of_image(it->second);
        vms_.erase(it);
        remember();
    }));
}

void Agent::fail(const std::string& vm_id, const std::string& reason) {
    const auto it = vms_.find(vm_id);
    if (it == vms_.end()) return;
    spdlog::warn("agent {}: VM {} failed: {}", options_.node_id, vm_id, reason);
    let_go_of_image(it->second);
    vms_.erase(it);
    remember();
    report(vm_id, static_cast<int>(VmState::failed), reason);
}

void Agent::forget_command_about(const std::string& vm_id) {
    for (auto it = seen_commands_.begin(); it != seen_commands_.end();) {
        it = it->second == vm_id ? seen_commands_.erase(it) : std::next(it);
    }
}

void Agent::on_vm_exit(const std::string& name, const Outcome& how) {
    if (!name.starts_with(options_.vm_name_prefix)) return;
    const std::string vm_id = name.substr(options_.vm_name_prefix.size());
    const auto it = vms_.find(vm_id);
    if (it == vms_.end() || it->second.phase != AgentVm::Phase::running) return;
    if (how.ok) {
        // Its runner took one job and finished (or the guest shut down): the VM is spent.
        spdlog::info("agent {}: VM {} finished its job", options_.node_id, vm_id);
    } else {
        // Said before the VM goes from the heartbeat, so that its record says why it ended.
        spdlog::warn("agent {}: VM {} stopped on its own: {}", options_.node_id, vm_id, how.message);
        report(vm_id, static_cast<int>(VmState::failed), "the VM stopped on its own: " + how.message);
    }
    remove(vm_id);
}

} // namespace macvmorx::agent
