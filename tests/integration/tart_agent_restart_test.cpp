// An agent killed mid-way (during a pull, a clone, a boot, a runner at work) and started again
// reconciles with what tart holds: the VMs it can keep go on, the others are placed again.

#include "tart_agent_fixture.hpp"

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
