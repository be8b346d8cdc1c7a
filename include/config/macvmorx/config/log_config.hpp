#pragma once

#include "macvmorx/config/log_settings.hpp"

#include <cstddef>
#include <string>

namespace macvmorx::config {

// How a macvmorx command logs. The defaults are those of log_settings.
struct LogConfig {
    std::string level{log_setting("--log-level").default_text};
    std::string format{log_setting("--log-format").default_text}; // "text" for people, "json" for log shippers
    std::string file;                                              // empty: standard error
    // A file is rotated when it reaches this size.
    std::size_t file_max_bytes = setting_default::byte_size(log_setting("--log-file-max-size"));
    std::size_t file_count = setting_default::number<std::size_t>(log_setting("--log-file-count")); // rotated files kept
};

} // namespace macvmorx::config
