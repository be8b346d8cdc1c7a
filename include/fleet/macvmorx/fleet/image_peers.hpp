#pragma once

// Which Macs a Mac may fetch a bucket image from instead of the bucket (issue 21, "an image
// crosses the internet once per lab"): online ones that serve their images to peers (their
// heartbeat names a `peerUrl`), hold the image, and are of the same lab.

#include "macvmorx/fleet/node_record.hpp"

#include <string_view>
#include <vector>

namespace macvmorx::fleet {

// A node's lab is its label `lab` (operator's over agent's); nodes without one are one lab.
inline constexpr std::string_view lab_label = "lab";

// Up to `at_most` of `nodes` that `requester` may fetch `image` from: online, serving peers,
// holding the image, in the requester's lab, not the requester; those running the fewest VMs
// first (their uploads compete with the fewest guests), then by node id.
std::vector<NodeSnapshot> image_peers(const std::vector<NodeSnapshot>& nodes, const NodeRecord& requester,
                                      std::string_view image, std::size_t at_most);

} // namespace macvmorx::fleet
