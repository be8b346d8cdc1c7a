#include "macvmorx/http/content_encoding.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

using macvmorx::http::accepts_gzip;
using macvmorx::http::gunzip;
using macvmorx::http::gzip;

TEST(AcceptEncoding, GzipIsAcceptedAsBrowsersAndCurlAskForIt) {
    EXPECT_TRUE(accepts_gzip("gzip"));
    EXPECT_TRUE(accepts_gzip("gzip, deflate, br, zstd")); // Chromium
    EXPECT_TRUE(accepts_gzip("deflate, GZIP;q=0.5"));
    EXPECT_TRUE(accepts_gzip("x-gzip"));
    EXPECT_TRUE(accepts_gzip("br, *"));
}

TEST(AcceptEncoding, AZeroQualityOrNoMentionRefusesIt) {
    EXPECT_FALSE(accepts_gzip(""));
    EXPECT_FALSE(accepts_gzip("identity"));
    EXPECT_FALSE(accepts_gzip("br, deflate"));
    EXPECT_FALSE(accepts_gzip("gzip;q=0"));
    EXPECT_FALSE(accepts_gzip("gzip; q=0.0, br"));
    EXPECT_FALSE(accepts_gzip("*;q=0"));
    EXPECT_FALSE(accepts_gzip("gzip;q=0, *"));  // naming gzip outranks the wildcard
    EXPECT_FALSE(accepts_gzip("gzip;q=nonsense")); // a malformed q-value is no consent
}

TEST(Gzip, RoundTripsAndShrinksJson) {
    std::string json = "[";
    for (int i = 0; i < 2000; ++i) json += R"({"nodeId":"mac-)" + std::to_string(i) + R"(","status":"healthy","vms":[]},)";
    json.back() = ']';
    for (const int level : {1, 6, 9}) {
        const auto packed = gzip(json, level);
        EXPECT_LT(packed.size(), json.size() / 5) << "level " << level;
        ASSERT_GE(packed.size(), 2u);
        EXPECT_EQ(static_cast<unsigned char>(packed[0]), 0x1f); // gzip's magic number (RFC 1952)
        EXPECT_EQ(static_cast<unsigned char>(packed[1]), 0x8b);
        EXPECT_EQ(gunzip(packed), json);
    }
    EXPECT_EQ(gunzip(gzip("")), "");
}

TEST(Gzip, ACorruptOrTruncatedStreamIsRefused) {
    const auto packed = gzip(std::string(10000, 'x'));
    EXPECT_THROW(gunzip(packed.substr(0, packed.size() / 2)), std::runtime_error);
    EXPECT_THROW(gunzip("not gzip at all"), std::runtime_error);
}
