#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace macvmorx::scheduling {

// Nodes in the scheduler's rank order: fewest used slots, then lowest CPU in whole percent
// (0-100, as heartbeats are checked), then node id. One small bucket per (slots, CPU) pair,
// each sorted by node id, instead of one balanced tree: a heartbeat with a new CPU figure, the
// most common change by far, moves its node between two buckets (a few dozen entries at 10,000
// nodes, a few hundred at 100,000: a memmove of contiguous memory), where a tree of 10,000 or
// 100,000 nodes took an erase and an insert of 14-17 dependent cache misses each, and
// rebalancing (docs/benchmarks.md, issue 24).
//
// Key is the scheduler's RankKey: `used_slots`, `cpu_percent`, `node_id` (a pointer to the id)
// and equality. A key is found by its fields, so erase and move take the key it was inserted as.
template <typename Key>
class RankIndex {
public:
    static constexpr int cpu_levels = 101;

    bool empty() const { return size_ == 0; }
    std::size_t size() const { return size_; }

    // False when the key is in already (an image a node lists twice is indexed once).
    bool insert(const Key& key) {
        const std::size_t index = bucket_of(key);
        if (index >= buckets_.size()) buckets_.resize(index + 1);
        auto& bucket = buckets_[index];
        const Entry entry{key};
        const auto at = position(bucket, entry);
        if (at != bucket.end() && at->key == key) return false;
        bucket.insert(at, entry);
        ++size_;
        return true;
    }

    // False when the key is not in (moved or erased already).
    bool erase(const Key& key) {
        const std::size_t index = bucket_of(key);
        if (index >= buckets_.size()) return false;
        auto& bucket = buckets_[index];
        const auto at = position(bucket, Entry{key});
        if (at == bucket.end() || !(at->key == key)) return false;
        bucket.erase(at);
        --size_;
        return true;
    }

    // Moves `from` to `to`; nothing when `from` is not in.
    void move(const Key& from, const Key& to) {
        if (erase(from)) insert(to);
    }

    // The first key in rank order that `fits` accepts, or nullptr.
    template <typename Fits>
    const Key* find_first(Fits&& fits) const {
        for (const auto& bucket : buckets_) {
            for (const auto& entry : bucket) {
                if (fits(entry.key)) return &entry.key;
            }
        }
        return nullptr;
    }

private:
    // A key with the first 16 bytes of its node id, big-endian, so that a search within a
    // bucket (hundreds of nodes at 100,000) compares integers in the bucket itself and reads
    // the id only when those are equal (ids longer than 16 bytes that share them).
    struct Entry {
        std::uint64_t high = 0;
        std::uint64_t low = 0;
        Key key;

        explicit Entry(const Key& of) : key{of} {
            const std::string& id = *of.node_id;
            for (std::size_t i = 0; i < 16; ++i) {
                const auto byte = i < id.size() ? static_cast<unsigned char>(id[i]) : 0u;
                (i < 8 ? high : low) = ((i < 8 ? high : low) << 8) | byte;
            }
        }
        bool operator<(const Entry& other) const {
            if (high != other.high) return high < other.high;
            if (low != other.low) return low < other.low;
            return (key.node_id->size() > 16 || other.key.node_id->size() > 16) && *key.node_id < *other.key.node_id;
        }
    };

    static std::size_t bucket_of(const Key& key) {
        return static_cast<std::size_t>(std::max(key.used_slots, 0)) * cpu_levels +
               static_cast<std::size_t>(std::clamp(key.cpu_percent, 0, cpu_levels - 1));
    }
    // Where `entry` is or would go in its bucket (ordered by node id).
    static typename std::vector<Entry>::iterator position(std::vector<Entry>& bucket, const Entry& entry) {
        return std::lower_bound(bucket.begin(), bucket.end(), entry);
    }

    std::vector<std::vector<Entry>> buckets_;
    std::size_t size_ = 0;
};

} // namespace macvmorx::scheduling
