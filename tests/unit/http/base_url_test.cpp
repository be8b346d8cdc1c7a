#include "macvmorx/http/base_url.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

using macvmorx::http::BaseUrl;

TEST(BaseUrl, TakesSchemeHostPortAndPathPrefix) {
    const auto github = BaseUrl::parse("https://api.github.com");
    EXPECT_TRUE(github.tls);
    EXPECT_EQ(github.host, "api.github.com");
    EXPECT_EQ(github.port, 443);
    EXPECT_EQ(github.path_prefix, "");

    const auto enterprise = BaseUrl::parse("http://127.0.0.1:9000/api/v3/");
    EXPECT_FALSE(enterprise.tls);
    EXPECT_EQ(enterprise.host, "127.0.0.1");
    EXPECT_EQ(enterprise.port, 9000);
    EXPECT_EQ(enterprise.path_prefix, "/api/v3") << "trailing slashes are dropped";

    EXPECT_EQ(BaseUrl::parse("http://mac-1.lab").port, 80);
}

TEST(BaseUrl, ReadsAnIpv6AddressWithoutItsBrackets) {
    const auto url = BaseUrl::parse("https://[::1]:8443");
    EXPECT_EQ(url.host, "::1");
    EXPECT_EQ(url.port, 8443);
    EXPECT_EQ(url.origin(), "https://[::1]:8443");
    EXPECT_EQ(BaseUrl::parse("http://127.0.0.1:9000/x").origin(), "http://127.0.0.1:9000");
}

TEST(BaseUrl, RefusesWhatIsNotAnHttpBase) {
    for (const char* url : {"ftp://example.com", "example.com:8080", "https://", "https://:443", "http://host:0",
                            "http://host:65536", "http://host:80x", "https://user:secret@example.com",
                            "https://example.com/?q=1", "https://example.com/#top", "", "http//host"}) {
        EXPECT_THROW(BaseUrl::parse(url), std::invalid_argument) << url;
    }
}

TEST(BaseUrl, GivesTheTargetOfALinkUnderItAndNothingForOthers) {
    const auto base = BaseUrl::parse("https://ghe.example.com:8443/api/v3");
    EXPECT_EQ(base.target_of("https://ghe.example.com:8443/api/v3/repositories/1/actions/runs?page=2"),
              "/repositories/1/actions/runs?page=2");
    EXPECT_EQ(base.target_of("https://ghe.example.com:8443/api/v3/orgs/acme"), "/orgs/acme");
    EXPECT_FALSE(base.target_of("http://ghe.example.com:8443/api/v3/orgs/acme")) << "another scheme";
    EXPECT_FALSE(base.target_of("https://evil.example.com:8443/api/v3/orgs/acme")) << "another host";
    EXPECT_FALSE(base.target_of("https://ghe.example.com/api/v3/orgs/acme")) << "another port";
    EXPECT_FALSE(base.target_of("https://ghe.example.com:8443/api/v30/orgs")) << "beside the base path";
    EXPECT_FALSE(base.target_of("/api/v3/orgs/acme")) << "not absolute";

    const auto github = BaseUrl::parse("https://api.github.com");
    EXPECT_EQ(github.target_of("https://api.github.com:443/installation/repositories?page=3"),
              "/installation/repositories?page=3")
        << "the default port written out is the same port";
}
