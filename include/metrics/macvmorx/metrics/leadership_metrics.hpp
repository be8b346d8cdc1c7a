#pragma once

// Leadership among daemons on one PostgreSQL, and the database's commits
// (docs/high-availability.md): whether this daemon leads, its lease's renewals, the failovers it
// took over, and how long each commit of the records took.

#include <chrono>

namespace prometheus {
class Counter;
class Gauge;
class Histogram;
class Registry;
template <typename T>
class Family;
} // namespace prometheus

namespace macvmorx::metrics {

class Scrape;

// Recorded by the daemon's election loop and the records' writer thread; `collect` from any
// thread (prometheus-cpp's types are thread-safe).
class LeadershipMetrics {
public:
    explicit LeadershipMetrics(prometheus::Registry& registry);

    void set_leader(bool leading);
    void lease_attempt(bool succeeded);
    void took_over();
    void commit(std::chrono::duration<double> seconds, bool committed);

    void collect(Scrape& scrape) const;

private:
    prometheus::Family<prometheus::Gauge>& leader_family_;
    prometheus::Gauge& leader_;
    prometheus::Family<prometheus::Counter>& renewals_family_;
    prometheus::Counter& renewed_;
    prometheus::Counter& renewal_failed_;
    prometheus::Family<prometheus::Counter>& failovers_family_;
    prometheus::Counter& failovers_;
    prometheus::Family<prometheus::Histogram>& commits_family_;
    prometheus::Histogram& committed_;
    prometheus::Histogram& commit_failed_;
};

} // namespace macvmorx::metrics
