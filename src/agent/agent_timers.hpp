#pragma once

// The agent's timers, shared by its start (recovery) and its talk with the orchestrator.

#include "macvmorx/agent/agent.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

namespace macvmorx::agent {

struct Agent::Timers {
    explicit Timers(boost::asio::io_context& ioc) : heartbeat{ioc}, poll{ioc}, inventory{ioc} {}
    boost::asio::steady_timer heartbeat;
    boost::asio::steady_timer poll;
    boost::asio::steady_timer inventory;
};

} // namespace macvmorx::agent
