#pragma once

#include <optional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

// Where a setting came from besides a flag: its environment variable, or a settings file.
namespace macvmorx::cli {

// Where agents and simulated Macs report when told nothing: this host, on the server's default
// port (the --port row of config/server_settings.hpp).
std::string default_orchestrator_url();

// When a refused value came from an environment variable rather than a flag, names the
// variable in the message: the operator may not know it is set.
std::string name_the_variable(const CLI::App& command, const std::vector<std::string>& arguments,
                              std::string message);

// The value of `--config` among the subcommand's arguments, or of its environment variable.
std::string config_file_argument(const std::vector<std::string>& arguments, const char* variable);

// Turns a settings file into flags for the settings given neither as flags nor as variables,
// so that flags beat variables, which beat the file, which beats defaults (CLI11's own config
// files would beat variables). With `skip_tables`, the file's tables are another reader's (the
// server's [github] and [[pools]]). Returns an error naming the file and the key.
std::optional<std::string> merge_settings_file(const CLI::App& command, const std::string& path,
                                               std::vector<std::string>& arguments, bool skip_tables = false);

} // namespace macvmorx::cli
