#include "macvmorx/object_store/chunk_manifest.hpp"

#include "macvmorx/base/hex.hpp"

#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include <algorithm>
#include <stdexcept>

namespace macvmorx::object_store {
namespace {

bool is_lower_hex(std::string_view text) {
    return std::all_of(text.begin(), text.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

} // namespace

std::uint64_t ChunkManifest::chunk_length(std::uint64_t index) const {
    const auto offset = chunk_offset(index);
    return offset >= size ? 0 : std::min(chunk_size, size - offset);
}

std::string ChunkManifest::to_json() const {
    return nlohmann::ordered_json{{"object", object}, {"version", version}, {"size", size},
                                  {"chunkSize", chunk_size}, {"chunks", chunks}}
        .dump();
}

ChunkManifest ChunkManifest::from_json(std::string_view text) {
    const auto json = nlohmann::json::parse(text, nullptr, false);
    if (!json.is_object()) throw std::runtime_error("a chunk manifest is a JSON object");
    ChunkManifest manifest;
    try {
        manifest.object = json.at("object").get<std::string>();
        manifest.version = json.at("version").get<std::string>();
        manifest.size = json.at("size").get<std::uint64_t>();
        manifest.chunk_size = json.at("chunkSize").get<std::uint64_t>();
        manifest.chunks = json.at("chunks").get<std::vector<std::string>>();
    } catch (const nlohmann::json::exception& error) {
        throw std::runtime_error(std::string{"a chunk manifest needs object, version, size, chunkSize and chunks: "} +
                                 error.what());
    }
    if (manifest.chunk_size == 0) throw std::runtime_error("a chunk manifest's chunkSize is not 0");
    if (manifest.chunks.size() != manifest.chunk_count()) {
        throw std::runtime_error("a chunk manifest of " + std::to_string(manifest.size) + " bytes in chunks of " +
                                 std::to_string(manifest.chunk_size) + " has " + std::to_string(manifest.chunk_count()) +
                                 " chunks, not " + std::to_string(manifest.chunks.size()));
    }
    for (const auto& hash : manifest.chunks) {
        if (hash.size() != 64 || !is_lower_hex(hash)) throw std::runtime_error("a chunk's hash is 64 lower-case hex digits");
    }
    return manifest;
}

struct ChunkHasher::State {
    std::uint64_t chunk_size;
    std::uint64_t in_chunk = 0;
    EVP_MD_CTX* context = EVP_MD_CTX_new();
    std::vector<std::string> hashes;

    explicit State(std::uint64_t size) : chunk_size{size} {
        if (context == nullptr || EVP_DigestInit_ex(context, EVP_sha256(), nullptr) != 1) {
            throw std::runtime_error("OpenSSL cannot compute SHA-256 here");
        }
    }
    ~State() { EVP_MD_CTX_free(context); }

    void close_chunk() {
        unsigned char digest[EVP_MAX_MD_SIZE];
        unsigned int length = 0;
        EVP_DigestFinal_ex(context, digest, &length);
        hashes.push_back(to_hex(digest, length));
        EVP_DigestInit_ex(context, EVP_sha256(), nullptr);
        in_chunk = 0;
    }
};

ChunkHasher::ChunkHasher(std::uint64_t chunk_size) : state_{std::make_unique<State>(chunk_size)} {
    if (chunk_size == 0) throw std::invalid_argument("a chunk has at least one byte");
}

ChunkHasher::~ChunkHasher() = default;

void ChunkHasher::update(std::string_view bytes) {
    auto& state = *state_;
    while (!bytes.empty()) {
        const auto room = static_cast<std::size_t>(std::min<std::uint64_t>(state.chunk_size - state.in_chunk, bytes.size()));
        EVP_DigestUpdate(state.context, bytes.data(), room);
        state.in_chunk += room;
        bytes.remove_prefix(room);
        if (state.in_chunk == state.chunk_size) state.close_chunk();
    }
}

std::vector<std::string> ChunkHasher::finish() {
    if (state_->in_chunk > 0) state_->close_chunk();
    return std::move(state_->hashes);
}

std::string chunk_hash(std::string_view bytes) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr);
    return to_hex(digest, length);
}

} // namespace macvmorx::object_store
