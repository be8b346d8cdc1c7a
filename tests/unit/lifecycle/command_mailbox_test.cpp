// The commands waiting for agents and the long polls waiting for commands, on their own: what a
// node is sent, when a poll is answered and with what, and that nothing is answered under the
// caller's lock (answers come back as replies for the caller to run).

#include "lifecycle/command_mailbox.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using macvmorx::lifecycle::CommandMailbox;
using macvmorx::protocol::Command;
using macvmorx::protocol::CommandType;

namespace {

Command command(const std::string& id, CommandType type, const std::string& vm_id) {
    Command made;
    made.id = id;
    made.type = type;
    made.vm_id = vm_id;
    return made;
}

std::vector<std::string> ids(const std::vector<Command>& commands) {
    std::vector<std::string> result;
    for (const auto& c : commands) result.push_back(c.id);
    return result;
}

// A long poll's answer, once it has one.
struct Poll {
    std::optional<std::vector<Command>> answer;
    macvmorx::lifecycle::CommandsReply reply() {
        return [this](std::vector<Command> commands) { answer = std::move(commands); };
    }
};

class CommandMailboxTest : public ::testing::Test {
protected:
    macvmorx::ManualClock clock;
    CommandMailbox mailbox{clock, 2};
    CommandMailbox::Replies replies;

    // What the lifecycle does once its lock is released.
    std::size_t run_replies() {
        const std::size_t count = replies.size();
        for (const auto& reply : replies) reply();
        replies.clear();
        return count;
    }
};

} // namespace

TEST_F(CommandMailboxTest, ACommandIsDeliveredAgainUntilTakenAndStampedTheFirstTimeOnly) {
    EXPECT_TRUE(mailbox.idle("mac-1"));
    EXPECT_TRUE(mailbox.deliver("mac-1").empty());
    mailbox.post("mac-1", command("cmd-1", CommandType::create_vm, "vm-1"), replies);
    EXPECT_TRUE(replies.empty()) << "nobody polls";
    EXPECT_FALSE(mailbox.idle("mac-1"));
    EXPECT_TRUE(mailbox.idle("mac-2")) << "each node has its own";

    const auto first_sent = clock.now();
    const auto first = mailbox.deliver("mac-1");
    ASSERT_EQ(ids(first), std::vector<std::string>{"cmd-1"});
    EXPECT_EQ(first[0].delivered_at, first_sent);
    clock.advance(5s);
    const auto again = mailbox.deliver("mac-1");
    ASSERT_EQ(ids(again), std::vector<std::string>{"cmd-1"});
    EXPECT_EQ(again[0].delivered_at, first_sent) << "delivered_at says when it was first sent";

    EXPECT_FALSE(mailbox.take("mac-2", "cmd-1")) << "not that node's";
    const auto taken = mailbox.take("mac-1", "cmd-1");
    ASSERT_TRUE(taken);
    EXPECT_EQ(taken->vm_id, "vm-1");
    EXPECT_FALSE(mailbox.take("mac-1", "cmd-1")) << "taken already";
    EXPECT_TRUE(mailbox.deliver("mac-1").empty());
    EXPECT_TRUE(mailbox.idle("mac-1"));
}

TEST_F(CommandMailboxTest, WhatWaitsIsFoundWithdrawnAndDroppedByTypeAndVm) {
    mailbox.post("mac-1", command("cmd-1", CommandType::create_vm, "vm-1"), replies);
    mailbox.post("mac-1", command("cmd-2", CommandType::delete_vm, "vm-2"), replies);
    mailbox.post("mac-1", command("cmd-3", CommandType::delete_vm, "vm-2"), replies);
    EXPECT_TRUE(mailbox.holds("mac-1", CommandType::create_vm, "vm-1"));
    EXPECT_FALSE(mailbox.holds("mac-1", CommandType::delete_vm, "vm-1"));
    EXPECT_FALSE(mailbox.holds("mac-2", CommandType::create_vm, "vm-1"));
    EXPECT_TRUE(mailbox.holds_undelivered("mac-1", CommandType::create_vm, "vm-1"));
    mailbox.deliver("mac-1");
    EXPECT_TRUE(mailbox.holds("mac-1", CommandType::create_vm, "vm-1"));
    EXPECT_FALSE(mailbox.holds_undelivered("mac-1", CommandType::create_vm, "vm-1")) << "an agent was sent it";

    const auto withdrawn = mailbox.withdraw("mac-1", CommandType::create_vm, "vm-1");
    ASSERT_TRUE(withdrawn);
    EXPECT_EQ(withdrawn->id, "cmd-1");
    EXPECT_TRUE(withdrawn->delivered_at) << "the caller learns whether the agent may have it";
    EXPECT_FALSE(mailbox.withdraw("mac-1", CommandType::create_vm, "vm-1"));

    mailbox.drop("mac-1", "vm-2", CommandType::create_vm);
    EXPECT_EQ(ids(mailbox.deliver("mac-1")), (std::vector<std::string>{"cmd-2", "cmd-3"})) << "another type stays";
    mailbox.drop("mac-1", "vm-2", CommandType::delete_vm);
    EXPECT_TRUE(mailbox.deliver("mac-1").empty()) << "every command of the type and VM goes";
}

TEST_F(CommandMailboxTest, APollWaitsUntilACommandIsPostedForItsNodeAndGetsAllOfThem) {
    mailbox.post("mac-1", command("cmd-0", CommandType::delete_vm, "vm-0"), replies);
    ASSERT_TRUE(mailbox.take("mac-1", "cmd-0"));
    Poll poll;
    const auto deadline = clock.now() + 25s;
    mailbox.wait("mac-1", deadline, poll.reply(), {}, replies);
    EXPECT_EQ(run_replies(), 0u);
    EXPECT_TRUE(clock.wake_up_expected_at(deadline)) << "whoever expires polls is told when to look";
    EXPECT_FALSE(mailbox.idle("mac-1")) << "a poll waits";

    mailbox.post("mac-2", command("cmd-x", CommandType::create_vm, "vm-x"), replies);
    EXPECT_EQ(run_replies(), 0u) << "another node's command";
    mailbox.post("mac-1", command("cmd-1", CommandType::create_vm, "vm-1"), replies);
    EXPECT_FALSE(poll.answer) << "answered only when the caller runs the replies";
    EXPECT_EQ(run_replies(), 1u);
    ASSERT_TRUE(poll.answer);
    ASSERT_EQ(ids(*poll.answer), std::vector<std::string>{"cmd-1"});
    EXPECT_TRUE((*poll.answer)[0].delivered_at);
    EXPECT_EQ(ids(mailbox.deliver("mac-1")), std::vector<std::string>{"cmd-1"}) << "still there until taken";
}

TEST_F(CommandMailboxTest, APollIsAnsweredAtOnceWhenCommandsWaitOrItsDeadlineHasPassed) {
    mailbox.post("mac-1", command("cmd-1", CommandType::create_vm, "vm-1"), replies);
    Poll now;
    mailbox.wait("mac-1", clock.now() + 25s, now.reply(), {}, replies);
    EXPECT_EQ(run_replies(), 1u);
    ASSERT_TRUE(now.answer);
    EXPECT_EQ(ids(*now.answer), std::vector<std::string>{"cmd-1"});

    Poll late;
    mailbox.wait("mac-2", clock.now(), late.reply(), {}, replies);
    EXPECT_EQ(run_replies(), 1u);
    ASSERT_TRUE(late.answer);
    EXPECT_TRUE(late.answer->empty());
    EXPECT_TRUE(mailbox.idle("mac-2")) << "nothing kept";
}

TEST_F(CommandMailboxTest, ExpiryAnswersWithNothingThePollsWhoseDeadlineCameOrWhoseClientIsGone) {
    bool gone = false;
    Poll soon, later, abandoned;
    mailbox.wait("mac-1", clock.now() + 10s, soon.reply(), {}, replies);
    mailbox.wait("mac-1", clock.now() + 30s, later.reply(), {}, replies);
    mailbox.wait("mac-2", clock.now() + 30s, abandoned.reply(), [&gone] { return gone; }, replies);
    EXPECT_EQ(run_replies(), 0u);

    clock.advance(9s);
    mailbox.expire(replies);
    EXPECT_EQ(run_replies(), 0u);
    clock.advance(1s);
    gone = true;
    mailbox.expire(replies);
    EXPECT_EQ(run_replies(), 2u);
    ASSERT_TRUE(soon.answer);
    EXPECT_TRUE(soon.answer->empty());
    ASSERT_TRUE(abandoned.answer);
    EXPECT_TRUE(abandoned.answer->empty());
    EXPECT_FALSE(later.answer);
    EXPECT_TRUE(mailbox.idle("mac-2"));

    mailbox.post("mac-1", command("cmd-1", CommandType::create_vm, "vm-1"), replies);
    EXPECT_EQ(run_replies(), 1u);
    ASSERT_TRUE(later.answer);
    EXPECT_EQ(ids(*later.answer), std::vector<std::string>{"cmd-1"});
}

TEST_F(CommandMailboxTest, ANodeHoldsAtMostItsBoundOfPollsAndANewOneAnswersTheOldest) {
    Poll first, second, third;
    mailbox.wait("mac-1", clock.now() + 25s, first.reply(), {}, replies);
    mailbox.wait("mac-1", clock.now() + 25s, second.reply(), {}, replies);
    EXPECT_EQ(run_replies(), 0u);
    mailbox.wait("mac-1", clock.now() + 25s, third.reply(), {}, replies);
    EXPECT_EQ(run_replies(), 1u);
    ASSERT_TRUE(first.answer);
    EXPECT_TRUE(first.answer->empty());
    EXPECT_FALSE(second.answer);

    mailbox.post("mac-1", command("cmd-1", CommandType::create_vm, "vm-1"), replies);
    EXPECT_EQ(run_replies(), 2u);
    ASSERT_TRUE(second.answer);
    ASSERT_TRUE(third.answer);
    EXPECT_EQ(ids(*second.answer), std::vector<std::string>{"cmd-1"});
    EXPECT_EQ(ids(*third.answer), std::vector<std::string>{"cmd-1"});
}

TEST_F(CommandMailboxTest, ANewPollFirstDropsThoseWhoseClientIsGoneWithoutPushingOutALiveOne) {
    bool gone = false;
    Poll dead, live, newest;
    mailbox.wait("mac-1", clock.now() + 25s, dead.reply(), [&gone] { return gone; }, replies);
    mailbox.wait("mac-1", clock.now() + 25s, live.reply(), {}, replies);
    gone = true;
    mailbox.wait("mac-1", clock.now() + 25s, newest.reply(), {}, replies);
    EXPECT_EQ(run_replies(), 1u);
    EXPECT_TRUE(dead.answer);
    EXPECT_FALSE(live.answer) << "the gone one made room";
    EXPECT_FALSE(newest.answer);
}

TEST_F(CommandMailboxTest, ReleasingAnswersEveryPollWithItsNodesCommandsAndLaterOnesAtOnce) {
    Poll idle, busy;
    mailbox.wait("mac-1", clock.now() + 25s, idle.reply(), {}, replies);
    mailbox.wait("mac-2", clock.now() + 25s, busy.reply(), {}, replies);
    mailbox.post("mac-2", command("cmd-1", CommandType::create_vm, "vm-1"), replies);
    EXPECT_EQ(run_replies(), 1u);
    Poll again;
    mailbox.wait("mac-2", clock.now() + 25s, again.reply(), {}, replies);
    EXPECT_EQ(run_replies(), 1u) << "commands wait: at once";
    mailbox.take("mac-2", "cmd-1");

    Poll waiting;
    mailbox.wait("mac-2", clock.now() + 25s, waiting.reply(), {}, replies);
    mailbox.release(replies);
    EXPECT_EQ(run_replies(), 2u);
    ASSERT_TRUE(idle.answer);
    EXPECT_TRUE(idle.answer->empty());
    ASSERT_TRUE(waiting.answer);

    Poll after;
    mailbox.wait("mac-1", clock.now() + 25s, after.reply(), {}, replies);
    EXPECT_EQ(run_replies(), 1u) << "shutting down: nothing waits any more";
    ASSERT_TRUE(after.answer);
    EXPECT_TRUE(mailbox.idle("mac-1"));
}

TEST_F(CommandMailboxTest, ForgettingANodeAnswersItsPollsWithNothingAndDropsItsCommands) {
    Poll poll, other;
    mailbox.wait("mac-1", clock.now() + 25s, poll.reply(), {}, replies);
    mailbox.wait("mac-2", clock.now() + 25s, other.reply(), {}, replies);
    mailbox.forget("mac-1", replies);
    EXPECT_EQ(run_replies(), 1u);
    ASSERT_TRUE(poll.answer);
    EXPECT_TRUE(poll.answer->empty());
    EXPECT_FALSE(other.answer);

    mailbox.post("mac-2", command("cmd-1", CommandType::create_vm, "vm-1"), replies);
    mailbox.forget("mac-2", replies);
    EXPECT_EQ(run_replies(), 1u) << "answered by the post, nothing left to answer";
    EXPECT_TRUE(mailbox.deliver("mac-2").empty());
    EXPECT_TRUE(mailbox.idle("mac-2"));
    clock.advance(30s);
    mailbox.expire(replies);
    EXPECT_EQ(run_replies(), 0u);
}

// A fleet's nodes mostly have nothing waiting: the mailbox keeps no entry for them.
TEST_F(CommandMailboxTest, ANodeWithNothingWaitingCostsTheMailboxNothing) {
    mailbox.post("mac-1", command("cmd-1", CommandType::create_vm, "vm-1"), replies);
    mailbox.post("mac-2", command("cmd-2", CommandType::create_vm, "vm-2"), replies);
    mailbox.post("mac-3", command("cmd-3", CommandType::delete_vm, "vm-3"), replies);
    EXPECT_EQ(mailbox.nodes_held(), 3u);
    ASSERT_TRUE(mailbox.take("mac-1", "cmd-1"));
    ASSERT_TRUE(mailbox.withdraw("mac-2", CommandType::create_vm, "vm-2"));
    mailbox.drop("mac-3", "vm-3", CommandType::delete_vm);
    EXPECT_EQ(mailbox.nodes_held(), 0u) << "taken, withdrawn and dropped: nothing left";

    Poll answered_at_once, expired;
    mailbox.wait("mac-4", clock.now(), answered_at_once.reply(), {}, replies);
    EXPECT_EQ(mailbox.nodes_held(), 0u) << "a poll answered at once is not kept";
    mailbox.wait("mac-4", clock.now() + 10s, expired.reply(), {}, replies);
    EXPECT_EQ(mailbox.nodes_held(), 1u);
    clock.advance(10s);
    mailbox.expire(replies);
    EXPECT_EQ(run_replies(), 2u);
    EXPECT_EQ(mailbox.nodes_held(), 0u) << "its poll expired: nothing left";

    // A node with a command and a poll keeps its entry until both are gone.
    Poll waiting;
    mailbox.wait("mac-5", clock.now() + 10s, waiting.reply(), {}, replies);
    mailbox.post("mac-5", command("cmd-5", CommandType::create_vm, "vm-5"), replies);
    EXPECT_EQ(run_replies(), 1u);
    EXPECT_EQ(mailbox.nodes_held(), 1u) << "the command stays until the agent acknowledges it";
    ASSERT_TRUE(mailbox.take("mac-5", "cmd-5"));
    EXPECT_EQ(mailbox.nodes_held(), 0u);
}
