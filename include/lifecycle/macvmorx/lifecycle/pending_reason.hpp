#pragma once

#include "macvmorx/base/clock.hpp"
#include "macvmorx/scheduling/placement.hpp"

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace macvmorx::lifecycle {

// A tenant's share of the fleet when requests wait (docs/scheduling.md): its weight against the
// other tenants of the same priority, and at most this many VMs placed at once.
struct TenantPolicy {
    double weight = 1;
    std::optional<int> max_vms;
};

// How the queue orders the requests that wait.
struct QueueOptions {
    // Within a priority, tenants share the fleet by weighted fair share; off: first come, first
    // served within a priority.
    bool fair_share = true;
    // A waiting request gains one priority level per interval waited, so that none waits forever
    // behind higher ones; zero: no ageing.
    Duration priority_aging = std::chrono::minutes{10};
    std::map<std::string, TenantPolicy, std::less<>> tenants; // absent: weight 1, no cap
    const TenantPolicy& policy(std::string_view tenant) const;
};

// Why a VM waits: one code, and the counts behind it.
enum class PendingCode {
    no_nodes,               // the daemon knows no node at all
    no_node_carries_labels, // no node, online or not, carries the labels asked for: it cannot be placed
    tenant_at_cap,          // its tenant has maxVms placed already
    behind_in_queue,        // a node could take it: requests ahead go first
    no_free_slot,           // nodes that fit are full
    not_enough_memory,      // nodes with a free slot have less memory free than asked for
    all_offline,            // every node is offline
    all_draining,           // every node is offline or takes no VMs
    labels_mismatch,        // nodes taking VMs lack the labels; those that carry them are offline or draining
};

std::string_view to_string(PendingCode code);

struct PendingReason {
    PendingCode code = PendingCode::no_nodes;
    scheduling::NodeCounts nodes;
    std::size_t ahead_in_queue = 0;
    bool tenant_at_cap = false;
};

// The code that explains the counts best (the first that applies, in the order of PendingCode).
PendingCode pending_code(const scheduling::NodeCounts& nodes, bool tenant_at_cap);

} // namespace macvmorx::lifecycle
