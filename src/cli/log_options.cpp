#include "log_options.hpp"

#include "setting_option.hpp"

#include "macvmorx/app/logging.hpp"
#include "macvmorx/base/byte_size.hpp"

#include <CLI/CLI.hpp>

namespace macvmorx::cli {

void add_log_options(CLI::App& command, config::LogConfig& log, LogText& text) {
    using config::log_setting;
    add_setting(command, log_setting("--log-level"), log.level)
        ->check(CLI::IsMember(std::vector<std::string>(std::begin(app::log_levels), std::end(app::log_levels))));
    add_setting(command, log_setting("--log-format"), log.format)->check(CLI::IsMember({"text", "json"}));
    add_setting(command, log_setting("--log-file"), log.file);
    add_setting(command, log_setting("--log-file-max-size"), text.file_max_size);
    add_setting(command, log_setting("--log-file-count"), log.file_count)->check(CLI::Range(1, 1000));
}

void apply_log_text(config::LogConfig& log, const LogText& text) {
    log.file_max_bytes = static_cast<std::size_t>(*parse_byte_size(text.file_max_size));
}

} // namespace macvmorx::cli
