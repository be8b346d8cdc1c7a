#pragma once

// GitHub's REST API for self-hosted runners as the tests need it, on a loopback port: an App's
// installation token exchange, just-in-time runner configurations and runner removal. It
// records every call and fails on demand.

#include "macvmorx/config/server_config.hpp"
#include "macvmorx/http/router.hpp"
#include "macvmorx/http/server.hpp"
#include "test_daemon.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

namespace macvmorx::testing {

class FakeGithub {
public:
    struct JitRequest {
        std::string path;
        std::string authorization;
        nlohmann::json body;
    };

    FakeGithub() {
        router_.add({http::Method::post, "/app/installations/{id}/access_tokens",
                     [this](const http::Request& request) {
                         std::lock_guard lock{mutex_};
                         token_authorizations_.push_back(std::string(request.header("Authorization").value_or("")));
                         return http::Response::json(
                             201, R"({"token":"ghs_installation_token","expires_at":"2099-01-01T00:00:00Z"})");
                     },
                     "token"});
        router_.add({http::Method::post, "/orgs/{org}/actions/runners/generate-jitconfig",
                     [this](const http::Request& request) {
                         std::lock_guard lock{mutex_};
                         if (!failures_.empty()) {
                             const int status = failures_.front();
                             failures_.pop_front();
                             jit_failures_answered_++;
                             return http::Response::json(status, R"({"message":"injected failure"})");
                         }
                         auto body = nlohmann::json::parse(request.body);
                         jit_requests_.push_back({request.path, std::string(request.header("Authorization").value_or("")), body});
                         const auto id = next_runner_id_++;
                         return http::Response::json(
                             201, nlohmann::json{{"runner", {{"id", id}, {"name", body["name"]}}},
                                                 {"encoded_jit_config", "JIT-SECRET-" + body["name"].get<std::string>()}}
                                      .dump());
                     },
                     "jit", http::Body::json});
        router_.add({http::Method::del, "/orgs/{org}/actions/runners/{id}",
                     [this](const http::Request& request) {
                         std::lock_guard lock{mutex_};
                         removed_.push_back(std::stoll(std::string(request.path_param("id"))));
                         http::Response response;
                         response.status = 204;
                         return response;
                     },
                     "remove"});
        router_.add({http::Method::get, "/orgs/{org}/actions/runners",
                     [this](const http::Request&) {
                         std::lock_guard lock{mutex_};
                         return http::Response::json(200, nlohmann::json{{"total_count", listed_.size()}, {"runners", listed_}}.dump());
                     },
                     "runners"});
        router_.add({http::Method::get, "/orgs/{org}/repos",
                     [](const http::Request&) {
                         return http::Response::json(200, R"([{"full_name":"acme/app"},{"full_name":"acme/docs"}])");
                     },
                     "repos"});
        router_.add({http::Method::get, "/installation/repositories",
                     [](const http::Request&) {
                         return http::Response::json(200, R"({"total_count":1,"repositories":[{"full_name":"acme/app"}]})");
                     },
                     "installation repos"});
        router_.add({http::Method::get, "/repos/{owner}/{repo}/actions/runs",
                     [this](const http::Request& request) {
                         // When offered, acme/app has one queued run; other repositories none.
                         const bool queued = offer_queued_run_ &&
                                             request.query_param("status") == std::optional<std::string_view>{"queued"} &&
                                             request.path_param("repo") == "app";
                         return http::Response::json(
                             200, queued ? R"({"total_count":1,"workflow_runs":[{"id":7001,"status":"queued"}]})"
                                         : R"({"total_count":0,"workflow_runs":[]})");
                     },
                     "runs"});
        router_.add({http::Method::get, "/repos/{owner}/{repo}/actions/runs/{run}/jobs",
                     [](const http::Request& request) {
                         const std::string run{request.path_param("run")};
                         return http::Response::json(
                             200, R"({"total_count":2,"jobs":[)"
                                  R"({"id":81,"run_id":)" + run + R"(,"status":"queued","name":"build","workflow_name":"CI",)"
                                  R"("labels":["self-hosted","macOS"],"html_url":"https://github.com/acme/app/actions/runs/7001/job/81","runner_name":null},)"
                                  R"({"id":82,"run_id":)" + run + R"(,"status":"completed","name":"lint","labels":["ubuntu-latest"]}]})");
                     },
                     "jobs"});
        http::ServerOptions options;
        options.bind_address = "127.0.0.1";
        options.port = 0;
        server_ = std::make_unique<http::Server>(options, router_);
        port_ = server_->start();
    }
    ~FakeGithub() { server_->stop(); }

    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

    // The next generate-jitconfig calls answer these statuses.
    void fail_next(std::vector<int> statuses) {
        std::lock_guard lock{mutex_};
        failures_.assign(statuses.begin(), statuses.end());
    }

    // acme/app gets a queued run (7001) with a queued job (81) that no webhook announced.
    void offer_queued_run() { offer_queued_run_ = true; }

    // What GET /orgs/{org}/actions/runners lists.
    void list_runners(nlohmann::json runners) {
        std::lock_guard lock{mutex_};
        listed_ = std::move(runners);
    }

    std::vector<JitRequest> jit_requests() const {
        std::lock_guard lock{mutex_};
        return jit_requests_;
    }
    std::vector<std::string> token_authorizations() const {
        std::lock_guard lock{mutex_};
        return token_authorizations_;
    }
    std::vector<std::int64_t> removed() const {
        std::lock_guard lock{mutex_};
        return removed_;
    }
    int failures_answered() const {
        std::lock_guard lock{mutex_};
        return jit_failures_answered_;
    }

private:
    mutable std::mutex mutex_;
    std::vector<JitRequest> jit_requests_;
    std::vector<std::string> token_authorizations_;
    std::vector<std::int64_t> removed_;
    std::deque<int> failures_;
    nlohmann::json listed_ = nlohmann::json::array();
    std::atomic<bool> offer_queued_run_{false};
    int jit_failures_answered_ = 0;
    std::int64_t next_runner_id_ = 500;
    http::Router router_;
    std::unique_ptr<http::Server> server_;
    std::uint16_t port_ = 0;
};

// A daemon's settings for GitHub Actions against `github`: one pool "sonoma" (runs-on
// self-hosted, macOS, sonoma; org:acme; runner group 3), a GitHub App with `app_key_pem`.
inline config::ServerConfig github_test_config(const FakeGithub& github, const std::string& app_key_pem,
                                               const std::string& webhook_secret, const std::string& image) {
    auto settings = test_config();
    config::ActionsConfig actions;
    actions.github.api_url = github.url();
    actions.github.app_id = 4242;
    actions.github.installation_id = 77;
    config::RunnerPool pool;
    pool.name = "sonoma";
    pool.runs_on = {"self-hosted", "macOS", "sonoma"};
    pool.image = image;
    pool.scope = *config::GithubScope::parse("org:acme");
    pool.runner_group_id = 3;
    actions.pools = {pool};
    settings.actions = actions;
    settings.github_secrets.webhook_secret = webhook_secret;
    settings.github_secrets.app_key_pem = app_key_pem;
    return settings;
}

} // namespace macvmorx::testing
