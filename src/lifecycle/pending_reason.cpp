#include "macvmorx/lifecycle/pending_reason.hpp"

namespace macvmorx::lifecycle {

const TenantPolicy& QueueOptions::policy(std::string_view tenant) const {
    static const TenantPolicy unlisted;
    const auto it = tenants.find(tenant);
    return it == tenants.end() ? unlisted : it->second;
}

std::string_view to_string(PendingCode code) {
    switch (code) {
    case PendingCode::no_nodes: return "noNodes";
    case PendingCode::no_node_carries_labels: return "noNodeCarriesLabels";
    case PendingCode::tenant_at_cap: return "tenantAtCap";
    case PendingCode::behind_in_queue: return "behindInQueue";
    case PendingCode::no_free_slot: return "noFreeSlot";
    case PendingCode::not_enough_memory: return "notEnoughMemory";
    case PendingCode::all_offline: return "allOffline";
    case PendingCode::all_draining: return "allDraining";
    case PendingCode::labels_mismatch: return "labelsMismatch";
    }
    return "unknown";
}

PendingCode pending_code(const scheduling::NodeCounts& nodes, bool tenant_at_cap) {
    if (nodes.total == 0) return PendingCode::no_nodes;
    if (nodes.carrying_labels == 0) return PendingCode::no_node_carries_labels;
    if (tenant_at_cap) return PendingCode::tenant_at_cap;
    if (nodes.fits > 0) return PendingCode::behind_in_queue;
    if (nodes.full > 0) return PendingCode::no_free_slot;
    if (nodes.not_enough_memory > 0) return PendingCode::not_enough_memory;
    if (nodes.offline == nodes.total) return PendingCode::all_offline;
    if (nodes.offline + nodes.draining == nodes.total) return PendingCode::all_draining;
    return PendingCode::labels_mismatch;
}

} // namespace macvmorx::lifecycle
