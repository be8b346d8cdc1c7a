// `macvmorx agent` as a process, driving a fake tart (tests/support/fake-tart) against the real
// daemon: placements become clones that boot, deletions remove them, GitHub runners start in
// the guest with their configuration on SSH's standard input, and failures are reported. Several
// agents share one daemon's placements; the image cache evicts through `tart delete`.

#include "tart_agent_fixture.hpp"

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
