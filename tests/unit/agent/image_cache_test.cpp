#include "macvmorx/agent/image_cache.hpp"

#include "test_time.hpp"

#include <gtest/gtest.h>

using namespace std::chrono_literals;
using macvmorx::TimePoint;
using macvmorx::agent::ImageCache;
using macvmorx::testing::t0;

TEST(ImageCache, ReportsImagesMostRecentlyUsedFirst) {
    ImageCache cache{5, 10};
    cache.add("old", 20, t0);
    cache.add("new", 20, t0 + 2min);
    cache.add("middle", 20, t0 + 1min);
    EXPECT_EQ(cache.names(), (std::vector<std::string>{"new", "middle", "old"}));
    cache.acquire("old", t0 + 3min);
    EXPECT_EQ(cache.names().front(), "old");
    EXPECT_DOUBLE_EQ(cache.total_size_gb(), 60);
}

TEST(ImageCache, NothingIsEvictedWhileThereIsRoom) {
    ImageCache cache{3, 10};
    cache.add("a", 20, t0);
    EXPECT_EQ(cache.eviction_plan(30, 500), std::vector<std::string>{});
}

TEST(ImageCache, AtTheImageLimitTheLeastRecentlyUsedUnusedImageGoes) {
    ImageCache cache{3, 10};
    cache.add("a", 20, t0);
    cache.add("b", 20, t0 + 1min);
    cache.add("c", 20, t0 + 2min);
    EXPECT_EQ(cache.eviction_plan(30, 500), std::vector<std::string>{"a"});
    cache.acquire("a", t0 + 3min); // now in use and most recent
    EXPECT_EQ(cache.eviction_plan(30, 500), std::vector<std::string>{"b"});
}

TEST(ImageCache, AnImageAVmUsesIsNeverEvicted) {
    ImageCache cache{2, 10};
    cache.add("a", 20, t0);
    cache.add("b", 20, t0 + 1min);
    cache.acquire("a", t0);
    cache.acquire("b", t0);
    EXPECT_FALSE(cache.eviction_plan(30, 500)) << "both images run VMs";
    cache.release("b", t0 + 5min);
    EXPECT_EQ(cache.eviction_plan(30, 500), std::vector<std::string>{"b"});
}

TEST(ImageCache, TheFreeDiskFloorEvictsMoreThanTheCountWould) {
    ImageCache cache{10, 50};
    cache.add("a", 40, t0);
    cache.add("b", 30, t0 + 1min);
    cache.add("c", 30, t0 + 2min);
    // 100 GB free, 60 incoming: 40 left, below the floor of 50 -> a (40 GB) must go.
    EXPECT_EQ(cache.eviction_plan(60, 100), std::vector<std::string>{"a"});
    // 95 incoming: a and b must go.
    EXPECT_EQ(cache.eviction_plan(95, 100), (std::vector<std::string>{"a", "b"}));
    EXPECT_FALSE(cache.eviction_plan(500, 100)) << "not even an empty cache makes room";
}

TEST(ImageCache, RemovingAndReAddingKeepsOneEntry) {
    ImageCache cache{5, 10};
    cache.add("a", 20, t0);
    cache.add("a", 25, t0 + 1min);
    EXPECT_EQ(cache.size(), 1u);
    EXPECT_DOUBLE_EQ(cache.find("a")->size_gb, 25);
    cache.remove("a");
    EXPECT_FALSE(cache.contains("a"));
}

TEST(ImageCache, AnImageToKeepIsPassedOverInWhateverSpellingAndWithoutTheOthersThereIsNoPlan) {
    ImageCache cache{3, 10};
    cache.add("ghcr.io/acme/a:latest", 20, t0);
    cache.add("b", 20, t0 + 1min);
    cache.add("c", 20, t0 + 2min);
    // "ghcr.io/acme/a" is tart's "ghcr.io/acme/a:latest": the least recently used, but kept.
    EXPECT_EQ(cache.eviction_plan(30, 500, {"ghcr.io/acme/a"}), std::vector<std::string>{"b"});
    EXPECT_EQ(cache.eviction_plan(30, 500, {"ghcr.io/acme/a", "b"}), std::vector<std::string>{"c"});
    EXPECT_FALSE(cache.eviction_plan(30, 500, {"ghcr.io/acme/a", "b", "c"})) << "room only by evicting a kept image";
    cache.acquire("c", t0 + 3min);
    EXPECT_FALSE(cache.eviction_plan(30, 500, {"ghcr.io/acme/a", "b"})) << "c runs a VM, the others are kept";
    EXPECT_EQ(cache.eviction_plan(30, 500), std::vector<std::string>{"ghcr.io/acme/a:latest"});
}
