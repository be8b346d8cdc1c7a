#pragma once

#include "macvmorx/base/string_map.hpp"
#include "macvmorx/fleet/node_record.hpp"
#include "macvmorx/scheduling/placement.hpp"
#include "macvmorx/scheduling/rank_index.hpp"

#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace macvmorx::scheduling {

struct SchedulerOptions {
    int max_vms_per_node = 2;
};

struct CapacitySummary {
    std::size_t schedulable_nodes = 0;
    std::size_t total_slots = 0;
    std::size_t free_slots = 0;
    std::size_t reserved_slots = 0;
};

// Decides where a VM goes and books the slot in the same step.
//
// Policy: among nodes that accept new VMs and have a free slot (running VMs plus reservations
// below max_vms_per_node), that carry the required labels and have the memory asked for,
// prefer those holding the image (cached, or being downloaded for an earlier placement), else
// any node (it will download the image). Ties go to the fewest used slots, then the lowest CPU
// (in whole percent: finer differences are noise between two heartbeats), then the smallest
// node id. Nodes to avoid are taken only when nothing else fits.
//
// The scheduler holds no copy of a node: it keeps the published record `observe` gave it (the
// same immutable record the node store points to, shared), the few figures its indexes are
// sorted by, and its reservations. Two ordered indexes cover the nodes with a free slot: one for
// the whole fleet and one per image (cached, or being fetched for a reservation), both sorted in
// tie-break order. An unconstrained decision is the first entry of at most two ordered sets,
// never a scan of the fleet; constraints skip entries in that order.
//
// A reservation lasts until `release`: the VM lifecycle releases it when the VM runs (the
// heartbeat then counts it), fails or is deleted.
//
// Locking: one mutex guards everything here; nothing here calls out.
class Scheduler {
public:
    explicit Scheduler(SchedulerOptions options);

    // Records a node's latest state (its report, online, drained) by keeping the published
    // record. A record older than one already observed is ignored.
    void observe(fleet::NodeSnapshot node);

    // Removes a node and its reservations.
    void forget(std::string_view node_id);

    // Chooses a node and reserves a slot on it atomically, or returns nullopt when none fits.
    std::optional<Placement> place(const PlacementRequest& request);

    // Books a reservation made in an earlier run (durable records), before the node has
    // reported again; the node takes no VMs until it does.
    void restore_reservation(std::string_view node_id, const PlacementRequest& request);

    // Ends the reservation of `vm_id` on `node_id`; returns false if there was none.
    bool release(std::string_view node_id, std::string_view vm_id);

    // Why `request` fits where it does, or nowhere (for a pending VM's pendingReason). Visits
    // every node: for one request's explanation, not for every placement.
    NodeCounts explain(const PlacementRequest& request) const;

    // Whether any node has a free slot now (whatever its labels and memory): when none has, no
    // waiting request can be placed, and the queue need not be ordered.
    bool any_free_slot() const;

    CapacitySummary capacity() const;
    int reserved_slots(std::string_view node_id) const;
    // Reserved slots of every node that has any.
    std::unordered_map<std::string, int> reservations_by_node() const;
    int max_vms_per_node() const { return options_.max_vms_per_node; }

private:
    struct Reservation {
        std::string vm_id;
        std::string image_name;
        double memory_gb = 0;
    };

    struct NodeSlots;

    // The rank order's fields (rank_index.hpp), copied when the node was indexed.
    struct RankKey {
        int used_slots;
        int cpu_percent;
        const std::string* node_id; // compared directly: one load fewer than through `node`
        NodeSlots* node;

        bool operator==(const RankKey&) const = default;
    };
    using RankedNodes = RankIndex<RankKey>;

    struct NodeSlots {
        const std::string* node_id = nullptr; // the key of this entry in nodes_
        fleet::NodeSnapshot record;            // observed last; empty while only a restored reservation is known
        // What the indexes are sorted and split by, as of `record` (the CPU in whole percent).
        int running_vms = 0;
        int cpu_percent = 0;
        bool accepts_new_vms = false;
        std::vector<Reservation> reservations; // oldest first
        std::optional<RankKey> indexed_as;     // set while the node is in the free indexes

        int used_slots() const { return running_vms + static_cast<int>(reservations.size()); }
        double free_memory_gb() const;
        // Calls `visit` with each image the node is indexed under: those its record caches, then
        // those it fetches for a reservation (a name the record lists twice comes twice).
        template <typename Visit>
        void for_each_image(Visit&& visit) const;
    };

    void unindex(NodeSlots& node);
    void index(NodeSlots& node);
    // Moves an indexed node to its new place in each index it is in.
    void rekey(NodeSlots& node, RankKey key);
    NodeSlots* first_fit(const RankedNodes& candidates, const PlacementRequest& request, bool allow_avoided) const;
    static bool fits(const NodeSlots& node, const PlacementRequest& request, bool allow_avoided);

    const SchedulerOptions options_;
    mutable std::mutex mutex_;
    StringMap<NodeSlots> nodes_;
    RankedNodes free_nodes_;
    StringMap<RankedNodes> free_nodes_by_image_;
};

} // namespace macvmorx::scheduling
