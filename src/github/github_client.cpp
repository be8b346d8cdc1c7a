#include "macvmorx/github/github_client.hpp"

#include "macvmorx/base/timestamp.hpp"
#include "macvmorx/github/app_jwt.hpp"

#include <nlohmann/json.hpp>

#include <charconv>
#include <system_error>

namespace macvmorx::github {
namespace {

std::optional<std::int64_t> integer_header(const http::ClientResponse& response, std::string_view name) {
    const auto value = response.header(name);
    if (!value) return std::nullopt;
    std::int64_t number = 0;
    const auto [end, error] = std::from_chars(value->data(), value->data() + value->size(), number);
    if (error != std::errc{} || end != value->data() + value->size()) return std::nullopt;
    return number;
}

// GitHub's own words about a refusal: {"message": "..."}.
std::string message_of(const http::ClientResponse& response) {
    const auto document = nlohmann::json::parse(response.body, nullptr, false);
    if (document.is_object() && document.contains("message") && document["message"].is_string()) {
        return document["message"].get<std::string>();
    }
    return {};
}

} // namespace

GithubClient::GithubClient(http::BaseUrl base, Credentials credentials, const Clock& clock,
                           http::WebClientOptions options)
    : base_{std::move(base)}, credentials_{std::move(credentials)}, clock_{clock}, options_{std::move(options)} {}

GithubClient::~GithubClient() = default;

actions::RegistrarError GithubClient::error_of(const http::ClientResponse& response, const std::string& what) const {
    const int status = response.status;
    std::string text = what + ": GitHub answered " + std::to_string(status);
    if (const auto message = message_of(response); !message.empty()) text += " (" + message + ")";
    std::optional<Duration> retry_after;
    if (const auto seconds = integer_header(response, "Retry-After")) retry_after = std::chrono::seconds{*seconds};
    const bool rate_limited =
        status == 429 || (status == 403 && (retry_after || integer_header(response, "X-RateLimit-Remaining") == 0));
    if (rate_limited && !retry_after) {
        if (const auto reset = integer_header(response, "X-RateLimit-Reset")) {
            const auto now = std::chrono::duration_cast<std::chrono::seconds>(clock_.now().time_since_epoch()).count();
            retry_after = std::chrono::seconds{std::max<std::int64_t>(*reset - now, 1)};
        }
    }
    return actions::RegistrarError(text, status, status >= 500 || rate_limited, retry_after);
}

http::ClientResponse GithubClient::send(http::Method method, const std::string& target, const std::string& body,
                                        const std::string& authorization) {
    if (!client_) client_ = std::make_unique<http::WebClient>(base_, options_);
    std::vector<http::Header> headers{{"Accept", "application/vnd.github+json"},
                                      {"X-GitHub-Api-Version", "2022-11-28"},
                                      {"Authorization", authorization}};
    if (!body.empty()) headers.push_back({"Content-Type", "application/json"});
    try {
        auto response = client_->request(method, target, body, headers);
        if (!response.keep_alive) client_.reset();
        return response;
    } catch (const std::system_error& error) {
        client_.reset(); // a fresh connection next time
        throw actions::RegistrarError(std::string("cannot reach GitHub: ") + error.what(), 0, true);
    }
}

// A token for the REST calls: the configured one, or the App's installation token.
std::string GithubClient::authorization() {
    if (!credentials_.app_id) return "Bearer " + credentials_.token;
    const auto now = clock_.now();
    if (!installation_token_.empty() && now + std::chrono::minutes{5} < installation_token_expires_) {
        return "Bearer " + installation_token_;
    }
    const std::string jwt = app_jwt(*credentials_.app_id, credentials_.app_key_pem, now);
    const auto response = send(http::Method::post,
                               "/app/installations/" + std::to_string(credentials_.installation_id.value_or(0)) +
                                   "/access_tokens",
                               {}, "Bearer " + jwt);
    if (response.status != 201 && response.status != 200) throw error_of(response, "installation token");
    const auto document = nlohmann::json::parse(response.body, nullptr, false);
    if (!document.is_object() || !document.contains("token") || !document["token"].is_string()) {
        throw actions::RegistrarError("installation token: GitHub's answer holds no token", response.status, true);
    }
    installation_token_ = document["token"].get<std::string>();
    installation_token_expires_ = now + std::chrono::minutes{55};
    if (document.contains("expires_at") && document["expires_at"].is_string()) {
        if (const auto expires = parse_rfc3339(document["expires_at"].get<std::string>())) {
            installation_token_expires_ = *expires;
        }
    }
    return "Bearer " + installation_token_;
}

http::ClientResponse GithubClient::call(http::Method method, const std::string& target, const std::string& body) {
    auto response = send(method, target, body, authorization());
    if (response.status == 401 && credentials_.app_id) {
        // The installation token was revoked or expired early: get a new one, once.
        installation_token_.clear();
        response = send(method, target, body, authorization());
    }
    return response;
}

actions::RunnerRegistration GithubClient::register_runner(const config::RunnerPool& pool,
                                                          const std::string& runner_name) {
    std::lock_guard lock{mutex_};
    const nlohmann::json request{{"name", runner_name},
                                 {"runner_group_id", pool.runner_group_id},
                                 {"labels", pool.runs_on},
                                 {"work_folder", "_work"}};
    const auto response =
        call(http::Method::post, pool.scope.api_path() + "/actions/runners/generate-jitconfig", request.dump());
    if (response.status != 201 && response.status != 200) throw error_of(response, "runner " + runner_name);
    const auto document = nlohmann::json::parse(response.body, nullptr, false);
    if (!document.is_object() || !document.contains("encoded_jit_config") ||
        !document["encoded_jit_config"].is_string()) {
        throw actions::RegistrarError("runner " + runner_name + ": GitHub's answer holds no encoded_jit_config",
                                      response.status, true);
    }
    actions::RunnerRegistration registration;
    registration.encoded_jit_config = document["encoded_jit_config"].get<std::string>();
    if (document.contains("runner") && document["runner"].is_object() && document["runner"].contains("id") &&
        document["runner"]["id"].is_number_integer()) {
        registration.runner_id = document["runner"]["id"].get<std::int64_t>();
    }
    return registration;
}

void GithubClient::remove_runner(const config::RunnerPool& pool, std::int64_t runner_id) {
    std::lock_guard lock{mutex_};
    const auto response =
        call(http::Method::del, pool.scope.api_path() + "/actions/runners/" + std::to_string(runner_id), {});
    if (response.status == 204 || response.status == 200 || response.status == 404) return; // gone is gone
    throw error_of(response, "removing runner " + std::to_string(runner_id));
}

http::ClientResponse GithubClient::get_ok(const std::string& target, const std::string& what) {
    auto response = call(http::Method::get, target, {});
    if (response.status != 200) throw error_of(response, what);
    return response;
}

std::vector<actions::RegisteredRunner> GithubClient::list_runners(const config::RunnerPool& pool) {
    std::lock_guard lock{mutex_};
    std::vector<actions::RegisteredRunner> runners;
    // 100 a page; a scope with more than 5,000 runners is listed in part.
    for (int page = 1; page <= 50; ++page) {
        const auto response = get_ok(pool.scope.api_path() + "/actions/runners?per_page=100&page=" + std::to_string(page),
                                     "listing runners of " + pool.scope.to_string());
        const auto document = nlohmann::json::parse(response.body, nullptr, false);
        if (!document.is_object() || !document.contains("runners") || !document["runners"].is_array()) break;
        for (const auto& item : document["runners"]) {
            if (!item.is_object() || !item.contains("id") || !item["id"].is_number_integer()) continue;
            actions::RegisteredRunner runner;
            runner.id = item["id"].get<std::int64_t>();
            if (item.contains("name") && item["name"].is_string()) runner.name = item["name"].get<std::string>();
            runner.busy = item.contains("busy") && item["busy"].is_boolean() && item["busy"].get<bool>();
            runners.push_back(std::move(runner));
        }
        if (document["runners"].size() < 100) break;
    }
    return runners;
}

// The queued jobs of one repository ("owner/name"): its queued runs, then their queued jobs.
std::vector<WorkflowJobEvent> GithubClient::queued_jobs_of(const std::string& repository) {
    std::vector<WorkflowJobEvent> jobs;
    const std::string prefix = "/repos/" + repository;
    const auto runs = nlohmann::json::parse(
        get_ok(prefix + "/actions/runs?status=queued&per_page=100", "listing queued runs of " + repository).body, nullptr,
        false);
    if (!runs.is_object() || !runs.contains("workflow_runs") || !runs["workflow_runs"].is_array()) return jobs;
    for (const auto& run : runs["workflow_runs"]) {
        if (!run.is_object() || !run.contains("id") || !run["id"].is_number_integer()) continue;
        const auto run_id = run["id"].get<std::int64_t>();
        const auto listed = nlohmann::json::parse(
            get_ok(prefix + "/actions/runs/" + std::to_string(run_id) + "/jobs?per_page=100",
                   "listing the jobs of run " + std::to_string(run_id))
                .body,
            nullptr, false);
        if (!listed.is_object() || !listed.contains("jobs") || !listed["jobs"].is_array()) continue;
        for (const auto& job : listed["jobs"]) {
            if (!job.is_object() || job.value("status", "") != "queued") continue;
            try {
                // The same fields as a webhook's workflow_job.
                const nlohmann::json delivery{{"action", "queued"}, {"workflow_job", job}, {"repository", {{"full_name", repository}}}};
                jobs.push_back(parse_workflow_job(delivery.dump()));
            } catch (const std::invalid_argument&) {
                continue; // not a job we can read: the next reconciliation sees it again
            }
        }
    }
    return jobs;
}

std::vector<WorkflowJobEvent> GithubClient::queued_jobs(const config::RunnerPool& pool) {
    std::lock_guard lock{mutex_};
    if (!pool.scope.is_organisation()) return queued_jobs_of(pool.scope.owner + "/" + pool.scope.repository);
    // GitHub lists jobs per repository: an organisation's are those of its repositories with
    // queued runs. The App's installation names the repositories it may see; a token lists the
    // organisation's. At most 1,000 repositories are looked at.
    std::vector<std::string> repositories;
    for (int page = 1; page <= 10; ++page) {
        const std::string target = credentials_.app_id
                                       ? "/installation/repositories?per_page=100&page=" + std::to_string(page)
                                       : "/orgs/" + pool.scope.owner + "/repos?per_page=100&page=" + std::to_string(page);
        const auto document = nlohmann::json::parse(get_ok(target, "listing the repositories of " + pool.scope.owner).body,
                                                    nullptr, false);
        const auto* list = document.is_array() ? &document
                           : document.is_object() && document.contains("repositories") && document["repositories"].is_array()
                               ? &document["repositories"]
                               : nullptr;
        if (list == nullptr) break;
        for (const auto& repository : *list) {
            if (!repository.is_object() || !repository.contains("full_name") || !repository["full_name"].is_string()) continue;
            const auto name = repository["full_name"].get<std::string>();
            if (name.starts_with(pool.scope.owner + "/")) repositories.push_back(name);
        }
        if (list->size() < 100) break;
    }
    std::vector<WorkflowJobEvent> jobs;
    for (const auto& repository : repositories) {
        auto found = queued_jobs_of(repository);
        jobs.insert(jobs.end(), std::make_move_iterator(found.begin()), std::make_move_iterator(found.end()));
    }
    return jobs;
}

} // namespace macvmorx::github
