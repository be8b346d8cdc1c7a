#pragma once

// The loop by which a daemon on PostgreSQL leads or follows (docs/high-availability.md): every
// second (a third of a shorter lease) it takes or renews the lease; a follower learns where the
// leader is; a daemon that takes the lease is promoted (it loads the records and starts
// leading); a leader that cannot renew the lease before it would expire answers reads only
// until it renews it; one that finds the lease another's, or a write of its refused, steps down.

#include "macvmorx/api/leadership.hpp"
#include "macvmorx/metrics/leadership_metrics.hpp"
#include "macvmorx/storage/leader_lease.hpp"

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace macvmorx::app {

class LeaderElection {
public:
    // `promote` loads the records and starts leading; false if it could not (the daemon steps
    // down). `step_down` is told why, once; the daemon then starts again as a follower.
    struct Actions {
        std::function<bool(std::uint64_t epoch)> promote;
        std::function<void(const std::string& reason)> step_down;
    };

    LeaderElection(storage::LeaderLease& lease, storage::WriteFence& fence, api::Leadership& leadership,
                   metrics::LeadershipMetrics& metrics, Actions actions);
    ~LeaderElection();
    LeaderElection(const LeaderElection&) = delete;
    LeaderElection& operator=(const LeaderElection&) = delete;

    void start();
    // Ends the loop (and waits for a promotion under way); a leader keeps its lease, to write
    // what is left. Idempotent.
    void stop();
    // After stop: a leader ends its lease at once, so that a follower takes over without waiting
    // for it to expire.
    void release();
    // The records' store found a write refused by the fence: another daemon leads. Any thread.
    void fenced();

private:
    void run();
    void end_term(const std::string& reason);

    storage::LeaderLease& lease_;
    storage::WriteFence& fence_;
    api::Leadership& leadership_;
    metrics::LeadershipMetrics& metrics_;
    Actions actions_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    bool leading_ = false; // the loop's thread; read by release() once it has ended
    bool ended_ = false;   // the loop's thread only: stepped down, nothing more to do
    // Loading the records runs beside the loop, which keeps renewing the lease meanwhile.
    std::atomic<bool> fenced_{false};
    std::atomic<int> promotion_{0}; // 0: none or under way, 1: done, -1: failed
    std::thread promoter_;
    std::thread thread_;
};

} // namespace macvmorx::app
