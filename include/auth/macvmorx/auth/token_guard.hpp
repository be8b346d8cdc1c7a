#pragma once

#include "macvmorx/auth/token_table.hpp"
#include "macvmorx/base/clock.hpp"
#include "macvmorx/http/router.hpp"

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace macvmorx::auth {

// Whether a role may call routes of an access level (the table in docs/security.md).
bool role_allows(Role role, http::Access access);

struct FailureLimit {
    int max_failures = 10;                       // wrong tokens from one address...
    Duration window = std::chrono::seconds{60};  // ...within this long, then 429 until it ends
};

// Counts wrong tokens per client address, so that guessing tokens is slow and cheap to refuse.
// Memory stays bounded: addresses whose window has ended are dropped once the table grows.
//
// Threading: safe from any thread (one mutex; touched only by failed or refused requests and
// by the check of a blocked address).
class FailedAuthentications {
public:
    FailedAuthentications(const Clock& clock, FailureLimit limit) : clock_{clock}, limit_{limit} {}

    // How long `address` must wait, or zero when it may try.
    Duration blocked_for(const std::string& address) const;
    void record(const std::string& address);

private:
    struct Window {
        TimePoint started;
        int failures = 0;
    };
    const Clock& clock_;
    FailureLimit limit_;
    mutable std::mutex mutex_;
    std::unordered_map<std::string, Window> windows_;
};

// The access guard of an API that requires tokens: `Authorization: Bearer <token>`, checked
// against the tokens file's hashes. No token or an unknown one: 401 with WWW-Authenticate; a
// token whose role may not call the route: 403; too many wrong tokens from one address: 429.
// Without a token table (no --tokens-file) every request passes, as before tokens existed.
//
// Threading: `check` is safe from any thread; `replace` swaps the table atomically (SIGHUP),
// and requests already admitted keep the token they were admitted with.
class TokenGuard final : public http::AccessGuard {
public:
    TokenGuard(const Clock& clock, FailureLimit limit = {}) : failures_{clock, limit} {}

    void check(http::Access access, http::Request& request) const override;

    void replace(std::shared_ptr<const TokenTable> table);
    bool requires_tokens() const { return table() != nullptr; }

private:
    std::shared_ptr<const TokenTable> table() const;

    // A mutex rather than std::atomic<std::shared_ptr>: libstdc++'s lock-bit implementation
    // is invisible to ThreadSanitizer, and the copy under an uncontended lock is cheap.
    mutable std::mutex table_mutex_;
    std::shared_ptr<const TokenTable> table_;
    mutable FailedAuthentications failures_;
};

} // namespace macvmorx::auth
