// The chunk manifest a Mac gives the peers it serves an image to.

#include "macvmorx/object_store/chunk_manifest.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

using macvmorx::object_store::chunk_hash;
using macvmorx::object_store::ChunkHasher;
using macvmorx::object_store::ChunkManifest;

TEST(ChunkManifest, ChunksAreHashedAsTheyComeWhateverThePiecesTheLastOneShort) {
    const std::string bytes = "The quick brown fox jumps over the lazy dog";
    ChunkHasher hasher{10};
    hasher.update(bytes.substr(0, 3));
    hasher.update(bytes.substr(3, 25));
    hasher.update(bytes.substr(28));
    const auto chunks = hasher.finish();
    ASSERT_EQ(chunks.size(), 5u);
    EXPECT_EQ(chunks[0], chunk_hash("The quick "));
    EXPECT_EQ(chunks[4], chunk_hash("dog"));
    EXPECT_EQ(chunk_hash(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(ChunkManifest, ReadsBackWhatItWritesAndKnowsEachChunksPlace) {
    ChunkManifest manifest{"gs://acme-images/macos/sequoia.tvm", "1765000000000001", 25, 10,
                           {std::string(64, 'a'), std::string(64, 'b'), std::string(64, 'c')}};
    const auto read = ChunkManifest::from_json(manifest.to_json());
    EXPECT_EQ(read.object, manifest.object);
    EXPECT_EQ(read.version, manifest.version);
    EXPECT_EQ(read.chunks, manifest.chunks);
    EXPECT_EQ(read.chunk_count(), 3u);
    EXPECT_EQ(read.chunk_offset(2), 20u);
    EXPECT_EQ(read.chunk_length(2), 5u);
    EXPECT_EQ(read.chunk_length(3), 0u);
}

TEST(ChunkManifest, AManifestThatDoesNotAddUpIsRefusedSayingWhy) {
    const auto refused = [](const std::string& text, const std::string& reason) {
        try {
            ChunkManifest::from_json(text);
            ADD_FAILURE() << "took " << text;
        } catch (const std::runtime_error& error) {
            EXPECT_NE(std::string{error.what()}.find(reason), std::string::npos) << error.what();
        }
    };
    const std::string hash(64, 'a');
    refused("[]", "JSON object");
    refused(R"({"object":"s3://a/b","version":"1","size":25})", "needs object");
    refused(R"({"object":"s3://a/b","version":"1","size":25,"chunkSize":10,"chunks":[")" + hash + R"("]})", "has 3 chunks, not 1");
    refused(R"({"object":"s3://a/b","version":"1","size":5,"chunkSize":10,"chunks":["ABC"]})", "64 lower-case hex");
    refused(R"({"object":"s3://a/b","version":"1","size":5,"chunkSize":0,"chunks":[]})", "chunkSize");
}
