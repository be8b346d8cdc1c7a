// The host agent against a real daemon, over a simulated Mac: placements become VMs, deletions
// remove them, the image cache stays within its limits, failures are reported.

#include "test_daemon.hpp"

#include "macvmorx/agent/agent.hpp"
#include "macvmorx/agent/http_orchestrator_link.hpp"
#include "macvmorx/sim/simulated_mac.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <future>
#include <thread>

using namespace std::chrono_literals;
using macvmorx::testing::eventually;
using macvmorx::testing::TestDaemon;
using nlohmann::json;

namespace {

// One simulated Mac and its agent, on an io_context thread of their own.
class Host {
public:
    Host(std::uint16_t port, std::string node_id, const macvmorx::sim::SimulationProfile& profile,
         macvmorx::agent::AgentOptions options = {})
        : mac_{ioc_, profile, {32, 1000, 3}, 7} {
        options.node_id = std::move(node_id);
        options.heartbeat_interval = 100ms;
        options.max_backoff = 500ms;
        options_ = options;
        link_ = std::make_unique<macvmorx::agent::HttpOrchestratorLink>(ioc_, macvmorx::http::BaseUrl{false, "127.0.0.1", port, ""}, "");
        thread_ = std::thread{[this] { ioc_.run(); }};
    }
    ~Host() {
        on_thread([this] {
            agent_.reset();
            link_.reset();
        });
        work_.reset();
        ioc_.stop();
        thread_.join();
    }

    template <typename F>
    auto on_thread(F f) -> decltype(f()) {
        std::packaged_task<decltype(f())()> task{std::move(f)};
        auto result = task.get_future();
        boost::asio::post(ioc_, [&task] { task(); });
        return result.get();
    }

    void start() {
        on_thread([this] {
            agent_ = std::make_unique<macvmorx::agent::Agent>(ioc_, options_, *link_, mac_, mac_, clock_);
            agent_->start();
        });
    }
    // The agent process dies; the Mac and its VMs stay.
    void kill_agent() { on_thread([this] { agent_.reset(); }); }
    void preload(const std::string& image) { on_thread([this, image] { mac_.preload_image(image); }); }
    macvmorx::agent::AgentStatus status() { return on_thread([this] { return agent_->status(); }); }
    int running_on_mac() { return on_thread([this] { return mac_.running_vms(); }); }
    int pulls_on_mac() { return on_thread([this] { return mac_.pulls(); }); }

private:
    boost::asio::io_context ioc_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_ =
        boost::asio::make_work_guard(ioc_);
    macvmorx::SystemClock clock_;
    macvmorx::sim::SimulatedMac mac_;
    macvmorx::agent::AgentOptions options_;
    std::unique_ptr<macvmorx::agent::HttpOrchestratorLink> link_;
    std::unique_ptr<macvmorx::agent::Agent> agent_;
    std::thread thread_;
};

macvmorx::sim::SimulationProfile fast_profile() {
    macvmorx::sim::SimulationProfile profile;
    profile.bandwidth_mbps = 1'000'000; // a 40 GB image in a third of a second
    profile.boot_time = 50ms;
    profile.job_runtime = 1h;
    profile.image_sizes_gb = {{"sonoma", 40}, {"sequoia", 40}, {"ventura", 40}, {"tahoe", 40}};
    return profile;
}

class AgentTest : public ::testing::Test {
protected:
    TestDaemon server;
    macvmorx::http::HttpClient ci = server.client();
    macvmorx::sim::SimulationProfile profile = fast_profile();

    json vm(const std::string& vm_id) { return json::parse(ci.get("/api/vms/" + vm_id).body); }
    bool vm_state_is(const std::string& vm_id, const std::string& state) { return vm(vm_id)["state"] == state; }
    json node(const std::string& node_id) { return json::parse(ci.get("/api/nodes/" + node_id).body); }
    // As CI asks: a 503 (no node takes it yet) is asked again, with the same vmId, for a few
    // seconds. A node's first heartbeat shows in GET /api/nodes a moment before the scheduler has
    // indexed it (the store publishes the record, then the lifecycle applies it).
    int schedule(const std::string& image, const std::string& vm_id) {
        const auto body = json{{"imageName", image}, {"vmId", vm_id}}.dump();
        const auto deadline = std::chrono::steady_clock::now() + 5s;
        for (;;) {
            const int status = ci.post_json("/api/schedule-vm", body).status;
            if (status != 503 || std::chrono::steady_clock::now() >= deadline) return status;
            std::this_thread::sleep_for(20ms);
        }
    }
};

} // namespace

TEST_F(AgentTest, APlacementBecomesARunningVmAndADeletionRemovesIt) {
    Host host{server.port(), "mac-1", profile};
    host.preload("sonoma");
    host.start();
    ASSERT_TRUE(eventually([&] { return ci.get("/api/nodes/mac-1").status == 200; }));
    EXPECT_EQ(node("mac-1")["cachedImages"], json::array({"sonoma"}));

    ASSERT_EQ(schedule("sonoma", "job-1"), 200);
    // Running once the agent says so, and listed by its heartbeat with the VM's address.
    ASSERT_TRUE(eventually([&] { return vm("job-1").contains("vmIpAddress"); })) << vm("job-1");
    const auto record = vm("job-1");
    EXPECT_EQ(record["state"], "running");
    EXPECT_TRUE(record["vmIpAddress"].get<std::string>().starts_with("192.168.64.")) << record;
    EXPECT_EQ(host.running_on_mac(), 1);

    ASSERT_EQ(ci.del("/api/vms/job-1").status, 200);
    ASSERT_TRUE(eventually([&] { return vm_state_is("job-1", "deleted"); })) << vm("job-1");
    EXPECT_EQ(host.running_on_mac(), 0);
    EXPECT_TRUE(host.status().vms.empty());
}

TEST_F(AgentTest, AVmWhoseRunnerFinishedIsDeletedWithoutBeingAsked) {
    profile.job_runtime = 300ms;
    Host host{server.port(), "mac-1", profile};
    host.preload("sonoma");
    host.start();
    ASSERT_TRUE(eventually([&] { return ci.get("/api/nodes/mac-1").status == 200; }));
    ASSERT_EQ(schedule("sonoma", "job-1"), 200);
    ASSERT_TRUE(eventually([&] { return vm_state_is("job-1", "deleted"); })) << vm("job-1");
    const auto record = vm("job-1");
    std::vector<std::string> states;
    for (const auto& transition : record["transitions"]) states.push_back(transition["state"]);
    EXPECT_NE(std::find(states.begin(), states.end(), "running"), states.end()) << vm("job-1");
}

TEST_F(AgentTest, AMissingImageIsPulledOnceForTwoVmsWithProgressReported) {
    profile.bandwidth_mbps = 160'000; // 40 GB in 2 s: progress ticks every second
    Host host{server.port(), "mac-1", profile};
    host.start();
    ASSERT_TRUE(eventually([&] { return ci.get("/api/nodes/mac-1").status == 200; }));
    ASSERT_EQ(schedule("sequoia", "job-1"), 200);
    ASSERT_EQ(schedule("sequoia", "job-2"), 200);
    ASSERT_TRUE(eventually([&] { return vm("job-1").value("message", "").starts_with("downloading"); }, 5s))
        << vm("job-1");
    ASSERT_TRUE(eventually([&] { return vm_state_is("job-1", "running") && vm_state_is("job-2", "running"); }, 10s));
    EXPECT_EQ(host.pulls_on_mac(), 1) << "two VMs, one download";
    ASSERT_TRUE(eventually([&] { return node("mac-1")["cachedImages"] == json::array({"sequoia"}); }))
        << node("mac-1");
}

TEST_F(AgentTest, TheLeastRecentlyUsedImageIsEvictedAtTheCacheLimit) {
    macvmorx::agent::AgentOptions options;
    options.max_cached_images = 2;
    Host host{server.port(), "mac-1", profile, options};
    host.preload("sonoma");
    host.preload("ventura");
    host.start();
    ASSERT_TRUE(eventually([&] { return ci.get("/api/nodes/mac-1").status == 200; }));
    // Use ventura, so that sonoma is the least recently used.
    ASSERT_EQ(schedule("ventura", "job-1"), 200);
    ASSERT_TRUE(eventually([&] { return vm_state_is("job-1", "running"); }));
    ASSERT_EQ(schedule("tahoe", "job-2"), 200);
    ASSERT_TRUE(eventually([&] { return vm_state_is("job-2", "running"); }, 10s)) << vm("job-2");
    ASSERT_TRUE(eventually([&] { return node("mac-1")["cachedImages"].size() == 2; })) << node("mac-1");
    const auto images = node("mac-1")["cachedImages"];
    EXPECT_EQ(images.size(), 2u) << images;
    EXPECT_EQ(std::count(images.begin(), images.end(), "sonoma"), 0) << images;
    EXPECT_EQ(std::count(images.begin(), images.end(), "ventura"), 1) << "in use: never evicted";
}

TEST_F(AgentTest, RoomIsMadeForTheIncomingImagesSizeBeforeItsPull) {
    // The registry tells the image's size before the pull (tart's own pruning is off): with 540
    // of 1000 GB free and 100 kept free, a 500 GB image needs the unused 400 GB one gone first.
    profile.image_sizes_gb = {{"sonoma", 400}, {"tahoe", 500}};
    macvmorx::agent::AgentOptions options;
    options.min_free_disk_gb = 100;
    Host host{server.port(), "mac-1", profile, options};
    host.preload("sonoma");
    host.start();
    ASSERT_TRUE(eventually([&] { return ci.get("/api/nodes/mac-1").status == 200; }));
    ASSERT_EQ(schedule("tahoe", "job-1"), 200);
    ASSERT_TRUE(eventually([&] { return vm_state_is("job-1", "running"); }, 10s)) << vm("job-1");
    ASSERT_TRUE(eventually([&] { return node("mac-1")["cachedImages"] == json::array({"tahoe"}); })) << node("mac-1");
}

TEST_F(AgentTest, AGhostVmMakesTheNodeDegradedAndPlacementsGoElsewhere) {
    profile.ghost_rate = 1.0; // every deletion leaves a ghost holding a slot
    Host host{server.port(), "mac-1", profile};
    host.preload("sonoma");
    host.start();
    Host other{server.port(), "mac-2", profile};
    ASSERT_TRUE(eventually([&] { return ci.get("/api/nodes/mac-1").status == 200; }));
    // Two VMs made and deleted on mac-1 leave two ghosts: macOS's limit is held.
    for (const std::string id : {"job-1", "job-2"}) {
        ASSERT_EQ(schedule("sonoma", id), 200);
        ASSERT_TRUE(eventually([&] { return vm_state_is(id, "running"); }));
        ci.del("/api/vms/" + id);
        ASSERT_TRUE(eventually([&] { return vm_state_is(id, "deleted"); }));
    }
    ASSERT_EQ(schedule("sonoma", "job-3"), 200);
    EXPECT_EQ(vm("job-3")["nodeId"], "mac-1");
    ASSERT_TRUE(eventually([&] { return node("mac-1")["status"] == "degraded"; })) << node("mac-1");
    EXPECT_FALSE(host.status().degraded_reason.empty());
    EXPECT_NE(node("mac-1").value("statusReason", "").find("a ghost VM holds a slot"), std::string::npos) << node("mac-1");

    other.start();
    ASSERT_TRUE(eventually([&] { return ci.get("/api/nodes/mac-2").status == 200; }));
    // job-3 failed on mac-1 and is placed again elsewhere; so is any new VM.
    ASSERT_TRUE(eventually([&] { return vm("job-3")["nodeId"] == "mac-2"; })) << vm("job-3");
    ASSERT_EQ(schedule("sonoma", "job-4"), 200);
    EXPECT_EQ(vm("job-4")["nodeId"], "mac-2");
}

TEST_F(AgentTest, AnAgentKeepsTryingWhileTheOrchestratorIsDown) {
    auto config = macvmorx::testing::test_config();
    const std::uint16_t port = server.port();
    server.daemon().stop();
    Host host{port, "mac-1", profile};
    host.start();
    ASSERT_TRUE(eventually([&] { return host.status().heartbeats_failed >= 2; }));
    EXPECT_FALSE(host.status().connected);

    config.port = port;
    TestDaemon again{config};
    auto client = again.client();
    ASSERT_TRUE(eventually([&] { return client.get("/api/nodes/mac-1").status == 200; }, 10s));
    // The agent marks itself connected once it has read the answer: a moment after the daemon
    // registered the node.
    EXPECT_TRUE(eventually([&] { return host.status().connected; }));
}

TEST_F(AgentTest, ARestartedAgentFindsItsRunningVmAndKeepsIt) {
    Host host{server.port(), "mac-1", profile};
    host.preload("sonoma");
    host.start();
    ASSERT_TRUE(eventually([&] { return ci.get("/api/nodes/mac-1").status == 200; }));
    ASSERT_EQ(schedule("sonoma", "job-1"), 200);
    ASSERT_TRUE(eventually([&] { return vm_state_is("job-1", "running"); }));

    host.kill_agent();
    host.start();
    ASSERT_TRUE(eventually([&] { return host.status().vms.size() == 1; }));
    EXPECT_EQ(host.status().vms[0].vm_id, "job-1");
    // Still running, still deletable through the new agent.
    EXPECT_TRUE(vm_state_is("job-1", "running"));
    ci.del("/api/vms/job-1");
    ASSERT_TRUE(eventually([&] { return vm_state_is("job-1", "deleted"); }));
    EXPECT_EQ(host.running_on_mac(), 0);
}

TEST_F(AgentTest, ARestartedAgentWithAJournalKnowsTheImageOfTheVmItFindsAndKeepsThatImage) {
    const auto journal = std::filesystem::temp_directory_path() /
                         ("macvmorx-agent-journal-" + std::to_string(::getpid()) + ".json");
    std::filesystem::remove(journal);
    macvmorx::agent::AgentOptions options;
    options.state_file = journal.string();
    options.max_cached_images = 1;
    Host host{server.port(), "mac-1", profile, options};
    host.preload("sonoma");
    host.start();
    ASSERT_TRUE(eventually([&] { return ci.get("/api/nodes/mac-1").status == 200; }));
    ASSERT_EQ(schedule("sonoma", "job-1"), 200);
    ASSERT_TRUE(eventually([&] { return vm_state_is("job-1", "running"); }));

    host.kill_agent();
    host.start();
    ASSERT_TRUE(eventually([&] { return host.status().vms.size() == 1 && !host.status().vms[0].ip_address.empty(); }));
    const auto found = host.status().vms[0];
    EXPECT_TRUE(found.adopted);
    EXPECT_EQ(found.image, "sonoma") << "from the journal";
    EXPECT_TRUE(found.holds_image);
    ASSERT_TRUE(eventually([&] {
        const auto reported = node("mac-1")["vms"];
        return reported.size() == 1 && reported[0]["imageName"] == "sonoma";
    }));

    // Room for one image, and the VM found running uses it: another image cannot push it out.
    ASSERT_EQ(schedule("sequoia", "job-2"), 200);
    ASSERT_TRUE(eventually([&] { return vm("job-2")["transitions"].size() > 3; }));
    ASSERT_TRUE(eventually([&] {
        const auto transitions = vm("job-2")["transitions"];
        return std::any_of(transitions.begin(), transitions.end(), [](const json& t) {
            return t["state"] == "failed" && t["message"].get<std::string>().find("no room for image sequoia") !=
                                                 std::string::npos;
        });
    })) << vm("job-2").dump();
    EXPECT_EQ(host.status().cached_images, std::vector<std::string>{"sonoma"});
    EXPECT_TRUE(vm_state_is("job-1", "running"));
    std::filesystem::remove(journal);
}
