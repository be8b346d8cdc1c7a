#pragma once

// Where an S3-compatible store is and who the agent is to it, read the way AWS's own tools read
// it (docs.aws.amazon.com/cli/latest/userguide/cli-configure-envvars.html and
// .../cli-configure-files.html), so that an operator's usual setup works: the AWS_* variables
// first, else a profile of the shared credentials file.

#include "macvmorx/object_store/sigv4.hpp"

#include <functional>
#include <optional>
#include <string>

namespace macvmorx::object_store {

struct S3Settings {
    // Empty: AWS itself (https://s3.REGION.amazonaws.com, the bucket in the host name). Set for
    // another store (MinIO, R2, Cloud Storage's XML API, a test's stand-in): the bucket then goes
    // in the path, as those stores take it.
    std::string endpoint;
    std::string region = "us-east-1";
    AwsCredentials credentials;
    std::string credentials_from; // what they came from, for the log and error messages
};

// Reads a variable of the environment (getenv, or a test's table); null when unset.
using Environment = std::function<const char*(const char* name)>;

// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN; else the profile AWS_PROFILE
// names (or "default") in AWS_SHARED_CREDENTIALS_FILE (or ~/.aws/credentials). The region from
// AWS_REGION, else AWS_DEFAULT_REGION; the endpoint from AWS_ENDPOINT_URL_S3, else
// AWS_ENDPOINT_URL. Credentials stay empty when none are found (a public bucket); a credentials
// file that names the profile but lacks a key is refused with the reason (std::runtime_error).
S3Settings s3_settings(const Environment& environment);

} // namespace macvmorx::object_store
