#pragma once

// A lab taking a new bucket image, with and without its peers (issue 21): every Mac wants the
// image at once (a pool switched to it), the lab's uplink is shared by the Macs fetching from the
// bucket, and each Mac's network card carries its own download and its uploads to peers. With
// peers, the Macs ask the daemon's real rules (fleet::ImageFetches) whom to fetch from, as the
// agents do, and fetch at the bandwidth those peers give. A fluid model stepped each second:
// what it measures is the bytes taken from the bucket and the time until every Mac holds the
// image, not TCP.

#include "macvmorx/base/clock.hpp"

#include <string>

namespace macvmorx::sim {

struct RolloutOptions {
    int macs = 100;
    double image_gb = 40;
    double uplink_mbit_per_second = 1000;  // the lab's link to the internet, shared
    double lan_mbit_per_second = 10000;    // each Mac's network card, each way
    double peer_upload_mb_per_second = 100; // each Mac's bound on its uploads (--peer-upload-rate)
    int peer_max_uploads = 2;              // --peer-max-uploads
};

struct RolloutResult {
    bool peers = false;
    double minutes_until_first = 0; // until one Mac holds it
    double minutes_until_all = 0;   // until every Mac holds it
    double gb_from_bucket = 0;
    double gb_from_peers = 0;
};

RolloutResult simulate_rollout(const RolloutOptions& options, bool peers);

// The two runs side by side, as a Markdown table (docs/benchmarks.md).
std::string rollout_table(const RolloutOptions& options);

} // namespace macvmorx::sim
