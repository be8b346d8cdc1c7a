// What a real Mac does to the agent: a guest that answers SSH late or never, DHCP leases kept
// by MAC address, launchd killing the agent's process group, a locked keychain, Local Network
// privacy, a private registry, and the warnings at start; and the fake tart itself.

#include "tart_agent_fixture.hpp"

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
