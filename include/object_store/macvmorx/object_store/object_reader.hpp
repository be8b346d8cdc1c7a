#pragma once

// What the agent asks of a storage bucket, whichever store holds it: what an object is (its size,
// its version, the checksums the store keeps for it) and its bytes from an offset on, streamed.
// One implementation per store's protocol: S3 (s3_reader.hpp); Cloud Storage's JSON API next.

#include "macvmorx/object_store/checksum.hpp"

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace macvmorx::object_store {

// An object's version as the store describes it. A download holds every read to this version:
// the object replaced meanwhile is a new download, never a mix of two.
struct ObjectVersion {
    std::uint64_t size = 0;
    std::string version; // S3's ETag, Cloud Storage's generation
    std::vector<ExpectedChecksum> checksums; // none: the object cannot be verified
};

// Why a store refused or failed, so that a caller knows what to do about it.
class ObjectStoreError : public std::runtime_error {
public:
    enum class Kind {
        not_found, // no such bucket or object
        denied,    // credentials missing, wrong or without the right (401, 403)
        changed,   // the object is not the version being downloaded any more
        transient, // the network, a timeout, 429 or 5xx: worth another try later
        refused,   // anything else the store said no to
    };
    ObjectStoreError(Kind kind, const std::string& message) : std::runtime_error(message), kind_{kind} {}
    Kind kind() const { return kind_; }

private:
    Kind kind_;
};

// Receives an object's bytes piece by piece; may throw to stop the read.
using ObjectSink = std::function<void(std::string_view piece)>;

class ObjectReader {
public:
    virtual ~ObjectReader() = default;

    // "s3://images/sequoia.tvm", for messages.
    virtual std::string describe(const std::string& bucket, const std::string& object) const = 0;

    // The object's size, version and checksums. Throws ObjectStoreError.
    virtual ObjectVersion stat(const std::string& bucket, const std::string& object) = 0;

    // The bytes of `version` from `offset` to its end, into `sink` (an HTTP Range request).
    // Throws ObjectStoreError (changed, when the store now holds another version), or what the
    // sink threw.
    virtual void read(const std::string& bucket, const std::string& object, const ObjectVersion& version,
                      std::uint64_t offset, const ObjectSink& sink) = 0;
};

} // namespace macvmorx::object_store
