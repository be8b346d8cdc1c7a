#pragma once

#include "log_options.hpp"

#include "macvmorx/app/agent_command.hpp"
#include "macvmorx/config/log_config.hpp"

#include <optional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace macvmorx::cli {

// The raw text of the agent's settings that need our own parsing. Their defaults are the
// options' own, written out by add_agent_options.
struct AgentText {
    std::string config_file; // read before parsing, by merge_settings_file
    std::string server;
    std::string heartbeat_interval;
    std::string boot_timeout;
    std::vector<std::string> labels; // KEY=VALUE
    std::string peer_listen;         // ADDRESS:PORT; empty: no peers
    LogText log;
};

// The options of `macvmorx agent`.
void add_agent_options(CLI::App& command, app::AgentCommandOptions& options, AgentText& text, config::LogConfig& log);

// Turns the validated text into options; returns what is wrong with them, if anything.
std::optional<std::string> apply_agent_text(app::AgentCommandOptions& options, config::LogConfig& log,
                                            const AgentText& text);

} // namespace macvmorx::cli
