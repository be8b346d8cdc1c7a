#pragma once

// The grants with which Macs fetch bucket images from each other (docs/agent-protocol.md,
// "Peers"): a JWT the daemon signs (RS256) for one node and one image, which a serving agent
// checks with the daemon's public key. The key pair is made when the daemon starts and never
// leaves it; an agent that meets a grant of an unknown key asks for the key again.

#include "macvmorx/base/clock.hpp"

#include <string>
#include <string_view>

namespace macvmorx::api {

class PeerGrants {
public:
    // Long enough for a 60 GB download over a slow LAN, as the agent's pull may take.
    static constexpr Duration lifetime = std::chrono::hours{2};

    PeerGrants(); // makes the key pair (tens of milliseconds)

    // {"iss": "macvmorx", "sub": node, "image": image, "iat", "exp"}, signed, with the key's id.
    std::string grant(std::string_view node_id, std::string_view image, TimePoint now) const;
    const std::string& key_id() const { return key_id_; }
    const std::string& public_key_pem() const { return public_key_pem_; }

private:
    std::string key_id_;
    std::string private_key_pem_;
    std::string public_key_pem_;
};

} // namespace macvmorx::api
