#include "macvmorx/github/app_jwt.hpp"

#include "macvmorx/jwt/rs256.hpp"

#include <stdexcept>

namespace macvmorx::github {

std::string app_jwt(std::int64_t app_id, std::string_view private_key_pem, TimePoint now) {
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    const std::string claims = R"({"iat":)" + std::to_string(seconds - 60) + R"(,"exp":)" + std::to_string(seconds + 540) +
                               R"(,"iss":")" + std::to_string(app_id) + R"("})";
    try {
        return jwt::sign_rs256(claims, private_key_pem);
    } catch (const std::runtime_error& error) {
        throw std::runtime_error(std::string{"the GitHub App key: "} + error.what());
    }
}

} // namespace macvmorx::github
