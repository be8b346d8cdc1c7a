#pragma once

// Where Google Cloud Storage is and who the agent is to it, read the way Google's own client
// libraries read it (cloud.google.com/docs/authentication/application-default-credentials), so
// that an operator's usual setup works, plus a command that prints a token for those who keep
// their credentials in gcloud.

#include "macvmorx/object_store/s3_settings.hpp" // Environment

#include <string>

namespace macvmorx::object_store {

struct GcsSettings {
    // The JSON API's origin: Cloud Storage itself, or an emulator's (STORAGE_EMULATOR_HOST).
    std::string endpoint = "https://storage.googleapis.com";

    enum class Credentials {
        none,            // anonymous: a public bucket, or an emulator
        service_account, // a key file of a service account: OAuth 2.0's JWT-bearer grant
        authorized_user, // gcloud's application default credentials: a refresh token
        command,         // a command that prints an access token (`gcloud auth print-access-token`)
    };
    Credentials credentials = Credentials::none;
    std::string key_json;      // the key file's text, for service_account and authorized_user
    std::string token_command; // for command
    std::string credentials_from; // what they came from, for the log and error messages
};

// MACVMORX_GCS_TOKEN_COMMAND first (run by /bin/sh); else the key file GOOGLE_APPLICATION_CREDENTIALS
// names; else gcloud's application default credentials
// ($CLOUDSDK_CONFIG or ~/.config/gcloud, application_default_credentials.json); else none. The
// endpoint from STORAGE_EMULATOR_HOST ("host:port" means http://host:port, as Google's Go client
// reads it), where credentials are not needed. A key file that cannot be read or is not a
// service account's or an authorized user's is refused with the reason (std::runtime_error).
GcsSettings gcs_settings(const Environment& environment);

} // namespace macvmorx::object_store
