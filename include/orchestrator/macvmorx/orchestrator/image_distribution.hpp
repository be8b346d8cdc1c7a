#pragma once

#include "macvmorx/base/clock.hpp"
#include "macvmorx/fleet/node_record.hpp"

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace macvmorx::orchestrator {

struct ImageDistributionOptions {
    // Pulls ahead of demand under way at once in the whole fleet, so that the registry or the
    // bucket is not stampeded; zero turns pre-distribution off (images still come with VMs).
    int max_concurrent_pulls = 4;
    // How far back demand is remembered: the target covers the peak within it.
    Duration demand_window = std::chrono::minutes{30};
    // Holders kept beyond the peak's need, as a share of it (at least one more host).
    double margin = 0.5;
    int max_vms_per_node = 2;
    // A pull no heartbeat showed under way by then did not start (an agent that refused it, or one
    // too old to know pullImage); one under way longer than pull_timeout failed.
    Duration pull_start_grace = std::chrono::minutes{2};
    Duration pull_timeout = std::chrono::hours{2};
    // A host whose pull of an image failed is not asked for that image again before this.
    Duration retry_after_failure = std::chrono::minutes{10};
};

// What asks for an image now, besides the VMs placed: counted each sweep.
struct ImageLoad {
    int vms_in_use = 0;   // placed, not ended
    int queued = 0;       // requests waiting for a node
    int pool_warm = 0;    // runner pools' warm VMs of the image
    int pool_queued_jobs = 0; // GitHub jobs waiting for a runner of the image
    // A rollout's floor: hosts that must hold the image before its pool switches to it.
    int rollout_hosts = 0;
};

// One image as GET /api/images shows it.
struct ImageStatus {
    std::string image_name;
    double placements_per_minute = 0; // over the window
    int peak_demand = 0;              // the most VMs asked for at once in the window
    ImageLoad load;                   // now
    int min_hosts = 0;                // an operator's pin
    int target = 0;
    int holders = 0;  // online hosts caching it
    int pulling = 0;  // hosts downloading it (ahead of demand or for a VM)
    std::optional<double> mean_pull_seconds;
    std::uint64_t cached_placements = 0;   // in the window
    std::uint64_t uncached_placements = 0; // in the window
};

// A pull to ask of a host: the image, and what it must not evict to make room.
struct PullOrder {
    std::string node_id;
    std::string image_name;
    std::vector<std::string> keep_images;
};

struct PullCounts {
    std::uint64_t started = 0;
    std::uint64_t finished = 0;
    std::uint64_t failed = 0;
};

// Images ahead of demand (docs/scheduling.md): per image, its demand over a sliding window and
// which hosts hold it, are pulling it and how long pulls take; from that a target number of
// holders, and the pulls that close the gap, on idle hosts, a few at a time.
//
// A pure decision over what it is told: placements (`placed`), heartbeats (`observe`), the load
// of each image at every sweep (`plan`), operators' pins. It sends nothing: `plan` returns the
// pulls for the orchestrator to post as pullImage commands.
//
// Locking: one mutex guards everything; nothing here calls out.
class ImageDistribution {
public:
    explicit ImageDistribution(ImageDistributionOptions options);

    // Told by the lifecycle (under its lock): a VM of `image` was placed, on a host holding it or not.
    void placed(const std::string& image, bool cached, TimePoint now);
    // Told with every node record: pulls that finished (the image is cached) or failed (it left
    // pullingImages without being cached; the node went offline).
    void observe(const fleet::NodeRecord& node, TimePoint now);
    void forget_node(const std::string& node_id);

    // Operators: at least `min_hosts` hosts hold the image (0 removes the pin).
    void pin(const std::string& image, int min_hosts);
    std::map<std::string, int> pins() const;
    // Whether the daemon has heard of the image: a host holds or pulls it, a VM or a pool asked
    // for it, or it is pinned.
    bool known(std::string_view image) const;

    // Each sweep: records each image's load, and returns the pulls to ask for now.
    std::vector<PullOrder> plan(const std::vector<fleet::NodeSnapshot>& nodes,
                                const std::map<std::string, ImageLoad, std::less<>>& load, TimePoint now);

    // Pulls asked for ahead of demand that failed since the last call (node, image): their
    // pullImage commands, if still unacknowledged, are withdrawn.
    std::vector<std::pair<std::string, std::string>> take_failed_pulls();

    std::vector<ImageStatus> status(TimePoint now) const;
    PullCounts pull_counts() const;
    int pulls_in_flight() const;
    const ImageDistributionOptions& options() const { return options_; }

    // The holders an image needs for `peak` VMs at once, at least `min_hosts`.
    static int target_hosts(int peak, int min_hosts, const ImageDistributionOptions& options);

private:
    struct Minute {
        std::int64_t minute = 0;
        int peak = 0;
        std::uint32_t cached = 0;
        std::uint32_t uncached = 0;
    };
    struct ImageState {
        std::deque<Minute> minutes; // oldest first, within the window
        ImageLoad load;
        int min_hosts = 0;
        int target = 0;
        int holders = 0;
        int pulling = 0;
        double pull_seconds_total = 0;
        std::uint64_t pulls_timed = 0;
        bool seen_recently = false; // named by a host, a VM or a pool at the last sweep
    };
    struct Pull {
        TimePoint started;
        bool ahead_of_demand = false; // asked by plan(); else a VM's download that we time
        bool seen_under_way = false;
    };
    using PullKey = std::pair<std::string, std::string>; // node, image

    Minute& minute_of(ImageState& image, TimePoint now);
    void trim(ImageState& image, TimePoint now) const;
    int peak(const ImageState& image) const;
    void end_pull(std::map<PullKey, Pull>::iterator pull, bool finished, TimePoint now);

    const ImageDistributionOptions options_;
    mutable std::mutex mutex_;
    std::map<std::string, ImageState, std::less<>> images_;
    std::map<PullKey, Pull> pulls_;
    std::map<PullKey, TimePoint> failed_until_; // no new pull of the image on the host before
    int pulls_ahead_in_flight_ = 0;
    std::vector<PullKey> failed_since_taken_;
    std::atomic<std::size_t> pulls_tracked_{0}; // pulls_.size(), read without the lock by observe()
    PullCounts counts_;
};

} // namespace macvmorx::orchestrator
