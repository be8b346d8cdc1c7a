// `macvmorx agent` as a process, driving a fake tart (tests/support/fake-tart) against the real
// daemon: placements become clones that boot, deletions remove them, GitHub runners start in
// the guest with their configuration on SSH's standard input, and failures are reported. Several
// agents share one daemon's placements; the image cache evicts through `tart delete`; an agent
// killed mid-provisioning and started again reconciles with what tart holds.

#include "daemon_process.hpp"
#include "fake_github.hpp"
#include "fake_registry.hpp"
#include "test_daemon.hpp"
#include "test_keys.hpp"

#include "macvmorx/github/webhook_signature.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
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

// The file names in one folder of a fake tart's state.
std::set<std::string> entries(const std::filesystem::path& folder) {
    std::set<std::string> names;
    std::error_code missing; // not made yet: nothing in it
    for (const auto& entry : std::filesystem::directory_iterator(folder, missing)) {
        names.insert(entry.path().filename().string());
    }
    return names;
}

std::string name_of(std::string stored) {
    std::replace(stored.begin(), stored.end(), '%', '/');
    std::replace(stored.begin(), stored.end(), '+', ':');
    return stored;
}

// The images a fake tart holds, under their tags (and digests pulled as such).
std::set<std::string> images_on(const std::filesystem::path& tart_state) {
    std::set<std::string> images;
    for (const auto& tag : entries(tart_state / "tags")) images.insert(name_of(tag));
    for (const auto& digest : entries(tart_state / "oci")) {
        if (std::filesystem::exists(tart_state / "oci" / digest / "explicit")) images.insert(name_of(digest));
    }
    return images;
}

// The images tart stores (by digest), however many tags link to them.
std::size_t stored_images_on(const std::filesystem::path& tart_state) { return entries(tart_state / "oci").size(); }

std::set<std::string> clones_on(const std::filesystem::path& tart_state) { return entries(tart_state / "vms"); }
std::set<std::string> running_on(const std::filesystem::path& tart_state) { return entries(tart_state / "running"); }

// How many times a fake tart was called with exactly `call` ("delete ghcr.io/acme/b:1").
std::size_t calls_of(const std::filesystem::path& tart_state, const std::string& call) {
    std::istringstream log{read_file(tart_state / "calls.log")};
    std::size_t count = 0;
    for (std::string line; std::getline(log, line);) count += line == call ? 1 : 0;
    return count;
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
        // A graceful stop ends the VMs an agent runs; all are asked at once, then awaited.
        std::vector<DaemonProcess*> running;
        if (agent) running.push_back(agent.get());
        for (auto& other : others) running.push_back(other.get());
        for (auto* process : running) process->signal(SIGTERM);
        for (auto* process : running) process->wait_for_exit(std::chrono::seconds{10});
        agent.reset();
        others.clear();
        // Processes of a killed agent (a pull, a `tart run`) end once their state is gone. One that
        // writes while the tree is removed leaves a directory behind ("cannot remove all" on a
        // loaded machine): try again until the tree is gone.
        for (int attempt = 0; attempt < 50; ++attempt) {
            std::error_code ignored;
            std::filesystem::remove_all(state, ignored);
            if (!std::filesystem::exists(state, ignored)) break;
            std::this_thread::sleep_for(std::chrono::milliseconds{100});
        }
    }

    // `macvmorx agent` as node `node_id`, over a fake tart keeping its state in `tart_state`.
    std::unique_ptr<DaemonProcess> launch_agent(std::uint16_t port, const std::string& node_id,
                                                const std::filesystem::path& tart_state,
                                                const std::vector<std::string>& extra_arguments = {},
                                                const std::vector<std::string>& extra_environment = {}) {
        std::filesystem::create_directories(tart_state);
        std::vector<std::string> arguments{"agent", "--server", "http://127.0.0.1:" + std::to_string(port), "--node-id",
                                           node_id, "--tart", fake_tart_dir + "/tart", "--ssh", fake_tart_dir + "/ssh",
                                           "--heartbeat-interval", "200ms", "--guest-user", "runner", "--log-level",
                                           "debug", "--state-file", (tart_state / "agent-state.json").string(),
                                           "--vm-log-dir", (tart_state / "vm-logs").string(),
                                           // The fake's images take 1 GB of this machine's real disk.
                                           "--min-free-disk", "0"};
        arguments.insert(arguments.end(), extra_arguments.begin(), extra_arguments.end());
        std::vector<std::string> environment{"FAKE_TART_DIR=" + tart_state.string()};
        environment.insert(environment.end(), extra_environment.begin(), extra_environment.end());
        return std::make_unique<DaemonProcess>(MACVMORX_BINARY, arguments, environment);
    }
    void start_agent(std::uint16_t port, const std::vector<std::string>& extra_arguments = {},
                     const std::vector<std::string>& extra_environment = {}) {
        agent = launch_agent(port, "mac-tart", state, extra_arguments, extra_environment);
    }
    // A runner VM for a queued job, running, its runner at work in the guest (both empty if not).
    struct RunnerAtWork {
        std::string vm_id;
        std::string ip;
    };
    RunnerAtWork start_runner_for_job(TestDaemon& daemon, int job_id);
    // Ends the agent as a crash would: SIGKILL, nothing cleaned up, its commands (a pull, a
    // clone, `tart run`) carry on without it.
    void kill_agent() {
        agent->signal(SIGKILL);
        ASSERT_TRUE(agent->wait_for_exit(std::chrono::seconds{10}).has_value());
        agent.reset();
    }
    std::string calls() const { return read_file(state / "calls.log"); }

    std::unique_ptr<DaemonProcess> agent;
    std::vector<std::unique_ptr<DaemonProcess>> others;
};

json get(macvmorx::http::HttpClient& client, const std::string& target) { return json::parse(client.get(target).body); }

int place(macvmorx::http::HttpClient& client, const std::string& vm_id, const std::string& image) {
    return client.post_json("/api/schedule-vm", json{{"imageName", image}, {"vmId", vm_id}}.dump()).status;
}

bool vm_is(macvmorx::http::HttpClient& client, const std::string& vm_id, const std::string& vm_state) {
    return eventually([&] { return get(client, "/api/vms/" + vm_id)["state"] == vm_state; }, 15s);
}

// Whether the VM's record went through `vm_state` with a message containing `words`.
bool went_through(const json& vm, const std::string& vm_state, const std::string& words) {
    return std::any_of(vm["transitions"].begin(), vm["transitions"].end(), [&](const json& transition) {
        return transition["state"] == vm_state &&
               transition["message"].get<std::string>().find(words) != std::string::npos;
    });
}

// GitHub's webhook for a queued job of acme/app, signed with the test configuration's secret.
int deliver_queued_job(macvmorx::http::HttpClient& client, int job_id, const std::string& delivery) {
    const std::string body = R"({"action":"queued","workflow_job":{"id":)" + std::to_string(job_id) +
                             R"(,"run_id":9,"labels":["self-hosted","macOS"],"name":"build"},"repository":{"full_name":"acme/app"}})";
    return client
        .request(macvmorx::http::Method::post, "/webhooks/github", body,
                 {{"Content-Type", "application/json"},
                  {"X-GitHub-Event", "workflow_job"},
                  {"X-GitHub-Delivery", delivery},
                  {"X-Hub-Signature-256", macvmorx::github::webhook_signature("secret", body)}})
        .status;
}

// A daemon with one runner pool of the Sonoma runner image, on the stand-in GitHub.
macvmorx::config::ServerConfig runner_pool_config(const macvmorx::testing::FakeGithub& github) {
    return macvmorx::testing::github_test_config(github, macvmorx::testing::shared_rsa_key().private_pem, "secret",
                                                 "ghcr.io/acme/sonoma-runner:1");
}

// The id of the first VM once it runs (a runner the webhook asked for), or empty after 10 s.
std::string first_running_vm(macvmorx::http::HttpClient& client) {
    std::string vm_id;
    eventually([&] {
        const auto vms = get(client, "/api/vms");
        if (vms.empty() || vms[0]["state"] != "running") return false;
        vm_id = vms[0]["vmId"];
        return true;
    }, 10s);
    return vm_id;
}

// The guest address the fake ssh was started for (its guest-<ip>.stdin), once there is one.
std::string guest_address(const std::filesystem::path& tart_state) {
    std::string ip;
    eventually([&] {
        for (const auto& entry : std::filesystem::directory_iterator(tart_state)) {
            const auto name = entry.path().filename().string();
            if (name.starts_with("guest-") && name.ends_with(".stdin")) ip = name.substr(6, name.size() - 6 - 6);
        }
        return !ip.empty();
    });
    return ip;
}

TartAgent::RunnerAtWork TartAgent::start_runner_for_job(TestDaemon& daemon, int job_id) {
    auto client = daemon.client();
    start_agent(daemon.port());
    if (!eventually([&] { return client.get("/api/nodes/mac-tart").status == 200; })) return {};
    if (deliver_queued_job(client, job_id, "t-" + std::to_string(job_id)) != 200) return {};
    RunnerAtWork runner{first_running_vm(client), {}};
    if (runner.vm_id.empty()) return {};
    runner.ip = guest_address(state);
    if (!eventually([&] { return std::filesystem::exists(state / ("guest-" + runner.ip + ".runner")); })) return {};
    return runner;
}

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
    EXPECT_TRUE(images_on(state).contains("ghcr.io/acme/sonoma:1")) << "the image stays cached";
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

TEST_F(TartAgent, AVmThatCrashesIsReportedFailedWithWhatTartSaidAndItsCloneDeleted) {
    TestDaemon daemon;
    auto client = daemon.client();
    start_agent(daemon.port());
    ASSERT_TRUE(eventually([&] { return client.get("/api/nodes/mac-tart").status == 200; })) << agent->output();
    ASSERT_EQ(place(client, "job-c", "ghcr.io/acme/sonoma:1"), 200);
    ASSERT_TRUE(vm_is(client, "job-c", "running")) << agent->output();
    ASSERT_TRUE(eventually([&] { return get(client, "/api/nodes/mac-tart")["vms"].size() == 1; }));

    std::ofstream{state / "crash-macvmorx-job-c"} << "";
    ASSERT_TRUE(vm_is(client, "job-c", "failed")) << client.get("/api/vms/job-c").body << agent->output();
    const auto vm = get(client, "/api/vms/job-c");
    const std::string reason = vm["failureReason"];
    // tart exits 0 after a crash (Run.swift): what it printed tells the crash from a shutdown.
    EXPECT_NE(reason.find("the VM stopped on its own: tart run macvmorx-job-c: guest has stopped the virtual machine "
                          "due to error: Error Domain=VZErrorDomain Code=1 \"The virtual machine stopped unexpectedly.\""),
              std::string::npos)
        << vm.dump();
    EXPECT_EQ(vm["attempts"], 1) << "a VM that ran is not made again: its job may have run";
    EXPECT_TRUE(eventually([&] { return clones_on(state).empty(); })) << calls();
    EXPECT_TRUE(eventually([&] { return get(client, "/api/nodes/mac-tart")["vms"].empty(); }));
}

TEST_F(TartAgent, MacOsRefusingAnotherVmMakesTheNodeDegradedAndPlacementsGoElsewhere) {
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
    EXPECT_NE(get(client, "/api/nodes/mac-tart")["acceptsVms"], true);

    // A healthy Mac joins: placements go there, and the degraded one is left alone.
    others.push_back(launch_agent(daemon.port(), "mac-ok", state / "mac-ok"));
    ASSERT_TRUE(eventually([&] { return client.get("/api/nodes/mac-ok").status == 200; }, 10s));
    ASSERT_EQ(place(client, "job-4", "ghcr.io/acme/sonoma:1"), 200);
    ASSERT_TRUE(vm_is(client, "job-4", "running")) << client.get("/api/vms/job-4").body;
    EXPECT_EQ(get(client, "/api/vms/job-4")["nodeId"], "mac-ok");
    EXPECT_EQ(get(client, "/api/nodes/mac-tart")["status"], "degraded") << "until the Mac is rebooted";
    EXPECT_TRUE(clones_on(state / "mac-ok").contains("macvmorx-job-4"));
}

TEST_F(TartAgent, AGithubRunnerStartsInTheGuestWithItsConfigurationOnStandardInputOnly) {
    macvmorx::testing::FakeGithub github;
    const auto config = runner_pool_config(github);
    TestDaemon daemon{config};
    auto client = daemon.client();
    start_agent(daemon.port());
    ASSERT_TRUE(eventually([&] { return client.get("/api/nodes/mac-tart").status == 200; })) << agent->output();

    ASSERT_EQ(deliver_queued_job(client, 61, "t-1"), 200);
    const std::string vm_id = first_running_vm(client);
    ASSERT_FALSE(vm_id.empty()) << agent->output();

    // The guest was reached as the configured user, and the runner given its configuration.
    const std::string ip = guest_address(state);
    ASSERT_FALSE(ip.empty()) << "ssh was started";
    ASSERT_TRUE(eventually([&] { return !read_file(state / ("guest-" + ip + ".stdin")).empty(); }));
    const std::string secret = "JIT-SECRET-macvmorx-" + vm_id;
    EXPECT_EQ(read_file(state / ("guest-" + ip + ".stdin")), secret + "\n");
    const auto args = read_file(state / ("guest-" + ip + ".args"));
    EXPECT_NE(args.find("runner@" + ip), std::string::npos) << args;
    // The listener itself, its configuration in its environment (ACTIONS_RUNNER_INPUT_JITCONFIG,
    // actions/runner's CommandSettings.cs), not on run.sh's command line where `ps` shows it.
    EXPECT_NE(args.find("export ACTIONS_RUNNER_INPUT_JITCONFIG=\"$config\""), std::string::npos) << args;
    EXPECT_NE(args.find("exec ./bin/Runner.Listener run"), std::string::npos) << args;
    EXPECT_NE(args.find("ACTIONS_RUNNER_RETURN_VERSION_DEPRECATED_EXIT_CODE=1"), std::string::npos) << args;
    EXPECT_EQ(args.find("--jitconfig"), std::string::npos) << args;
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

TEST_F(TartAgent, ThreeAgentsTakeTwoVmsEachAtMostAndDeletionsRemoveTheRightClones) {
    TestDaemon daemon;
    auto client = daemon.client();
    const std::string image = "ghcr.io/acme/sonoma:1";
    const std::vector<std::string> nodes{"mac-a", "mac-b", "mac-c"};
    for (const auto& node : nodes) others.push_back(launch_agent(daemon.port(), node, state / node));
    ASSERT_TRUE(eventually([&] {
        return std::all_of(nodes.begin(), nodes.end(),
                           [&](const std::string& node) { return client.get("/api/nodes/" + node).status == 200; });
    }, 10s));

    // Sampled whenever the test waits: the most clones one node's tart held.
    std::size_t most_clones = 0;
    const auto all_in_state = [&](const std::vector<std::string>& vm_ids, const std::string& vm_state) {
        return eventually([&] {
            for (const auto& node : nodes) most_clones = std::max(most_clones, clones_on(state / node).size());
            return std::all_of(vm_ids.begin(), vm_ids.end(), [&](const std::string& vm_id) {
                return get(client, "/api/vms/" + vm_id)["state"] == vm_state;
            });
        }, 20s);
    };
    // Each VM runs on the node it was placed on, and only there; each node's daemon record lists
    // what its tart runs.
    const auto where_they_run = [&](const std::vector<std::string>& vm_ids) {
        std::map<std::string, std::set<std::string>> placed;
        for (const auto& vm_id : vm_ids) {
            const std::string node = get(client, "/api/vms/" + vm_id)["nodeId"];
            placed[node].insert(vm_id);
            const std::string clone = "macvmorx-" + vm_id;
            EXPECT_TRUE(running_on(state / node).contains(clone)) << vm_id << " on " << node;
            EXPECT_EQ(calls_of(state / node, "clone " + image + " " + clone), 1u) << vm_id << " on " << node;
            for (const auto& other : nodes) {
                if (other == node) continue;
                EXPECT_FALSE(clones_on(state / other).contains(clone)) << vm_id << " also on " << other;
                EXPECT_EQ(calls_of(state / other, "clone " + image + " " + clone), 0u) << vm_id << " also on " << other;
            }
        }
        for (const auto& node : nodes) {
            std::set<std::string> clones;
            for (const auto& vm_id : placed[node]) clones.insert("macvmorx-" + vm_id);
            EXPECT_EQ(clones_on(state / node), clones) << node;
            EXPECT_TRUE(eventually([&] {
                const auto record = get(client, "/api/nodes/" + node);
                std::set<std::string> listed;
                for (const auto& vm : record["vms"]) listed.insert(vm["vmId"].get<std::string>());
                return listed == placed[node];
            })) << client.get("/api/nodes/" + node).body;
        }
        return placed;
    };

    std::vector<std::string> first;
    for (int i = 1; i <= 6; ++i) {
        first.push_back("job-" + std::to_string(i));
        ASSERT_EQ(place(client, first.back(), image), 200) << first.back();
    }
    EXPECT_EQ(place(client, "job-extra", image), 503) << "the six slots of three nodes are taken";
    ASSERT_TRUE(all_in_state(first, "running")) << client.get("/api/vms").body;
    auto placed = where_they_run(first);
    for (const auto& node : nodes) EXPECT_EQ(placed[node].size(), 2u) << node;

    // One VM off mac-a and one off mac-b: exactly their clones go, on their nodes.
    const std::string off_a = *placed["mac-a"].begin();
    const std::string off_b = *placed["mac-b"].rbegin();
    ASSERT_EQ(client.del("/api/vms/" + off_a).status, 200);
    ASSERT_EQ(client.del("/api/vms/" + off_b).status, 200);
    ASSERT_TRUE(all_in_state({off_a, off_b}, "deleted"));
    EXPECT_EQ(calls_of(state / "mac-a", "delete macvmorx-" + off_a), 1u);
    EXPECT_EQ(calls_of(state / "mac-b", "delete macvmorx-" + off_b), 1u);
    std::vector<std::string> kept;
    for (const auto& vm_id : first) {
        if (vm_id != off_a && vm_id != off_b) kept.push_back(vm_id);
    }
    ASSERT_TRUE(eventually([&] {
        return clones_on(state / "mac-a").size() == 1 && clones_on(state / "mac-b").size() == 1;
    }));
    where_they_run(kept);

    // The two free slots take the next two VMs; then the fleet is full again.
    ASSERT_EQ(place(client, "job-7", image), 200);
    ASSERT_EQ(place(client, "job-8", image), 200);
    EXPECT_EQ(place(client, "job-extra", image), 503);
    ASSERT_TRUE(all_in_state({"job-7", "job-8"}, "running")) << client.get("/api/vms").body;
    kept.insert(kept.end(), {"job-7", "job-8"});
    placed = where_they_run(kept);
    EXPECT_EQ(std::set<std::string>({get(client, "/api/vms/job-7")["nodeId"], get(client, "/api/vms/job-8")["nodeId"]}),
              std::set<std::string>({"mac-a", "mac-b"}));
    for (const auto& node : nodes) EXPECT_EQ(placed[node].size(), 2u) << node;
    EXPECT_LE(most_clones, 2u) << "a node's tart held more than the daemon's two VMs per node";
}

TEST_F(TartAgent, TheImageCacheDeletesTheLeastRecentlyUsedImageThatNoVmUses) {
    TestDaemon daemon;
    auto client = daemon.client();
    start_agent(daemon.port(), {"--max-cached-images", "2"});
    ASSERT_TRUE(eventually([&] { return client.get("/api/nodes/mac-tart").status == 200; })) << agent->output();
    const std::string a = "ghcr.io/acme/a:1";
    const std::string b = "ghcr.io/acme/b:1";
    const std::string c = "ghcr.io/acme/c:1";

    const auto run = [&](const std::string& vm_id, const std::string& image) -> ::testing::AssertionResult {
        if (const int status = place(client, vm_id, image); status != 200) {
            return ::testing::AssertionFailure() << "placing " << vm_id << ": " << status;
        }
        if (!vm_is(client, vm_id, "running")) {
            return ::testing::AssertionFailure() << vm_id << " does not run: " << client.get("/api/vms/" + vm_id).body;
        }
        return ::testing::AssertionSuccess();
    };
    const auto remove = [&](const std::string& vm_id) -> ::testing::AssertionResult {
        if (client.del("/api/vms/" + vm_id).status != 200 || !vm_is(client, vm_id, "deleted")) {
            return ::testing::AssertionFailure() << vm_id << " is not deleted: "
                                                 << client.get("/api/vms/" + vm_id).body;
        }
        return ::testing::AssertionSuccess();
    };
    // The node's cachedImages, most recently used first, are what its tart holds.
    const auto cache_is = [&](const std::vector<std::string>& expected) -> ::testing::AssertionResult {
        if (eventually([&] {
                return get(client, "/api/nodes/mac-tart")["cachedImages"] == json(expected) &&
                       images_on(state) == std::set<std::string>(expected.begin(), expected.end());
            }, 10s)) {
            return ::testing::AssertionSuccess();
        }
        std::string on_disk;
        for (const auto& image : images_on(state)) on_disk += image + " ";
        return ::testing::AssertionFailure() << "reported " << get(client, "/api/nodes/mac-tart")["cachedImages"].dump()
                                             << ", tart holds " << on_disk;
    };

    ASSERT_TRUE(run("vm-1", a));
    ASSERT_TRUE(remove("vm-1"));
    ASSERT_TRUE(cache_is({a}));
    ASSERT_TRUE(run("vm-2", b));
    ASSERT_TRUE(remove("vm-2"));
    ASSERT_TRUE(cache_is({b, a}));
    ASSERT_TRUE(run("vm-3", a));
    ASSERT_TRUE(remove("vm-3"));
    ASSERT_TRUE(cache_is({a, b}));
    EXPECT_EQ(calls_of(state, "pull " + a), 1u) << "the second VM of A used the cached image";

    // A third image with room for two: B is used least recently, and no VM uses either.
    ASSERT_TRUE(run("vm-4", c));
    ASSERT_TRUE(cache_is({c, a})) << calls();
    EXPECT_EQ(calls_of(state, "delete " + b), 1u) << calls();
    EXPECT_EQ(calls_of(state, "delete " + a), 0u) << calls();

    // vm-4 keeps C in use while A is used after it: C is the least recently used image now, but
    // in use, so B coming back in takes A's place.
    ASSERT_TRUE(run("vm-5", a));
    ASSERT_TRUE(remove("vm-5"));
    ASSERT_TRUE(cache_is({a, c}));
    ASSERT_TRUE(run("vm-6", b));
    ASSERT_TRUE(cache_is({b, c})) << calls();
    EXPECT_EQ(calls_of(state, "delete " + a), 1u) << calls();
    EXPECT_EQ(calls_of(state, "delete " + c), 0u) << "vm-4 runs from it: " << calls();
    EXPECT_EQ(calls_of(state, "pull " + b), 2u);
    EXPECT_EQ(running_on(state), std::set<std::string>({"macvmorx-vm-4", "macvmorx-vm-6"}));
}

TEST_F(TartAgent, WhileTheImageDownloadsTheVmRecordShowsItsProgress) {
    TestDaemon daemon;
    auto client = daemon.client();
    start_agent(daemon.port(), {}, {"FAKE_TART_PULL_SECONDS=3"});
    ASSERT_TRUE(eventually([&] { return client.get("/api/nodes/mac-tart").status == 200; })) << agent->output();
    const std::string image = "ghcr.io/acme/sonoma:1";
    ASSERT_EQ(place(client, "job-p", image), 200);

    // tart's own percentages reach the VM record while it pulls.
    json during;
    ASSERT_TRUE(eventually([&] {
        during = get(client, "/api/vms/job-p");
        return during["state"] == "provisioning" && during.contains("progress") && during["progress"] > 0.0 &&
               during["progress"] < 1.0;
    }, 10s)) << during.dump() << agent->output();
    const std::string message = during["message"];
    EXPECT_TRUE(message.starts_with("pulling " + image + ": ") && message.ends_with("%")) << message;

    ASSERT_TRUE(vm_is(client, "job-p", "running")) << agent->output();
    const auto after = get(client, "/api/vms/job-p");
    EXPECT_EQ(after["progress"], 1.0) << "the download is complete: " << after.dump();
    EXPECT_TRUE(went_through(after, "provisioning", "")) << after.dump();
}

TEST_F(TartAgent, AVmWhoseAgentWasKilledDuringThePullIsPlacedAgainWhenTheNewAgentReports) {
    auto config = macvmorx::testing::test_config();
    config.start_deadline = 1h; // not what brings the VM back
    TestDaemon daemon{config};
    auto client = daemon.client();
    const std::string image = "ghcr.io/acme/sonoma:1";
    start_agent(daemon.port(), {}, {"FAKE_TART_PULL_SECONDS=2"});
    ASSERT_TRUE(eventually([&] { return client.get("/api/nodes/mac-tart").status == 200; })) << agent->output();
    const std::string first_instance = get(client, "/api/nodes/mac-tart")["agentInstance"];
    EXPECT_FALSE(first_instance.empty());
    ASSERT_EQ(place(client, "job-r", image), 200);
    ASSERT_TRUE(eventually([&] {
        return calls_of(state, "pull " + image) == 1 && get(client, "/api/vms/job-r")["state"] == "provisioning";
    }, 10s)) << agent->output();
    kill_agent();
    // tart's meter writes into the dead agent's pipe: the pull dies of SIGPIPE at its next line,
    // as the real one would. No clone was made.
    EXPECT_TRUE(clones_on(state).empty());

    // The new agent knows nothing of job-r, but its heartbeat names a new instance: the
    // orchestrator fails the forgotten placement and places it again (on this node, the only one).
    start_agent(daemon.port());
    ASSERT_TRUE(vm_is(client, "job-r", "running")) << client.get("/api/vms/job-r").body << agent->output() << calls();
    EXPECT_NE(get(client, "/api/nodes/mac-tart")["agentInstance"], first_instance);
    const auto vm = get(client, "/api/vms/job-r");
    EXPECT_EQ(vm["nodeId"], "mac-tart");
    EXPECT_EQ(vm["attempts"], 2) << vm.dump();
    EXPECT_TRUE(went_through(vm, "failed", "restarted while making it")) << vm.dump();
    EXPECT_TRUE(images_on(state).contains(image));
    EXPECT_LE(calls_of(state, "pull " + image), 2u) << "pulled again at most once, by the new agent: " << calls();
    EXPECT_EQ(clones_on(state), std::set<std::string>{"macvmorx-job-r"}) << calls();
    EXPECT_EQ(running_on(state), std::set<std::string>{"macvmorx-job-r"}) << calls();

    ASSERT_EQ(client.del("/api/vms/job-r").status, 200);
    ASSERT_TRUE(vm_is(client, "job-r", "deleted"));
    EXPECT_TRUE(eventually([&] { return clones_on(state).empty() && running_on(state).empty(); })) << calls();
}

TEST_F(TartAgent, AHalfMadeCloneOfAKilledAgentIsDeletedAtRestartAndItsVmPlacedAgain) {
    TestDaemon daemon;
    auto client = daemon.client();
    const std::string image = "ghcr.io/acme/sonoma:1";
    start_agent(daemon.port(), {}, {"FAKE_TART_CLONE_SECONDS=2"});
    ASSERT_TRUE(eventually([&] { return client.get("/api/nodes/mac-tart").status == 200; })) << agent->output();
    ASSERT_EQ(place(client, "job-h", image), 200);
    ASSERT_TRUE(eventually([&] { return calls_of(state, "clone " + image + " macvmorx-job-h") == 1; }, 10s))
        << agent->output();
    kill_agent();
    ASSERT_TRUE(eventually([&] { return clones_on(state).contains("macvmorx-job-h"); }, 10s))
        << "the clone completes without the agent";
    EXPECT_TRUE(running_on(state).empty());

    // At start the agent deletes the clone it cannot vouch for and reports the VM failed; the
    // orchestrator places it again (on this node, the only one) and it is made from scratch.
    start_agent(daemon.port());
    ASSERT_TRUE(vm_is(client, "job-h", "running")) << client.get("/api/vms/job-h").body << agent->output() << calls();
    const auto vm = get(client, "/api/vms/job-h");
    EXPECT_EQ(vm["nodeId"], "mac-tart");
    EXPECT_EQ(vm["attempts"], 2) << vm.dump();
    EXPECT_TRUE(went_through(vm, "failed", "the agent restarted while making this VM")) << vm.dump();
    EXPECT_GE(calls_of(state, "delete macvmorx-job-h"), 1u) << calls();
    EXPECT_EQ(calls_of(state, "clone " + image + " macvmorx-job-h"), 2u) << calls();
    EXPECT_EQ(clones_on(state), std::set<std::string>{"macvmorx-job-h"}) << calls();
    EXPECT_EQ(running_on(state), std::set<std::string>{"macvmorx-job-h"}) << calls();

    ASSERT_EQ(client.del("/api/vms/job-h").status, 200);
    ASSERT_TRUE(vm_is(client, "job-h", "deleted"));
    EXPECT_TRUE(eventually([&] { return clones_on(state).empty() && running_on(state).empty(); })) << calls();
}

TEST_F(TartAgent, ACloneBootingWhenItsAgentWasKilledIsMadeAgainAfterARestart) {
    TestDaemon daemon;
    auto client = daemon.client();
    const std::string image = "ghcr.io/acme/sonoma:1";
    start_agent(daemon.port(), {}, {"FAKE_TART_BOOT_SECONDS=2"});
    ASSERT_TRUE(eventually([&] { return client.get("/api/nodes/mac-tart").status == 200; })) << agent->output();
    ASSERT_EQ(place(client, "job-b", image), 200);
    ASSERT_TRUE(eventually([&] { return running_on(state).contains("macvmorx-job-b"); }, 10s)) << agent->output();
    EXPECT_EQ(get(client, "/api/vms/job-b")["state"], "provisioning") << "booting, no address yet";
    EXPECT_NE(read_file(state / "agent-state.json").find(R"("stage":"starting")"), std::string::npos)
        << read_file(state / "agent-state.json");
    kill_agent();

    // `tart run` outlived the agent, but the journal says nothing was started in the guest yet
    // and the one-time start is lost with the agent: the clone is deleted and the VM made again.
    start_agent(daemon.port());
    ASSERT_TRUE(vm_is(client, "job-b", "running")) << client.get("/api/vms/job-b").body << agent->output() << calls();
    const auto vm = get(client, "/api/vms/job-b");
    EXPECT_EQ(vm["nodeId"], "mac-tart");
    EXPECT_EQ(vm["attempts"], 2) << vm.dump();
    EXPECT_TRUE(went_through(vm, "failed", "restarted while making")) << vm.dump();
    EXPECT_EQ(calls_of(state, "clone " + image + " macvmorx-job-b"), 2u) << calls();
    EXPECT_GE(calls_of(state, "delete macvmorx-job-b"), 1u) << calls();
    EXPECT_EQ(clones_on(state), std::set<std::string>{"macvmorx-job-b"});

    ASSERT_EQ(client.del("/api/vms/job-b").status, 200);
    ASSERT_TRUE(vm_is(client, "job-b", "deleted")) << agent->output();
    EXPECT_TRUE(eventually([&] { return clones_on(state).empty() && running_on(state).empty(); })) << calls();
}

TEST_F(TartAgent, ARunnerAtWorkWhenItsAgentWasKilledIsWatchedAfterARestartAndItsEndDeletesTheVm) {
    macvmorx::testing::FakeGithub github;
    const std::string image = "ghcr.io/acme/sonoma-runner:1";
    const auto config =
        macvmorx::testing::github_test_config(github, macvmorx::testing::shared_rsa_key().private_pem, "secret", image);
    TestDaemon daemon{config};
    auto client = daemon.client();
    start_agent(daemon.port());
    ASSERT_TRUE(eventually([&] { return client.get("/api/nodes/mac-tart").status == 200; })) << agent->output();
    ASSERT_EQ(deliver_queued_job(client, 62, "t-2"), 200);
    const std::string vm_id = first_running_vm(client);
    ASSERT_FALSE(vm_id.empty()) << agent->output();
    const std::string ip = guest_address(state);
    ASSERT_FALSE(ip.empty());
    ASSERT_TRUE(eventually([&] { return std::filesystem::exists(state / ("guest-" + ip + ".runner")); }));
    ASSERT_TRUE(eventually([&] {
        const auto journal = read_file(state / "agent-state.json");
        return journal.find(R"("stage":"running")") != std::string::npos &&
               journal.find(R"("guest":"runner")") != std::string::npos;
    })) << read_file(state / "agent-state.json");
    kill_agent();

    // The runner goes on with its job. The new agent finds the clone, learns from its journal
    // which image it came from and that a runner works in it, and watches that runner.
    start_agent(daemon.port());
    ASSERT_TRUE(eventually([&] { return std::filesystem::exists(state / ("guest-" + ip + ".watches")); }, 10s))
        << agent->output() << calls();
    ASSERT_TRUE(eventually([&] {
        const auto node = get(client, "/api/nodes/mac-tart");
        return node["vms"].size() == 1 && node["vms"][0]["imageName"] == image && node["vms"][0]["vmIpAddress"] == ip;
    })) << client.get("/api/nodes/mac-tart").body;
    EXPECT_EQ(get(client, "/api/vms/" + vm_id)["state"], "running");
    EXPECT_EQ(calls_of(state, "clone " + image + " macvmorx-" + vm_id), 1u) << "taken over, not made again";
    const auto watch = read_file(state / ("guest-" + ip + ".watches"));
    EXPECT_NE(watch.find("unner.Listener"), std::string::npos) << "the default watch: " << watch;

    // The runner finishes its job: the watch ends, and the agent deletes the VM as if it had
    // started the runner itself.
    std::ofstream{state / ("runner-exit-" + ip)} << "";
    ASSERT_TRUE(eventually([&] {
        const auto state_now = get(client, "/api/vms/" + vm_id)["state"];
        return state_now == "deleted";
    }, 10s)) << agent->output() << calls() << client.get("/api/vms/" + vm_id).body;
    EXPECT_TRUE(eventually([&] { return clones_on(state).empty() && running_on(state).empty(); })) << calls();
    EXPECT_TRUE(eventually([&] { return github.removed() == std::vector<std::int64_t>{500}; }));
    EXPECT_EQ(read_file(state / "agent-state.json").find("JIT-SECRET"), std::string::npos) << "no secret on disk";
    EXPECT_EQ(agent->output().find("JIT-SECRET"), std::string::npos);
}

TEST_F(TartAgent, ClonesLeftByAnEarlierRunThatAreNoLongerWantedAreDeletedAtStart) {
    TestDaemon daemon;
    auto client = daemon.client();
    const std::string image = "ghcr.io/acme/sonoma:1";
    start_agent(daemon.port());
    ASSERT_TRUE(eventually([&] { return client.get("/api/nodes/mac-tart").status == 200; })) << agent->output();
    ASSERT_EQ(place(client, "job-g", image), 200);
    ASSERT_TRUE(vm_is(client, "job-g", "running")) << agent->output();
    kill_agent();

    // While the Mac has no agent, job-g is deleted; a clone that a crash stopped half made and a
    // VM of the Mac's operator lie around too.
    ASSERT_EQ(client.del("/api/vms/job-g").status, 200);
    EXPECT_EQ(get(client, "/api/vms/job-g")["state"], "deleting");
    std::ofstream{state / "vms" / "macvmorx-stale"} << image << "\n";
    std::ofstream{state / "vms" / "operator-vm"} << image << "\n";

    start_agent(daemon.port());
    ASSERT_TRUE(vm_is(client, "job-g", "deleted")) << agent->output() << calls();
    ASSERT_TRUE(eventually([&] { return clones_on(state) == std::set<std::string>{"operator-vm"}; }, 10s)) << calls();
    EXPECT_TRUE(running_on(state).empty()) << "job-g's `tart run` is stopped";
    EXPECT_EQ(calls_of(state, "delete macvmorx-job-g"), 1u) << calls();
    EXPECT_EQ(calls_of(state, "delete macvmorx-stale"), 1u) << calls();
    EXPECT_EQ(calls_of(state, "delete operator-vm"), 0u) << "not the agent's: " << calls();
    EXPECT_EQ(client.get("/api/vms/stale").status, 404);
    EXPECT_TRUE(eventually([&] { return get(client, "/api/nodes/mac-tart")["vms"].empty(); }));
}

// ---------------------------------------------------------------------------------------------
// What real tart and macOS do (tests/support/fake-tart follows tart's source for each)

namespace {

std::string node_reason(macvmorx::http::HttpClient& client, const std::string& node_id) {
    return get(client, "/api/nodes/" + node_id).value("statusReason", "");
}

// How many lines of a fake's log start with `prefix`.
std::size_t lines_starting(const std::filesystem::path& log, const std::string& prefix) {
    std::istringstream lines{read_file(log)};
    std::size_t count = 0;
    for (std::string line; std::getline(lines, line);) count += line.starts_with(prefix) ? 1 : 0;
    return count;
}

// Runs the fake tart as an operator would, outside the agent (and without TART_NO_AUTO_PRUNE);
// in the background (`tart run`) with `background`.
int fake_tart(const std::filesystem::path& tart_state, const std::string& arguments, const std::string& environment = {},
              bool background = false) {
    const std::string command = "env -u TART_NO_AUTO_PRUNE FAKE_TART_DIR='" + tart_state.string() + "' " + environment +
                                " '" + fake_tart_dir + "/tart' " + arguments + " >/dev/null 2>&1" + (background ? " &" : "");
    return std::system(command.c_str());
}

} // namespace

TEST_F(TartAgent, TheVmLimitInTartsOwnWordsMakesTheNodeDegradedWithTheReason) {
    TestDaemon daemon;
    auto client = daemon.client();
    std::ofstream{state / "vm-limit"} << "";
    start_agent(daemon.port());
    ASSERT_TRUE(eventually([&] { return client.get("/api/nodes/mac-tart").status == 200; })) << agent->output();
    ASSERT_EQ(place(client, "job-l", "ghcr.io/acme/sonoma:1"), 200);
    ASSERT_TRUE(eventually([&] { return get(client, "/api/nodes/mac-tart")["status"] == "degraded"; }, 10s))
        << agent->output();
    // tart's RuntimeError.VirtualMachineLimitExceeded, not Apple's words, reached the agent.
    EXPECT_NE(agent->output().find("The number of VMs exceeds the system limit"), std::string::npos) << agent->output();
    EXPECT_NE(node_reason(client, "mac-tart").find("a ghost VM holds a slot"), std::string::npos)
        << get(client, "/api/nodes/mac-tart").dump();
    EXPECT_TRUE(eventually([&] { return clones_on(state).empty(); })) << "the refused clone is deleted: " << calls();
}

TEST_F(TartAgent, AGuestThatShutsDownBeforeItsRunnerFinishesIsFailedNotDone) {
    macvmorx::testing::FakeGithub github;
    const auto config = runner_pool_config(github);
    TestDaemon daemon{config};
    auto client = daemon.client();
    const auto [vm_id, ip] = start_runner_for_job(daemon, 63);
    ASSERT_FALSE(vm_id.empty()) << agent->output();

    // The guest goes down with its runner at work: `tart run` exits 0 as after any shutdown.
    std::ofstream{state / ("shutdown-macvmorx-" + vm_id)} << "";
    ASSERT_TRUE(vm_is(client, vm_id, "failed")) << client.get("/api/vms/" + vm_id).body << agent->output();
    const std::string reason = get(client, "/api/vms/" + vm_id)["failureReason"];
    EXPECT_NE(reason.find("shut down before its runner finished"), std::string::npos) << reason;
    EXPECT_TRUE(eventually([&] { return clones_on(state).empty(); })) << calls();
}

TEST_F(TartAgent, ARunnerThatGithubNoLongerAcceptsFailsItsVmAndThePoolWaitsBeforeTheNext) {
    // A golden image with a deprecated runner: the listener exits 7 before any job
    // (RunnerVersionDeprecated in actions/runner's Constants.cs, returned when
    // ACTIONS_RUNNER_RETURN_VERSION_DEPRECATED_EXIT_CODE=1, which the agent sets). Each fresh VM
    // would do the same: the pool waits, on the daemon's clock, before it registers the next runner.
    macvmorx::testing::FakeGithub github;
    auto config = runner_pool_config(github);
    config.monitor_interval = std::chrono::milliseconds{50}; // the pools are looked at often
    TestDaemon daemon{config};
    auto client = daemon.client();
    const auto [vm_id, ip] = start_runner_for_job(daemon, 65);
    ASSERT_FALSE(vm_id.empty()) << agent->output();

    std::ofstream{state / ("runner-exit-" + ip)} << "7";
    ASSERT_TRUE(vm_is(client, vm_id, "failed")) << client.get("/api/vms/" + vm_id).body << agent->output();
    const std::string reason = get(client, "/api/vms/" + vm_id)["failureReason"];
    EXPECT_NE(reason.find("GitHub no longer accepts this runner's version"), std::string::npos) << reason;
    EXPECT_NE(reason.find("exit status 7"), std::string::npos) << reason;
    EXPECT_EQ(get(client, "/api/jobs/65")["state"], "queued") << "the job still waits for a runner";

    // Many sweeps pass; the daemon's clock has not moved, so the pool still waits.
    std::this_thread::sleep_for(std::chrono::milliseconds{500});
    EXPECT_EQ(github.jit_requests().size(), 1u) << "no boot, register, exit loop";
    daemon.clock().advance(std::chrono::minutes{1});
    EXPECT_TRUE(eventually([&] { return github.jit_requests().size() == 2u; })) << "then one more try";
}

TEST_F(TartAgent, AVmWithNothingAtWorkInItWhoseGuestShutsDownIsDone) {
    TestDaemon daemon;
    auto client = daemon.client();
    start_agent(daemon.port());
    ASSERT_TRUE(eventually([&] { return client.get("/api/nodes/mac-tart").status == 200; })) << agent->output();
    ASSERT_EQ(place(client, "job-s", "ghcr.io/acme/sonoma:1"), 200);
    ASSERT_TRUE(vm_is(client, "job-s", "running")) << agent->output();
    ASSERT_TRUE(eventually([&] { return get(client, "/api/nodes/mac-tart")["vms"].size() == 1; }));
    std::ofstream{state / "shutdown-macvmorx-job-s"} << "";
    ASSERT_TRUE(vm_is(client, "job-s", "deleted")) << client.get("/api/vms/job-s").body << agent->output();
    EXPECT_FALSE(get(client, "/api/vms/job-s").contains("failureReason"));
}

TEST_F(TartAgent, AnImageThatTartListsUnderItsTagAndItsDigestIsOneImageUnderThePoolsName) {
    TestDaemon daemon;
    auto client = daemon.client();
    const std::string untagged = "ghcr.io/acme/sonoma"; // tart lists it as ghcr.io/acme/sonoma:latest
    start_agent(daemon.port(), {"--max-cached-images", "1"});
    ASSERT_TRUE(eventually([&] { return client.get("/api/nodes/mac-tart").status == 200; })) << agent->output();
    ASSERT_EQ(place(client, "job-t", untagged), 200);
    ASSERT_TRUE(vm_is(client, "job-t", "running")) << agent->output();
    EXPECT_EQ(images_on(state), std::set<std::string>{untagged + ":latest"}) << "one tag, linking to one digest";
    EXPECT_EQ(stored_images_on(state), 1u);
    ASSERT_TRUE(eventually([&] { return get(client, "/api/nodes/mac-tart")["cachedImages"] == json({untagged}); }))
        << get(client, "/api/nodes/mac-tart").dump();
    ASSERT_EQ(client.del("/api/vms/job-t").status, 200);
    ASSERT_TRUE(vm_is(client, "job-t", "deleted"));

    // A restarted agent lists the tag and the digest again: still one image, still the pool's name.
    const std::string first_instance = get(client, "/api/nodes/mac-tart")["agentInstance"];
    agent->signal(SIGTERM);
    ASSERT_TRUE(agent->wait_for_exit(10s).has_value());
    start_agent(daemon.port(), {"--max-cached-images", "1"});
    ASSERT_TRUE(eventually([&] { return get(client, "/api/nodes/mac-tart")["agentInstance"] != first_instance; }))
        << agent->output();
    EXPECT_EQ(get(client, "/api/nodes/mac-tart")["cachedImages"], json({untagged})) << agent->output();

    // With room for one image, another one takes its place: one `tart delete` of the tag takes the
    // tag and its digest (VMStorageOCI.swift's gc), and the pull of the first is not repeated.
    ASSERT_EQ(place(client, "job-u", "ghcr.io/acme/ventura:1"), 200);
    ASSERT_TRUE(vm_is(client, "job-u", "running")) << agent->output();
    EXPECT_EQ(calls_of(state, "delete " + untagged), 1u) << calls();
    EXPECT_EQ(images_on(state), std::set<std::string>{"ghcr.io/acme/ventura:1"});
    EXPECT_EQ(stored_images_on(state), 1u) << "the digest went with its tag";
    EXPECT_TRUE(eventually([&] { return get(client, "/api/nodes/mac-tart")["cachedImages"] == json({"ghcr.io/acme/ventura:1"}); }));
    EXPECT_EQ(calls_of(state, "pull " + untagged), 1u) << calls();
}

TEST_F(TartAgent, TartNeverPrunesTheImagesTheAgentKeeps) {
    TestDaemon daemon;
    auto client = daemon.client();
    const std::string a = "ghcr.io/acme/a:1";
    const std::string b = "ghcr.io/acme/b:1";
    // A 140 GB volume and images of 40 GB whose disks are 100 GB: a clone of B claims 60 GB more,
    // which tart's own pruning (Commands/Prune.swift) would take from A.
    std::ofstream{state / "image-sizes"} << a << " 40 100\n" << b << " 40 100\n";
    start_agent(daemon.port(), {}, {"FAKE_TART_DISK_GB=140"});
    ASSERT_TRUE(eventually([&] { return client.get("/api/nodes/mac-tart").status == 200; })) << agent->output();
    ASSERT_EQ(place(client, "vm-a", a), 200);
    ASSERT_TRUE(vm_is(client, "vm-a", "running")) << agent->output();
    ASSERT_EQ(client.del("/api/vms/vm-a").status, 200);
    ASSERT_TRUE(vm_is(client, "vm-a", "deleted"));
    ASSERT_EQ(place(client, "vm-b", b), 200);
    ASSERT_TRUE(vm_is(client, "vm-b", "running")) << agent->output();

    EXPECT_EQ(images_on(state), std::set<std::string>({a, b}));
    EXPECT_FALSE(std::filesystem::exists(state / "pruned.log")) << read_file(state / "pruned.log");
    EXPECT_TRUE(eventually([&] {
        const auto cached = get(client, "/api/nodes/mac-tart")["cachedImages"];
        return cached.size() == 2 && images_on(state).size() == 2;
    }));

    // Without TART_NO_AUTO_PRUNE, tart would have deleted A behind the agent's back.
    ASSERT_EQ(fake_tart(state, "clone " + b + " operator-vm", "FAKE_TART_DISK_GB=140"), 0);
    EXPECT_TRUE(read_file(state / "pruned.log").starts_with("ghcr.io/acme/a@sha256:")) << read_file(state / "pruned.log");
    EXPECT_EQ(images_on(state), std::set<std::string>{b});
}

TEST_F(TartAgent, TheRegistrysManifestTellsTheSizeOfAnImageBeforeItsPull) {
    macvmorx::testing::FakeRegistry registry;
    const std::string image = registry.host() + "/acme/sonoma:1";
    registry.add_image("acme/sonoma:1", 45.0 * 1024 * 1024 * 1024);
    TestDaemon daemon;
    auto client = daemon.client();
    start_agent(daemon.port());
    ASSERT_TRUE(eventually([&] { return client.get("/api/nodes/mac-tart").status == 200; })) << agent->output();
    ASSERT_EQ(place(client, "job-m", image), 200);
    ASSERT_TRUE(vm_is(client, "job-m", "running")) << agent->output();
    EXPECT_NE(agent->output().find("pulling image " + image + " (45.1 GB expected)"), std::string::npos) << agent->output();
    EXPECT_GE(registry.manifest_requests(), 2) << "a 401 challenge, then the manifest with a token";
}

TEST_F(TartAgent, WarningsOnStandardErrorDoNotHideTheHostsClones) {
    TestDaemon daemon;
    auto client = daemon.client();
    start_agent(daemon.port());
    ASSERT_TRUE(eventually([&] { return client.get("/api/nodes/mac-tart").status == 200; })) << agent->output();
    ASSERT_EQ(place(client, "job-w", "ghcr.io/acme/sonoma:1"), 200);
    ASSERT_TRUE(vm_is(client, "job-w", "running")) << agent->output();
    ASSERT_TRUE(eventually([&] { return !get(client, "/api/nodes/mac-tart")["vms"].empty(); }));
    const std::string first_instance = get(client, "/api/nodes/mac-tart")["agentInstance"];
    kill_agent();

    // Root.swift: a failed cleanup of tart's temporary folder is said on stderr before `list`'s JSON.
    std::ofstream{state / "gc-fails"} << "";
    start_agent(daemon.port());
    ASSERT_TRUE(eventually([&] {
        const auto node = get(client, "/api/nodes/mac-tart");
        return node["agentInstance"] != first_instance && node["vms"].size() == 1 && node["vms"][0]["vmId"] == "job-w" &&
               node["cachedImages"] == json({"ghcr.io/acme/sonoma:1"});
    }, 10s)) << client.get("/api/nodes/mac-tart").body << agent->output();
    EXPECT_EQ(get(client, "/api/vms/job-w")["state"], "running") << "taken over, not lost";
    EXPECT_NE(agent->output().find("Failed to perform garbage collection"), std::string::npos) << "logged, not parsed";
}

TEST_F(TartAgent, AHostWhoseTartCannotListIsDegradedUntilItCan) {
    TestDaemon daemon;
    auto client = daemon.client();
    std::ofstream{state / "list-broken"} << "";
    start_agent(daemon.port());
    ASSERT_TRUE(eventually([&] { return client.get("/api/nodes/mac-tart").status == 200; }, 10s)) << agent->output();
    EXPECT_EQ(get(client, "/api/nodes/mac-tart")["status"], "degraded") << "an unknown host is not an empty one";
    EXPECT_NE(node_reason(client, "mac-tart").find("cannot list the host's VMs and images"), std::string::npos)
        << get(client, "/api/nodes/mac-tart").dump();
    EXPECT_EQ(place(client, "job-x", "ghcr.io/acme/sonoma:1"), 503);

    std::filesystem::remove(state / "list-broken");
    ASSERT_TRUE(eventually([&] { return get(client, "/api/nodes/mac-tart")["status"] == "idle"; }, 15s)) << agent->output();
    EXPECT_EQ(node_reason(client, "mac-tart"), "");
}

TEST_F(TartAgent, AGuestThatAnswersSshLateGetsItsRunnerOnce) {
    macvmorx::testing::FakeGithub github;
    const auto config = runner_pool_config(github);
    TestDaemon daemon{config};
    auto client = daemon.client();
    // The first VM of a fresh host takes the first lease; its sshd is not up at once.
    const std::string ip = "192.168.64.2";
    std::ofstream{state / ("unreachable-" + ip)} << "";
    start_agent(daemon.port(), {}, {});
    ASSERT_TRUE(eventually([&] { return client.get("/api/nodes/mac-tart").status == 200; })) << agent->output();
    ASSERT_EQ(deliver_queued_job(client, 64, "t-4"), 200);
    ASSERT_TRUE(eventually([&] { return lines_starting(state / "ssh.log", ip + " true") >= 2; }, 15s))
        << read_file(state / "ssh.log") << agent->output();
    EXPECT_TRUE(read_file(state / "ssh.log").find("Runner.Listener") == std::string::npos) << "no runner before SSH answers";
    EXPECT_EQ(get(client, "/api/vms")[0]["state"], "provisioning");

    std::filesystem::remove(state / ("unreachable-" + ip));
    const std::string vm_id = first_running_vm(client);
    ASSERT_FALSE(vm_id.empty()) << agent->output();
    ASSERT_TRUE(eventually([&] { return std::filesystem::exists(state / ("guest-" + ip + ".runner")); }));
    EXPECT_EQ(lines_starting(state / "ssh.log", ip + " cd ~/actions-runner"), 1u) << read_file(state / "ssh.log");
}

TEST_F(TartAgent, AGuestThatNeverAnswersSshFailsWithTheReasonAndItsCloneIsDeleted) {
    TestDaemon daemon;
    auto client = daemon.client();
    std::ofstream{state / "unreachable-192.168.64.2"} << "";
    start_agent(daemon.port(), {"--boot-timeout", "2s", "--start-command", "./ci.sh"});
    ASSERT_TRUE(eventually([&] { return client.get("/api/nodes/mac-tart").status == 200; })) << agent->output();
    ASSERT_EQ(place(client, "job-n", "ghcr.io/acme/sonoma:1"), 200);
    ASSERT_TRUE(eventually([&] { return client.get("/api/vms/job-n").body.find("never answered SSH") != std::string::npos; }, 15s))
        << client.get("/api/vms/job-n").body << agent->output();
    const auto vm = get(client, "/api/vms/job-n");
    EXPECT_TRUE(went_through(vm, "failed", "the guest at 192.168.64.2 never answered SSH within the boot timeout: ssh: "
                                           "connect to host 192.168.64.2 port 22: Connection refused"))
        << vm.dump();
    EXPECT_FALSE(went_through(vm, "deleted", "finished")) << "never taken for a job done";
    EXPECT_EQ(lines_starting(state / "ssh.log", "192.168.64.2 ./ci.sh"), 0u);
    EXPECT_TRUE(eventually([&] { return !clones_on(state).contains("macvmorx-job-n") || vm_is(client, "job-n", "running"); }));
    EXPECT_NE(get(client, "/api/nodes/mac-tart")["status"], "degraded") << "one VM's trouble, not the host's";
}

TEST_F(TartAgent, EachCloneGetsAFreshMacAddressSoAPreviousVmsLeaseIsNeverItsAddress) {
    TestDaemon daemon;
    auto client = daemon.client();
    const std::string image = "ghcr.io/acme/sonoma:1";
    start_agent(daemon.port(), {"--start-command", "./ci.sh"});
    ASSERT_TRUE(eventually([&] { return client.get("/api/nodes/mac-tart").status == 200; })) << agent->output();
    ASSERT_EQ(place(client, "job-1", image), 200);
    ASSERT_TRUE(vm_is(client, "job-1", "running")) << agent->output();
    const std::string first = get(client, "/api/vms/job-1")["message"];
    ASSERT_EQ(client.del("/api/vms/job-1").status, 200);
    ASSERT_TRUE(vm_is(client, "job-1", "deleted"));

    // The trap, outside the agent: a clone keeps its image's MAC address, and `tart ip` answers the
    // lease a previous clone left, at once, while the new one has not even started
    // (Commands/Clone.swift, Commands/IP.swift).
    ASSERT_EQ(fake_tart(state, "clone " + image + " operator-1"), 0);
    ASSERT_EQ(fake_tart(state, "run --no-graphics operator-1", {}, true), 0);
    ASSERT_TRUE(eventually([&] { return std::filesystem::exists(state / "booted" / "operator-1"); }));
    ASSERT_EQ(fake_tart(state, "stop operator-1 --timeout 1"), 0); // a shell's background job ignores SIGINT
    ASSERT_EQ(fake_tart(state, "delete operator-1"), 0);
    ASSERT_EQ(fake_tart(state, "clone " + image + " operator-2"), 0);
    EXPECT_EQ(fake_tart(state, "ip operator-2"), 0) << "a stale lease answers for a VM that is not running";

    ASSERT_EQ(place(client, "job-2", image), 200);
    ASSERT_TRUE(vm_is(client, "job-2", "running")) << agent->output();
    const std::string second = get(client, "/api/vms/job-2")["message"];
    EXPECT_EQ(first, "running at 192.168.64.2");
    EXPECT_NE(second, first) << "a fresh MAC address, a fresh lease";
    EXPECT_EQ(calls_of(state, "set macvmorx-job-2 --random-mac"), 1u) << calls();
}

TEST_F(TartAgent, VmsGoOnWhenLaunchdKillsTheAgentsProcessGroupAndTheNextAgentTakesThemOver) {
    macvmorx::testing::FakeGithub github;
    const std::string image = "ghcr.io/acme/sonoma-runner:1";
    const auto config =
        macvmorx::testing::github_test_config(github, macvmorx::testing::shared_rsa_key().private_pem, "secret", image);
    TestDaemon daemon{config};
    auto client = daemon.client();
    const auto launch_as_launchd = [&] {
        // launchd starts the job leading a process group, and kills that group when the job
        // exits unless AbandonProcessGroup is set (launchd.plist(5)).
        std::vector<std::string> arguments{"agent", "--server", "http://127.0.0.1:" + std::to_string(daemon.port()),
                                           "--node-id", "mac-tart", "--tart", fake_tart_dir + "/tart", "--ssh",
                                           fake_tart_dir + "/ssh", "--heartbeat-interval", "200ms", "--guest-user",
                                           "runner", "--state-file", (state / "agent-state.json").string(),
                                           "--vm-log-dir", (state / "vm-logs").string(), "--min-free-disk", "0"};
        return std::make_unique<DaemonProcess>(MACVMORX_BINARY, arguments,
                                               std::vector<std::string>{"FAKE_TART_DIR=" + state.string()}, true);
    };
    agent = launch_as_launchd();
    ASSERT_TRUE(eventually([&] { return client.get("/api/nodes/mac-tart").status == 200; })) << agent->output();
    ASSERT_EQ(deliver_queued_job(client, 65, "t-5"), 200);
    const std::string vm_id = first_running_vm(client);
    ASSERT_FALSE(vm_id.empty()) << agent->output();
    const std::string ip = guest_address(state);
    ASSERT_TRUE(eventually([&] { return std::filesystem::exists(state / ("guest-" + ip + ".runner")); }));
    const pid_t run = std::stoi(read_file(state / "running" / ("macvmorx-" + vm_id)));

    agent->signal_group(SIGKILL);
    ASSERT_TRUE(agent->wait_for_exit(10s).has_value());
    agent.reset();
    // `tart run` and the runner were in groups of their own: both live on.
    EXPECT_EQ(::kill(run, 0), 0) << "tart run outlived the agent";
    EXPECT_TRUE(std::filesystem::exists(state / ("guest-" + ip + ".runner")));
    EXPECT_TRUE(running_on(state).contains("macvmorx-" + vm_id));

    agent = launch_as_launchd();
    ASSERT_TRUE(eventually([&] { return std::filesystem::exists(state / ("guest-" + ip + ".watches")); }, 10s))
        << agent->output();
    ASSERT_TRUE(eventually([&] {
        const auto node = get(client, "/api/nodes/mac-tart");
        return node["vms"].size() == 1 && node["vms"][0]["imageName"] == image;
    })) << client.get("/api/nodes/mac-tart").body;
    EXPECT_EQ(get(client, "/api/vms/" + vm_id)["state"], "running");

    // A graceful stop (an upgrade) leaves the VM to its job too.
    agent->signal(SIGTERM);
    ASSERT_TRUE(agent->wait_for_exit(10s).has_value());
    agent.reset();
    EXPECT_EQ(::kill(run, 0), 0) << "tart run outlived the stopped agent";
    agent = launch_as_launchd();
    std::ofstream{state / ("runner-exit-" + ip)} << "";
    ASSERT_TRUE(eventually([&] { return get(client, "/api/vms/" + vm_id)["state"] == "deleted"; }, 15s))
        << agent->output() << client.get("/api/vms/" + vm_id).body;
    EXPECT_TRUE(eventually([&] { return clones_on(state).empty(); })) << calls();
}

TEST_F(TartAgent, ALockedLoginKeychainMakesTheNodeDegradedWithTheReason) {
    TestDaemon daemon;
    auto client = daemon.client();
    std::ofstream{state / "keychain-locked"} << "";
    start_agent(daemon.port());
    ASSERT_TRUE(eventually([&] { return client.get("/api/nodes/mac-tart").status == 200; })) << agent->output();
    ASSERT_EQ(place(client, "job-k", "ghcr.io/acme/sonoma:1"), 200);
    ASSERT_TRUE(eventually([&] { return get(client, "/api/nodes/mac-tart")["status"] == "degraded"; }, 10s))
        << agent->output();
    EXPECT_NE(node_reason(client, "mac-tart").find("unlocked login keychain"), std::string::npos)
        << get(client, "/api/nodes/mac-tart").dump();
    EXPECT_TRUE(eventually([&] { return client.get("/api/vms/job-k").body.find("SecKeyCreateRandomKey_ios") != std::string::npos; }))
        << client.get("/api/vms/job-k").body;
}

TEST_F(TartAgent, LocalNetworkPrivacyThatRefusesSshMakesTheNodeDegradedWithTheReason) {
    TestDaemon daemon;
    auto client = daemon.client();
    std::ofstream{state / "no-route"} << "";
    start_agent(daemon.port(), {"--boot-timeout", "2s", "--start-command", "./ci.sh"});
    ASSERT_TRUE(eventually([&] { return client.get("/api/nodes/mac-tart").status == 200; })) << agent->output();
    ASSERT_EQ(place(client, "job-r", "ghcr.io/acme/sonoma:1"), 200);
    ASSERT_TRUE(eventually([&] { return get(client, "/api/nodes/mac-tart")["status"] == "degraded"; }, 15s))
        << agent->output();
    EXPECT_NE(node_reason(client, "mac-tart").find("Local Network privacy"), std::string::npos)
        << get(client, "/api/nodes/mac-tart").dump();
    EXPECT_NE(client.get("/api/vms/job-r").body.find("No route to host"), std::string::npos) << client.get("/api/vms/job-r").body;
}

TEST_F(TartAgent, APrivateImageIsPulledWithRegistryCredentialsFromTheAgentsEnvironment) {
    TestDaemon daemon;
    auto client = daemon.client();
    const std::string image = "ghcr.io/acme/private:1";
    std::ofstream{state / "private-images"} << image << "\n";
    start_agent(daemon.port());
    ASSERT_TRUE(eventually([&] { return client.get("/api/nodes/mac-tart").status == 200; })) << agent->output();
    ASSERT_EQ(place(client, "job-p1", image), 200);
    ASSERT_TRUE(eventually([&] { return client.get("/api/vms/job-p1").body.find("TART_REGISTRY_USERNAME") != std::string::npos; }, 10s))
        << client.get("/api/vms/job-p1").body;
    ASSERT_EQ(client.del("/api/vms/job-p1").status, 200);
    agent->signal(SIGTERM);
    ASSERT_TRUE(agent->wait_for_exit(10s).has_value());

    start_agent(daemon.port(), {}, {"TART_REGISTRY_USERNAME=ci", "TART_REGISTRY_PASSWORD=s3cret"});
    ASSERT_EQ(place(client, "job-p2", image), 200);
    ASSERT_TRUE(vm_is(client, "job-p2", "running")) << client.get("/api/vms/job-p2").body << agent->output();
    EXPECT_EQ(agent->output().find("s3cret"), std::string::npos) << "never logged";
}

TEST_F(TartAgent, AtStartTheAgentWarnsOfAHostThatWillFailItsVms) {
    TestDaemon daemon;
    auto client = daemon.client();
    const auto mac = state / "mac-root";
    std::filesystem::create_directories(mac / "Library/Preferences/SystemConfiguration");
    // macOS's default: no lease time set, one day; and a locked login keychain.
    std::ofstream{mac / "Library/Preferences/SystemConfiguration/com.apple.InternetSharing.default.plist"}
        << "<?xml version=\"1.0\"?>\n<plist version=\"1.0\">\n<dict>\n</dict>\n</plist>\n";
    std::ofstream{mac / "keychain"} << "locked";
    const std::string path = std::string{MACVMORX_FAKE_TART_DIR} + "/../fake-macos:" + std::getenv("PATH");
    start_agent(daemon.port(), {}, {"PATH=" + path, "FAKE_MACOS_ROOT=" + mac.string(), "TART_REGISTRY_USERNAME=ci"});
    ASSERT_TRUE(eventually([&] { return client.get("/api/nodes/mac-tart").status == 200; })) << agent->output();
    const auto log = agent->output();
    EXPECT_NE(log.find("the VMs' DHCP lease time is macOS's default of one day"), std::string::npos) << log;
    EXPECT_NE(log.find("DHCPLeaseTimeSecs -int 600"), std::string::npos) << "says what to do: " << log;
    EXPECT_NE(log.find("the login keychain is locked or missing"), std::string::npos) << log;
    EXPECT_NE(log.find("User interaction is not allowed"), std::string::npos) << log;
    EXPECT_NE(log.find("only TART_REGISTRY_USERNAME is set"), std::string::npos) << log;
    agent->signal(SIGTERM);
    ASSERT_TRUE(agent->wait_for_exit(10s).has_value());

    // Fixed as tart's FAQ says: no warning.
    std::ofstream{mac / "Library/Preferences/SystemConfiguration/com.apple.InternetSharing.default.plist"}
        << "<?xml version=\"1.0\"?>\n<plist version=\"1.0\">\n<dict>\n\t<key>bootpd</key>\n\t<dict>\n\t\t"
           "<key>DHCPLeaseTimeSecs</key>\n\t\t<integer>600</integer>\n\t</dict>\n</dict>\n</plist>\n";
    std::ofstream{mac / "keychain"} << "unlocked";
    start_agent(daemon.port(), {}, {"PATH=" + path, "FAKE_MACOS_ROOT=" + mac.string()});
    ASSERT_TRUE(eventually([&] { return agent->output().find("reporting to") != std::string::npos; })) << agent->output();
    EXPECT_EQ(agent->output().find("DHCP lease time"), std::string::npos) << agent->output();
    EXPECT_EQ(agent->output().find("keychain"), std::string::npos) << agent->output();
}

TEST_F(TartAgent, TheFakeTartStopsReplacesAndEndsAsTartDoes) {
    // The exit codes and behaviours the agent leans on, pinned to tart's source.
    const auto status = [](int system_result) { return WIFEXITED(system_result) ? WEXITSTATUS(system_result) : -1; };
    const std::string image = "ghcr.io/acme/sonoma:1";
    ASSERT_EQ(status(fake_tart(state, "pull " + image)), 0);
    ASSERT_EQ(status(fake_tart(state, "clone " + image + " vm-1")), 0);
    // Commands/Stop.swift: RuntimeError.VMNotRunning and VMDoesNotExist exit 2.
    EXPECT_EQ(status(fake_tart(state, "stop vm-1")), 2);
    EXPECT_EQ(status(fake_tart(state, "stop no-such-vm")), 2);
    // VMStorageLocal.move replaces a VM of the same name.
    ASSERT_EQ(status(fake_tart(state, "pull ghcr.io/acme/ventura:1")), 0);
    EXPECT_EQ(status(fake_tart(state, "clone ghcr.io/acme/ventura:1 vm-1")), 0);
    EXPECT_TRUE(read_file(state / "vms" / "vm-1").starts_with("ghcr.io/acme/ventura:1\n"));
    // A running VM is not deleted (VMDirectory.delete: VMIsRunning, exit 1); SIGTERM ends
    // `tart run` at once, and its lock with it.
    ASSERT_EQ(fake_tart(state, "run --no-graphics vm-1", {}, true), 0);
    ASSERT_TRUE(eventually([&] { return std::filesystem::exists(state / "booted" / "vm-1"); }));
    EXPECT_EQ(status(fake_tart(state, "delete vm-1")), 1);
    const pid_t run = std::stoi(read_file(state / "running" / "vm-1"));
    ::kill(run, SIGTERM);
    EXPECT_TRUE(eventually([&] { return ::kill(run, 0) != 0; }, 2s)) << "ended at once";
    EXPECT_EQ(status(fake_tart(state, "delete vm-1")), 0) << "no longer running";
    EXPECT_EQ(status(fake_tart(state, "delete vm-1")), 2) << "VMDoesNotExist";
}
