// The digests a download is held to, against published values: CRC-32C's check value (RFC 3720
// appendix B.4 and every CRC catalogue: "123456789" -> 0xE3069283), Cloud Storage's metadata of
// an empty object (crc32c "AAAAAA==", md5Hash "1B2M2Y8AsgTpgAmY7PhCfg=="), the MD5 and SHA-256
// of "The quick brown fox jumps over the lazy dog" (RFC 1321's and FIPS 180's well-known
// examples).

#include "macvmorx/object_store/checksum.hpp"

#include <gtest/gtest.h>

using macvmorx::object_store::checksum_mismatch;
using macvmorx::object_store::ChecksumKind;
using macvmorx::object_store::crc32c;
using macvmorx::object_store::etag_checksum;
using macvmorx::object_store::ExpectedChecksum;
using macvmorx::object_store::ObjectDigest;
using macvmorx::object_store::sidecar_checksum;

namespace {

macvmorx::object_store::Checksums digest_of(std::string_view bytes, std::size_t chunk = 4096) {
    ObjectDigest digest;
    for (std::size_t at = 0; at < bytes.size(); at += chunk) digest.update(bytes.substr(at, chunk));
    return digest.finish();
}

const std::string fox = "The quick brown fox jumps over the lazy dog";

} // namespace

TEST(Checksum, Crc32cHasItsCheckValueInBase64AsCloudStorageWritesIt) {
    EXPECT_EQ(crc32c(0, "123456789"), 0xE3069283u);
    EXPECT_EQ(digest_of("123456789").crc32c_base64(), "4waSgw==");
}

TEST(Checksum, AnEmptyObjectHasCloudStoragesPublishedChecksums) {
    const auto empty = digest_of("");
    EXPECT_EQ(empty.size, 0u);
    EXPECT_EQ(empty.crc32c_base64(), "AAAAAA==");
    EXPECT_EQ(empty.md5_base64(), "1B2M2Y8AsgTpgAmY7PhCfg==");
    EXPECT_EQ(empty.md5_hex(), "d41d8cd98f00b204e9800998ecf8427e");
    EXPECT_EQ(empty.sha256_hex(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Checksum, ChunksInAnySizesGiveTheDigestsOfTheWhole) {
    EXPECT_EQ(digest_of(fox).md5_hex(), "9e107d9d372bb6826bd81d3542a419d6");
    EXPECT_EQ(digest_of(fox).sha256_hex(), "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592");
    std::string large;
    for (int i = 0; i < 100'000; ++i) large += static_cast<char>((i * 7919) % 251);
    const auto whole = digest_of(large, large.size());
    for (const std::size_t chunk : {1u, 3u, 7u, 8u, 9u, 4096u, 65'537u}) {
        const auto pieces = digest_of(large, chunk);
        EXPECT_EQ(pieces.crc32c, whole.crc32c) << chunk;
        EXPECT_EQ(pieces.md5, whole.md5) << chunk;
        EXPECT_EQ(pieces.sha256, whole.sha256) << chunk;
        EXPECT_EQ(pieces.size, large.size());
    }
}

TEST(Checksum, AnEtagIsAnMd5OnlyForASinglePartUpload) {
    const auto single = etag_checksum("\"9E107D9D372BB6826BD81D3542A419D6\"");
    ASSERT_TRUE(single);
    EXPECT_EQ(single->kind, ChecksumKind::md5);
    EXPECT_EQ(checksum_mismatch(digest_of(fox), *single), "") << "hex compares in either case";
    EXPECT_FALSE(etag_checksum("\"d41d8cd98f00b204e9800998ecf8427e-3\"")) << "a multipart upload's ETag";
    EXPECT_FALSE(etag_checksum("W/\"xyz\""));
}

TEST(Checksum, AMismatchNamesTheStoresValueAndTheDownloads) {
    const ExpectedChecksum gcs{ChecksumKind::crc32c, "4waSgw==", "Cloud Storage crc32c"};
    EXPECT_EQ(checksum_mismatch(digest_of("123456789"), gcs), "");
    EXPECT_EQ(checksum_mismatch(digest_of("123456780"), gcs).substr(0, 66),
              "Cloud Storage crc32c (CRC-32C): the store says 4waSgw==, the downl");
    const ExpectedChecksum md5{ChecksumKind::md5, "1B2M2Y8AsgTpgAmY7PhCfg==", "Cloud Storage md5Hash"};
    EXPECT_EQ(checksum_mismatch(digest_of(""), md5), "");
    EXPECT_EQ(checksum_mismatch(digest_of(fox), md5),
              "Cloud Storage md5Hash (MD5): the store says 1B2M2Y8AsgTpgAmY7PhCfg==, the download has "
              "nhB9nTcrtoJr2B01QqQZ1g==");
}

TEST(Checksum, ASidecarHoldsTheSha256AsShasumWritesIt) {
    const auto sidecar =
        sidecar_checksum("d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592  sequoia.tvm\n");
    ASSERT_TRUE(sidecar);
    EXPECT_EQ(checksum_mismatch(digest_of(fox), *sidecar), "");
    EXPECT_NE(checksum_mismatch(digest_of("fox"), *sidecar).find("the .sha256 sidecar (SHA-256): the store says d7a8"),
              std::string::npos);
    EXPECT_FALSE(sidecar_checksum("not a checksum\n"));
    EXPECT_FALSE(sidecar_checksum(""));
}
