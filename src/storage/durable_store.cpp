#include "macvmorx/storage/durable_store.hpp"

#include "postgres_records.hpp"
#include "record_backend.hpp"
#include "sqlite_records.hpp"

#include <spdlog/spdlog.h>

namespace macvmorx::storage {

struct DurableStore::Batch : RecordBatch {};

DurableStore::DurableStore(const std::filesystem::path& directory) : DurableStore(open_sqlite_records(directory)) {}

DurableStore::DurableStore(const PostgresOptions& options, std::shared_ptr<const WriteFence> fence)
    : DurableStore(open_postgres_records(options, std::move(fence))) {}

DurableStore::DurableStore(std::unique_ptr<RecordBackend> backend)
    : backend_{std::move(backend)}, location_{backend_->describe()}, pending_{std::make_unique<Batch>()} {
    writer_ = std::thread{[this] { write_loop(); }};
}

DurableStore::~DurableStore() {
    {
        std::lock_guard lock{mutex_};
        stopping_ = true;
    }
    wake_.notify_all();
    writer_.join();
}

StoredState DurableStore::load() {
    // Before any change is queued, so the writer thread does not use the backend meanwhile.
    try {
        return backend_->load();
    } catch (const StorageError&) {
        throw;
    } catch (const std::exception& error) {
        throw StorageError("cannot read " + location_ + ": " + error.what());
    }
}

void DurableStore::set_commit_observer(std::function<void(std::chrono::duration<double>, bool)> observer) {
    std::lock_guard lock{mutex_};
    commit_observer_ = std::move(observer);
}

void DurableStore::set_fenced_handler(std::function<void()> handler) {
    std::lock_guard lock{mutex_};
    fenced_handler_ = std::move(handler);
}

bool DurableStore::failing() const {
    std::lock_guard lock{mutex_};
    return failing_ || fenced_;
}

void DurableStore::enqueue(const std::function<void(Batch&)>& change) {
    {
        std::lock_guard lock{mutex_};
        change(*pending_);
        ++queued_;
    }
    wake_.notify_one();
}

void DurableStore::vm_changed(const lifecycle::VmRecord& vm) {
    // A copy under the caller's lock; encoding waits for the writer thread.
    enqueue([&](Batch& batch) { batch.vms[vm.vm_id] = vm; });
}

void DurableStore::vm_removed(const std::string& vm_id) {
    enqueue([&](Batch& batch) { batch.vms[vm_id] = std::nullopt; });
}

void DurableStore::queue_joined(const std::string& vm_id, bool at_front) {
    enqueue([&](Batch& batch) {
        batch.queue.emplace_back(vm_id, at_front ? Batch::QueueChange::joined_front : Batch::QueueChange::joined_back);
    });
}

void DurableStore::queue_left(const std::string& vm_id) {
    enqueue([&](Batch& batch) { batch.queue.emplace_back(vm_id, Batch::QueueChange::left); });
}

void DurableStore::node_settings_changed(const fleet::NodeSettings& settings) {
    enqueue([&](Batch& batch) { batch.nodes[settings.node_id] = settings; });
}

void DurableStore::image_pinned(const std::string& image, int min_hosts) {
    enqueue([&](Batch& batch) { batch.image_pins[image] = min_hosts; });
}

void DurableStore::node_settings_removed(const std::string& node_id) {
    enqueue([&](Batch& batch) { batch.nodes[node_id] = std::nullopt; });
}

void DurableStore::job_changed(const actions::JobRecord& job) {
    enqueue([&](Batch& batch) { batch.jobs[job.job_id] = job; });
}

void DurableStore::job_removed(std::int64_t job_id) {
    enqueue([&](Batch& batch) { batch.jobs[job_id] = std::nullopt; });
}

void DurableStore::delivery_remembered(const std::string& delivery_id) {
    enqueue([&](Batch& batch) { batch.deliveries.emplace_back(delivery_id, true); });
}

void DurableStore::delivery_forgotten(const std::string& delivery_id) {
    enqueue([&](Batch& batch) { batch.deliveries.emplace_back(delivery_id, false); });
}

std::uint64_t DurableStore::ticket() const {
    std::lock_guard lock{mutex_};
    return queued_;
}

void DurableStore::when_durable(std::uint64_t ticket, std::function<void(bool)> done) {
    bool durable = true;
    {
        std::lock_guard lock{mutex_};
        if (fenced_) {
            durable = false; // nothing more is written: the change never will be
        } else if (durable_ < ticket) {
            waiters_.emplace(ticket, std::move(done));
            return;
        }
    }
    done(durable);
}

bool DurableStore::flush() {
    std::unique_lock lock{mutex_};
    const std::uint64_t target = queued_;
    written_.wait(lock, [&] { return answered_ >= target || failing_ || fenced_; });
    return answered_ >= target;
}

void DurableStore::write_loop() {
    std::unique_lock lock{mutex_};
    for (;;) {
        wake_.wait(lock, [this] { return stopping_ || !pending_->empty(); });
        if (pending_->empty()) break; // stopping, and everything is written

        auto batch = std::exchange(pending_, std::make_unique<Batch>());
        const std::uint64_t target = queued_;
        const bool fenced_before = fenced_;
        auto observer = commit_observer_;
        lock.unlock();

        enum class Outcome { committed, failed, fenced } outcome = Outcome::committed;
        if (fenced_before) {
            outcome = Outcome::fenced; // dropped: another daemon leads and writes
        } else {
            const auto started = std::chrono::steady_clock::now();
            try {
                backend_->commit(*batch);
            } catch (const FencedOut& error) {
                outcome = Outcome::fenced;
                spdlog::critical("writes to {} refused: {}; nothing more is written by this daemon", location_,
                                 error.what());
            } catch (const std::exception& error) {
                outcome = Outcome::failed;
                spdlog::error("cannot write durable records to {}: {}; retrying", location_, error.what());
            }
            if (observer && !fenced_before) {
                observer(std::chrono::steady_clock::now() - started, outcome == Outcome::committed);
            }
        }

        lock.lock();
        std::vector<std::pair<std::function<void(bool)>, bool>> answers;
        std::function<void()> fenced_handler;
        if (outcome == Outcome::committed) {
            durable_ = target;
            failing_ = false;
            for (auto it = waiters_.begin(); it != waiters_.end() && it->first <= durable_;) {
                answers.emplace_back(std::move(it->second), true);
                it = waiters_.erase(it);
            }
        } else if (outcome == Outcome::fenced) {
            if (!fenced_) fenced_handler = fenced_handler_;
            fenced_ = true;
            for (auto& [ticket, waiter] : waiters_) answers.emplace_back(std::move(waiter), false);
            waiters_.clear();
        } else {
            // Kept for the next try, under anything newer that arrived meanwhile.
            failing_ = true;
            batch->merge_newer(std::move(*pending_));
            pending_ = std::move(batch);
            for (auto it = waiters_.begin(); it != waiters_.end() && it->first <= target;) {
                answers.emplace_back(std::move(it->second), false);
                it = waiters_.erase(it);
            }
        }
        lock.unlock();
        for (auto& [answer, durable] : answers) answer(durable);
        if (fenced_handler) fenced_handler();
        lock.lock();
        // flush() returns only once the waiters of what it waited for have been answered.
        answered_ = durable_;
        written_.notify_all();
        if (outcome == Outcome::failed && !stopping_) {
            wake_.wait_for(lock, std::chrono::seconds{1}, [this] { return stopping_; });
        }
        if (outcome == Outcome::failed && stopping_) break; // cannot write: give up rather than hang the shutdown
    }
}

} // namespace macvmorx::storage
