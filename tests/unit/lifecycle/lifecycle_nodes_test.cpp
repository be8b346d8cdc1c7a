// What nodes and their agents do to VMs: start deadlines, restarted agents, retries, a node
// that goes offline, comes back, is forgotten or drained.

#include "lifecycle_fixture.hpp"

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
    LifecycleOptions options;
    options.max_attempts = 2;
    orchestrator = make(options);
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

TEST_F(LifecycleTest, AVmWhoseImageFailsItsChecksumIsNotPlacedAgainAnywhere) {
    beat("mac-1");
    beat("mac-2");
    const auto vm_id = placed();
    take(node_of(vm_id), vm_id);
    const std::string reason = "pulling image gs://acme/sequoia.tvm failed: imageChecksumMismatch: gs://acme/sequoia.tvm: "
                               "Cloud Storage crc32c (CRC-32C): the store says hpFuWg==, the download has NK+I4w==";
    EXPECT_EQ(orchestrator->record_vm_event(vm_id, {VmState::failed, reason, {}}), EventOutcome::applied);
    const auto vm = orchestrator->vm(vm_id);
    EXPECT_EQ(vm->state, VmState::failed) << "another host would download the same bad bytes";
    EXPECT_EQ(vm->attempts, 1);
    EXPECT_EQ(vm->failure_reason, reason);
}

TEST(VmEventReasons, AReasonIsNamedAtTheStartOrAfterAnotherMessagesColon) {
    using macvmorx::protocol::names_reason;
    EXPECT_TRUE(names_reason("imageChecksumMismatch: a", "imageChecksumMismatch"));
    EXPECT_TRUE(names_reason("pulling image x failed: imageChecksumMismatch: a", "imageChecksumMismatch"));
    EXPECT_FALSE(names_reason("pulling image imageChecksumMismatch.tvm failed: boot", "imageChecksumMismatch"));
    EXPECT_FALSE(names_reason("imageChecksumMismatches: a", "imageChecksumMismatch"));
    EXPECT_FALSE(names_reason("boot failed", "imageChecksumMismatch"));
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

// One node state: the store, the scheduler and the lifecycle share the record published last,
// and none of them keeps an older one alive (or a copy of it).
TEST_F(LifecycleTest, NoPartHoldsAnOlderRecordOfTheNodeOnceANewerOneIsPublished) {
    agent_instance["mac-1"] = "instance-a";
    beat("mac-1", {{"vm-x", "sonoma"}});
    using Held = std::weak_ptr<const macvmorx::fleet::NodeRecord>;
    Held before = orchestrator->node("mac-1");
    beat("mac-1", {{"vm-x", "sonoma"}}, {}, 20);
    EXPECT_TRUE(before.expired()) << "an older record is still held after a heartbeat that changes nothing";
    before = orchestrator->node("mac-1");
    beat("mac-1", {{"vm-x", "sonoma"}, {"vm-y", "sonoma"}});
    EXPECT_TRUE(before.expired()) << "an older record is still held after a heartbeat with another VM";
    before = orchestrator->node("mac-1");
    orchestrator->set_drained("mac-1", true);
    EXPECT_TRUE(before.expired()) << "an older record is still held after draining the node";
    // The view still tells what the node reported last: the VM it no longer lists has ended.
    beat("mac-1", {{"vm-x", "sonoma"}});
    const auto unmanaged = orchestrator->vms(VmFilter{VmState::unmanaged, "mac-1", ""});
    ASSERT_EQ(unmanaged.size(), 1u);
    EXPECT_EQ(unmanaged[0].host_vm_id, "vm-x");
}
