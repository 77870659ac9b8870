#pragma once

#include <pqxx/pqxx>

#include "core/status.h"

namespace vesta::persistence {

// The version of Vesta's tables in PostgreSQL that this binary writes
// (docs/postgres-schema.md has every table, column by column).
inline constexpr int kPgSchemaVersion = 3;

// What migrate_pg_schema() found and did.
struct PgMigrationReport {
  int from_version = 0;  // 0: a database Vesta had never used
  int to_version = 0;
};

// Brings the database's Vesta tables to kPgSchemaVersion: creates
// vesta_schema_version when missing, then applies each migration newer than
// the database's version in its own transaction, which records the version it
// reached. Every step holds a transaction-level advisory lock, so processes
// starting together migrate one at a time. A database whose version is newer
// than kPgSchemaVersion (a newer vesta migrated it) is refused with a
// kConflict naming both versions; nothing is changed then.
core::Result<PgMigrationReport> migrate_pg_schema(pqxx::connection& connection);

// The database's schema version (0 when Vesta never used it).
core::Result<int> pg_schema_version(pqxx::connection& connection);

}  // namespace vesta::persistence
