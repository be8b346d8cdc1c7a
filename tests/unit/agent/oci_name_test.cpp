// Image names as tart reads them (RemoteName.swift, Reference.g4).

#include "macvmorx/agent/oci_name.hpp"

#include <gtest/gtest.h>

using macvmorx::agent::image_key;
using macvmorx::agent::parse_oci_name;

TEST(OciName, ATaggedNameIsReadIntoItsParts) {
    const auto name = parse_oci_name("ghcr.io/cirruslabs/macos-sonoma-base:latest");
    ASSERT_TRUE(name);
    EXPECT_EQ(name->host, "ghcr.io");
    EXPECT_EQ(name->name, "cirruslabs/macos-sonoma-base");
    EXPECT_EQ(name->tag, "latest");
    EXPECT_EQ(name->reference(), "latest");
    EXPECT_EQ(name->canonical(), "ghcr.io/cirruslabs/macos-sonoma-base:latest");
}

TEST(OciName, ANameWithoutATagMeansLatestAsTartListsIt) {
    EXPECT_EQ(image_key("ghcr.io/acme/sonoma"), "ghcr.io/acme/sonoma:latest");
    EXPECT_EQ(image_key("ghcr.io/acme/sonoma"), image_key("ghcr.io/acme/sonoma:latest"));
    EXPECT_NE(image_key("ghcr.io/acme/sonoma:1"), image_key("ghcr.io/acme/sonoma:2"));
}

TEST(OciName, PortsDigestsAndDeepNamespacesAreRead) {
    const auto local_registry = parse_oci_name("127.0.0.1:5000/acme/images/sonoma-runner:14.5_1");
    ASSERT_TRUE(local_registry);
    EXPECT_EQ(local_registry->host, "127.0.0.1:5000");
    EXPECT_EQ(local_registry->name, "acme/images/sonoma-runner");
    EXPECT_EQ(local_registry->tag, "14.5_1");
    const auto pinned = parse_oci_name("ghcr.io/acme/sonoma@sha256:0a1b2c");
    ASSERT_TRUE(pinned);
    EXPECT_EQ(pinned->digest, "sha256:0a1b2c");
    EXPECT_EQ(pinned->reference(), "sha256:0a1b2c");
    EXPECT_EQ(pinned->canonical(), "ghcr.io/acme/sonoma@sha256:0a1b2c");
}

TEST(OciName, LocalVmNamesAndMalformedNamesAreNoRemoteNames) {
    for (const char* text : {"sonoma-runner", "macvmorx-job-1", "", "/acme/x", "ghcr.io/", "ghcr.io/acme/x:",
                             "ghcr.io/acme/x@md5:00", "ghcr.io:port/acme/x", "ghcr.io/acme//x", "ghcr.io/acme/x y"}) {
        EXPECT_FALSE(parse_oci_name(text)) << text;
        EXPECT_EQ(image_key(text), text) << "a local name is its own key";
    }
}
