#pragma once

#include "macvmorx/app/agent_command.hpp"
#include "macvmorx/auth/token.hpp"
#include "macvmorx/config/server_config.hpp"
#include "macvmorx/sim/fleet_simulator.hpp"

#include <string>
#include <vector>

namespace macvmorx::cli {

enum class Command { server, simulate, agent, token_create, version, exit };

// The outcome of reading the command line. For `exit` (help, or an error) `output` holds what
// to print and `exit_code` the process status: 0 for help, 2 for a usage error.
struct ParsedCommandLine {
    Command command = Command::exit;
    config::ServerConfig server;
    sim::SimulationOptions simulation;
    app::AgentCommandOptions agent;
    config::LogConfig log; // of commands other than server
    // `token create`: the token's holder; node patterns only for agent tokens.
    auth::Token new_token;
    int exit_code = 0;
    std::string output;
};

// Reads flags, then MACVMORX_* environment variables, then defaults. Never exits the process.
ParsedCommandLine parse_command_line(const std::vector<std::string>& arguments);

// The program: parses and runs the chosen command; returns the process exit status.
int run(int argc, char** argv);

} // namespace macvmorx::cli
