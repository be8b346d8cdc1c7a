#include "postgres_records.hpp"

#include "postgres_connection.hpp"
#include "record_codec.hpp"
#include "schema_migrations.hpp"

#include "macvmorx/storage/leader_lease.hpp"

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

namespace macvmorx::storage {
namespace {

// Taken for the migrations' transaction, so that daemons starting together migrate one by one.
constexpr std::int64_t migration_lock = 0x6d6163766d6f7278; // "macvmorx"

class PostgresRecords final : public RecordBackend {
public:
    PostgresRecords(const PostgresOptions& options, std::shared_ptr<const WriteFence> fence)
        : url_{options.url}, shown_{redact_database_url(options.url)}, fence_{std::move(fence)} {
        connection_ = connect_postgres_at_start(url_, options.start_wait);
        migrate();
        prepare();
    }

    std::string describe() const override { return shown_; }

    StoredState load() override {
        auto& connection = connected();
        try {
            StoredState state;
            pqxx::read_transaction read{connection};
            for (const auto& row : read.exec("SELECT vm_id, record FROM vms")) {
                try {
                    state.vms.push_back(decode_vm(row[1].c_str()));
                } catch (const std::exception& error) {
                    throw StorageError("the record of VM " + std::string{row[0].c_str()} + " in " + shown_ +
                                       " is unreadable: " + error.what());
                }
            }
            for (const auto& row : read.exec("SELECT vm_id FROM queue ORDER BY position")) {
                state.queue.emplace_back(row[0].c_str());
            }
            for (const auto& row : read.exec("SELECT node_id, drained, labels FROM nodes")) {
                state.nodes.push_back({row[0].c_str(), row[1].as<bool>(), decode_labels(row[2].c_str())});
            }
            for (const auto& row : read.exec("SELECT image, min_hosts FROM image_pins")) {
                state.image_pins.emplace(row[0].c_str(), row[1].as<int>());
            }
            for (const auto& row : read.exec("SELECT job_id, record FROM jobs")) {
                try {
                    state.jobs.push_back(decode_job(row[1].c_str()));
                } catch (const std::exception& error) {
                    throw StorageError("the record of job " + std::string{row[0].c_str()} + " in " + shown_ +
                                       " is unreadable: " + error.what());
                }
            }
            for (const auto& row : read.exec("SELECT delivery_id FROM deliveries ORDER BY seq")) {
                state.deliveries.emplace_back(row[0].c_str());
            }
            const auto ends = read.exec("SELECT COALESCE(MIN(position), 0), COALESCE(MAX(position), 0) FROM queue");
            ends_ = {ends[0][0].as<std::int64_t>(), ends[0][1].as<std::int64_t>()};
            return state;
        } catch (const pqxx::broken_connection&) {
            connection_.reset();
            throw;
        }
    }

    void commit(const RecordBatch& batch) override {
        auto& connection = connected();
        QueueEnds ends = ends_;
        try {
            pqxx::work work{connection};
            if (fence_ != nullptr) check_fence(work);
            // One statement for every VM written, one for every VM removed: a batch costs a few
            // round trips to the database, not one per record.
            nlohmann::json written = nlohmann::json::object();
            nlohmann::json removed = nlohmann::json::array();
            for (const auto& [vm_id, vm] : batch.vms) {
                if (vm) {
                    written[vm_id] = encode_vm(*vm);
                } else {
                    removed.push_back(vm_id);
                }
            }
            if (!written.empty()) work.exec_prepared("upsert_vms", written.dump());
            if (!removed.empty()) work.exec_prepared("remove_vms", removed.dump());
            for (const auto& [vm_id, change] : batch.queue) {
                if (change == RecordBatch::QueueChange::left) {
                    work.exec_prepared("leave_queue", vm_id);
                } else {
                    const std::int64_t position =
                        change == RecordBatch::QueueChange::joined_front ? --ends.front : ++ends.back;
                    work.exec_prepared("join_queue", position, vm_id);
                }
            }
            for (const auto& [node_id, settings] : batch.nodes) {
                if (settings) {
                    work.exec_prepared("upsert_node", node_id, settings->drained, encode_labels(settings->operator_labels));
                } else {
                    work.exec_prepared("remove_node", node_id);
                }
            }
            for (const auto& [image, min_hosts] : batch.image_pins) {
                if (min_hosts > 0) {
                    work.exec_prepared("pin_image", image, min_hosts);
                } else {
                    work.exec_prepared("unpin_image", image);
                }
            }
            nlohmann::json jobs_written = nlohmann::json::object();
            nlohmann::json jobs_removed = nlohmann::json::array();
            for (const auto& [job_id, job] : batch.jobs) {
                if (job) {
                    jobs_written[std::to_string(job_id)] = encode_job(*job);
                } else {
                    jobs_removed.push_back(std::to_string(job_id));
                }
            }
            if (!jobs_written.empty()) work.exec_prepared("upsert_jobs", jobs_written.dump());
            if (!jobs_removed.empty()) work.exec_prepared("remove_jobs", jobs_removed.dump());
            for (const auto& [delivery_id, remembered] : batch.deliveries) {
                work.exec_prepared(remembered ? "remember_delivery" : "forget_delivery", delivery_id);
            }
            work.commit();
        } catch (const pqxx::broken_connection&) {
            connection_.reset(); // reconnect at the next commit
            throw;
        } catch (const pqxx::in_doubt_error&) {
            // The connection broke during COMMIT: whether it was written is unknown; writing the
            // batch again is harmless (every change is an upsert or a delete; a queue row goes to
            // the same position again).
            connection_.reset();
            throw;
        }
        ends_ = ends; // only once committed: a failed batch is written again from the same ends
    }

private:
    pqxx::connection& connected() {
        if (!connection_) {
            connection_ = connect_postgres(url_);
            prepare();
        }
        return *connection_;
    }

    void check_fence(pqxx::work& work) {
        const std::uint64_t epoch = fence_->epoch();
        if (epoch == 0) throw FencedOut("this daemon does not hold the leader's lease");
        // FOR SHARE: a rival's take-over (an UPDATE of this row) waits until this commit ends,
        // so no write of this transaction can land after another daemon leads.
        const auto lease = work.exec_prepared("check_fence");
        if (lease.empty() || lease[0][0].as<std::string>() != fence_->holder() ||
            lease[0][1].as<std::uint64_t>() != epoch) {
            throw FencedOut("the leader's lease of epoch " + std::to_string(epoch) +
                            " is no longer this daemon's: another daemon leads");
        }
        // Still ours but lapsed (the database was away): written once it is renewed.
        if (!lease[0][2].as<bool>()) throw StorageError("the leader's lease has lapsed; waiting for its renewal");
    }

    void migrate() {
        const auto migrations = postgres_migrations();
        const int known = migrations.back().version;
        pqxx::work work{*connection_};
        work.exec_params("SELECT pg_advisory_xact_lock($1)", migration_lock);
        work.exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL, "
                  "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())");
        const int found = work.exec("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")[0][0].as<int>();
        if (found > known) {
            throw SchemaTooNew(shown_ + " was written by a newer macvmorx (schema " + std::to_string(found) +
                               ", this binary knows up to " + std::to_string(known) + ")");
        }
        for (const auto& migration : migrations) {
            if (migration.version <= found) continue;
            work.exec(migration.sql);
            work.exec_params("INSERT INTO schema_migrations (version, description) VALUES ($1, $2)", migration.version,
                             std::string{migration.description});
        }
        work.commit();
    }

    void prepare() {
        auto& connection = *connection_;
        connection.prepare("check_fence", "SELECT holder, epoch, expires_at > clock_timestamp() FROM leader_lease "
                                          "WHERE name = 'leader' FOR SHARE");
        // $1: a JSON object of id → record (a JSON document as a string), or an array of ids.
        connection.prepare("upsert_vms", "INSERT INTO vms (vm_id, record) SELECT key, value FROM json_each_text($1::json) "
                                         "ON CONFLICT (vm_id) DO UPDATE SET record = excluded.record");
        connection.prepare("remove_vms", "DELETE FROM vms WHERE vm_id IN (SELECT json_array_elements_text($1::json))");
        // An upsert: a batch written again after a COMMIT whose outcome was unknown (in doubt)
        // finds its rows in place, at the same positions.
        connection.prepare("join_queue", "INSERT INTO queue (position, vm_id) VALUES ($1, $2) "
                                         "ON CONFLICT (position) DO UPDATE SET vm_id = excluded.vm_id");
        connection.prepare("leave_queue", "DELETE FROM queue WHERE vm_id = $1");
        connection.prepare("upsert_node", "INSERT INTO nodes (node_id, drained, labels) VALUES ($1, $2, $3) "
                                          "ON CONFLICT (node_id) DO UPDATE SET drained = excluded.drained, "
                                          "labels = excluded.labels");
        connection.prepare("remove_node", "DELETE FROM nodes WHERE node_id = $1");
        connection.prepare("upsert_jobs", "INSERT INTO jobs (job_id, record) "
                                          "SELECT key::bigint, value FROM json_each_text($1::json) "
                                          "ON CONFLICT (job_id) DO UPDATE SET record = excluded.record");
        connection.prepare("remove_jobs", "DELETE FROM jobs WHERE job_id IN "
                                          "(SELECT json_array_elements_text($1::json)::bigint)");
        connection.prepare("remember_delivery", "INSERT INTO deliveries (delivery_id) VALUES ($1) ON CONFLICT DO NOTHING");
        connection.prepare("forget_delivery", "DELETE FROM deliveries WHERE delivery_id = $1");
        connection.prepare("pin_image", "INSERT INTO image_pins (image, min_hosts) VALUES ($1, $2) "
                                        "ON CONFLICT (image) DO UPDATE SET min_hosts = excluded.min_hosts");
        connection.prepare("unpin_image", "DELETE FROM image_pins WHERE image = $1");
    }

    std::string url_;
    std::string shown_;
    std::shared_ptr<const WriteFence> fence_;
    std::unique_ptr<pqxx::connection> connection_;
    QueueEnds ends_;
};

} // namespace

std::unique_ptr<RecordBackend> open_postgres_records(const PostgresOptions& options,
                                                     std::shared_ptr<const WriteFence> fence) {
    try {
        return std::make_unique<PostgresRecords>(options, std::move(fence));
    } catch (const StorageError&) {
        throw;
    } catch (const std::exception& error) {
        throw StorageError("cannot use PostgreSQL at " + redact_database_url(options.url) + ": " + error.what());
    }
}

} // namespace macvmorx::storage
