#pragma once

// One database engine under the DurableStore: SQLite (sqlite_records.cpp) or PostgreSQL
// (postgres_records.cpp). The store batches and orders changes; a backend reads them all back
// and writes a batch in one transaction. Private to storage.

#include "macvmorx/storage/durable_store.hpp"

#include "record_batch.hpp"

#include <string>

namespace macvmorx::storage {

class RecordBackend {
public:
    virtual ~RecordBackend() = default;

    // Where the records live, for logs: a file, or a database URL without its password.
    virtual std::string describe() const = 0;
    // Every record. Throws StorageError.
    virtual StoredState load() = 0;
    // Writes the batch in one transaction, or nothing. Throws FencedOut when this daemon no
    // longer holds the lease it writes under, StorageError (or the driver's error) otherwise.
    // Called from one thread at a time.
    virtual void commit(const RecordBatch& batch) = 0;
};

} // namespace macvmorx::storage
