// Scheduling through the real daemon (docs/scheduling.md): an operator's pin brings an image to
// hosts ahead of demand, a waiting VM says why it waits, tenants share the fleet, and bad input
// changes nothing.

#include "fake_github.hpp"
#include "test_daemon.hpp"
#include "test_keys.hpp"

#include "macvmorx/app/daemon.hpp"
#include "macvmorx/github/webhook_signature.hpp"
#include "macvmorx/sim/fleet_simulator.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <set>
#include <thread>
#include <vector>
#include <string>

using namespace std::chrono_literals;
using macvmorx::testing::eventually;
using macvmorx::testing::TestDaemon;
using nlohmann::json;

namespace {

macvmorx::config::ServerConfig quick_sweeps(macvmorx::config::ServerConfig config = macvmorx::testing::test_config()) {
    config.monitor_interval = std::chrono::milliseconds{100};
    return config;
}

// Simulated Macs running the real agent (tests/integration/simulator_test.cpp), quick, without CI jobs.
macvmorx::sim::SimulationOptions quiet_lab(std::uint16_t port, int nodes) {
    macvmorx::sim::SimulationOptions options;
    options.server = {false, "127.0.0.1", port, ""};
    options.nodes = nodes;
    options.heartbeat_interval = 100ms;
    options.profile.bandwidth_mbps = 1'000'000; // a 30 GB image in a quarter of a second
    options.profile.boot_time = 50ms;
    options.profile.job_runtime = 1h;
    options.seed = 5;
    return options;
}

class RunningLab {
public:
    explicit RunningLab(macvmorx::sim::SimulationOptions options)
        : simulator_{std::move(options)}, thread_{[this] { simulator_.run(); }} {}
    ~RunningLab() {
        simulator_.stop();
        thread_.join();
    }

private:
    macvmorx::sim::FleetSimulator simulator_;
    std::thread thread_;
};

json image_in(const json& list, const std::string& name) {
    for (const auto& image : list["images"]) {
        if (image["imageName"] == name) return image;
    }
    return {};
}

class SchedulingTest : public ::testing::Test {
protected:
    TestDaemon server{quick_sweeps()};
    macvmorx::http::HttpClient client = server.client();

    // A heartbeat; returns the commands of its answer.
    json beat(const std::string& node_id, const json& cached = json::array(), const json& pulling = json::array(),
              int vms = 0) {
        json body{{"nodeId", node_id}, {"cachedImages", cached}, {"pullingImages", pulling}, {"totalMemoryGB", 16},
                  {"totalDiskGB", 500}, {"vmCount", vms}};
        const auto response = client.post_json("/api/heartbeat", body.dump());
        EXPECT_EQ(response.status, 200) << response.body;
        const auto answer = json::parse(response.body, nullptr, false);
        return answer.is_object() && answer.contains("commands") ? answer["commands"] : json::array();
    }
    macvmorx::http::ClientResponse put(const std::string& target, const std::string& body) {
        return client.request(macvmorx::http::Method::put, target, body, {{"Content-Type", "application/json"}});
    }
    json images() { return json::parse(client.get("/api/images").body); }
    static json image_named(const json& list, const std::string& name) {
        for (const auto& image : list["images"]) {
            if (image["imageName"] == name) return image;
        }
        return {};
    }
};

} // namespace

TEST_F(SchedulingTest, APinnedImageReachesAsManyHostsAsAsked) {
    beat("mac-1", {"sonoma"});
    for (const auto* node : {"mac-2", "mac-3", "mac-4"}) beat(node);
    const auto pinned = put("/api/images/sonoma", R"({"minHosts":3})");
    ASSERT_EQ(pinned.status, 200) << pinned.body;
    EXPECT_EQ(json::parse(pinned.body)["minHosts"], 3);

    // The next sweeps ask two idle hosts to pull it; their heartbeats carry the pullImage.
    std::set<std::string> asked;
    for (int round = 0; round < 100 && asked.size() < 2; ++round) {
        std::this_thread::sleep_for(50ms);
        for (const auto* node : {"mac-2", "mac-3", "mac-4"}) {
            for (const auto& command : beat(node)) {
                if (command["type"] == "pullImage") {
                    EXPECT_EQ(command["imageName"], "sonoma");
                    EXPECT_FALSE(command.contains("vmId"));
                    asked.insert(node);
                }
            }
        }
    }
    ASSERT_EQ(asked.size(), 2u) << images().dump();
    // They pull it, then hold it.
    for (const auto& node : asked) beat(node, json::array(), {"sonoma"});
    EXPECT_EQ(image_named(images(), "sonoma")["pulling"], 2) << images().dump();
    for (const auto& node : asked) beat(node, {"sonoma"});
    json sonoma;
    for (int round = 0; round < 100; ++round) {
        sonoma = image_named(images(), "sonoma");
        if (sonoma["holders"] == 3) break;
        std::this_thread::sleep_for(20ms);
    }
    EXPECT_EQ(sonoma["holders"], 3) << sonoma.dump();
    EXPECT_EQ(sonoma["target"], 3);
    EXPECT_EQ(images()["pullsAheadOfDemand"]["finished"], 2);
    const auto metrics = client.get("/metrics").body;
    EXPECT_NE(metrics.find("macvmorx_image_holders{image=\"sonoma\"} 3"), std::string::npos) << metrics;
    EXPECT_NE(metrics.find("macvmorx_image_pulls_ahead_of_demand_total{result=\"finished\"} 2"), std::string::npos);
}

TEST_F(SchedulingTest, BadPinsAreRefusedAndChangeNothing) {
    beat("mac-1", {"sonoma"});
    EXPECT_EQ(put("/api/images/never-heard-of", R"({"minHosts":1})").status, 422);
    EXPECT_EQ(put("/api/images/sonoma", R"({"minHosts":-1})").status, 422);
    EXPECT_EQ(put("/api/images/sonoma", R"({"minHosts":1000000000})").status, 422);
    EXPECT_EQ(put("/api/images/sonoma", R"({"minHosts":"two"})").status, 400);
    EXPECT_EQ(put("/api/images/sonoma", R"({"minHosts":1.5})").status, 400);
    EXPECT_EQ(put("/api/images/sonoma", R"({})").status, 400);
    EXPECT_EQ(put("/api/images/sonoma", R"({"minHosts":)").status, 400);
    const auto refused = put("/api/images/never-heard-of", R"({"minHosts":1})");
    EXPECT_EQ(json::parse(refused.body)["error"], "unknown image");
    json sonoma;
    for (int round = 0; round < 100 && sonoma.is_null(); ++round) {
        std::this_thread::sleep_for(20ms); // until a sweep has counted the holders
        sonoma = image_named(images(), "sonoma");
    }
    EXPECT_EQ(sonoma["minHosts"], 0) << images().dump();
}

TEST_F(SchedulingTest, AWaitingVmSaysWhyAndARefusalCarriesTheSameReason) {
    beat("mac-1", {"sonoma"});
    for (int i = 0; i < 2; ++i) {
        ASSERT_EQ(client.post_json("/api/schedule-vm", R"({"imageName":"sonoma"})").status, 200);
    }
    const auto queued = client.post_json("/api/schedule-vm", R"({"imageName":"sonoma","wait":true})");
    ASSERT_EQ(queued.status, 202) << queued.body;
    const auto vm_id = json::parse(queued.body)["vmId"].get<std::string>();
    const auto vm = json::parse(client.get("/api/vms/" + vm_id).body);
    EXPECT_EQ(vm["pendingReason"]["code"], "noFreeSlot") << vm.dump();
    EXPECT_EQ(vm["pendingReason"]["nodes"]["full"], 1);
    EXPECT_EQ(vm["pendingReason"]["aheadInQueue"], 0);

    const auto refused = client.post_json("/api/schedule-vm", R"({"imageName":"sonoma","labels":{"xcode":"99"}})");
    EXPECT_EQ(refused.status, 503);
    const auto reason = json::parse(refused.body)["pendingReason"];
    EXPECT_EQ(reason["code"], "noNodeCarriesLabels") << refused.body;
    EXPECT_EQ(reason["missingLabels"], json::array({"xcode=99"}));

    const auto queue = json::parse(client.get("/api/queue").body);
    ASSERT_EQ(queue.size(), 1u);
    EXPECT_EQ(queue[0]["position"], 1);
    EXPECT_EQ(queue[0]["pendingReason"]["code"], "noFreeSlot");
    const auto metrics = client.get("/metrics").body;
    EXPECT_NE(metrics.find("macvmorx_pending_vms{reason=\"noFreeSlot\"} 1"), std::string::npos) << metrics;
    EXPECT_NE(metrics.find("macvmorx_pending_vms{reason=\"tenantAtCap\"} 0"), std::string::npos);
}

TEST_F(SchedulingTest, ATenantsFloodCannotStarveItsNeighbour) {
    beat("mac-1", {"sonoma"});
    std::vector<std::string> flood;
    for (int i = 0; i < 12; ++i) {
        const auto answer = client.post_json("/api/schedule-vm", R"({"imageName":"sonoma","wait":true,"tenant":"flood"})");
        ASSERT_LT(answer.status, 300);
        flood.push_back(json::parse(answer.body)["vmId"]);
    }
    const auto neighbour =
        json::parse(client.post_json("/api/schedule-vm", R"({"imageName":"sonoma","wait":true,"tenant":"neighbour"})").body);
    EXPECT_EQ(neighbour["state"], "pending");
    const auto queue = json::parse(client.get("/api/queue").body);
    ASSERT_EQ(queue.size(), 11u);
    EXPECT_EQ(queue[0]["tenant"], "neighbour") << "the neighbour, using nothing, is placed next";
    EXPECT_EQ(queue[0]["tenantShare"]["inUse"], 0);
    EXPECT_EQ(queue[1]["tenantShare"]["inUse"], 2);
    // A flood VM ends: its slot goes to the neighbour.
    ASSERT_EQ(client.request(macvmorx::http::Method::del, "/api/vms/" + flood[0]).status, 200);
    EXPECT_EQ(json::parse(client.get("/api/vms/" + neighbour["vmId"].get<std::string>()).body)["state"], "assigned");
}

TEST_F(SchedulingTest, APriorityMustBeAWholeNumberInRange) {
    beat("mac-1");
    EXPECT_EQ(client.post_json("/api/schedule-vm", R"({"imageName":"sonoma","priority":1.5})").status, 400);
    EXPECT_EQ(client.post_json("/api/schedule-vm", R"({"imageName":"sonoma","priority":"high"})").status, 400);
    EXPECT_EQ(client.post_json("/api/schedule-vm", R"({"imageName":"sonoma","priority":100000})").status, 422);
    EXPECT_TRUE(json::parse(client.get("/api/vms").body).empty()) << "a refused request made a record";
    const auto placed = client.post_json("/api/schedule-vm", R"({"imageName":"sonoma","priority":7,"tenant":"acme/app"})");
    ASSERT_EQ(placed.status, 200) << placed.body;
    const auto vm = json::parse(client.get("/api/vms/" + json::parse(placed.body)["vmId"].get<std::string>()).body);
    EXPECT_EQ(vm["priority"], 7);
    EXPECT_EQ(vm["tenant"], "acme/app");
}

TEST(SchedulingWithSimulatedMacs, AgentsPullAPinnedImageAheadOfDemandUntilEnoughHostsHoldIt) {
    TestDaemon server{quick_sweeps()};
    auto client = server.client();
    RunningLab lab{quiet_lab(server.port(), 5)};
    ASSERT_TRUE(eventually([&] { return json::parse(client.get("/api/nodes").body).size() == 5; }));

    // A first VM brings the new image to one Mac (and its demand, to a second and third ahead of
    // it, as soon as the daemon sees it: how many hold it when the test looks is a race); then an
    // operator wants it on four.
    const std::string image = "ghcr.io/acme/macos-tahoe:26";
    ASSERT_EQ(client.post_json("/api/schedule-vm", json{{"imageName", image}, {"vmId", "first"}}.dump()).status, 200);
    ASSERT_TRUE(eventually([&] {
        const auto holders = image_in(json::parse(client.get("/api/images").body), image)["holders"];
        return holders.is_number() && holders.get<int>() >= 1;
    }, 10s)) << client.get("/api/images").body;
    const auto pinned = client.request(macvmorx::http::Method::put, "/api/images/ghcr.io%2Facme%2Fmacos-tahoe:26",
                                       R"({"minHosts":4})", {{"Content-Type", "application/json"}});
    ASSERT_EQ(pinned.status, 200) << pinned.body;

    json status;
    EXPECT_TRUE(eventually([&] {
        status = image_in(json::parse(client.get("/api/images").body), image);
        return status["holders"] == 4;
    }, 15s)) << status.dump();
    EXPECT_EQ(status["target"], 4);
    const auto images = json::parse(client.get("/api/images").body);
    EXPECT_EQ(images["pullsAheadOfDemand"]["finished"], 3) << images.dump();
    EXPECT_EQ(images["pullsAheadOfDemand"]["failed"], 0);
    EXPECT_FALSE(status["meanPullSeconds"].is_null());
}

namespace {

const std::string rollout_secret = "rollout webhook secret";

std::string queued_job(std::int64_t job_id) {
    const json job{{"id", job_id}, {"run_id", 9000 + job_id}, {"workflow_name", "CI"}, {"name", "build"},
                   {"status", "queued"}, {"labels", {"self-hosted", "macOS"}},
                   {"html_url", "https://github.com/acme/app/actions/runs/1/job/" + std::to_string(job_id)}};
    return json{{"action", "queued"},
                {"workflow_job", job},
                {"repository", {{"name", "app"}, {"full_name", "acme/app"}, {"owner", {{"login", "acme"}}}}},
                {"organization", {{"login", "acme"}}},
                {"installation", {{"id", 77}}}}
        .dump();
}

int deliver_queued(macvmorx::http::HttpClient& client, std::int64_t job_id) {
    const auto body = queued_job(job_id);
    return client
        .request(macvmorx::http::Method::post, "/webhooks/github", body,
                 {{"Content-Type", "application/json"},
                  {"X-GitHub-Event", "workflow_job"},
                  {"X-GitHub-Delivery", "rollout-" + std::to_string(job_id)},
                  {"X-Hub-Signature-256", macvmorx::github::webhook_signature(rollout_secret, body)}})
        .status;
}

// The image of the runner VM made for a job's pool, once the worker asked for it.
std::string runner_image(macvmorx::http::HttpClient& client, std::size_t nth) {
    std::string image;
    eventually([&] {
        const auto vms = json::parse(client.get("/api/vms").body);
        if (vms.size() <= nth) return false;
        image = vms[nth]["imageName"];
        return true;
    }, 10s);
    return image;
}

} // namespace

TEST(SchedulingWithSimulatedMacs, APoolSwitchesToItsNewImageOnlyOnceEnoughHostsHoldIt) {
    macvmorx::testing::FakeGithub github;
    const auto& key = macvmorx::testing::shared_rsa_key();
    const std::string old_image = "ghcr.io/acme/sonoma-runner:1";
    const std::string new_image = "ghcr.io/acme/sonoma-runner:2";
    auto config = quick_sweeps(macvmorx::testing::github_test_config(github, key.private_pem, rollout_secret, old_image));
    // The file a SIGHUP re-reads: the same pool with its new image, switched when 3 hosts hold it.
    const auto file = std::filesystem::temp_directory_path() / ("macvmorx-rollout-" + std::to_string(::getpid()) + ".toml");
    std::ofstream{file} << "[[pools]]\nname = \"sonoma\"\nruns_on = [\"self-hosted\", \"macOS\", \"sonoma\"]\n"
                        << "image = \"" << new_image << "\"\nscope = \"org:acme\"\nrunner_group_id = 3\n"
                        << "switch_when_hosts = 3\n";
    config.config_file = file.string();
    TestDaemon server{config};
    auto client = server.client();
    ASSERT_TRUE(server.daemon().reload());

    // No Mac holds the new image yet: a job's runner still gets the old one.
    ASSERT_EQ(deliver_queued(client, 1), 200);
    EXPECT_EQ(runner_image(client, 0), old_image);

    // Macs come; the new image is pulled to three of them ahead of demand, then the pool switches.
    RunningLab lab{quiet_lab(server.port(), 4)};
    json status;
    EXPECT_TRUE(eventually([&] {
        status = image_in(json::parse(client.get("/api/images").body), new_image);
        return status["holders"].is_number() && status["holders"].get<int>() >= 3;
    }, 20s)) << client.get("/api/images").body;
    // The pool switched: the image is no longer asked for by a rollout.
    EXPECT_TRUE(eventually([&] {
        status = image_in(json::parse(client.get("/api/images").body), new_image);
        return status["demand"]["rolloutHosts"] == 0;
    }, 10s)) << status.dump();
    ASSERT_EQ(deliver_queued(client, 2), 200);
    std::string second;
    EXPECT_TRUE(eventually([&] {
        second = runner_image(client, 1);
        return second == new_image;
    }, 10s)) << "the second runner's image: " << second;
    std::filesystem::remove(file);
}

namespace {

// The code of the pendingReason a queued request gets, asked over HTTP.
std::string code_of_queued(macvmorx::http::HttpClient& client, const json& request) {
    json body = request;
    body["wait"] = true;
    const auto answer = client.post_json("/api/schedule-vm", body.dump());
    EXPECT_EQ(answer.status, 202) << answer.body;
    const auto vm_id = json::parse(answer.body)["vmId"].get<std::string>();
    const auto vm = json::parse(client.get("/api/vms/" + vm_id).body);
    client.request(macvmorx::http::Method::del, "/api/vms/" + vm_id); // out of the way of the next
    return vm["pendingReason"]["code"];
}

} // namespace

TEST(SchedulingPendingReasons, EachCodeAppearsOverHttpWhenItsCauseIsSetUp) {
    auto config = quick_sweeps();
    config.offline_timeout = std::chrono::seconds{1};
    config.scheduling.tenants["capped"].max_vms = 1;
    TestDaemon server{config};
    auto client = server.client();
    const auto beat = [&client](const std::string& node, const json& labels = json::object()) {
        const json body{{"nodeId", node}, {"totalMemoryGB", 16}, {"labels", labels}};
        ASSERT_EQ(client.post_json("/api/heartbeat", body.dump()).status, 200);
    };
    const json sonoma{{"imageName", "sonoma"}};
    // Both Macs report before each step (what a lab does; the daemon's clock stands still here).
    const auto both_report = [&beat] {
        beat("mac-a", {{"arch", "arm64"}});
        beat("mac-b", {{"arch", "arm64"}, {"xcode", "16"}});
    };

    EXPECT_EQ(code_of_queued(client, sonoma), "noNodes");

    both_report();
    EXPECT_EQ(code_of_queued(client, {{"imageName", "sonoma"}, {"labels", {{"xcode", "99"}}}}), "noNodeCarriesLabels");
    both_report();
    EXPECT_EQ(code_of_queued(client, {{"imageName", "sonoma"}, {"memoryGB", 64}}), "notEnoughMemory");

    both_report();
    ASSERT_EQ(client.post_json("/api/schedule-vm", R"({"imageName":"sonoma","tenant":"capped"})").status, 200);
    EXPECT_EQ(code_of_queued(client, {{"imageName", "sonoma"}, {"tenant", "capped"}}), "tenantAtCap");

    both_report();
    ASSERT_EQ(client.request(macvmorx::http::Method::post, "/api/nodes/mac-b/drain").status, 200);
    EXPECT_EQ(code_of_queued(client, {{"imageName", "sonoma"}, {"labels", {{"xcode", "16"}}}}), "labelsMismatch");

    both_report();
    for (int i = 0; i < 3; ++i) client.post_json("/api/schedule-vm", R"({"imageName":"sonoma"})"); // mac-a full
    EXPECT_EQ(code_of_queued(client, {{"imageName", "sonoma"}, {"labels", {{"arch", "arm64"}}}}), "noFreeSlot");

    both_report();
    ASSERT_EQ(client.request(macvmorx::http::Method::post, "/api/nodes/mac-a/drain").status, 200);
    EXPECT_EQ(code_of_queued(client, sonoma), "allDraining");

    // No heartbeat for longer than the offline timeout (the daemon's clock is the test's): the
    // sweeps mark both offline.
    server.clock().advance(std::chrono::seconds{2});
    EXPECT_TRUE(eventually([&] {
        return json::parse(client.get("/api/fleet").body)["nodes"]["offline"] == 2;
    }, 5s)) << client.get("/api/fleet").body;
    EXPECT_EQ(code_of_queued(client, sonoma), "allOffline");
    // behindInQueue lasts only between a slot freeing and the queue's next placement: unit-tested
    // (PendingReasonTest.BehindInQueueWhenANodeFitsButRequestsAheadGoFirst).
}
