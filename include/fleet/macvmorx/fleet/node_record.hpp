#pragma once

#include "macvmorx/protocol/heartbeat.hpp"
#include "macvmorx/base/clock.hpp"

#include <cstdint>
#include <memory>

namespace macvmorx::fleet {

// What the orchestrator knows about one Mac: its last report and when it was heard from.
// Records are immutable once published; a change publishes a new record, so readers can
// hold a snapshot without a lock.
struct NodeRecord {
    protocol::Heartbeat report;
    TimePoint first_seen;
    TimePoint last_seen;
    bool online = true;
    bool drained = false;         // an operator stopped new placements
    protocol::Labels operator_labels;       // set by an operator; they override the agent's of the same key
    // Grows with every published record of this node, so that consumers applying records
    // outside the store's lock can ignore one that arrives after its successor.
    std::uint64_t revision = 0;

    const std::string& node_id() const { return report.node_id; }
    // The labels placements match: the agent's, overridden by the operator's.
    protocol::Labels labels() const;
    // Whether those labels satisfy `required` (protocol::satisfies), without merging them.
    bool satisfies(const protocol::Labels& required) const;
};

// What an operator decided about a node; kept across restarts and for nodes not heard from yet.
struct NodeSettings {
    std::string node_id;
    bool drained = false;
    protocol::Labels operator_labels;
};

using NodeSnapshot = std::shared_ptr<const NodeRecord>;

// Whether the node's own status lets it take new VMs ("draining" and "maintenance" do not).
bool status_accepts_new_vms(std::string_view status);

// Whether a node may be given a new VM at all: online, not drained, and its status allows it.
inline bool accepts_new_vms(const NodeRecord& record) {
    return record.online && !record.drained && status_accepts_new_vms(record.report.status);
}

} // namespace macvmorx::fleet
