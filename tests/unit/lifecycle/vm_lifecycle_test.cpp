// A VM's life: placement, its create command, the heartbeat that shows it running, deletion,
// and the VMs hosts report that nobody asked for.

#include "lifecycle_fixture.hpp"

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
    EXPECT_EQ(orchestrator->scheduler().reserved_slots("mac-1"), 1) << "until a heartbeat says the clone is gone";
    beat("mac-1");
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
