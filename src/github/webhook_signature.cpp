#include "macvmorx/github/webhook_signature.hpp"

#include "macvmorx/base/hex.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>

namespace macvmorx::github {

std::string webhook_signature(std::string_view secret, std::string_view body) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int length = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), reinterpret_cast<const unsigned char*>(body.data()),
         body.size(), digest.data(), &length);
    return "sha256=" + to_hex(digest.data(), length);
}

bool signature_matches(std::string_view secret, std::string_view body, std::string_view header) {
    const std::string expected = webhook_signature(secret, body);
    // Lengths are public (always 71 for a well-formed header); the contents are compared in
    // constant time.
    if (header.size() != expected.size()) return false;
    return CRYPTO_memcmp(expected.data(), header.data(), expected.size()) == 0;
}

} // namespace macvmorx::github
