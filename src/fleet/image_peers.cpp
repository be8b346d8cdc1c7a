#include "macvmorx/fleet/image_peers.hpp"

#include <algorithm>
#include <string>

namespace macvmorx::fleet {
namespace {

std::string lab_of(const NodeRecord& node) {
    const auto labels = node.labels();
    const auto* lab = protocol::find(labels, lab_label);
    return lab == nullptr ? std::string{} : lab->value;
}

} // namespace

std::vector<NodeSnapshot> image_peers(const std::vector<NodeSnapshot>& nodes, const NodeRecord& requester,
                                      std::string_view image, std::size_t at_most) {
    const std::string lab = lab_of(requester);
    std::vector<NodeSnapshot> peers;
    for (const auto& node : nodes) {
        if (!node || !node->online || node->report.peer_url.empty() || node->node_id() == requester.node_id()) continue;
        const auto& images = node->report.cached_images;
        if (std::find(images.begin(), images.end(), image) == images.end()) continue;
        if (lab_of(*node) != lab) continue;
        peers.push_back(node);
    }
    std::sort(peers.begin(), peers.end(), [](const NodeSnapshot& a, const NodeSnapshot& b) {
        const int a_vms = a->report.running_vms();
        const int b_vms = b->report.running_vms();
        return a_vms != b_vms ? a_vms < b_vms : a->node_id() < b->node_id();
    });
    if (peers.size() > at_most) peers.resize(at_most);
    return peers;
}

} // namespace macvmorx::fleet
