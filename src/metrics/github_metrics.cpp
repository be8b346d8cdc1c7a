#include "macvmorx/metrics/github_metrics.hpp"

#include "macvmorx/actions/workflow_jobs.hpp"
#include "macvmorx/metrics/prometheus_writer.hpp"

#include <cstdint>
#include <string_view>
#include <utility>

namespace macvmorx::metrics {

void write_github_metrics(PrometheusWriter& out, const actions::WorkflowJobs& jobs) {
    const auto statuses = jobs.pools();
    out.family("macvmorx_github_jobs_queued", "GitHub Actions jobs waiting for a runner, by pool.", "gauge");
    for (const auto& status : statuses) {
        out.sample("macvmorx_github_jobs_queued", {{"pool", status.pool}}, std::uint64_t{status.queued_jobs});
    }
    out.family("macvmorx_github_runners", "Runners by pool and stage.", "gauge");
    for (const auto& status : statuses) {
        const std::pair<std::string_view, std::size_t> stages[] = {
            {"registering", status.runners_registering}, {"starting", status.runners_starting},
            {"idle", status.runners_idle},               {"busy", status.runners_busy},
            {"retiring", status.runners_retiring}};
        for (const auto& [stage, count] : stages) {
            out.sample("macvmorx_github_runners", {{"pool", status.pool}, {"stage", stage}}, std::uint64_t{count});
        }
    }
    const auto figures = jobs.figures();
    out.family("macvmorx_github_jobs_ignored_total", "Queued jobs whose labels match no runner pool.", "counter");
    out.sample("macvmorx_github_jobs_ignored_total", {}, figures.ignored_jobs);
    out.family("macvmorx_github_jobs_out_of_scope_total",
               "Queued jobs whose labels a pool takes but of a repository, organisation or installation outside its scope.",
               "counter");
    out.sample("macvmorx_github_jobs_out_of_scope_total", {}, figures.out_of_scope_jobs);
    out.family("macvmorx_github_registration_failures_total", "Failed requests for a just-in-time runner.", "counter");
    out.sample("macvmorx_github_registration_failures_total", {}, figures.registration_failures);
    out.family("macvmorx_github_rate_limited_total",
               "Times GitHub limited macvmorx's requests (primary or secondary limit): every call then waits.", "counter");
    out.sample("macvmorx_github_rate_limited_total", {}, figures.rate_limited);
    if (figures.rate_limit_remaining) {
        out.family("macvmorx_github_rate_limit_remaining",
                   "Requests GitHub's primary rate limit still allows this hour (its last X-RateLimit-Remaining).", "gauge");
        out.sample("macvmorx_github_rate_limit_remaining", {}, static_cast<double>(*figures.rate_limit_remaining));
    }
    out.family("macvmorx_github_job_wait_seconds", "From a job's queued webhook to a runner starting it.", "histogram");
    out.histogram("macvmorx_github_job_wait_seconds", {}, jobs.job_wait());
}

} // namespace macvmorx::metrics
