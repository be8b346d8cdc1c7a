#include "sqlite_records.hpp"

#include "record_codec.hpp"
#include "schema_migrations.hpp"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>

namespace macvmorx::storage {
namespace {

class SqliteRecords final : public RecordBackend {
public:
    explicit SqliteRecords(const std::filesystem::path& file)
        : file_{file}, db_{file.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE} {
        db_.setBusyTimeout(5000);
        // Reading the journal mode is the first access: a file that is not a database fails here.
        const std::string mode = db_.execAndGet("PRAGMA journal_mode=WAL").getString();
        if (mode != "wal") throw StorageError("cannot switch " + file_.string() + " to WAL mode (got " + mode + ")");
        // A commit survives the process being killed; only a power cut can lose the last ones.
        db_.exec("PRAGMA synchronous=NORMAL");
        const std::string check = db_.execAndGet("PRAGMA quick_check").getString();
        if (check != "ok") throw StorageError(file_.string() + " is corrupt: " + check);
        migrate();
        read_queue_ends();
    }

    std::string describe() const override { return file_.string(); }

    StoredState load() override {
        StoredState state;
        SQLite::Statement vms{db_, "SELECT vm_id, record FROM vms"};
        while (vms.executeStep()) {
            try {
                state.vms.push_back(decode_vm(vms.getColumn(1).getString()));
            } catch (const std::exception& error) {
                throw StorageError("the record of VM " + vms.getColumn(0).getString() + " in " + file_.string() +
                                   " is unreadable: " + error.what());
            }
        }
        SQLite::Statement queue{db_, "SELECT vm_id FROM queue ORDER BY position"};
        while (queue.executeStep()) state.queue.push_back(queue.getColumn(0).getString());
        SQLite::Statement nodes{db_, "SELECT node_id, drained, labels FROM nodes"};
        while (nodes.executeStep()) {
            state.nodes.push_back({nodes.getColumn(0).getString(), nodes.getColumn(1).getInt() != 0,
                                   decode_labels(nodes.getColumn(2).getString())});
        }
        SQLite::Statement pins{db_, "SELECT image, min_hosts FROM image_pins"};
        while (pins.executeStep()) state.image_pins.emplace(pins.getColumn(0).getString(), pins.getColumn(1).getInt());
        SQLite::Statement jobs{db_, "SELECT job_id, record FROM jobs"};
        while (jobs.executeStep()) {
            try {
                state.jobs.push_back(decode_job(jobs.getColumn(1).getString()));
            } catch (const std::exception& error) {
                throw StorageError("the record of job " + jobs.getColumn(0).getString() + " in " + file_.string() +
                                   " is unreadable: " + error.what());
            }
        }
        SQLite::Statement deliveries{db_, "SELECT delivery_id FROM deliveries ORDER BY seq"};
        while (deliveries.executeStep()) state.deliveries.push_back(deliveries.getColumn(0).getString());
        read_queue_ends();
        return state;
    }

    void commit(const RecordBatch& batch) override {
        QueueEnds ends = ends_;
        SQLite::Transaction transaction{db_};
        SQLite::Statement upsert{db_, "INSERT INTO vms (vm_id, record) VALUES (?, ?) "
                                      "ON CONFLICT(vm_id) DO UPDATE SET record = excluded.record"};
        SQLite::Statement remove{db_, "DELETE FROM vms WHERE vm_id = ?"};
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
            SQLite::Statement insert{db_, "INSERT INTO queue (position, vm_id) VALUES (?, ?)"};
            SQLite::Statement leave{db_, "DELETE FROM queue WHERE vm_id = ?"};
            for (const auto& [vm_id, change] : batch.queue) {
                if (change == RecordBatch::QueueChange::left) {
                    leave.bind(1, vm_id);
                    leave.exec();
                    leave.reset();
                    continue;
                }
                insert.bind(1, change == RecordBatch::QueueChange::joined_front ? --ends.front : ++ends.back);
                insert.bind(2, vm_id);
                insert.exec();
                insert.reset();
            }
        }
        for (const auto& [node_id, settings] : batch.nodes) {
            if (settings) {
                SQLite::Statement node{db_, "INSERT INTO nodes (node_id, drained, labels) VALUES (?, ?, ?) "
                                            "ON CONFLICT(node_id) DO UPDATE SET drained = excluded.drained, "
                                            "labels = excluded.labels"};
                node.bind(1, node_id);
                node.bind(2, settings->drained ? 1 : 0);
                node.bind(3, encode_labels(settings->operator_labels));
                node.exec();
            } else {
                SQLite::Statement node{db_, "DELETE FROM nodes WHERE node_id = ?"};
                node.bind(1, node_id);
                node.exec();
            }
        }
        for (const auto& [image, min_hosts] : batch.image_pins) {
            SQLite::Statement pin{db_, min_hosts > 0 ? "INSERT INTO image_pins (image, min_hosts) VALUES (?, ?) "
                                                       "ON CONFLICT(image) DO UPDATE SET min_hosts = excluded.min_hosts"
                                                     : "DELETE FROM image_pins WHERE image = ?"};
            pin.bind(1, image);
            if (min_hosts > 0) pin.bind(2, min_hosts);
            pin.exec();
        }
        for (const auto& [job_id, job] : batch.jobs) {
            if (job) {
                SQLite::Statement upsert_job{db_, "INSERT INTO jobs (job_id, record) VALUES (?, ?) "
                                                  "ON CONFLICT(job_id) DO UPDATE SET record = excluded.record"};
                upsert_job.bind(1, job_id);
                upsert_job.bind(2, encode_job(*job));
                upsert_job.exec();
            } else {
                SQLite::Statement remove_job{db_, "DELETE FROM jobs WHERE job_id = ?"};
                remove_job.bind(1, job_id);
                remove_job.exec();
            }
        }
        for (const auto& [delivery_id, remembered] : batch.deliveries) {
            SQLite::Statement delivery{db_, remembered ? "INSERT OR IGNORE INTO deliveries (delivery_id) VALUES (?)"
                                                       : "DELETE FROM deliveries WHERE delivery_id = ?"};
            delivery.bind(1, delivery_id);
            delivery.exec();
        }
        transaction.commit();
        ends_ = ends; // only once committed: a failed batch is written again from the same ends
    }

private:
    void migrate() {
        db_.exec("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
        int found = 0;
        SQLite::Statement version{db_, "SELECT value FROM meta WHERE key = 'schema_version'"};
        if (version.executeStep()) found = std::stoi(version.getColumn(0).getString());
        const auto migrations = sqlite_migrations();
        const int known = migrations.back().version;
        if (found > known) {
            throw SchemaTooNew(file_.string() + " was written by a newer macvmorx (schema " + std::to_string(found) +
                               ", this binary knows up to " + std::to_string(known) + ")");
        }
        if (found == known) return;
        SQLite::Transaction transaction{db_};
        for (const auto& migration : migrations) {
            if (migration.version > found) db_.exec(migration.sql);
        }
        SQLite::Statement record{db_, "INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
                                      "ON CONFLICT(key) DO UPDATE SET value = excluded.value"};
        record.bind(1, std::to_string(known));
        record.exec();
        transaction.commit();
    }

    void read_queue_ends() {
        SQLite::Statement ends{db_, "SELECT COALESCE(MIN(position), 0), COALESCE(MAX(position), 0) FROM queue"};
        if (ends.executeStep()) ends_ = {ends.getColumn(0).getInt64(), ends.getColumn(1).getInt64()};
    }

    std::filesystem::path file_;
    SQLite::Database db_;
    QueueEnds ends_;
};

} // namespace

std::unique_ptr<RecordBackend> open_sqlite_records(const std::filesystem::path& directory) {
    std::error_code ec;
    std::filesystem::create_directories(directory, ec);
    if (ec) throw StorageError("cannot create the data directory " + directory.string() + ": " + ec.message());
    if (!std::filesystem::is_directory(directory)) {
        throw StorageError("the data directory " + directory.string() + " is not a directory");
    }
    const auto file = directory / "macvmorx.db";
    try {
        return std::make_unique<SqliteRecords>(file);
    } catch (const StorageError&) {
        throw;
    } catch (const SQLite::Exception& error) {
        throw StorageError("cannot use " + file.string() + ": " + error.what() +
                           " (a corrupt or foreign file: move it away to start afresh, or restore a backup)");
    }
}

} // namespace macvmorx::storage
