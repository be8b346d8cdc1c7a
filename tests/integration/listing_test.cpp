// The listings at fleet scale, through the real daemon (README's API section): gzip for clients
// that accept it, ETags and 304, deltas (?since=) and pages (?limit=&after=).

#include "fake_github.hpp"
#include "test_daemon.hpp"
#include "test_keys.hpp"

#include "macvmorx/github/webhook_signature.hpp"
#include "macvmorx/http/content_encoding.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <set>
#include <string>
#include <vector>

using macvmorx::http::Method;
using macvmorx::testing::TestDaemon;
using nlohmann::json;

namespace {

json listing_heartbeat(const std::string& node_id, double cpu = 10, const std::string& status = "healthy",
                       json vms = json::array()) {
    return {{"nodeId", node_id}, {"vmCount", vms.size()},  {"vms", vms},          {"cpuUsagePercent", cpu},
            {"memoryUsageGB", 4},  {"totalMemoryGB", 16},    {"diskUsageGB", 100}, {"totalDiskGB", 500},
            {"status", status},    {"cachedImages", {"sonoma"}}};
}

void beat(macvmorx::http::HttpClient& client, const json& heartbeat) {
    ASSERT_EQ(client.request(Method::post, "/api/heartbeat", heartbeat.dump(), {{"Content-Type", "application/json"}}).status,
              200);
}

std::string node_name(int i) {
    char name[16];
    std::snprintf(name, sizeof name, "mac-%03d", i);
    return name;
}

std::vector<std::string> ids(const json& list, const char* key) {
    std::vector<std::string> out;
    for (const auto& item : list) out.push_back(item[key].is_string() ? item[key].get<std::string>() : item[key].dump());
    return out;
}

// The target of a Link header's rel="next", or empty.
std::string next_link(const macvmorx::http::ClientResponse& response) {
    const auto link = std::string(response.header("Link").value_or(""));
    if (link.empty()) return {};
    return link.substr(1, link.find('>') - 1);
}

} // namespace

TEST(Listings, GzipForClientsThatAcceptIt) {
    TestDaemon server;
    auto client = server.client();
    for (int i = 0; i < 20; ++i) beat(client, listing_heartbeat(node_name(i)));

    const auto plain = client.get("/api/nodes");
    ASSERT_EQ(plain.status, 200);
    EXPECT_FALSE(plain.header("Content-Encoding"));
    EXPECT_EQ(plain.header("Vary"), "Accept-Encoding");

    const auto packed = client.request(Method::get, "/api/nodes", {}, {{"Accept-Encoding", "gzip, deflate, br"}});
    ASSERT_EQ(packed.status, 200);
    EXPECT_EQ(packed.header("Content-Encoding"), "gzip");
    EXPECT_LT(packed.body.size(), plain.body.size() / 4);
    EXPECT_EQ(json::parse(macvmorx::http::gunzip(packed.body)), json::parse(plain.body));

    const auto refused = client.request(Method::get, "/api/nodes", {}, {{"Accept-Encoding", "gzip;q=0"}});
    EXPECT_FALSE(refused.header("Content-Encoding"));
    EXPECT_EQ(refused.body, plain.body);
}

TEST(Listings, AnUnchangedListingAnswers304ToItsETag) {
    TestDaemon server;
    auto client = server.client();
    beat(client, listing_heartbeat("mac-1"));
    for (const auto* target : {"/api/nodes", "/api/vms", "/api/queue", "/api/images"}) {
        const auto first = client.get(target);
        ASSERT_EQ(first.status, 200) << target;
        const auto etag = std::string(first.header("ETag").value_or(""));
        ASSERT_FALSE(etag.empty()) << target;
        EXPECT_EQ(first.header("Cache-Control"), "no-cache") << target;
        const auto again = client.request(Method::get, target, {}, {{"If-None-Match", etag}});
        EXPECT_EQ(again.status, 304) << target;
        EXPECT_TRUE(again.body.empty()) << target;
        EXPECT_EQ(again.header("ETag"), etag) << target;
    }
    // A change gives a new body and a new tag.
    const auto etag = std::string(client.get("/api/nodes").header("ETag").value_or(""));
    beat(client, listing_heartbeat("mac-1", 10, "degraded"));
    const auto changed = client.request(Method::get, "/api/nodes", {}, {{"If-None-Match", etag}});
    EXPECT_EQ(changed.status, 200);
    EXPECT_NE(changed.header("ETag"), etag);
    EXPECT_EQ(json::parse(changed.body)[0]["status"], "degraded");
}

TEST(Listings, NodeDeltasCarryOnlyWhatChangedAndWhatWasRemoved) {
    macvmorx::config::ServerConfig config = macvmorx::testing::test_config();
    config.offline_timeout = std::chrono::seconds{30};
    TestDaemon server{config};
    auto client = server.client();
    for (int i = 0; i < 10; ++i) beat(client, listing_heartbeat(node_name(i)));

    const auto first = json::parse(client.get("/api/nodes?since=").body);
    EXPECT_EQ(first["full"], true);
    EXPECT_EQ(first["nodes"].size(), 10u);
    EXPECT_TRUE(first["removed"].empty());
    const std::string revision = first["revision"];

    // Heartbeats that only move the clock, or the CPU by less than a point, are no change.
    server.clock().advance(std::chrono::seconds{5});
    for (int i = 0; i < 10; ++i) beat(client, listing_heartbeat(node_name(i), 10.3));
    const auto quiet = json::parse(client.get("/api/nodes?since=" + revision).body);
    EXPECT_EQ(quiet["full"], false);
    EXPECT_TRUE(quiet["nodes"].empty()) << quiet.dump();
    EXPECT_EQ(quiet["revision"], revision);

    // One node's status changes and one node is new: those two come, nothing else.
    beat(client, listing_heartbeat(node_name(3), 10, "degraded"));
    beat(client, listing_heartbeat(node_name(42)));
    const auto delta = json::parse(client.get("/api/nodes?since=" + revision).body);
    EXPECT_EQ(delta["full"], false);
    EXPECT_EQ(ids(delta["nodes"], "nodeId"), (std::vector<std::string>{node_name(3), node_name(42)}));
    EXPECT_EQ(delta["nodes"][0]["status"], "degraded");
    const std::string after_change = delta["revision"];
    EXPECT_NE(after_change, revision);

    // Going offline is a change; forgetting a node names it as removed.
    server.clock().advance(std::chrono::seconds{60});
    for (int i = 0; i < 10; ++i) {
        if (i != 7) beat(client, listing_heartbeat(node_name(i), 10, i == 3 ? "degraded" : "healthy"));
    }
    beat(client, listing_heartbeat(node_name(42)));
    ASSERT_TRUE(macvmorx::testing::eventually([&] {
        const auto node = json::parse(client.get("/api/nodes/" + node_name(7)).body);
        return node["isOnline"] == false;
    })) << "the offline monitor marks the silent node";
    const auto offline = json::parse(client.get("/api/nodes?since=" + after_change).body);
    EXPECT_EQ(ids(offline["nodes"], "nodeId"), (std::vector<std::string>{node_name(7)}));
    ASSERT_EQ(client.request(Method::del, "/api/nodes/" + node_name(7)).status, 200);
    const auto removed = json::parse(client.get("/api/nodes?since=" + std::string(offline["revision"])).body);
    EXPECT_TRUE(removed["nodes"].empty());
    EXPECT_EQ(removed["removed"], json::array({node_name(7)}));

    // A revision this daemon never gave reads the whole list, flagged as such.
    const auto unknown = json::parse(client.get("/api/nodes?since=ffffffff.3").body);
    EXPECT_EQ(unknown["full"], true);
    EXPECT_EQ(unknown["nodes"].size(), 10u);
}

TEST(Listings, PagesFollowTheLinkAndStayStableWhileNodesArrive) {
    TestDaemon server;
    auto client = server.client();
    for (int i = 0; i < 25; ++i) beat(client, listing_heartbeat(node_name(i * 2))); // even numbers
    std::vector<std::string> seen;
    std::string target = "/api/nodes?limit=10";
    int pages = 0;
    while (!target.empty()) {
        const auto page = client.get(target);
        ASSERT_EQ(page.status, 200) << target;
        const auto nodes = json::parse(page.body);
        EXPECT_LE(nodes.size(), 10u);
        for (const auto& id : ids(nodes, "nodeId")) seen.push_back(id);
        target = next_link(page);
        // A node that sorts before the cursor arrives meanwhile: the pages ahead neither skip nor repeat.
        if (++pages == 1) beat(client, listing_heartbeat(node_name(1)));
    }
    EXPECT_EQ(pages, 3);
    std::vector<std::string> expected;
    for (int i = 0; i < 25; ++i) expected.push_back(node_name(i * 2));
    EXPECT_EQ(seen, expected);
}

TEST(Listings, BadPagingAndDeltaQueriesAreRefusedClearly) {
    TestDaemon server;
    auto client = server.client();
    beat(client, listing_heartbeat("mac-1"));
    for (const auto* target : {"/api/nodes?limit=0", "/api/nodes?limit=many", "/api/vms?limit=100000",
                               "/api/vms?after=not-a-cursor", "/api/vms?after=x1:job-1"}) {
        const auto response = client.get(target);
        EXPECT_EQ(response.status, 422) << target << ": " << response.body;
        EXPECT_TRUE(json::parse(response.body).contains("error")) << target;
    }
    const auto both = client.get("/api/nodes?since=x.1&limit=5");
    EXPECT_EQ(both.status, 400);
    EXPECT_NE(json::parse(both.body)["detail"].get<std::string>().find("since"), std::string::npos);
}

TEST(Listings, VmListingsLeaveOutTransitionsAndGiveDeltasAndPages) {
    TestDaemon server;
    auto client = server.client();
    beat(client, listing_heartbeat("mac-1"));
    beat(client, listing_heartbeat("mac-2"));
    const auto place = [&](const std::string& vm_id) {
        return client.request(Method::post, "/api/schedule-vm", json{{"imageName", "sonoma"}, {"vmId", vm_id}}.dump(),
                              {{"Content-Type", "application/json"}});
    };
    ASSERT_EQ(place("job-1").status, 200);
    server.clock().advance(std::chrono::seconds{1});
    ASSERT_EQ(place("job-2").status, 200);
    server.clock().advance(std::chrono::seconds{1});
    ASSERT_EQ(place("job-3").status, 200);

    const auto listed = json::parse(client.get("/api/vms").body);
    ASSERT_EQ(listed.size(), 3u);
    EXPECT_FALSE(listed[0].contains("transitions")) << "a listing leaves them out";
    EXPECT_TRUE(json::parse(client.get("/api/vms/job-1").body).contains("transitions")) << "one VM has them";

    // Pages in creation order.
    const auto page = client.get("/api/vms?limit=2");
    EXPECT_EQ(ids(json::parse(page.body), "vmId"), (std::vector<std::string>{"job-1", "job-2"}));
    const auto rest = client.get(next_link(page));
    EXPECT_EQ(ids(json::parse(rest.body), "vmId"), (std::vector<std::string>{"job-3"}));
    EXPECT_TRUE(next_link(rest).empty());

    // Deltas: the VM whose state moves comes again, the others do not.
    const auto first = json::parse(client.get("/api/vms?since=").body);
    EXPECT_EQ(first["full"], true);
    EXPECT_EQ(first["vms"].size(), 3u);
    ASSERT_EQ(client.request(Method::del, "/api/vms/job-2").status, 200);
    const auto delta = json::parse(client.get("/api/vms?since=" + std::string(first["revision"])).body);
    EXPECT_EQ(delta["full"], false);
    EXPECT_EQ(ids(delta["vms"], "vmId"), (std::vector<std::string>{"job-2"}));

    // With a filter, a VM that leaves it is named as removed for that filter's readers.
    const auto pending_first = json::parse(client.get("/api/vms?state=assigned&since=").body);
    ASSERT_EQ(pending_first["vms"].size(), 2u) << pending_first.dump();
    ASSERT_EQ(client.request(Method::del, "/api/vms/job-3").status, 200);
    const auto filtered = json::parse(client.get("/api/vms?state=assigned&since=" + std::string(pending_first["revision"])).body);
    EXPECT_EQ(filtered["full"], false);
    EXPECT_TRUE(filtered["vms"].empty());
    EXPECT_EQ(filtered["removed"], json::array({"job-3"}));
}

namespace {

const std::string listing_secret = "listing webhook secret";

int deliver_listing_job(macvmorx::http::HttpClient& client, std::int64_t job_id, const std::string& action) {
    const json job{{"id", job_id}, {"run_id", 5000 + job_id}, {"workflow_name", "CI"}, {"name", "test"},
                   {"status", action == "queued" ? "queued" : "completed"}, {"conclusion", action == "queued" ? json() : json("cancelled")},
                   {"labels", {"self-hosted", "macOS"}},
                   {"html_url", "https://github.com/acme/app/actions/runs/1/job/" + std::to_string(job_id)}};
    const auto body = json{{"action", action},
                           {"workflow_job", job},
                           {"repository", {{"name", "app"}, {"full_name", "acme/app"}, {"owner", {{"login", "acme"}}}}},
                           {"organization", {{"login", "acme"}}},
                           {"installation", {{"id", 77}}}}
                          .dump();
    return client
        .request(Method::post, "/webhooks/github", body,
                 {{"Content-Type", "application/json"},
                  {"X-GitHub-Event", "workflow_job"},
                  {"X-GitHub-Delivery", "listing-" + action + "-" + std::to_string(job_id)},
                  {"X-Hub-Signature-256", macvmorx::github::webhook_signature(listing_secret, body)}})
        .status;
}

} // namespace

TEST(Listings, JobListingsGiveDeltasAndPages) {
    macvmorx::testing::FakeGithub github;
    const auto& key = macvmorx::testing::shared_rsa_key();
    TestDaemon server{macvmorx::testing::github_test_config(github, key.private_pem, listing_secret, "sonoma")};
    auto client = server.client();
    for (std::int64_t job = 1; job <= 3; ++job) {
        ASSERT_EQ(deliver_listing_job(client, job, "queued"), 200);
        server.clock().advance(std::chrono::seconds{1});
    }
    const auto page = client.get("/api/jobs?limit=2");
    ASSERT_EQ(page.status, 200) << page.body;
    EXPECT_EQ(ids(json::parse(page.body), "jobId"), (std::vector<std::string>{"1", "2"}));
    EXPECT_EQ(ids(json::parse(client.get(next_link(page)).body), "jobId"), (std::vector<std::string>{"3"}));

    const auto first = json::parse(client.get("/api/jobs?since=").body);
    EXPECT_EQ(first["full"], true);
    EXPECT_EQ(first["jobs"].size(), 3u);
    const std::string revision = first["revision"];
    EXPECT_TRUE(json::parse(client.get("/api/jobs?since=" + revision).body)["jobs"].empty());
    ASSERT_EQ(deliver_listing_job(client, 2, "completed"), 200);
    const auto delta = json::parse(client.get("/api/jobs?since=" + revision).body);
    EXPECT_EQ(delta["full"], false);
    EXPECT_EQ(ids(delta["jobs"], "jobId"), (std::vector<std::string>{"2"}));
    EXPECT_EQ(delta["jobs"][0]["state"], "completed");
}

TEST(FleetHistoryOverHttp, SamplesTheFleetEveryIntervalForTheCharts) {
    auto config = macvmorx::testing::test_config();
    config.monitor_interval = std::chrono::milliseconds{50};
    TestDaemon server{config};
    auto client = server.client();
    beat(client, listing_heartbeat("mac-1"));
    beat(client, listing_heartbeat("mac-2"));
    const auto samples = [&] { return json::parse(client.get("/api/fleet/history").body); };
    ASSERT_TRUE(macvmorx::testing::eventually([&] { return samples()["samples"].size() == 1; })) << samples().dump();
    EXPECT_EQ(samples()["intervalSeconds"], 30);

    // 60 heartbeats and a VM placed in the next 30 s.
    for (int i = 0; i < 30; ++i) {
        beat(client, listing_heartbeat("mac-1"));
        beat(client, listing_heartbeat("mac-2"));
    }
    ASSERT_EQ(client.request(Method::post, "/api/schedule-vm", json{{"imageName", "sonoma"}, {"vmId", "job-1"}}.dump(),
                             {{"Content-Type", "application/json"}})
                  .status,
              200);
    server.clock().advance(std::chrono::seconds{30});
    ASSERT_TRUE(macvmorx::testing::eventually([&] { return samples()["samples"].size() == 2; })) << samples().dump();
    const auto last = samples()["samples"][1];
    EXPECT_EQ(last["nodesOnline"], 2);
    EXPECT_EQ(last["slotsTotal"], 4);
    EXPECT_EQ(last["slotsUsed"], 1) << "the placement holds a slot";
    // 60 in 30 s (and the first two, if the first sample came before them).
    EXPECT_NEAR(last["heartbeatsPerSecond"].get<double>(), 2.0, 0.1);
    EXPECT_EQ(last["vmsStarted"], 0);
    EXPECT_TRUE(last["waitP50Seconds"].is_null());

    // A page that has the first sample asks for what came after it.
    const std::string first_at = samples()["samples"][0]["at"];
    const auto newer = json::parse(client.get("/api/fleet/history?after=" + first_at).body)["samples"];
    ASSERT_EQ(newer.size(), 1u);
    EXPECT_EQ(newer[0]["at"], last["at"]);
    EXPECT_EQ(client.get("/api/fleet/history?after=yesterday").status, 422);
}
