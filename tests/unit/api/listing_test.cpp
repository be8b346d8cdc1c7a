#include "macvmorx/api/listing.hpp"

#include "macvmorx/api/fleet_json.hpp"
#include "macvmorx/base/invalid_input.hpp"
#include "macvmorx/http/content_encoding.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using macvmorx::api::ChangeTracker;
using macvmorx::api::ItemDigest;
using macvmorx::api::ListingChanges;
using macvmorx::api::ListingDelta;

namespace {

std::vector<std::string> ids_of(const ListingDelta& delta, const std::vector<ItemDigest>& items) {
    std::vector<std::string> ids;
    for (const auto i : delta.changed) ids.push_back(items[i].id);
    return ids;
}

macvmorx::http::Request request_for(const std::string& target, std::vector<std::pair<std::string, std::string>> query,
                                    std::vector<macvmorx::http::Header> headers = {}) {
    macvmorx::http::Request request;
    request.target = target;
    request.query = std::move(query);
    request.headers = std::move(headers);
    return request;
}

} // namespace

TEST(ChangeTracker, AnUnknownRevisionGetsTheWholeListAndARevisionToAskWith) {
    ChangeTracker tracker;
    const std::vector<ItemDigest> items{{"a", 1}, {"b", 2}};
    for (const auto* since : {"", "0", "nonsense", "12345678.1"}) {
        const auto delta = tracker.observe(items, since);
        EXPECT_TRUE(delta.full) << since;
        EXPECT_FALSE(delta.revision.empty());
    }
}

TEST(ChangeTracker, OnlyWhatChangedSinceTheRevisionIsGiven) {
    ChangeTracker tracker;
    std::vector<ItemDigest> items{{"a", 1}, {"b", 2}, {"c", 3}};
    const auto first = tracker.observe(items, "");
    auto same = tracker.observe(items, first.revision);
    EXPECT_FALSE(same.full);
    EXPECT_TRUE(same.changed.empty());
    EXPECT_TRUE(same.removed.empty());
    EXPECT_EQ(same.revision, first.revision) << "nothing changed: the revision stays";

    items[1].digest = 20;
    items.push_back({"d", 4});
    const auto second = tracker.observe(items, first.revision);
    EXPECT_FALSE(second.full);
    EXPECT_EQ(ids_of(second, items), (std::vector<std::string>{"b", "d"}));
    EXPECT_NE(second.revision, first.revision);

    // A reader that has the second revision sees nothing new; one still at the first sees both.
    EXPECT_TRUE(tracker.observe(items, second.revision).changed.empty());
    EXPECT_EQ(ids_of(tracker.observe(items, first.revision), items), (std::vector<std::string>{"b", "d"}));
}

TEST(ChangeTracker, RemovedItemsAreNamed) {
    ChangeTracker tracker;
    std::vector<ItemDigest> items{{"a", 1}, {"b", 2}, {"c", 3}};
    const auto first = tracker.observe(items, "");
    items.erase(items.begin() + 1);
    const auto second = tracker.observe(items, first.revision);
    EXPECT_FALSE(second.full);
    EXPECT_TRUE(second.changed.empty());
    EXPECT_EQ(second.removed, (std::vector<std::string>{"b"}));
    EXPECT_TRUE(tracker.observe(items, second.revision).removed.empty());

    // Gone and back: the reader at the first revision needs it again, and not as removed.
    items.push_back({"b", 2});
    const auto third = tracker.observe(items, first.revision);
    EXPECT_EQ(ids_of(third, items), (std::vector<std::string>{"b"}));
}

TEST(ChangeTracker, AReaderFurtherBehindThanTheRemovalsKeptReadsTheWholeList) {
    ChangeTracker tracker;
    std::vector<ItemDigest> items;
    for (int i = 0; i < 10; ++i) items.push_back({"keep-" + std::to_string(i), 1});
    const auto start = tracker.observe(items, "");
    // Five thousand items come and go, one revision each: more removals than are kept.
    for (int i = 0; i < 5000; ++i) {
        items.push_back({"gone-" + std::to_string(i), 1});
        tracker.observe(items, "");
        items.pop_back();
        tracker.observe(items, "");
    }
    EXPECT_TRUE(tracker.observe(items, start.revision).full);
}

TEST(ChangeTracker, ARevisionOfAnotherDaemonOrFromTheFutureIsUnknown) {
    ChangeTracker one;
    ChangeTracker other;
    const std::vector<ItemDigest> items{{"a", 1}};
    const auto from_one = one.observe(items, "");
    EXPECT_TRUE(other.observe(items, from_one.revision).full);
    const auto dot = from_one.revision.find('.');
    EXPECT_TRUE(one.observe(items, from_one.revision.substr(0, dot) + ".99").full);
    EXPECT_TRUE(one.observe(items, from_one.revision.substr(0, dot) + ".x").full);
}

TEST(ListingChanges, EachListingAndFilterHasItsOwnTracker) {
    ListingChanges changes;
    EXPECT_EQ(changes.tracker("nodes"), changes.tracker("nodes"));
    EXPECT_NE(changes.tracker("vms?state=running"), changes.tracker("vms?state=pending"));
    // Beyond the few it keeps, the least recently used goes: its reader reads in full once.
    const auto nodes = changes.tracker("nodes");
    for (int i = 0; i < 100; ++i) changes.tracker("vms?nodeId=mac-" + std::to_string(i));
    EXPECT_NE(changes.tracker("nodes"), nodes);
}

TEST(ListingQuery, ReadsSinceOrAPage) {
    const auto since = macvmorx::api::parse_listing_query(request_for("/api/nodes?since=x.1", {{"since", "x.1"}}));
    EXPECT_EQ(since.since, "x.1");
    const auto page = macvmorx::api::parse_listing_query(
        request_for("/api/nodes?limit=50&after=mac-9", {{"limit", "50"}, {"after", "mac-9"}}));
    EXPECT_EQ(page.limit, 50u);
    EXPECT_EQ(page.after, "mac-9");
    EXPECT_FALSE(page.since);
}

TEST(ListingQuery, RefusesABadLimitAndSinceWithAPage) {
    using macvmorx::InvalidInput;
    const auto kind = [](std::vector<std::pair<std::string, std::string>> query) {
        try {
            macvmorx::api::parse_listing_query(request_for("/api/nodes", std::move(query)));
        } catch (const InvalidInput& error) {
            return error.kind();
        }
        ADD_FAILURE() << "accepted";
        return InvalidInput::Kind::malformed;
    };
    for (const auto* limit : {"0", "-1", "abc", "10001", "5x", ""}) {
        EXPECT_EQ(kind({{"limit", limit}}), InvalidInput::Kind::out_of_range) << limit;
    }
    EXPECT_EQ(kind({{"since", "a.1"}, {"limit", "5"}}), InvalidInput::Kind::malformed);
    EXPECT_EQ(kind({{"since", "a.1"}, {"after", "mac-1"}}), InvalidInput::Kind::malformed);
}

TEST(LinkNextPage, KeepsTheQueryAndSetsAfter) {
    macvmorx::http::Response response;
    macvmorx::api::link_next_page(request_for("/api/vms?state=running&limit=2&after=old", {}), response, "17:vm 1");
    EXPECT_EQ(response.header("Link"), "</api/vms?state=running&limit=2&after=17:vm%201>; rel=\"next\"");
}

TEST(FinishListing, AnswersAMatchingIfNoneMatchWith304AndCompressesForGzipClients) {
    macvmorx::http::Response first;
    first.body = std::string(4000, 'a');
    macvmorx::api::finish_listing(request_for("/api/nodes", {}), first);
    const auto etag = std::string(first.header("ETag").value_or(""));
    EXPECT_EQ(etag.substr(0, 3), "W/\"");
    EXPECT_EQ(first.header("Cache-Control"), "no-cache");
    EXPECT_FALSE(first.header("Content-Encoding"));

    macvmorx::http::Response again;
    again.body = std::string(4000, 'a');
    macvmorx::api::finish_listing(request_for("/api/nodes", {}, {{"If-None-Match", "\"other\", " + etag}}), again);
    EXPECT_EQ(again.status, 304);
    EXPECT_TRUE(again.body.empty());

    macvmorx::http::Response changed;
    changed.body = std::string(4000, 'b');
    macvmorx::api::finish_listing(request_for("/api/nodes", {}, {{"If-None-Match", etag}, {"Accept-Encoding", "gzip"}}),
                                  changed);
    EXPECT_EQ(changed.status, 200);
    EXPECT_EQ(changed.header("Content-Encoding"), "gzip");
    EXPECT_EQ(changed.header("Vary"), "Accept-Encoding");
    EXPECT_EQ(macvmorx::http::gunzip(changed.body), std::string(4000, 'b'));

    macvmorx::http::Response small;
    small.body = "[]";
    macvmorx::api::finish_listing(request_for("/api/nodes", {}, {{"Accept-Encoding", "gzip"}}), small);
    EXPECT_FALSE(small.header("Content-Encoding")) << "not worth a gzip header";
}

TEST(NodeDigest, MovesWithWhatAnOperatorSeesNotWithEveryHeartbeat) {
    macvmorx::fleet::NodeRecord node;
    node.report.node_id = "mac-1";
    node.report.status = "healthy";
    node.report.cpu_usage_percent = 40.2;
    node.report.memory_usage_gb = 8.0;
    node.report.vms = {{"vm-1", "sonoma", 100, "runner-1", "10.0.0.2"}};
    const macvmorx::api::NodeCapacity capacity{2, 0};
    const auto base = macvmorx::api::node_digest(node, capacity);

    auto quiet = node;
    quiet.last_seen += std::chrono::seconds{5};
    quiet.report.vms[0].runtime_seconds = 105;
    quiet.report.cpu_usage_percent = 40.4;
    quiet.report.memory_usage_gb = 8.02;
    EXPECT_EQ(macvmorx::api::node_digest(quiet, capacity), base);

    const auto differs = [&](auto change, macvmorx::api::NodeCapacity with = {2, 0}) {
        auto copy = node;
        change(copy);
        return macvmorx::api::node_digest(copy, with) != base;
    };
    EXPECT_TRUE(differs([](auto& n) { n.report.cpu_usage_percent = 41.0; }));
    EXPECT_TRUE(differs([](auto& n) { n.report.memory_usage_gb = 8.2; }));
    EXPECT_TRUE(differs([](auto& n) { n.report.status = "degraded"; }));
    EXPECT_TRUE(differs([](auto& n) { n.online = false; }));
    EXPECT_TRUE(differs([](auto& n) { n.drained = true; }));
    EXPECT_TRUE(differs([](auto& n) { n.report.vms.clear(); }));
    EXPECT_TRUE(differs([](auto& n) { n.report.vms[0].vm_ip_address = "10.0.0.3"; }));
    EXPECT_TRUE(differs([](auto& n) { n.report.cached_images = {"sonoma"}; }));
    EXPECT_TRUE(differs([](auto& n) { n.report.pulling_images = {"sequoia"}; }));
    EXPECT_TRUE(differs([](auto& n) { n.operator_labels = {{"pool", "a"}}; }));
    EXPECT_TRUE(differs([](auto&) {}, {2, 1})) << "a reservation shows as a slot in use";
}
