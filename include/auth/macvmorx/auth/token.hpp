#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace macvmorx::auth {

// What a token lets its holder do. Each role's routes are listed in docs/security.md.
//   agent:  heartbeats, its node's commands, its VMs' events
//   ci:     place, read and delete VMs, read jobs (and every other read)
//   viewer: every read and the dashboard
//   admin:  everything, including drain, undrain, labels and forgetting nodes
enum class Role { agent, ci, viewer, admin };

std::string_view to_string(Role role);
std::optional<Role> parse_role(std::string_view text);

// Who holds a token, as the tokens file names them.
struct Token {
    std::string name;
    Role role = Role::viewer;
    // An agent token bound to nodes: node ids or patterns with '*' ("mac-rack2-*"). Empty: any node.
    std::vector<std::string> node_patterns;

    // Whether the holder may report for, and read the commands of, `node_id`.
    bool may_act_for(std::string_view node_id) const;
};

// Whether `text` matches `pattern`, where '*' stands for any run of characters.
bool matches_pattern(std::string_view pattern, std::string_view text);

// The lowercase hex SHA-256 of `text`: what the tokens file keeps instead of the token.
std::string sha256_hex(std::string_view text);

// A new token: "mvx_" and 43 base64url characters of 32 random bytes from OpenSSL's CSPRNG.
std::string generate_token();

} // namespace macvmorx::auth
