#pragma once

#include "macvmorx/base/clock.hpp"
#include "macvmorx/protocol/heartbeat.hpp"
#include "macvmorx/protocol/command.hpp"
#include "macvmorx/protocol/vm_event.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace macvmorx::agent {

// How a call to the orchestrator went.
struct LinkResult {
    int status = 0;    // the HTTP status, 0 when there was no answer
    std::string error; // what went wrong, for the log

    bool ok() const { return status >= 200 && status < 300; }
    // Worth trying again later: no answer, a server error, or too many requests.
    bool retryable() const { return status == 0 || status >= 500 || status == 429; }
};

// The agent's side of docs/agent-protocol.md: heartbeats, long polls, acknowledgements and
// progress events. HttpOrchestratorLink speaks it over HTTP; tests give the agent a link of
// their own, so that it runs without sockets.
//
// Threading: every callback runs on the agent's io_context, never inside the call that started it.
class OrchestratorLink {
public:
    using CommandsReply = std::function<void(LinkResult, std::vector<protocol::Command>)>;
    using Reply = std::function<void(LinkResult)>;

    virtual ~OrchestratorLink() = default;

    virtual void heartbeat(const protocol::Heartbeat& heartbeat, CommandsReply done) = 0;
    virtual void poll_commands(const std::string& node_id, Duration wait, CommandsReply done) = 0;
    virtual void acknowledge(const std::string& node_id, const std::string& command_id, Reply done) = 0;
    virtual void report(const std::string& vm_id, const protocol::VmEvent& event, Reply done) = 0;

    // Where the orchestrator is, for the log.
    virtual std::string destination() const = 0;
};

} // namespace macvmorx::agent
