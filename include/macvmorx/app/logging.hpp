#pragma once

#include <string>
#include <string_view>

namespace macvmorx::app {

inline constexpr std::string_view log_levels[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};

// Sets up the process-wide logger: UTC timestamps on standard error, at `level`.
void configure_logging(const std::string& level);

} // namespace macvmorx::app
