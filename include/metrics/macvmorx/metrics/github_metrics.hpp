#pragma once

namespace macvmorx::actions {
class WorkflowJobs;
}

namespace macvmorx::metrics {

class PrometheusWriter;

// The GitHub Actions families: jobs waiting by pool, runners by stage, what the ledger counted,
// the rate limit, and how long jobs wait for a runner.
void write_github_metrics(PrometheusWriter& out, const actions::WorkflowJobs& jobs);

} // namespace macvmorx::metrics
