#pragma once

#include "macvmorx/actions/job_observer.hpp"
#include "macvmorx/fleet/node_record.hpp"
#include "macvmorx/lifecycle/lifecycle_observer.hpp"
#include "macvmorx/lifecycle/vm_record.hpp"
#include "macvmorx/orchestrator/orchestrator.hpp"

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

// The data directory cannot be used: unwritable, corrupt, or from a newer macvmorx.
class StorageError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// What an earlier run left.
struct StoredState {
    std::vector<lifecycle::VmRecord> vms;
    std::vector<std::string> queue;
    std::vector<fleet::NodeSettings> nodes;
    std::vector<actions::JobRecord> jobs;
    std::vector<std::string> deliveries; // GitHub delivery ids, oldest first
};

// VM records, the placement queue and operators' node settings, kept in SQLite (WAL mode) so
// that a restart loses none of them. Heartbeats and node metrics are not kept: the next
// heartbeats rebuild them.
//
// Changes arrive as observer calls under the lifecycle's lock; they are queued (a copy, no I/O)
// and a writer thread commits them in batches, so that writing never slows the heartbeat path.
// A caller that must not answer before its change is on disk asks for a ticket after making
// the change and waits for it with `when_durable`.
//
// Threading: every public member is safe from any thread.
class DurableStore final : public lifecycle::LifecycleObserver,
                           public orchestrator::NodeSettingsObserver,
                           public actions::JobObserver {
public:
    // Opens or creates `directory`/macvmorx.db. Throws StorageError with what is wrong.
    explicit DurableStore(const std::filesystem::path& directory);
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

    const std::filesystem::path& file() const { return file_; }

private:
    struct Database;
    struct Batch {
        std::map<std::string, std::optional<lifecycle::VmRecord>> vms; // the latest copy, or removed
        // The queue's changes, in order: a row added at the front or the back, or one removed.
        enum class QueueChange { joined_back, joined_front, left };
        std::vector<std::pair<std::string, QueueChange>> queue;
        std::map<std::string, std::optional<fleet::NodeSettings>> nodes;
        std::map<std::int64_t, std::optional<actions::JobRecord>> jobs;
        std::vector<std::pair<std::string, bool>> deliveries; // remembered (true) or forgotten, in order
        bool empty() const { return vms.empty() && queue.empty() && nodes.empty() && jobs.empty() && deliveries.empty(); }
    };

    void write_loop();
    void enqueue(const std::function<void(Batch&)>& change);

    std::filesystem::path file_;
    std::unique_ptr<Database> database_;
    // The queue's first and last positions on disk (the writer thread's): a request joins before
    // the first or after the last, so that no other row moves.
    std::int64_t queue_front_ = 0;
    std::int64_t queue_back_ = 0;

    mutable std::mutex mutex_; // guards everything below
    std::condition_variable wake_;
    std::condition_variable written_;
    Batch pending_;
    std::uint64_t queued_ = 0;  // changes queued
    std::uint64_t durable_ = 0;  // changes committed
    std::uint64_t answered_ = 0; // changes committed whose waiters have been told
    bool failing_ = false;      // the last commit failed
    bool stopping_ = false;
    std::multimap<std::uint64_t, std::function<void(bool)>> waiters_;
    std::thread writer_;
};

} // namespace macvmorx::storage
