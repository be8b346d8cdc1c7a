#pragma once

// The digests of an object as its bytes go by, and the stores' own checksums to hold a download
// to: Cloud Storage publishes `crc32c` (base64 of the big-endian 32-bit CRC-32C) and `md5Hash`
// (base64) in an object's metadata (cloud.google.com/storage/docs/json_api/v1/objects); S3 the
// ETag of a single-part upload (the hex MD5, quoted), `x-amz-checksum-sha256` (base64) when
// the object was uploaded with one, and an operator may put a `.sha256` sidecar beside it (hex,
// as `shasum -a 256` writes it).

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace macvmorx::object_store {

struct Checksums {
    std::uint64_t size = 0;
    std::uint32_t crc32c = 0;
    std::array<unsigned char, 16> md5{};
    std::array<unsigned char, 32> sha256{};

    std::string crc32c_base64() const;
    std::string md5_base64() const;
    std::string md5_hex() const;
    std::string sha256_base64() const;
    std::string sha256_hex() const;
};

// Computes every digest in one pass; feed it the bytes in order (a resumed download feeds the
// part on disk first).
class ObjectDigest {
public:
    ObjectDigest();
    ~ObjectDigest();
    ObjectDigest(const ObjectDigest&) = delete;
    ObjectDigest& operator=(const ObjectDigest&) = delete;

    void update(std::string_view bytes);
    // The digests of what was fed; feed nothing afterwards.
    Checksums finish();

private:
    struct State;
    std::unique_ptr<State> state_;
};

enum class ChecksumKind { crc32c, md5, sha256 };

// A checksum as a store gives it: base64 or hex (by its length), kept to name it in a mismatch.
struct ExpectedChecksum {
    ChecksumKind kind = ChecksumKind::crc32c;
    std::string value;
    std::string source; // "Cloud Storage crc32c", "S3 ETag", "the .sha256 sidecar", ...
};

// The checksum an S3 ETag stands for: the MD5 of a single-part upload. None for a multipart
// upload's ETag ("...-N"), which is a hash of the parts' hashes, not of the object.
std::optional<ExpectedChecksum> etag_checksum(std::string_view etag);

// The checksum a `.sha256` sidecar object holds: its first word, 64 hex digits (`shasum -a 256`
// writes "<hex>  <file name>"). None when it holds no such word.
std::optional<ExpectedChecksum> sidecar_checksum(std::string_view text);

// Empty when `actual` matches `expected`; else what differs, naming both values
// ("S3 ETag (MD5): the store says d41d8cd9..., the download has 9e107d9d...").
std::string checksum_mismatch(const Checksums& actual, const ExpectedChecksum& expected);

// CRC-32C (Castagnoli), continued from `crc` (0 to start): the check value of "123456789" is
// 0xE3069283.
std::uint32_t crc32c(std::uint32_t crc, std::string_view bytes);

} // namespace macvmorx::object_store
