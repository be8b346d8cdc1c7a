// Whom a Mac may fetch a bucket image from: the daemon's choice of peers.

#include "macvmorx/fleet/image_peers.hpp"

#include "fleet_builders.hpp"

#include <gtest/gtest.h>

#include <memory>

using macvmorx::fleet::image_peers;
using macvmorx::fleet::NodeRecord;
using macvmorx::fleet::NodeSnapshot;
using macvmorx::testing::heartbeat;
using macvmorx::testing::record;

namespace {

constexpr const char* peer_image = "gs://acme-images/macos/sequoia.tvm";

NodeSnapshot serving(const std::string& id, std::vector<std::string> images, int vms = 0, bool online = true,
                     const std::string& lab = {}) {
    auto node = record(heartbeat(id, std::move(images), 10, vms), online);
    node.report.peer_url = "http://" + id + ".lab:9100";
    if (!lab.empty()) node.report.labels.push_back({"lab", lab});
    return std::make_shared<const NodeRecord>(std::move(node));
}

std::vector<std::string> ids(const std::vector<NodeSnapshot>& nodes) {
    std::vector<std::string> result;
    for (const auto& node : nodes) result.push_back(node->node_id());
    return result;
}

} // namespace

TEST(ImagePeers, OnlineServingHoldersOtherThanTheRequesterTheLeastBusyFirst) {
    auto not_serving = record(heartbeat("mac-quiet", {peer_image}));
    const std::vector<NodeSnapshot> nodes{
        serving("mac-busy", {peer_image}, 2),
        serving("mac-idle", {peer_image}, 0),
        serving("mac-other-image", {"s3://images/ventura.tvm"}),
        serving("mac-offline", {peer_image}, 0, false),
        std::make_shared<const NodeRecord>(not_serving),
        serving("mac-me", {peer_image}),
        serving("mac-half", {peer_image}, 1),
    };
    const auto requester = record(heartbeat("mac-me"));
    EXPECT_EQ(ids(image_peers(nodes, requester, peer_image, 3)), (std::vector<std::string>{"mac-idle", "mac-half", "mac-busy"}));
    EXPECT_EQ(ids(image_peers(nodes, requester, peer_image, 1)), (std::vector<std::string>{"mac-idle"}));
    EXPECT_TRUE(image_peers(nodes, requester, "s3://images/none.tvm", 3).empty());
}

TEST(ImagePeers, APeerIsOfTheRequestersLabByItsLabel) {
    const std::vector<NodeSnapshot> nodes{serving("mac-berlin", {peer_image}, 0, true, "berlin"),
                                          serving("mac-austin", {peer_image}, 0, true, "austin"),
                                          serving("mac-unlabelled", {peer_image})};
    auto requester = record(heartbeat("mac-new"));
    requester.report.labels.push_back({"lab", "berlin"});
    EXPECT_EQ(ids(image_peers(nodes, requester, peer_image, 3)), (std::vector<std::string>{"mac-berlin"}));
    // An operator's label overrides the agent's.
    requester.operator_labels.push_back({"lab", "austin"});
    EXPECT_EQ(ids(image_peers(nodes, requester, peer_image, 3)), (std::vector<std::string>{"mac-austin"}));
    const auto unlabelled = record(heartbeat("mac-plain"));
    EXPECT_EQ(ids(image_peers(nodes, unlabelled, peer_image, 3)), (std::vector<std::string>{"mac-unlabelled"}));
}
