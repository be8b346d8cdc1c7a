#include "macvmorx/object_store/checksum.hpp"

#include "macvmorx/base/ascii.hpp"
#include "macvmorx/base/hex.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <stdexcept>

namespace macvmorx::object_store {
namespace {

// Slicing-by-8 tables of the reflected Castagnoli polynomial 0x82F63B78 (RFC 3720, appendix B).
struct Crc32cTables {
    std::uint32_t table[8][256];
    Crc32cTables() {
        for (std::uint32_t i = 0; i < 256; ++i) {
            std::uint32_t crc = i;
            for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
            table[0][i] = crc;
        }
        for (std::uint32_t i = 0; i < 256; ++i) {
            for (int k = 1; k < 8; ++k) table[k][i] = (table[k - 1][i] >> 8) ^ table[0][table[k - 1][i] & 0xFF];
        }
    }
};

const Crc32cTables& crc_tables() {
    static const Crc32cTables tables;
    return tables;
}

std::string base64(const unsigned char* data, std::size_t size) {
    std::string text(4 * ((size + 2) / 3), '\0');
    const int length = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(text.data()), data, static_cast<int>(size));
    text.resize(static_cast<std::size_t>(length));
    return text;
}

bool is_hex(std::string_view text) {
    return std::all_of(text.begin(), text.end(),
                       [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); });
}

std::string_view kind_name(ChecksumKind kind) {
    switch (kind) {
    case ChecksumKind::crc32c: return "CRC-32C";
    case ChecksumKind::md5: return "MD5";
    case ChecksumKind::sha256: return "SHA-256";
    }
    return "checksum";
}

} // namespace

std::uint32_t crc32c(std::uint32_t crc, std::string_view bytes) {
    const auto& t = crc_tables().table;
    crc = ~crc;
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    std::size_t n = bytes.size();
    while (n >= 8) {
        const std::uint32_t low = crc ^ (static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
                                         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24);
        crc = t[7][low & 0xFF] ^ t[6][(low >> 8) & 0xFF] ^ t[5][(low >> 16) & 0xFF] ^ t[4][low >> 24] ^ t[3][p[4]] ^
              t[2][p[5]] ^ t[1][p[6]] ^ t[0][p[7]];
        p += 8;
        n -= 8;
    }
    while (n-- > 0) crc = (crc >> 8) ^ t[0][(crc ^ *p++) & 0xFF];
    return ~crc;
}

std::string Checksums::crc32c_base64() const {
    const unsigned char big_endian[4] = {static_cast<unsigned char>(crc32c >> 24), static_cast<unsigned char>(crc32c >> 16),
                                         static_cast<unsigned char>(crc32c >> 8), static_cast<unsigned char>(crc32c)};
    return base64(big_endian, 4);
}
std::string Checksums::md5_base64() const { return base64(md5.data(), md5.size()); }
std::string Checksums::md5_hex() const { return to_hex(md5.data(), md5.size()); }
std::string Checksums::sha256_base64() const { return base64(sha256.data(), sha256.size()); }
std::string Checksums::sha256_hex() const { return to_hex(sha256.data(), sha256.size()); }

struct ObjectDigest::State {
    std::uint64_t size = 0;
    std::uint32_t crc = 0;
    EVP_MD_CTX* md5 = EVP_MD_CTX_new();
    EVP_MD_CTX* sha256 = EVP_MD_CTX_new();
    ~State() {
        EVP_MD_CTX_free(md5);
        EVP_MD_CTX_free(sha256);
    }
};

ObjectDigest::ObjectDigest() : state_{std::make_unique<State>()} {
    if (state_->md5 == nullptr || state_->sha256 == nullptr || EVP_DigestInit_ex(state_->md5, EVP_md5(), nullptr) != 1 ||
        EVP_DigestInit_ex(state_->sha256, EVP_sha256(), nullptr) != 1) {
        throw std::runtime_error("OpenSSL cannot compute MD5 and SHA-256 here");
    }
}

ObjectDigest::~ObjectDigest() = default;

void ObjectDigest::update(std::string_view bytes) {
    state_->size += bytes.size();
    state_->crc = crc32c(state_->crc, bytes);
    EVP_DigestUpdate(state_->md5, bytes.data(), bytes.size());
    EVP_DigestUpdate(state_->sha256, bytes.data(), bytes.size());
}

Checksums ObjectDigest::finish() {
    Checksums checksums;
    checksums.size = state_->size;
    checksums.crc32c = state_->crc;
    unsigned int length = 0;
    EVP_DigestFinal_ex(state_->md5, checksums.md5.data(), &length);
    EVP_DigestFinal_ex(state_->sha256, checksums.sha256.data(), &length);
    return checksums;
}

std::optional<ExpectedChecksum> etag_checksum(std::string_view etag) {
    if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') etag = etag.substr(1, etag.size() - 2);
    if (etag.size() != 32 || !is_hex(etag)) return std::nullopt; // a multipart upload's "<hash>-<parts>"
    return ExpectedChecksum{ChecksumKind::md5, std::string(etag), "S3 ETag"};
}

std::optional<ExpectedChecksum> sidecar_checksum(std::string_view text) {
    const auto start = text.find_first_not_of(" \t\r\n");
    if (start == std::string_view::npos) return std::nullopt;
    const auto end = text.find_first_of(" \t\r\n", start);
    const auto word = text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (word.size() != 64 || !is_hex(word)) return std::nullopt;
    return ExpectedChecksum{ChecksumKind::sha256, std::string(word), "the .sha256 sidecar"};
}

std::string checksum_mismatch(const Checksums& actual, const ExpectedChecksum& expected) {
    // The store's form decides the comparison: hex for an ETag or a sidecar, base64 otherwise.
    std::string ours;
    std::string theirs = expected.value;
    switch (expected.kind) {
    case ChecksumKind::crc32c: ours = actual.crc32c_base64(); break;
    case ChecksumKind::md5:
        ours = is_hex(theirs) && theirs.size() == 32 ? actual.md5_hex() : actual.md5_base64();
        break;
    case ChecksumKind::sha256:
        ours = is_hex(theirs) && theirs.size() == 64 ? actual.sha256_hex() : actual.sha256_base64();
        break;
    }
    if (ours.size() == 32 || ours.size() == 64) theirs = ascii_lower(theirs); // hex: either case
    if (ours == theirs) return {};
    return expected.source + " (" + std::string(kind_name(expected.kind)) + "): the store says " + expected.value +
           ", the download has " + ours;
}

} // namespace macvmorx::object_store
