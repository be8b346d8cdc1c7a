// What real tart does, as the fake follows its source: its words for the VM limit and a crash,
// an image listed under its tag and its digest, no pruning of the agent's images, the
// registry's manifest, warnings on standard error, a listing that fails.

#include "tart_agent_fixture.hpp"

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
