#pragma once

#include "macvmorx/base/clock.hpp"
#include "macvmorx/fleet/node_record.hpp"

#include <vector>

namespace macvmorx::fleet {
class NodeStore;
}

namespace macvmorx::monitor {

// Marks nodes offline when their heartbeats stop. `sweep` is called every monitor interval
// from the server's thread pool; a node is reported (and logged) once, at its transition.
// Bringing a node back online is the heartbeat path's job.
//
// Threading: sweep may run on any thread, concurrently with heartbeats; each transition is
// made under the node's store shard lock and re-checked there, so a heartbeat that arrives
// during the sweep wins.
class OfflineMonitor {
public:
    OfflineMonitor(fleet::NodeStore& store, const Clock& clock, Duration offline_timeout);

    // Returns the records published for the nodes that went offline in this sweep.
    std::vector<fleet::NodeSnapshot> sweep();

    Duration offline_timeout() const { return offline_timeout_; }

private:
    fleet::NodeStore& store_;
    const Clock& clock_;
    const Duration offline_timeout_;
};

} // namespace macvmorx::monitor
