#pragma once

#include "macvmorx/protocol/labels.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace macvmorx::scheduling {

// A request for one VM of an image, with the constraints a host must meet.
struct PlacementRequest {
    std::string image_name;
    std::string vm_id;              // identifies the reservation
    protocol::Labels required_labels;  // the host must carry these
    std::optional<double> memory_gb; // the host must have this much memory free
    std::vector<std::string> avoid_nodes; // used only when no other node fits (after a failure there)
};

// Where a VM goes, and whether that host already holds (or is fetching) its image.
struct Placement {
    std::string node_id;
    std::string vm_id;
    std::string image_name;
    bool image_cached = false;
};

// Why a request fits where it does, or nowhere: every node the scheduler knows counted once, in
// the first of these that applies (so the counts add up to `total`).
struct NodeCounts {
    std::size_t total = 0;
    std::size_t offline = 0;           // no heartbeat within the offline timeout, or not heard from since a restart
    std::size_t draining = 0;          // drained by an operator, or its own status takes no VMs
    std::size_t labels_mismatch = 0;   // online and taking VMs, without the labels asked for
    std::size_t full = 0;              // its slots are taken (VMs running and reserved)
    std::size_t not_enough_memory = 0; // a free slot, but less memory free than asked for
    std::size_t fits = 0;              // could take it now
    // Nodes (online or not) that carry every label asked for, and the labels no node carries.
    std::size_t carrying_labels = 0;
    std::vector<protocol::Label> missing_labels;
};

} // namespace macvmorx::scheduling
