#include "macvmorx/auth/token.hpp"

#include "macvmorx/base/hex.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <stdexcept>

namespace macvmorx::auth {

std::string_view to_string(Role role) {
    switch (role) {
    case Role::agent: return "agent";
    case Role::ci: return "ci";
    case Role::viewer: return "viewer";
    case Role::admin: return "admin";
    }
    return "viewer";
}

std::optional<Role> parse_role(std::string_view text) {
    for (const Role role : {Role::agent, Role::ci, Role::viewer, Role::admin}) {
        if (text == to_string(role)) return role;
    }
    return std::nullopt;
}

bool matches_pattern(std::string_view pattern, std::string_view text) {
    // Iterative glob with backtracking to the last '*': linear in practice, no recursion.
    std::size_t p = 0, t = 0, star = std::string_view::npos, resume = 0;
    while (t < text.size()) {
        if (p < pattern.size() && pattern[p] == '*') {
            star = p++;
            resume = t;
        } else if (p < pattern.size() && pattern[p] == text[t]) {
            ++p;
            ++t;
        } else if (star != std::string_view::npos) {
            p = star + 1;
            t = ++resume;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && pattern[p] == '*') ++p;
    return p == pattern.size();
}

bool Token::may_act_for(std::string_view node_id) const {
    if (node_patterns.empty()) return true;
    return std::any_of(node_patterns.begin(), node_patterns.end(),
                       [node_id](const std::string& pattern) { return matches_pattern(pattern, node_id); });
}

std::string sha256_hex(std::string_view text) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int length = 0;
    if (EVP_Digest(text.data(), text.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1) {
        throw std::runtime_error("OpenSSL could not compute a SHA-256");
    }
    return to_hex(digest.data(), length);
}

std::string generate_token() {
    std::array<unsigned char, 32> random{};
    if (RAND_bytes(random.data(), static_cast<int>(random.size())) != 1) {
        throw std::runtime_error("OpenSSL could not produce random bytes");
    }
    std::array<unsigned char, 48> base64{};
    const int length = EVP_EncodeBlock(base64.data(), random.data(), static_cast<int>(random.size()));
    std::string token = "mvx_";
    for (int i = 0; i < length; ++i) {
        const char c = static_cast<char>(base64[static_cast<std::size_t>(i)]);
        if (c == '=') break;
        token += c == '+' ? '-' : c == '/' ? '_' : c;
    }
    return token;
}

} // namespace macvmorx::auth
