#pragma once

// JSON Web Tokens signed with RS256 (RFC 7515, 7518 §3.3), as two services take them from
// macvmorx: GitHub, from a GitHub App (github/app_jwt.hpp), and Google's OAuth 2.0 token
// endpoint, from a service account (object_store/google_tokens.hpp).

#include <string>
#include <string_view>

namespace macvmorx::jwt {

// base64url without padding, as JWTs use it (RFC 7515 §2).
std::string base64url(std::string_view bytes);

// header.claims.signature: the header {"alg":"RS256","typ":"JWT"} (with "kid" when `key_id` is
// given), `claims_json` as it is, signed with the RSA private key in `private_key_pem`.
// Throws std::runtime_error when the key is not an RSA private key in PEM.
std::string sign_rs256(std::string_view claims_json, std::string_view private_key_pem, std::string_view key_id = {});

} // namespace macvmorx::jwt
