#pragma once

#include "macvmorx/base/clock.hpp"
#include "macvmorx/lifecycle/vm_lifecycle.hpp"
#include "macvmorx/protocol/command.hpp"

#include <cstddef>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace macvmorx::lifecycle {

// The commands waiting for each node's agent, and the agents' long polls waiting for commands.
//
// A command stays in its node's mailbox until the agent acknowledges it (take) or the lifecycle
// withdraws it (withdraw, drop): every heartbeat and poll delivers it again, and the first
// delivery stamps its delivered_at. A long poll waits until a command is posted for its node,
// its deadline passes, its client is gone, or the mailbox is released (shutdown).
//
// Not locked: the lifecycle's mutex guards it. Nothing here calls a reply: answers are appended
// to `replies`, to be run once the caller has released its lock.
class CommandMailbox {
public:
    using Replies = std::vector<std::function<void()>>;

    CommandMailbox(const Clock& clock, std::size_t max_waiters_per_node);

    // Adds a command for the node; its waiting polls are answered with all its commands.
    void post(const std::string& node_id, protocol::Command command, Replies& replies);
    // `vm_id` below is what a command is about: its VM, or for pullImage the image.
    // Whether a command of `type` about `vm_id` waits for the node; _undelivered: one no agent
    // was sent yet.
    bool holds(const std::string& node_id, protocol::CommandType type, std::string_view vm_id) const;
    bool holds_undelivered(const std::string& node_id, protocol::CommandType type, std::string_view vm_id) const;
    // Takes back the first command of `type` about `vm_id`, if the node has one.
    std::optional<protocol::Command> withdraw(const std::string& node_id, protocol::CommandType type,
                                              std::string_view vm_id);
    // Removes every command of `type` about `vm_id`.
    void drop(const std::string& node_id, std::string_view vm_id, protocol::CommandType type);
    // The node's commands, each stamped delivered (the first time); they stay until taken.
    std::vector<protocol::Command> deliver(const std::string& node_id);
    // Removes the command the agent acknowledged; nullopt if the node has no such command.
    std::optional<protocol::Command> take(const std::string& node_id, std::string_view command_id);
    // No commands and no polls waiting: a heartbeat has nothing to collect.
    bool idle(const std::string& node_id) const;

    // A long poll: answered now with the node's commands if it has any (or the deadline has
    // passed, or the mailbox is released), else kept until `deadline`. Keeping it first answers,
    // with nothing, the node's polls whose client is gone, and the oldest one when the node
    // already has max_waiters_per_node (at least one).
    void wait(const std::string& node_id, TimePoint deadline, CommandsReply reply, std::function<bool()> abandoned,
              Replies& replies);
    // Answers, with nothing, the polls whose deadline has passed or whose client is gone.
    void expire(Replies& replies);
    // Answers every poll with its node's commands; later polls are answered at once.
    void release(Replies& replies);
    // Answers the node's polls with nothing and forgets its commands.
    void forget(const std::string& node_id, Replies& replies);

    // The nodes for which something waits, commands or polls: what the mailbox costs in memory.
    std::size_t nodes_held() const { return boxes_.size(); }

private:
    struct Waiter {
        TimePoint deadline;
        CommandsReply reply;
        std::function<bool()> abandoned; // empty: never
        bool gone() const { return abandoned && abandoned(); }
    };
    struct Box {
        std::vector<protocol::Command> commands;
        std::vector<Waiter> waiters;
    };

    const Box* find(const std::string& node_id) const;
    std::vector<protocol::Command> deliver(Box& box);
    // Removes a box that holds neither commands nor polls.
    void erase_if_empty(std::unordered_map<std::string, Box>::iterator box);

    const Clock& clock_;
    const std::size_t max_waiters_per_node_;
    std::unordered_map<std::string, Box> boxes_;
    std::set<std::string> nodes_with_waiters_;
    bool releasing_ = false;
};

} // namespace macvmorx::lifecycle
