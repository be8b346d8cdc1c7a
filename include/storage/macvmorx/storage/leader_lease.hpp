#pragma once

// Leadership among daemons that share one PostgreSQL (docs/high-availability.md): a lease, one
// row of the database with its holder, epoch and expiry, taken by whoever finds it expired and
// renewed by its holder. PostgreSQL's clock decides expiry and its row lock orders a take-over
// against the leader's commits: no consensus of our own.

#include "macvmorx/base/clock.hpp"
#include "macvmorx/storage/durable_store.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>


namespace macvmorx::storage {

// What the leader writes under: its holder id and the epoch of the lease it holds (0: none, and
// every write is refused). The lease sets it; every commit of the records checks it against the
// database (FencedOut). Threading: safe from any thread.
class WriteFence {
public:
    explicit WriteFence(std::string holder) : holder_{std::move(holder)} {}

    const std::string& holder() const { return holder_; }
    std::uint64_t epoch() const { return epoch_.load(); }
    void hold(std::uint64_t epoch) { epoch_.store(epoch); }
    void drop() { epoch_.store(0); }

private:
    const std::string holder_;
    std::atomic<std::uint64_t> epoch_{0};
};

// What the database said of the lease after an attempt.
struct LeaseState {
    bool leading = false;
    std::uint64_t epoch = 0;               // the lease's epoch, ours when leading
    std::optional<std::string> leader_url; // the leader's advertised URL, while its lease runs
};

// One daemon's hold on the lease, over a connection of its own (so that the records' commits
// never wait behind a renewal). Threading: one thread at a time (the daemon's election loop).
class LeaderLease {
public:
    // `holder` names this daemon's run (unique per process start); `advertise_url` is where
    // followers send clients. Connects lazily: the records' store has waited for the database.
    LeaderLease(std::string url, std::string holder, std::string advertise_url, Duration duration);
    ~LeaderLease();
    LeaderLease(const LeaderLease&) = delete;
    LeaderLease& operator=(const LeaderLease&) = delete;

    // Takes the lease if it is free or expired, or renews it if it is this daemon's, for
    // `duration` from now by the database's clock. Throws StorageError when the database cannot
    // be reached (the connection is made again at the next attempt).
    LeaseState attempt();
    // Ends this daemon's lease at once, so that a follower need not wait for it to expire (a
    // clean shutdown). Errors are logged, not thrown.
    void release();

    Duration duration() const { return duration_; }

private:
    struct Connection;
    std::string url_;
    std::string holder_;
    std::string advertise_url_;
    Duration duration_;
    std::unique_ptr<Connection> connection_;
};

} // namespace macvmorx::storage
