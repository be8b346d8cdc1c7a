// What the agent does at its start with what an earlier run left: clones it made are taken over
// or deleted as its journal says, the images on disk join its cache, and a host it cannot list
// is reported degraded.

#include "agent_fixture.hpp"

#include "macvmorx/agent/vm_journal.hpp"

#include <algorithm>

using macvmorx::agent::GuestCommand;
using macvmorx::agent::JournalEntry;
using macvmorx::agent::VmJournal;
using macvmorx::protocol::VmState;

namespace {

class AgentRecovery : public macvmorx::testing::AgentFixture {
protected:
    void remember(std::string vm_id, JournalEntry::Stage stage, GuestCommand guest = GuestCommand::runner) {
        JournalEntry entry;
        entry.vm_id = std::move(vm_id);
        entry.image = "ghcr.io/acme/sonoma:1";
        entry.stage = stage;
        entry.guest = guest;
        entry.started_at = clock.now() - std::chrono::minutes{10};
        entries.push_back(entry);
        VmJournal{journal_file()}.save(entries);
    }
    std::vector<JournalEntry> entries;
};

TEST_F(AgentRecovery, ARunningCloneTheJournalDoesNotKnowIsTakenOverAndReported) {
    backend.host.vms = {{"macvmorx-vm-7", true}};
    start();

    EXPECT_EQ(backend.adopted, (std::vector<std::pair<std::string, bool>>{{"macvmorx-vm-7", false}}));
    ASSERT_TRUE(vm("vm-7"));
    EXPECT_TRUE(vm("vm-7")->adopted);
    ASSERT_EQ(link.heartbeats.at(0).vms.size(), 1u);
    EXPECT_EQ(link.heartbeats.at(0).vms.at(0).vm_id, "vm-7");
    EXPECT_TRUE(backend.deleted_vms.empty());
    settle();
    EXPECT_EQ(vm("vm-7")->ip_address, "192.168.64.9");
}

TEST_F(AgentRecovery, ARunningCloneTheJournalKnowsKeepsItsImageRunnerAndAge) {
    backend.images["ghcr.io/acme/sonoma:1"] = 40;
    remember("vm-1", JournalEntry::Stage::running);
    backend.host.vms = {{"macvmorx-vm-1", true}};
    start();

    EXPECT_EQ(backend.adopted, (std::vector<std::pair<std::string, bool>>{{"macvmorx-vm-1", true}}));
    ASSERT_EQ(link.heartbeats.at(0).vms.size(), 1u);
    EXPECT_EQ(link.heartbeats.at(0).vms.at(0).image_name, "ghcr.io/acme/sonoma:1");
    EXPECT_EQ(link.heartbeats.at(0).vms.at(0).runtime_seconds, 600);
    EXPECT_TRUE(vm("vm-1")->holds_image);
}

TEST_F(AgentRecovery, AHalfMadeCloneIsDeletedAndReportedFailedBeforeTheFirstHeartbeat) {
    remember("vm-1", JournalEntry::Stage::starting);
    backend.host.vms = {{"macvmorx-vm-1", true}};
    start();

    EXPECT_EQ(backend.deleted_vms, std::vector<std::string>{"macvmorx-vm-1"});
    EXPECT_TRUE(backend.adopted.empty());
    ASSERT_EQ(link.events_of("vm-1", VmState::failed).size(), 1u);
    EXPECT_EQ(link.events_of("vm-1", VmState::failed).at(0).message, "the agent restarted while making this VM");
    const auto event = std::find(link.said.begin(), link.said.end(), "event vm-1 failed");
    const auto heartbeat = std::find(link.said.begin(), link.said.end(), "heartbeat");
    EXPECT_LT(event, heartbeat);
    EXPECT_TRUE(link.heartbeats.at(0).vms.empty());
}

TEST_F(AgentRecovery, ACloneThatWasBeingDeletedIsDeletedWithoutAReport) {
    remember("vm-1", JournalEntry::Stage::deleting);
    backend.host.vms = {{"macvmorx-vm-1", true}};
    start();

    EXPECT_EQ(backend.deleted_vms, std::vector<std::string>{"macvmorx-vm-1"});
    EXPECT_TRUE(link.events.empty());
    EXPECT_TRUE(link.heartbeats.at(0).vms.empty());
}

TEST_F(AgentRecovery, AStoppedCloneOfARunningVmIsDeletedWithoutAReport) {
    remember("vm-1", JournalEntry::Stage::running);
    backend.host.vms = {{"macvmorx-vm-1", false}};
    start();

    EXPECT_EQ(backend.deleted_vms, std::vector<std::string>{"macvmorx-vm-1"});
    EXPECT_TRUE(link.events.empty());
}

TEST_F(AgentRecovery, AVmOfAnotherProgramIsLeftAlone) {
    backend.host.vms = {{"someone-elses-vm", true}, {"sonoma-base", false}};
    start();

    EXPECT_TRUE(backend.deleted_vms.empty());
    EXPECT_TRUE(backend.adopted.empty());
    EXPECT_TRUE(agent->status().vms.empty());
}

TEST_F(AgentRecovery, AHostThatCannotBeListedIsReportedDegradedAndTakesNoVm) {
    backend.inventory_outcome = macvmorx::agent::Outcome::failure("tart list: exit 1");
    start();

    EXPECT_EQ(link.heartbeats.at(0).status, "degraded");
    EXPECT_NE(link.heartbeats.at(0).status_reason.find("tart list: exit 1"), std::string::npos);

    link.give({create_vm("c1", "vm-1", "ghcr.io/acme/sonoma:1")});
    ASSERT_TRUE(run_until([&] { return !link.events_of("vm-1", VmState::failed).empty(); }));
    EXPECT_NE(link.events_of("vm-1", VmState::failed).at(0).message.find("this host is degraded"), std::string::npos);
    EXPECT_TRUE(backend.pulls.empty());
}

TEST_F(AgentRecovery, TheJournalRemembersAVmOnceItRuns) {
    backend.images["ghcr.io/acme/sonoma:1"] = 40;
    const std::string file = journal_file();
    start();
    link.give({create_vm("c1", "vm-1", "ghcr.io/acme/sonoma:1")});
    ASSERT_TRUE(run_until([&] { return !link.events_of("vm-1", VmState::running).empty(); }));

    const auto remembered = VmJournal{file}.load();
    ASSERT_EQ(remembered.size(), 1u);
    EXPECT_EQ(remembered.at(0).vm_id, "vm-1");
    EXPECT_EQ(remembered.at(0).stage, JournalEntry::Stage::running);
    EXPECT_EQ(remembered.at(0).guest, GuestCommand::runner);
}

} // namespace
