#include "schema_migrations.hpp"

#include <array>

namespace macvmorx::storage {
namespace {

// Version 1 is the schema SQLite data directories have had since records became durable; its
// number was kept in meta.schema_version, where it stays.
constexpr std::array sqlite_list{
    Migration{1, "VM records, the placement queue, node settings, GitHub jobs and deliveries", R"sql(
CREATE TABLE IF NOT EXISTS vms (vm_id TEXT PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS queue (position INTEGER PRIMARY KEY, vm_id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS queue_by_vm ON queue (vm_id);
CREATE TABLE IF NOT EXISTS nodes (node_id TEXT PRIMARY KEY, drained INTEGER NOT NULL, labels TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (job_id INTEGER PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS deliveries (seq INTEGER PRIMARY KEY AUTOINCREMENT, delivery_id TEXT NOT NULL UNIQUE);
)sql"},
    Migration{2, "operators' pins of images to a number of hosts (PUT /api/images/{imageName})", R"sql(
CREATE TABLE image_pins (image TEXT PRIMARY KEY, min_hosts INTEGER NOT NULL);
)sql"},
};

// The same records, and the leader's lease (docs/high-availability.md): one row, whose epoch
// grows by one each time another daemon takes it; every commit of the leader checks it.
constexpr std::array postgres_list{
    Migration{1, "VM records, the placement queue, node settings, GitHub jobs and deliveries; the leader's lease", R"sql(
CREATE TABLE vms (vm_id TEXT PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE queue (position BIGINT PRIMARY KEY, vm_id TEXT NOT NULL);
CREATE INDEX queue_by_vm ON queue (vm_id);
CREATE TABLE nodes (node_id TEXT PRIMARY KEY, drained BOOLEAN NOT NULL, labels TEXT NOT NULL);
CREATE TABLE jobs (job_id BIGINT PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE deliveries (seq BIGSERIAL PRIMARY KEY, delivery_id TEXT NOT NULL UNIQUE);
CREATE TABLE leader_lease (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    epoch BIGINT NOT NULL,
    url TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
)sql"},
    Migration{2, "operators' pins of images to a number of hosts (PUT /api/images/{imageName})", R"sql(
CREATE TABLE image_pins (image TEXT PRIMARY KEY, min_hosts INTEGER NOT NULL);
)sql"},
};

} // namespace

std::span<const Migration> sqlite_migrations() { return sqlite_list; }
std::span<const Migration> postgres_migrations() { return postgres_list; }

} // namespace macvmorx::storage
