#pragma once

// AWS Signature Version 4 (docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html),
// with which the agent will sign its requests to an S3-compatible store (AWS S3, MinIO,
// Cloudflare R2, Cloud Storage's XML API with HMAC keys). Only the header form, as S3 takes it:
// the path is given encoded once, as it goes on the wire (S3 does not normalise or encode it
// again), the query as decoded names and values. Checked against AWS's published examples.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace macvmorx::object_store {

struct AwsCredentials {
    std::string access_key_id;
    std::string secret_access_key;
    std::string session_token; // of temporary credentials; sent as X-Amz-Security-Token and signed
};

struct SigV4Request {
    std::string method = "GET";
    std::string path = "/";                                   // URI-encoded, as sent
    std::vector<std::pair<std::string, std::string>> query;  // decoded names and values
    std::vector<std::pair<std::string, std::string>> headers; // as sent; Host among them
    std::string payload_hash;                                 // hex SHA-256 of the body, or UNSIGNED-PAYLOAD
};

struct SigV4Scope {
    std::string timestamp; // the request's time, YYYYMMDD'T'HHMMSS'Z' (also its X-Amz-Date)
    std::string region;    // "us-east-1"
    std::string service;   // "s3"
};

struct SigV4Signature {
    std::string canonical_request;
    std::string string_to_sign;
    std::string signed_headers; // "host;range;x-amz-content-sha256;x-amz-date"
    std::string signature;      // hex
    std::string authorization;  // the Authorization header's value
};

// Signs `request` as it stands: every header given is signed (the caller adds X-Amz-Date,
// X-Amz-Content-Sha256 and, with a session token, X-Amz-Security-Token before signing).
SigV4Signature sign_v4(const SigV4Request& request, const SigV4Scope& scope, const AwsCredentials& credentials);

// RFC 3986 percent-encoding as SigV4 wants it: unreserved characters (A-Z a-z 0-9 - . _ ~) stay,
// every other byte is %XX in upper case; '/' stays when `keep_slash` (paths).
std::string uri_encode(std::string_view text, bool keep_slash);

// Lower-case hex of the SHA-256 of `data`: a payload's hash (the empty body's is
// e3b0c442...b855).
std::string sha256_hex(std::string_view data);

} // namespace macvmorx::object_store
