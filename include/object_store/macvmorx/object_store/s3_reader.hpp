#pragma once

// Objects of an S3-compatible store (AWS S3, MinIO, Cloudflare R2, Cloud Storage's XML API with
// HMAC keys), read with the REST API's HeadObject and GetObject
// (docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html, .../API_GetObject.html), each
// request signed with Signature Version 4 (sigv4.hpp) unless no credentials are set (a public
// bucket).

#include "macvmorx/base/clock.hpp"
#include "macvmorx/object_store/object_reader.hpp"
#include "macvmorx/object_store/s3_settings.hpp"

#include <memory>

namespace macvmorx::object_store {

class S3Reader final : public ObjectReader {
public:
    // `clock` dates the signatures (S3 refuses one more than 15 minutes off).
    S3Reader(S3Settings settings, const Clock& clock, Duration timeout = std::chrono::seconds{30});
    ~S3Reader() override;

    std::string describe(const std::string& bucket, const std::string& object) const override;
    // The checksums: the ETag's MD5 for a single-part upload, `x-amz-checksum-sha256` when the
    // object was uploaded with one, and a `.sha256` sidecar object beside it when there is one.
    ObjectVersion stat(const std::string& bucket, const std::string& object) override;
    void read(const std::string& bucket, const std::string& object, const ObjectVersion& version,
              std::uint64_t offset, const ObjectSink& sink) override;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// SigV4's timestamp of `time`: "20150830T123600Z".
std::string amz_date(TimePoint time);

} // namespace macvmorx::object_store
