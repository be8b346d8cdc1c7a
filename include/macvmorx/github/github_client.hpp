#pragma once

#include "macvmorx/actions/runner_registrar.hpp"
#include "macvmorx/base/clock.hpp"
#include "macvmorx/http/web_client.hpp"

#include <cstdint>
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
// of runners. As a GitHub App it exchanges a JWT for an installation token, cached until five
// minutes before it expires. Failures become RegistrarErrors that say whether to retry (5xx,
// rate limits with GitHub's Retry-After or X-RateLimit-Reset, network errors) or not.
//
// Threading: calls are serialised (one connection); made from the worker thread.
class GithubClient final : public actions::RunnerRegistrar {
public:
    GithubClient(http::BaseUrl base, Credentials credentials, const Clock& clock, http::WebClientOptions options = {});
    ~GithubClient() override;

    actions::RunnerRegistration register_runner(const config::RunnerPool& pool, const std::string& runner_name) override;
    void remove_runner(const config::RunnerPool& pool, std::int64_t runner_id) override;
    std::vector<actions::RegisteredRunner> list_runners(const config::RunnerPool& pool) override;
    std::vector<WorkflowJobEvent> queued_jobs(const config::RunnerPool& pool) override;

private:
    http::ClientResponse call(http::Method method, const std::string& target, const std::string& body);
    http::ClientResponse send(http::Method method, const std::string& target, const std::string& body,
                              const std::string& authorization);
    std::string authorization();
    std::vector<WorkflowJobEvent> queued_jobs_of(const std::string& repository);
    // A GET that must answer 200; throws RegistrarError otherwise.
    http::ClientResponse get_ok(const std::string& target, const std::string& what);
    actions::RegistrarError error_of(const http::ClientResponse& response, const std::string& what) const;

    http::BaseUrl base_;
    Credentials credentials_;
    const Clock& clock_;
    http::WebClientOptions options_;
    std::mutex mutex_;
    std::unique_ptr<http::WebClient> client_;
    std::string installation_token_;
    TimePoint installation_token_expires_{};
};

} // namespace macvmorx::github
