// The agent's start: what an earlier run left on the host (its clones, its images, its journal)
// is taken over, deleted or reported, and the journal kept up to date for the next start.

#include "macvmorx/agent/agent.hpp"

#include "macvmorx/agent/oci_name.hpp"
#include "macvmorx/agent/vm_backend.hpp"
#include "macvmorx/protocol/vm_state.hpp"
#include "agent_timers.hpp"

#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include <memory>

namespace macvmorx::agent {

using protocol::VmState;

// Until the host's clones and images are known, the agent reports the Mac degraded (an empty
// list would read as free slots) and asks again.
void Agent::list_the_host() {
    backend_.inventory(guard([this](Outcome outcome, Inventory inventory) {
        if (outcome.ok) {
            if (!inventory_problem_.empty()) spdlog::info("agent {}: the host's VMs and images are known again", options_.node_id);
            inventory_problem_.clear();
            return take_stock(inventory);
        }
        const bool first = inventory_problem_.empty();
        inventory_problem_ = "cannot list the host's VMs and images: " + outcome.message;
        if (first) {
            spdlog::error("agent {}: {}; reporting the node as degraded and trying again", options_.node_id,
                          inventory_problem_);
            send_heartbeat();
        }
        timers_->inventory.expires_after(std::max<Duration>(options_.heartbeat_interval, std::chrono::seconds{5}));
        timers_->inventory.async_wait(guard([this](boost::system::error_code ec) {
            if (!ec) list_the_host();
        }));
    }));
}

// What an earlier run left: images join the cache; clones named by our prefix are adopted when
// they run a VM the journal knows as running (or that the journal does not know), and deleted
// otherwise. A start cut short is reported failed before the first heartbeat, so that the VM is
// placed again and that report cannot reach a later attempt.
void Agent::take_stock(const Inventory& inventory) {
    const TimePoint now = clock_.now();
    const auto journal = journal_.load_all();
    // Images as the pools named them before the restart, and the sizes of images seen before.
    for (const auto& image : journal.images) known_images_[image_key(image.name)] = image;
    for (const auto& image : inventory.images) {
        const auto known = known_images_.find(image_key(image.name));
        cache_.add(known == known_images_.end() ? image.name : known->second.name, image.size_gb,
                   now - std::chrono::hours{1});
        know_image(known == known_images_.end() ? image.name : known->second.name, image.size_gb);
    }
    std::map<std::string, JournalEntry> remembered;
    for (const auto& entry : journal.vms) remembered.emplace(entry.vm_id, entry);

    std::vector<std::string> interrupted;
    for (const auto& vm : inventory.vms) {
        if (!vm.name.starts_with(options_.vm_name_prefix)) continue;
        const std::string vm_id = vm.name.substr(options_.vm_name_prefix.size());
        const auto it = remembered.find(vm_id);
        const JournalEntry* entry = it == remembered.end() ? nullptr : &it->second;
        if (vm.running && (entry == nullptr || entry->stage == JournalEntry::Stage::running)) {
            adopt(vm.name, vm_id, entry);
            continue;
        }
        spdlog::info("agent {}: removing VM {} left {} by an earlier run", options_.node_id, vm_id,
                     entry != nullptr && entry->stage == JournalEntry::Stage::deleting ? "being deleted" : "half made");
        backend_.delete_vm(vm.name, [](Outcome) {});
        // Booting, or cloned: its runner never started, and its one-time configuration is gone.
        if (entry == nullptr || entry->stage == JournalEntry::Stage::starting) interrupted.push_back(vm_id);
    }
    remember();
    if (interrupted.empty()) return send_heartbeat();
    auto unanswered = std::make_shared<std::size_t>(interrupted.size());
    for (const auto& vm_id : interrupted) {
        report(vm_id, static_cast<int>(VmState::failed), "the agent restarted while making this VM", {},
               [this, unanswered] {
                   if (--*unanswered == 0) send_heartbeat();
               });
    }
}

void Agent::adopt(const std::string& vm_name, const std::string& vm_id, const JournalEntry* remembered) {
    AgentVm adopted;
    adopted.vm_id = vm_id;
    adopted.phase = AgentVm::Phase::running;
    adopted.adopted = true;
    adopted.started_at = remembered != nullptr ? remembered->started_at : clock_.now();
    if (remembered != nullptr) {
        adopted.image = remembered->image;
        adopted.guest = remembered->guest;
    }
    if (!adopted.image.empty() && cache_.contains(adopted.image)) hold_image(adopted);
    const bool watch_runner = adopted.guest == GuestCommand::runner;
    vms_.emplace(vm_id, std::move(adopted));
    // A VM from before a restart: reported, and the orchestrator says whether it is still wanted.
    spdlog::info("agent {}: found VM {} running from before a restart{}", options_.node_id, vm_id,
                 remembered == nullptr ? " (not in the journal: its image and runner are unknown)"
                 : watch_runner        ? "; watching its runner"
                                       : "");
    backend_.adopt_vm(vm_name, watch_runner, guard([this, vm_id](Outcome outcome, StartedVm started) {
        const auto it = vms_.find(vm_id);
        if (it == vms_.end() || it->second.phase != AgentVm::Phase::running) return;
        if (!outcome.ok) {
            spdlog::warn("agent {}: VM {} found running cannot be taken over: {}; deleting it", options_.node_id, vm_id,
                         outcome.message);
            return remove(vm_id);
        }
        it->second.ip_address = started.ip_address;
        it->second.hostname = started.hostname;
    }));
}

void Agent::remember() {
    if (!journal_.enabled()) return;
    std::vector<JournalEntry> entries;
    for (const auto& [id, vm] : vms_) {
        JournalEntry entry;
        switch (vm.phase) {
        case AgentVm::Phase::waiting_for_image: continue; // no clone yet: nothing to find after a restart
        case AgentVm::Phase::starting: entry.stage = JournalEntry::Stage::starting; break;
        case AgentVm::Phase::running: entry.stage = JournalEntry::Stage::running; break;
        case AgentVm::Phase::deleting: entry.stage = JournalEntry::Stage::deleting; break;
        }
        entry.vm_id = id;
        entry.image = vm.image;
        entry.guest = vm.guest;
        entry.started_at = vm.started_at;
        entries.push_back(std::move(entry));
    }
    std::vector<JournalImage> images;
    for (const auto& [key, image] : known_images_) images.push_back(image);
    journal_.save(entries, images);
}

} // namespace macvmorx::agent
