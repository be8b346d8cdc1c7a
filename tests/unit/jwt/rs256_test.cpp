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

TEST(Rs256Jwt, ATokenVerifiesWithItsKeysPublicHalfOnlyAndGivesItsClaims) {
    const auto key = macvmorx::jwt::generate_rsa_key();
    const std::string claims = R"({"sub":"mac-02","aud":"mac-01","exp":2000000000})";
    const std::string token = sign_rs256(claims, key.private_pem, "grants-1");
    EXPECT_EQ(macvmorx::jwt::verified_rs256_claims(token, key.public_pem), claims);
    EXPECT_TRUE(macvmorx::testing::rs256_verifies(token, key.public_pem)) << "OpenSSL's own check agrees";

    EXPECT_FALSE(macvmorx::jwt::verified_rs256_claims(token, macvmorx::testing::shared_rsa_key().public_pem)) << "another key";
    std::string forged = token;
    forged[forged.find('.') + 2] ^= 1; // the claims changed after signing
    EXPECT_FALSE(macvmorx::jwt::verified_rs256_claims(forged, key.public_pem));
    const std::string unsigned_token = base64url(R"({"alg":"none"})") + "." + base64url(claims) + ".";
    EXPECT_FALSE(macvmorx::jwt::verified_rs256_claims(unsigned_token, key.public_pem)) << "alg none";
    EXPECT_FALSE(macvmorx::jwt::verified_rs256_claims("not a token", key.public_pem));
}
