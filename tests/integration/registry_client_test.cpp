// The agent asks an image's registry for its size before a pull, as `tart pull` asks for the
// manifest first: against a registry with Docker's token authentication on a loopback port.

#include "fake_registry.hpp"

#include "macvmorx/agent/registry_client.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <future>

using macvmorx::agent::manifest_disk_size_gb;
using macvmorx::agent::RegistryClient;
using macvmorx::agent::RegistryCredentials;

namespace {

constexpr double gib = 1024.0 * 1024.0 * 1024.0;

std::string base64(const std::string& text) {
    std::string encoded(4 * ((text.size() + 2) / 3), '\0');
    encoded.resize(static_cast<std::size_t>(EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()),
                                                            reinterpret_cast<const unsigned char*>(text.data()),
                                                            static_cast<int>(text.size()))));
    return encoded;
}

} // namespace

TEST(RegistryClient, APublicImagesSizeComesFromItsManifestThroughAToken) {
    macvmorx::testing::FakeRegistry registry;
    registry.add_image("acme/sonoma:1", 40 * gib);
    RegistryClient client{std::nullopt};
    // 40 GiB of disk and the 128 MiB tart adds for the VM's other files.
    EXPECT_DOUBLE_EQ(client.ask(registry.host() + "/acme/sonoma:1"), 40.125);
    EXPECT_EQ(registry.manifest_requests(), 2) << "refused without a token, then answered with one";
}

TEST(RegistryClient, APrivateImageNeedsTheCredentialsTartTakesFromItsEnvironment) {
    macvmorx::testing::FakeRegistry registry;
    registry.add_image("acme/private:2", 20 * gib, base64("ci:s3cret"));
    const std::string image = registry.host() + "/acme/private:2";
    const auto ask_with = [&image](std::optional<RegistryCredentials> credentials) {
        return RegistryClient{std::move(credentials)}.ask(image);
    };
    EXPECT_EQ(ask_with(std::nullopt), 0) << "no credentials";
    EXPECT_EQ(ask_with(RegistryCredentials{"ci", "wrong", ""}), 0);
    EXPECT_EQ(ask_with(RegistryCredentials{"ci", "s3cret", "ghcr.io"}), 0) << "TART_REGISTRY_HOSTNAME names another registry";
    EXPECT_DOUBLE_EQ(ask_with(RegistryCredentials{"ci", "s3cret", ""}), 20.125);
}

TEST(RegistryClient, WhatTheRegistryCannotTellIsZero) {
    macvmorx::testing::FakeRegistry registry;
    RegistryClient client{std::nullopt, std::chrono::seconds{2}};
    EXPECT_EQ(client.ask(registry.host() + "/acme/missing:1"), 0) << "manifest unknown";
    EXPECT_EQ(client.ask("sonoma-runner"), 0) << "a local VM has no registry";
    EXPECT_EQ(client.ask("127.0.0.1:1/acme/sonoma:1"), 0) << "nothing listens";
}

TEST(RegistryClient, QuestionsAreAnsweredOnAThreadOfTheirOwn) {
    macvmorx::testing::FakeRegistry registry;
    registry.add_image("acme/sonoma:1", 8 * gib);
    RegistryClient client{std::nullopt};
    std::promise<double> answer;
    client.image_size_gb(registry.host() + "/acme/sonoma:1", [&answer](double gb) { answer.set_value(gb); });
    EXPECT_DOUBLE_EQ(answer.get_future().get(), 8.125);
}

TEST(RegistryClient, AManifestWithoutTheWholeDisksSizeAddsItsDiskLayers) {
    // OCI/Manifest.swift: each disk layer's uncompressed size, when the manifest has no total.
    EXPECT_DOUBLE_EQ(*manifest_disk_size_gb(R"({"layers":[
        {"mediaType":"application/vnd.cirruslabs.tart.config.v1","size":300},
        {"mediaType":"application/vnd.cirruslabs.tart.disk.v2","size":9,"annotations":{"org.cirruslabs.tart.uncompressed-size":"1073741824"}},
        {"mediaType":"application/vnd.cirruslabs.tart.disk.v2","size":9,"annotations":{"org.cirruslabs.tart.uncompressed-size":"1073741824"}}]})"),
                     2.125);
    EXPECT_FALSE(manifest_disk_size_gb(R"({"layers":[{"size":9}]})")) << "compressed sizes say nothing of the disk";
    EXPECT_FALSE(manifest_disk_size_gb("not json"));
}
