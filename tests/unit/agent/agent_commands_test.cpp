// The agent's command inbox: commands from the orchestrator are carried out once, acknowledged
// every time they come, and refused with a reason when the host cannot take them.

#include "agent_fixture.hpp"

#include <algorithm>

using macvmorx::protocol::VmState;

namespace {

class AgentCommands : public macvmorx::testing::AgentFixture {
protected:
    AgentCommands() { backend.images["ghcr.io/acme/sonoma:1"] = 40; }
};

TEST_F(AgentCommands, ACreateVmReceivedTwiceIsCarriedOutOnceAndAcknowledgedBothTimes) {
    start();
    link.give({create_vm("c1", "vm-1", "ghcr.io/acme/sonoma:1")});
    ASSERT_TRUE(run_until([&] { return !link.events_of("vm-1", VmState::running).empty(); }));

    // Our acknowledgement was lost: the orchestrator sends the same command again.
    link.give({create_vm("c1", "vm-1", "ghcr.io/acme/sonoma:1")});
    ASSERT_TRUE(run_until([&] { return link.acknowledged.size() == 2; }));
    settle();

    EXPECT_EQ(backend.started.size(), 1u);
    EXPECT_EQ(link.events_of("vm-1", VmState::running).size(), 1u);
    EXPECT_EQ(link.acknowledged, (std::vector<std::string>{"c1", "c1"}));
}

TEST_F(AgentCommands, ACommandTwiceInOneAnswerIsCarriedOutOnce) {
    start();
    link.give({create_vm("c1", "vm-1", "ghcr.io/acme/sonoma:1"), create_vm("c1", "vm-1", "ghcr.io/acme/sonoma:1")});
    ASSERT_TRUE(run_until([&] { return vm("vm-1") && vm("vm-1")->phase == macvmorx::agent::AgentVm::Phase::running; }));

    EXPECT_EQ(backend.started.size(), 1u);
    EXPECT_EQ(link.acknowledged.size(), 2u);
}

TEST_F(AgentCommands, ACreateVmIsAcknowledgedBeforeAnythingIsSaidOfItsVm) {
    start();
    link.give({create_vm("c1", "vm-1", "ghcr.io/acme/sonoma:1")});
    ASSERT_TRUE(run_until([&] { return !link.events_of("vm-1", VmState::running).empty(); }));

    const auto ack = std::find(link.said.begin(), link.said.end(), "ack c1");
    const auto first_event = std::find_if(link.said.begin(), link.said.end(),
                                          [](const std::string& line) { return line.starts_with("event vm-1"); });
    ASSERT_NE(ack, link.said.end());
    EXPECT_LT(ack, first_event);
    const auto& launch = backend.started.at(0);
    EXPECT_EQ(launch.vm_name, "macvmorx-vm-1");
    EXPECT_EQ(launch.image, "ghcr.io/acme/sonoma:1");
}

TEST_F(AgentCommands, ADeleteVmOfAnUnknownVmRemovesAnyCloneOfThatNameAndReportsNothing) {
    start();
    link.give({delete_vm("d1", "vm-gone")});
    ASSERT_TRUE(run_until([&] { return !link.acknowledged.empty(); }));
    settle();

    EXPECT_EQ(link.acknowledged, std::vector<std::string>{"d1"});
    EXPECT_EQ(backend.deleted_vms, std::vector<std::string>{"macvmorx-vm-gone"});
    EXPECT_TRUE(link.events.empty());
    EXPECT_TRUE(agent->status().vms.empty());
}

TEST_F(AgentCommands, ADeleteVmOfARunningVmDeletesItsCloneAndForgetsIt) {
    start();
    link.give({create_vm("c1", "vm-1", "ghcr.io/acme/sonoma:1")});
    ASSERT_TRUE(run_until([&] { return !link.events_of("vm-1", VmState::running).empty(); }));
    EXPECT_EQ(agent->build_heartbeat().vms.size(), 1u);

    link.give({delete_vm("d1", "vm-1")});
    ASSERT_TRUE(run_until([&] { return !vm("vm-1"); }));

    EXPECT_EQ(backend.deleted_vms, std::vector<std::string>{"macvmorx-vm-1"});
    EXPECT_TRUE(agent->build_heartbeat().vms.empty());
}

TEST_F(AgentCommands, AVmIdThatCouldReadAsAnOptionIsRefused) {
    start();
    link.give({create_vm("c1", "-rf", "ghcr.io/acme/sonoma:1")});
    ASSERT_TRUE(run_until([&] { return !link.events_of("-rf", VmState::failed).empty(); }));

    EXPECT_NE(link.events_of("-rf", VmState::failed).at(0).message.find("refused"), std::string::npos);
    EXPECT_TRUE(backend.started.empty());
    EXPECT_EQ(link.acknowledged, std::vector<std::string>{"c1"});
}

TEST_F(AgentCommands, ACreateVmBeyondTheHostsLimitFailsWithTheReason) {
    options.max_vms = 1;
    start();
    link.give({create_vm("c1", "vm-1", "ghcr.io/acme/sonoma:1"), create_vm("c2", "vm-2", "ghcr.io/acme/sonoma:1")});
    ASSERT_TRUE(run_until([&] { return !link.events_of("vm-2", VmState::failed).empty(); }));

    EXPECT_NE(link.events_of("vm-2", VmState::failed).at(0).message.find("its limit"), std::string::npos);
    EXPECT_EQ(backend.started.size(), 1u);
}

TEST_F(AgentCommands, AVmThatEndsOnItsOwnIsDeletedAndAFailureIsReported) {
    start();
    link.give({create_vm("c1", "vm-1", "ghcr.io/acme/sonoma:1")});
    ASSERT_TRUE(run_until([&] { return !link.events_of("vm-1", VmState::running).empty(); }));

    backend.exit_handler("macvmorx-vm-1", macvmorx::agent::Outcome::failure("tart run crashed"));
    ASSERT_TRUE(run_until([&] { return !vm("vm-1"); }));

    ASSERT_EQ(link.events_of("vm-1", VmState::failed).size(), 1u);
    EXPECT_NE(link.events_of("vm-1", VmState::failed).at(0).message.find("tart run crashed"), std::string::npos);
    EXPECT_EQ(backend.deleted_vms, std::vector<std::string>{"macvmorx-vm-1"});
}

} // namespace
