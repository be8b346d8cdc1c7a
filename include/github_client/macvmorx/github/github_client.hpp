#pragma once

#include "macvmorx/github/runner_registrar.hpp"
#include "macvmorx/base/clock.hpp"
#include "macvmorx/http/web_client.hpp"

#include <nlohmann/json_fwd.hpp>

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace macvmorx::github {

// How macvmorx proves itself to GitHub: a GitHub App (its id, the installation, its private
// key), or a fine-grained token. Secrets, read from files; never logged.
struct Credentials {
    std::string token;
    std::optional<std::int64_t> app_id;
    std::optional<std::int64_t> installation_id;
    std::string app_key_pem;
};

// GitHub's REST API for self-hosted runners: just-in-time runner configurations and the removal
// of runners, and what reconciliation asks (runs, jobs, runners). As a GitHub App it exchanges a
// JWT for an installation token, cached until five minutes before it expires. Lists are read to
// their last page (the `Link` header's rel="next"). GETs are conditional: the ETag of each answer
// is kept, and a 304 (which GitHub does not count against the rate limit) reuses the last body.
// Failures become RegistrarErrors that say whether to retry: 5xx and network errors; rate
// limits as GitHub's docs ask ("Rate limits for the REST API": Retry-After if given, else the
// reset time when X-RateLimit-Remaining is 0, else at least a minute), marked so that every call
// waits.
//
// Threading: calls are serialised (one connection); made from the worker thread.
class GithubClient final : public github::RunnerRegistrar {
public:
    GithubClient(http::BaseUrl base, Credentials credentials, const Clock& clock, http::WebClientOptions options = {});
    ~GithubClient() override;

    github::RunnerRegistration register_runner(const config::RunnerPool& pool, const std::string& runner_name) override;
    void remove_runner(const config::RunnerPool& pool, std::int64_t runner_id) override;
    std::vector<github::RegisteredRunner> list_runners(const config::RunnerPool& pool) override;
    std::optional<github::RegisteredRunner> runner(const config::RunnerPool& pool, std::int64_t runner_id) override;
    std::vector<WorkflowJobEvent> queued_jobs(const std::string& repository) override;
    std::vector<std::string> repositories(const config::RunnerPool& pool) override;
    github::JobStatus job_status(const std::string& repository, std::int64_t job_id) override;
    std::optional<std::int64_t> rate_limit_remaining() const override;

private:
    http::ClientResponse call(http::Method method, const std::string& target, const std::string& body);
    http::ClientResponse send(http::Method method, const std::string& target, const std::string& body,
                              const std::string& authorization);
    std::string authorization();
    // A GET that must answer 200 (or 304, answered from the cache); throws RegistrarError otherwise.
    http::ClientResponse get_ok(const std::string& target, const std::string& what);
    // Every page of a list: the items under `key` ("" for a bare array) of `target` and of each
    // rel="next" page after it, at most `max_pages`.
    std::vector<nlohmann::json> get_all(const std::string& target, const std::string& key, const std::string& what,
                                        int max_pages = 50);
    // The target of a rel="next" link of this answer, relative to the API's base; empty at the end.
    std::string next_page(const http::ClientResponse& response) const;
    github::RegistrarError error_of(const http::ClientResponse& response, const std::string& what) const;

    http::BaseUrl base_;
    Credentials credentials_;
    const Clock& clock_;
    http::WebClientOptions options_;
    std::mutex mutex_;
    std::unique_ptr<http::WebClient> client_;
    std::string installation_token_;
    TimePoint installation_token_expires_{};
    // Conditional requests: the ETag and body of the last 200 of each GET target.
    struct Cached {
        std::string etag;
        std::string body;
        std::vector<http::Header> headers;
    };
    std::map<std::string, Cached> cache_;
    std::deque<std::string> cache_order_;
    std::atomic<std::int64_t> rate_limit_remaining_{-1};
};

} // namespace macvmorx::github
