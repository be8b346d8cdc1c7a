#pragma once

#include "macvmorx/base/string_map.hpp"
#include "macvmorx/fleet/node_record.hpp"

#include <cstddef>
#include <functional>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace macvmorx::fleet {

// The in-memory table of nodes, split into shards keyed by a hash of the node id so that
// heartbeats from different nodes rarely wait for each other.
//
// Locking: each shard has its own shared_mutex guarding its map. Readers take it shared and
// copy out NodeSnapshot pointers; writers take it exclusively for the few instructions that
// swap a pointer. `update` runs the caller's function under the exclusive lock, so that a
// caller can keep a secondary structure (the scheduler) in step with the record; that function
// must not call back into the store.
class NodeStore {
public:
    explicit NodeStore(std::size_t shard_count = 64);

    // Runs `change(slot)` under the shard's exclusive lock. `slot` holds the current record or
    // is empty for an unknown node; the function may replace it, or reset it to forget the node.
    void update(std::string_view node_id, const std::function<void(NodeSnapshot& slot)>& change);

    NodeSnapshot find(std::string_view node_id) const;

    // Every record, sorted by node id.
    std::vector<NodeSnapshot> list() const;

    // Calls `visit` on every record, one shard at a time under its shared lock.
    void for_each(const std::function<void(const NodeSnapshot&)>& visit) const;

    std::size_t size() const;

private:
    struct Shard {
        mutable std::shared_mutex mutex;
        StringMap<NodeSnapshot> nodes;
    };

    Shard& shard_for(std::string_view node_id) const;

    std::unique_ptr<Shard[]> shards_;
    std::size_t shard_count_;
};

} // namespace macvmorx::fleet
