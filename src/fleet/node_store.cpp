#include "macvmorx/fleet/node_store.hpp"

#include <algorithm>
#include <mutex>

namespace macvmorx::fleet {

NodeStore::NodeStore(std::size_t shard_count)
    : shards_{std::make_unique<Shard[]>(std::max<std::size_t>(shard_count, 1))},
      shard_count_{std::max<std::size_t>(shard_count, 1)} {}

NodeStore::Shard& NodeStore::shard_for(std::string_view node_id) const {
    // The map hashes again with the same function; mixing the high bits here keeps the shard
    // choice independent from the bucket choice inside the shard.
    const std::size_t hash = StringHash{}(node_id);
    return shards_[(hash ^ (hash >> 29)) % shard_count_];
}

void NodeStore::update(std::string_view node_id, const std::function<void(NodeSnapshot&)>& change) {
    Shard& shard = shard_for(node_id);
    std::unique_lock lock{shard.mutex};
    auto it = shard.nodes.find(node_id);
    if (it == shard.nodes.end()) {
        NodeSnapshot slot;
        change(slot);
        if (slot) shard.nodes.emplace(std::string{node_id}, std::move(slot));
        return;
    }
    change(it->second);
    if (!it->second) shard.nodes.erase(it);
}

NodeSnapshot NodeStore::find(std::string_view node_id) const {
    const Shard& shard = shard_for(node_id);
    std::shared_lock lock{shard.mutex};
    const auto it = shard.nodes.find(node_id);
    return it == shard.nodes.end() ? nullptr : it->second;
}

std::vector<NodeSnapshot> NodeStore::list() const {
    std::vector<NodeSnapshot> all;
    all.reserve(size());
    for_each([&all](const NodeSnapshot& record) { all.push_back(record); });
    // Sorting (id, position) pairs compares the ids without going through the records.
    std::vector<std::pair<std::string_view, std::size_t>> order;
    order.reserve(all.size());
    for (std::size_t i = 0; i < all.size(); ++i) order.emplace_back(all[i]->node_id(), i);
    std::sort(order.begin(), order.end());
    std::vector<NodeSnapshot> sorted;
    sorted.reserve(all.size());
    for (const auto& [id, index] : order) sorted.push_back(std::move(all[index]));
    return sorted;
}

void NodeStore::for_each(const std::function<void(const NodeSnapshot&)>& visit) const {
    for (std::size_t i = 0; i < shard_count_; ++i) {
        std::shared_lock lock{shards_[i].mutex};
        for (const auto& [id, record] : shards_[i].nodes) visit(record);
    }
}

std::size_t NodeStore::size() const {
    std::size_t total = 0;
    for (std::size_t i = 0; i < shard_count_; ++i) {
        std::shared_lock lock{shards_[i].mutex};
        total += shards_[i].nodes.size();
    }
    return total;
}

} // namespace macvmorx::fleet
