#pragma once

// The JSON shape of a node in the fleet API: the last heartbeat (as the protocol writes it)
// plus what the daemon knows of the node.

#include "macvmorx/fleet/node_record.hpp"

#include <cstdint>

namespace macvmorx {
class JsonWriter;
}

namespace macvmorx::api {

// Capacity figures shown with a node.
struct NodeCapacity {
    int max_vms = 2;
    int reserved_slots = 0; // placements it has not reported yet
};

// Writes one node: the last heartbeat's fields plus lastSeen, firstSeen, isOnline, drained,
// labels and its slots.
void write_node(JsonWriter& json, const fleet::NodeRecord& node, const NodeCapacity& capacity);

// A digest of what write_node shows that an operator would call a change: everything but the
// time of the last heartbeat, VMs' runtimes, and CPU, memory and disk moves smaller than the
// dashboard shows (a point of CPU, 0.1 GB). Node deltas (?since=) resend a node when it moves.
std::uint64_t node_digest(const fleet::NodeRecord& node, const NodeCapacity& capacity);

} // namespace macvmorx::api
