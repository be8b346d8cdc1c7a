#include "macvmorx/github/github_client.hpp"

#include "macvmorx/base/timestamp.hpp"
#include "macvmorx/github/app_jwt.hpp"

#include <nlohmann/json.hpp>

#include <charconv>
#include <stdexcept>
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

github::RegistrarError GithubClient::error_of(const http::ClientResponse& response, const std::string& what) const {
    const int status = response.status;
    const std::string message = message_of(response);
    std::string text = what + ": GitHub answered " + std::to_string(status);
    if (!message.empty()) text += " (" + message + ")";
    std::optional<Duration> retry_after;
    if (const auto seconds = integer_header(response, "Retry-After")) retry_after = std::chrono::seconds{*seconds};
    const bool exhausted = integer_header(response, "X-RateLimit-Remaining") == 0;
    // GitHub's "Rate limits for the REST API": a primary limit is a 403 or 429 with no request
    // left; a secondary one a 403 or 429 whose message says so, with or without Retry-After.
    const bool secondary = message.find("secondary rate limit") != std::string::npos;
    const bool rate_limited = (status == 403 || status == 429) && (retry_after || exhausted || secondary || status == 429);
    if (rate_limited && !retry_after) {
        if (const auto reset = integer_header(response, "X-RateLimit-Reset"); exhausted && reset) {
            const auto now = std::chrono::duration_cast<std::chrono::seconds>(clock_.now().time_since_epoch()).count();
            retry_after = std::chrono::seconds{std::max<std::int64_t>(*reset - now, 1)};
        } else {
            retry_after = std::chrono::minutes{1}; // "wait for at least one minute before retrying"
        }
    }
    return github::RegistrarError(text, status, status >= 500 || rate_limited, retry_after, rate_limited);
}

http::ClientResponse GithubClient::send(http::Method method, const std::string& target, const std::string& body,
                                        const std::string& authorization) {
    if (!client_) client_ = std::make_unique<http::WebClient>(base_, options_);
    std::vector<http::Header> headers{{"Accept", "application/vnd.github+json"},
                                      {"X-GitHub-Api-Version", "2022-11-28"},
                                      {"Authorization", authorization}};
    if (!body.empty()) headers.push_back({"Content-Type", "application/json"});
    if (method == http::Method::get) {
        if (const auto cached = cache_.find(target); cached != cache_.end()) {
            headers.push_back({"If-None-Match", cached->second.etag});
        }
    }
    try {
        auto response = client_->request(method, target, body, headers);
        if (!response.keep_alive) client_.reset();
        if (const auto remaining = integer_header(response, "X-RateLimit-Remaining")) rate_limit_remaining_ = *remaining;
        return response;
    } catch (const std::system_error& error) {
        client_.reset(); // a fresh connection next time
        throw github::RegistrarError(std::string("cannot reach GitHub: ") + error.what(), 0, true);
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
        throw github::RegistrarError("installation token: GitHub's answer holds no token", response.status, true);
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

github::RunnerRegistration GithubClient::register_runner(const config::RunnerPool& pool,
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
        throw github::RegistrarError("runner " + runner_name + ": GitHub's answer holds no encoded_jit_config",
                                      response.status, true);
    }
    github::RunnerRegistration registration;
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
    if (const auto cached_entry = cache_.find(target); response.status == 304 && cached_entry != cache_.end()) {
        // Unchanged since the last answer (and not counted against the rate limit).
        const auto& cached = cached_entry->second;
        response.status = 200;
        response.body = cached.body;
        response.headers = cached.headers;
        return response;
    }
    if (response.status != 200) throw error_of(response, what);
    if (const auto etag = response.header("ETag")) {
        if (!cache_.contains(target)) {
            cache_order_.push_back(target);
            while (cache_order_.size() > 1000) { // a bound: reconciliation asks about a few hundred lists at most
                cache_.erase(cache_order_.front());
                cache_order_.pop_front();
            }
        }
        cache_[target] = {std::string{*etag}, response.body, response.headers};
    }
    return response;
}

std::string GithubClient::next_page(const http::ClientResponse& response) const {
    // Link: <https://api.github.com/repositories/1/actions/runs?page=2>; rel="next", <...>; rel="last"
    const auto link = response.header("Link");
    if (!link) return {};
    std::string_view rest = *link;
    while (!rest.empty()) {
        const auto open = rest.find('<');
        const auto close = rest.find('>', open);
        if (open == std::string_view::npos || close == std::string_view::npos) return {};
        const std::string_view url = rest.substr(open + 1, close - open - 1);
        const auto end = rest.find(',', close);
        const std::string_view parameters = rest.substr(close + 1, end == std::string_view::npos ? std::string_view::npos : end - close - 1);
        rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 1);
        if (parameters.find("rel=\"next\"") == std::string_view::npos) continue;
        // Only a page of this API: the link's scheme, host, port and base path must be ours.
        return base_.target_of(url).value_or(std::string{});
    }
    return {};
}

std::vector<nlohmann::json> GithubClient::get_all(const std::string& target, const std::string& key,
                                                  const std::string& what, int max_pages) {
    std::vector<nlohmann::json> items;
    std::string page = target;
    for (int count = 0; !page.empty() && count < max_pages; ++count) {
        const auto response = get_ok(page, what);
        const auto document = nlohmann::json::parse(response.body, nullptr, false);
        const nlohmann::json* list = key.empty() ? &document : nullptr;
        if (!key.empty() && document.is_object() && document.contains(key)) list = &document[key];
        if (list == nullptr || !list->is_array()) break;
        for (const auto& item : *list) items.push_back(item);
        page = next_page(response);
    }
    return items;
}

namespace {

std::optional<github::RegisteredRunner> runner_of(const nlohmann::json& item) {
    if (!item.is_object() || !item.contains("id") || !item["id"].is_number_integer()) return std::nullopt;
    github::RegisteredRunner runner;
    runner.id = item["id"].get<std::int64_t>();
    if (item.contains("name") && item["name"].is_string()) runner.name = item["name"].get<std::string>();
    runner.busy = item.contains("busy") && item["busy"].is_boolean() && item["busy"].get<bool>();
    return runner;
}

// A job as the REST API lists it, read as the webhook event of its status: the same fields as a
// delivery's workflow_job (GET .../actions/jobs/{id} answers that object).
std::optional<WorkflowJobEvent> event_of(const nlohmann::json& job, const std::string& repository) {
    if (!job.is_object()) return std::nullopt;
    const std::string status = job.value("status", "");
    const std::string action = status == "completed"                        ? "completed"
                               : status == "in_progress"                    ? "in_progress"
                               : status == "queued" || status == "waiting" ||
                                         status == "pending" || status == "requested" ? "queued"
                                                                              : "";
    if (action.empty()) return std::nullopt;
    try {
        const nlohmann::json delivery{{"action", action}, {"workflow_job", job}, {"repository", {{"full_name", repository}}}};
        return parse_workflow_job(delivery.dump());
    } catch (const std::invalid_argument&) {
        return std::nullopt; // not a job we can read: the next reconciliation sees it again
    }
}

} // namespace

std::vector<github::RegisteredRunner> GithubClient::list_runners(const config::RunnerPool& pool) {
    std::lock_guard lock{mutex_};
    std::vector<github::RegisteredRunner> runners;
    for (const auto& item : get_all(pool.scope.api_path() + "/actions/runners?per_page=100", "runners",
                                    "listing runners of " + pool.scope.to_string())) {
        if (auto runner = runner_of(item)) runners.push_back(std::move(*runner));
    }
    return runners;
}

std::optional<github::RegisteredRunner> GithubClient::runner(const config::RunnerPool& pool, std::int64_t runner_id) {
    std::lock_guard lock{mutex_};
    const std::string target = pool.scope.api_path() + "/actions/runners/" + std::to_string(runner_id);
    const auto response = call(http::Method::get, target, {});
    if (response.status == 404) return std::nullopt; // a JIT runner deletes itself after its job
    if (response.status != 200) throw error_of(response, "runner " + std::to_string(runner_id));
    return runner_of(nlohmann::json::parse(response.body, nullptr, false));
}

// A run turns in_progress as soon as one of its jobs starts: jobs that wait on `needs:`, or in a
// matrix, are queued inside in-progress runs. Both kinds of run are asked about, every page.
std::vector<WorkflowJobEvent> GithubClient::queued_jobs(const std::string& repository) {
    std::lock_guard lock{mutex_};
    std::vector<WorkflowJobEvent> jobs;
    const std::string prefix = "/repos/" + repository;
    for (const char* status : {"queued", "in_progress"}) {
        const auto runs = get_all(prefix + "/actions/runs?status=" + status + "&per_page=100", "workflow_runs",
                                  std::string{"listing "} + status + " runs of " + repository, 10);
        for (const auto& run : runs) {
            if (!run.is_object() || !run.contains("id") || !run["id"].is_number_integer()) continue;
            const auto run_id = std::to_string(run["id"].get<std::int64_t>());
            for (const auto& job : get_all(prefix + "/actions/runs/" + run_id + "/jobs?filter=latest&per_page=100", "jobs",
                                           "listing the jobs of run " + run_id, 10)) {
                auto event = event_of(job, repository);
                if (event && event->action == "queued") jobs.push_back(std::move(*event));
            }
        }
    }
    return jobs;
}

std::vector<std::string> GithubClient::repositories(const config::RunnerPool& pool) {
    std::lock_guard lock{mutex_};
    const std::string target = credentials_.app_id ? "/installation/repositories?per_page=100"
                                                   : "/orgs/" + pool.scope.owner + "/repos?per_page=100";
    std::vector<std::string> names;
    for (const auto& repository : get_all(target, credentials_.app_id ? "repositories" : "",
                                          "listing the repositories of " + pool.scope.owner, 10)) {
        if (!repository.is_object() || !repository.contains("full_name") || !repository["full_name"].is_string()) continue;
        auto name = repository["full_name"].get<std::string>();
        if (pool.scope.covers(name)) names.push_back(std::move(name));
    }
    return names;
}

github::JobStatus GithubClient::job_status(const std::string& repository, std::int64_t job_id) {
    std::lock_guard lock{mutex_};
    const std::string target = "/repos/" + repository + "/actions/jobs/" + std::to_string(job_id);
    const auto response = call(http::Method::get, target, {});
    if (response.status == 404) return std::nullopt;
    if (response.status != 200) throw error_of(response, "job " + std::to_string(job_id) + " of " + repository);
    return event_of(nlohmann::json::parse(response.body, nullptr, false), repository);
}

std::optional<std::int64_t> GithubClient::rate_limit_remaining() const {
    const auto remaining = rate_limit_remaining_.load();
    if (remaining < 0) return std::nullopt;
    return remaining;
}

} // namespace macvmorx::github
