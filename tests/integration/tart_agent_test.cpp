// `macvmorx agent` as a process, driving a fake tart (tests/support/fake-tart) against the real
// daemon: placements become clones that boot, deletions remove them, GitHub runners start in
// the guest with their configuration on SSH's standard input, and failures are reported.

#include "daemon_process.hpp"
#include "fake_github.hpp"
#include "test_daemon.hpp"
#include "test_keys.hpp"

#include "macvmorx/github/webhook_signature.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

using macvmorx::testing::DaemonProcess;
using macvmorx::testing::eventually;
using macvmorx::testing::TestDaemon;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

const std::string fake_tart_dir = MACVMORX_FAKE_TART_DIR;

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in{path};
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

class TartAgent : public ::testing::Test {
protected:
    std::filesystem::path state = std::filesystem::temp_directory_path() /
                                  ("macvmorx-tart-" + std::to_string(::getpid()) + "-" +
                                   ::testing::UnitTest::GetInstance()->current_test_info()->name());

    void SetUp() override {
        std::filesystem::remove_all(state);
        std::filesystem::create_directories(state);
    }
    void TearDown() override {
        if (agent) {
            agent->signal(SIGTERM); // a graceful stop ends the VMs it runs
            agent->wait_for_exit(std::chrono::seconds{10});
        }
        agent.reset();
        std::filesystem::remove_all(state);
    }

    void start_agent(std::uint16_t port) {
        agent = std::make_unique<DaemonProcess>(
            MACVMORX_BINARY,
            std::vector<std::string>{"agent", "--server", "http://127.0.0.1:" + std::to_string(port), "--node-id",
                                     "mac-tart", "--tart", fake_tart_dir + "/tart", "--ssh", fake_tart_dir + "/ssh",
                                     "--heartbeat-interval", "200ms", "--guest-user", "runner", "--log-level", "debug"},
            std::vector<std::string>{"FAKE_TART_DIR=" + state.string()});
    }
    std::string calls() const { return read_file(state / "calls.log"); }

    std::unique_ptr<DaemonProcess> agent;
};

json get(macvmorx::http::HttpClient& client, const std::string& target) { return json::parse(client.get(target).body); }

} // namespace

TEST_F(TartAgent, APlacementBecomesABootedCloneAndADeletionRemovesIt) {
    TestDaemon daemon;
    auto client = daemon.client();
    start_agent(daemon.port());
    ASSERT_TRUE(eventually([&] { return client.get("/api/nodes/mac-tart").status == 200; })) << agent->output();
    EXPECT_EQ(get(client, "/api/nodes/mac-tart")["status"], "idle");

    ASSERT_EQ(client.post_json("/api/schedule-vm", R"({"imageName":"ghcr.io/acme/sonoma:1","vmId":"job-1","cpu":4})").status, 200);
    ASSERT_TRUE(eventually([&] { return get(client, "/api/vms/job-1")["state"] == "running"; }, 10s)) << agent->output();
    const auto log = calls();
    EXPECT_NE(log.find("pull ghcr.io/acme/sonoma:1"), std::string::npos) << log;
    EXPECT_NE(log.find("clone ghcr.io/acme/sonoma:1 macvmorx-job-1"), std::string::npos) << log;
    EXPECT_NE(log.find("set macvmorx-job-1 --cpu 4"), std::string::npos) << log;
    EXPECT_NE(log.find("run --no-graphics macvmorx-job-1"), std::string::npos) << log;
    ASSERT_TRUE(eventually([&] {
        const auto node = get(client, "/api/nodes/mac-tart");
        return node["cachedImages"] == json({"ghcr.io/acme/sonoma:1"}) && !node["vms"].empty() &&
               node["vms"][0]["vmIpAddress"].get<std::string>().starts_with("192.168.64.");
    })) << get(client, "/api/nodes/mac-tart").dump();

    ASSERT_EQ(client.del("/api/vms/job-1").status, 200);
    ASSERT_TRUE(eventually([&] { return get(client, "/api/vms/job-1")["state"] == "deleted"; }, 10s)) << agent->output();
    EXPECT_FALSE(std::filesystem::exists(state / "vms" / "macvmorx-job-1")) << "the clone is gone";
    EXPECT_TRUE(std::filesystem::exists(state / "images" / "ghcr.io%acme%sonoma+1")) << "the image stays cached";
}

TEST_F(TartAgent, AFailedPullIsReportedWithWhatTartSaid) {
    TestDaemon daemon;
    auto client = daemon.client();
    std::ofstream{state / "fail-pull"} << "ghcr.io/acme/missing:1\n";
    start_agent(daemon.port());
    ASSERT_TRUE(eventually([&] { return client.get("/api/nodes/mac-tart").status == 200; })) << agent->output();
    ASSERT_EQ(client.post_json("/api/schedule-vm", R"({"imageName":"ghcr.io/acme/missing:1","vmId":"job-2"})").status, 200);
    ASSERT_TRUE(eventually([&] { return client.get("/api/vms/job-2").body.find("manifest unknown") != std::string::npos; }, 10s))
        << client.get("/api/vms/job-2").body << agent->output();
}

TEST_F(TartAgent, MacOsRefusingAnotherVmMakesTheNodeDegraded) {
    TestDaemon daemon;
    auto client = daemon.client();
    std::ofstream{state / "vm-limit"} << "";
    start_agent(daemon.port());
    ASSERT_TRUE(eventually([&] { return client.get("/api/nodes/mac-tart").status == 200; })) << agent->output();
    ASSERT_EQ(client.post_json("/api/schedule-vm", R"({"imageName":"ghcr.io/acme/sonoma:1","vmId":"job-3"})").status, 200);
    ASSERT_TRUE(eventually([&] { return get(client, "/api/nodes/mac-tart")["status"] == "degraded"; }, 10s))
        << agent->output();
    EXPECT_EQ(client.post_json("/api/schedule-vm", R"({"imageName":"ghcr.io/acme/sonoma:1"})").status, 503)
        << "the scheduler skips a degraded node";
}

TEST_F(TartAgent, AGithubRunnerStartsInTheGuestWithItsConfigurationOnStandardInputOnly) {
    macvmorx::testing::FakeGithub github;
    const auto config = macvmorx::testing::github_test_config(github, macvmorx::testing::shared_rsa_key().private_pem,
                                                              "secret", "ghcr.io/acme/sonoma-runner:1");
    TestDaemon daemon{config};
    auto client = daemon.client();
    start_agent(daemon.port());
    ASSERT_TRUE(eventually([&] { return client.get("/api/nodes/mac-tart").status == 200; })) << agent->output();

    const std::string body =
        R"({"action":"queued","workflow_job":{"id":61,"run_id":9,"labels":["self-hosted","macOS"],"name":"build"},"repository":{"full_name":"acme/app"}})";
    const auto delivered = client.request(macvmorx::http::Method::post, "/webhooks/github", body,
                                          {{"Content-Type", "application/json"},
                                           {"X-GitHub-Event", "workflow_job"},
                                           {"X-GitHub-Delivery", "t-1"},
                                           {"X-Hub-Signature-256", macvmorx::github::webhook_signature("secret", body)}});
    ASSERT_EQ(delivered.status, 200) << delivered.body;
    std::string vm_id;
    ASSERT_TRUE(eventually([&] {
        const auto vms = get(client, "/api/vms");
        if (vms.empty() || vms[0]["state"] != "running") return false;
        vm_id = vms[0]["vmId"];
        return true;
    }, 10s)) << agent->output();

    // The guest was reached as the configured user, and the runner given its configuration.
    std::string ip;
    ASSERT_TRUE(eventually([&] {
        for (const auto& entry : std::filesystem::directory_iterator(state)) {
            const auto name = entry.path().filename().string();
            if (name.starts_with("guest-") && name.ends_with(".stdin")) ip = name.substr(6, name.size() - 6 - 6);
        }
        return !ip.empty();
    })) << "ssh was started";
    ASSERT_TRUE(eventually([&] { return !read_file(state / ("guest-" + ip + ".stdin")).empty(); }));
    const std::string secret = "JIT-SECRET-macvmorx-" + vm_id;
    EXPECT_EQ(read_file(state / ("guest-" + ip + ".stdin")), secret + "\n");
    const auto args = read_file(state / ("guest-" + ip + ".args"));
    EXPECT_NE(args.find("runner@" + ip), std::string::npos) << args;
    EXPECT_NE(args.find("--jitconfig"), std::string::npos) << args;
    EXPECT_EQ(args.find("JIT-SECRET"), std::string::npos) << "never on a command line: " << args;
    EXPECT_EQ(calls().find("JIT-SECRET"), std::string::npos);
    EXPECT_EQ(agent->output().find("JIT-SECRET"), std::string::npos) << "never in the agent's log";

    // The runner finishes its one job (it ran for a heartbeat or more) and exits: the agent
    // deletes the VM on its own.
    ASSERT_TRUE(eventually([&] { return !get(client, "/api/nodes/mac-tart")["vms"].empty(); }));
    std::ofstream{state / ("runner-exit-" + ip)} << "";
    ASSERT_TRUE(eventually([&] {
        const auto state_now = get(client, "/api/vms/" + vm_id)["state"];
        return state_now == "deleted" || state_now == "failed";
    }, 10s)) << agent->output() << calls() << client.get("/api/nodes/mac-tart").body << client.get("/api/vms").body;
    EXPECT_TRUE(eventually([&] { return !std::filesystem::exists(state / "vms" / ("macvmorx-" + vm_id)); }));
    EXPECT_TRUE(eventually([&] { return github.removed() == std::vector<std::int64_t>{500}; }));
}
