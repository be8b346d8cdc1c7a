#include "macvmorx/auth/token_table.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace macvmorx::auth {
namespace {

bool is_hex_digest(std::string_view text) {
    return text.size() == 64 &&
           std::all_of(text.begin(), text.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::vector<std::string> split_list(std::string_view text) {
    std::vector<std::string> items;
    std::size_t start = 0;
    while (start <= text.size()) {
        const auto comma = text.find(',', start);
        const auto end = comma == std::string_view::npos ? text.size() : comma;
        if (end > start) items.emplace_back(text.substr(start, end - start));
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
    return items;
}

} // namespace

TokenTable TokenTable::parse(std::string_view text) {
    TokenTable table;
    std::istringstream lines{std::string{text}};
    std::string line;
    for (int number = 1; std::getline(lines, line); ++number) {
        if (const auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
        std::istringstream words{line};
        std::string digest, role_text, name, extra;
        if (!(words >> digest)) continue; // blank or comment
        const auto fail = [number](const std::string& why) {
            return TokenFileError{"line " + std::to_string(number) + ": " + why};
        };
        if (!(words >> role_text >> name)) throw fail("expected 'sha256:<hex> <role> <name> [nodes=...]'");
        if (!digest.starts_with("sha256:") || !is_hex_digest(std::string_view{digest}.substr(7))) {
            throw fail("the token must be given as sha256: and 64 lowercase hex digits, never in clear");
        }
        Token token;
        token.name = name;
        const auto role = parse_role(role_text);
        if (!role) throw fail("unknown role '" + role_text + "' (agent, ci, viewer or admin)");
        token.role = *role;
        while (words >> extra) {
            if (!extra.starts_with("nodes=")) throw fail("unknown field '" + extra + "' (only nodes=...)");
            if (token.role != Role::agent) throw fail("only agent tokens are bound to nodes");
            const auto patterns = split_list(std::string_view{extra}.substr(6));
            if (patterns.empty()) throw fail("nodes= needs at least one node id or pattern");
            token.node_patterns.insert(token.node_patterns.end(), patterns.begin(), patterns.end());
        }
        if (!table.by_digest_.emplace(digest.substr(7), std::move(token)).second) {
            throw fail("the same token appears twice");
        }
    }
    return table;
}

TokenTable TokenTable::load(const std::filesystem::path& path) {
    std::ifstream in{path, std::ios::binary};
    if (!in) throw TokenFileError{"cannot read the tokens file " + path.string()};
    std::ostringstream text;
    text << in.rdbuf();
    try {
        return parse(text.str());
    } catch (const TokenFileError& error) {
        throw TokenFileError{path.string() + ", " + error.what()};
    }
}

const Token* TokenTable::find(std::string_view presented) const {
    const std::string digest = sha256_hex(presented);
    const auto it = by_digest_.find(digest);
    if (it == by_digest_.end()) return nullptr;
    // The map already matched; the explicit check is the one that must not leak timing.
    if (CRYPTO_memcmp(it->first.data(), digest.data(), digest.size()) != 0) return nullptr;
    return &it->second;
}

std::string token_file_line(std::string_view digest_hex, const Token& token) {
    std::string line = "sha256:" + std::string{digest_hex} + " " + std::string{to_string(token.role)} + " " + token.name;
    for (std::size_t i = 0; i < token.node_patterns.size(); ++i) {
        line += (i == 0 ? " nodes=" : ",") + token.node_patterns[i];
    }
    return line;
}

} // namespace macvmorx::auth
