#include "macvmorx/config/settings_file.hpp"

#include "macvmorx/config/actions_config.hpp"

#include <toml++/toml.h>

#include <sstream>

namespace macvmorx::config {
namespace {

std::optional<std::string> scalar_text(const toml::node& node) {
    if (const auto text = node.value<std::string>()) return *text;
    if (node.is_boolean()) return std::string{*node.value<bool>() ? "true" : "false"};
    if (node.is_integer()) return std::to_string(*node.value<std::int64_t>());
    if (node.is_floating_point()) {
        std::ostringstream out;
        out << *node.value<double>();
        return out.str();
    }
    return std::nullopt;
}

} // namespace

std::vector<std::pair<std::string, std::string>> read_settings_file(const std::string& path, bool skip_tables) {
    toml::table table;
    try {
        table = toml::parse_file(path);
    } catch (const toml::parse_error& error) {
        throw ConfigError(path + ":" + std::to_string(error.source().begin.line) + ": " + std::string(error.description()));
    }
    std::vector<std::pair<std::string, std::string>> settings;
    for (const auto& [key, node] : table) {
        const std::string name{key.str()};
        if (skip_tables && (node.is_table() || node.is_array_of_tables())) continue;
        if (const auto* array = node.as_array()) {
            for (const auto& element : *array) {
                const auto text = scalar_text(element);
                if (!text) throw ConfigError(path + ": " + name + ": an array of plain values is expected");
                settings.emplace_back(name, *text);
            }
        } else if (const auto text = scalar_text(node)) {
            settings.emplace_back(name, *text);
        } else {
            throw ConfigError(path + ": " + name + ": a string, number, boolean or array is expected, not a table");
        }
    }
    return settings;
}

} // namespace macvmorx::config
