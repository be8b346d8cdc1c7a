#pragma once

#include "option_checks.hpp"

#include "macvmorx/config/setting.hpp"

#include <CLI/CLI.hpp>

#include <string>

namespace macvmorx::cli {

// The option of a setting of a table (config/*_settings.hpp): its flags, help, environment
// variable and the check of its unit come from the table. Its default is the value the option
// writes to, which the table gave it; none is shown for a setting without one.
template <typename Value>
CLI::Option* add_setting(CLI::App& command, const config::Setting& setting, Value& value) {
    auto* option = command.add_option(std::string{setting.flags}, value, std::string{setting.help});
    if (!setting.env.empty()) option->envname(std::string{setting.env});
    if (const CLI::Validator* check = unit_check(setting.unit)) option->check(*check);
    if (!setting.default_text.empty()) option->capture_default_str();
    return option;
}

} // namespace macvmorx::cli
