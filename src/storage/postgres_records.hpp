#pragma once

// The records in PostgreSQL, for several daemons of which one leads (docs/high-availability.md).
// Private to storage.

#include "record_backend.hpp"

#include <memory>

namespace macvmorx::storage {

// Connects (retrying until options.start_wait: DatabaseUnreachable) and applies the migrations
// the database lacks. With a fence, every commit first checks that the fence's lease is still
// this daemon's, under a lock that holds a rival's take-over until the commit ends.
std::unique_ptr<RecordBackend> open_postgres_records(const PostgresOptions& options,
                                                     std::shared_ptr<const WriteFence> fence);

} // namespace macvmorx::storage
