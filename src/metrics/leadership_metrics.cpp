#include "macvmorx/metrics/leadership_metrics.hpp"

#include "buckets.hpp"

#include "macvmorx/metrics/scrape.hpp"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace macvmorx::metrics {

LeadershipMetrics::LeadershipMetrics(prometheus::Registry& registry)
    : leader_family_{prometheus::BuildGauge()
                         .Name("macvmorx_leader")
                         .Help("1 while this daemon leads (a daemon alone always leads), 0 while it follows.")
                         .Register(registry)},
      leader_{leader_family_.Add({})},
      renewals_family_{prometheus::BuildCounter()
                           .Name("macvmorx_lease_attempts_total")
                           .Help("Attempts to take or renew the leader's lease in PostgreSQL, by result: "
                                 "ok (the database answered) or failed (it could not be reached).")
                           .Register(registry)},
      renewed_{renewals_family_.Add({{"result", "ok"}})},
      renewal_failed_{renewals_family_.Add({{"result", "failed"}})},
      failovers_family_{prometheus::BuildCounter()
                            .Name("macvmorx_failovers_total")
                            .Help("Times this daemon took the lead from another daemon whose lease had expired.")
                            .Register(registry)},
      failovers_{failovers_family_.Add({})},
      commits_family_{prometheus::BuildHistogram()
                          .Name("macvmorx_database_commit_seconds")
                          .Help("How long one commit of the durable records took (a batch of every change that "
                                "waited for it), by result.")
                          .Register(registry)},
      committed_{commits_family_.Add({{"result", "committed"}}, latency_buckets())},
      commit_failed_{commits_family_.Add({{"result", "failed"}}, latency_buckets())} {}

void LeadershipMetrics::set_leader(bool leading) { leader_.Set(leading ? 1 : 0); }

void LeadershipMetrics::lease_attempt(bool succeeded) { (succeeded ? renewed_ : renewal_failed_).Increment(); }

void LeadershipMetrics::took_over() { failovers_.Increment(); }

void LeadershipMetrics::commit(std::chrono::duration<double> seconds, bool committed) {
    (committed ? committed_ : commit_failed_).Observe(seconds.count());
}

void LeadershipMetrics::collect(Scrape& scrape) const {
    scrape.add(leader_family_.Collect());
    scrape.add(renewals_family_.Collect());
    scrape.add(failovers_family_.Collect());
    scrape.add(commits_family_.Collect());
}

} // namespace macvmorx::metrics
