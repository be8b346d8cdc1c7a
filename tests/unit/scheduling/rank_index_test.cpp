#include "macvmorx/scheduling/rank_index.hpp"

#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

using macvmorx::scheduling::RankIndex;

namespace {

// The scheduler's key, as far as the index reads it.
struct RankedMac {
    int used_slots;
    int cpu_percent;
    const std::string* node_id;
    bool operator==(const RankedMac&) const = default;
};

// The rank order the index must give: slots, then CPU, then node id.
struct RankedMacOrder {
    bool operator()(const RankedMac& a, const RankedMac& b) const {
        return std::tuple{a.used_slots, a.cpu_percent, *a.node_id} < std::tuple{b.used_slots, b.cpu_percent, *b.node_id};
    }
};

std::vector<RankedMac> ranked_in_order(const RankIndex<RankedMac>& index) {
    std::vector<RankedMac> keys;
    index.find_first([&keys](const RankedMac& key) {
        keys.push_back(key);
        return false;
    });
    return keys;
}

} // namespace

TEST(RankIndex, GivesFewestSlotsThenLowestCpuThenNodeIdFirst) {
    const std::string a = "mac-a", b = "mac-b", c = "mac-c", d = "mac-d";
    RankIndex<RankedMac> index;
    index.insert({1, 5, &a});
    index.insert({0, 90, &b});
    index.insert({0, 20, &d});
    index.insert({0, 20, &c});
    EXPECT_EQ(ranked_in_order(index), (std::vector<RankedMac>{{0, 20, &c}, {0, 20, &d}, {0, 90, &b}, {1, 5, &a}}));
    EXPECT_EQ(index.size(), 4u);
    const RankedMac* first_above_50 = index.find_first([](const RankedMac& key) { return key.cpu_percent > 50; });
    ASSERT_NE(first_above_50, nullptr);
    EXPECT_EQ(*first_above_50->node_id, "mac-b");
    EXPECT_EQ(index.find_first([](const RankedMac&) { return false; }), nullptr);
}

TEST(RankIndex, InsertsAKeyOnceAndErasesOnlyWhatIsIn) {
    const std::string a = "mac-a";
    RankIndex<RankedMac> index;
    EXPECT_TRUE(index.insert({0, 100, &a}));
    EXPECT_FALSE(index.insert({0, 100, &a})) << "an image listed twice is indexed once";
    EXPECT_FALSE(index.erase({0, 99, &a})) << "the key it was inserted as, not another";
    EXPECT_TRUE(index.erase({0, 100, &a}));
    EXPECT_FALSE(index.erase({0, 100, &a}));
    EXPECT_TRUE(index.empty());
    index.move({0, 100, &a}, {0, 3, &a});
    EXPECT_TRUE(index.empty()) << "moving what is not in adds nothing";
}

// Thousands of random inserts, moves and erases, as heartbeats and placements make them: the
// index holds what a std::set in the rank order holds, in the same order.
TEST(RankIndex, FollowsAnOrderedSetThroughRandomChanges) {
    // Short ids, and long ones that share their first 16 bytes (the index compares those first).
    std::vector<std::string> ids;
    for (int i = 0; i < 150; ++i) ids.push_back("mac-" + std::to_string(i));
    for (int i = 0; i < 150; ++i) ids.push_back("macstadium-rack-a" + std::string(i % 3, '-') + std::to_string(i));
    ids.push_back("macstadium-rack-"); // exactly 16 bytes: before every longer id it begins
    std::vector<std::optional<RankedMac>> indexed(ids.size());
    RankIndex<RankedMac> index;
    std::set<RankedMac, RankedMacOrder> reference;
    std::mt19937 random{24};
    for (int step = 0; step < 20'000; ++step) {
        const std::size_t node = random() % ids.size();
        const RankedMac next{static_cast<int>(random() % 2), static_cast<int>(random() % 101), &ids[node]};
        switch (random() % 3) {
        case 0: // a new CPU figure or slot count: moved, or indexed when it was not
            if (indexed[node]) {
                index.move(*indexed[node], next);
                reference.erase(*indexed[node]);
            } else {
                index.insert(next);
            }
            reference.insert(next);
            indexed[node] = next;
            break;
        case 1: // full, offline or forgotten
            if (indexed[node]) {
                EXPECT_TRUE(index.erase(*indexed[node]));
                reference.erase(*indexed[node]);
                indexed[node].reset();
            }
            break;
        default: // the same node indexed again (an image listed twice)
            if (indexed[node]) {
                EXPECT_FALSE(index.insert(*indexed[node]));
            }
            break;
        }
        ASSERT_EQ(index.size(), reference.size()) << "step " << step;
    }
    EXPECT_EQ(ranked_in_order(index), std::vector<RankedMac>(reference.begin(), reference.end()));
}
