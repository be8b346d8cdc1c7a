#pragma once

// OAuth 2.0 access tokens for Cloud Storage's JSON API, from the credentials gcs_settings found:
// a service account's key (the JWT-bearer grant, RFC 7523, as
// developers.google.com/identity/protocols/oauth2/service-account#httprest describes it: a JWT
// signed with the account's key, exchanged at its token_uri), gcloud's authorized user (the
// refresh-token grant, RFC 6749 §6), or a command that prints a token. Each token is kept until
// a minute before it expires, or until the store refuses it.
//
// Threading: one thread at a time (the download's).

#include "macvmorx/base/clock.hpp"
#include "macvmorx/object_store/gcs_settings.hpp"

#include <memory>
#include <string>

namespace macvmorx::object_store {

class AccessTokens {
public:
    virtual ~AccessTokens() = default;

    // A token to send as "Authorization: Bearer <token>". Throws ObjectStoreError: denied when
    // the credentials are refused, transient when the token service cannot be reached.
    virtual std::string token() = 0;

    // The store refused the token (401): the next token() gets a new one.
    virtual void expire() = 0;
};

// The scope asked for: reading objects is all the agent does.
inline constexpr const char* storage_read_scope = "https://www.googleapis.com/auth/devstorage.read_only";

// Null for GcsSettings::Credentials::none (anonymous requests). `clock` dates the JWTs and the
// tokens' expiry; `timeout` bounds each exchange with the token service, and a token command's run.
std::unique_ptr<AccessTokens> access_tokens(const GcsSettings& settings, const Clock& clock, Duration timeout);

} // namespace macvmorx::object_store
