#include "token_options.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cctype>

namespace macvmorx::cli {

CLI::App* add_token_command(CLI::App& app, auth::Token& token, TokenText& text) {
    auto* token_command = app.add_subcommand("token", "Manage the API's tokens");
    token_command->require_subcommand(1);
    auto* create = token_command->add_subcommand(
        "create", "Print a new random token once, and the line that adds its hash to the tokens file");
    create->add_option("--role", text.role, "agent, ci, viewer or admin")
        ->required()
        ->check(CLI::IsMember({"agent", "ci", "viewer", "admin"}));
    create->add_option("--name", token.name, "Who holds it, e.g. the Mac's name or the pipeline's")
        ->required()
        ->check([](const std::string& value) {
            const bool plain = !value.empty() && std::none_of(value.begin(), value.end(), [](char c) {
                return c == '#' || std::isspace(static_cast<unsigned char>(c));
            });
            return plain ? std::string{} : "a name has no spaces and no '#'";
        });
    create->add_option("--nodes", text.nodes,
                       "Agent tokens: the node ids it may report for, comma-separated; '*' matches any run "
                       "of characters (default: any node)");
    return create;
}

std::optional<std::string> apply_token_text(auth::Token& token, const TokenText& text) {
    token.role = *auth::parse_role(text.role);
    const std::string& nodes = text.nodes;
    for (std::size_t start = 0; start < nodes.size();) {
        const auto comma = std::min(nodes.find(',', start), nodes.size());
        if (comma > start) token.node_patterns.push_back(nodes.substr(start, comma - start));
        start = comma + 1;
    }
    // The line must read back: no spaces or '#' (a comment) in a pattern.
    if (nodes.find_first_of(" \t#") != std::string::npos) {
        return "--nodes: node ids and patterns have no spaces and no '#'";
    }
    if (!token.node_patterns.empty() && token.role != auth::Role::agent) return "--nodes binds agent tokens only";
    return std::nullopt;
}

} // namespace macvmorx::cli
