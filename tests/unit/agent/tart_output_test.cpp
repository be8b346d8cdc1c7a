// What the agent reads from tart's and ssh's output, each against the words of tart's source.

#include "macvmorx/agent/tart_output.hpp"

#include <gtest/gtest.h>

using namespace macvmorx::agent;

TEST(TartOutput, APullsPercentagesAreReadFromTheirLines) {
    EXPECT_EQ(pull_percent("0%"), 0);
    EXPECT_EQ(pull_percent("42%"), 42);
    EXPECT_EQ(pull_percent("100%"), 100);
    EXPECT_EQ(pull_percent("  7%\r"), 7);
    EXPECT_EQ(pull_percent("\x1B[K"), std::nullopt) << "the interactive meter's erase line";
    EXPECT_EQ(pull_percent("\x1B[K63%"), 63);
}

TEST(TartOutput, OtherLinesAreNoPercentage) {
    for (const char* line : {"", "%", "pulling manifest...", "pulling disk (22.4 GB compressed)...", "101%", "1000%",
                             "-5%", "12.5%", "50% done", "ab%", "12 %x"}) {
        EXPECT_EQ(pull_percent(line), std::nullopt) << line;
    }
}

TEST(TartOutput, TheVmLimitIsRecognisedInTartsWordsAndInApples) {
    // RuntimeError.VirtualMachineLimitExceeded (VMStorageHelper.swift), with and without its hint.
    EXPECT_TRUE(is_vm_limit_error("The number of VMs exceeds the system limit"));
    EXPECT_TRUE(is_vm_limit_error("The number of VMs exceeds the system limit (other running VMs: a, b)\n"));
    // Virtualization.framework's own words, as older tarts printed them, and its bare error.
    EXPECT_TRUE(is_vm_limit_error("Error: The number of virtual machines exceeds the limit the system supports."));
    EXPECT_TRUE(is_vm_limit_error("Error Domain=VZErrorDomain Code=6 \"(null)\""));
    EXPECT_FALSE(is_vm_limit_error("the specified VM \"macvmorx-a\" does not exist"));
    EXPECT_FALSE(is_vm_limit_error(""));
    EXPECT_EQ(host_problem_in("The number of VMs exceeds the system limit"), HostProblem::vm_limit);
}

TEST(TartOutput, ALockedKeychainIsTheHostsProblemNotTheVms) {
    // tart's docs/faq.md, "Headless machines".
    for (const char* said : {"Error Domain=VZErrorDomain Code=1 \"SecKeyCreateRandomKey_ios failed\"",
                             "Failed to generate keypair", "Interaction is not allowed with the Security Server."}) {
        EXPECT_EQ(host_problem_in(said), HostProblem::keychain_locked) << said;
    }
    EXPECT_EQ(host_problem_in("Error: VM \"x\" is already running!"), HostProblem::none);
}

TEST(TartOutput, AVmThatStoppedByAnErrorIsToldFromAShutdownThoughTartExitsZeroForBoth) {
    // VM.swift's delegate: tart prints these on stdout, then exits 0.
    EXPECT_EQ(vm_crash_in("guest has stopped the virtual machine due to error: Error Domain=VZErrorDomain Code=1\n"),
              "guest has stopped the virtual machine due to error: Error Domain=VZErrorDomain Code=1");
    EXPECT_TRUE(vm_crash_in("There is already a running VM with the same MAC address!\nvirtual machine's network "
                            "attachment <VZNATNetworkDeviceAttachment> has been disconnected with error: x\n"));
    EXPECT_FALSE(vm_crash_in(""));
    EXPECT_FALSE(vm_crash_in("There is already a running VM with the same MAC address!\nResetting VM to assign a new "
                             "MAC address...\n"));
}

TEST(TartOutput, ARegistryRefusalForWantOfCredentialsIsRecognised) {
    EXPECT_TRUE(is_registry_auth_error(R"(Error: UnexpectedHTTPStatusCode(when: "pulling manifest", code: 401, details: ""))"));
    EXPECT_TRUE(is_registry_auth_error(R"(Error: AuthFailed(why: "received unexpected HTTP status code 403 while retrieving an authentication token", details: ""))"));
    EXPECT_FALSE(is_registry_auth_error(R"(Error: UnexpectedHTTPStatusCode(when: "pulling manifest", code: 404, details: "manifest unknown"))"));
}

TEST(TartOutput, SshsNoRouteToHostIsRecognised) {
    EXPECT_TRUE(is_no_route_to_host("ssh: connect to host 192.168.64.3 port 22: No route to host"));
    EXPECT_FALSE(is_no_route_to_host("ssh: connect to host 192.168.64.3 port 22: Connection refused"));
}

TEST(TartOutput, TartsListIsReadFromItsPrettyPrintedJson) {
    // Commands/List.swift's VMInfo, as JSONEncoder's prettyPrinted writes it.
    const auto entries = parse_tart_list(R"([
  {
    "Accessed" : "2026-12-06T08:00:00Z",
    "Disk" : 50,
    "Name" : "macvmorx-job-1",
    "Running" : true,
    "Size" : 3,
    "Source" : "local",
    "State" : "running"
  },
  {
    "Disk" : 50,
    "Name" : "ghcr.io/acme/sonoma:1",
    "Running" : false,
    "Size" : 38,
    "Source" : "OCI",
    "State" : "stopped"
  },
  {
    "Name" : "ghcr.io/acme/sonoma@sha256:0a1b",
    "Size" : 38,
    "Source" : "OCI",
    "State" : "stopped"
  }
])");
    ASSERT_TRUE(entries);
    ASSERT_EQ(entries->size(), 3u);
    EXPECT_EQ((*entries)[0].name, "macvmorx-job-1");
    EXPECT_FALSE((*entries)[0].oci);
    EXPECT_TRUE((*entries)[0].running);
    EXPECT_TRUE((*entries)[1].oci);
    EXPECT_EQ((*entries)[1].size_gb, 38);
    EXPECT_FALSE(is_digest_name((*entries)[1].name));
    EXPECT_TRUE(is_digest_name((*entries)[2].name));
}

TEST(TartOutput, AWarningIsNoEmptyHost) {
    // Root.swift prints a failed garbage collection on stderr; mixed into stdout it is not JSON,
    // and must not read as a host with nothing on it.
    EXPECT_FALSE(parse_tart_list("Failed to perform garbage collection: permission denied\n[]"));
    EXPECT_FALSE(parse_tart_list(""));
    EXPECT_FALSE(parse_tart_list("{}"));
    ASSERT_TRUE(parse_tart_list("[]\n"));
    EXPECT_TRUE(parse_tart_list("[]\n")->empty());
}

TEST(TartOutput, TheRunnersExitStatusIsSaidInItsOwnTerms) {
    // actions/runner's Constants.cs, ReturnCode.
    EXPECT_EQ(runner_exit_reason(7),
              "GitHub no longer accepts this runner's version: update the runner in the golden image (exit status 7)");
    EXPECT_EQ(runner_exit_reason(5), "another runner of this name holds the session (exit status 5)");
    EXPECT_EQ(runner_exit_reason(1), "the runner was terminated (exit status 1)");
    EXPECT_EQ(runner_exit_reason(42), "the runner exited (exit status 42)");
}
