#pragma once

// GitHub's REST API for self-hosted runners as macvmorx uses it, on a loopback port, answering
// as GitHub does (github/rest-api-description, and GitHub's docs on rate limits and
// pagination): an App's installation token exchange; just-in-time runner configurations (409
// for a name already registered, as GitHub answers); runners listed, one by one and removed;
// workflow runs by status and their jobs (an in-progress run may hold queued jobs); one job's
// state; repositories. Lists are paged (`per_page`, `page`, at most 100) with a `Link` header
// naming the next page; every answer carries X-RateLimit-Remaining, and a GET's ETag makes the
// same GET with If-None-Match a 304, which costs nothing. It records every call, and fails on
// demand: given statuses, or GitHub's secondary rate limit (a 403 with its message and no
// Retry-After).

#include "macvmorx/config/server_config.hpp"
#include "macvmorx/http/router.hpp"
#include "macvmorx/http/server.hpp"
#include "test_daemon.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <deque>
#include <functional>
#include <map>
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
        route(http::Method::post, "/app/installations/{id}/access_tokens", [this](const http::Request& request) {
            token_authorizations_.push_back(std::string(request.header("Authorization").value_or("")));
            return http::Response::json(201, R"({"token":"ghs_installation_token","expires_at":"2099-01-01T00:00:00Z"})");
        });
        // Self-hosted runners of an organisation and of a repository: the same endpoints under
        // two prefixes (GitHub's REST reference, "Self-hosted runners").
        for (const std::string scope : {"/orgs/{org}", "/repos/{owner}/{repo}"}) {
            route(http::Method::post, scope + "/actions/runners/generate-jitconfig", [this](const http::Request& request) {
                auto body = nlohmann::json::parse(request.body);
                const std::string name = body["name"];
                for (const auto& runner : listed_) {
                    if (runner["name"] == name) {
                        return http::Response::json(409, R"({"message":"Already exists - A runner with the name ')" + name +
                                                             R"(' already exists."})");
                    }
                }
                jit_requests_.push_back({request.path, std::string(request.header("Authorization").value_or("")), body});
                const auto id = next_runner_id_++;
                if (register_listed_) listed_.push_back({{"id", id}, {"name", name}, {"busy", false}, {"status", "offline"}});
                return http::Response::json(
                    201, nlohmann::json{{"runner", {{"id", id}, {"name", name}}}, {"encoded_jit_config", "JIT-SECRET-" + name}}.dump());
            });
            route(http::Method::del, scope + "/actions/runners/{id}", [this](const http::Request& request) {
                const auto id = std::stoll(std::string(request.path_param("id")));
                removed_.push_back(id);
                const bool known = remove_listed([id](const nlohmann::json& r) { return r["id"] == id; }) > 0;
                http::Response response;
                response.status = known || !register_listed_ ? 204 : 404;
                return response;
            });
            route(http::Method::get, scope + "/actions/runners", [this](const http::Request& request) {
                return page(request, "runners", listed_);
            });
            route(http::Method::get, scope + "/actions/runners/{id}", [this](const http::Request& request) {
                const auto id = std::stoll(std::string(request.path_param("id")));
                for (const auto& runner : listed_) {
                    if (runner["id"] == id) return http::Response::json(200, runner.dump());
                }
                return http::Response::json(404, R"({"message":"Not Found"})");
            });
        }
        route(http::Method::get, "/orgs/{org}/repos", [this](const http::Request& request) {
            return page(request, "", repositories_);
        });
        route(http::Method::get, "/installation/repositories", [this](const http::Request& request) {
            return page(request, "repositories", repositories_);
        });
        route(http::Method::get, "/repos/{owner}/{repo}/actions/runs", [this](const http::Request& request) {
            const std::string repository = std::string{request.path_param("owner")} + "/" + std::string{request.path_param("repo")};
            const std::string status{request.query_param("status").value_or("")};
            runs_asked_.push_back(repository + "?status=" + status);
            nlohmann::json runs = nlohmann::json::array();
            for (const auto& run : runs_) {
                if (run["repository"] == repository && (status.empty() || run["status"] == status)) {
                    runs.push_back({{"id", run["id"]}, {"status", run["status"]}});
                }
            }
            return page(request, "workflow_runs", runs);
        });
        route(http::Method::get, "/repos/{owner}/{repo}/actions/runs/{run}/jobs", [this](const http::Request& request) {
            const auto run_id = std::stoll(std::string(request.path_param("run")));
            nlohmann::json jobs = nlohmann::json::array();
            for (const auto& [id, job] : jobs_) {
                if (job["run_id"] == run_id) jobs.push_back(job);
            }
            return page(request, "jobs", jobs);
        });
        route(http::Method::get, "/repos/{owner}/{repo}/actions/jobs/{job}", [this](const http::Request& request) {
            const auto id = std::stoll(std::string(request.path_param("job")));
            jobs_asked_.push_back(id);
            const auto it = jobs_.find(id);
            if (it == jobs_.end()) return http::Response::json(404, R"({"message":"Not Found"})");
            return http::Response::json(200, it->second.dump());
        });
        repositories_ = nlohmann::json::array({{{"full_name", "acme/app"}}, {{"full_name", "acme/docs"}}});
        http::ServerOptions options;
        options.bind_address = "127.0.0.1";
        options.port = 0;
        server_ = std::make_unique<http::Server>(options, router_);
        port_ = server_->start();
    }
    ~FakeGithub() { server_->stop(); }

    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

    // The next calls answer these statuses (generate-jitconfig calls only, as before).
    void fail_next(std::vector<int> statuses) {
        std::lock_guard lock{mutex_};
        failures_.assign(statuses.begin(), statuses.end());
    }
    // The next `calls` calls of any kind meet GitHub's secondary rate limit.
    void limit_next(int calls) {
        std::lock_guard lock{mutex_};
        secondary_limited_ = calls;
    }

    // acme/app gets a queued run (7001) with a queued job (81) that no webhook announced, and a
    // completed job (82) in it.
    void offer_queued_run() {
        add_run("acme/app", 7001, "queued");
        add_job(81, 7001, "queued", {"self-hosted", "macOS"});
        add_job(82, 7001, "completed", {"ubuntu-latest"});
    }
    void add_run(const std::string& repository, std::int64_t run_id, const std::string& status) {
        std::lock_guard lock{mutex_};
        runs_.push_back({{"repository", repository}, {"id", run_id}, {"status", status}});
    }
    // A job as GET .../actions/jobs/{id} and the run's jobs list show it.
    void add_job(std::int64_t job_id, std::int64_t run_id, const std::string& status, const std::vector<std::string>& labels,
                 const std::string& conclusion = {}, const std::string& runner_name = {}) {
        std::lock_guard lock{mutex_};
        jobs_[job_id] = {{"id", job_id},
                         {"run_id", run_id},
                         {"status", status},
                         {"conclusion", conclusion.empty() ? nlohmann::json(nullptr) : nlohmann::json(conclusion)},
                         {"name", "build"},
                         {"workflow_name", "CI"},
                         {"labels", labels},
                         {"html_url", "https://github.com/acme/app/actions/runs/" + std::to_string(run_id) + "/job/" +
                                          std::to_string(job_id)},
                         {"runner_name", runner_name.empty() ? nlohmann::json(nullptr) : nlohmann::json(runner_name)}};
    }
    void forget_job(std::int64_t job_id) {
        std::lock_guard lock{mutex_};
        jobs_.erase(job_id);
    }

    // What GET /orgs/{org}/actions/runners lists (runners registered through generate-jitconfig
    // are added when register_listed is on).
    void list_runners(nlohmann::json runners) {
        std::lock_guard lock{mutex_};
        listed_ = std::move(runners);
    }
    // Registered runners appear in the list, as on GitHub; busy once given a job; a JIT runner
    // deletes itself after its job.
    void register_listed(bool on) { register_listed_ = on; }
    void set_busy(const std::string& runner_name, bool busy) {
        std::lock_guard lock{mutex_};
        for (auto& runner : listed_) {
            if (runner["name"] == runner_name) runner["busy"] = busy;
        }
    }
    void delete_itself(const std::string& runner_name) {
        std::lock_guard lock{mutex_};
        remove_listed([&runner_name](const nlohmann::json& r) { return r["name"] == runner_name; });
    }
    void set_repositories(nlohmann::json repositories) {
        std::lock_guard lock{mutex_};
        repositories_ = std::move(repositories);
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
    // Requests answered, 304s apart (they cost nothing), and 304s.
    int counted_requests() const {
        std::lock_guard lock{mutex_};
        return counted_;
    }
    int not_modified() const {
        std::lock_guard lock{mutex_};
        return not_modified_;
    }
    int secondary_limit_answers() const {
        std::lock_guard lock{mutex_};
        return secondary_answers_;
    }
    std::vector<std::string> runs_asked() const {
        std::lock_guard lock{mutex_};
        return runs_asked_;
    }
    std::vector<std::int64_t> jobs_asked() const {
        std::lock_guard lock{mutex_};
        return jobs_asked_;
    }
    // Every call, as "METHOD /path?query".
    std::vector<std::string> calls() const {
        std::lock_guard lock{mutex_};
        return calls_;
    }

private:
    using Handler = std::function<http::Response(const http::Request&)>;

    // Every route passes here: the call is recorded, the secondary limit and injected failures
    // answered, the rate-limit headers set, and a GET made conditional.
    void route(http::Method method, std::string pattern, Handler handler) {
        router_.add({method, std::move(pattern),
                     [this, method, handler = std::move(handler)](const http::Request& request) {
                         std::lock_guard lock{mutex_};
                         calls_.push_back(std::string{to_string(method)} + " " + request.target);
                         if (secondary_limited_ > 0) {
                             --secondary_limited_;
                             ++secondary_answers_;
                             // GitHub's answer: 403, its message, no Retry-After, requests left.
                             auto refused = http::Response::json(
                                 403, R"({"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID ABCD:1234.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"})");
                             refused.set_header("X-RateLimit-Remaining", std::to_string(remaining_));
                             return refused;
                         }
                         if (method == http::Method::post && request.path.ends_with("generate-jitconfig") && !failures_.empty()) {
                             const int status = failures_.front();
                             failures_.pop_front();
                             ++jit_failures_answered_;
                             return http::Response::json(status, R"({"message":"injected failure"})");
                         }
                         http::Response response = handler(request);
                         if (method == http::Method::get && response.status == 200) {
                             const std::string etag = "\"" + std::to_string(std::hash<std::string>{}(response.body)) + "\"";
                             if (request.header("If-None-Match") == std::optional<std::string_view>{etag}) {
                                 ++not_modified_;
                                 http::Response unchanged;
                                 unchanged.status = 304;
                                 unchanged.content_type.clear();
                                 unchanged.set_header("ETag", etag);
                                 unchanged.set_header("X-RateLimit-Remaining", std::to_string(remaining_));
                                 return unchanged;
                             }
                             response.set_header("ETag", etag);
                         }
                         ++counted_;
                         --remaining_;
                         response.set_header("X-RateLimit-Limit", "5000");
                         response.set_header("X-RateLimit-Remaining", std::to_string(remaining_));
                         return response;
                     },
                     "fake GitHub", method == http::Method::post ? http::Body::json : http::Body::none});
    }

    // One page of `items` under `key` ("" for a bare array), as `per_page` and `page` ask, with
    // GitHub's Link header when more follow.
    // Removes the listed runners that match; returns how many (caller holds mutex_ or runs on the server thread).
    template <typename Predicate>
    std::size_t remove_listed(Predicate matches) {
        auto kept = nlohmann::json::array();
        for (auto& runner : listed_) {
            if (!matches(runner)) kept.push_back(std::move(runner));
        }
        const auto removed = listed_.size() - kept.size();
        listed_ = std::move(kept);
        return removed;
    }

    http::Response page(const http::Request& request, const std::string& key, const nlohmann::json& items) {
        const int per_page = std::clamp(std::stoi(std::string{request.query_param("per_page").value_or("30")}), 1, 100);
        const int number = std::max(1, std::stoi(std::string{request.query_param("page").value_or("1")}));
        nlohmann::json slice = nlohmann::json::array();
        for (std::size_t i = static_cast<std::size_t>((number - 1) * per_page);
             i < items.size() && slice.size() < static_cast<std::size_t>(per_page); ++i) {
            slice.push_back(items[i]);
        }
        http::Response response = http::Response::json(
            200, key.empty() ? slice.dump() : nlohmann::json{{"total_count", items.size()}, {key, slice}}.dump());
        if (static_cast<std::size_t>(number * per_page) < items.size()) {
            std::string next = url() + request.path + "?";
            for (const auto& [name, value] : request.query) {
                if (name != "page") next += name + "=" + value + "&";
            }
            next += "page=" + std::to_string(number + 1);
            response.set_header("Link", "<" + next + ">; rel=\"next\", <" + url() + request.path + ">; rel=\"first\"");
        }
        return response;
    }

    mutable std::mutex mutex_;
    std::vector<JitRequest> jit_requests_;
    std::vector<std::string> token_authorizations_;
    std::vector<std::int64_t> removed_;
    std::vector<std::string> calls_;
    std::vector<std::string> runs_asked_;
    std::vector<std::int64_t> jobs_asked_;
    std::deque<int> failures_;
    nlohmann::json listed_ = nlohmann::json::array();
    nlohmann::json runs_ = nlohmann::json::array();
    nlohmann::json repositories_;
    std::map<std::int64_t, nlohmann::json> jobs_;
    std::atomic<bool> register_listed_{false};
    int secondary_limited_ = 0;
    int secondary_answers_ = 0;
    int jit_failures_answered_ = 0;
    int counted_ = 0;
    int not_modified_ = 0;
    int remaining_ = 5000;
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
