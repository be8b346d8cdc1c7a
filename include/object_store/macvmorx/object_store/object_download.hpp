#pragma once

// An object downloaded to disk: streamed (never held in memory), resumed with a Range request
// after a cut or a restart, retried with backoff, checked against every checksum the store keeps
// before it takes its final name.

#include "macvmorx/base/clock.hpp"
#include "macvmorx/object_store/checksum.hpp"
#include "macvmorx/object_store/chunk_manifest.hpp"
#include "macvmorx/object_store/object_reader.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>

namespace macvmorx::object_store {

struct DownloadProgress {
    std::uint64_t bytes = 0; // on disk, resumed ones included
    std::uint64_t total = 0;
    double bytes_per_second = 0; // over this run's transfer

    double fraction() const { return total == 0 ? 1.0 : static_cast<double>(bytes) / static_cast<double>(total); }
};

struct DownloadOptions {
    int attempts = 6;                                   // reads of the rest after a transient failure
    Duration first_backoff = std::chrono::seconds{1};   // doubled after each, up to
    Duration max_backoff = std::chrono::seconds{60};
    // How the wait between attempts is spent (a test's clock); std::this_thread::sleep_for if unset.
    std::function<void(Duration)> sleep;
    std::function<void(const DownloadProgress&)> progress; // at most about once per 16 MiB, and at the end
    // Asked before each piece is written: true stops the download (DownloadCancelled), the part
    // kept for a later run.
    std::function<bool()> cancelled;
    // When not 0, the result carries a chunk manifest of chunks this long, made in the same pass
    // as the checksums, for the peers this Mac will serve the object to.
    std::uint64_t manifest_chunk_size = 0;
};

struct DownloadResult {
    Checksums checksums;               // of the whole object, verified
    std::uint64_t resumed_from = 0;     // bytes found on disk from an earlier run and kept
    std::uint64_t transferred = 0;      // bytes this run took from the store
    int attempts = 0;                   // reads it took
    ChunkManifest manifest;             // with DownloadOptions::manifest_chunk_size, else empty
};

class DownloadCancelled : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The download does not match a checksum the store keeps: the file is deleted.
class ChecksumMismatch : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Downloads `object` of `bucket` to `destination`. The bytes go to `destination` + ".part", with
// the object's version in `destination` + ".part.version", so that a later call (after a cut or
// an agent restart) goes on from where the part ends if the store still holds that version, and
// starts over if not. Once whole, the part is checked against every checksum of the version and
// renamed to `destination`. Throws ObjectStoreError (after the attempts, for transient failures),
// ChecksumMismatch, or std::runtime_error when the object cannot be verified (the store keeps no
// checksum of it) or the disk refuses.
DownloadResult download_object(ObjectReader& reader, const std::string& bucket, const std::string& object,
                               const std::filesystem::path& destination, const DownloadOptions& options = {});

} // namespace macvmorx::object_store
