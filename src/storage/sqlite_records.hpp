#pragma once

// The records in SQLite: `directory`/macvmorx.db in WAL mode, for a single daemon. Private to
// storage.

#include "record_backend.hpp"

#include <filesystem>
#include <memory>

namespace macvmorx::storage {

// Opens or creates the database and brings its schema up to date. Throws StorageError.
std::unique_ptr<RecordBackend> open_sqlite_records(const std::filesystem::path& directory);

} // namespace macvmorx::storage
