#include "macvmorx/scheduling/scheduler.hpp"

#include <algorithm>

namespace macvmorx::scheduling {

bool Scheduler::RankOrder::operator()(const RankKey& a, const RankKey& b) const {
    if (a.used_slots != b.used_slots) return a.used_slots < b.used_slots;
    if (a.cpu_usage_percent != b.cpu_usage_percent) return a.cpu_usage_percent < b.cpu_usage_percent;
    return *a.node_id < *b.node_id;
}

Scheduler::Scheduler(SchedulerOptions options) : options_{options} {}

void Scheduler::unindex(NodeSlots& node) {
    if (!node.indexed_as) return;
    const RankKey key = *node.indexed_as;
    free_nodes_.erase(key);
    for (const auto& image : node.cached_images) {
        const auto it = free_nodes_by_image_.find(image);
        if (it == free_nodes_by_image_.end()) continue;
        it->second.erase(key);
        // Only images with a free node have an entry, so the map cannot grow with names that
        // nodes once reported.
        if (it->second.empty()) free_nodes_by_image_.erase(it);
    }
    node.indexed_as.reset();
}

void Scheduler::index(NodeSlots& node) {
    if (!node.accepts_new_vms || node.used_slots() >= options_.max_vms_per_node) return;
    const RankKey key{node.used_slots(), node.cpu_usage_percent, &node.node_id};
    free_nodes_.insert(key);
    for (const auto& image : node.cached_images) {
        auto it = free_nodes_by_image_.find(image);
        if (it == free_nodes_by_image_.end()) it = free_nodes_by_image_.emplace(image, RankedNodes{}).first;
        it->second.insert(key);
    }
    node.indexed_as = key;
}

void Scheduler::reindex(NodeSlots& node) {
    unindex(node);
    index(node);
}

void Scheduler::settle_reservations(NodeSlots& node, const fleet::Heartbeat& current,
                                    const fleet::Heartbeat* previous) {
    if (node.reservations.empty()) return;
    auto& reservations = node.reservations;
    const auto reported = [&current](std::string_view vm_id) {
        return std::any_of(current.vms.begin(), current.vms.end(),
                           [vm_id](const fleet::VmReport& vm) { return vm.vm_id == vm_id; });
    };
    std::erase_if(reservations, [&](const Reservation& r) { return reported(r.vm_id); });

    // An agent that names VMs itself cannot echo our VM id; a VM of the reserved image that was
    // not in the previous heartbeat is taken as the reserved one (oldest reservation first).
    for (const auto& vm : current.vms) {
        if (reservations.empty()) return;
        const bool seen_before =
            previous != nullptr && std::any_of(previous->vms.begin(), previous->vms.end(),
                                               [&vm](const fleet::VmReport& old) { return old.vm_id == vm.vm_id; });
        if (seen_before) continue;
        const auto match = std::find_if(reservations.begin(), reservations.end(),
                                        [&vm](const Reservation& r) { return r.image_name == vm.image_name; });
        if (match != reservations.end()) reservations.erase(match);
    }
}

void Scheduler::observe(const fleet::NodeRecord& current, const fleet::NodeRecord* previous) {
    const auto& report = current.report;
    std::lock_guard lock{mutex_};
    auto it = nodes_.find(report.node_id);
    if (it == nodes_.end()) {
        it = nodes_.emplace(report.node_id, NodeSlots{}).first;
        it->second.node_id = report.node_id;
    }
    NodeSlots& node = it->second;
    unindex(node);
    settle_reservations(node, report, previous != nullptr ? &previous->report : nullptr);
    node.running_vms = report.running_vms();
    node.cpu_usage_percent = report.cpu_usage_percent;
    node.accepts_new_vms = fleet::accepts_new_vms(current);
    if (!std::equal(node.cached_images.begin(), node.cached_images.end(), report.cached_images.begin(),
                    report.cached_images.end())) {
        node.cached_images = report.cached_images;
        std::sort(node.cached_images.begin(), node.cached_images.end());
        node.cached_images.erase(std::unique(node.cached_images.begin(), node.cached_images.end()),
                                 node.cached_images.end());
    }
    index(node);
}

void Scheduler::forget(std::string_view node_id) {
    std::lock_guard lock{mutex_};
    const auto it = nodes_.find(node_id);
    if (it == nodes_.end()) return;
    unindex(it->second);
    nodes_.erase(it);
}

std::optional<Placement> Scheduler::place(const PlacementRequest& request, TimePoint now) {
    std::lock_guard lock{mutex_};
    bool cached = false;
    const RankKey* chosen = nullptr;
    if (const auto it = free_nodes_by_image_.find(request.image_name); it != free_nodes_by_image_.end()) {
        chosen = &*it->second.begin();
        cached = true;
    } else if (!free_nodes_.empty()) {
        chosen = &*free_nodes_.begin();
    }
    if (chosen == nullptr) return std::nullopt;

    NodeSlots& node = nodes_.find(*chosen->node_id)->second;
    const TimePoint expires_at = now + options_.placement_ttl;
    unindex(node); // `chosen` points into the index: not used after this line
    node.reservations.push_back({request.vm_id, request.image_name, expires_at});
    index(node);
    expiries_.push_back({expires_at, node.node_id, request.vm_id});
    return Placement{node.node_id, request.vm_id, request.image_name, cached};
}

std::vector<Placement> Scheduler::expire_reservations(TimePoint now) {
    std::vector<Placement> expired;
    std::lock_guard lock{mutex_};
    while (!expiries_.empty() && expiries_.front().at <= now) {
        const Expiry entry = std::move(expiries_.front());
        expiries_.pop_front();
        // Entries whose reservation was fulfilled or whose node was forgotten are skipped.
        const auto it = nodes_.find(entry.node_id);
        if (it == nodes_.end()) continue;
        NodeSlots& node = it->second;
        const auto match = std::find_if(node.reservations.begin(), node.reservations.end(),
                                        [&entry](const Reservation& r) { return r.vm_id == entry.vm_id; });
        if (match == node.reservations.end()) continue;
        expired.push_back({node.node_id, match->vm_id, match->image_name, false});
        unindex(node);
        node.reservations.erase(match);
        index(node);
    }
    return expired;
}

CapacitySummary Scheduler::capacity() const {
    CapacitySummary summary;
    std::lock_guard lock{mutex_};
    for (const auto& [id, node] : nodes_) {
        summary.reserved_slots += node.reservations.size();
        if (!node.accepts_new_vms) continue;
        ++summary.schedulable_nodes;
        summary.free_slots += static_cast<std::size_t>(std::max(0, options_.max_vms_per_node - node.used_slots()));
    }
    return summary;
}

int Scheduler::reserved_slots(std::string_view node_id) const {
    std::lock_guard lock{mutex_};
    const auto it = nodes_.find(node_id);
    return it == nodes_.end() ? 0 : static_cast<int>(it->second.reservations.size());
}

} // namespace macvmorx::scheduling
