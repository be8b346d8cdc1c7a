#include "macvmorx/sim/image_rollout.hpp"

#include "macvmorx/fleet/image_peers.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <memory>
#include <vector>

namespace macvmorx::sim {
namespace {

constexpr const char* rollout_image = "gs://lab-images/macos/new.tvm";
constexpr double step_seconds = 1.0;

struct Mac {
    std::string id;
    double bytes = 0;
    bool holds = false;
    bool fetching = false;
    bool from_bucket = false;
    std::vector<std::string> peers;
    double next_ask = 0; // seconds
    double at = 0;       // when it came to hold the image
};

fleet::NodeSnapshot snapshot(const Mac& mac) {
    fleet::NodeRecord node;
    node.report.node_id = mac.id;
    node.report.status = "healthy";
    node.report.peer_url = "http://" + mac.id + ".lab:9100";
    if (mac.holds) node.report.cached_images.push_back(rollout_image);
    node.online = true;
    return std::make_shared<const fleet::NodeRecord>(std::move(node));
}

} // namespace

RolloutResult simulate_rollout(const RolloutOptions& options, bool peers) {
    const double size = options.image_gb * 1e9;
    const double uplink = options.uplink_mbit_per_second * 1e6 / 8;
    const double lan = options.lan_mbit_per_second * 1e6 / 8;
    const double upload_bound =
        options.peer_upload_mb_per_second > 0 ? std::min(lan, options.peer_upload_mb_per_second * 1e6) : lan;
    fleet::FetchRules rules;
    rules.uploads_per_holder = options.peer_max_uploads;
    fleet::ImageFetches fetches{rules};
    const TimePoint start{std::chrono::hours{24}};

    std::vector<Mac> macs(static_cast<std::size_t>(std::max(options.macs, 1)));
    for (std::size_t i = 0; i < macs.size(); ++i) macs[i].id = fmt::format("mac-{:03}", i + 1);
    std::vector<fleet::NodeSnapshot> nodes;
    for (const auto& mac : macs) nodes.push_back(snapshot(mac));

    RolloutResult result;
    result.peers = peers;
    std::size_t holding = 0;
    double t = 0;
    const double give_up = 30 * 24 * 3600.0;
    while (holding < macs.size() && t < give_up) {
        // Who fetches from where: everyone from the bucket without peers; else the daemon says.
        for (std::size_t i = 0; i < macs.size(); ++i) {
            auto& mac = macs[i];
            if (mac.holds || mac.fetching || mac.next_ask > t) continue;
            if (!peers) {
                mac.fetching = mac.from_bucket = true;
                continue;
            }
            const auto now = start + std::chrono::duration_cast<Duration>(std::chrono::duration<double>(t));
            const auto plan = fetches.plan(nodes, *nodes[i], rollout_image, now);
            if (plan.wait) {
                mac.next_ask = t + std::chrono::duration<double>(plan.retry_after).count();
                continue;
            }
            mac.fetching = true;
            mac.from_bucket = plan.peers.empty();
            mac.peers.clear();
            for (const auto& peer : plan.peers) mac.peers.push_back(peer->node_id());
        }
        // Bandwidths: the uplink shared by the bucket's fetchers; each holder's uploads shared by
        // the fetches that name it.
        std::size_t from_bucket = 0;
        std::map<std::string, int> downstream;
        for (const auto& mac : macs) {
            if (!mac.fetching) continue;
            if (mac.from_bucket) ++from_bucket;
            for (const auto& peer : mac.peers) ++downstream[peer];
        }
        std::vector<std::size_t> done;
        for (std::size_t i = 0; i < macs.size(); ++i) {
            auto& mac = macs[i];
            if (!mac.fetching) continue;
            double rate = 0;
            if (mac.from_bucket) {
                rate = std::min(lan, uplink / static_cast<double>(from_bucket));
            } else {
                for (const auto& peer : mac.peers) rate += upload_bound / downstream[peer];
                rate = std::min(rate, lan);
            }
            const double got = std::min(rate * step_seconds, size - mac.bytes);
            mac.bytes += got;
            (mac.from_bucket ? result.gb_from_bucket : result.gb_from_peers) += got / 1e9;
            if (mac.bytes >= size) done.push_back(i);
        }
        t += step_seconds;
        for (const auto i : done) {
            auto& mac = macs[i];
            mac.fetching = false;
            mac.holds = true;
            mac.at = t;
            nodes[i] = snapshot(mac);
            if (holding++ == 0) result.minutes_until_first = t / 60;
        }
    }
    result.minutes_until_all = t / 60;
    return result;
}

std::string rollout_table(const RolloutOptions& options) {
    const auto without = simulate_rollout(options, false);
    const auto with = simulate_rollout(options, true);
    std::string table = fmt::format(
        "{} Macs take a new {:.0f} GB image; uplink {:.0f} Mbit/s, LAN {:.0f} Mbit/s per Mac, peer uploads {} at "
        "once, {:.0f} MB/s\n\n",
        options.macs, options.image_gb, options.uplink_mbit_per_second, options.lan_mbit_per_second,
        options.peer_max_uploads, options.peer_upload_mb_per_second);
    table += "| | from the bucket | copies | from peers | first Mac holds it | every Mac holds it |\n";
    table += "|---|---|---|---|---|---|\n";
    for (const auto& run : {without, with}) {
        table += fmt::format("| {} | {:.0f} GB | {:.2f} | {:.0f} GB | {:.1f} min | {:.1f} min |\n",
                             run.peers ? "with peers" : "without peers", run.gb_from_bucket, run.gb_from_bucket / options.image_gb,
                             run.gb_from_peers, run.minutes_until_first, run.minutes_until_all);
    }
    table += fmt::format("\nWith peers: {:.1f}x sooner, {:.1f}x fewer bytes from the bucket.\n",
                         without.minutes_until_all / std::max(with.minutes_until_all, 1e-9),
                         without.gb_from_bucket / std::max(with.gb_from_bucket, 1e-9));
    return table;
}

} // namespace macvmorx::sim
