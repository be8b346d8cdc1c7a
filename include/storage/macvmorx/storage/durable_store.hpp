#pragma once

#include "macvmorx/actions/job_observer.hpp"
#include "macvmorx/fleet/node_record.hpp"
#include "macvmorx/lifecycle/lifecycle_observer.hpp"
#include "macvmorx/lifecycle/vm_record.hpp"
#include "macvmorx/orchestrator/orchestrator.hpp"

#include "macvmorx/base/clock.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace macvmorx::storage {

// The records cannot be used: an unwritable, corrupt or unreachable database.
class StorageError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The database was written by a newer macvmorx (its schema is ahead of this binary's).
class SchemaTooNew : public StorageError {
public:
    using StorageError::StorageError;
};

// The database could not be reached at start, within the time given to it.
class DatabaseUnreachable : public StorageError {
public:
    using StorageError::StorageError;
};

// A write refused because this daemon no longer holds the lease it writes under: another
// daemon leads. Nothing of the transaction was written.
class FencedOut : public StorageError {
public:
    using StorageError::StorageError;
};

class RecordBackend;
class WriteFence;

// Where PostgreSQL is, and how long to wait for it at start.
struct PostgresOptions {
    std::string url; // postgresql://user[:password]@host[:port]/database[?options]
    Duration start_wait = std::chrono::seconds{15};
};

// What an earlier run left.
struct StoredState {
    std::vector<lifecycle::VmRecord> vms;
    std::vector<std::string> queue;
    std::vector<fleet::NodeSettings> nodes;
    std::vector<actions::JobRecord> jobs;
    std::vector<std::string> deliveries; // GitHub delivery ids, oldest first
    std::map<std::string, int> image_pins; // image -> minHosts (PUT /api/images/{imageName})
};

// VM records, the placement queue, operators' node settings, GitHub jobs and webhook
// deliveries, kept in a database so that a restart or a failover loses none of them: SQLite (WAL
// mode) in the data directory for a single daemon, or PostgreSQL for several (one leads, and
// every write it makes is fenced by its lease, docs/high-availability.md). Heartbeats and node
// metrics are not kept: the next heartbeats rebuild them.
//
// Changes arrive as observer calls under the lifecycle's lock; they are queued (a copy, no I/O)
// and a writer thread commits them in batches, one transaction per batch, so that writing never
// slows the heartbeat path and one commit serves every change that waited for it. A caller that
// must not answer before its change is durable asks for a ticket after making the change and
// waits for it with `when_durable`. A failed commit is retried every second with everything
// that arrived meanwhile; a commit refused by the fence is never retried.
//
// Threading: every public member is safe from any thread.
class DurableStore final : public lifecycle::LifecycleObserver,
                           public orchestrator::NodeSettingsObserver,
                           public actions::JobObserver {
public:
    // Opens or creates `directory`/macvmorx.db. Throws StorageError with what is wrong.
    explicit DurableStore(const std::filesystem::path& directory);
    // Connects to PostgreSQL (retrying until `options.start_wait` has passed: DatabaseUnreachable)
    // and brings its schema up to date; every commit checks `fence` first. Throws StorageError.
    DurableStore(const PostgresOptions& options, std::shared_ptr<const WriteFence> fence);
    // Writes what is still queued, then stops the writer.
    ~DurableStore() override;
    DurableStore(const DurableStore&) = delete;
    DurableStore& operator=(const DurableStore&) = delete;

    StoredState load();

    void vm_changed(const lifecycle::VmRecord& vm) override;
    void vm_removed(const std::string& vm_id) override;
    void queue_joined(const std::string& vm_id, bool at_front) override;
    void queue_left(const std::string& vm_id) override;
    void node_settings_changed(const fleet::NodeSettings& settings) override;
    void node_settings_removed(const std::string& node_id) override;
    void image_pinned(const std::string& image, int min_hosts) override;
    void job_changed(const actions::JobRecord& job) override;
    void job_removed(std::int64_t job_id) override;
    void delivery_remembered(const std::string& delivery_id) override;
    void delivery_forgotten(const std::string& delivery_id) override;

    // The number of the latest change queued so far.
    std::uint64_t ticket() const;
    // Calls `done(true)` once every change up to `ticket` is committed, or `done(false)` if
    // writing failed. `done` runs on the writer thread, or at once when already durable.
    void when_durable(std::uint64_t ticket, std::function<void(bool)> done);
    // Waits until everything queued so far is committed; false if writing failed.
    bool flush();

    // Where the records live, for logs: the file, or the database URL without its password.
    const std::string& location() const { return location_; }
    // The last commit failed (the database is away): writes are not being acknowledged.
    bool failing() const;

    // Told of every commit: how long it took and whether it was written. Set before changes.
    void set_commit_observer(std::function<void(std::chrono::duration<double> seconds, bool committed)> observer);
    // Called once, on the writer thread, when a commit is refused by the fence: this daemon has
    // lost its lease and must step down. Set before changes.
    void set_fenced_handler(std::function<void()> handler);

private:
    explicit DurableStore(std::unique_ptr<RecordBackend> backend);
    struct Batch;

    void write_loop();
    void enqueue(const std::function<void(Batch&)>& change);

    std::unique_ptr<RecordBackend> backend_;
    std::string location_;
    std::function<void(std::chrono::duration<double>, bool)> commit_observer_;
    std::function<void()> fenced_handler_;

    mutable std::mutex mutex_; // guards everything below
    std::condition_variable wake_;
    std::condition_variable written_;
    std::unique_ptr<Batch> pending_;
    std::uint64_t queued_ = 0;  // changes queued
    std::uint64_t durable_ = 0;  // changes committed
    std::uint64_t answered_ = 0; // changes committed whose waiters have been told
    bool failing_ = false;      // the last commit failed
    bool fenced_ = false;       // a commit was refused by the fence: nothing more is written
    bool stopping_ = false;
    std::multimap<std::uint64_t, std::function<void(bool)>> waiters_;
    std::thread writer_;
};

} // namespace macvmorx::storage
