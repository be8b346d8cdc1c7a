#include "setting_sources.hpp"

#include "macvmorx/config/actions_config.hpp"
#include "macvmorx/config/server_settings.hpp"
#include "macvmorx/config/settings_file.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdlib>

namespace macvmorx::cli {

std::string name_the_variable(const CLI::App& command, const std::vector<std::string>& arguments,
                              std::string message) {
    for (const CLI::Option* option : command.get_options()) {
        const std::string& variable = option->get_envname();
        if (variable.empty() || std::getenv(variable.c_str()) == nullptr) continue;
        if (!message.starts_with(option->get_name() + ":")) continue;
        const bool given_as_flag = std::any_of(arguments.begin(), arguments.end(), [option](const std::string& arg) {
            const std::string flag = arg.substr(0, arg.find('='));
            return flag.starts_with("-") && option->check_name(flag);
        });
        if (!given_as_flag) message.insert(option->get_name().size(), " (from " + variable + ")");
    }
    return message;
}

std::string config_file_argument(const std::vector<std::string>& arguments, const char* variable) {
    for (std::size_t i = 0; i < arguments.size(); ++i) {
        if (arguments[i] == "--config" && i + 1 < arguments.size()) return arguments[i + 1];
        if (arguments[i].starts_with("--config=")) return arguments[i].substr(9);
    }
    const char* value = std::getenv(variable);
    return value == nullptr ? std::string{} : std::string{value};
}

std::optional<std::string> merge_settings_file(const CLI::App& command, const std::string& path,
                                               std::vector<std::string>& arguments, bool skip_tables) {
    if (path.empty()) return std::nullopt;
    std::vector<std::pair<std::string, std::string>> settings;
    try {
        settings = config::read_settings_file(path, skip_tables);
    } catch (const config::ConfigError& error) {
        return std::string{"--config: "} + error.what();
    }
    const std::vector<std::string> given = arguments;
    for (const auto& [key, value] : settings) {
        const CLI::Option* option = command.get_option_no_throw("--" + key);
        if (option == nullptr || key == "config" || key == "help") {
            return "--config: " + path + ": '" + key + "' is not a setting of `macvmorx " + command.get_name() + "`";
        }
        const bool as_flag = std::any_of(given.begin(), given.end(), [option](const std::string& arg) {
            const std::string flag = arg.substr(0, arg.find('='));
            return flag.starts_with("-") && option->check_name(flag);
        });
        const auto& variable = option->get_envname();
        const bool as_variable = !variable.empty() && std::getenv(variable.c_str()) != nullptr;
        if (as_flag || as_variable) continue;
        if (option->get_type_size() == 0) { // a flag without a value
            if (value == "true") arguments.push_back("--" + key);
            continue;
        }
        arguments.push_back("--" + key);
        arguments.push_back(value);
    }
    return std::nullopt;
}

std::string default_orchestrator_url() {
    return "http://127.0.0.1:" + std::string{config::find_setting(config::server_settings, "--port").default_text};
}

} // namespace macvmorx::cli
