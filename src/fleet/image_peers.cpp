#include "macvmorx/fleet/image_peers.hpp"

#include <algorithm>
#include <string>

namespace macvmorx::fleet {
std::string lab_of(const NodeRecord& node) {
    const auto labels = node.labels();
    const auto* lab = protocol::find(labels, lab_label);
    return lab == nullptr ? std::string{} : lab->value;
}

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

FetchPlan ImageFetches::plan(const std::vector<NodeSnapshot>& nodes, const NodeRecord& requester, const std::string& image,
                              TimePoint now) {
    const Key key{lab_of(requester), image};
    auto holders = image_peers(nodes, requester, image, nodes.size());
    std::map<std::string_view, const NodeRecord*> by_id;
    for (const auto& node : nodes) {
        if (node) by_id.emplace(node->node_id(), node.get());
    }

    std::lock_guard lock{mutex_};
    auto& fetches = fetches_[key];
    auto& progress = last_progress_.try_emplace(key, now).first->second;
    // Done (the Mac lists the image), gone (offline, forgotten), too old, or asked again.
    std::erase_if(fetches, [&](const Fetch& fetch) {
        const auto it = by_id.find(fetch.node_id);
        if (it == by_id.end() || !it->second->online || fetch.node_id == requester.node_id()) return true;
        const auto& images = it->second->report.cached_images;
        if (std::find(images.begin(), images.end(), image) != images.end()) {
            progress = now;
            return true;
        }
        return now - fetch.started > rules_.fetch_lease;
    });
    const auto waiting_key = std::tuple{key.first, key.second, requester.node_id()};
    const auto since = waiting_since_.try_emplace(waiting_key, now).first->second;
    const bool waited_enough = now - since >= rules_.max_wait && now - progress >= rules_.max_wait;

    FetchPlan plan;
    const auto admit = [&](bool from_bucket, std::vector<std::string> peers) {
        fetches.push_back({requester.node_id(), from_bucket, !requester.report.peer_url.empty(), std::move(peers), now});
        waiting_since_.erase(waiting_key);
        progress = now;
    };
    if (holders.empty()) {
        // Only a copy that will be served is worth waiting for.
        const auto bucket =
            std::find_if(fetches.begin(), fetches.end(), [](const Fetch& fetch) { return fetch.from_bucket && fetch.serves; });
        if (bucket == fetches.end() || waited_enough) {
            admit(true, {});
            return plan;
        }
        plan.wait = true;
        plan.retry_after = rules_.retry_after;
        plan.reason = "waiting for " + bucket->node_id + " to fetch the lab's copy of " + image + " from its bucket";
        return plan;
    }
    // Each holder serves a few fetches at once: the least loaded first.
    std::map<std::string, int> load;
    std::size_t from_peers = 0;
    for (const auto& fetch : fetches) {
        if (fetch.from_bucket) continue;
        ++from_peers;
        for (const auto& peer : fetch.peers) ++load[peer];
    }
    const auto capacity = holders.size() * static_cast<std::size_t>(rules_.uploads_per_holder);
    if (from_peers >= capacity && waited_enough) {
        admit(true, {}); // the lab's fetches are stuck: the bucket, rather than more on busy peers
        return plan;
    }
    if (from_peers >= capacity) {
        plan.wait = true;
        plan.retry_after = rules_.retry_after;
        plan.reason = "waiting for one of the " + std::to_string(holders.size()) + " Macs of the lab that hold " + image +
                      " to have an upload free (" + std::to_string(from_peers) + " fetches under way)";
        return plan;
    }
    std::stable_sort(holders.begin(), holders.end(),
                     [&load](const NodeSnapshot& a, const NodeSnapshot& b) { return load[a->node_id()] < load[b->node_id()]; });
    if (holders.size() > rules_.max_peers) holders.resize(rules_.max_peers);
    std::vector<std::string> names;
    for (const auto& holder : holders) names.push_back(holder->node_id());
    admit(false, std::move(names));
    plan.peers = std::move(holders);
    return plan;
}

std::pair<std::size_t, std::size_t> ImageFetches::under_way(const std::string& lab, const std::string& image) const {
    std::lock_guard lock{mutex_};
    const auto it = fetches_.find({lab, image});
    if (it == fetches_.end()) return {0, 0};
    const auto bucket = static_cast<std::size_t>(
        std::count_if(it->second.begin(), it->second.end(), [](const Fetch& fetch) { return fetch.from_bucket; }));
    return {bucket, it->second.size() - bucket};
}

} // namespace macvmorx::fleet
