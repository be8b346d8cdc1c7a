#include "macvmorx/github/webhook_signature.hpp"

#include <gtest/gtest.h>

using macvmorx::github::signature_matches;
using macvmorx::github::webhook_signature;

// The test vector in GitHub's documentation ("Validating webhook deliveries").
TEST(WebhookSignature, MatchesGithubsDocumentedTestVector) {
    EXPECT_EQ(webhook_signature("It's a Secret to Everybody", "Hello, World!"),
              "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17");
    EXPECT_TRUE(signature_matches("It's a Secret to Everybody", "Hello, World!",
                                  "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"));
}

TEST(WebhookSignature, RefusesAWrongSecretAChangedBodyAndMalformedHeaders) {
    const std::string good = webhook_signature("secret", R"({"action":"queued"})");
    EXPECT_TRUE(signature_matches("secret", R"({"action":"queued"})", good));
    EXPECT_FALSE(signature_matches("other", R"({"action":"queued"})", good));
    EXPECT_FALSE(signature_matches("secret", R"({"action":"queued" })", good));
    EXPECT_FALSE(signature_matches("secret", R"({"action":"queued"})", ""));
    EXPECT_FALSE(signature_matches("secret", R"({"action":"queued"})", good.substr(7)));
    EXPECT_FALSE(signature_matches("secret", R"({"action":"queued"})", "sha1=" + good.substr(7)));
    std::string flipped = good;
    flipped.back() = flipped.back() == '0' ? '1' : '0';
    EXPECT_FALSE(signature_matches("secret", R"({"action":"queued"})", flipped));
}
