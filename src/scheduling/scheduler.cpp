#include "macvmorx/scheduling/scheduler.hpp"

#include <algorithm>
#include <cmath>

namespace macvmorx::scheduling {

bool Scheduler::RankOrder::operator()(const RankKey& a, const RankKey& b) const {
    if (a.used_slots != b.used_slots) return a.used_slots < b.used_slots;
    if (a.cpu_percent != b.cpu_percent) return a.cpu_percent < b.cpu_percent;
    return *a.node_id < *b.node_id;
}

double Scheduler::NodeSlots::free_memory_gb() const {
    double reserved = 0;
    for (const auto& reservation : reservations) reserved += reservation.memory_gb;
    return total_memory_gb - used_memory_gb - reserved;
}

Scheduler::Scheduler(SchedulerOptions options) : options_{options} {}

void Scheduler::unindex(NodeSlots& node) {
    if (!node.indexed_as) return;
    const RankKey key = *node.indexed_as;
    free_nodes_.erase(key);
    for (const auto& image : node.indexed_images) {
        const auto it = free_nodes_by_image_.find(image);
        if (it == free_nodes_by_image_.end()) continue;
        it->second.erase(key);
        // Only images with a free node have an entry, so the map cannot grow with every name
        // nodes ever reported.
        if (it->second.empty()) free_nodes_by_image_.erase(it);
    }
    node.indexed_as.reset();
    node.indexed_images.clear();
}

void Scheduler::index(NodeSlots& node) {
    if (!node.accepts_new_vms || node.used_slots() >= options_.max_vms_per_node) return;
    const RankKey key{node.used_slots(), node.cpu_percent, &node.node_id};
    free_nodes_.insert(key);
    // A node fetching an image for an earlier placement is as good as one caching it.
    node.indexed_images = node.cached_images;
    for (const auto& reservation : node.reservations) {
        if (!std::binary_search(node.cached_images.begin(), node.cached_images.end(), reservation.image_name) &&
            std::find(node.indexed_images.begin(), node.indexed_images.end(), reservation.image_name) ==
                node.indexed_images.end()) {
            node.indexed_images.push_back(reservation.image_name);
        }
    }
    for (const auto& image : node.indexed_images) {
        auto it = free_nodes_by_image_.find(image);
        if (it == free_nodes_by_image_.end()) it = free_nodes_by_image_.emplace(image, RankedNodes{}).first;
        it->second.insert(key);
    }
    node.indexed_as = key;
}

void Scheduler::rekey(NodeSlots& node, RankKey key) {
    const RankKey old = *node.indexed_as;
    const auto move = [&](RankedNodes& set) {
        auto handle = set.extract(old);
        handle.value() = key;
        set.insert(std::move(handle));
    };
    move(free_nodes_);
    for (const auto& image : node.indexed_images) move(free_nodes_by_image_.find(image)->second);
    node.indexed_as = key;
}

namespace {

// Whether a sorted, duplicate-free list holds exactly the images of `reported` (in any order,
// agents list them most recently used first).
bool same_images(const std::vector<std::string>& sorted, const std::vector<std::string>& reported) {
    if (sorted.size() != reported.size()) return false;
    // Both ways, so that a list repeating one image while missing another does not pass.
    return std::all_of(reported.begin(), reported.end(),
                       [&sorted](const std::string& image) {
                           return std::binary_search(sorted.begin(), sorted.end(), image);
                       }) &&
           std::all_of(sorted.begin(), sorted.end(), [&reported](const std::string& image) {
               return std::find(reported.begin(), reported.end(), image) != reported.end();
           });
}

} // namespace

void Scheduler::observe(const fleet::NodeRecord& record) {
    const auto& report = record.report;
    std::lock_guard lock{mutex_};
    auto it = nodes_.find(report.node_id);
    if (it == nodes_.end()) {
        it = nodes_.emplace(report.node_id, NodeSlots{}).first;
        it->second.node_id = report.node_id;
    }
    NodeSlots& node = it->second;
    if (record.revision != 0 && record.revision < node.revision) return;
    node.revision = record.revision;
    node.total_memory_gb = report.total_memory_gb;
    node.used_memory_gb = report.memory_usage_gb;

    const int running = report.running_vms();
    const int cpu = static_cast<int>(std::lround(report.cpu_usage_percent));
    const bool accepts = fleet::accepts_new_vms(record);
    const bool images_unchanged = same_images(node.cached_images, report.cached_images);
    const bool labels_unchanged =
        record.operator_labels.empty() ? node.labels == report.labels : node.labels == record.labels();

    // Most heartbeats change the CPU figure only: move the node within its sets, or nothing.
    if (images_unchanged && labels_unchanged && accepts == node.accepts_new_vms && running == node.running_vms) {
        if (cpu == node.cpu_percent) return;
        node.cpu_percent = cpu;
        if (node.indexed_as) rekey(node, {node.used_slots(), cpu, &node.node_id});
        return;
    }

    unindex(node);
    node.running_vms = running;
    node.cpu_percent = cpu;
    node.accepts_new_vms = accepts;
    if (!labels_unchanged) node.labels = record.operator_labels.empty() ? report.labels : record.labels();
    if (!images_unchanged) {
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

bool Scheduler::fits(const NodeSlots& node, const PlacementRequest& request, bool allow_avoided) {
    if (!protocol::satisfies(node.labels, request.required_labels)) return false;
    if (request.memory_gb && node.free_memory_gb() < *request.memory_gb) return false;
    return allow_avoided || std::find(request.avoid_nodes.begin(), request.avoid_nodes.end(), node.node_id) ==
                                request.avoid_nodes.end();
}

const Scheduler::NodeSlots* Scheduler::first_fit(const RankedNodes& candidates, const PlacementRequest& request,
                                                 bool allow_avoided) const {
    for (const auto& key : candidates) {
        const NodeSlots& node = nodes_.find(*key.node_id)->second;
        if (fits(node, request, allow_avoided)) return &node;
    }
    return nullptr;
}

std::optional<Placement> Scheduler::place(const PlacementRequest& request) {
    std::lock_guard lock{mutex_};
    const auto by_image = free_nodes_by_image_.find(request.image_name);
    const NodeSlots* chosen = nullptr;
    bool cached = false;
    for (const bool allow_avoided : {false, true}) {
        if (allow_avoided && request.avoid_nodes.empty()) break;
        if (by_image != free_nodes_by_image_.end()) chosen = first_fit(by_image->second, request, allow_avoided);
        cached = chosen != nullptr;
        if (chosen == nullptr) chosen = first_fit(free_nodes_, request, allow_avoided);
        if (chosen != nullptr) break;
    }
    if (chosen == nullptr) return std::nullopt;

    NodeSlots& node = nodes_.find(chosen->node_id)->second;
    unindex(node);
    node.reservations.push_back({request.vm_id, request.image_name, request.memory_gb.value_or(0)});
    index(node);
    return Placement{node.node_id, request.vm_id, request.image_name, cached};
}

void Scheduler::restore_reservation(std::string_view node_id, const PlacementRequest& request) {
    std::lock_guard lock{mutex_};
    auto it = nodes_.find(node_id);
    if (it == nodes_.end()) {
        it = nodes_.emplace(std::string(node_id), NodeSlots{}).first;
        it->second.node_id = std::string(node_id);
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
