#include "persistence/pg_schema.h"

#include <cstdint>
#include <string>
#include <vector>

#include "persistence/pg_connection_pool.h"

namespace vesta::persistence {
namespace {

// pg_advisory_xact_lock key held by every migration step ("vestamig").
constexpr int64_t kMigrationLockKey = 0x76657374616d6967;

struct Migration {
  int version;
  const char* description;
  std::vector<const char*> statements;
};

// Never edit a migration that has shipped: add the next one.
const std::vector<Migration>& migrations() {
  static const std::vector<Migration> kMigrations = {
      {1,
       "catalog, write-ahead log and snapshot chunks, per workspace",
       {
           R"(CREATE TABLE vesta_catalog (
                workspace text PRIMARY KEY,
                catalog text NOT NULL,
                updated_at timestamptz NOT NULL DEFAULT now()))",
           // record NULL: a void sequence, whose write failed and was never
           // acknowledged (written when the store recovers from the failure).
           R"(CREATE TABLE vesta_wal (
                workspace text NOT NULL,
                sequence bigint NOT NULL CHECK (sequence > 0),
                record bytea,
                PRIMARY KEY (workspace, sequence)))",
           R"(CREATE TABLE vesta_snapshots (
                workspace text NOT NULL,
                collection text NOT NULL,
                incarnation bigint NOT NULL,
                wal_sequence bigint NOT NULL,
                chunks integer NOT NULL CHECK (chunks >= 0),
                bytes bigint NOT NULL CHECK (bytes >= 0),
                created_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (workspace, collection, incarnation, wal_sequence)))",
           R"(CREATE TABLE vesta_snapshot_chunks (
                workspace text NOT NULL,
                collection text NOT NULL,
                incarnation bigint NOT NULL,
                wal_sequence bigint NOT NULL,
                chunk integer NOT NULL CHECK (chunk >= 0),
                bytes bytea NOT NULL,
                PRIMARY KEY (workspace, collection, incarnation, wal_sequence, chunk),
                FOREIGN KEY (workspace, collection, incarnation, wal_sequence)
                  REFERENCES vesta_snapshots ON DELETE CASCADE))",
           // The chunks are zlib streams already: TOAST need not compress them.
           "ALTER TABLE vesta_snapshot_chunks ALTER COLUMN bytes SET STORAGE EXTERNAL",
       }},
      {2,
       "several processes per workspace: who wrote each log row, the catalog's position in "
       "the log, and the processes following it",
       {
           // origin: the process that committed the row (its member id), batch:
           // which of its COMMITs, so that a COMMIT whose answer was lost can be
           // found again. NULL for rows of a process that was not shared.
           "ALTER TABLE vesta_wal ADD COLUMN origin bigint, ADD COLUMN batch bigint",
           // The log sequence of the catalog record this catalog was saved with
           // (0 when it was saved outside the log, by a process not shared).
           "ALTER TABLE vesta_catalog ADD COLUMN wal_sequence bigint NOT NULL DEFAULT 0",
           // The processes of shared workspaces and how far each has applied
           // the log: the leader keeps the log they still need.
           R"(CREATE TABLE vesta_members (
                workspace text NOT NULL,
                member bigint NOT NULL,
                applied bigint NOT NULL,
                pid integer NOT NULL,
                host text NOT NULL,
                started_at timestamptz NOT NULL DEFAULT now(),
                seen_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (workspace, member)))",
       }},
      {3,
       "point payloads queryable as jsonb",
       {
           // Every point's payload, changed in the transaction of its log
           // record; NULL: a point without payload.
           R"(CREATE TABLE vesta_points (
                workspace text NOT NULL,
                collection text NOT NULL,
                incarnation bigint NOT NULL,
                id_type text NOT NULL CHECK (id_type IN ('number', 'uuid', 'string')),
                id text NOT NULL,
                payload jsonb,
                PRIMARY KEY (workspace, collection, id_type, id)))",
       }},
  };
  return kMigrations;
}

int current_version(pqxx::transaction_base& txn) {
  const pqxx::row row = txn.exec1("SELECT coalesce(max(version), 0) FROM vesta_schema_version");
  return row[0].as<int>();
}

core::Status refuse_newer(int version) {
  return core::Status(core::StatusCode::kConflict,
                      "the PostgreSQL database holds Vesta schema version " +
                          std::to_string(version) + "; this vesta knows versions up to " +
                          std::to_string(kPgSchemaVersion) +
                          " (a newer vesta migrated it): upgrade vesta");
}

}  // namespace

core::Result<int> pg_schema_version(pqxx::connection& connection) {
  try {
    pqxx::read_transaction txn(connection);
    const pqxx::row exists = txn.exec1("SELECT to_regclass('vesta_schema_version') IS NOT NULL");
    if (!exists[0].as<bool>()) return 0;
    return current_version(txn);
  } catch (...) {
    return pg_current_exception_status("reading the schema version");
  }
}

core::Result<PgMigrationReport> migrate_pg_schema(pqxx::connection& connection) {
  PgMigrationReport report;
  int step = 0;
  try {
    {
      pqxx::work txn(connection);
      txn.exec_params("SELECT pg_advisory_xact_lock($1)", kMigrationLockKey);
      txn.exec(R"(CREATE TABLE IF NOT EXISTS vesta_schema_version (
                    version integer PRIMARY KEY,
                    description text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()))");
      report.from_version = current_version(txn);
      txn.commit();
    }
    if (report.from_version > kPgSchemaVersion) return refuse_newer(report.from_version);
    report.to_version = report.from_version;
    for (const Migration& migration : migrations()) {
      step = migration.version;
      pqxx::work txn(connection);
      txn.exec_params("SELECT pg_advisory_xact_lock($1)", kMigrationLockKey);
      // Another process may have migrated since: look again under the lock.
      const int version = current_version(txn);
      if (version > kPgSchemaVersion) return refuse_newer(version);
      if (version >= migration.version) {
        report.to_version = version;
        continue;
      }
      for (const char* statement : migration.statements) txn.exec(statement);
      txn.exec_params("INSERT INTO vesta_schema_version (version, description) VALUES ($1, $2)",
                      migration.version, migration.description);
      txn.commit();
      report.to_version = migration.version;
    }
  } catch (...) {
    return pg_current_exception_status(step == 0
                                           ? std::string("schema version check")
                                           : "migration to schema version " + std::to_string(step));
  }
  return report;
}

}  // namespace vesta::persistence
