#pragma once

// Objects of Google Cloud Storage, read with its JSON API
// (cloud.google.com/storage/docs/json_api/v1/objects/get): the object's metadata (size,
// generation, `crc32c`, `md5Hash`), then its bytes with `alt=media`, held to the generation the
// metadata named and resumed with `Range`. Requests carry an OAuth 2.0 token (google_tokens.hpp)
// unless no credentials are set (a public bucket, an emulator).

#include "macvmorx/base/clock.hpp"
#include "macvmorx/object_store/gcs_settings.hpp"
#include "macvmorx/object_store/object_reader.hpp"

#include <memory>

namespace macvmorx::object_store {

class GcsReader final : public ObjectReader {
public:
    GcsReader(GcsSettings settings, const Clock& clock, Duration timeout = std::chrono::seconds{30});
    ~GcsReader() override;

    std::string describe(const std::string& bucket, const std::string& object) const override;
    // The checksums: `crc32c` always, `md5Hash` unless the object was composed of others.
    // An object stored gzip-encoded is refused: its checksums are of bytes the agent would not
    // import.
    ObjectVersion stat(const std::string& bucket, const std::string& object) override;
    void read(const std::string& bucket, const std::string& object, const ObjectVersion& version,
              std::uint64_t offset, const ObjectSink& sink) override;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace macvmorx::object_store
