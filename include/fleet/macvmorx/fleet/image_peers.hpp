#pragma once

// Which Macs a Mac may fetch a bucket image from instead of the bucket (issue 21, "an image
// crosses the internet once per lab"): online ones that serve their images to peers (their
// heartbeat names a `peerUrl`), hold the image, and are of the same lab.

#include "macvmorx/fleet/node_record.hpp"

#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace macvmorx::fleet {

// A node's lab is its label `lab` (operator's over agent's); nodes without one are one lab.
inline constexpr std::string_view lab_label = "lab";

// Up to `at_most` of `nodes` that `requester` may fetch `image` from: online, serving peers,
// holding the image, in the requester's lab, not the requester; those running the fewest VMs
// first (their uploads compete with the fewest guests), then by node id.
std::vector<NodeSnapshot> image_peers(const std::vector<NodeSnapshot>& nodes, const NodeRecord& requester,
                                      std::string_view image, std::size_t at_most);

// What a Mac about to fetch an image is told: the peers to fetch it from (the bucket gives what
// they do not), or to wait and ask again, so that a lab takes each image from its bucket about
// once and spreads it from Mac to Mac as a tree: the first to ask fetches the lab's copy from
// the bucket while the others wait; then each Mac that holds it serves a few at a time.
struct FetchPlan {
    std::vector<NodeSnapshot> peers; // empty and not waiting: the bucket alone
    bool wait = false;
    Duration retry_after{};
    std::string reason; // why it waits, for the VM's progress
};

struct FetchRules {
    std::size_t max_peers = 3;   // named per fetch
    int uploads_per_holder = 2;  // fetches one holder serves at once (the agents' --peer-max-uploads)
    Duration retry_after = std::chrono::seconds{15};
    // A Mac that has waited this long while no fetch of the lab made progress (none ended, none
    // began) takes the bucket: the lab's fetch may be stuck on a Mac that hung.
    Duration max_wait = std::chrono::minutes{30};
    Duration fetch_lease = std::chrono::hours{2}; // a fetch not done by then is forgotten (the agent's pull timeout)
};

// The fetches under way per lab and image, and the plan for each Mac that asks. Thread-safe.
class ImageFetches {
public:
    explicit ImageFetches(FetchRules rules = {}) : rules_{rules} {}

    // The plan for `requester`, fetching `image`, given every node's record (`nodes`): peers
    // when some of its lab hold the image and serve fewer fetches than they may; the bucket
    // when none holds it and no Mac of the lab that serves peers is fetching it from there, or
    // when it has waited max_wait without progress in the lab; else wait. A fetch ends when its Mac lists the
    // image, goes offline or asks again.
    FetchPlan plan(const std::vector<NodeSnapshot>& nodes, const NodeRecord& requester, const std::string& image, TimePoint now);

    // Fetches under way (from the bucket, from peers), for figures and tests.
    std::pair<std::size_t, std::size_t> under_way(const std::string& lab, const std::string& image) const;

private:
    struct Fetch {
        std::string node_id;
        bool from_bucket = false;
        bool serves = false; // its Mac will serve the image to peers once it holds it
        std::vector<std::string> peers;
        TimePoint started;
    };
    using Key = std::pair<std::string, std::string>; // lab, image
    FetchRules rules_;
    mutable std::mutex mutex_;
    std::map<Key, std::vector<Fetch>> fetches_;
    std::map<std::tuple<std::string, std::string, std::string>, TimePoint> waiting_since_; // lab, image, node
    std::map<Key, TimePoint> last_progress_; // a fetch of the lab began or ended
};

// A node's lab (its label `lab`), "" for none.
std::string lab_of(const NodeRecord& node);

} // namespace macvmorx::fleet
