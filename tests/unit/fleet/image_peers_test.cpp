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

namespace {

using macvmorx::fleet::ImageFetches;

NodeSnapshot mac(const std::string& id, std::vector<std::string> images = {}, bool online = true) {
    return serving(id, std::move(images), 0, online);
}

std::vector<std::string> peer_ids(const macvmorx::fleet::FetchPlan& plan) { return ids(plan.peers); }

const macvmorx::TimePoint start{std::chrono::hours{1000}};

} // namespace

TEST(ImageFetches, TheFirstFetchesTheLabsCopyFromTheBucketWhileTheOthersWait) {
    ImageFetches fetches;
    std::vector<NodeSnapshot> nodes{mac("mac-1"), mac("mac-2"), mac("mac-3")};
    const auto first = fetches.plan(nodes, *nodes[0], peer_image, start);
    EXPECT_FALSE(first.wait);
    EXPECT_TRUE(first.peers.empty()) << "the bucket";
    const auto second = fetches.plan(nodes, *nodes[1], peer_image, start);
    EXPECT_TRUE(second.wait);
    EXPECT_EQ(second.retry_after, std::chrono::seconds{15});
    EXPECT_NE(second.reason.find("waiting for mac-1 to fetch the lab's copy"), std::string::npos) << second.reason;
    EXPECT_EQ(fetches.under_way("", peer_image), (std::pair<std::size_t, std::size_t>{1, 0}));

    // mac-1 holds it now: each holder serves two fetches at once.
    nodes[0] = mac("mac-1", {peer_image});
    nodes.push_back(mac("mac-4"));
    EXPECT_EQ(peer_ids(fetches.plan(nodes, *nodes[1], peer_image, start)), (std::vector<std::string>{"mac-1"}));
    EXPECT_EQ(peer_ids(fetches.plan(nodes, *nodes[2], peer_image, start)), (std::vector<std::string>{"mac-1"}));
    const auto fourth = fetches.plan(nodes, *nodes[3], peer_image, start);
    EXPECT_TRUE(fourth.wait);
    EXPECT_NE(fourth.reason.find("to have an upload free (2 fetches under way)"), std::string::npos) << fourth.reason;

    // mac-2 holds it too: the least loaded holder comes first.
    nodes[1] = mac("mac-2", {peer_image});
    EXPECT_EQ(peer_ids(fetches.plan(nodes, *nodes[3], peer_image, start)), (std::vector<std::string>{"mac-2", "mac-1"}));
}

TEST(ImageFetches, AWaitEndsAtTheBucketWhenTheLabsFetcherIsGoneOrAfterMaxWait) {
    ImageFetches fetches;
    std::vector<NodeSnapshot> nodes{mac("mac-1"), mac("mac-2"), mac("mac-3")};
    fetches.plan(nodes, *nodes[0], peer_image, start);
    EXPECT_TRUE(fetches.plan(nodes, *nodes[1], peer_image, start).wait);
    nodes[0] = mac("mac-1", {}, false); // went offline mid-fetch
    const auto next = fetches.plan(nodes, *nodes[1], peer_image, start + std::chrono::seconds{15});
    EXPECT_FALSE(next.wait) << "mac-2 fetches the lab's copy now";
    EXPECT_TRUE(next.peers.empty());

    EXPECT_TRUE(fetches.plan(nodes, *nodes[2], peer_image, start).wait);
    const auto late = fetches.plan(nodes, *nodes[2], peer_image, start + std::chrono::minutes{31});
    EXPECT_FALSE(late.wait) << "no Mac waits longer than max_wait while nothing moves in its lab";
    EXPECT_EQ(fetches.under_way("", peer_image), (std::pair<std::size_t, std::size_t>{2, 0}));
}

TEST(ImageFetches, LabsFetchTheirOwnCopies) {
    ImageFetches fetches;
    auto berlin = record(heartbeat("mac-berlin"));
    berlin.report.labels.push_back({"lab", "berlin"});
    auto austin = record(heartbeat("mac-austin"));
    austin.report.labels.push_back({"lab", "austin"});
    const std::vector<NodeSnapshot> nodes{std::make_shared<const NodeRecord>(berlin), std::make_shared<const NodeRecord>(austin)};
    EXPECT_FALSE(fetches.plan(nodes, berlin, peer_image, start).wait);
    EXPECT_FALSE(fetches.plan(nodes, austin, peer_image, start).wait) << "another lab's fetch does not hold this one back";
}

TEST(ImageFetches, NoMacWaitsForTheCopyOfAMacThatServesNoPeers) {
    ImageFetches fetches;
    auto quiet = record(heartbeat("mac-quiet")); // no --peer-listen
    const std::vector<NodeSnapshot> nodes{std::make_shared<const NodeRecord>(quiet), mac("mac-2")};
    EXPECT_FALSE(fetches.plan(nodes, quiet, peer_image, start).wait);
    const auto second = fetches.plan(nodes, *nodes[1], peer_image, start);
    EXPECT_FALSE(second.wait) << "mac-quiet's copy would never reach it";
    EXPECT_TRUE(second.peers.empty());
    EXPECT_EQ(fetches.under_way("", peer_image), (std::pair<std::size_t, std::size_t>{2, 0}));
}
