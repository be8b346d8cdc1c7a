// The queue's order: priority, ageing, weighted fair share between tenants, tenants' caps.

#include "lifecycle/placement_order.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using macvmorx::TimePoint;
using macvmorx::lifecycle::OrderedRequest;
using macvmorx::lifecycle::QueueOptions;
using macvmorx::lifecycle::WaitingRequest;

namespace {

const TimePoint order_now{std::chrono::hours{1000}};

struct QueueBuilder {
    std::vector<std::string> tenants; // kept alive: requests view them
    std::vector<WaitingRequest> requests;
    std::map<std::string, int, std::less<>> in_use;

    QueueBuilder() { tenants.reserve(4096); }
    void add(const std::string& tenant, int count, int priority = 0, TimePoint since = order_now) {
        for (int i = 0; i < count; ++i) {
            tenants.push_back(tenant);
            requests.push_back({priority, tenants.back(), since});
        }
    }
    // The tenant of each request, in placement order.
    std::vector<std::string> order(const QueueOptions& options = {}) const {
        const auto used = [this](std::string_view tenant) {
            const auto it = in_use.find(tenant);
            return it == in_use.end() ? 0 : it->second;
        };
        std::vector<std::string> names;
        for (const auto& entry : macvmorx::lifecycle::placement_order(requests, options, used, order_now)) {
            names.push_back(std::string(requests[entry.index].tenant) + (entry.tenant_at_cap ? "!" : ""));
        }
        return names;
    }
};

int count_in_first(const std::vector<std::string>& names, std::size_t first, const std::string& tenant) {
    int count = 0;
    for (std::size_t i = 0; i < first && i < names.size(); ++i) count += names[i] == tenant;
    return count;
}

} // namespace

TEST(PlacementOrderTest, HigherPrioritiesArePlacedFirst) {
    QueueBuilder queue;
    queue.add("low", 2, 0);
    queue.add("high", 2, 5);
    EXPECT_EQ(queue.order(), (std::vector<std::string>{"high", "high", "low", "low"}));
}

TEST(PlacementOrderTest, AFloodOfOneTenantCannotStarveANeighbourOfTheSamePriority) {
    QueueBuilder queue;
    queue.add("flood", 1000);
    queue.add("neighbour", 3);
    const auto names = queue.order();
    ASSERT_EQ(names.size(), 1003u);
    // They take turns: the neighbour's three come within the first six places.
    EXPECT_EQ(count_in_first(names, 6, "neighbour"), 3);
}

TEST(PlacementOrderTest, WeightsShareTheFleetInProportion) {
    QueueBuilder queue;
    queue.add("big", 30);
    queue.add("small", 30);
    QueueOptions options;
    options.tenants["big"].weight = 2;
    const auto names = queue.order(options);
    EXPECT_EQ(count_in_first(names, 9, "big"), 6);
    EXPECT_EQ(count_in_first(names, 9, "small"), 3);
}

TEST(PlacementOrderTest, ATenantUsingMoreOfTheFleetWaitsBehindOneUsingLess) {
    QueueBuilder queue;
    queue.add("busy", 5);
    queue.add("idle", 5);
    queue.in_use["busy"] = 4;
    const auto names = queue.order();
    EXPECT_EQ(count_in_first(names, 4, "idle"), 4);
}

TEST(PlacementOrderTest, RequestsOfATenantAtItsCapComeLastAndAreMarked) {
    QueueBuilder queue;
    queue.add("capped", 3);
    queue.add("other", 1);
    queue.in_use["capped"] = 1;
    QueueOptions options;
    options.tenants["capped"].max_vms = 2;
    EXPECT_EQ(queue.order(options), (std::vector<std::string>{"other", "capped", "capped!", "capped!"}));
}

TEST(PlacementOrderTest, AgeingLetsALongWaitingLowPriorityRequestJoinHigherOnesAndGoFirstAmongThem) {
    QueueBuilder queue;
    queue.add("old-low", 1, 0, order_now - 25min); // two levels with ageing every 10 minutes
    queue.add("new-high", 2, 1, order_now);
    // It joins priority 1, where the tenants share: it, older, goes first.
    EXPECT_EQ(queue.order(), (std::vector<std::string>{"old-low", "new-high", "new-high"}));
    QueueOptions no_ageing;
    no_ageing.priority_aging = {};
    EXPECT_EQ(queue.order(no_ageing), (std::vector<std::string>{"new-high", "new-high", "old-low"}));
    // Not waited enough: it stays below.
    QueueBuilder recent;
    recent.add("old-low", 1, 0, order_now - 5min);
    recent.add("new-high", 1, 1, order_now);
    EXPECT_EQ(recent.order(), (std::vector<std::string>{"new-high", "old-low"}));
}

TEST(PlacementOrderTest, AgeingDoesNotSetAFloodsOlderRequestsAboveANeighbourOfTheSamePriority) {
    QueueBuilder queue;
    queue.add("flood", 50, 0, order_now - 45min); // waited four levels: no higher priority to join
    queue.add("neighbour", 2, 0, order_now);
    const auto names = queue.order();
    EXPECT_EQ(count_in_first(names, 4, "neighbour"), 2) << "fair share holds within the priority";
}

TEST(PlacementOrderTest, WithoutFairShareItIsFirstComeFirstServedWithinAPriority) {
    QueueBuilder queue;
    queue.add("flood", 4);
    queue.add("neighbour", 1);
    QueueOptions options;
    options.fair_share = false;
    EXPECT_EQ(queue.order(options), (std::vector<std::string>{"flood", "flood", "flood", "flood", "neighbour"}));
}
