#include "macvmorx/jwt/rs256.hpp"

#include "test_keys.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

using macvmorx::jwt::base64url;
using macvmorx::jwt::sign_rs256;
using macvmorx::testing::base64url_decode;

TEST(Base64Url, EncodesWithoutPaddingInTheUrlAlphabet) {
    EXPECT_EQ(base64url(""), "");
    EXPECT_EQ(base64url("f"), "Zg");
    EXPECT_EQ(base64url("fo"), "Zm8");
    EXPECT_EQ(base64url("foo"), "Zm9v");
    EXPECT_EQ(base64url("\xfb\xff"), "-_8");
}

TEST(Rs256Jwt, SignsTheClaimsAsGivenUnderAHeaderNamingTheKeyWhenAsked) {
    const auto& key = macvmorx::testing::shared_rsa_key();
    const std::string claims = R"({"iss":"images@lab.iam.gserviceaccount.com","exp":2})";
    const std::string jwt = sign_rs256(claims, key.private_pem, "0123abcd");
    EXPECT_TRUE(macvmorx::testing::rs256_verifies(jwt, key.public_pem));

    const auto first = jwt.find('.');
    const auto second = jwt.find('.', first + 1);
    const auto header = nlohmann::json::parse(base64url_decode(jwt.substr(0, first)));
    EXPECT_EQ(header, (nlohmann::json{{"alg", "RS256"}, {"typ", "JWT"}, {"kid", "0123abcd"}}));
    EXPECT_EQ(base64url_decode(jwt.substr(first + 1, second - first - 1)), claims);

    const std::string unnamed = sign_rs256(claims, key.private_pem);
    EXPECT_FALSE(nlohmann::json::parse(base64url_decode(unnamed.substr(0, unnamed.find('.')))).contains("kid"));
}

TEST(Rs256Jwt, RefusesAKeyThatIsNotAnRsaPrivateKey) {
    EXPECT_THROW(sign_rs256("{}", "not a key"), std::runtime_error);
    EXPECT_THROW(sign_rs256("{}", macvmorx::testing::shared_rsa_key().public_pem), std::runtime_error);
}
