// Client requests and agents' polls: the same id twice, the queue, labels and memory, long
// polls, retention, listings, and everything at once from many threads.

#include "lifecycle_fixture.hpp"

#include <atomic>
#include <thread>

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

TEST_F(LifecycleTest, ADeletionTakenBeforeAnyHeartbeatListedTheVmKeepsItsSlotUntilTheNextHeartbeat) {
    beat("mac-1");
    const auto done = placed();
    const auto other = placed();
    take("mac-1", done);
    take("mac-1", other);
    // The agent says the VM runs, and its job ends, before any heartbeat has listed it.
    VmEvent running;
    running.state = VmState::running;
    ASSERT_EQ(orchestrator->record_vm_event(done, running), EventOutcome::applied);
    orchestrator->delete_vm(done);
    std::vector<Command> polled;
    ASSERT_TRUE(orchestrator->wait_for_commands("mac-1", 0s, [&polled](std::vector<Command> commands) {
        polled = std::move(commands);
    }));
    const auto* deletion = find(polled, CommandType::delete_vm, done);
    ASSERT_NE(deletion, nullptr);
    ASSERT_TRUE(orchestrator->acknowledge_command("mac-1", deletion->id));
    EXPECT_EQ(state(done), VmState::deleted);

    // The clone may still be there: its slot is not given to another VM the agent would refuse.
    EXPECT_EQ(request("sonoma").outcome, RequestOutcome::no_capacity);
    // The next heartbeat says what is there: the clone is gone, the slot is free.
    beat("mac-1", {{other, "sonoma"}});
    EXPECT_EQ(request("sonoma").outcome, RequestOutcome::placed);
}
