#pragma once

#include "macvmorx/config/log_config.hpp"
#include "macvmorx/config/log_settings.hpp"

#include <string>

namespace CLI {
class App;
}

namespace macvmorx::cli {

// The raw text of the log settings that need our own parsing.
struct LogText {
    std::string file_max_size{config::log_setting("--log-file-max-size").default_text};
};

// The logging flags, the same for every command.
void add_log_options(CLI::App& command, config::LogConfig& log, LogText& text);

// Turns the validated text into the log settings.
void apply_log_text(config::LogConfig& log, const LogText& text);

} // namespace macvmorx::cli
