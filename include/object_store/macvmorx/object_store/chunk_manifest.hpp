#pragma once

// What a Mac that holds a verified image tells the Macs that fetch it from it (issue 21, "an
// image crosses the internet once per lab"): the object and version it is, its size, and the
// SHA-256 of each chunk, made while the first download was verified against the store's own
// checksums. A chunk from a peer is taken only when its hash is the manifest's, and the whole
// is checked against the store's checksums again, so a peer can waste a fetch, never damage one.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace macvmorx::object_store {

// 64 MiB: a 40 GB archive is about 600 chunks, each fetched in under a second on a 1 Gb/s LAN.
inline constexpr std::uint64_t default_chunk_size = 64ull * 1024 * 1024;

struct ChunkManifest {
    std::string object;  // "gs://acme-images/macos/sequoia.tvm"
    std::string version; // the store's version of it (generation, ETag)
    std::uint64_t size = 0;
    std::uint64_t chunk_size = default_chunk_size;
    std::vector<std::string> chunks; // lower-case hex SHA-256 of each chunk, in order

    std::uint64_t chunk_count() const { return chunk_size == 0 ? 0 : (size + chunk_size - 1) / chunk_size; }
    std::uint64_t chunk_offset(std::uint64_t index) const { return index * chunk_size; }
    std::uint64_t chunk_length(std::uint64_t index) const;

    std::string to_json() const;
    // Throws std::runtime_error saying what is wrong: not JSON, a field missing, chunks that do
    // not add up to the size, a hash that is not 64 hex digits.
    static ChunkManifest from_json(std::string_view text);
};

// Hashes bytes chunk by chunk as they come, in order.
class ChunkHasher {
public:
    explicit ChunkHasher(std::uint64_t chunk_size = default_chunk_size);
    ~ChunkHasher();
    ChunkHasher(const ChunkHasher&) = delete;
    ChunkHasher& operator=(const ChunkHasher&) = delete;

    void update(std::string_view bytes);
    // The hashes of every chunk, the last one short; feed nothing afterwards.
    std::vector<std::string> finish();

private:
    struct State;
    std::unique_ptr<State> state_;
};

// Lower-case hex SHA-256 of `bytes`, as a manifest names a chunk.
std::string chunk_hash(std::string_view bytes);

} // namespace macvmorx::object_store
