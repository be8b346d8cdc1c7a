#include "macvmorx/object_store/google_tokens.hpp"

#include "macvmorx/http/base_url.hpp"
#include "macvmorx/http/web_client.hpp"
#include "macvmorx/jwt/rs256.hpp"
#include "macvmorx/object_store/object_reader.hpp"
#include "macvmorx/object_store/sigv4.hpp"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

extern char** environ;

namespace macvmorx::object_store {
namespace {

using Kind = ObjectStoreError::Kind;
using namespace std::chrono_literals;

// Google's token endpoint, where a key file names none.
constexpr const char* default_token_uri = "https://oauth2.googleapis.com/token";

// A token is given up this long before the service said it expires, so that none expires on
// the way to the store.
constexpr auto expiry_margin = 60s;

std::string form(std::initializer_list<std::pair<const char*, std::string>> fields) {
    std::string body;
    for (const auto& [name, value] : fields) {
        if (!body.empty()) body += '&';
        body += name;
        body += '=';
        body += uri_encode(value, false);
    }
    return body;
}

// Tokens from an OAuth 2.0 token endpoint: a service account's signed JWT, or a refresh token.
class OAuthTokens final : public AccessTokens {
public:
    OAuthTokens(const GcsSettings& settings, const Clock& clock, Duration timeout)
        : settings_{settings}, clock_{clock}, key_(nlohmann::json::parse(settings.key_json)) {
        token_uri_ = key_.value("token_uri", std::string{default_token_uri});
        const auto base = http::BaseUrl::parse(token_uri_);
        target_ = base.path_prefix.empty() ? "/" : base.path_prefix;
        auto origin = base;
        origin.path_prefix.clear();
        http::WebClientOptions options;
        options.timeout = timeout;
        client_ = std::make_unique<http::WebClient>(origin, options);
    }

    std::string token() override {
        if (!token_.empty() && clock_.now() < expires_) return token_;
        const std::string body = grant();
        http::ClientResponse response;
        try {
            response = client_->request(http::Method::post, target_, body,
                                        {{"Content-Type", "application/x-www-form-urlencoded"}});
        } catch (const std::system_error& error) {
            throw ObjectStoreError(Kind::transient, "asking " + token_uri_ + " for a token: " + error.what());
        }
        const auto answer = nlohmann::json::parse(response.body, nullptr, false);
        if (response.status != 200) {
            std::string reason = std::to_string(response.status);
            if (answer.is_object()) {
                reason += " " + answer.value("error", std::string{});
                if (const auto description = answer.value("error_description", std::string{}); !description.empty()) {
                    reason += " (" + description + ")";
                }
            }
            const auto kind = response.status == 429 || response.status >= 500 ? Kind::transient : Kind::denied;
            throw ObjectStoreError(kind, token_uri_ + " refused the credentials from " + settings_.credentials_from + ": " + reason);
        }
        if (!answer.is_object() || !answer.contains("access_token") || !answer["access_token"].is_string()) {
            throw ObjectStoreError(Kind::refused, token_uri_ + " answered no access_token");
        }
        token_ = answer["access_token"].get<std::string>();
        const auto lifetime = std::chrono::seconds{answer.value("expires_in", 3600)};
        expires_ = clock_.now() + std::max<Duration>(lifetime - expiry_margin, 0s);
        return token_;
    }

    void expire() override { token_.clear(); }

private:
    std::string grant() const {
        if (settings_.credentials == GcsSettings::Credentials::authorized_user) {
            return form({{"grant_type", "refresh_token"},
                         {"client_id", key_["client_id"].get<std::string>()},
                         {"client_secret", key_["client_secret"].get<std::string>()},
                         {"refresh_token", key_["refresh_token"].get<std::string>()}});
        }
        // An hour at most, Google's limit for the assertion.
        const auto now = std::chrono::duration_cast<std::chrono::seconds>(clock_.now().time_since_epoch()).count();
        nlohmann::ordered_json claims{{"iss", key_["client_email"]}, {"scope", storage_read_scope},
                                      {"aud", token_uri_},           {"iat", now},
                                      {"exp", now + 3600}};
        std::string assertion;
        try {
            assertion = jwt::sign_rs256(claims.dump(), key_["private_key"].get<std::string>(),
                                        key_.value("private_key_id", std::string{}));
        } catch (const std::runtime_error& error) {
            throw ObjectStoreError(Kind::denied, "the service account's private_key in " + settings_.credentials_from + ": " +
                                                     error.what());
        }
        return form({{"grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"}, {"assertion", assertion}});
    }

    GcsSettings settings_;
    const Clock& clock_;
    nlohmann::json key_;
    std::string token_uri_;
    std::string target_;
    std::unique_ptr<http::WebClient> client_;
    std::string token_;
    TimePoint expires_{};
};

// What a command printed on its standard output, within `timeout` (killed after it). Throws
// ObjectStoreError (denied) when it fails.
std::string run_command(const std::string& command, Duration timeout) {
    int pipe_ends[2];
    if (::pipe2(pipe_ends, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), "pipe");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, pipe_ends[1], STDOUT_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    const char* argv[] = {"/bin/sh", "-c", command.c_str(), nullptr};
    pid_t child = 0;
    const int spawned = ::posix_spawn(&child, "/bin/sh", &actions, nullptr, const_cast<char**>(argv), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(pipe_ends[1]);
    if (spawned != 0) {
        ::close(pipe_ends[0]);
        throw ObjectStoreError(Kind::denied, "cannot run the token command: " + std::string{std::strerror(spawned)});
    }
    std::string output;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    bool timed_out = false;
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left <= 0ms) {
            timed_out = true;
            break;
        }
        pollfd readable{pipe_ends[0], POLLIN, 0};
        const int ready = ::poll(&readable, 1, static_cast<int>(left.count()));
        if (ready < 0 && errno != EINTR) break;
        if (ready <= 0) continue; // the time is up (checked above), or a signal
        char buffer[4096];
        const auto got = ::read(pipe_ends[0], buffer, sizeof buffer);
        if (got > 0) {
            if (output.size() < 64 * 1024) output.append(buffer, static_cast<std::size_t>(got));
            continue;
        }
        if (got == 0 || (errno != EINTR && errno != EAGAIN)) break;
    }
    ::close(pipe_ends[0]);
    if (timed_out) ::kill(child, SIGKILL);
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    if (timed_out) throw ObjectStoreError(Kind::transient, "the token command did not finish in time");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        throw ObjectStoreError(Kind::denied, "the token command failed (exit status " +
                                                 std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) +
                                                 "); run it as the agent's user to see why");
    }
    return output;
}

// Tokens a command prints (`gcloud auth print-access-token`), kept for a few minutes: the
// command says nothing of their expiry, and gcloud hands out one that lives an hour at least
// from when it fetched it.
class CommandTokens final : public AccessTokens {
public:
    CommandTokens(const GcsSettings& settings, const Clock& clock, Duration timeout)
        : command_{settings.token_command}, clock_{clock}, timeout_{timeout} {}

    std::string token() override {
        if (!token_.empty() && clock_.now() < expires_) return token_;
        std::string output = run_command(command_, timeout_);
        const auto start = output.find_first_not_of(" \t\r\n");
        const auto end = output.find_last_not_of(" \t\r\n");
        if (start == std::string::npos || output.find_first_of(" \t\r\n", start) <= end) {
            throw ObjectStoreError(Kind::denied, "the token command printed " +
                                                     std::string{start == std::string::npos ? "nothing" : "more than one word"} +
                                                     "; it should print an access token alone");
        }
        token_ = output.substr(start, end - start + 1);
        expires_ = clock_.now() + 5min;
        return token_;
    }

    void expire() override { token_.clear(); }

private:
    std::string command_;
    const Clock& clock_;
    Duration timeout_;
    std::string token_;
    TimePoint expires_{};
};

} // namespace

std::unique_ptr<AccessTokens> access_tokens(const GcsSettings& settings, const Clock& clock, Duration timeout) {
    switch (settings.credentials) {
    case GcsSettings::Credentials::none: return nullptr;
    case GcsSettings::Credentials::command: return std::make_unique<CommandTokens>(settings, clock, timeout);
    case GcsSettings::Credentials::service_account:
    case GcsSettings::Credentials::authorized_user: return std::make_unique<OAuthTokens>(settings, clock, timeout);
    }
    return nullptr;
}

} // namespace macvmorx::object_store
