#include "macvmorx/object_store/object_download.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <thread>
#include <vector>

namespace macvmorx::object_store {
namespace {

namespace fs = std::filesystem;
using Kind = ObjectStoreError::Kind;

constexpr std::uint64_t progress_step = 16u << 20;

fs::path with_suffix(const fs::path& path, const char* suffix) {
    fs::path result = path;
    result += suffix;
    return result;
}

std::string read_text(const fs::path& path) {
    std::ifstream file(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

void write_text(const fs::path& path, const std::string& text) {
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    file << text;
    if (!file.flush()) throw std::runtime_error("cannot write " + path.string() + ": " + std::strerror(errno));
}

// Feeds the bytes already on disk to the digests: a resumed download is checked whole.
template <typename Feed>
void digest_file(const fs::path& path, Feed& feed) {
    std::ifstream file(path, std::ios::binary);
    std::vector<char> buffer(1u << 20);
    while (file) {
        file.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
        feed({buffer.data(), static_cast<std::size_t>(file.gcount())});
    }
}

void remove_part(const fs::path& part, const fs::path& version_file) {
    std::error_code ignored;
    fs::remove(part, ignored);
    fs::remove(version_file, ignored);
}

} // namespace

DownloadResult download_object(ObjectReader& reader, const std::string& bucket, const std::string& object,
                               const fs::path& destination, const DownloadOptions& options) {
    const std::string name = reader.describe(bucket, object);
    DownloadResult result;
    Duration backoff = options.first_backoff;
    // A transient failure is tried again after a wait that doubles, `options.attempts` times in all.
    const auto retry_or_throw = [&](const ObjectStoreError& error) {
        if (error.kind() != Kind::transient || result.attempts >= options.attempts) throw error;
        if (options.sleep) {
            options.sleep(backoff);
        } else {
            std::this_thread::sleep_for(backoff);
        }
        backoff = std::min(backoff * 2, options.max_backoff);
    };

    ObjectVersion version;
    for (;;) {
        try {
            ++result.attempts;
            version = reader.stat(bucket, object);
            break;
        } catch (const ObjectStoreError& error) {
            retry_or_throw(error);
        }
    }
    if (version.checksums.empty()) {
        throw std::runtime_error(name + " cannot be verified: the store keeps no checksum of it (the ETag of a multipart "
                                        "upload is none); upload it with one (aws s3 cp --checksum-algorithm SHA256) or "
                                        "put its SHA-256 beside it as " + object + ".sha256");
    }

    const fs::path part = with_suffix(destination, ".part");
    const fs::path version_file = with_suffix(destination, ".part.version");
    const std::string identity = std::to_string(version.size) + " " + version.version + "\n";
    std::error_code ec;
    std::uint64_t offset = 0;
    if (fs::exists(part, ec) && read_text(version_file) == identity && fs::file_size(part, ec) <= version.size && !ec) {
        offset = fs::file_size(part);
    } else {
        remove_part(part, version_file);
        write_text(version_file, identity);
    }
    ObjectDigest digest;
    std::optional<ChunkHasher> chunks;
    if (options.manifest_chunk_size > 0) chunks.emplace(options.manifest_chunk_size);
    const auto feed = [&digest, &chunks](std::string_view bytes) {
        digest.update(bytes);
        if (chunks) chunks->update(bytes);
    };
    if (offset > 0) digest_file(part, feed);
    result.resumed_from = offset;

    std::ofstream out(part, std::ios::binary | std::ios::app);
    if (!out) throw std::runtime_error("cannot write " + part.string() + ": " + std::strerror(errno));
    const auto started = std::chrono::steady_clock::now();
    std::uint64_t reported = offset;
    const auto report = [&] {
        if (!options.progress) return;
        const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - started;
        const double rate = elapsed.count() > 0 ? static_cast<double>(result.transferred) / elapsed.count() : 0;
        options.progress({offset, version.size, rate});
        reported = offset;
    };

    while (offset < version.size) {
        try {
            ++result.attempts;
            reader.read(bucket, object, version, offset, [&](std::string_view piece) {
                if (options.cancelled && options.cancelled()) throw DownloadCancelled(name + ": cancelled");
                if (offset + piece.size() > version.size) {
                    throw ObjectStoreError(Kind::changed, name + ": the store sent more than the object's " +
                                                              std::to_string(version.size) + " bytes");
                }
                if (!out.write(piece.data(), static_cast<std::streamsize>(piece.size()))) {
                    throw std::runtime_error("writing " + part.string() + " failed: " + std::strerror(errno));
                }
                feed(piece);
                offset += piece.size();
                result.transferred += piece.size();
                if (offset - reported >= progress_step) report();
            });
            if (offset < version.size) {
                throw ObjectStoreError(Kind::transient, name + ": the answer ended at byte " + std::to_string(offset) +
                                                            " of " + std::to_string(version.size));
            }
        } catch (const ObjectStoreError& error) {
            out.flush(); // what arrived stays, for the next attempt or run to go on from
            if (error.kind() == Kind::changed) {
                out.close();
                remove_part(part, version_file);
                throw;
            }
            retry_or_throw(error);
        }
    }
    out.close();
    if (!out) throw std::runtime_error("writing " + part.string() + " failed: " + std::strerror(errno));

    result.checksums = digest.finish();
    if (chunks) {
        result.manifest = {name, version.version, version.size, options.manifest_chunk_size, chunks->finish()};
    }
    for (const auto& expected : version.checksums) {
        if (const auto mismatch = checksum_mismatch(result.checksums, expected); !mismatch.empty()) {
            remove_part(part, version_file);
            throw ChecksumMismatch(name + ": " + mismatch);
        }
    }
    fs::rename(part, destination);
    fs::remove(version_file, ec);
    report();
    return result;
}

} // namespace macvmorx::object_store
