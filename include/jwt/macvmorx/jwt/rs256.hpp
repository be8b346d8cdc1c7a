#pragma once

// JSON Web Tokens signed with RS256 (RFC 7515, 7518 §3.3), as two services take them from
// macvmorx: GitHub, from a GitHub App (github/app_jwt.hpp), and Google's OAuth 2.0 token
// endpoint, from a service account (object_store/google_tokens.hpp).

#include <optional>
#include <string>
#include <string_view>

namespace macvmorx::jwt {

// base64url without padding, as JWTs use it (RFC 7515 §2).
std::string base64url(std::string_view bytes);

// header.claims.signature: the header {"alg":"RS256","typ":"JWT"} (with "kid" when `key_id` is
// given), `claims_json` as it is, signed with the RSA private key in `private_key_pem`.
// Throws std::runtime_error when the key is not an RSA private key in PEM.
std::string sign_rs256(std::string_view claims_json, std::string_view private_key_pem, std::string_view key_id = {});

// The claims (JSON text) of `token` when it is header.claims.signature with an RS256 header and a
// signature by the key whose public half is `public_key_pem`; nullopt for anything else
// (malformed, another algorithm, another key, a claims part that is not base64url). The claims'
// meaning (expiry, audience) is the caller's to check.
std::optional<std::string> verified_rs256_claims(std::string_view token, std::string_view public_key_pem);

struct RsaKeyPair {
    std::string private_pem; // PKCS #8
    std::string public_pem;  // SubjectPublicKeyInfo
};

// A new RSA key pair (2048 bits), for a process that signs tokens of its own.
RsaKeyPair generate_rsa_key();

} // namespace macvmorx::jwt
