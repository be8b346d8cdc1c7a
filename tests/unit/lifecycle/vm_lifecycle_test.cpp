// The VM lifecycle through the orchestrator, the way the daemon drives it: heartbeats from fake
// agents, client requests, a clock the test moves.

#include "macvmorx/lifecycle/vm_lifecycle.hpp"

#include "fleet_builders.hpp"
#include "macvmorx/base/id_source.hpp"
#include "macvmorx/orchestrator/orchestrator.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <thread>

using namespace std::chrono_literals;
using macvmorx::protocol::Command;
using macvmorx::protocol::CommandType;
using macvmorx::lifecycle::EventOutcome;
using macvmorx::lifecycle::LifecycleOptions;
using macvmorx::lifecycle::RequestOutcome;
using macvmorx::protocol::VmEvent;
using macvmorx::lifecycle::VmFilter;
using macvmorx::lifecycle::VmSpec;
using macvmorx::protocol::VmState;
using macvmorx::orchestrator::Orchestrator;

namespace {

struct HostVm {
    std::string id;
    std::string image;
};

class LifecycleTest : public ::testing::Test {
protected:
    macvmorx::ManualClock clock;
    macvmorx::SequentialIdSource ids;
    std::unique_ptr<Orchestrator> orchestrator = make(LifecycleOptions{});
    std::map<std::string, std::string> agent_instance; // node -> what its heartbeats name (none by default)

    std::unique_ptr<Orchestrator> make(LifecycleOptions options) {
        return std::make_unique<Orchestrator>(macvmorx::orchestrator::OrchestratorOptions{30s, {2}, options}, clock,
                                              ids);
    }

    // A heartbeat from a fake agent running `vms`; returns the commands in the answer.
    std::vector<Command> beat(const std::string& node_id, const std::vector<HostVm>& vms = {},
                              macvmorx::protocol::Labels labels = {}, double cpu = 10) {
        auto report = macvmorx::testing::heartbeat(node_id, {}, cpu);
        for (const auto& vm : vms) report.vms.push_back({vm.id, vm.image, 1, "runner", "192.168.64.2"});
        report.vm_count = static_cast<int>(vms.size());
        report.labels = std::move(labels);
        report.agent_instance = agent_instance[node_id];
        return orchestrator->record_heartbeat(std::move(report)).commands;
    }

    macvmorx::lifecycle::RequestResult request(const std::string& image, const std::string& vm_id = "",
                                               bool wait = false, macvmorx::protocol::Labels labels = {},
                                               std::optional<double> memory = {}) {
        VmSpec spec;
        spec.image_name = image;
        spec.labels = std::move(labels);
        spec.memory_gb = memory;
        return orchestrator->request_vm(vm_id, std::move(spec), wait);
    }

    std::string placed(const std::string& image = "sonoma") {
        const auto result = request(image);
        EXPECT_EQ(result.outcome, RequestOutcome::placed);
        return result.record ? result.record->vm_id : "";
    }

    VmState state(const std::string& vm_id) { return orchestrator->vm(vm_id)->state; }
    std::string node_of(const std::string& vm_id) { return orchestrator->vm(vm_id)->node_id; }

    static const Command* find(const std::vector<Command>& commands, CommandType type, const std::string& vm_id) {
        for (const auto& command : commands) {
            if (command.type == type && command.vm_id == vm_id) return &command;
        }
        return nullptr;
    }

    // An agent that takes its createVm command.
    void take(const std::string& node_id, const std::string& vm_id) {
        const auto commands = beat(node_id);
        const auto* create = find(commands, CommandType::create_vm, vm_id);
        ASSERT_NE(create, nullptr);
        ASSERT_TRUE(orchestrator->acknowledge_command(node_id, create->id));
    }
};

} // namespace

TEST_F(LifecycleTest, APlacementIsAnAssignedRecordAndItsCreateCommandIsResentUntilAcknowledged) {
    beat("mac-1");
    const auto result = request("sonoma");
    ASSERT_EQ(result.outcome, RequestOutcome::placed);
    const auto& vm = *result.record;
    EXPECT_EQ(vm.state, VmState::assigned);
    EXPECT_EQ(vm.node_id, "mac-1");
    EXPECT_EQ(vm.attempts, 1);
    ASSERT_EQ(vm.transitions.size(), 2u);
    EXPECT_EQ(vm.transitions[0].state, VmState::pending);
    EXPECT_EQ(vm.transitions[1].state, VmState::assigned);

    const auto first = beat("mac-1");
    ASSERT_EQ(first.size(), 1u);
    EXPECT_EQ(first[0].type, CommandType::create_vm);
    EXPECT_EQ(first[0].vm_id, vm.vm_id);
    EXPECT_EQ(first[0].image_name, "sonoma");
    EXPECT_FALSE(first[0].image_cached);
    const auto again = beat("mac-1");
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again[0].id, first[0].id) << "the same command, until acknowledged";

    EXPECT_TRUE(orchestrator->acknowledge_command("mac-1", first[0].id));
    EXPECT_EQ(state(vm.vm_id), VmState::provisioning);
    EXPECT_TRUE(beat("mac-1").empty());
    EXPECT_FALSE(orchestrator->acknowledge_command("mac-1", first[0].id)) << "acknowledged already";
}

TEST_F(LifecycleTest, ProgressEventsAreKeptWithTheRecord) {
    beat("mac-1");
    const auto vm_id = placed();
    EXPECT_EQ(orchestrator->record_vm_event(vm_id, {VmState::provisioning, "downloading sonoma", 0.4}),
              EventOutcome::applied);
    const auto vm = orchestrator->vm(vm_id);
    EXPECT_EQ(vm->state, VmState::provisioning);
    EXPECT_EQ(vm->message, "downloading sonoma");
    EXPECT_EQ(vm->progress, 0.4);
    EXPECT_TRUE(beat("mac-1").empty()) << "a provisioning event acknowledges createVm";
    EXPECT_EQ(orchestrator->record_vm_event(vm_id, {VmState::provisioning, "booting", 0.9}), EventOutcome::applied);
    EXPECT_EQ(orchestrator->vm(vm_id)->message, "booting");
    EXPECT_EQ(orchestrator->record_vm_event("vm-nope", {VmState::running, "", {}}), EventOutcome::unknown_vm);
}

TEST_F(LifecycleTest, TheHeartbeatListingTheVmMakesItRunningAndTakesOverItsSlot) {
    beat("mac-1");
    const auto vm_id = placed();
    take("mac-1", vm_id);
    EXPECT_EQ(orchestrator->scheduler().reserved_slots("mac-1"), 1);
    EXPECT_TRUE(beat("mac-1", {{vm_id, "sonoma"}}).empty());
    EXPECT_EQ(state(vm_id), VmState::running);
    EXPECT_EQ(orchestrator->scheduler().reserved_slots("mac-1"), 0);
    EXPECT_TRUE(orchestrator->vm(vm_id)->seen_on_host);
    placed();
    EXPECT_EQ(request("sonoma").outcome, RequestOutcome::no_capacity) << "one running, one placed: full";
}

TEST_F(LifecycleTest, ARunningEventIsTrustedButTheSlotIsHeldUntilTheHeartbeatCountsTheVm) {
    beat("mac-1");
    const auto vm_id = placed();
    EXPECT_EQ(orchestrator->record_vm_event(vm_id, {VmState::running, "runner started", {}}), EventOutcome::applied);
    EXPECT_EQ(state(vm_id), VmState::running);
    EXPECT_EQ(orchestrator->scheduler().reserved_slots("mac-1"), 1);
    beat("mac-1");
    EXPECT_EQ(state(vm_id), VmState::running) << "not listed yet is not gone: it was never listed";
    beat("mac-1", {{vm_id, "sonoma"}});
    EXPECT_EQ(orchestrator->scheduler().reserved_slots("mac-1"), 0);
}

TEST_F(LifecycleTest, DeletingARunningVmAsksTheAgentAndEndsWhenTheVmIsGone) {
    beat("mac-1");
    const auto vm_id = placed();
    take("mac-1", vm_id);
    beat("mac-1", {{vm_id, "sonoma"}});

    const auto deleting = orchestrator->delete_vm(vm_id);
    ASSERT_TRUE(deleting);
    EXPECT_EQ(deleting->state, VmState::deleting);
    const auto commands = beat("mac-1", {{vm_id, "sonoma"}});
    const auto* remove = find(commands, CommandType::delete_vm, vm_id);
    ASSERT_NE(remove, nullptr);
    EXPECT_TRUE(orchestrator->acknowledge_command("mac-1", remove->id));
    EXPECT_EQ(state(vm_id), VmState::deleting) << "still listed by the host";
    EXPECT_TRUE(beat("mac-1").empty());
    EXPECT_EQ(state(vm_id), VmState::deleted);
    EXPECT_EQ(orchestrator->vm(vm_id)->transitions.back().state, VmState::deleted);
}

TEST_F(LifecycleTest, AVmThatDisappearsIsDeletedEvenWithoutAnAcknowledgement) {
    beat("mac-1");
    const auto vm_id = placed();
    beat("mac-1", {{vm_id, "sonoma"}});
    orchestrator->delete_vm(vm_id);
    EXPECT_TRUE(beat("mac-1").empty()) << "the deleteVm is implicitly acknowledged";
    EXPECT_EQ(state(vm_id), VmState::deleted);
}

TEST_F(LifecycleTest, DeletingBeforeTheAgentHeardOfTheVmEndsItAtOnce) {
    beat("mac-1");
    const auto vm_id = placed();
    const auto deleted = orchestrator->delete_vm(vm_id);
    EXPECT_EQ(deleted->state, VmState::deleted);
    EXPECT_TRUE(beat("mac-1").empty()) << "no command about a VM the agent never heard of";
    EXPECT_EQ(orchestrator->scheduler().reserved_slots("mac-1"), 0);
}

TEST_F(LifecycleTest, DeletingAVmWhoseCreateCommandWasSentAsksTheAgentToCleanUp) {
    beat("mac-1");
    const auto vm_id = placed();
    beat("mac-1"); // delivers createVm
    EXPECT_EQ(orchestrator->delete_vm(vm_id)->state, VmState::deleting);
    const auto commands = beat("mac-1");
    ASSERT_EQ(commands.size(), 1u);
    EXPECT_EQ(commands[0].type, CommandType::delete_vm);
    EXPECT_EQ(orchestrator->scheduler().reserved_slots("mac-1"), 1) << "the agent may be making it";
    orchestrator->acknowledge_command("mac-1", commands[0].id);
    EXPECT_EQ(state(vm_id), VmState::deleted);
    EXPECT_EQ(orchestrator->scheduler().reserved_slots("mac-1"), 0);
}

TEST_F(LifecycleTest, DeletingIsIdempotent) {
    beat("mac-1");
    const auto vm_id = placed();
    beat("mac-1", {{vm_id, "sonoma"}});
    EXPECT_EQ(orchestrator->delete_vm(vm_id)->state, VmState::deleting);
    EXPECT_EQ(orchestrator->delete_vm(vm_id)->state, VmState::deleting);
    const auto commands = beat("mac-1", {{vm_id, "sonoma"}});
    EXPECT_EQ(commands.size(), 1u) << "one deleteVm, not two";
    EXPECT_FALSE(orchestrator->delete_vm("vm-unknown"));
}

TEST_F(LifecycleTest, AVmNobodyAskedForIsUnmanagedAndNeverDeletedBySurprise) {
    EXPECT_TRUE(beat("mac-1", {{"handmade", "ventura"}}).empty());
    // Its record lives in the node's own namespace, "<node>:<name>", which no client vmId can name.
    EXPECT_FALSE(orchestrator->vm("handmade"));
    const auto vm = orchestrator->vm("mac-1:handmade");
    ASSERT_TRUE(vm);
    EXPECT_EQ(vm->state, VmState::unmanaged);
    EXPECT_FALSE(vm->managed);
    EXPECT_EQ(vm->node_id, "mac-1");
    EXPECT_EQ(vm->host_vm_id, "handmade");
    EXPECT_TRUE(beat("mac-1", {{"handmade", "ventura"}}).empty());
    beat("mac-1");
    EXPECT_EQ(state("mac-1:handmade"), VmState::deleted);
}

TEST_F(LifecycleTest, AVmReportedOnAndOffKeepsOneRecordWhoseIdNeverGrows) {
    for (int round = 0; round < 50; ++round) {
        beat("mac-1", {{"flapping", "ventura"}, {"steady", "ventura"}});
        beat("mac-1", {{"steady", "ventura"}});
    }
    const auto unmanaged = orchestrator->vms({});
    EXPECT_EQ(unmanaged.size(), 2u) << "the retained record is reused, not replaced by a longer id";
    EXPECT_EQ(state("mac-1:flapping"), VmState::deleted);
    EXPECT_EQ(state("mac-1:steady"), VmState::unmanaged);
    beat("mac-1", {{"flapping", "ventura"}, {"steady", "ventura"}});
    EXPECT_EQ(state("mac-1:flapping"), VmState::unmanaged) << "the same record, reported again";
}

TEST_F(LifecycleTest, ANodeKeepsAtMostItsShareOfUnmanagedRecords) {
    std::vector<HostVm> many;
    for (int i = 0; i < 100; ++i) many.push_back({"ghost-" + std::to_string(i), "ventura"});
    beat("mac-1", many);
    EXPECT_EQ(orchestrator->vms({}).size(), LifecycleOptions{}.max_unmanaged_per_node);
    // New names beyond the cap make no records either, on any later heartbeat.
    many.clear();
    for (int i = 100; i < 200; ++i) many.push_back({"ghost-" + std::to_string(i), "ventura"});
    beat("mac-1", many);
    EXPECT_EQ(orchestrator->vms({}).size(), LifecycleOptions{}.max_unmanaged_per_node);
    // Another node has its own share.
    beat("mac-2", {{"handmade", "ventura"}});
    EXPECT_TRUE(orchestrator->vm("mac-2:handmade"));
}

TEST_F(LifecycleTest, WhoMayReportIsAskedOfTheVmsNodeWhenTheEventIsApplied) {
    beat("mac-1", {}, {}, 1);
    beat("mac-2", {}, {}, 50);
    const auto vm_id = placed();
    ASSERT_EQ(orchestrator->vm(vm_id)->node_id, "mac-1");
    std::vector<std::string> asked;
    const auto only_mac_2 = [&asked](std::string_view node_id) {
        asked.emplace_back(node_id);
        return node_id == "mac-2";
    };
    EXPECT_EQ(orchestrator->record_vm_event(vm_id, {VmState::failed, "not yours", {}}, only_mac_2),
              macvmorx::lifecycle::EventOutcome::not_the_callers);
    EXPECT_EQ(asked, std::vector<std::string>{"mac-1"}) << "the node the VM is on now";
    EXPECT_EQ(state(vm_id), VmState::assigned) << "nothing changed";
}

TEST_F(LifecycleTest, AClientsVmIdIsNeverAVmAHostReported) {
    // A host reports a VM under the id a CI client is about to ask for: the client's request is
    // a placement of its own, not the host's VM.
    beat("mac-1", {{"job-42", "ventura"}}, {}, 1);
    beat("mac-2", {}, {}, 1);
    const auto result = request("sonoma", "job-42");
    EXPECT_EQ(result.outcome, RequestOutcome::placed);
    ASSERT_TRUE(result.record);
    EXPECT_TRUE(result.record->managed);
    EXPECT_EQ(result.record->spec.image_name, "sonoma");
}

TEST_F(LifecycleTest, ARunningVmThatDisappearsHasEndedOnItsOwn) {
    beat("mac-1");
    const auto vm_id = placed();
    beat("mac-1", {{vm_id, "sonoma"}});
    beat("mac-1");
    EXPECT_EQ(state(vm_id), VmState::deleted);
    EXPECT_EQ(orchestrator->vm(vm_id)->transitions.back().message, "the node no longer reports it");
}

TEST_F(LifecycleTest, AVmNotRunningByTheStartDeadlineIsPlacedAgainElsewhere) {
    beat("mac-1", {}, {}, 1);
    beat("mac-2", {}, {}, 50);
    const auto vm_id = placed();
    ASSERT_EQ(node_of(vm_id), "mac-1");
    take("mac-1", vm_id);
    clock.advance(14min);
    beat("mac-1");
    beat("mac-2");
    orchestrator->sweep();
    EXPECT_EQ(state(vm_id), VmState::provisioning);
    clock.advance(1min);
    beat("mac-1");
    beat("mac-2");
    orchestrator->sweep();
    const auto vm = orchestrator->vm(vm_id);
    EXPECT_EQ(vm->state, VmState::assigned);
    EXPECT_EQ(vm->node_id, "mac-2");
    EXPECT_EQ(vm->attempts, 2);
    EXPECT_NE(vm->failure_reason.find("not running within 15m"), std::string::npos) << vm->failure_reason;
    EXPECT_NE(find(beat("mac-1"), CommandType::delete_vm, vm_id), nullptr) << "mac-1 cleans up what it made";
    EXPECT_NE(find(beat("mac-2"), CommandType::create_vm, vm_id), nullptr);
    EXPECT_EQ(orchestrator->scheduler().reserved_slots("mac-1"), 0);
}

TEST_F(LifecycleTest, AVmTheRestartedAgentForgotIsPlacedAgainAtOnce) {
    agent_instance["mac-1"] = "first";
    beat("mac-1", {}, {}, 1);
    beat("mac-2", {}, {}, 50);
    const auto vm_id = placed();
    ASSERT_EQ(node_of(vm_id), "mac-1");
    take("mac-1", vm_id);
    beat("mac-1");
    EXPECT_EQ(state(vm_id), VmState::provisioning) << "the same agent instance: still being made";

    agent_instance["mac-1"] = "second";
    const auto commands = beat("mac-1");
    const auto vm = orchestrator->vm(vm_id);
    EXPECT_EQ(vm->state, VmState::assigned);
    EXPECT_EQ(vm->node_id, "mac-2");
    EXPECT_EQ(vm->attempts, 2);
    EXPECT_EQ(vm->failure_reason, "the agent on node mac-1 restarted while making it");
    EXPECT_NE(find(commands, CommandType::delete_vm, vm_id), nullptr) << "mac-1 cleans up whatever it left";
    EXPECT_NE(find(beat("mac-2"), CommandType::create_vm, vm_id), nullptr);
    EXPECT_EQ(orchestrator->scheduler().reserved_slots("mac-1"), 0);
}

TEST_F(LifecycleTest, ARestartedAgentKeepsWhatItListsAndGetsWhatItHasNotTaken) {
    agent_instance["mac-1"] = "first";
    beat("mac-1");
    const auto listed = placed();
    take("mac-1", listed);
    beat("mac-1", {{listed, "sonoma"}});
    const auto untaken = placed();
    ASSERT_EQ(state(untaken), VmState::assigned);

    agent_instance["mac-1"] = "second";
    const auto commands = beat("mac-1", {{listed, "sonoma"}});
    EXPECT_EQ(state(listed), VmState::running) << "found by the new agent and listed";
    EXPECT_EQ(state(untaken), VmState::assigned) << "its createVm is still pending: the new agent gets it";
    EXPECT_EQ(orchestrator->vm(untaken)->attempts, 1);
    EXPECT_NE(find(commands, CommandType::create_vm, untaken), nullptr);
    EXPECT_EQ(find(commands, CommandType::delete_vm, listed), nullptr);
}

TEST_F(LifecycleTest, ARestartedAgentIsAskedAgainForADeletionTheOldOneTookButDidNotFinish) {
    agent_instance["mac-1"] = "first";
    beat("mac-1");
    const auto vm_id = placed();
    take("mac-1", vm_id);
    beat("mac-1", {{vm_id, "sonoma"}});
    orchestrator->delete_vm(vm_id);
    const auto asked = beat("mac-1", {{vm_id, "sonoma"}});
    const auto* remove = find(asked, CommandType::delete_vm, vm_id);
    ASSERT_NE(remove, nullptr);
    ASSERT_TRUE(orchestrator->acknowledge_command("mac-1", remove->id));
    EXPECT_TRUE(beat("mac-1", {{vm_id, "sonoma"}}).empty()) << "taken: the agent is on it";

    agent_instance["mac-1"] = "second";
    const auto commands = beat("mac-1", {{vm_id, "sonoma"}});
    EXPECT_NE(find(commands, CommandType::delete_vm, vm_id), nullptr);
    EXPECT_EQ(state(vm_id), VmState::deleting);
    EXPECT_TRUE(beat("mac-1").empty());
    EXPECT_EQ(state(vm_id), VmState::deleted);
}

TEST_F(LifecycleTest, AnAgentNamingItsInstanceForTheFirstTimeIsNoRestart) {
    beat("mac-1"); // an agent that names no instance (an older one, or another program)
    const auto vm_id = placed();
    take("mac-1", vm_id);
    agent_instance["mac-1"] = "first";
    beat("mac-1");
    EXPECT_EQ(state(vm_id), VmState::provisioning);
    agent_instance["mac-1"] = "";
    beat("mac-1");
    EXPECT_EQ(state(vm_id), VmState::provisioning) << "a heartbeat without an instance says nothing of one";
    agent_instance["mac-1"] = "first";
    beat("mac-1");
    EXPECT_EQ(state(vm_id), VmState::provisioning);
    EXPECT_EQ(orchestrator->vm(vm_id)->attempts, 1);
}

TEST_F(LifecycleTest, RetriesStopAtTheAttemptLimit) {
    orchestrator = make(LifecycleOptions{10min, 15min, 1h, 2, 1h});
    beat("mac-1", {}, {}, 1);
    beat("mac-2", {}, {}, 50);
    const auto vm_id = placed();
    take(node_of(vm_id), vm_id);
    EXPECT_EQ(orchestrator->record_vm_event(vm_id, {VmState::failed, "boot failed", {}}), EventOutcome::applied);
    EXPECT_EQ(state(vm_id), VmState::assigned);
    const auto second = node_of(vm_id);
    EXPECT_EQ(second, "mac-2") << "placed again elsewhere";
    take(second, vm_id);
    orchestrator->record_vm_event(vm_id, {VmState::failed, "boot failed again", {}});
    const auto vm = orchestrator->vm(vm_id);
    EXPECT_EQ(vm->state, VmState::failed);
    EXPECT_EQ(vm->attempts, 2);
    EXPECT_EQ(vm->failure_reason, "boot failed again");
    EXPECT_EQ(orchestrator->scheduler().reserved_slots("mac-1") + orchestrator->scheduler().reserved_slots("mac-2"), 0);
}

TEST_F(LifecycleTest, APlacementOnANodeWithoutOurAgentFailsAfterTheTtlWithoutRetry) {
    beat("mac-1");
    beat("mac-2");
    const auto vm_id = placed();
    clock.advance(10min);
    beat("mac-1");
    beat("mac-2");
    orchestrator->sweep();
    const auto vm = orchestrator->vm(vm_id);
    EXPECT_EQ(vm->state, VmState::failed);
    EXPECT_NE(vm->failure_reason.find("did not take the createVm command within 10m"), std::string::npos);
}

TEST_F(LifecycleTest, WhenANodeGoesOfflineItsStartingVmsMoveAndItsRunningVmsAreLost) {
    beat("mac-1", {}, {}, 1);
    const auto running = placed();
    const auto starting = placed();
    beat("mac-1", {{running, "sonoma"}});
    beat("mac-2", {}, {}, 50);
    clock.advance(20s);
    beat("mac-2", {}, {}, 50);
    clock.advance(11s);
    orchestrator->sweep();
    EXPECT_FALSE(orchestrator->node("mac-1")->online);
    EXPECT_EQ(state(running), VmState::lost);
    EXPECT_EQ(node_of(starting), "mac-2");
    EXPECT_EQ(orchestrator->vm(starting)->attempts, 1) << "a node going offline is not the VM's fault";

    beat("mac-1", {{running, "sonoma"}});
    EXPECT_EQ(state(running), VmState::running) << "reconciled when its node came back";
}

TEST_F(LifecycleTest, ALostVmThatIsGoneWhenItsNodeReturnsIsDeleted) {
    beat("mac-1");
    const auto vm_id = placed();
    beat("mac-1", {{vm_id, "sonoma"}});
    clock.advance(31s);
    orchestrator->sweep();
    EXPECT_EQ(state(vm_id), VmState::lost);
    beat("mac-1");
    EXPECT_EQ(state(vm_id), VmState::deleted);
}

TEST_F(LifecycleTest, ACopyLeftOnAnEarlierNodeIsCleanedUpWithoutTouchingTheRecord) {
    beat("mac-1", {}, {}, 1);
    beat("mac-2", {}, {}, 50);
    const auto vm_id = placed();
    take("mac-1", vm_id);
    orchestrator->record_vm_event(vm_id, {VmState::failed, "boot failed", {}});
    ASSERT_EQ(node_of(vm_id), "mac-2");
    // The first node recovers and reports the VM after all.
    const auto commands = beat("mac-1", {{vm_id, "sonoma"}});
    EXPECT_NE(find(commands, CommandType::delete_vm, vm_id), nullptr);
    EXPECT_EQ(node_of(vm_id), "mac-2");
    EXPECT_EQ(state(vm_id), VmState::assigned);
}

TEST_F(LifecycleTest, TheSameVmIdTwiceGivesTheSameRecord) {
    beat("mac-1");
    const auto first = request("sonoma", "job-42");
    ASSERT_EQ(first.outcome, RequestOutcome::placed);
    EXPECT_EQ(first.record->vm_id, "job-42");
    const auto again = request("sonoma", "job-42");
    EXPECT_EQ(again.outcome, RequestOutcome::existing);
    EXPECT_EQ(again.record->node_id, first.record->node_id);
    EXPECT_EQ(orchestrator->scheduler().reserved_slots("mac-1"), 1) << "not a second VM";
    EXPECT_EQ(request("ventura", "job-42").outcome, RequestOutcome::conflict);
    EXPECT_EQ(orchestrator->vms({}).size(), 1u);
}

TEST_F(LifecycleTest, WithoutWaitingARequestThatFitsNowhereLeavesNoRecord) {
    EXPECT_EQ(request("sonoma").outcome, RequestOutcome::no_capacity);
    EXPECT_TRUE(orchestrator->vms({}).empty());
}

TEST_F(LifecycleTest, QueuedRequestsArePlacedInArrivalOrderAsCapacityAppears) {
    beat("mac-1");
    const auto a = placed();
    const auto b = placed();
    std::vector<std::string> waiting;
    for (int i = 0; i < 3; ++i) {
        const auto result = request("sonoma", "", true);
        ASSERT_EQ(result.outcome, RequestOutcome::queued);
        EXPECT_EQ(result.record->state, VmState::pending);
        waiting.push_back(result.record->vm_id);
    }
    const auto queue = orchestrator->queue();
    ASSERT_EQ(queue.size(), 3u);
    EXPECT_EQ(queue[0].vm_id, waiting[0]);

    orchestrator->delete_vm(a);
    EXPECT_EQ(state(waiting[0]), VmState::assigned);
    EXPECT_EQ(state(waiting[1]), VmState::pending);
    beat("mac-2");
    EXPECT_EQ(state(waiting[1]), VmState::assigned);
    EXPECT_EQ(state(waiting[2]), VmState::assigned);
    EXPECT_TRUE(orchestrator->queue().empty());
    EXPECT_EQ(state(b), VmState::assigned);
}

TEST_F(LifecycleTest, AQueuedRequestThatNeedsAMissingLabelDoesNotBlockTheOthers) {
    beat("mac-1");
    placed();
    placed();
    const auto picky = request("sonoma", "", true, {{"chip", "m4"}});
    const auto plain = request("sonoma", "", true);
    beat("mac-2", {}, {{"chip", "m2"}});
    EXPECT_EQ(state(picky.record->vm_id), VmState::pending);
    EXPECT_EQ(state(plain.record->vm_id), VmState::assigned);
    EXPECT_EQ(node_of(plain.record->vm_id), "mac-2");
}

TEST_F(LifecycleTest, AQueuedRequestFailsAfterTheQueueTimeout) {
    const auto result = request("sonoma", "", true);
    clock.advance(1h);
    orchestrator->sweep();
    const auto vm = orchestrator->vm(result.record->vm_id);
    EXPECT_EQ(vm->state, VmState::failed);
    EXPECT_TRUE(orchestrator->queue().empty());
}

TEST_F(LifecycleTest, LabelsAndMemoryChooseTheHost) {
    beat("mac-intel", {}, {{"arch", "x86_64"}}, 1);
    beat("mac-m2", {}, {{"arch", "arm64"}, {"xcode", "16.1"}}, 80);
    const auto result = request("sonoma", "", false, {{"arch", "arm64"}});
    EXPECT_EQ(result.record->node_id, "mac-m2");
    EXPECT_EQ(request("sonoma", "", false, {{"xcode", "15.4"}}).outcome, RequestOutcome::no_capacity);
    EXPECT_EQ(request("ventura", "", false, {}, 100.0).outcome, RequestOutcome::no_capacity)
        << "no Mac has 100 GB free";
}

TEST_F(LifecycleTest, AnImageBeingDownloadedAttractsTheNextVmOfThatImage) {
    beat("mac-1", {}, {}, 5);
    beat("mac-2", {}, {}, 40);
    const auto first = request("sequoia");
    EXPECT_EQ(first.record->node_id, "mac-1");
    EXPECT_FALSE(first.record->image_cached);
    beat("mac-1", {}, {}, 90); // now busier than mac-2, but fetching sequoia
    const auto second = request("sequoia");
    EXPECT_EQ(second.record->node_id, "mac-1");
    EXPECT_TRUE(second.record->image_cached);
}

TEST_F(LifecycleTest, ALongPollAnswersAtOnceWhenCommandsWait) {
    beat("mac-1");
    const auto vm_id = placed();
    std::vector<Command> answer;
    bool answered = false;
    orchestrator->wait_for_commands("mac-1", 25s, [&](std::vector<Command> commands) {
        answer = std::move(commands);
        answered = true;
    });
    ASSERT_TRUE(answered);
    ASSERT_EQ(answer.size(), 1u);
    EXPECT_EQ(answer[0].vm_id, vm_id);
}

TEST_F(LifecycleTest, ALongPollAnswersWhenACommandArrivesOrEmptyAtItsDeadline) {
    beat("mac-1");
    std::optional<std::vector<Command>> answer;
    orchestrator->wait_for_commands("mac-1", 25s, [&](std::vector<Command> commands) { answer = commands; });
    EXPECT_FALSE(answer);
    const auto vm_id = placed();
    ASSERT_TRUE(answer);
    ASSERT_EQ(answer->size(), 1u);
    EXPECT_EQ((*answer)[0].vm_id, vm_id);

    answer.reset();
    orchestrator->acknowledge_command("mac-1", beat("mac-1")[0].id);
    orchestrator->wait_for_commands("mac-1", 25s, [&](std::vector<Command> commands) { answer = commands; });
    clock.advance(24s);
    orchestrator->expire_long_polls();
    EXPECT_FALSE(answer);
    clock.advance(1s);
    orchestrator->expire_long_polls();
    ASSERT_TRUE(answer);
    EXPECT_TRUE(answer->empty());
}

TEST_F(LifecycleTest, AnAgentThatNamesVmsItselfStillFulfilsThePlacement) {
    beat("mac-1");
    const auto vm_id = placed();
    beat("mac-1", {{"agent-named-7", "sonoma"}});
    const auto vm = orchestrator->vm(vm_id);
    EXPECT_EQ(vm->state, VmState::running);
    EXPECT_EQ(vm->host_vm_id, "agent-named-7");
    EXPECT_FALSE(orchestrator->vm("agent-named-7")) << "not also an unmanaged VM";
    beat("mac-1");
    EXPECT_EQ(state(vm_id), VmState::deleted);
}

TEST_F(LifecycleTest, ForgettingANodeEndsItsVmsAndMovesThoseNotStarted) {
    beat("mac-1", {}, {}, 1);
    const auto running = placed();
    const auto starting = placed();
    beat("mac-1", {{running, "sonoma"}});
    clock.advance(31s);
    orchestrator->sweep();
    beat("mac-2");
    ASSERT_EQ(node_of(starting), "mac-2") << "moved when mac-1 went offline";
    ASSERT_EQ(orchestrator->forget_node("mac-1"), macvmorx::orchestrator::NodeOperation::done);
    EXPECT_EQ(state(running), VmState::deleted);
    EXPECT_EQ(state(starting), VmState::assigned);
}

TEST_F(LifecycleTest, ADrainedNodeKeepsItsVmsAndTakesNoNewOnes) {
    beat("mac-1", {}, {}, 1);
    const auto vm_id = placed();
    beat("mac-1", {{vm_id, "sonoma"}});
    orchestrator->set_drained("mac-1", true);
    beat("mac-1", {{vm_id, "sonoma"}});
    EXPECT_EQ(state(vm_id), VmState::running);
    EXPECT_EQ(request("sonoma").outcome, RequestOutcome::no_capacity);
    beat("mac-2", {}, {}, 99);
    EXPECT_EQ(request("sonoma").record->node_id, "mac-2");
}

TEST_F(LifecycleTest, EventsThatMakeNoSenseAreRefused) {
    beat("mac-1");
    const auto vm_id = placed();
    beat("mac-1", {{vm_id, "sonoma"}});
    EXPECT_EQ(orchestrator->record_vm_event(vm_id, {VmState::provisioning, "", {}}), EventOutcome::not_allowed);
    EXPECT_EQ(orchestrator->record_vm_event(vm_id, {VmState::deleted, "", {}}), EventOutcome::not_allowed);
    EXPECT_EQ(state(vm_id), VmState::running);
}

TEST_F(LifecycleTest, FinishedRecordsAreForgottenAfterTheRetention) {
    beat("mac-1");
    const auto vm_id = placed();
    orchestrator->delete_vm(vm_id);
    clock.advance(59min);
    orchestrator->sweep();
    EXPECT_TRUE(orchestrator->vm(vm_id));
    clock.advance(1min);
    orchestrator->sweep();
    EXPECT_FALSE(orchestrator->vm(vm_id));
}

TEST_F(LifecycleTest, ListsFilterByStateNodeAndImage) {
    beat("mac-1", {}, {}, 1);
    beat("mac-2", {}, {}, 50);
    const auto a = placed("sonoma");
    const auto b = placed("ventura");
    beat("mac-1", {{a, "sonoma"}});
    EXPECT_EQ(orchestrator->vms({VmState::running, "", ""}).size(), 1u);
    EXPECT_EQ(orchestrator->vms({std::nullopt, "mac-1", ""}).size(), 1u);
    EXPECT_EQ(orchestrator->vms({std::nullopt, "mac-2", ""})[0].vm_id, b);
    EXPECT_EQ(orchestrator->vms({std::nullopt, "", "ventura"})[0].vm_id, b);
    EXPECT_EQ(orchestrator->vm_counts().by_state[static_cast<std::size_t>(VmState::assigned)], 1u);
}

TEST_F(LifecycleTest, ConcurrentPlacementsDeletionsAndHeartbeatsNeverOverbookNorLoseARecord) {
    constexpr int nodes = 8;
    for (int n = 0; n < nodes; ++n) beat("mac-" + std::to_string(n), {}, {}, n);

    std::atomic<bool> stop{false};
    std::atomic<int> overbooked{0};
    // Agents: report what they were told to run, check their slots are never exceeded.
    std::thread agents([&] {
        while (!stop) {
            for (int n = 0; n < nodes; ++n) {
                const std::string node_id = "mac-" + std::to_string(n);
                std::vector<HostVm> running;
                for (const auto& vm : orchestrator->vms({std::nullopt, node_id, ""})) {
                    if (vm.state == VmState::running || vm.state == VmState::provisioning ||
                        vm.state == VmState::assigned || vm.state == VmState::deleting) {
                        running.push_back({vm.vm_id, vm.spec.image_name});
                    }
                }
                if (running.size() > 2) ++overbooked;
                beat(node_id, running, {}, n);
            }
        }
    });
    std::atomic<int> requested{0};
    std::mutex mutex;
    std::vector<std::string> accepted;
    std::vector<std::thread> clients;
    for (int c = 0; c < 4; ++c) {
        clients.emplace_back([&, c] {
            for (int i = 0; i < 200; ++i) {
                const auto result = request(i % 2 ? "sonoma" : "ventura", "c" + std::to_string(c) + "-" + std::to_string(i),
                                            i % 5 == 0);
                ++requested;
                if (result.record) {
                    std::lock_guard lock{mutex};
                    accepted.push_back(result.record->vm_id);
                }
                if (i % 3 == 0 && result.record) orchestrator->delete_vm(result.record->vm_id);
                if (i % 7 == 0) {
                    std::lock_guard lock{mutex};
                    if (!accepted.empty()) orchestrator->delete_vm(accepted[accepted.size() / 2]);
                }
            }
        });
    }
    for (auto& client : clients) client.join();
    stop = true;
    agents.join();

    EXPECT_EQ(overbooked.load(), 0);
    for (int n = 0; n < nodes; ++n) {
        EXPECT_LE(orchestrator->scheduler().reserved_slots("mac-" + std::to_string(n)), 2);
    }
    for (const auto& vm_id : accepted) EXPECT_TRUE(orchestrator->vm(vm_id)) << vm_id << " was lost";
    EXPECT_EQ(requested.load(), 800);
}
