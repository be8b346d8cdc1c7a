#pragma once

#include "macvmorx/config/setting.hpp"

#include <array>

namespace macvmorx::config {

// The logging settings, the same for every command.
inline constexpr auto log_settings = std::to_array<Setting>({
    {"--log-level", "MACVMORX_LOG_LEVEL", "log-level", "info", "",
     "trace, debug (access logs), info, warn, error, critical or off"},
    {"--log-format", "MACVMORX_LOG_FORMAT", "log-format", "text", "",
     "text, or json (one object per line, for log shippers)"},
    {"--log-file", "MACVMORX_LOG_FILE", "log-file", "", "", "Log to this file, rotated by size, instead of standard error"},
    {"--log-file-max-size", "MACVMORX_LOG_FILE_MAX_SIZE", "log-file-max-size", "100MiB", "SIZE",
     "Rotate the log file at this size"},
    {"--log-file-count", "MACVMORX_LOG_FILE_COUNT", "log-file-count", "5", "", "Rotated log files kept"},
});

consteval const Setting& log_setting(std::string_view long_flag) { return find_setting(log_settings, long_flag); }

} // namespace macvmorx::config
