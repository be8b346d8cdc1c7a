// The access guard of an API with tokens (TokenGuard::check): a fixed table of four tokens, one
// per role (the agent's bound to nodes=mac-*), and fuzzed Authorization values. An input is three
// bytes, then header values one per line: the first byte picks the access level, the second the
// client's address (three, so that failures add up), the header's spelling or its absence, the
// third how many requests are made and how far a ManualClock moves between them. Request i sends
// value i (cycling), with three wrong tokens per minute allowed.
//
// Only HttpError 401, 403 or 429 escapes; open routes pass without judging. A request that passes
// a protected level has a caller whose role may call it, the token that was presented. A 401 says
// WWW-Authenticate, with error="invalid_token" exactly when a token was sent; a 403 is for a known
// token of the wrong role; a 429 comes after three wrong tokens within the minute and says when to
// come back. For values an HTTP parser delivers (no control characters but tab), the outcome is
// the one that `Bearer <token>` (scheme in any case, spaces around the token) calls for.

#include "property.hpp"

#include "macvmorx/auth/token_guard.hpp"
#include "macvmorx/http/http_error.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

using namespace macvmorx;
using fuzz::expect;
using http::Access;

namespace {

struct Known {
    const char* token;
    auth::Role role;
};
constexpr Known known[] = {
    {"agent-secret", auth::Role::agent},
    {"ci-secret", auth::Role::ci},
    {"viewer-secret", auth::Role::viewer},
    {"admin-secret", auth::Role::admin},
};

std::shared_ptr<const auth::TokenTable> table() {
    static const auto instance = std::make_shared<const auth::TokenTable>(auth::TokenTable::parse(
        "sha256:" + auth::sha256_hex(known[0].token) + " agent mac-agent nodes=mac-*\n" +
        "sha256:" + auth::sha256_hex(known[1].token) + " ci pipeline\n" +
        "sha256:" + auth::sha256_hex(known[2].token) + " viewer dashboard\n" +
        "sha256:" + auth::sha256_hex(known[3].token) + " admin operator\n"));
    return instance;
}

constexpr auth::FailureLimit limit{3, std::chrono::seconds{60}};
constexpr Access levels[] = {Access::open,    Access::authenticated, Access::read,
                             Access::report,  Access::operate,       Access::administer};
const char* const addresses[] = {"127.0.0.1", "10.0.0.7", "::1"};

// What an HTTP parser may deliver as a header value.
bool is_field_value(std::string_view value) {
    return std::none_of(value.begin(), value.end(), [](char c) {
        const auto byte = static_cast<unsigned char>(c);
        return (byte < 0x20 && c != '\t') || byte == 0x7f;
    });
}

// The token of `Bearer <token>`: the scheme in any case, spaces around the token ignored.
std::optional<std::string_view> bearer(std::optional<std::string_view> value) {
    if (!value || value->size() < 7) return std::nullopt;
    constexpr std::string_view scheme = "bearer ";
    for (std::size_t i = 0; i < scheme.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>((*value)[i])) != scheme[i]) return std::nullopt;
    }
    auto token = value->substr(7);
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
    if (token.empty()) return std::nullopt;
    return token;
}

const Known* known_token(std::string_view token) {
    for (const auto& candidate : known) {
        if (token == candidate.token) return &candidate;
    }
    return nullptr;
}

std::vector<std::string_view> lines_of(std::string_view text) {
    std::vector<std::string_view> lines;
    while (true) {
        const auto newline = text.find('\n');
        lines.push_back(text.substr(0, newline));
        if (newline == std::string_view::npos) return lines;
        text.remove_prefix(newline + 1);
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 3) return 0;
    const Access access = levels[data[0] % std::size(levels)];
    const std::string address = addresses[(data[1] & 0x0f) % std::size(addresses)];
    const bool sends_header = (data[1] & 0x20) == 0;
    const std::string header_name = (data[1] & 0x10) != 0 ? "authorization" : "Authorization";
    const int requests = 1 + (data[2] & 0x0f);
    const auto step = std::chrono::seconds{5 * (data[2] >> 4)};
    const auto values = lines_of(fuzz::as_text(data + 3, size - 3));

    ManualClock clock;
    auth::TokenGuard guard{clock, limit};
    guard.replace(table());
    std::map<std::string, std::deque<TimePoint>> wrong_tokens; // by address, as the model counts them

    for (int i = 0; i < requests; ++i) {
        if (i > 0) clock.advance(step);
        const auto now = clock.now();
        http::Request request;
        request.remote_address = address;
        const std::string value{values[static_cast<std::size_t>(i) % values.size()]};
        if (sends_header) request.headers.push_back({header_name, value});

        auto& failures = wrong_tokens[address];
        while (!failures.empty() && failures.front() + limit.window <= now) failures.pop_front();
        const auto presented = bearer(sends_header ? std::optional<std::string_view>{value} : std::nullopt);
        const Known* holder = presented ? known_token(*presented) : nullptr;
        const bool modelled = !sends_header || is_field_value(value);

        std::optional<http::HttpError> refusal;
        try {
            guard.check(access, request);
        } catch (const http::HttpError& error) {
            refusal = error;
        }

        if (access == Access::open) {
            expect(!refusal && !request.caller, "open routes pass without judging the token");
            continue;
        }
        if (!refusal) {
            expect(request.caller != nullptr, "a request that passes has a caller");
            expect(auth::role_allows(request.caller->role, access), "the caller's role may call the route");
            if (modelled) {
                expect(holder != nullptr && holder->role == request.caller->role,
                       "only a known token passes, as its holder");
                expect(table()->find(*presented) == request.caller.get(), "the caller is the table's entry");
            }
            continue;
        }
        const int status = refusal->status();
        expect(status == 401 || status == 403 || status == 429, "refusals are 401, 403 or 429");
        expect(!request.caller, "a refused request has no caller");
        if (status == 401) {
            const auto challenge = http::find_header(refusal->headers(), "WWW-Authenticate");
            expect(challenge.has_value(), "a 401 says WWW-Authenticate");
            const bool invalid = challenge->find("invalid_token") != std::string_view::npos;
            if (invalid) failures.push_back(now);
            if (modelled) {
                expect(holder == nullptr, "a known token is never answered 401");
                expect(invalid == presented.has_value(), "error=\"invalid_token\" exactly when a token was sent");
            }
        } else if (status == 403) {
            if (modelled) expect(holder != nullptr, "a 403 is for a known token");
            expect(holder == nullptr || !auth::role_allows(holder->role, access), "a 403 is for a role that may not");
        } else {
            expect(failures.size() >= static_cast<std::size_t>(limit.max_failures),
                   "a 429 comes only after enough wrong tokens within the window");
            const auto retry = http::find_header(refusal->headers(), "Retry-After").value_or("");
            int seconds = 0;
            const auto [end, error] = std::from_chars(retry.data(), retry.data() + retry.size(), seconds);
            expect(error == std::errc{} && end == retry.data() + retry.size() && seconds >= 1 && seconds <= 60,
                   "a 429 says Retry-After, 1 to 60 seconds");
        }
        if (modelled && status != 429) {
            const bool allowed = holder != nullptr && auth::role_allows(holder->role, access);
            expect(!allowed, "a known token whose role may call the route is refused only with 429");
        }
    }
    return 0;
}
