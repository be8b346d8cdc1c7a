#include "macvmorx/actions/workflow_jobs.hpp"
#include "macvmorx/api/handlers.hpp"
#include "macvmorx/api/listing.hpp"
#include "macvmorx/api/vm_json.hpp"
#include "macvmorx/orchestrator/orchestrator.hpp"
#include "macvmorx/base/invalid_input.hpp"
#include "macvmorx/github/webhook_signature.hpp"
#include "macvmorx/github/workflow_job.hpp"
#include "macvmorx/http/http_error.hpp"
#include "macvmorx/json/json_writer.hpp"

#include <algorithm>
#include <charconv>
#include <functional>
#include <map>

namespace macvmorx::api {
namespace {

actions::WorkflowJobs& workflow_jobs(ApiContext& context) {
    if (context.workflow_jobs == nullptr) {
        throw http::NotFound("GitHub Actions is not configured",
                             "start the daemon with --config naming runner pools (docs/github-actions.md)");
    }
    return *context.workflow_jobs;
}

std::string_view outcome_message(actions::DeliveryOutcome outcome) {
    switch (outcome) {
    case actions::DeliveryOutcome::applied: return "job recorded";
    case actions::DeliveryOutcome::duplicate: return "duplicate delivery: nothing changed";
    case actions::DeliveryOutcome::no_pool: return "no runner pool takes a job with these labels: ignored";
    case actions::DeliveryOutcome::out_of_scope:
        return "the pools that take these labels serve other repositories or installations: ignored";
    case actions::DeliveryOutcome::unchanged: return "nothing to do";
    }
    return "nothing to do";
}

void write_optional_time(JsonWriter& json, std::string_view name, const std::optional<TimePoint>& time) {
    json.key(name);
    if (time) {
        json.value(*time);
    } else {
        json.null();
    }
}

// Seconds from one step to the next, when both happened.
void write_span(JsonWriter& json, std::string_view name, const std::optional<TimePoint>& from,
                const std::optional<TimePoint>& to) {
    json.key(name);
    if (from && to) {
        json.value(std::chrono::duration<double>(*to - *from).count());
    } else {
        json.null();
    }
}

void write_job(JsonWriter& json, const actions::JobRecord& job, const lifecycle::PendingReason* pending = nullptr) {
    json.begin_object()
        .field("jobId", job.job_id)
        .field("runId", job.run_id)
        .field("repository", job.repository)
        .field("workflowName", job.workflow_name)
        .field("jobName", job.job_name)
        .key("labels")
        .begin_array();
    for (const auto& label : job.labels) json.value(label);
    json.end_array()
        .field("htmlUrl", job.html_url)
        .field("pool", job.pool)
        .field("state", actions::to_string(job.state))
        .field("conclusion", job.conclusion)
        .field("runnerName", job.runner_name)
        .field("vmId", job.vm_id)
        .field("nodeId", job.node_id)
        .field("queuedAt", job.queued_at);
    write_optional_time(json, "vmAssignedAt", job.vm_assigned_at);
    write_optional_time(json, "imageReadyAt", job.image_ready_at);
    write_optional_time(json, "vmRunningAt", job.vm_running_at);
    write_optional_time(json, "startedAt", job.started_at);
    write_optional_time(json, "completedAt", job.completed_at);
    // Where the wait went: for a host, for the image and the boot, for GitHub to hand the job over.
    json.key("waited").begin_object();
    write_span(json, "forHostSeconds", job.queued_at, job.vm_assigned_at);
    write_span(json, "forVmSeconds", job.vm_assigned_at, job.vm_running_at);
    // forVmSeconds in two: the image (download), then the boot.
    write_span(json, "forImageSeconds", job.vm_assigned_at, job.image_ready_at);
    write_span(json, "forBootSeconds", job.image_ready_at, job.vm_running_at);
    write_span(json, "forRunnerSeconds", job.vm_running_at, job.started_at);
    write_span(json, "totalSeconds", job.queued_at, job.started_at);
    json.end_object();
    if (pending != nullptr) {
        json.key("pendingReason");
        write_pending_reason(json, *pending);
    }
    json.field("updatedAt", job.updated_at).end_object();
}

// Why queued jobs wait: why their runners' VMs would (one look at the fleet per pool and tenant).
class JobReasons {
public:
    explicit JobReasons(ApiContext& context) : context_{context} {}

    const lifecycle::PendingReason* find(const actions::JobRecord& job) {
        if (job.state != actions::JobState::queued) return nullptr;
        const auto spec = context_.workflow_jobs->runner_spec(job);
        if (!spec) return nullptr;
        auto [it, inserted] = reasons_.try_emplace(job.pool + '\n' + spec->tenant);
        if (inserted) it->second = context_.orchestrator.explain(*spec);
        return &it->second;
    }

private:
    ApiContext& context_;
    std::map<std::string, lifecycle::PendingReason> reasons_;
};

// A page's place in the job listing: the last job it gave, "<queuedAt ticks>:<jobId>".
struct JobCursor {
    TimePoint queued_at;
    std::int64_t job_id = 0;
};

JobCursor parse_job_cursor(std::string_view text) {
    const auto colon = text.find(':');
    std::int64_t ticks = 0;
    std::int64_t job_id = 0;
    const bool parsed = colon != std::string_view::npos &&
                        std::from_chars(text.data(), text.data() + colon, ticks).ptr == text.data() + colon &&
                        std::from_chars(text.data() + colon + 1, text.data() + text.size(), job_id).ptr ==
                            text.data() + text.size() &&
                        colon > 0 && colon + 1 < text.size();
    if (!parsed) {
        throw InvalidValue("after must be a cursor the listing gave (in its Link header), not '" + std::string(text) + "'",
                           "after");
    }
    return {TimePoint{Duration{ticks}}, job_id};
}

} // namespace

// Nothing of the body is read before its signature is checked.
void handle_github_webhook(const http::Request& request, ApiContext& context, Reply reply) {
    auto& jobs = workflow_jobs(context);
    const auto signature = request.header("X-Hub-Signature-256");
    if (!signature) {
        throw http::HttpError(401, "unauthorized", "the delivery carries no X-Hub-Signature-256 header");
    }
    if (context.webhook_secret == nullptr || !github::signature_matches(*context.webhook_secret, request.body, *signature)) {
        throw http::HttpError(401, "unauthorized", "X-Hub-Signature-256 does not match the body and the webhook secret");
    }
    const std::string event = std::string(request.header("X-GitHub-Event").value_or(""));
    if (event == "ping") return reply->send(http::Response::json(200, R"({"message":"pong"})"));
    if (event != "workflow_job") {
        http::Response response;
        JsonWriter json{response.body};
        json.begin_object().field("message", "event ignored: macvmorx acts on workflow_job").field("event", event).end_object();
        return reply->send(std::move(response));
    }
    github::WorkflowJobEvent job_event;
    try {
        job_event = github::parse_workflow_job(request.body);
    } catch (const std::invalid_argument& error) {
        throw MalformedInput(std::string("not a workflow_job delivery: ") + error.what());
    }
    const auto result = jobs.receive(std::string(request.header("X-GitHub-Delivery").value_or("")), job_event);
    http::Response response;
    JsonWriter json{response.body};
    json.begin_object().field("message", outcome_message(result.outcome)).field("jobId", job_event.job_id);
    if (result.job) json.field("state", actions::to_string(result.job->state)).field("pool", result.job->pool);
    json.end_object();
    answer_when_durable(context, reply, std::move(response));
}

// The jobs a filter keeps, by when they were queued (then by id); as a page (?limit=&after=) or
// as what changed (?since=), with an ETag and gzip (listing.hpp).
http::Response handle_list_jobs(const http::Request& request, ApiContext& context) {
    auto& jobs = workflow_jobs(context);
    const auto query = parse_listing_query(request);
    actions::JobFilter filter;
    if (const auto state = request.query_param("state")) {
        filter.state = actions::parse_job_state(*state);
        if (!filter.state) {
            throw InvalidValue("state must be queued, in_progress or completed, not '" + std::string(*state) + "'",
                                      "state");
        }
    }
    if (const auto repository = request.query_param("repository")) filter.repository = *repository;
    if (const auto pool = request.query_param("pool")) filter.pool = *pool;
    const auto listed = jobs.list(filter);
    JobReasons reasons{context};
    const auto write_one = [&](JsonWriter& json, std::size_t i) { write_job(json, listed[i], reasons.find(listed[i])); };
    http::Response response;
    JsonWriter json{response.body};
    if (query.since) {
        std::vector<ItemDigest> digests;
        digests.reserve(listed.size());
        std::string scratch;
        for (std::size_t i = 0; i < listed.size(); ++i) {
            scratch.clear();
            JsonWriter item{scratch};
            write_one(item, i);
            digests.push_back({std::to_string(listed[i].job_id), std::hash<std::string_view>{}(scratch)});
        }
        const auto key = "jobs?state=" + std::string(request.query_param("state").value_or("")) +
                         "&repository=" + filter.repository + "&pool=" + filter.pool;
        const auto delta = context.listing_changes.tracker(key)->observe(digests, *query.since);
        write_delta(json, delta, "jobs", listed.size(), write_one);
    } else {
        std::size_t first = 0;
        if (query.after) {
            const auto cursor = parse_job_cursor(*query.after);
            first = static_cast<std::size_t>(
                std::upper_bound(listed.begin(), listed.end(), cursor,
                                 [](const JobCursor& at, const actions::JobRecord& job) {
                                     return at.queued_at != job.queued_at ? at.queued_at < job.queued_at : at.job_id < job.job_id;
                                 }) -
                listed.begin());
        }
        write_page(json, request, response, query, listed.size(), first, 1024, write_one, [&listed](std::size_t i) {
            return std::to_string(listed[i].queued_at.time_since_epoch().count()) + ':' + std::to_string(listed[i].job_id);
        });
    }
    finish_listing(request, response);
    return response;
}

http::Response handle_get_job(const http::Request& request, ApiContext& context) {
    auto& jobs = workflow_jobs(context);
    const auto text = request.path_param("jobId");
    std::int64_t job_id = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), job_id);
    const auto job = error == std::errc{} && end == text.data() + text.size() ? jobs.find(job_id) : std::nullopt;
    if (!job) throw http::NotFound("job not found", "no GitHub Actions job with id '" + std::string(text) + "'");
    http::Response response;
    JsonWriter json{response.body};
    JobReasons reasons{context};
    write_job(json, *job, reasons.find(*job));
    return response;
}

} // namespace macvmorx::api
