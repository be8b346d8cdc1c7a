#pragma once

#include "macvmorx/base/clock.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace macvmorx::github {

// The JSON Web Token a GitHub App authenticates with: RS256 over {"iat", "exp", "iss": app id},
// issued a minute in the past (clock drift) and valid for 9 minutes (GitHub allows 10).
// Throws std::runtime_error when the key is not an RSA private key in PEM.
std::string app_jwt(std::int64_t app_id, std::string_view private_key_pem, TimePoint now);

} // namespace macvmorx::github
