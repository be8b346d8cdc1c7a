#pragma once

// Connections to PostgreSQL through libpqxx, shared by the records and the leader's lease.
// Private to storage.

#include "macvmorx/base/clock.hpp"

#include <pqxx/connection>

#include <memory>
#include <string>

namespace macvmorx::storage {

// The URL as logs may show it: user, host, port and database, never the password. Throws
// StorageError naming what libpq found wrong with it.
std::string redact_database_url(const std::string& url);

// A new connection, or libpqxx's error (pqxx::broken_connection) at once. Connecting gives up
// after a few seconds (libpq's connect_timeout, unless the URL sets one).
std::unique_ptr<pqxx::connection> connect_postgres(const std::string& url);

// Connects, retrying with backoff until `wait` has passed: DatabaseUnreachable then, naming the
// redacted URL and libpq's last reason.
std::unique_ptr<pqxx::connection> connect_postgres_at_start(const std::string& url, Duration wait);

} // namespace macvmorx::storage
