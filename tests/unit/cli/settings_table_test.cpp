// The tables of settings (config/*_settings.hpp) against the docs' tables and --help: each
// setting's flag, variable and default stand in the code once, and the docs must say the same.
#include "macvmorx/cli/command_line.hpp"
#include "macvmorx/config/log_settings.hpp"
#include "macvmorx/config/server_settings.hpp"

#include "markdown_table.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using macvmorx::config::Setting;
using macvmorx::testing::cells;
using macvmorx::testing::joined;
using macvmorx::testing::literal_defaults;
using macvmorx::testing::quoted;

namespace {

std::vector<const Setting*> server_and_log_settings() {
    std::vector<const Setting*> all;
    for (const auto& setting : macvmorx::config::server_settings) all.push_back(&setting);
    for (const auto& setting : macvmorx::config::log_settings) all.push_back(&setting);
    return all;
}

const Setting* find(const std::vector<const Setting*>& settings, const std::string& long_flag) {
    for (const Setting* setting : settings) {
        if (setting->long_flag() == long_flag) return setting;
    }
    return nullptr;
}

// Compares every row of the file's "| Flag | Environment | Default | Meaning |" tables with the
// settings; returns one line per difference, naming the file and the row.
std::vector<std::string> differences(const std::string& path, const std::vector<const Setting*>& settings,
                                     int& rows_checked) {
    std::ifstream file(path);
    EXPECT_TRUE(file) << "cannot read " << path;
    std::vector<std::string> found;
    bool in_table = false;
    for (std::string line; std::getline(file, line);) {
        if (line.starts_with("| Flag | Environment | Default | Meaning |")) {
            in_table = true;
            continue;
        }
        if (!line.starts_with("|")) in_table = false;
        if (!in_table || line.starts_with("|---")) continue;
        const auto row = cells(line);
        if (row.size() < 3) {
            found.push_back(path + ": row '" + line + "' has fewer than 3 cells");
            continue;
        }
        std::vector<std::string> flags;
        for (const auto& part : quoted(row[0])) {
            if (part.starts_with("--")) flags.push_back(part);
        }
        const auto variables = quoted(row[1]);
        const auto defaults = literal_defaults(row[2]);
        const std::string where = path + ": row " + row[0] + ": ";
        for (std::size_t i = 0; i < flags.size(); ++i) {
            const Setting* setting = find(settings, flags[i]);
            if (setting == nullptr) {
                found.push_back(where + flags[i] + " is no setting of the code's table");
                continue;
            }
            ++rows_checked;
            const std::string variable = i < variables.size() ? variables[i] : "";
            if (variable != setting->env) {
                found.push_back(where + "environment variable '" + variable + "', the code's table says '" +
                                std::string{setting->env} + "'");
            }
            const std::string literal = defaults.empty() ? "" : defaults[std::min(i, defaults.size() - 1)];
            if (literal != setting->default_text) {
                found.push_back(where + "default '" + (literal.empty() ? row[2] : literal) +
                                "', the code's table says '" + std::string{setting->default_text} + "'");
            }
        }
    }
    return found;
}

} // namespace

TEST(SettingsTable, OperationsGuideSaysWhatTheCodeDoes) {
    int rows_checked = 0;
    const auto found = differences(MACVMORX_SOURCE_DIR "/docs/operations.md", server_and_log_settings(), rows_checked);
    EXPECT_TRUE(found.empty()) << joined(found);
    EXPECT_GE(rows_checked, 7); // data-dir, in-memory and the five log settings
}

TEST(SettingsTable, HighAvailabilityGuideSaysWhatTheCodeDoes) {
    int rows_checked = 0;
    const auto found =
        differences(MACVMORX_SOURCE_DIR "/docs/high-availability.md", server_and_log_settings(), rows_checked);
    EXPECT_TRUE(found.empty()) << joined(found);
    EXPECT_EQ(rows_checked, 4); // database-url, advertise-url, lease-duration, database-start-wait
}

TEST(SettingsTable, ReadmeConfigurationSaysWhatTheCodeDoes) {
    int rows_checked = 0;
    const auto found = differences(MACVMORX_SOURCE_DIR "/README.md", server_and_log_settings(), rows_checked);
    EXPECT_TRUE(found.empty()) << joined(found);
    EXPECT_GE(rows_checked, 20);
}

TEST(SettingsTable, NamesStandOnceAndUnitsAreChecked) {
    std::set<std::string> flags;
    std::set<std::string> variables;
    for (const Setting* setting : server_and_log_settings()) {
        const std::string flag{setting->long_flag()};
        EXPECT_TRUE(flag.starts_with("--")) << flag;
        EXPECT_TRUE(flags.insert(flag).second) << flag << " stands twice";
        if (!setting->env.empty()) {
            EXPECT_TRUE(setting->env.starts_with("MACVMORX_")) << flag;
            EXPECT_TRUE(variables.insert(std::string{setting->env}).second) << setting->env << " stands twice";
        }
        const std::set<std::string_view> units{"", "DURATION", "SIZE", "ADDRESS", "URL"};
        EXPECT_TRUE(units.contains(setting->unit)) << flag << ": unit '" << setting->unit << "' has no check";
        EXPECT_FALSE(setting->help.empty()) << flag;
    }
}

TEST(SettingsTable, ServerHelpShowsEveryVariableAndDefaultOfTheTable) {
    const auto parsed = macvmorx::cli::parse_command_line({"server", "--help"});
    ASSERT_EQ(parsed.exit_code, 0);
    for (const Setting* setting : server_and_log_settings()) {
        const std::string flag{setting->long_flag()};
        const auto at = parsed.output.find(flag + " ");
        ASSERT_NE(at, std::string::npos) << flag << " is not in --help:\n" << parsed.output;
        // The option's entry runs to the next option's.
        const std::string entry = parsed.output.substr(at, parsed.output.find("\n  -", at) - at);
        if (!setting->default_text.empty()) {
            // CLI11 writes the default after the type: "--port UINT:INT in [0 - 65535]=8080 (Env:...)".
            EXPECT_NE(entry.find("=" + std::string{setting->default_text} + " "), std::string::npos)
                << flag << " shows no default " << setting->default_text << ":\n" << entry;
        }
        if (!setting->env.empty()) {
            EXPECT_NE(entry.find(std::string{setting->env}), std::string::npos) << flag << ":\n" << entry;
        }
    }
}
