#pragma once

#include "macvmorx/auth/token.hpp"

#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>

namespace macvmorx::auth {

class TokenFileError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The tokens a daemon accepts, kept only as SHA-256 hashes, from the tokens file. One line per
// token, '#' starts a comment:
//
//   sha256:<64 hex digits> <role> <name> [nodes=<id or pattern>[,...]]
//
// Lookup is by the hash of the presented token; the final comparison is constant-time. Timing
// can tell an attacker at most how much of a hash matched, which says nothing about a token.
//
// Threading: immutable after construction; `find` is safe from any thread.
class TokenTable {
public:
    // Throws TokenFileError naming the line of the first mistake.
    static TokenTable parse(std::string_view text);
    static TokenTable load(const std::filesystem::path& path);

    // The holder of `presented`, or null when no line has its hash.
    const Token* find(std::string_view presented) const;
    std::size_t size() const { return by_digest_.size(); }

private:
    std::unordered_map<std::string, Token> by_digest_; // key: lowercase hex SHA-256
};

// The tokens file line for a token whose SHA-256 is `digest_hex`.
std::string token_file_line(std::string_view digest_hex, const Token& token);

} // namespace macvmorx::auth
