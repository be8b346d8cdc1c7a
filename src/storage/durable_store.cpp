#include "macvmorx/storage/durable_store.hpp"

#include "record_codec.hpp"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>
#include <spdlog/spdlog.h>

namespace macvmorx::storage {
namespace {

constexpr int schema_version = 1;

constexpr const char* schema = R"sql(
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS vms (vm_id TEXT PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS queue (position INTEGER PRIMARY KEY, vm_id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS queue_by_vm ON queue (vm_id);
CREATE TABLE IF NOT EXISTS nodes (node_id TEXT PRIMARY KEY, drained INTEGER NOT NULL, labels TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (job_id INTEGER PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS deliveries (seq INTEGER PRIMARY KEY AUTOINCREMENT, delivery_id TEXT NOT NULL UNIQUE);
)sql";

} // namespace

struct DurableStore::Database {
    explicit Database(const std::filesystem::path& file)
        : handle{file.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE} {}

    std::mutex mutex; // one user at a time: the loader at startup, then the writer thread
    SQLite::Database handle;
};

DurableStore::DurableStore(const std::filesystem::path& directory) : file_{directory / "macvmorx.db"} {
    std::error_code ec;
    std::filesystem::create_directories(directory, ec);
    if (ec) throw StorageError("cannot create the data directory " + directory.string() + ": " + ec.message());
    if (!std::filesystem::is_directory(directory)) {
        throw StorageError("the data directory " + directory.string() + " is not a directory");
    }
    try {
        database_ = std::make_unique<Database>(file_);
        auto& db = database_->handle;
        db.setBusyTimeout(5000);
        // Reading the journal mode is the first access: a file that is not a database fails here.
        const std::string mode = db.execAndGet("PRAGMA journal_mode=WAL").getString();
        if (mode != "wal") throw StorageError("cannot switch " + file_.string() + " to WAL mode (got " + mode + ")");
        // A commit survives the process being killed; only a power cut can lose the last ones.
        db.exec("PRAGMA synchronous=NORMAL");
        const std::string check = db.execAndGet("PRAGMA quick_check").getString();
        if (check != "ok") throw StorageError(file_.string() + " is corrupt: " + check);
        db.exec(schema);
        SQLite::Statement version{db, "SELECT value FROM meta WHERE key = 'schema_version'"};
        if (version.executeStep()) {
            const int found = std::stoi(version.getColumn(0).getString());
            if (found > schema_version) {
                throw StorageError(file_.string() + " was written by a newer macvmorx (schema " +
                                   std::to_string(found) + ")");
            }
        } else {
            db.exec("INSERT INTO meta (key, value) VALUES ('schema_version', '" + std::to_string(schema_version) + "')");
        }
        SQLite::Statement ends{db, "SELECT COALESCE(MIN(position), 0), COALESCE(MAX(position), 0) FROM queue"};
        if (ends.executeStep()) {
            queue_front_ = ends.getColumn(0).getInt64();
            queue_back_ = ends.getColumn(1).getInt64();
        }
    } catch (const SQLite::Exception& error) {
        throw StorageError("cannot use " + file_.string() + ": " + error.what() +
                           " (a corrupt or foreign file: move it away to start afresh, or restore a backup)");
    }
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
    StoredState state;
    std::lock_guard lock{database_->mutex};
    auto& db = database_->handle;
    try {
        SQLite::Statement vms{db, "SELECT vm_id, record FROM vms"};
        while (vms.executeStep()) {
            try {
                state.vms.push_back(decode_vm(vms.getColumn(1).getString()));
            } catch (const std::exception& error) {
                throw StorageError("the record of VM " + vms.getColumn(0).getString() + " in " + file_.string() +
                                   " is unreadable: " + error.what());
            }
        }
        SQLite::Statement queue{db, "SELECT vm_id FROM queue ORDER BY position"};
        while (queue.executeStep()) state.queue.push_back(queue.getColumn(0).getString());
        SQLite::Statement nodes{db, "SELECT node_id, drained, labels FROM nodes"};
        while (nodes.executeStep()) {
            state.nodes.push_back({nodes.getColumn(0).getString(), nodes.getColumn(1).getInt() != 0,
                                   decode_labels(nodes.getColumn(2).getString())});
        }
        SQLite::Statement jobs{db, "SELECT job_id, record FROM jobs"};
        while (jobs.executeStep()) {
            try {
                state.jobs.push_back(decode_job(jobs.getColumn(1).getString()));
            } catch (const std::exception& error) {
                throw StorageError("the record of job " + jobs.getColumn(0).getString() + " in " + file_.string() +
                                   " is unreadable: " + error.what());
            }
        }
        SQLite::Statement deliveries{db, "SELECT delivery_id FROM deliveries ORDER BY seq"};
        while (deliveries.executeStep()) state.deliveries.push_back(deliveries.getColumn(0).getString());
    } catch (const SQLite::Exception& error) {
        throw StorageError("cannot read " + file_.string() + ": " + error.what());
    }
    return state;
}

void DurableStore::enqueue(const std::function<void(Batch&)>& change) {
    {
        std::lock_guard lock{mutex_};
        change(pending_);
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
    {
        std::lock_guard lock{mutex_};
        if (durable_ < ticket) {
            waiters_.emplace(ticket, std::move(done));
            return;
        }
    }
    done(true);
}

bool DurableStore::flush() {
    std::unique_lock lock{mutex_};
    const std::uint64_t target = queued_;
    written_.wait(lock, [&] { return answered_ >= target || failing_; });
    return answered_ >= target;
}

void DurableStore::write_loop() {
    std::unique_lock lock{mutex_};
    for (;;) {
        wake_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
        if (pending_.empty()) break; // stopping, and everything is written

        Batch batch = std::move(pending_);
        pending_ = Batch{};
        const std::uint64_t target = queued_;
        lock.unlock();

        bool ok = true;
        std::int64_t front = queue_front_;
        std::int64_t back = queue_back_;
        try {
            std::lock_guard database_lock{database_->mutex};
            auto& db = database_->handle;
            SQLite::Transaction transaction{db};
            SQLite::Statement upsert{db, "INSERT INTO vms (vm_id, record) VALUES (?, ?) "
                                         "ON CONFLICT(vm_id) DO UPDATE SET record = excluded.record"};
            SQLite::Statement remove{db, "DELETE FROM vms WHERE vm_id = ?"};
            for (const auto& [vm_id, vm] : batch.vms) {
                if (vm) {
                    upsert.bind(1, vm_id);
                    upsert.bind(2, encode_vm(*vm));
                    upsert.exec();
                    upsert.reset();
                } else {
                    remove.bind(1, vm_id);
                    remove.exec();
                    remove.reset();
                }
            }
            if (!batch.queue.empty()) {
                SQLite::Statement insert{db, "INSERT INTO queue (position, vm_id) VALUES (?, ?)"};
                SQLite::Statement leave{db, "DELETE FROM queue WHERE vm_id = ?"};
                for (const auto& [vm_id, change] : batch.queue) {
                    if (change == Batch::QueueChange::left) {
                        leave.bind(1, vm_id);
                        leave.exec();
                        leave.reset();
                        continue;
                    }
                    insert.bind(1, change == Batch::QueueChange::joined_front ? --front : ++back);
                    insert.bind(2, vm_id);
                    insert.exec();
                    insert.reset();
                }
            }
            for (const auto& [node_id, settings] : batch.nodes) {
                if (settings) {
                    SQLite::Statement node{db, "INSERT INTO nodes (node_id, drained, labels) VALUES (?, ?, ?) "
                                               "ON CONFLICT(node_id) DO UPDATE SET drained = excluded.drained, "
                                               "labels = excluded.labels"};
                    node.bind(1, node_id);
                    node.bind(2, settings->drained ? 1 : 0);
                    node.bind(3, encode_labels(settings->operator_labels));
                    node.exec();
                } else {
                    SQLite::Statement node{db, "DELETE FROM nodes WHERE node_id = ?"};
                    node.bind(1, node_id);
                    node.exec();
                }
            }
            for (const auto& [job_id, job] : batch.jobs) {
                if (job) {
                    SQLite::Statement upsert_job{db, "INSERT INTO jobs (job_id, record) VALUES (?, ?) "
                                                     "ON CONFLICT(job_id) DO UPDATE SET record = excluded.record"};
                    upsert_job.bind(1, job_id);
                    upsert_job.bind(2, encode_job(*job));
                    upsert_job.exec();
                } else {
                    SQLite::Statement remove_job{db, "DELETE FROM jobs WHERE job_id = ?"};
                    remove_job.bind(1, job_id);
                    remove_job.exec();
                }
            }
            for (const auto& [delivery_id, remembered] : batch.deliveries) {
                SQLite::Statement delivery{db, remembered ? "INSERT OR IGNORE INTO deliveries (delivery_id) VALUES (?)"
                                                          : "DELETE FROM deliveries WHERE delivery_id = ?"};
                delivery.bind(1, delivery_id);
                delivery.exec();
            }
            transaction.commit();
            // Only once committed: a failed batch is written again from the same ends.
            queue_front_ = front;
            queue_back_ = back;
        } catch (const std::exception& error) {
            ok = false;
            spdlog::error("cannot write durable records to {}: {}; retrying", file_.string(), error.what());
        }

        lock.lock();
        std::vector<std::pair<std::function<void(bool)>, bool>> answers;
        if (ok) {
            durable_ = target;
            failing_ = false;
            for (auto it = waiters_.begin(); it != waiters_.end() && it->first <= durable_;) {
                answers.emplace_back(std::move(it->second), true);
                it = waiters_.erase(it);
            }
        } else {
            // Keep the batch for the next try, under anything newer that arrived meanwhile.
            failing_ = true;
            pending_.vms.merge(batch.vms);
            batch.queue.insert(batch.queue.end(), pending_.queue.begin(), pending_.queue.end());
            pending_.queue = std::move(batch.queue);
            pending_.nodes.merge(batch.nodes);
            pending_.jobs.merge(batch.jobs);
            batch.deliveries.insert(batch.deliveries.end(), pending_.deliveries.begin(), pending_.deliveries.end());
            pending_.deliveries = std::move(batch.deliveries);
            for (auto it = waiters_.begin(); it != waiters_.end() && it->first <= target;) {
                answers.emplace_back(std::move(it->second), false);
                it = waiters_.erase(it);
            }
        }
        lock.unlock();
        for (auto& [answer, durable] : answers) answer(durable);
        lock.lock();
        // flush() returns only once the waiters of what it waited for have been answered.
        answered_ = durable_;
        written_.notify_all();
        if (!ok && !stopping_) wake_.wait_for(lock, std::chrono::seconds{1}, [this] { return stopping_; });
        if (!ok && stopping_) break; // cannot write: give up rather than hang the shutdown
    }
}

} // namespace macvmorx::storage
