#pragma once

#include "macvmorx/fleet/node_record.hpp"
#include "macvmorx/scheduling/placement.hpp"
#include "macvmorx/base/clock.hpp"

#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace macvmorx::scheduling {

struct SchedulerOptions {
    int max_vms_per_node = 2;
    Duration placement_ttl = std::chrono::minutes{10};
};

struct CapacitySummary {
    std::size_t schedulable_nodes = 0;
    std::size_t free_slots = 0;
    std::size_t reserved_slots = 0;
};

// Decides where a VM goes and books the slot in the same step.
//
// Policy: among nodes that accept new VMs and have a free slot (running VMs plus reservations
// below max_vms_per_node), prefer those caching the image, else any node (it will download the
// image). Ties go to the fewest used slots, then the lowest CPU, then the smallest node id.
//
// The scheduler keeps its own view of each node (what `observe` told it plus reservations) and
// two ordered indexes over the nodes with a free slot: one for the whole fleet and one per
// cached image, both sorted by the tie-break order. A decision is therefore the first
// acceptable entry of at most two ordered sets, never a scan of the fleet.
//
// Locking: one mutex guards everything here. `observe` may be called while the caller holds a
// NodeStore shard lock (the store lock is always taken first); nothing here calls out.
class Scheduler {
public:
    explicit Scheduler(SchedulerOptions options);

    // Records a node's latest state. `previous` is the record it replaces, if any: VMs that
    // appear in `current` fulfil the reservations made for them (matched by VM id, or for
    // agents that name VMs themselves, a new VM of the reserved image).
    void observe(const fleet::NodeRecord& current, const fleet::NodeRecord* previous);

    // Removes a node and its reservations.
    void forget(std::string_view node_id);

    // Chooses a node and reserves a slot on it atomically, or returns nullopt when no node fits.
    std::optional<Placement> place(const PlacementRequest& request, TimePoint now);

    // Drops reservations older than the placement TTL; returns the placements that expired.
    std::vector<Placement> expire_reservations(TimePoint now);

    CapacitySummary capacity() const;
    int reserved_slots(std::string_view node_id) const;
    int max_vms_per_node() const { return options_.max_vms_per_node; }

private:
    struct Reservation {
        std::string vm_id;
        std::string image_name;
        TimePoint expires_at;
    };

    // The tie-break order; a key is a copy of the ranking fields taken when it was indexed.
    struct RankKey {
        int used_slots;
        double cpu_usage_percent;
        const std::string* node_id;
    };
    struct RankOrder {
        bool operator()(const RankKey& a, const RankKey& b) const;
    };
    using RankedNodes = std::set<RankKey, RankOrder>;

    struct NodeSlots {
        std::string node_id;
        int running_vms = 0;
        double cpu_usage_percent = 0;
        bool accepts_new_vms = false;
        std::vector<std::string> cached_images; // sorted, unique
        std::vector<Reservation> reservations;  // oldest first
        std::optional<RankKey> indexed_as;      // set while the node is in the free indexes

        int used_slots() const { return running_vms + static_cast<int>(reservations.size()); }
    };

    struct StringHash {
        using is_transparent = void;
        std::size_t operator()(std::string_view text) const noexcept {
            return std::hash<std::string_view>{}(text);
        }
    };
    template <typename T>
    using StringMap = std::unordered_map<std::string, T, StringHash, std::equal_to<>>;

    struct Expiry {
        TimePoint at;
        std::string node_id;
        std::string vm_id;
    };

    void unindex(NodeSlots& node);
    void index(NodeSlots& node);
    void reindex(NodeSlots& node);
    static void settle_reservations(NodeSlots& node, const fleet::Heartbeat& current,
                                    const fleet::Heartbeat* previous);

    const SchedulerOptions options_;
    mutable std::mutex mutex_;
    StringMap<NodeSlots> nodes_;
    RankedNodes free_nodes_;
    StringMap<RankedNodes> free_nodes_by_image_;
    std::deque<Expiry> expiries_; // in expiry order: every reservation gets the same TTL
};

} // namespace macvmorx::scheduling
