#include "macvmorx/github/app_jwt.hpp"

#include "test_keys.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

using macvmorx::github::app_jwt;
using macvmorx::testing::base64url_decode;

TEST(AppJwt, IsAnRs256TokenGithubAcceptsIssuedAMinuteAgoForNineMinutes) {
    const auto& key = macvmorx::testing::shared_rsa_key();
    const macvmorx::TimePoint now{std::chrono::seconds{1'800'000'000}};
    const std::string jwt = app_jwt(12345, key.private_pem, now);
    EXPECT_TRUE(macvmorx::testing::rs256_verifies(jwt, key.public_pem));

    const auto first = jwt.find('.');
    const auto second = jwt.find('.', first + 1);
    const auto header = nlohmann::json::parse(base64url_decode(jwt.substr(0, first)));
    const auto payload = nlohmann::json::parse(base64url_decode(jwt.substr(first + 1, second - first - 1)));
    EXPECT_EQ(header["alg"], "RS256");
    EXPECT_EQ(payload["iss"], "12345");
    EXPECT_EQ(payload["iat"], 1'800'000'000 - 60);
    EXPECT_EQ(payload["exp"], 1'800'000'000 + 540);

    const auto other = macvmorx::testing::make_rsa_key();
    EXPECT_FALSE(macvmorx::testing::rs256_verifies(jwt, other.public_pem));
}

TEST(AppJwt, RefusesAKeyThatIsNotAnRsaPrivateKey) {
    EXPECT_THROW(app_jwt(1, "not a key", {}), std::runtime_error);
}
