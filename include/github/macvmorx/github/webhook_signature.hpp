#pragma once

#include <string>
#include <string_view>

namespace macvmorx::github {

// "sha256=" and the hex HMAC-SHA256 of `body` keyed with `secret`: GitHub's X-Hub-Signature-256.
std::string webhook_signature(std::string_view secret, std::string_view body);

// Whether `header` (the X-Hub-Signature-256 value) signs `body` with `secret`. The comparison
// takes the same time whatever the header holds, so that it reveals nothing about the secret.
bool signature_matches(std::string_view secret, std::string_view body, std::string_view header);

} // namespace macvmorx::github
