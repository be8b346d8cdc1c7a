#include "macvmorx/metrics/github_metrics.hpp"

#include "buckets.hpp"
#include "families.hpp"
#include "macvmorx/actions/workflow_jobs.hpp"
#include "macvmorx/metrics/scrape.hpp"

#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <string_view>
#include <utility>

namespace macvmorx::metrics {

void collect_github(Scrape& scrape, const actions::WorkflowJobs& jobs) {
    using prometheus::MetricType;
    const auto statuses = jobs.pools();
    auto queued = family("macvmorx_github_jobs_queued", "GitHub Actions jobs waiting for a runner, by pool.", MetricType::Gauge);
    for (const auto& status : statuses) sample(queued, {{"pool", status.pool}}, static_cast<double>(status.queued_jobs));
    scrape.add(std::move(queued));
    auto runners = family("macvmorx_github_runners", "Runners by pool and stage.", MetricType::Gauge);
    for (const auto& status : statuses) {
        const std::pair<std::string_view, std::size_t> stages[] = {
            {"registering", status.runners_registering}, {"starting", status.runners_starting},
            {"idle", status.runners_idle},               {"busy", status.runners_busy},
            {"retiring", status.runners_retiring}};
        for (const auto& [stage, count] : stages) {
            sample(runners, {{"pool", status.pool}, {"stage", stage}}, static_cast<double>(count));
        }
    }
    scrape.add(std::move(runners));
    const auto figures = jobs.figures();
    const auto counter = [&scrape](const char* name, const char* help, std::uint64_t value) {
        auto one = family(name, help, MetricType::Counter);
        sample(one, {}, static_cast<double>(value));
        scrape.add(std::move(one));
    };
    counter("macvmorx_github_jobs_ignored_total", "Queued jobs whose labels match no runner pool.", figures.ignored_jobs);
    counter("macvmorx_github_jobs_out_of_scope_total",
            "Queued jobs whose labels a pool takes but of a repository, organisation or installation outside its scope.",
            figures.out_of_scope_jobs);
    counter("macvmorx_github_registration_failures_total", "Failed requests for a just-in-time runner.",
            figures.registration_failures);
    counter("macvmorx_github_rate_limited_total",
            "Times GitHub limited macvmorx's requests (primary or secondary limit): every call then waits.",
            figures.rate_limited);
    if (figures.rate_limit_remaining) {
        auto remaining = family("macvmorx_github_rate_limit_remaining",
                                "Requests GitHub's primary rate limit still allows this hour (its last X-RateLimit-Remaining).",
                                MetricType::Gauge);
        sample(remaining, {}, static_cast<double>(*figures.rate_limit_remaining));
        scrape.add(std::move(remaining));
    }
}

JobWaitMetrics::JobWaitMetrics(prometheus::Registry& registry)
    : family_{prometheus::BuildHistogram()
                  .Name("macvmorx_github_job_wait_seconds")
                  .Help("From a job's queued webhook to a runner starting it.")
                  .Register(registry)},
      wait_{family_.Add({}, startup_buckets())} {}

void JobWaitMetrics::job_started(double seconds_waited) { wait_.Observe(seconds_waited); }

void JobWaitMetrics::collect(Scrape& scrape) const { scrape.add(family_.Collect()); }

} // namespace macvmorx::metrics
