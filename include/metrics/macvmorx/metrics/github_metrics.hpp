#pragma once

#include "macvmorx/actions/job_wait_observer.hpp"

namespace prometheus {
class Histogram;
class Registry;
template <typename T>
class Family;
} // namespace prometheus

namespace macvmorx::actions {
class WorkflowJobs;
}

namespace macvmorx::metrics {

class Scrape;

// The GitHub Actions families read at scrape time: jobs waiting by pool, runners by stage, what
// the ledger counted, the rate limit.
void collect_github(Scrape& scrape, const actions::WorkflowJobs& jobs);

// How long jobs wait for a runner: a prometheus-cpp histogram of a registry, told by
// WorkflowJobs (under its lock); `collect` from any thread.
class JobWaitMetrics final : public actions::JobWaitObserver {
public:
    explicit JobWaitMetrics(prometheus::Registry& registry);

    void job_started(double seconds_waited) override;

    void collect(Scrape& scrape) const;

private:
    prometheus::Family<prometheus::Histogram>& family_;
    prometheus::Histogram& wait_;
};

} // namespace macvmorx::metrics
