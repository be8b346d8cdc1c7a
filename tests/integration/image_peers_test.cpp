// An image across the internet once per lab: a Mac's peer server (image_peers/peer_server.cpp)
// serves the verified archives it holds, and another Mac's download takes chunks from such
// peers (object_store/peered_reader.cpp), checked against the chunk manifest, with the bucket
// (the Cloud Storage stand-in) for what no peer gives and as the authority on the version.

#include "fake_cloud_storage.hpp"
#include "object_store_helpers.hpp"
#include "test_directory.hpp"
#include "test_keys.hpp"

#include "macvmorx/base/clock.hpp"
#include "macvmorx/http/web_client.hpp"
#include "macvmorx/image_peers/peer_server.hpp"
#include "macvmorx/jwt/rs256.hpp"
#include "macvmorx/object_store/gcs_reader.hpp"
#include "macvmorx/object_store/object_download.hpp"
#include "macvmorx/object_store/peered_reader.hpp"
#include "macvmorx/object_store/sigv4.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;
using macvmorx::SystemClock;
using macvmorx::image_peers::PeerServer;
using macvmorx::image_peers::PeerServerOptions;
using macvmorx::image_peers::Seed;
using macvmorx::object_store::ChunkManifest;
using macvmorx::object_store::download_object;
using macvmorx::object_store::DownloadOptions;
using macvmorx::object_store::GcsReader;
using macvmorx::object_store::GcsSettings;
using macvmorx::object_store::PeeredReader;
using macvmorx::object_store::PeerOffer;
using macvmorx::testing::FakeCloudStorage;
using macvmorx::testing::file_bytes;
using macvmorx::testing::random_bytes;

namespace {

constexpr const char* held_image = "gs://images/macos/sequoia.tvm";
constexpr std::uint64_t chunk = 1024 * 1024;

// A grant as the daemon signs it (api/peer_grants.cpp).
std::string grant_for(const std::string& image_name, const macvmorx::testing::RsaKeyPair& key, std::int64_t lifetime = 3600) {
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    const nlohmann::json claims{{"iss", "macvmorx"}, {"sub", "mac-new"}, {"image", image_name}, {"iat", now}, {"exp", now + lifetime}};
    return macvmorx::jwt::sign_rs256(claims.dump(), key.private_pem, "k1");
}

PeerOffer offer_of(std::vector<macvmorx::object_store::ImagePeer> peers, std::string grant) {
    PeerOffer offer;
    offer.peers = std::move(peers);
    offer.grant = std::move(grant);
    return offer;
}

// A Mac that holds the image: its archive and manifest in a folder, and its peer server.
struct HoldingMac {
    HoldingMac(const fs::path& folder, const std::string& bytes, const ChunkManifest& manifest, PeerServerOptions options = {})
        : seed{folder / "seed.tvm", folder / "seed.tvm.manifest.json"} {
        fs::create_directories(folder);
        std::ofstream(seed.archive, std::ios::binary) << bytes;
        std::ofstream(seed.manifest) << manifest.to_json();
        options.bind_address = "127.0.0.1";
        options.port = 0;
        options.max_range_bytes = chunk;
        server = std::make_unique<PeerServer>(
            options, [this](const std::string& wanted) -> std::optional<Seed> {
                if (wanted != held_image) return std::nullopt;
                return seed;
            },
            [](bool) { return macvmorx::testing::shared_rsa_key().public_pem; }, clock);
        port = server->start();
    }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }

    SystemClock clock;
    Seed seed;
    std::unique_ptr<PeerServer> server;
    std::uint16_t port = 0;
};

class ImagePeersTest : public ::testing::Test {
protected:
    void SetUp() override {
        storage_.put("images", "macos/sequoia.tvm", object_);
        // The first Mac's download from the bucket, and the manifest it made.
        DownloadOptions first;
        first.manifest_chunk_size = chunk;
        manifest_ = download_object(store_, "images", "macos/sequoia.tvm", directory_ / "first.tvm", first).manifest;
    }

    GcsSettings settings() const {
        GcsSettings result;
        result.endpoint = storage_.url();
        return result;
    }
    // The bucket's media requests after SetUp's first download.
    std::size_t store_requests() const { return storage_.media_ranges().size() - 1; }

    FakeCloudStorage storage_;
    SystemClock clock_;
    GcsReader store_{settings(), clock_};
    const std::string object_ = random_bytes(4 * chunk + 4321, 11);
    macvmorx::testing::TestDirectory directory_{"peers"};
    ChunkManifest manifest_;
};

TEST_F(ImagePeersTest, TheFirstDownloadsManifestNamesTheObjectVersionAndEveryChunk) {
    EXPECT_EQ(manifest_.object, held_image);
    EXPECT_EQ(manifest_.version, storage_.generation("images", "macos/sequoia.tvm"));
    EXPECT_EQ(manifest_.chunks.size(), 5u);
}

TEST_F(ImagePeersTest, ASecondMacTakesEveryChunkFromItsPeersAndNothingFromTheBucket) {
    HoldingMac first{directory_ / "mac-1", object_, manifest_};
    HoldingMac second{directory_ / "mac-2", object_, manifest_};
    const auto& key = macvmorx::testing::shared_rsa_key();
    PeeredReader reader{store_, held_image, offer_of({{"mac-1", first.url()}, {"mac-2", second.url()}}, grant_for(held_image, key))};
    const auto result = download_object(reader, "images", "macos/sequoia.tvm", directory_ / "new.tvm");
    EXPECT_EQ(file_bytes(directory_ / "new.tvm"), object_);
    EXPECT_EQ(reader.bytes_from_peers(), object_.size());
    EXPECT_EQ(reader.bytes_from_store(), 0u);
    EXPECT_EQ(store_requests(), 0u) << "only the metadata was asked of the bucket";
    EXPECT_EQ(first.server->bytes_uploaded() + second.server->bytes_uploaded(), object_.size());
    EXPECT_GT(first.server->bytes_uploaded(), 0u) << "the chunks are spread over the peers";
    EXPECT_GT(second.server->bytes_uploaded(), 0u);
}

TEST_F(ImagePeersTest, APeerWhoseArchiveIsDamagedIsGivenUpAndItsChunksComeFromTheOthers) {
    std::string damaged = object_;
    damaged[chunk + 10] = static_cast<char>(damaged[chunk + 10] ^ 0x01);
    HoldingMac liar{directory_ / "mac-1", damaged, manifest_};
    HoldingMac honest{directory_ / "mac-2", object_, manifest_};
    PeeredReader reader{store_, held_image,
                        offer_of({{"mac-1", liar.url()}, {"mac-2", honest.url()}}, grant_for(held_image, macvmorx::testing::shared_rsa_key()))};
    download_object(reader, "images", "macos/sequoia.tvm", directory_ / "new.tvm");
    EXPECT_EQ(file_bytes(directory_ / "new.tvm"), object_);
    EXPECT_EQ(reader.bytes_from_peers() + reader.bytes_from_store(), object_.size());
}

TEST_F(ImagePeersTest, WithoutAValidGrantPeersServeNothingAndTheBucketGivesAll) {
    HoldingMac holder{directory_ / "mac-1", object_, manifest_};
    const auto other_key = macvmorx::jwt::generate_rsa_key();
    for (const auto& grant : {grant_for(held_image, {other_key.private_pem, other_key.public_pem}),
                              grant_for("gs://images/macos/other.tvm", macvmorx::testing::shared_rsa_key()),
                              grant_for(held_image, macvmorx::testing::shared_rsa_key(), -10), std::string{}}) {
        PeeredReader reader{store_, held_image, offer_of({{"mac-1", holder.url()}}, grant)};
        const auto target = directory_ / "new.tvm";
        fs::remove(target);
        download_object(reader, "images", "macos/sequoia.tvm", target);
        EXPECT_EQ(file_bytes(target), object_);
        EXPECT_EQ(reader.bytes_from_peers(), 0u);
        EXPECT_EQ(reader.bytes_from_store(), object_.size());
    }
    EXPECT_EQ(holder.server->bytes_uploaded(), 0u);
}

TEST_F(ImagePeersTest, APeerGoneMidwayLeavesItsChunksToTheBucket) {
    auto holder = std::make_unique<HoldingMac>(directory_ / "mac-1", object_, manifest_);
    const std::string url = holder->url();
    holder.reset(); // the Mac went away after the daemon named it
    PeeredReader reader{store_, held_image, offer_of({{"mac-1", url}}, grant_for(held_image, macvmorx::testing::shared_rsa_key()))};
    download_object(reader, "images", "macos/sequoia.tvm", directory_ / "new.tvm");
    EXPECT_EQ(file_bytes(directory_ / "new.tvm"), object_);
    EXPECT_EQ(reader.bytes_from_store(), object_.size());
}

TEST_F(ImagePeersTest, APeerOfAnotherVersionIsNotUsed) {
    HoldingMac stale{directory_ / "mac-1", object_, manifest_};
    storage_.put("images", "macos/sequoia.tvm", random_bytes(2 * chunk, 12)); // a new generation since
    PeeredReader reader{store_, held_image, offer_of({{"mac-1", stale.url()}}, grant_for(held_image, macvmorx::testing::shared_rsa_key()))};
    download_object(reader, "images", "macos/sequoia.tvm", directory_ / "new.tvm");
    EXPECT_EQ(file_bytes(directory_ / "new.tvm").size(), 2 * chunk);
    EXPECT_EQ(reader.bytes_from_peers(), 0u);
    EXPECT_EQ(stale.server->bytes_uploaded(), 0u);
}

TEST_F(ImagePeersTest, UploadsOverTheBoundAreAnswered503WithRetryAfter) {
    PeerServerOptions bounded;
    bounded.max_uploads = 1;
    bounded.upload_bytes_per_second = 250'000; // a chunk every 4 s
    HoldingMac holder{directory_ / "mac-1", object_, manifest_, bounded};
    const std::string target = macvmorx::object_store::peer_image_path(held_image) + "/archive";
    const std::string grant = grant_for(held_image, macvmorx::testing::shared_rsa_key());
    const auto ask = [&](std::uint64_t first) {
        macvmorx::http::WebClient client{macvmorx::http::BaseUrl::parse(holder.url())};
        return client.request(macvmorx::http::Method::get, target, {},
                              {{"Authorization", "Bearer " + grant},
                               {"Range", "bytes=" + std::to_string(first) + "-" + std::to_string(first + chunk - 1)}});
    };
    EXPECT_EQ(ask(0).status, 206); // the first goes at once, and books the next 4 s of the rate
    auto waiting = std::async(std::launch::async, [&] { return ask(chunk); });
    std::this_thread::sleep_for(std::chrono::milliseconds{500});
    const auto refused = ask(2 * chunk);
    EXPECT_EQ(refused.status, 503) << refused.body;
    EXPECT_EQ(refused.header("Retry-After"), "2");
    const auto second = waiting.get();
    EXPECT_EQ(second.status, 206);
    EXPECT_EQ(second.body, object_.substr(chunk, chunk));
}

TEST_F(ImagePeersTest, ARequestWithoutAGrantOrARangeIsRefusedSayingWhy) {
    HoldingMac holder{directory_ / "mac-1", object_, manifest_};
    macvmorx::http::WebClient client{macvmorx::http::BaseUrl::parse(holder.url())};
    const std::string path = macvmorx::object_store::peer_image_path(held_image);
    const auto anonymous = client.request(macvmorx::http::Method::get, path + "/manifest");
    EXPECT_EQ(anonymous.status, 401) << anonymous.body;
    const std::vector<macvmorx::http::Header> granted{{"Authorization", "Bearer " + grant_for(held_image, macvmorx::testing::shared_rsa_key())}};
    const auto manifest = client.request(macvmorx::http::Method::get, path + "/manifest", {}, granted);
    ASSERT_EQ(manifest.status, 200) << manifest.body;
    EXPECT_EQ(ChunkManifest::from_json(manifest.body).chunks, manifest_.chunks);
    EXPECT_EQ(client.request(macvmorx::http::Method::get, path + "/archive", {}, granted).status, 400) << "no range";
    auto too_much = granted;
    too_much.push_back({"Range", "bytes=0-" + std::to_string(2 * chunk)});
    EXPECT_EQ(client.request(macvmorx::http::Method::get, path + "/archive", {}, too_much).status, 416);
    const auto other = client.request(macvmorx::http::Method::get,
                                      macvmorx::object_store::peer_image_path("gs://images/none.tvm") + "/manifest", {}, granted);
    EXPECT_EQ(other.status, 403) << "the grant is for another image";
}

} // namespace
