#pragma once

#include <string>

namespace macvmorx::scheduling {

// A request for one VM of an image.
struct PlacementRequest {
    std::string image_name;
    std::string vm_id; // chosen by the caller; identifies the reservation
};

// Where a VM goes, and whether that host already holds its image.
struct Placement {
    std::string node_id;
    std::string vm_id;
    std::string image_name;
    bool image_cached = false;
};

} // namespace macvmorx::scheduling
