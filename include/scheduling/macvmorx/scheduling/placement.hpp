#pragma once

#include "macvmorx/protocol/labels.hpp"

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

} // namespace macvmorx::scheduling
