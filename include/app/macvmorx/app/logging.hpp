#pragma once

#include "macvmorx/config/log_config.hpp"

#include <string>
#include <string_view>

namespace macvmorx::app {

inline constexpr std::string_view log_levels[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};

// Sets up the process-wide logger: UTC timestamps, text or JSON lines, on standard error or in a
// rotating file. Throws spdlog::spdlog_ex when the file cannot be opened.
void configure_logging(const config::LogConfig& config);

} // namespace macvmorx::app
