#pragma once

// The schema of the records, as numbered migrations, one list per engine. A database records the
// last migration applied; at start the ones after it are applied in one transaction, and a
// database whose number is higher than this binary's last is refused (SchemaTooNew): it was
// written by a newer macvmorx. A migration is never edited once released: a change is a new one.
// Private to storage.

#include <span>

namespace macvmorx::storage {

struct Migration {
    int version;
    const char* description;
    const char* sql; // one or more statements
};

std::span<const Migration> sqlite_migrations();
std::span<const Migration> postgres_migrations();

} // namespace macvmorx::storage
