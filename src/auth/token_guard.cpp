#include "macvmorx/auth/token_guard.hpp"

#include "macvmorx/http/http_error.hpp"

namespace macvmorx::auth {
namespace {

constexpr std::size_t max_tracked_addresses = 100'000;

std::optional<std::string_view> bearer_token(const http::Request& request) {
    const auto header = request.header("Authorization");
    if (!header) return std::nullopt;
    std::string_view value = *header;
    constexpr std::string_view scheme = "Bearer ";
    if (value.size() <= scheme.size()) return std::nullopt;
    for (std::size_t i = 0; i < scheme.size(); ++i) {
        // The scheme is case-insensitive; the space must be a space.
        const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
        if (lower(value[i]) != lower(scheme[i])) return std::nullopt;
    }
    value.remove_prefix(scheme.size());
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
    if (value.empty()) return std::nullopt;
    return value;
}

http::HttpError unauthorized(std::string detail, bool invalid_token) {
    return std::move(http::HttpError(401, "unauthorized", std::move(detail))
                         .with_header("WWW-Authenticate", invalid_token
                                                              ? R"(Bearer realm="macvmorx", error="invalid_token")"
                                                              : R"(Bearer realm="macvmorx")"));
}

} // namespace

bool role_allows(Role role, http::Access access) {
    switch (access) {
    case http::Access::open:
    case http::Access::authenticated: return true;
    case http::Access::read: return role == Role::viewer || role == Role::ci || role == Role::admin;
    case http::Access::report: return role == Role::agent || role == Role::admin;
    case http::Access::operate: return role == Role::ci || role == Role::admin;
    case http::Access::administer: return role == Role::admin;
    }
    return false;
}

Duration FailedAuthentications::blocked_for(const std::string& address) const {
    const auto now = clock_.now();
    std::lock_guard lock{mutex_};
    const auto it = windows_.find(address);
    if (it == windows_.end() || it->second.failures < limit_.max_failures) return Duration::zero();
    const auto ends = it->second.started + limit_.window;
    return ends > now ? Duration{ends - now} : Duration::zero();
}

void FailedAuthentications::record(const std::string& address) {
    const auto now = clock_.now();
    std::lock_guard lock{mutex_};
    if (windows_.size() >= max_tracked_addresses) {
        std::erase_if(windows_, [&](const auto& entry) { return entry.second.started + limit_.window <= now; });
        if (windows_.size() >= max_tracked_addresses) windows_.clear(); // a flood of addresses: start over
    }
    auto& window = windows_[address];
    if (window.failures == 0 || window.started + limit_.window <= now) window = Window{now, 0};
    ++window.failures;
}

void TokenGuard::replace(std::shared_ptr<const TokenTable> table) {
    std::lock_guard lock{table_mutex_};
    table_ = std::move(table);
}

std::shared_ptr<const TokenTable> TokenGuard::table() const {
    std::lock_guard lock{table_mutex_};
    return table_;
}

void TokenGuard::check(http::Access access, http::Request& request) const {
    auto table = this->table();
    if (!table) return; // no tokens file: the API is open
    if (access == http::Access::open) {
        // GitHub's webhooks, the page's files and health checks carry no token; one that is
        // sent is ignored rather than judged.
        return;
    }
    if (const auto wait = failures_.blocked_for(request.remote_address); wait > Duration::zero()) {
        const auto seconds = std::chrono::ceil<std::chrono::seconds>(wait).count();
        throw std::move(http::HttpError(429, "too many failed authentications",
                                        "this address sent too many wrong tokens; try again in " +
                                            std::to_string(seconds) + " s")
                            .with_header("Retry-After", std::to_string(seconds)));
    }
    const auto presented = bearer_token(request);
    if (!presented) throw unauthorized("this API requires a token: send 'Authorization: Bearer <token>'", false);
    const Token* token = table->find(*presented);
    if (token == nullptr) {
        failures_.record(request.remote_address);
        throw unauthorized("the token is not valid (unknown, or removed from the tokens file)", true);
    }
    if (!role_allows(token->role, access)) {
        throw http::HttpError(403, "forbidden",
                              "the token '" + token->name + "' has the role " + std::string{to_string(token->role)} +
                                  ", which may not " + std::string{http::to_string(access)} + " here");
    }
    // Shares ownership of the table, so that a reload cannot free the token under a request.
    request.caller = std::shared_ptr<const Token>{table, token};
}

} // namespace macvmorx::auth
