#include "macvmorx/scheduling/scheduler.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

namespace macvmorx::scheduling {

double Scheduler::NodeSlots::free_memory_gb() const {
    double reserved = 0;
    for (const auto& reservation : reservations) reserved += reservation.memory_gb;
    const auto& report = record->report;
    return report.total_memory_gb - report.memory_usage_gb - reserved;
}

template <typename Visit>
void Scheduler::NodeSlots::for_each_image(Visit&& visit) const {
    static const std::vector<std::string> none;
    const auto& cached = record ? record->report.cached_images : none;
    for (const auto& image : cached) visit(image);
    // A node fetching an image for an earlier placement is as good as one caching it. An image
    // it caches already, or fetches for an earlier reservation, is not visited twice.
    for (auto it = reservations.begin(); it != reservations.end(); ++it) {
        const auto& image = it->image_name;
        const auto same = [&image](const Reservation& earlier) { return earlier.image_name == image; };
        if (std::find(cached.begin(), cached.end(), image) == cached.end() &&
            std::none_of(reservations.begin(), it, same)) {
            visit(image);
        }
    }
}

Scheduler::Scheduler(SchedulerOptions options) : options_{options} {}

// The images a node is indexed under come from its record and reservations, which change only
// between an unindex and the next index: so unindex finds the same names index used.
void Scheduler::unindex(NodeSlots& node) {
    if (!node.indexed_as) return;
    const RankKey key = *node.indexed_as;
    free_nodes_.erase(key);
    node.for_each_image([&](const std::string& image) {
        const auto it = free_nodes_by_image_.find(image);
        if (it == free_nodes_by_image_.end()) return;
        it->second.erase(key);
        // Only images with a free node have an entry, so the map cannot grow with every name
        // nodes ever reported.
        if (it->second.empty()) free_nodes_by_image_.erase(it);
    });
    node.indexed_as.reset();
}

void Scheduler::index(NodeSlots& node) {
    if (!node.accepts_new_vms || node.used_slots() >= options_.max_vms_per_node) return;
    const RankKey key{node.used_slots(), node.cpu_percent, node.node_id, &node};
    free_nodes_.insert(key);
    node.for_each_image([&](const std::string& image) {
        auto it = free_nodes_by_image_.find(image);
        if (it == free_nodes_by_image_.end()) it = free_nodes_by_image_.emplace(image, RankedNodes{}).first;
        it->second.insert(key); // a name that comes twice is inserted once
    });
    node.indexed_as = key;
}

void Scheduler::rekey(NodeSlots& node, RankKey key) {
    const RankKey old = *node.indexed_as;
    free_nodes_.move(old, key);
    // An image name that came twice was moved already: its second move finds nothing.
    node.for_each_image([&](const std::string& image) { free_nodes_by_image_.find(image)->second.move(old, key); });
    node.indexed_as = key;
}

namespace {

// Whether two image lists name the same images, in any order (agents list them most recently
// used first, so the order changes with use). Both ways, so that a list repeating one image
// while missing another does not pass. A handful of names: comparing each with each is cheaper
// than sorting copies.
bool same_images(const std::vector<std::string>& before, const std::vector<std::string>& now) {
    if (before.size() != now.size()) return false;
    const auto within = [](const std::vector<std::string>& names, const std::string& name) {
        return std::find(names.begin(), names.end(), name) != names.end();
    };
    return std::all_of(now.begin(), now.end(), [&](const std::string& image) { return within(before, image); }) &&
           std::all_of(before.begin(), before.end(), [&](const std::string& image) { return within(now, image); });
}

} // namespace

void Scheduler::observe(fleet::NodeSnapshot record) {
    // Declared before the lock so that the record it replaces is freed after the lock is released.
    fleet::NodeSnapshot replaced;
    std::lock_guard lock{mutex_};
    auto it = nodes_.find(record->node_id());
    if (it == nodes_.end()) {
        it = nodes_.emplace(record->node_id(), NodeSlots{}).first;
        it->second.node_id = &it->first;
    }
    NodeSlots& node = it->second;
    if (node.record && record->revision != 0 && record->revision < node.record->revision) return;

    const auto& report = record->report;
    const int running = report.running_vms();
    const int cpu = static_cast<int>(std::lround(report.cpu_usage_percent));
    const bool accepts = fleet::accepts_new_vms(*record);

    // Most heartbeats change the CPU figure only: keep the new record, and move the node within
    // its sets or leave it. (Labels and memory are read at placement time, not indexed.)
    if (node.record && accepts == node.accepts_new_vms && running == node.running_vms &&
        same_images(node.record->report.cached_images, report.cached_images)) {
        replaced = std::exchange(node.record, std::move(record));
        if (cpu == node.cpu_percent) return;
        node.cpu_percent = cpu;
        if (node.indexed_as) rekey(node, {node.used_slots(), cpu, node.node_id, &node});
        return;
    }

    unindex(node);
    replaced = std::exchange(node.record, std::move(record));
    node.running_vms = running;
    node.cpu_percent = cpu;
    node.accepts_new_vms = accepts;
    index(node);
}

void Scheduler::forget(std::string_view node_id) {
    std::lock_guard lock{mutex_};
    const auto it = nodes_.find(node_id);
    if (it == nodes_.end()) return;
    unindex(it->second);
    nodes_.erase(it);
}

bool Scheduler::fits(const NodeSlots& node, const PlacementRequest& request, bool allow_avoided) {
    if (!node.record->satisfies(request.required_labels)) return false;
    if (request.memory_gb && node.free_memory_gb() < *request.memory_gb) return false;
    return allow_avoided || std::find(request.avoid_nodes.begin(), request.avoid_nodes.end(), *node.node_id) ==
                                request.avoid_nodes.end();
}

Scheduler::NodeSlots* Scheduler::first_fit(const RankedNodes& candidates, const PlacementRequest& request,
                                                 bool allow_avoided) const {
    const RankKey* first = candidates.find_first([&](const RankKey& key) { return fits(*key.node, request, allow_avoided); });
    return first == nullptr ? nullptr : first->node;
}

std::optional<Placement> Scheduler::place(const PlacementRequest& request) {
    std::lock_guard lock{mutex_};
    const auto by_image = free_nodes_by_image_.find(request.image_name);
    NodeSlots* chosen = nullptr;
    bool cached = false;
    for (const bool allow_avoided : {false, true}) {
        if (allow_avoided && request.avoid_nodes.empty()) break;
        if (by_image != free_nodes_by_image_.end()) chosen = first_fit(by_image->second, request, allow_avoided);
        cached = chosen != nullptr;
        if (chosen == nullptr) chosen = first_fit(free_nodes_, request, allow_avoided);
        if (chosen != nullptr) break;
    }
    if (chosen == nullptr) return std::nullopt;

    NodeSlots& node = *chosen;
    unindex(node);
    node.reservations.push_back({request.vm_id, request.image_name, request.memory_gb.value_or(0)});
    index(node);
    return Placement{*node.node_id, request.vm_id, request.image_name, cached};
}

void Scheduler::restore_reservation(std::string_view node_id, const PlacementRequest& request) {
    std::lock_guard lock{mutex_};
    auto it = nodes_.find(node_id);
    if (it == nodes_.end()) {
        it = nodes_.emplace(std::string(node_id), NodeSlots{}).first;
        it->second.node_id = &it->first;
    }
    NodeSlots& node = it->second;
    unindex(node);
    node.reservations.push_back({request.vm_id, request.image_name, request.memory_gb.value_or(0)});
    index(node);
}

bool Scheduler::release(std::string_view node_id, std::string_view vm_id) {
    std::lock_guard lock{mutex_};
    const auto it = nodes_.find(node_id);
    if (it == nodes_.end()) return false;
    NodeSlots& node = it->second;
    const auto match = std::find_if(node.reservations.begin(), node.reservations.end(),
                                    [vm_id](const Reservation& r) { return r.vm_id == vm_id; });
    if (match == node.reservations.end()) return false;
    unindex(node);
    node.reservations.erase(match);
    index(node);
    return true;
}

NodeCounts Scheduler::explain(const PlacementRequest& request) const {
    NodeCounts counts;
    std::vector<bool> carried(request.required_labels.size(), false);
    std::lock_guard lock{mutex_};
    for (const auto& [id, node] : nodes_) {
        ++counts.total;
        if (!node.record || !node.record->online) {
            ++counts.offline;
            if (!node.record) {
                // Known only from a reservation restored at start: not heard from yet, so it may
                // carry the labels.
                ++counts.carrying_labels;
                continue;
            }
        }
        const bool carries = node.record->satisfies(request.required_labels);
        if (carries) ++counts.carrying_labels;
        for (std::size_t i = 0; i < carried.size(); ++i) {
            if (!carried[i] && node.record->satisfies({request.required_labels[i]})) carried[i] = true;
        }
        if (!node.record->online) continue;
        if (!node.accepts_new_vms) {
            ++counts.draining;
        } else if (!carries) {
            ++counts.labels_mismatch;
        } else if (node.used_slots() >= options_.max_vms_per_node) {
            ++counts.full;
        } else if (request.memory_gb && node.free_memory_gb() < *request.memory_gb) {
            ++counts.not_enough_memory;
        } else {
            ++counts.fits;
        }
    }
    for (std::size_t i = 0; i < carried.size(); ++i) {
        if (!carried[i]) counts.missing_labels.push_back(request.required_labels[i]);
    }
    return counts;
}

bool Scheduler::any_free_slot() const {
    std::lock_guard lock{mutex_};
    return !free_nodes_.empty();
}

CapacitySummary Scheduler::capacity() const {
    CapacitySummary summary;
    std::lock_guard lock{mutex_};
    for (const auto& [id, node] : nodes_) {
        summary.reserved_slots += node.reservations.size();
        if (!node.accepts_new_vms) continue;
        ++summary.schedulable_nodes;
        summary.total_slots += static_cast<std::size_t>(options_.max_vms_per_node);
        summary.free_slots += static_cast<std::size_t>(std::max(0, options_.max_vms_per_node - node.used_slots()));
    }
    return summary;
}

int Scheduler::reserved_slots(std::string_view node_id) const {
    std::lock_guard lock{mutex_};
    const auto it = nodes_.find(node_id);
    return it == nodes_.end() ? 0 : static_cast<int>(it->second.reservations.size());
}

std::unordered_map<std::string, int> Scheduler::reservations_by_node() const {
    std::unordered_map<std::string, int> reserved;
    std::lock_guard lock{mutex_};
    for (const auto& [id, node] : nodes_) {
        if (!node.reservations.empty()) reserved.emplace(id, static_cast<int>(node.reservations.size()));
    }
    return reserved;
}

} // namespace macvmorx::scheduling
