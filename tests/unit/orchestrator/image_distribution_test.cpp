// Images ahead of demand: targets, which hosts pull, what they keep, and how pulls end.

#include "macvmorx/orchestrator/image_distribution.hpp"

#include "fleet_builders.hpp"

#include <gtest/gtest.h>

#include <algorithm>

using namespace std::chrono_literals;
using macvmorx::TimePoint;
using macvmorx::fleet::NodeRecord;
using macvmorx::fleet::NodeSnapshot;
using macvmorx::orchestrator::ImageDistribution;
using macvmorx::orchestrator::ImageDistributionOptions;
using macvmorx::orchestrator::ImageLoad;
using macvmorx::orchestrator::PullOrder;

namespace {

using Load = std::map<std::string, ImageLoad, std::less<>>;

class ImageDistributionTest : public ::testing::Test {
protected:
    TimePoint now{std::chrono::hours{1000}};
    ImageDistributionOptions options = [] {
        ImageDistributionOptions defaults;
        defaults.max_concurrent_pulls = 4;
        return defaults;
    }();
    ImageDistribution images{options};
    std::vector<NodeSnapshot> nodes;

    NodeRecord& add_node(const std::string& id, std::vector<std::string> cached, int vms = 0, double disk_used = 100) {
        auto report = macvmorx::testing::heartbeat(id, std::move(cached), 10, vms);
        report.disk_usage_gb = disk_used;
        report.total_disk_gb = 1000;
        auto node = std::make_shared<NodeRecord>(macvmorx::testing::record(report));
        nodes.push_back(node);
        return *node;
    }
    std::vector<PullOrder> plan(const Load& load = {}) { return images.plan(nodes, load, now); }
    // The node's record as its next heartbeat gives it.
    void report(const std::string& id, std::vector<std::string> cached, std::vector<std::string> pulling = {}) {
        for (auto& node : nodes) {
            if (node->node_id() != id) continue;
            auto copy = std::make_shared<NodeRecord>(*node);
            copy->report.cached_images = std::move(cached);
            copy->report.pulling_images = std::move(pulling);
            node = copy;
            images.observe(*copy, now);
        }
    }
    static std::vector<std::string> hosts_of(const std::vector<PullOrder>& orders) {
        std::vector<std::string> hosts;
        for (const auto& order : orders) hosts.push_back(order.node_id);
        return hosts;
    }
};

} // namespace

TEST_F(ImageDistributionTest, TheTargetCoversThePeakAtTwoVmsPerHostWithAMargin) {
    EXPECT_EQ(ImageDistribution::target_hosts(0, 0, options), 0);
    EXPECT_EQ(ImageDistribution::target_hosts(1, 0, options), 2);  // one host, one more
    EXPECT_EQ(ImageDistribution::target_hosts(10, 0, options), 8); // five hosts, half again
    EXPECT_EQ(ImageDistribution::target_hosts(0, 3, options), 3);  // an operator's pin
    EXPECT_EQ(ImageDistribution::target_hosts(4, 5, options), 5);
    EXPECT_EQ(ImageDistribution::target_hosts(40, 5, options), 30);
}

TEST_F(ImageDistributionTest, APinnedImageIsPulledOntoTheIdlestHostsUntilTheTargetIsMet) {
    add_node("mac-holder", {"sonoma"});
    add_node("mac-busy", {}, 2);
    add_node("mac-full-disk", {}, 0, 900);
    add_node("mac-idle", {}, 0, 100);
    images.pin("sonoma", 3);
    const auto orders = plan();
    EXPECT_EQ(hosts_of(orders), (std::vector<std::string>{"mac-idle", "mac-full-disk"}));
    for (const auto& order : orders) EXPECT_EQ(order.image_name, "sonoma");
    // Asked for already: counted as pulling, not asked again.
    EXPECT_TRUE(plan().empty());
}

TEST_F(ImageDistributionTest, DemandRaisesTheTargetAndTheWindowRemembersThePeak) {
    for (int i = 0; i < 8; ++i) add_node("mac-" + std::to_string(i), {});
    plan({{"sequoia", {.vms_in_use = 4}}});
    auto status = images.status(now);
    ASSERT_EQ(status.size(), 1u);
    EXPECT_EQ(status[0].target, 3); // two hosts for four VMs, one more
    now += 5min;
    plan({{"sequoia", {}}});
    EXPECT_EQ(images.status(now)[0].target, 3) << "the peak within the window still counts";
    now += 31min;
    plan({{"sequoia", {}}});
    EXPECT_EQ(images.status(now)[0].target, 0) << "the window forgot the peak";
}

TEST_F(ImageDistributionTest, AtMostMaxConcurrentPullsInTheFleetAndOnePerHost) {
    ImageDistributionOptions one_at_a_time = options;
    one_at_a_time.max_concurrent_pulls = 1;
    ImageDistribution limited{one_at_a_time};
    for (int i = 0; i < 4; ++i) add_node("mac-" + std::to_string(i), {"base"});
    limited.pin("base", 4);
    limited.pin("sonoma", 4);
    limited.pin("sequoia", 4);
    EXPECT_EQ(limited.plan(nodes, {}, now).size(), 1u);
    EXPECT_TRUE(limited.plan(nodes, {}, now).empty());
    EXPECT_EQ(limited.pulls_in_flight(), 1);

    ImageDistribution per_host{options};
    per_host.pin("sonoma", 4);
    per_host.pin("sequoia", 4);
    const auto orders = per_host.plan(nodes, {}, now);
    auto hosts = hosts_of(orders);
    std::sort(hosts.begin(), hosts.end());
    EXPECT_EQ(std::unique(hosts.begin(), hosts.end()), hosts.end()) << "two pulls asked of one host";
}

TEST_F(ImageDistributionTest, AHostIsNeverAskedToEvictAnImageItIsOneOfTooFewHoldersOf) {
    add_node("mac-a", {"ventura", "monterey"});
    add_node("mac-b", {});
    images.pin("ventura", 2); // one holder of two: mac-a must keep it
    images.pin("sonoma", 2);
    const auto orders = plan();
    const auto on_a = std::find_if(orders.begin(), orders.end(), [](const PullOrder& order) {
        return order.node_id == "mac-a" && order.image_name == "sonoma";
    });
    ASSERT_NE(on_a, orders.end());
    EXPECT_EQ(on_a->keep_images, std::vector<std::string>{"ventura"}) << "monterey has no demand: it may go";
}

TEST_F(ImageDistributionTest, APullEndsWhenTheHostCachesTheImageAndIsTimed) {
    add_node("mac-a", {});
    images.pin("sonoma", 1);
    ASSERT_EQ(plan().size(), 1u);
    now += 10s;
    report("mac-a", {}, {"sonoma"});
    now += 50s;
    report("mac-a", {"sonoma"});
    const auto counts = images.pull_counts();
    EXPECT_EQ(counts.started, 1u);
    EXPECT_EQ(counts.finished, 1u);
    EXPECT_EQ(counts.failed, 0u);
    EXPECT_EQ(images.pulls_in_flight(), 0);
    plan();
    const auto status = images.status(now);
    ASSERT_EQ(status.size(), 1u);
    EXPECT_EQ(status[0].holders, 1);
    ASSERT_TRUE(status[0].mean_pull_seconds);
    EXPECT_DOUBLE_EQ(*status[0].mean_pull_seconds, 60.0);
}

TEST_F(ImageDistributionTest, APullThatStopsWithoutTheImageFailedAndTheHostIsNotAskedAgainSoon) {
    add_node("mac-a", {});
    images.pin("sonoma", 1);
    ASSERT_EQ(plan().size(), 1u);
    report("mac-a", {}, {"sonoma"});
    report("mac-a", {}, {});
    EXPECT_EQ(images.pull_counts().failed, 1u);
    const auto failed = images.take_failed_pulls();
    ASSERT_EQ(failed.size(), 1u);
    EXPECT_EQ(failed[0], (std::pair<std::string, std::string>{"mac-a", "sonoma"}));
    EXPECT_TRUE(plan().empty()) << "asked again at once";
    now += options.retry_after_failure + 1s;
    EXPECT_EQ(plan().size(), 1u);
}

TEST_F(ImageDistributionTest, APullNoHeartbeatEverShowsUnderWayFailsAfterTheGrace) {
    add_node("mac-a", {});
    images.pin("sonoma", 1);
    ASSERT_EQ(plan().size(), 1u);
    report("mac-a", {});
    EXPECT_EQ(images.pull_counts().failed, 0u) << "an agent may take a moment to start";
    now += options.pull_start_grace + 1s;
    report("mac-a", {});
    EXPECT_EQ(images.pull_counts().failed, 1u);
}

TEST_F(ImageDistributionTest, TurnedOffItAsksForNoPull) {
    ImageDistributionOptions off = options;
    off.max_concurrent_pulls = 0;
    ImageDistribution disabled{off};
    add_node("mac-a", {});
    disabled.pin("sonoma", 1);
    EXPECT_TRUE(disabled.plan(nodes, {}, now).empty());
}
