// The agent's image fetching: images are pulled once for every VM waiting for them, or ahead of
// demand when the daemon asks (pullImage); room is made first by evicting the least recently
// used, and the sizes seen are remembered.

#include "macvmorx/agent/agent.hpp"

#include "macvmorx/agent/host_probe.hpp"
#include "macvmorx/agent/oci_name.hpp"
#include "macvmorx/agent/vm_backend.hpp"
#include "macvmorx/protocol/image_source.hpp"
#include "macvmorx/protocol/vm_state.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace macvmorx::agent {

using protocol::VmState;

void Agent::know_image(const std::string& name, double size_gb) {
    if (size_gb <= 0) return;
    known_images_[image_key(name)] = {name, size_gb};
    // A bound, for hosts that see many images over the months: the smallest go first.
    while (known_images_.size() > 64) {
        known_images_.erase(std::min_element(known_images_.begin(), known_images_.end(), [](const auto& a, const auto& b) {
            return a.second.size_gb < b.second.size_gb;
        }));
    }
}

double Agent::known_size_gb(const std::string& image) const {
    const auto it = known_images_.find(image_key(image));
    return it == known_images_.end() ? 0 : it->second.size_gb;
}

void Agent::hold_image(AgentVm& vm) {
    if (vm.holds_image) return;
    cache_.acquire(vm.image, clock_.now());
    // Named from now on as this VM's pool names it.
    if (const auto known = known_images_.find(image_key(vm.image)); known != known_images_.end()) known->second.name = vm.image;
    vm.holds_image = true;
}

void Agent::let_go_of_image(AgentVm& vm) {
    if (!vm.holds_image) return;
    cache_.release(vm.image, clock_.now());
    vm.holds_image = false;
}

// Room is made with the image's real size before the pull starts: as the host saw it before,
// else as its registry tells, else as large as the largest image known here (a fleet's images
// are alike; tart's own pruning is off).
void Agent::fetch(const std::string& image, std::vector<std::string> keep) {
    // A malformed bucket object's name (the daemon refuses them; an agent checks anyway) is said
    // plainly, rather than in tart's words for a reference it cannot read.
    if (const auto problem = protocol::image_source_problem(image); !problem.empty()) {
        const auto waiting = std::move(waiting_for_image_[image]);
        waiting_for_image_.erase(image);
        if (waiting.empty()) spdlog::warn("agent {}: not pulling image {}: {}", options_.node_id, image, problem);
        for (const auto& vm_id : waiting) fail(vm_id, "image " + image + ": " + problem);
        return;
    }
    if (const double known = known_size_gb(image); known > 0) return make_room_and_pull(image, known, keep);
    backend_.expected_size_gb(image, guard([this, image, keep = std::move(keep)](double size) {
        if (size <= 0) {
            for (const auto& [key, known] : known_images_) size = std::max(size, known.size_gb);
            spdlog::info("agent {}: the size of image {} is unknown before its pull; making room for {:.0f} GB",
                         options_.node_id, image, size);
        }
        make_room_and_pull(image, size, keep);
    }));
}

void Agent::make_room_and_pull(const std::string& image, double size, const std::vector<std::string>& keep) {
    const HostFigures figures = probe_.sample();
    // The images the daemon asked to keep bind a pull ahead of demand; once a VM waits for the
    // image (a createVm joined), room is made for it as for any VM.
    const bool ahead_of_demand = waiting_for_image_[image].empty(); // there since fetch()
    const auto plan = cache_.eviction_plan(size, figures.disk_total_gb - figures.disk_used_gb,
                                           ahead_of_demand ? keep : std::vector<std::string>{});
    if (!plan) {
        const auto waiting = std::move(waiting_for_image_[image]);
        waiting_for_image_.erase(image);
        const std::string why = fmt::format(
            "no room for image {} ({:.0f} GB) even without every unused image{}: at most {} images, at least {:.0f} GB "
            "of disk kept free",
            image, size, ahead_of_demand && !keep.empty() ? " but those the daemon asked to keep" : "",
            cache_.max_images(), options_.min_free_disk_gb);
        if (waiting.empty()) spdlog::warn("agent {}: not pulling image {} ahead of demand: {}", options_.node_id, image, why);
        for (const auto& vm_id : waiting) fail(vm_id, why);
        return;
    }
    for (const auto& victim : *plan) {
        spdlog::info("agent {}: evicting image {} (least recently used) to make room for {}", options_.node_id, victim,
                     image);
        cache_.remove(victim);
        backend_.delete_image(victim, guard([this, victim](Outcome outcome) {
            if (!outcome.ok) {
                spdlog::warn("agent {}: deleting image {} failed: {}", options_.node_id, victim, outcome.message);
            }
        }));
    }
    spdlog::info("agent {}: pulling image {} ({:.1f} GB expected)", options_.node_id, image, size);
    backend_.pull_image(
        image,
        guard([this, image](double fraction, const std::string& message) {
            // Progress at most once a second per image: enough for a dashboard.
            const TimePoint now = clock_.now();
            auto& last = last_progress_report_[image];
            if (now - last < std::chrono::seconds{1}) return;
            last = now;
            // Found, not made: the list of images under way must not gain one that is done.
            const auto waiting = waiting_for_image_.find(image);
            if (waiting == waiting_for_image_.end()) return;
            for (const auto& vm_id : waiting->second) {
                report(vm_id, static_cast<int>(VmState::provisioning), message, fraction);
            }
        }),
        guard([this, image](Outcome outcome) {
            const auto waiting = std::move(waiting_for_image_[image]);
            waiting_for_image_.erase(image);
            last_progress_report_.erase(image);
            if (!outcome.ok) {
                if (waiting.empty()) {
                    spdlog::warn("agent {}: pulling image {} ahead of demand failed: {}", options_.node_id, image,
                                 outcome.message);
                }
                for (const auto& vm_id : waiting) fail(vm_id, "pulling image " + image + " failed: " + outcome.message);
                return;
            }
            cache_.add(image, backend_.image_size_gb(image), clock_.now());
            know_image(image, backend_.image_size_gb(image));
            for (const auto& vm_id : waiting) {
                const auto it = vms_.find(vm_id);
                if (it == vms_.end()) continue; // deleted while the image came in
                hold_image(it->second);
                launch(vm_id);
            }
        }));
}

} // namespace macvmorx::agent
