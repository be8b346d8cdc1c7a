#include "command_mailbox.hpp"

#include <algorithm>
#include <iterator>

namespace macvmorx::lifecycle {
namespace {

// What a command is about: its VM, or the image a pullImage fetches.
std::string_view subject(const protocol::Command& command) {
    return command.type == protocol::CommandType::pull_image ? std::string_view{command.image_name}
                                                             : std::string_view{command.vm_id};
}

} // namespace

using protocol::Command;
using protocol::CommandType;

CommandMailbox::CommandMailbox(const Clock& clock, std::size_t max_waiters_per_node)
    : clock_{clock}, max_waiters_per_node_{std::max<std::size_t>(max_waiters_per_node, 1)} {}

const CommandMailbox::Box* CommandMailbox::find(const std::string& node_id) const {
    const auto it = boxes_.find(node_id);
    return it == boxes_.end() ? nullptr : &it->second;
}

void CommandMailbox::erase_if_empty(std::unordered_map<std::string, Box>::iterator box) {
    // Most nodes have nothing waiting most of the time: an empty box would cost each node a map
    // entry for good.
    if (box->second.commands.empty() && box->second.waiters.empty()) boxes_.erase(box);
}

std::vector<Command> CommandMailbox::deliver(Box& box) {
    const TimePoint now = clock_.now();
    for (auto& command : box.commands) {
        if (!command.delivered_at) command.delivered_at = now;
    }
    return box.commands;
}

std::vector<Command> CommandMailbox::deliver(const std::string& node_id) {
    const auto it = boxes_.find(node_id);
    return it == boxes_.end() ? std::vector<Command>{} : deliver(it->second);
}

void CommandMailbox::post(const std::string& node_id, Command command, Replies& replies) {
    Box& box = boxes_[node_id];
    box.commands.push_back(std::move(command));
    if (box.waiters.empty()) return;
    auto commands = deliver(box);
    for (auto& waiter : box.waiters) {
        replies.push_back([reply = std::move(waiter.reply), commands] { reply(commands); });
    }
    box.waiters.clear();
}

bool CommandMailbox::holds(const std::string& node_id, CommandType type, std::string_view vm_id) const {
    const Box* box = find(node_id);
    return box != nullptr && std::any_of(box->commands.begin(), box->commands.end(), [&](const Command& c) {
               return c.type == type && subject(c) == vm_id;
           });
}

bool CommandMailbox::holds_undelivered(const std::string& node_id, CommandType type, std::string_view vm_id) const {
    const Box* box = find(node_id);
    return box != nullptr && std::any_of(box->commands.begin(), box->commands.end(), [&](const Command& c) {
               return c.type == type && subject(c) == vm_id && !c.delivered_at;
           });
}

std::optional<Command> CommandMailbox::withdraw(const std::string& node_id, CommandType type, std::string_view vm_id) {
    const auto box = boxes_.find(node_id);
    if (box == boxes_.end()) return std::nullopt;
    auto& commands = box->second.commands;
    const auto it = std::find_if(commands.begin(), commands.end(),
                                 [&](const Command& c) { return c.type == type && subject(c) == vm_id; });
    if (it == commands.end()) return std::nullopt;
    Command command = std::move(*it);
    commands.erase(it);
    erase_if_empty(box);
    return command;
}

void CommandMailbox::drop(const std::string& node_id, std::string_view vm_id, CommandType type) {
    const auto box = boxes_.find(node_id);
    if (box == boxes_.end()) return;
    std::erase_if(box->second.commands, [&](const Command& c) { return c.type == type && subject(c) == vm_id; });
    erase_if_empty(box);
}

std::optional<Command> CommandMailbox::take(const std::string& node_id, std::string_view command_id) {
    const auto box = boxes_.find(node_id);
    if (box == boxes_.end()) return std::nullopt;
    auto& commands = box->second.commands;
    const auto it =
        std::find_if(commands.begin(), commands.end(), [command_id](const Command& c) { return c.id == command_id; });
    if (it == commands.end()) return std::nullopt;
    Command command = std::move(*it);
    commands.erase(it);
    erase_if_empty(box);
    return command;
}

bool CommandMailbox::idle(const std::string& node_id) const {
    const Box* box = find(node_id);
    return box == nullptr || (box->commands.empty() && box->waiters.empty());
}

void CommandMailbox::wait(const std::string& node_id, TimePoint deadline, CommandsReply reply,
                          std::function<bool()> abandoned, Replies& replies) {
    const auto found = boxes_.find(node_id);
    const bool has_commands = found != boxes_.end() && !found->second.commands.empty();
    if (has_commands || releasing_ || deadline <= clock_.now()) {
        replies.push_back([reply = std::move(reply), commands = deliver(node_id)]() mutable { reply(std::move(commands)); });
        return;
    }
    Box& box = found != boxes_.end() ? found->second : boxes_[node_id];
    for (auto it = box.waiters.begin(); it != box.waiters.end();) {
        if (!it->gone()) {
            ++it;
            continue;
        }
        replies.push_back([reply = std::move(it->reply)] { reply({}); });
        it = box.waiters.erase(it);
    }
    if (box.waiters.size() >= max_waiters_per_node_) {
        replies.push_back([reply = std::move(box.waiters.front().reply)] { reply({}); });
        box.waiters.erase(box.waiters.begin());
    }
    box.waiters.push_back({deadline, std::move(reply), std::move(abandoned)});
    nodes_with_waiters_.insert(node_id);
    clock_.expect_wake_up(deadline);
}

void CommandMailbox::expire(Replies& replies) {
    const TimePoint now = clock_.now();
    for (auto it = nodes_with_waiters_.begin(); it != nodes_with_waiters_.end();) {
        const auto box = boxes_.find(*it);
        if (box == boxes_.end()) {
            it = nodes_with_waiters_.erase(it);
            continue;
        }
        auto& waiters = box->second.waiters;
        for (auto waiter = waiters.begin(); waiter != waiters.end();) {
            if (waiter->deadline > now && !waiter->gone()) {
                ++waiter;
                continue;
            }
            replies.push_back([reply = std::move(waiter->reply)] { reply({}); });
            waiter = waiters.erase(waiter);
        }
        if (!waiters.empty()) {
            ++it;
            continue;
        }
        it = nodes_with_waiters_.erase(it);
        erase_if_empty(box);
    }
}

void CommandMailbox::release(Replies& replies) {
    releasing_ = true;
    for (const auto& node_id : nodes_with_waiters_) {
        Box& box = boxes_[node_id];
        auto commands = deliver(box);
        for (auto& waiter : box.waiters) {
            replies.push_back([reply = std::move(waiter.reply), commands] { reply(commands); });
        }
        box.waiters.clear();
    }
    nodes_with_waiters_.clear();
}

void CommandMailbox::forget(const std::string& node_id, Replies& replies) {
    if (const auto box = boxes_.find(node_id); box != boxes_.end()) {
        for (auto& waiter : box->second.waiters) {
            replies.push_back([reply = std::move(waiter.reply)] { reply({}); });
        }
        boxes_.erase(box);
    }
    nodes_with_waiters_.erase(node_id);
}

} // namespace macvmorx::lifecycle
