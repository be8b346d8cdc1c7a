// The agent's and the simulator's options against the docs' tables. Their flags, variables and
// defaults stand once, in the command line the CLI builds (defaults taken from the options'
// structs); docs/agent.md and README's simulate table must say the same.
#include "cli/agent_options.hpp"
#include "cli/simulate_options.hpp"

#include "macvmorx/config/log_config.hpp"

#include "markdown_table.hpp"

#include <CLI/CLI.hpp>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

using macvmorx::testing::cells;
using macvmorx::testing::joined;
using macvmorx::testing::literal_defaults;
using macvmorx::testing::quoted;

namespace {

// `~/` as the daemon's user sees it.
std::string expand_home(const std::string& text) {
    const char* home = std::getenv("HOME");
    return text.starts_with("~/") && home != nullptr ? std::string{home} + text.substr(1) : text;
}

// Compares each row of the tables under `header` in `path` with the command's options: each
// flag must be an option, with the variable the row names (when the table has that column) and
// the default it writes as a value. Returns one line per difference, naming the row.
std::vector<std::string> differences(const std::string& path, const std::string& header, const CLI::App& command,
                                     int& flags_checked) {
    std::ifstream file(path);
    EXPECT_TRUE(file) << "cannot read " << path;
    const auto columns = cells(header);
    const auto column = [&](const std::string& name) {
        for (std::size_t i = 0; i < columns.size(); ++i) {
            if (columns[i] == name) return static_cast<int>(i);
        }
        return -1;
    };
    const int environment = column("Environment");
    const int default_column = column("Default");
    std::vector<std::string> found;
    bool in_table = false;
    for (std::string line; std::getline(file, line);) {
        if (line == header) {
            in_table = true;
            continue;
        }
        if (!line.starts_with("|")) in_table = false;
        if (!in_table || line.starts_with("|---")) continue;
        const auto row = cells(line);
        if (row.size() < columns.size()) {
            found.push_back(path + ": row '" + line + "' has fewer cells than its header");
            continue;
        }
        // "As for the server": the log options, checked with the server's table.
        if (environment >= 0 && row[static_cast<std::size_t>(environment)].empty()) continue;
        std::vector<std::string> flags;
        for (const auto& part : quoted(row[0])) {
            const auto flag = part.substr(0, part.find(' ')); // `--image NAME[:GB[:WEIGHT]]`
            if (flag.starts_with("--")) flags.push_back(flag);
        }
        const auto variables = environment >= 0 ? quoted(row[static_cast<std::size_t>(environment)])
                                                : std::vector<std::string>{};
        const auto defaults = literal_defaults(row[static_cast<std::size_t>(default_column)]);
        const std::string where = path + ": row " + row[0] + ": ";
        for (std::size_t i = 0; i < flags.size(); ++i) {
            const CLI::Option* option = nullptr;
            try {
                option = command.get_option(flags[i]);
            } catch (const CLI::OptionNotFound&) {
                found.push_back(where + flags[i] + " is no option of `macvmorx " + command.get_name() + "`");
                continue;
            }
            ++flags_checked;
            if (environment >= 0) {
                const std::string variable = i < variables.size() ? variables[i] : "";
                if (variable != option->get_envname()) {
                    found.push_back(where + flags[i] + ": variable '" + variable + "', the option's is '" +
                                    option->get_envname() + "'");
                }
            }
            if (!defaults.empty()) {
                const std::string literal = expand_home(defaults[std::min(i, defaults.size() - 1)]);
                if (literal != option->get_default_str()) {
                    found.push_back(where + flags[i] + ": default '" + literal + "', the option's is '" +
                                    option->get_default_str() + "'");
                }
            }
        }
    }
    return found;
}

} // namespace

TEST(OptionsDocs, TheAgentGuideSaysWhatTheAgentsOptionsAre) {
    CLI::App app;
    auto* agent = app.add_subcommand("agent");
    macvmorx::app::AgentCommandOptions options;
    macvmorx::cli::AgentText text;
    macvmorx::config::LogConfig log;
    macvmorx::cli::add_agent_options(*agent, options, text, log);
    int flags_checked = 0;
    const auto found = differences(MACVMORX_SOURCE_DIR "/docs/agent.md", "| Flag | Environment | Default | Meaning |",
                                   *agent, flags_checked);
    EXPECT_TRUE(found.empty()) << joined(found);
    EXPECT_GE(flags_checked, 20) << "docs/agent.md's table of flags was not found whole";
    // Defaults the options' structs hold, not a second copy in the command line's text.
    EXPECT_EQ(agent->get_option("--heartbeat-interval")->get_default_str(), "5s");
    EXPECT_EQ(agent->get_option("--server")->get_default_str(), "http://127.0.0.1:8080");
}

TEST(OptionsDocs, TheReadmeSaysWhatTheSimulatorsOptionsAre) {
    CLI::App app;
    auto* simulate = app.add_subcommand("simulate");
    macvmorx::sim::SimulationOptions options;
    macvmorx::cli::SimulateText text;
    macvmorx::config::LogConfig log;
    macvmorx::cli::add_simulate_options(*simulate, options, text, log);
    int flags_checked = 0;
    const auto found =
        differences(MACVMORX_SOURCE_DIR "/README.md", "| Option | Default | Meaning |", *simulate, flags_checked);
    EXPECT_TRUE(found.empty()) << joined(found);
    EXPECT_GE(flags_checked, 15) << "README's table of the simulator's options was not found whole";
}
