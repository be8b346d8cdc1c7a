#include "macvmorx/orchestrator/image_distribution.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <unordered_map>
#include <unordered_set>

namespace macvmorx::orchestrator {
namespace {

std::int64_t minute_number(TimePoint at) {
    return std::chrono::duration_cast<std::chrono::minutes>(at.time_since_epoch()).count();
}

bool lists(const std::vector<std::string>& names, const std::string& name) {
    return std::find(names.begin(), names.end(), name) != names.end();
}

int demand_now(const ImageLoad& load) {
    return load.vms_in_use + load.queued + load.pool_warm + load.pool_queued_jobs;
}

} // namespace

ImageDistribution::ImageDistribution(ImageDistributionOptions options) : options_{options} {}

int ImageDistribution::target_hosts(int peak, int min_hosts, const ImageDistributionOptions& options) {
    int target = 0;
    if (peak > 0) {
        const int per_host = std::max(options.max_vms_per_node, 1);
        const int needed = (peak + per_host - 1) / per_host;
        const int margin = std::max(1, static_cast<int>(std::ceil(needed * std::max(options.margin, 0.0))));
        target = needed + margin;
    }
    return std::max(target, min_hosts);
}

ImageDistribution::Minute& ImageDistribution::minute_of(ImageState& image, TimePoint now) {
    const auto minute = minute_number(now);
    if (image.minutes.empty() || image.minutes.back().minute < minute) image.minutes.push_back({minute, 0, 0, 0});
    return image.minutes.back();
}

void ImageDistribution::trim(ImageState& image, TimePoint now) const {
    const auto window = std::chrono::duration_cast<std::chrono::minutes>(options_.demand_window).count();
    const auto oldest = minute_number(now) - std::max<std::int64_t>(window, 1) + 1;
    while (!image.minutes.empty() && image.minutes.front().minute < oldest) image.minutes.pop_front();
}

int ImageDistribution::peak(const ImageState& image) const {
    int highest = 0;
    for (const auto& minute : image.minutes) highest = std::max(highest, minute.peak);
    return highest;
}

void ImageDistribution::placed(const std::string& image, bool cached, TimePoint now) {
    std::lock_guard lock{mutex_};
    auto& state = images_[image];
    auto& minute = minute_of(state, now);
    ++(cached ? minute.cached : minute.uncached);
    state.seen_recently = true;
}

void ImageDistribution::end_pull(std::map<PullKey, Pull>::iterator pull, bool finished, TimePoint now) {
    const auto& [node_id, image] = pull->first;
    if (finished) {
        auto& state = images_[image];
        state.pull_seconds_total += std::chrono::duration<double>(now - pull->second.started).count();
        ++state.pulls_timed;
    }
    if (pull->second.ahead_of_demand) {
        --pulls_ahead_in_flight_;
        ++(finished ? counts_.finished : counts_.failed);
        if (finished) {
            spdlog::info("image {} pulled ahead of demand on node {}", image, node_id);
        } else {
            spdlog::warn("pulling image {} ahead of demand on node {} failed; not asked there again for {} s", image,
                         node_id, std::chrono::duration_cast<std::chrono::seconds>(options_.retry_after_failure).count());
            failed_until_[pull->first] = now + options_.retry_after_failure;
            failed_since_taken_.push_back(pull->first);
        }
    }
    pulls_.erase(pull);
    pulls_tracked_.store(pulls_.size(), std::memory_order_relaxed);
}

void ImageDistribution::observe(const fleet::NodeRecord& node, TimePoint now) {
    const auto& report = node.report;
    // Most heartbeats: nothing pulls anywhere. Checked without the lock, since heartbeats are many.
    if (report.pulling_images.empty() && pulls_tracked_.load(std::memory_order_relaxed) == 0) return;
    std::lock_guard lock{mutex_};
    if (node.online) {
        for (const auto& image : report.pulling_images) {
            auto [it, inserted] = pulls_.try_emplace({node.node_id(), image});
            if (inserted) it->second.started = now; // a VM's download: timed too
            it->second.seen_under_way = true;
        }
        pulls_tracked_.store(pulls_.size(), std::memory_order_relaxed);
    }
    auto it = pulls_.lower_bound({node.node_id(), std::string{}});
    while (it != pulls_.end() && it->first.first == node.node_id()) {
        const auto current = it++;
        const auto& image = current->first.second;
        const Pull& pull = current->second;
        if (!node.online) {
            end_pull(current, false, now);
        } else if (lists(report.cached_images, image)) {
            end_pull(current, true, now);
        } else if (lists(report.pulling_images, image)) {
            if (now - pull.started > options_.pull_timeout) end_pull(current, false, now);
        } else if (pull.seen_under_way || now - pull.started > options_.pull_start_grace) {
            end_pull(current, false, now);
        }
    }
}

void ImageDistribution::forget_node(const std::string& node_id) {
    std::lock_guard lock{mutex_};
    auto it = pulls_.lower_bound({node_id, std::string{}});
    while (it != pulls_.end() && it->first.first == node_id) {
        if (it->second.ahead_of_demand) --pulls_ahead_in_flight_;
        it = pulls_.erase(it);
    }
    pulls_tracked_.store(pulls_.size(), std::memory_order_relaxed);
}

std::vector<std::pair<std::string, std::string>> ImageDistribution::take_failed_pulls() {
    std::lock_guard lock{mutex_};
    return std::exchange(failed_since_taken_, {});
}

void ImageDistribution::pin(const std::string& image, int min_hosts) {
    std::lock_guard lock{mutex_};
    images_[image].min_hosts = std::max(min_hosts, 0);
}

std::map<std::string, int> ImageDistribution::pins() const {
    std::map<std::string, int> pinned;
    std::lock_guard lock{mutex_};
    for (const auto& [name, image] : images_) {
        if (image.min_hosts > 0) pinned.emplace(name, image.min_hosts);
    }
    return pinned;
}

bool ImageDistribution::known(std::string_view image) const {
    std::lock_guard lock{mutex_};
    return images_.find(image) != images_.end();
}

std::vector<PullOrder> ImageDistribution::plan(const std::vector<fleet::NodeSnapshot>& nodes,
                                               const std::map<std::string, ImageLoad, std::less<>>& load,
                                               TimePoint now) {
    std::lock_guard lock{mutex_};
    std::erase_if(failed_until_, [now](const auto& entry) { return entry.second <= now; });

    for (auto& [name, image] : images_) {
        image.load = {};
        image.holders = 0;
        image.pulling = 0;
    }
    for (const auto& [name, image_load] : load) {
        auto& image = images_[name];
        image.load = image_load;
        image.seen_recently = true;
        auto& minute = minute_of(image, now);
        minute.peak = std::max(minute.peak, demand_now(image_load));
    }

    // Who holds and who pulls what; which hosts are busy pulling (one pull per host at a time).
    // Counted by name first: a fleet holds a few dozen images, so the ordered map of images is
    // looked up once per image, not once per host and image.
    std::unordered_set<std::string_view> busy;
    std::unordered_map<std::string_view, std::pair<int, int>> seen; // holders, pulling
    std::size_t accepting = 0;
    for (const auto& node : nodes) {
        if (!node->online) continue;
        if (fleet::accepts_new_vms(*node)) ++accepting;
        for (const auto& image : node->report.cached_images) ++seen[image].first;
        for (const auto& image : node->report.pulling_images) ++seen[image].second;
        if (!node->report.pulling_images.empty()) busy.insert(node->node_id());
    }
    for (const auto& [name, counts] : seen) {
        auto it = images_.find(name);
        if (it == images_.end()) it = images_.emplace(std::string(name), ImageState{}).first;
        it->second.holders = counts.first;
        it->second.pulling = counts.second;
    }
    for (const auto& [key, pull] : pulls_) {
        busy.insert(key.first);
        // Asked for, not yet shown under way by a heartbeat: counted as pulling all the same.
        if (!pull.seen_under_way) ++images_[key.second].pulling;
    }

    for (auto it = images_.begin(); it != images_.end();) {
        auto& image = it->second;
        trim(image, now);
        const int floor = std::max(image.min_hosts, image.load.rollout_hosts);
        image.target = std::min(target_hosts(peak(image), floor, options_), static_cast<int>(accepting));
        const bool idle = image.holders == 0 && image.pulling == 0 && image.min_hosts == 0 && image.minutes.empty() &&
                          !image.seen_recently;
        image.seen_recently = false;
        it = idle ? images_.erase(it) : std::next(it);
    }

    std::vector<PullOrder> orders;
    if (pulls_ahead_in_flight_ >= options_.max_concurrent_pulls) return orders; // also: turned off (0)

    // The images short of their target, the furthest short first.
    std::vector<std::pair<int, const std::string*>> short_of_target;
    for (const auto& [name, image] : images_) {
        const int gap = image.target - image.holders - image.pulling;
        if (gap > 0) short_of_target.emplace_back(gap, &name);
    }
    std::sort(short_of_target.begin(), short_of_target.end(),
              [](const auto& a, const auto& b) { return a.first != b.first ? a.first > b.first : *a.second < *b.second; });
    if (short_of_target.empty()) return orders;

    // Idle hosts first: fewest VMs, then the most free disk.
    std::vector<const fleet::NodeRecord*> candidates;
    for (const auto& node : nodes) {
        if (fleet::accepts_new_vms(*node) && !busy.contains(node->node_id())) candidates.push_back(node.get());
    }
    std::sort(candidates.begin(), candidates.end(), [](const fleet::NodeRecord* a, const fleet::NodeRecord* b) {
        const int vms_a = a->report.running_vms();
        const int vms_b = b->report.running_vms();
        if (vms_a != vms_b) return vms_a < vms_b;
        const double free_a = a->report.total_disk_gb - a->report.disk_usage_gb;
        const double free_b = b->report.total_disk_gb - b->report.disk_usage_gb;
        if (free_a != free_b) return free_a > free_b;
        return a->node_id() < b->node_id();
    });

    for (auto& [gap, name] : short_of_target) {
        for (auto candidate = candidates.begin();
             gap > 0 && candidate != candidates.end() && pulls_ahead_in_flight_ < options_.max_concurrent_pulls;) {
            const fleet::NodeRecord& node = **candidate;
            if (lists(node.report.cached_images, *name) || failed_until_.contains({node.node_id(), *name})) {
                ++candidate;
                continue;
            }
            PullOrder order{node.node_id(), *name, {}};
            // Never evict an image the host is one of too few holders of.
            for (const auto& held : node.report.cached_images) {
                const auto image = images_.find(held);
                if (image != images_.end() && image->second.holders <= image->second.target) order.keep_images.push_back(held);
            }
            pulls_[{node.node_id(), *name}] = Pull{now, true, false};
            pulls_tracked_.store(pulls_.size(), std::memory_order_relaxed);
            ++pulls_ahead_in_flight_;
            ++counts_.started;
            ++images_[*name].pulling;
            --gap;
            spdlog::info("node {}: pull image {} ahead of demand ({} hosts hold it, target {})", node.node_id(), *name,
                         images_[*name].holders, images_[*name].target);
            orders.push_back(std::move(order));
            candidate = candidates.erase(candidate); // one pull per host at a time
        }
    }
    return orders;
}

std::vector<ImageStatus> ImageDistribution::status(TimePoint now) const {
    std::vector<ImageStatus> statuses;
    std::lock_guard lock{mutex_};
    const auto window = std::chrono::duration_cast<std::chrono::minutes>(options_.demand_window).count();
    const auto oldest = minute_number(now) - std::max<std::int64_t>(window, 1) + 1;
    for (const auto& [name, image] : images_) {
        ImageStatus status;
        status.image_name = name;
        status.load = image.load;
        status.min_hosts = image.min_hosts;
        status.target = image.target;
        status.holders = image.holders;
        status.pulling = image.pulling;
        std::uint64_t placements = 0;
        for (const auto& minute : image.minutes) {
            if (minute.minute < oldest) continue;
            status.peak_demand = std::max(status.peak_demand, minute.peak);
            status.cached_placements += minute.cached;
            status.uncached_placements += minute.uncached;
        }
        placements = status.cached_placements + status.uncached_placements;
        status.placements_per_minute = static_cast<double>(placements) / static_cast<double>(std::max<std::int64_t>(window, 1));
        if (image.pulls_timed > 0) status.mean_pull_seconds = image.pull_seconds_total / static_cast<double>(image.pulls_timed);
        statuses.push_back(std::move(status));
    }
    return statuses;
}

PullCounts ImageDistribution::pull_counts() const {
    std::lock_guard lock{mutex_};
    return counts_;
}

int ImageDistribution::pulls_in_flight() const {
    std::lock_guard lock{mutex_};
    return pulls_ahead_in_flight_;
}

} // namespace macvmorx::orchestrator
