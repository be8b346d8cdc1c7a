#include "macvmorx/api/peer_grants.hpp"

#include "macvmorx/jwt/rs256.hpp"

#include <nlohmann/json.hpp>

#include <random>

namespace macvmorx::api {

PeerGrants::PeerGrants() {
    auto key = jwt::generate_rsa_key();
    private_key_pem_ = std::move(key.private_pem);
    public_key_pem_ = std::move(key.public_pem);
    // A new id for each key, so that an agent holding an older key knows to ask again.
    std::random_device random;
    static constexpr char hex[] = "0123456789abcdef";
    for (int i = 0; i < 16; ++i) key_id_ += hex[random() & 15];
}

std::string PeerGrants::grant(std::string_view node_id, std::string_view image, TimePoint now) const {
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    const nlohmann::ordered_json claims{{"iss", "macvmorx"},
                                        {"sub", node_id},
                                        {"image", image},
                                        {"iat", seconds},
                                        {"exp", seconds + std::chrono::duration_cast<std::chrono::seconds>(lifetime).count()}};
    return jwt::sign_rs256(claims.dump(), private_key_pem_, key_id_);
}

} // namespace macvmorx::api
