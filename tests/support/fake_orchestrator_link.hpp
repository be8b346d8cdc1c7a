#pragma once

// An orchestrator in process: records what the agent sends and hands it the commands a test
// gives, with no socket. Answers are posted to the io_context, as the HTTP link's are.

#include "macvmorx/agent/orchestrator_link.hpp"
#include "macvmorx/protocol/vm_state.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <string>
#include <utility>
#include <vector>

namespace macvmorx::testing {

class FakeOrchestratorLink final : public agent::OrchestratorLink {
public:
    struct Event {
        std::string vm_id;
        protocol::VmEvent event;
    };

    explicit FakeOrchestratorLink(boost::asio::io_context& ioc) : ioc_{ioc} {}

    // Commands for the agent: answer its waiting long poll, else its next poll or heartbeat.
    void give(std::vector<protocol::Command> commands) {
        for (auto& command : commands) queued_.push_back(std::move(command));
        if (waiting_poll_) answer(std::exchange(waiting_poll_, nullptr));
    }

    void heartbeat(const protocol::Heartbeat& heartbeat, CommandsReply done) override {
        heartbeats.push_back(heartbeat);
        said.push_back("heartbeat");
        answer(std::move(done));
    }
    void poll_commands(const std::string&, Duration, CommandsReply done) override {
        ++polls;
        if (queued_.empty()) {
            waiting_poll_ = std::move(done); // a long poll: answered when the test gives commands
            return;
        }
        answer(std::move(done));
    }
    void acknowledge(const std::string&, const std::string& command_id, Reply done) override {
        acknowledged.push_back(command_id);
        said.push_back("ack " + command_id);
        boost::asio::post(ioc_, [done = std::move(done)] { done({200, {}}); });
    }
    void report(const std::string& vm_id, const protocol::VmEvent& event, Reply done) override {
        events.push_back({vm_id, event});
        said.push_back("event " + vm_id + " " + std::string(protocol::to_string(event.state)));
        boost::asio::post(ioc_, [done = std::move(done)] { done({200, {}}); });
    }
    std::string destination() const override { return "in-process orchestrator"; }

    // The events on one VM in the state given.
    std::vector<protocol::VmEvent> events_of(const std::string& vm_id, protocol::VmState state) const {
        std::vector<protocol::VmEvent> found;
        for (const auto& [id, event] : events) {
            if (id == vm_id && event.state == state) found.push_back(event);
        }
        return found;
    }

    std::vector<protocol::Heartbeat> heartbeats;
    std::vector<std::string> acknowledged;
    std::vector<Event> events;
    std::vector<std::string> said; // everything in order: "heartbeat", "ack <id>", "event <vm> <state>"
    int polls = 0;

private:
    void answer(CommandsReply done) {
        boost::asio::post(ioc_, [done = std::move(done), commands = std::exchange(queued_, {})]() mutable {
            done({200, {}}, std::move(commands));
        });
    }

    boost::asio::io_context& ioc_;
    std::vector<protocol::Command> queued_;
    CommandsReply waiting_poll_;
};

} // namespace macvmorx::testing
