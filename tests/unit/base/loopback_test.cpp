// Where plain http:// is let through: this machine's loopback, by address, never by look-alike name.

#include "macvmorx/base/loopback.hpp"

#include <gtest/gtest.h>

using macvmorx::is_loopback_host;

TEST(Loopback, TheLoopbackAddressesAndLocalhostAre) {
    for (const char* host : {"localhost", "127.0.0.1", "127.1.2.3", "::1", "[::1]"}) EXPECT_TRUE(is_loopback_host(host)) << host;
}

TEST(Loopback, NamesThatStartLikeAnAddressAreNot) {
    for (const char* host : {"127.0.0.1.evil.example", "127.evil.example", "localhost.evil.example", "10.0.0.1", "::2",
                             "[::1", "", "ghcr.io", "0.0.0.0"}) {
        EXPECT_FALSE(is_loopback_host(host)) << host;
    }
}
