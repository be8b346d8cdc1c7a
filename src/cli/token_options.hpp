#pragma once

#include "macvmorx/auth/token.hpp"

#include <optional>
#include <string>

namespace CLI {
class App;
}

namespace macvmorx::cli {

// The raw text of `token create`'s options that need our own parsing.
struct TokenText {
    std::string role;
    std::string nodes; // comma-separated node ids and patterns
};

// `macvmorx token` and its subcommand `create`, which it returns.
CLI::App* add_token_command(CLI::App& app, auth::Token& token, TokenText& text);

// Turns the validated text into the token's role and node patterns; returns what is wrong with
// them, if anything.
std::optional<std::string> apply_token_text(auth::Token& token, const TokenText& text);

} // namespace macvmorx::cli
