#include "persistence/postgres_store.h"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <random>
#include <utility>
#include <vector>

#include <unistd.h>

#include "persistence/pg_connection_pool.h"
#include "persistence/pg_schema.h"

namespace vesta::persistence {
namespace {

// One COMMIT of the log takes at most this much from the queue; the rest
// goes in the next one.
constexpr size_t kMaxBatchRecords = 10000;
constexpr size_t kMaxBatchBytes = size_t{64} << 20;
// One INSERT statement carries at most this many records (PostgreSQL allows
// 65535 parameters) or bytes.
constexpr size_t kMaxInsertRecords = 1000;
constexpr size_t kMaxInsertBytes = size_t{16} << 20;
// Records fetched per query when the log is replayed.
constexpr int kReplayBatchRecords = 256;
// The flusher's reconnection backoff.
constexpr std::chrono::milliseconds kInitialBackoff{100};
constexpr std::chrono::milliseconds kMaxBackoff{5000};
// How often an idle flusher checks that the workspace lock is still held.
constexpr std::chrono::seconds kLockCheckInterval{10};

bool valid_workspace(const std::string& name) {
  if (name.empty() || name.size() > 63) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
  });
}

// An advisory lock key: FNV-1a of `what`, top bit clear.
int64_t lock_key(const std::string& what) {
  uint64_t hash = 14695981039346656037ull;
  for (char c : what) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ull;
  }
  return static_cast<int64_t>(hash & 0x7fffffffffffffffull);
}

int64_t workspace_lock_key(const std::string& workspace) {
  return lock_key("vesta workspace " + workspace);
}

// A shared store's member id: random, positive.
int64_t new_member_id() {
  std::random_device device;
  const uint64_t high = device(), low = device();
  const int64_t id = static_cast<int64_t>(((high << 32) | low) & 0x7fffffffffffffffull);
  return id == 0 ? 1 : id;
}

// Every COMMIT of a shared log NOTIFYs this channel with the workspace's name.
constexpr const char* kWalChannel = "vesta_wal";

int64_t as_bigint(uint64_t value) {
  VESTA_CHECK(value <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      << value << " does not fit a PostgreSQL bigint";
  return static_cast<int64_t>(value);
}

std::string_view bytes_of(const pqxx::binarystring& b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

pqxx::binarystring binary(std::string_view bytes) {
  return pqxx::binarystring(bytes.data(), bytes.size());
}

std::string snapshot_name(const std::string& collection, uint64_t incarnation,
                          uint64_t wal_sequence) {
  return "snapshot of '" + collection + "' (incarnation " + std::to_string(incarnation) +
         ", sequence " + std::to_string(wal_sequence) + ")";
}

// The rows of one INSERT of a shared log's records:
// ($1, $2::bigint + i, $3, $4, $(5 + i)) as (workspace, sequence, origin, batch, record).
std::string insert_shared_wal_statement(size_t records) {
  std::string sql = "INSERT INTO vesta_wal (workspace, sequence, origin, batch, record) VALUES ";
  for (size_t i = 0; i < records; ++i) {
    sql += (i == 0 ? "" : ", ") + std::string("($1, $2::bigint + ") + std::to_string(i) +
           ", $3, $4, $" + std::to_string(5 + i) + ")";
  }
  return sql;
}

// Cuts `batch` (records in sequence order) into INSERTs of at most
// kMaxInsertRecords records or kMaxInsertBytes (one record at least) and
// calls insert(first index, count, their bytea parameters) for each.
template <typename Batch, typename Insert>
void insert_in_slices(const Batch& batch, Insert&& insert) {
  for (size_t begin = 0; begin < batch.size();) {
    size_t end = begin, bytes = 0;
    std::vector<pqxx::binarystring> records;
    while (end < batch.size() && end - begin < kMaxInsertRecords &&
           (end == begin || bytes + batch[end].record.size() <= kMaxInsertBytes)) {
      bytes += batch[end].record.size();
      records.push_back(binary(batch[end].record));
      ++end;
    }
    insert(begin, end - begin, records);
    begin = end;
  }
}

// A shared log's last sequence: after its newest row and after every
// snapshot (a log truncated by a process that was not shared may end before
// its snapshots). Read under the log's transaction lock.
uint64_t shared_log_end(pqxx::transaction_base& txn, const std::string& workspace) {
  return txn
      .exec_params1(
          "SELECT GREATEST((SELECT coalesce(max(sequence), 0) FROM vesta_wal WHERE workspace = "
          "$1), (SELECT coalesce(max(wal_sequence), 0) FROM vesta_snapshots WHERE workspace = $1))",
          workspace)[0]
      .as<uint64_t>();
}

// The rows of one INSERT of log records: ($1, $2::bigint + i, $(3 + i)).
std::string insert_wal_statement(size_t records) {
  std::string sql = "INSERT INTO vesta_wal (workspace, sequence, record) VALUES ";
  for (size_t i = 0; i < records; ++i) {
    sql += (i == 0 ? "" : ", ") + std::string("($1, $2::bigint + ") + std::to_string(i) + ", $" +
           std::to_string(3 + i) + ")";
  }
  return sql;
}

// Is the workspace lock held by this session?
constexpr const char* kHoldsLockQuery =
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND "
    "objsubid = 1 AND pid = pg_backend_pid() AND "
    "((classid::bigint << 32) | objid::bigint) = $1)";
// Who holds it.
constexpr const char* kLockHolderQuery =
    "SELECT a.pid, coalesce(host(a.client_addr), 'a local socket') FROM pg_locks l "
    "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted AND "
    "l.objsubid = 1 AND ((l.classid::bigint << 32) | l.objid::bigint) = $1";

}  // namespace

struct PostgresStore::LockSession {
  std::unique_ptr<pqxx::connection> connection;
};

core::Result<std::unique_ptr<PostgresStore>> PostgresStore::open(PostgresStoreOptions options) {
  if (!valid_workspace(options.workspace)) {
    return core::invalid_argument("the PostgreSQL workspace '" + options.workspace +
                                  "' must be 1 to 63 characters of A-Z, a-z, 0-9, _ . -");
  }
  if (options.pool_size < 1 || options.pool_size > 1024) {
    return core::invalid_argument("the PostgreSQL pool size must be from 1 to 1024, got " +
                                  std::to_string(options.pool_size));
  }
  if (options.snapshot_chunk_bytes < 1024 || options.snapshot_chunk_bytes > (size_t{256} << 20)) {
    return core::invalid_argument("snapshot chunks must be from 1K to 256M bytes");
  }
  core::Result<PgConnectionSettings> settings =
      pg_connection_settings(options.uri, options.connect_timeout, options.statement_timeout);
  if (!settings.is_ok()) return settings.status();
  std::string description = settings.value().description + ", workspace " + options.workspace;
  std::unique_ptr<PostgresStore> store(new PostgresStore(std::move(options), std::move(description),
                                                         std::move(settings.value().conninfo)));

  {
    core::Result<PgConnectionPool::Lease> lease = store->pool_->acquire();
    if (!lease.is_ok()) return lease.status();
    core::Result<PgMigrationReport> migrated = migrate_pg_schema(lease.value().connection());
    if (!migrated.is_ok()) {
      lease.value().discard();
      return migrated.status();
    }
    if (migrated.value().to_version != migrated.value().from_version) {
      std::fprintf(stderr, "vesta: %s: schema migrated from version %d to %d\n",
                   store->description_.c_str(), migrated.value().from_version,
                   migrated.value().to_version);
    }
  }

  // A process killed a moment ago may still hold the lock until PostgreSQL
  // notices its connection closed: keep trying for connect_timeout.
  const auto deadline = std::chrono::steady_clock::now() + store->options_.connect_timeout;
  for (;;) {
    const core::Status locked = store->ensure_workspace_lock();
    if (locked.is_ok()) break;
    if (locked.code() != core::StatusCode::kConflict ||
        std::chrono::steady_clock::now() >= deadline) {
      return locked;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (store->options_.shared) {
    // Applied 0 until the follower reports: the leader keeps the log from
    // here on while this process loads its snapshots and replays.
    VESTA_RETURN_IF_ERROR(store->heartbeat(0));
  }
  return store;
}

PostgresStore::PostgresStore(PostgresStoreOptions options, std::string description,
                             std::string conninfo)
    : options_(std::move(options)),
      description_(std::move(description)),
      conninfo_(std::move(conninfo)),
      lock_key_(workspace_lock_key(options_.workspace)),
      pool_(std::make_unique<PgConnectionPool>(conninfo_, options_.pool_size)),
      member_(new_member_id()),
      leader_key_(lock_key("vesta leader " + options_.workspace)) {}

PostgresStore::~PostgresStore() {
  {
    std::lock_guard lock(wal_mutex_);
    stopping_ = true;
  }
  flusher_wake_.notify_all();
  if (flusher_.joinable()) flusher_.join();
  if (follower_.joinable()) follower_.join();
  if (options_.shared) {
    (void)with_transaction("leaving the workspace", [&](pqxx::work& txn) {
      txn.exec_params("DELETE FROM vesta_members WHERE workspace = $1 AND member = $2",
                      options_.workspace, member_);
      return core::Status::ok();
    });
  }
  {
    std::lock_guard lock(lock_mutex_);
    lock_session_.reset();  // closing the session releases the workspace lock
  }
  pool_.reset();
}

std::string PostgresStore::describe() const { return description_; }

core::Status PostgresStore::ensure_workspace_lock() {
  std::lock_guard lock(lock_mutex_);
  if (lock_session_ != nullptr) {
    try {
      pqxx::nontransaction txn(*lock_session_->connection);
      // pqxx may have reconnected the session silently: ask PostgreSQL.
      if (txn.exec_params1(kHoldsLockQuery, lock_key_)[0].as<bool>()) return core::Status::ok();
    } catch (...) {
      lock_session_.reset();
    }
  }
  if (lock_session_ == nullptr) {
    core::Result<std::unique_ptr<pqxx::connection>> connection = pg_connect(conninfo_);
    if (!connection.is_ok()) return connection.status();
    lock_session_ = std::make_unique<LockSession>();
    lock_session_->connection = std::move(connection).value();
  }
  try {
    pqxx::nontransaction txn(*lock_session_->connection);
    const char* take = options_.shared ? "SELECT pg_try_advisory_lock_shared($1)"
                                       : "SELECT pg_try_advisory_lock($1)";
    if (txn.exec_params1(take, lock_key_)[0].as<bool>()) return core::Status::ok();
    std::string holder;
    const pqxx::result who = txn.exec_params(kLockHolderQuery, lock_key_);
    if (!who.empty()) {
      holder = " (PostgreSQL backend " + who[0][0].as<std::string>() + ", client " +
               who[0][1].as<std::string>() + ")";
    }
    return core::Status(core::StatusCode::kConflict,
                        "workspace '" + options_.workspace + "' of " + description_ +
                            " is in use by another vesta process" + holder +
                            (options_.shared ? " that is not shared (every process of a shared "
                                               "workspace must be started shared)"
                                             : ""));
  } catch (...) {
    const bool broke = pg_current_exception_broke_connection();
    core::Status status = pg_current_exception_status("workspace lock");
    if (broke) lock_session_.reset();
    return status;
  }
}

template <typename Body>
core::Status PostgresStore::with_transaction(const std::string& doing, Body&& body) {
  for (int attempt = 0;; ++attempt) {
    core::Result<PgConnectionPool::Lease> lease = pool_->acquire();
    if (!lease.is_ok()) return lease.status();
    try {
      pqxx::work txn(lease.value().connection());
      VESTA_RETURN_IF_ERROR(body(txn));
      txn.commit();
      return core::Status::ok();
    } catch (...) {
      const bool broke = pg_current_exception_broke_connection();
      core::Status status = pg_current_exception_status(doing);
      if (broke) lease.value().discard();
      if (!broke || attempt > 0) return status;
      // A connection that broke while idle in the pool (a server restart,
      // pg_terminate_backend): once more on a new one.
    }
  }
}

core::Result<std::optional<std::string>> PostgresStore::load_catalog() {
  std::optional<std::string> catalog;
  VESTA_RETURN_IF_ERROR(with_transaction("reading the catalog", [&](pqxx::work& txn) {
    const pqxx::result r = txn.exec_params(
        "SELECT catalog, wal_sequence FROM vesta_catalog WHERE workspace = $1", options_.workspace);
    if (!r.empty()) {
      catalog = r[0][0].as<std::string>();
      std::lock_guard lock(wal_mutex_);
      catalog_sequence_ = r[0][1].as<uint64_t>();
    }
    return core::Status::ok();
  }));
  return catalog;
}

core::Status PostgresStore::save_catalog(std::string_view text) { return save_catalog(text, {}); }

core::Status PostgresStore::save_catalog(std::string_view text, PayloadChanges changes) {
  return with_transaction("saving the catalog", [&](pqxx::work& txn) {
    txn.exec_params(
        "INSERT INTO vesta_catalog (workspace, catalog) VALUES ($1, $2) ON CONFLICT (workspace) "
        "DO UPDATE SET catalog = EXCLUDED.catalog, updated_at = now()",
        options_.workspace, std::string(text));
    apply_payload_changes(txn, changes);
    return core::Status::ok();
  });
}

namespace {

// A JSON string literal of `text` (quotes and escapes).
void append_json_string(std::string& out, std::string_view text) {
  out += '"';
  for (char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof(escaped), "\\u%04x", static_cast<unsigned>(c));
          out += escaped;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

// [{"t": type, "i": id, "p": payload}, ...] for jsonb_to_recordset; "p" only
// with payloads.
std::string id_rows(const PayloadChange& change, bool with_payloads) {
  std::string out = "[";
  for (size_t k = 0; k < change.ids.size(); ++k) {
    out += k == 0 ? "{\"t\":" : ",{\"t\":";
    append_json_string(out, change.ids[k].first);
    out += ",\"i\":";
    append_json_string(out, change.ids[k].second);
    if (with_payloads) {
      out += ",\"p\":";
      out += change.payloads[k].empty() ? std::string_view("null") : change.payloads[k];
    }
    out += '}';
  }
  out += ']';
  return out;
}

// The ids of a change, as a relation.
constexpr const char* kChangedIds =
    "(id_type, id) IN (SELECT t, i FROM jsonb_to_recordset($3::jsonb) AS x(t text, i text))";

}  // namespace

void PostgresStore::apply_payload_changes(pqxx::transaction_base& txn,
                                          const PayloadChanges& changes) const {
  if (!options_.payload_table) return;
  const std::string& ws = options_.workspace;
  for (const PayloadChange& change : changes) {
    const std::string where = "workspace = $1 AND collection = $2 AND " + std::string(kChangedIds);
    switch (change.kind) {
      case PayloadChange::Kind::kUpsert:
        VESTA_CHECK(change.payloads.size() == change.ids.size()) << "a payload per id";
        if (change.ids.empty()) break;
        txn.exec_params(
            "INSERT INTO vesta_points (workspace, collection, incarnation, id_type, id, payload) "
            "SELECT $1, $2, $4, t, i, p FROM jsonb_to_recordset($3::jsonb) AS x(t text, i text, "
            "p jsonb) ON CONFLICT (workspace, collection, id_type, id) DO UPDATE SET "
            "incarnation = EXCLUDED.incarnation, payload = EXCLUDED.payload",
            ws, change.collection, id_rows(change, true), as_bigint(change.incarnation));
        break;
      case PayloadChange::Kind::kDelete:
        txn.exec_params("DELETE FROM vesta_points WHERE " + where, ws, change.collection,
                        id_rows(change, false));
        break;
      case PayloadChange::Kind::kMerge:
        txn.exec_params(
            "UPDATE vesta_points SET payload = coalesce(payload, '{}') || $4::jsonb WHERE " + where,
            ws, change.collection, id_rows(change, false), change.json);
        break;
      case PayloadChange::Kind::kReplace:
        txn.exec_params("UPDATE vesta_points SET payload = $4::jsonb WHERE " + where, ws,
                        change.collection, id_rows(change, false), change.json);
        break;
      case PayloadChange::Kind::kDeleteKeys: {
        std::string keys = "[";
        for (size_t k = 0; k < change.keys.size(); ++k) {
          if (k > 0) keys += ',';
          append_json_string(keys, change.keys[k]);
        }
        keys += ']';
        txn.exec_params(
            "UPDATE vesta_points SET payload = payload - ARRAY(SELECT jsonb_array_elements_text("
            "$4::jsonb)) WHERE " +
                where,
            ws, change.collection, id_rows(change, false), keys);
        break;
      }
      case PayloadChange::Kind::kClear:
        txn.exec_params("UPDATE vesta_points SET payload = '{}' WHERE " + where, ws,
                        change.collection, id_rows(change, false));
        break;
      case PayloadChange::Kind::kDropCollection:
        txn.exec_params(
            "DELETE FROM vesta_points WHERE workspace = $1 AND collection = $2 AND incarnation = "
            "$3",
            ws, change.collection, as_bigint(change.incarnation));
        break;
    }
  }
}

core::Result<std::optional<uint64_t>> PostgresStore::payload_rows(const std::string& collection,
                                                                  uint64_t incarnation) {
  if (!options_.payload_table) return std::optional<uint64_t>();
  uint64_t rows = 0;
  VESTA_RETURN_IF_ERROR(with_transaction("counting vesta_points", [&](pqxx::work& txn) {
    rows = txn.exec_params1(
                  "SELECT count(*) FROM vesta_points WHERE workspace = $1 AND collection = $2 AND "
                  "incarnation = $3",
                  options_.workspace, collection, as_bigint(incarnation))[0]
               .as<uint64_t>();
    return core::Status::ok();
  }));
  return std::optional<uint64_t>(rows);
}

core::Status PostgresStore::replace_payload_rows(const PayloadChange& all) {
  if (!options_.payload_table) return core::Status::ok();
  VESTA_CHECK(all.kind == PayloadChange::Kind::kUpsert) << "replace_payload_rows takes an upsert";
  return with_transaction(
      "rewriting vesta_points of '" + all.collection + "'", [&](pqxx::work& txn) {
        txn.exec_params("DELETE FROM vesta_points WHERE workspace = $1 AND collection = $2",
                        options_.workspace, all.collection);
        // In slices, so that no statement is huge.
        constexpr size_t kSlice = 10000;
        for (size_t begin = 0; begin < all.ids.size(); begin += kSlice) {
          PayloadChange slice;
          slice.collection = all.collection;
          slice.incarnation = all.incarnation;
          const size_t end = std::min(all.ids.size(), begin + kSlice);
          slice.ids.assign(all.ids.begin() + begin, all.ids.begin() + end);
          slice.payloads.assign(all.payloads.begin() + begin, all.payloads.begin() + end);
          apply_payload_changes(txn, {slice});
        }
        return core::Status::ok();
      });
}

core::Result<std::optional<SnapshotContents>> PostgresStore::load_snapshot(
    const std::string& collection, uint64_t incarnation) {
  struct Listed {
    uint64_t wal_sequence;
    int chunks;
    uint64_t bytes;
  };
  std::vector<Listed> listed;
  VESTA_RETURN_IF_ERROR(with_transaction("listing snapshots", [&](pqxx::work& txn) {
    listed.clear();
    const pqxx::result r = txn.exec_params(
        "SELECT wal_sequence, chunks, bytes FROM vesta_snapshots WHERE workspace = $1 AND "
        "collection = $2 AND incarnation = $3 ORDER BY wal_sequence DESC",
        options_.workspace, collection, as_bigint(incarnation));
    for (const pqxx::row& row : r) {
      listed.push_back({row[0].as<uint64_t>(), row[1].as<int>(), row[2].as<uint64_t>()});
    }
    return core::Status::ok();
  }));
  std::vector<std::string> problems;
  for (const Listed& snapshot : listed) {
    const std::string name = snapshot_name(collection, incarnation, snapshot.wal_sequence);
    std::string bytes;
    std::string damage;
    VESTA_RETURN_IF_ERROR(with_transaction("reading a " + name, [&](pqxx::work& txn) {
      bytes.clear();
      damage.clear();
      bytes.reserve(snapshot.bytes);
      // One chunk per query, so that memory holds the snapshot about once.
      for (int chunk = 0; chunk < snapshot.chunks; ++chunk) {
        const pqxx::result r = txn.exec_params(
            "SELECT bytes FROM vesta_snapshot_chunks WHERE workspace = $1 AND collection = $2 "
            "AND incarnation = $3 AND wal_sequence = $4 AND chunk = $5",
            options_.workspace, collection, as_bigint(incarnation),
            as_bigint(snapshot.wal_sequence), chunk);
        if (r.empty()) {
          damage = "chunk " + std::to_string(chunk) + " of " + std::to_string(snapshot.chunks) +
                   " is missing";
          return core::Status::ok();
        }
        bytes += bytes_of(pqxx::binarystring(r[0][0]));
      }
      return core::Status::ok();
    }));
    if (damage.empty() && bytes.size() != snapshot.bytes) {
      damage = "its chunks hold " + std::to_string(bytes.size()) + " bytes, " +
               std::to_string(snapshot.bytes) + " were written";
    }
    if (damage.empty()) {
      core::Result<SnapshotContents> contents = decode_snapshot(bytes);
      if (contents.is_ok() && contents.value().collection == collection &&
          contents.value().incarnation == incarnation &&
          contents.value().wal_sequence == snapshot.wal_sequence) {
        return std::optional<SnapshotContents>(std::move(contents).value());
      }
      damage = contents.is_ok() ? "its header names another collection or position"
                                : contents.status().message();
    }
    std::fprintf(stderr, "vesta: %s in %s cannot be used (%s); trying an older one\n", name.c_str(),
                 description_.c_str(), damage.c_str());
    problems.push_back(name + ": " + damage);
  }
  if (!problems.empty()) {
    std::string message = "no usable snapshot of collection '" + collection + "':";
    for (const std::string& p : problems) message += " " + p + ";";
    return core::internal_error(message);
  }
  return std::optional<SnapshotContents>();
}

core::Result<uint64_t> PostgresStore::save_snapshot(const SnapshotContents& contents) {
  const size_t chunk_bytes = options_.snapshot_chunk_bytes;
  const int64_t incarnation = as_bigint(contents.incarnation);
  const int64_t wal_sequence = as_bigint(contents.wal_sequence);
  std::lock_guard lock(snapshot_mutex_);
  uint64_t keep_after = contents.wal_sequence;
  VESTA_RETURN_IF_ERROR(with_transaction(
      "saving a " + snapshot_name(contents.collection, contents.incarnation, contents.wal_sequence),
      [&](pqxx::work& txn) {
        const std::string& ws = options_.workspace;
        const std::string& collection = contents.collection;
        // The same snapshot again (a retry): replaced.
        txn.exec_params(
            "DELETE FROM vesta_snapshots WHERE workspace = $1 AND collection = $2 AND "
            "incarnation = $3 AND wal_sequence = $4",
            ws, collection, incarnation, wal_sequence);
        // The snapshot's row first (its chunks refer to it), its size once
        // known; the bytes are coded as they are stored, chunk_bytes at a time.
        txn.exec_params(
            "INSERT INTO vesta_snapshots (workspace, collection, incarnation, wal_sequence, "
            "chunks, bytes) VALUES ($1, $2, $3, $4, 0, 0)",
            ws, collection, incarnation, wal_sequence);
        int64_t chunks = 0;
        int64_t total = 0;
        std::string pending;
        auto store = [&](std::string_view bytes) {
          txn.exec_params(
              "INSERT INTO vesta_snapshot_chunks (workspace, collection, incarnation, "
              "wal_sequence, chunk, bytes) VALUES ($1, $2, $3, $4, $5, $6)",
              ws, collection, incarnation, wal_sequence, chunks++, binary(bytes));
          total += static_cast<int64_t>(bytes.size());
        };
        VESTA_RETURN_IF_ERROR(
            write_snapshot(contents, options_.snapshot, [&](std::string_view piece) {
              while (!piece.empty()) {
                const size_t take = std::min(piece.size(), chunk_bytes - pending.size());
                pending.append(piece.substr(0, take));
                piece.remove_prefix(take);
                if (pending.size() == chunk_bytes) {
                  store(pending);
                  pending.clear();
                }
              }
              return core::Status::ok();
            }));
        if (!pending.empty()) store(pending);
        txn.exec_params(
            "UPDATE vesta_snapshots SET chunks = $5, bytes = $6 WHERE workspace = $1 AND "
            "collection = $2 AND incarnation = $3 AND wal_sequence = $4",
            ws, collection, incarnation, wal_sequence, chunks, total);
        // Keep this one and the one before it of the same incarnation.
        txn.exec_params(
            "DELETE FROM vesta_snapshots WHERE workspace = $1 AND collection = $2 AND NOT "
            "(incarnation = $3 AND wal_sequence IN (SELECT wal_sequence FROM vesta_snapshots "
            "WHERE workspace = $1 AND collection = $2 AND incarnation = $3 "
            "ORDER BY wal_sequence DESC LIMIT 2))",
            ws, collection, incarnation);
        const pqxx::row oldest = txn.exec_params1(
            "SELECT min(wal_sequence) FROM vesta_snapshots WHERE workspace = $1 AND "
            "collection = $2 AND incarnation = $3",
            ws, collection, incarnation);
        keep_after = std::min(contents.wal_sequence, oldest[0].as<uint64_t>());
        return core::Status::ok();
      }));
  return keep_after;
}

core::Status PostgresStore::drop_snapshots(const std::string& collection) {
  std::lock_guard lock(snapshot_mutex_);
  return with_transaction("dropping the snapshots of '" + collection + "'", [&](pqxx::work& txn) {
    txn.exec_params("DELETE FROM vesta_snapshots WHERE workspace = $1 AND collection = $2",
                    options_.workspace, collection);
    return core::Status::ok();
  });
}

core::Status PostgresStore::truncate_wal(uint64_t sequence) {
  if (options_.shared) {
    return with_transaction("truncating the write-ahead log", [&](pqxx::work& txn) {
      const std::string timeout = std::to_string(options_.member_timeout.count()) + " seconds";
      uint64_t applied = 0;
      {
        std::lock_guard lock(wal_mutex_);
        applied = followed_through_;
      }
      // Kept: what a live process has not applied yet (this one's from
      // memory, the others' from their heartbeats), and the newest row.
      txn.exec_params(
          "DELETE FROM vesta_wal WHERE workspace = $1 AND sequence <= LEAST($2, $4, (SELECT "
          "min(applied) FROM vesta_members WHERE workspace = $1 AND member <> $5 AND seen_at > "
          "now() - $3::interval)) AND sequence < (SELECT max(sequence) FROM vesta_wal WHERE "
          "workspace = $1)",
          options_.workspace, as_bigint(sequence), timeout, as_bigint(applied), member_);
      // Processes gone for a day are forgotten.
      txn.exec_params(
          "DELETE FROM vesta_members WHERE workspace = $1 AND seen_at < now() - interval '1 day'",
          options_.workspace);
      return core::Status::ok();
    });
  }
  return with_transaction("truncating the write-ahead log", [&](pqxx::work& txn) {
    // The newest row stays, as a FileStore keeps its active segment: it holds
    // the log's high-water mark, so that sequences are never reused.
    txn.exec_params(
        "DELETE FROM vesta_wal WHERE workspace = $1 AND sequence <= $2 AND sequence < "
        "(SELECT max(sequence) FROM vesta_wal WHERE workspace = $1)",
        options_.workspace, as_bigint(sequence));
    return core::Status::ok();
  });
}

core::Status PostgresStore::open_wal(uint64_t replay_after, uint64_t position,
                                     const ReplayFn& replay) {
  position = std::max(position, replay_after);
  {
    std::lock_guard lock(wal_mutex_);
    VESTA_CHECK(!wal_open_) << "open_wal called twice";
  }
  uint64_t last_logged = 0, last_snapshot = 0;
  VESTA_RETURN_IF_ERROR(with_transaction("opening the write-ahead log", [&](pqxx::work& txn) {
    last_logged =
        txn.exec_params1("SELECT coalesce(max(sequence), 0) FROM vesta_wal WHERE workspace = $1",
                         options_.workspace)[0]
            .as<uint64_t>();
    last_snapshot = txn.exec_params1(
                           "SELECT coalesce(max(wal_sequence), 0) FROM vesta_snapshots WHERE "
                           "workspace = $1",
                           options_.workspace)[0]
                        .as<uint64_t>();
    return core::Status::ok();
  }));

  // Replayed in batches, in one snapshot of the table, never retried: a
  // second pass would hand the caller records twice.
  uint64_t replayed_through = replay_after;
  if (last_logged > replay_after) {
    core::Result<PgConnectionPool::Lease> lease = pool_->acquire();
    if (!lease.is_ok()) return lease.status();
    try {
      pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> txn(lease.value().connection());
      uint64_t after = replay_after;
      for (;;) {
        const pqxx::result r = txn.exec_params(
            "SELECT sequence, record FROM vesta_wal WHERE workspace = $1 AND sequence > $2 "
            "ORDER BY sequence LIMIT $3",
            options_.workspace, as_bigint(after), kReplayBatchRecords);
        for (const pqxx::row& row : r) {
          after = row[0].as<uint64_t>();
          if (row[1].is_null()) continue;  // void: its write failed
          const pqxx::binarystring record(row[1]);
          VESTA_RETURN_IF_ERROR(replay(after, bytes_of(record)));
        }
        if (r.size() < static_cast<size_t>(kReplayBatchRecords)) break;
      }
      txn.commit();
      replayed_through = after;
    } catch (...) {
      if (pg_current_exception_broke_connection()) lease.value().discard();
      return pg_current_exception_status("replaying the write-ahead log");
    }
  }

  std::lock_guard lock(wal_mutex_);
  // Never reuse a sequence: one a snapshot covers may be missing from the
  // table (its write failed and the process ended before making it void).
  last_sequence_ = std::max({last_logged, position, last_snapshot});
  resolved_through_ = last_sequence_;
  wal_open_ = true;
  if (options_.shared) {
    // The follower goes on from the last record replayed: COMMITs happen in
    // sequence order, so none before it can appear later.
    followed_through_ = std::max(replayed_through, position);
    flusher_ = std::thread([this] { shared_flush_loop(); });
  } else {
    flusher_ = std::thread([this] { flush_loop(); });
  }
  return core::Status::ok();
}

core::Result<uint64_t> PostgresStore::write_wal(std::string_view record) {
  return write_wal(record, {});
}

core::Result<uint64_t> PostgresStore::write_wal(std::string_view record, PayloadChanges changes) {
  VESTA_CHECK(!options_.shared) << "write_wal on a shared store (append_shared)";
  if (record.size() > kMaxPostgresWalRecordBytes) {
    return core::Status(core::StatusCode::kPayloadTooLarge,
                        "a write-ahead log record of " + std::to_string(record.size()) +
                            " bytes is over the PostgreSQL store's limit of " +
                            std::to_string(kMaxPostgresWalRecordBytes));
  }
  uint64_t sequence = 0;
  {
    std::lock_guard lock(wal_mutex_);
    VESTA_CHECK(wal_open_) << "write_wal before open_wal";
    if (!broken_.is_ok()) return broken_;
    if (stopping_) return core::Status(core::StatusCode::kUnavailable, "the store is closing");
    sequence = ++last_sequence_;
    queue_.push_back({sequence, std::string(record), std::move(changes)});
    bytes_written_ += record.size();
  }
  flusher_wake_.notify_one();
  return sequence;
}

core::Status PostgresStore::sync_wal(uint64_t sequence) {
  if (sequence == 0) return core::Status::ok();
  std::unique_lock lock(wal_mutex_);
  if (sequence > last_sequence_) {
    return core::invalid_argument("sync_wal(" + std::to_string(sequence) +
                                  "): the log assigned only up to " +
                                  std::to_string(last_sequence_));
  }
  resolved_.wait(lock, [&] { return resolved_through_ >= sequence; });
  auto failed = failed_.upper_bound(sequence);
  if (failed != failed_.begin() && sequence <= std::prev(failed)->second.last) {
    return std::prev(failed)->second.status;
  }
  return core::Status::ok();
}

uint64_t PostgresStore::wal_last_sequence() const {
  std::lock_guard lock(wal_mutex_);
  return options_.shared ? followed_through_ : last_sequence_;
}

uint64_t PostgresStore::wal_bytes_written() const {
  std::lock_guard lock(wal_mutex_);
  return bytes_written_;
}

PostgresStore::WalStats PostgresStore::wal_stats() const {
  std::lock_guard lock(wal_mutex_);
  return stats_;
}

core::Status PostgresStore::write_batch(const std::deque<Pending>& batch) {
  const uint64_t first = batch.front().sequence;
  const uint64_t last = batch.back().sequence;
  for (int attempt = 0;; ++attempt) {
    if (attempt > 0) {
      {
        std::lock_guard lock(wal_mutex_);
        ++stats_.retried_batches;
      }
      VESTA_RETURN_IF_ERROR(ensure_workspace_lock());
    }
    core::Result<PgConnectionPool::Lease> lease = pool_->acquire();
    if (!lease.is_ok()) return lease.status();
    try {
      pqxx::work txn(lease.value().connection());
      bool already = false;
      if (attempt > 0) {
        // The first COMMIT may have landed before its connection broke.
        const uint64_t present =
            txn.exec_params1(
                   "SELECT count(*) FROM vesta_wal WHERE workspace = $1 AND sequence BETWEEN "
                   "$2 AND $3",
                   options_.workspace, as_bigint(first), as_bigint(last))[0]
                .as<uint64_t>();
        if (present != 0 && present != batch.size()) {
          return core::internal_error("the write-ahead log holds " + std::to_string(present) +
                                      " of sequences " + std::to_string(first) + " to " +
                                      std::to_string(last) + " after a failed COMMIT of them");
        }
        already = present == batch.size();
      }
      if (!already) {
        insert_in_slices(batch, [&](size_t begin, size_t count, const auto& records) {
          txn.exec_params(insert_wal_statement(count), options_.workspace,
                          as_bigint(batch[begin].sequence),
                          pqxx::prepare::make_dynamic_params(records));
        });
      }
      if (!already) {
        for (const Pending& pending : batch) apply_payload_changes(txn, pending.changes);
      }
      txn.commit();
      return core::Status::ok();
    } catch (...) {
      const bool broke = pg_current_exception_broke_connection();
      core::Status status = pg_current_exception_status("write-ahead log COMMIT");
      if (broke) lease.value().discard();
      if (!broke || attempt > 0) return status;
    }
  }
}

core::Status PostgresStore::void_sequences(uint64_t first, uint64_t last) {
  VESTA_RETURN_IF_ERROR(ensure_workspace_lock());
  return with_transaction("voiding failed log sequences", [&](pqxx::work& txn) {
    const uint64_t newest =
        txn.exec_params1("SELECT coalesce(max(sequence), 0) FROM vesta_wal WHERE workspace = $1",
                         options_.workspace)[0]
            .as<uint64_t>();
    if (newest > last) {
      return core::Status(core::StatusCode::kConflict,
                          "the write-ahead log of workspace '" + options_.workspace +
                              "' holds sequence " + std::to_string(newest) +
                              ", which this process never wrote: another process writes it");
    }
    // An unknown COMMIT may have written some of them: they were reported
    // failed, so they must not take effect.
    const pqxx::result landed =
        txn.exec_params("DELETE FROM vesta_wal WHERE workspace = $1 AND sequence BETWEEN $2 AND $3",
                        options_.workspace, as_bigint(first), as_bigint(last));
    if (landed.affected_rows() > 0 && options_.payload_table) {
      std::fprintf(
          stderr,
          "vesta: %s: %zu log record(s) reported failed had committed; they are void, "
          "but vesta_points may show their payloads until those points are written again\n",
          description_.c_str(), static_cast<size_t>(landed.affected_rows()));
    }
    txn.exec_params(
        "INSERT INTO vesta_wal (workspace, sequence, record) SELECT $1, s, NULL FROM "
        "generate_series($2::bigint, $3::bigint) AS s",
        options_.workspace, as_bigint(first), as_bigint(last));
    return core::Status::ok();
  });
}

void PostgresStore::flush_loop() {
  std::mt19937_64 jitter(std::random_device{}());
  std::chrono::milliseconds backoff = kInitialBackoff;
  int attempts = 0;
  std::unique_lock lock(wal_mutex_);
  for (;;) {
    if (!flusher_wake_.wait_for(lock, kLockCheckInterval,
                                [&] { return stopping_ || !queue_.empty() || !broken_.is_ok(); })) {
      // Idle: make sure the workspace lock's session is still there (a
      // server restart, pg_terminate_backend or idle_session_timeout may
      // have ended it; its query also keeps it from idling out).
      lock.unlock();
      const core::Status held = ensure_workspace_lock();
      if (!held.is_ok()) {
        std::fprintf(stderr, "vesta: %s: the workspace lock: %s\n", description_.c_str(),
                     held.message().c_str());
      }
      lock.lock();
      continue;
    }
    if (!broken_.is_ok()) {
      if (stopping_) return;  // every record after the failure already failed
      // Full jitter in [backoff/2, backoff], so that many processes that lost
      // the server together do not come back in step.
      const auto wait =
          backoff / 2 + std::chrono::milliseconds(
                            std::uniform_int_distribution<int64_t>(0, backoff.count() / 2)(jitter));
      if (flusher_wake_.wait_for(lock, wait, [&] { return stopping_; })) return;
      const uint64_t first = void_first_, last = void_last_;
      lock.unlock();
      const core::Status repaired = void_sequences(first, last);
      lock.lock();
      ++attempts;
      if (repaired.is_ok()) {
        std::fprintf(stderr,
                     "vesta: %s: the write-ahead log is writable again after %d attempt(s); "
                     "sequences %llu to %llu, which failed, are void\n",
                     description_.c_str(), attempts, static_cast<unsigned long long>(first),
                     static_cast<unsigned long long>(last));
        broken_ = core::Status::ok();
        backoff = kInitialBackoff;
        attempts = 0;
      } else {
        if ((attempts & (attempts - 1)) == 0) {  // 1, 2, 4, 8, ...: a log line now and then
          std::fprintf(stderr, "vesta: %s: reconnecting (attempt %d): %s\n", description_.c_str(),
                       attempts, repaired.message().c_str());
        }
        backoff = std::min(backoff * 2, kMaxBackoff);
      }
      continue;
    }
    if (queue_.empty()) {
      if (stopping_) return;
      continue;
    }
    std::deque<Pending> batch;
    size_t bytes = 0;
    while (!queue_.empty() && batch.size() < kMaxBatchRecords &&
           (batch.empty() || bytes + queue_.front().record.size() <= kMaxBatchBytes)) {
      bytes += queue_.front().record.size();
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    lock.unlock();
    const core::Status written = write_batch(batch);
    lock.lock();
    if (written.is_ok()) {
      resolved_through_ = batch.back().sequence;
      ++stats_.commits;
      stats_.records += batch.size();
    } else {
      // This batch and everything queued after it fail; the sequences
      // become void once the server is reachable again.
      const uint64_t first = batch.front().sequence;
      const uint64_t last = last_sequence_;
      const core::Status status(written.code() == core::StatusCode::kInternal
                                    ? core::StatusCode::kUnavailable
                                    : written.code(),
                                written.message());
      failed_[first] = FailedRange{last, status};
      queue_.clear();
      resolved_through_ = last;
      stats_.failed_records += last - first + 1;
      broken_ = status;
      void_first_ = first;
      void_last_ = last;
      std::fprintf(stderr,
                   "vesta: %s: the write-ahead log failed; sequences %llu to %llu are not "
                   "durable and their writes fail: %s\n",
                   description_.c_str(), static_cast<unsigned long long>(first),
                   static_cast<unsigned long long>(last), written.message().c_str());
    }
    resolved_.notify_all();
  }
}

// ---- Shared stores ----

core::Result<uint64_t> PostgresStore::append_shared(std::string_view record,
                                                    PayloadChanges changes) {
  VESTA_CHECK(options_.shared) << "append_shared on a store that is not shared";
  if (record.size() > kMaxPostgresWalRecordBytes) {
    return core::Status(core::StatusCode::kPayloadTooLarge,
                        "a write-ahead log record of " + std::to_string(record.size()) +
                            " bytes is over the PostgreSQL store's limit of " +
                            std::to_string(kMaxPostgresWalRecordBytes));
  }
  std::unique_lock lock(wal_mutex_);
  VESTA_CHECK(wal_open_) << "append_shared before open_wal";
  if (stopping_) return core::Status(core::StatusCode::kUnavailable, "the store is closing");
  const uint64_t ticket = ++last_ticket_;
  queue_.push_back({ticket, std::string(record), std::move(changes)});
  flusher_wake_.notify_one();
  resolved_.wait(lock, [&] { return shared_done_.contains(ticket); });
  auto done = shared_done_.extract(ticket);
  return std::move(done.mapped());
}

core::Result<uint64_t> PostgresStore::write_shared_batch(const std::deque<Pending>& batch,
                                                         int64_t token) {
  const int64_t wal_key = lock_key("vesta wal " + options_.workspace);
  for (int attempt = 0;; ++attempt) {
    if (attempt > 0) {
      std::lock_guard lock(wal_mutex_);
      ++stats_.retried_batches;
    }
    core::Result<PgConnectionPool::Lease> lease = pool_->acquire();
    if (!lease.is_ok()) return lease.status();
    try {
      pqxx::work txn(lease.value().connection());
      // Held to COMMIT: COMMITs of the log happen in sequence order. An
      // earlier try still committing on a broken connection holds it too,
      // so the lookup below sees its outcome.
      txn.exec_params("SELECT pg_advisory_xact_lock($1)", wal_key);
      if (attempt > 0) {
        const pqxx::row found = txn.exec_params1(
            "SELECT coalesce(min(sequence), 0), count(*) FROM vesta_wal WHERE workspace = $1 "
            "AND origin = $2 AND batch = $3",
            options_.workspace, member_, token);
        const uint64_t count = found[1].as<uint64_t>();
        if (count == batch.size()) return found[0].as<uint64_t>();  // it had committed
        if (count != 0) {
          return core::internal_error("the write-ahead log holds " + std::to_string(count) +
                                      " of the " + std::to_string(batch.size()) +
                                      " records of a COMMIT whose answer was lost");
        }
      }
      const uint64_t last = shared_log_end(txn, options_.workspace);
      insert_in_slices(batch, [&](size_t begin, size_t count, const auto& records) {
        txn.exec_params(insert_shared_wal_statement(count), options_.workspace,
                        as_bigint(last + 1 + begin), member_, token,
                        pqxx::prepare::make_dynamic_params(records));
      });
      for (const Pending& pending : batch) apply_payload_changes(txn, pending.changes);
      txn.exec_params("SELECT pg_notify($1, $2)", kWalChannel, options_.workspace);
      txn.commit();
      return last + 1;
    } catch (...) {
      const bool broke = pg_current_exception_broke_connection();
      core::Status status = pg_current_exception_status("write-ahead log COMMIT");
      if (broke) lease.value().discard();
      if (!broke) return status;
      if (attempt > 0) {
        return core::Status(core::StatusCode::kUnavailable,
                            "the outcome is unknown (the connection broke during COMMIT and "
                            "PostgreSQL could not be asked again): " +
                                status.message());
      }
    }
  }
}

void PostgresStore::shared_flush_loop() {
  std::unique_lock lock(wal_mutex_);
  for (;;) {
    flusher_wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and everything queued answered
    std::deque<Pending> batch;
    size_t bytes = 0;
    while (!queue_.empty() && batch.size() < kMaxBatchRecords &&
           (batch.empty() || bytes + queue_.front().record.size() <= kMaxBatchBytes)) {
      bytes += queue_.front().record.size();
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    lock.unlock();
    const core::Result<uint64_t> first = write_shared_batch(batch, ++last_batch_);
    lock.lock();
    for (size_t i = 0; i < batch.size(); ++i) {
      if (first.is_ok()) {
        shared_done_.emplace(batch[i].sequence, first.value() + i);
      } else {
        const core::Status& failed = first.status();
        shared_done_.emplace(batch[i].sequence,
                             core::Status(failed.code() == core::StatusCode::kInternal
                                              ? core::StatusCode::kUnavailable
                                              : failed.code(),
                                          failed.message()));
      }
    }
    if (first.is_ok()) {
      ++stats_.commits;
      stats_.records += batch.size();
    } else {
      stats_.failed_records += batch.size();
      std::fprintf(stderr, "vesta: %s: a write-ahead log COMMIT of %zu record(s) failed: %s\n",
                   description_.c_str(), batch.size(), first.status().message().c_str());
    }
    resolved_.notify_all();
  }
}

core::Result<uint64_t> PostgresStore::append_catalog(std::string_view record,
                                                     std::string_view catalog,
                                                     uint64_t expected_sequence,
                                                     PayloadChanges changes) {
  VESTA_CHECK(options_.shared) << "append_catalog on a store that is not shared";
  const int64_t wal_key = lock_key("vesta wal " + options_.workspace);
  const int64_t token = -new_member_id();  // negative: never a flusher batch
  uint64_t sequence = 0;
  bool looked_up = false;
  const core::Status status = with_transaction("saving the catalog", [&](pqxx::work& txn) {
    txn.exec_params("SELECT pg_advisory_xact_lock($1)", wal_key);
    if (looked_up) {
      // A retry: the first try may have committed before its connection broke.
      const pqxx::result found = txn.exec_params(
          "SELECT sequence FROM vesta_wal WHERE workspace = $1 AND origin = $2 AND batch = $3",
          options_.workspace, member_, token);
      if (!found.empty()) {
        sequence = found[0][0].as<uint64_t>();
        return core::Status::ok();
      }
    }
    looked_up = true;
    const pqxx::result saved = txn.exec_params(
        "SELECT wal_sequence FROM vesta_catalog WHERE workspace = $1", options_.workspace);
    const uint64_t current = saved.empty() ? 0 : saved[0][0].as<uint64_t>();
    if (current != expected_sequence) {
      return core::Status(core::StatusCode::kConflict,
                          "another vesta process changed the collections of workspace '" +
                              options_.workspace +
                              "' a moment ago (this one has not applied that yet): try again");
    }
    const uint64_t last = shared_log_end(txn, options_.workspace);
    sequence = last + 1;
    txn.exec_params(insert_shared_wal_statement(1), options_.workspace, as_bigint(sequence),
                    member_, token, binary(record));
    txn.exec_params(
        "INSERT INTO vesta_catalog (workspace, catalog, wal_sequence) VALUES ($1, $2, $3) ON "
        "CONFLICT (workspace) DO UPDATE SET catalog = EXCLUDED.catalog, wal_sequence = "
        "EXCLUDED.wal_sequence, updated_at = now()",
        options_.workspace, std::string(catalog), as_bigint(sequence));
    apply_payload_changes(txn, changes);
    txn.exec_params("SELECT pg_notify($1, $2)", kWalChannel, options_.workspace);
    return core::Status::ok();
  });
  if (!status.is_ok()) return status;
  return sequence;
}

uint64_t PostgresStore::catalog_sequence() const {
  std::lock_guard lock(wal_mutex_);
  return catalog_sequence_;
}

bool PostgresStore::is_leader() const { return !options_.shared || leader_.load(); }

core::Status PostgresStore::heartbeat(uint64_t applied) {
  char host[256] = {};
  (void)gethostname(host, sizeof(host) - 1);
  return with_transaction("updating this process's row in vesta_members", [&](pqxx::work& txn) {
    txn.exec_params(
        "INSERT INTO vesta_members (workspace, member, applied, pid, host) VALUES ($1, $2, $3, "
        "$4, $5) ON CONFLICT (workspace, member) DO UPDATE SET applied = EXCLUDED.applied, "
        "seen_at = now()",
        options_.workspace, member_, as_bigint(applied), static_cast<int>(getpid()),
        std::string(host));
    return core::Status::ok();
  });
}

void PostgresStore::update_leadership() {
  std::lock_guard lock(lock_mutex_);
  const bool was = leader_.load();
  bool now = false;
  if (lock_session_ != nullptr) {
    try {
      pqxx::nontransaction txn(*lock_session_->connection);
      now = txn.exec_params1(kHoldsLockQuery, leader_key_)[0].as<bool>() ||
            txn.exec_params1("SELECT pg_try_advisory_lock($1)", leader_key_)[0].as<bool>();
    } catch (...) {
      now = false;  // ensure_workspace_lock reconnects the session
    }
  }
  leader_.store(now);
  if (now != was) {
    std::fprintf(stderr,
                 "vesta: %s: this process %s the leader (snapshot rounds, log truncation)\n",
                 description_.c_str(), now ? "is now" : "is no longer");
  }
}

core::Status PostgresStore::follow(ReplayFn deliver) {
  VESTA_CHECK(options_.shared) << "follow on a store that is not shared";
  {
    std::lock_guard lock(wal_mutex_);
    VESTA_CHECK(wal_open_ && !follower_.joinable()) << "follow before open_wal, or twice";
  }
  deliver_ = std::move(deliver);
  update_leadership();
  follower_ = std::thread([this] { follow_loop(); });
  return core::Status::ok();
}

void PostgresStore::stop_following() {
  {
    std::lock_guard lock(wal_mutex_);
    follow_stop_ = true;
  }
  flusher_wake_.notify_all();
  if (follower_.joinable()) follower_.join();
}

namespace {

// Notes that a NOTIFY for the workspace arrived.
class WalNotifications final : public pqxx::notification_receiver {
 public:
  WalNotifications(pqxx::connection_base& connection, std::string workspace)
      : pqxx::notification_receiver(connection, kWalChannel), workspace_(std::move(workspace)) {}
  void operator()(const std::string& payload, int /*backend_pid*/) override {
    if (payload == workspace_) arrived = true;
  }
  bool arrived = false;

 private:
  const std::string workspace_;
};

}  // namespace

void PostgresStore::follow_loop() {
  std::mt19937_64 jitter(std::random_device{}());
  std::chrono::milliseconds backoff = kInitialBackoff;
  std::unique_ptr<pqxx::connection> connection;
  std::unique_ptr<WalNotifications> notifications;
  auto last_beat = std::chrono::steady_clock::time_point{};
  uint64_t through = 0;
  {
    std::lock_guard lock(wal_mutex_);
    through = followed_through_;
  }
  auto stopping = [&] {
    std::lock_guard lock(wal_mutex_);
    return stopping_ || follow_stop_;
  };
  bool failed_for_good = false;
  while (!stopping()) {
    try {
      if (connection == nullptr) {
        core::Result<std::unique_ptr<pqxx::connection>> opened = pg_connect(conninfo_);
        if (!opened.is_ok()) throw std::runtime_error(opened.status().message());
        connection = std::move(opened).value();
        notifications = std::make_unique<WalNotifications>(*connection, options_.workspace);
        backoff = kInitialBackoff;
      }
      // Everything committed after `through`, in order.
      for (bool more = !failed_for_good; more;) {
        pqxx::nontransaction txn(*connection);
        const pqxx::result r = txn.exec_params(
            "SELECT sequence, record, octet_length(record) FROM vesta_wal WHERE workspace = $1 "
            "AND sequence > $2 ORDER BY sequence LIMIT $3",
            options_.workspace, as_bigint(through), kReplayBatchRecords);
        if (!r.empty() && r[0][0].as<uint64_t>() != through + 1) {
          const uint64_t oldest =
              txn.exec_params1("SELECT min(sequence) FROM vesta_wal WHERE workspace = $1",
                               options_.workspace)[0]
                  .as<uint64_t>();
          if (oldest > through + 1) {
            std::fprintf(stderr,
                         "vesta: %s: this process fell behind the log (it applied up to sequence "
                         "%llu; the leader truncated the log up to %llu): it no longer follows "
                         "the other processes' writes; restart it\n",
                         description_.c_str(), static_cast<unsigned long long>(through),
                         static_cast<unsigned long long>(oldest - 1));
            failed_for_good = true;
            break;
          }
        }
        for (const pqxx::row& row : r) {
          const uint64_t sequence = row[0].as<uint64_t>();
          if (!row[1].is_null()) {
            const pqxx::binarystring record(row[1]);
            const core::Status delivered = deliver_(sequence, bytes_of(record));
            if (!delivered.is_ok()) {
              std::fprintf(stderr,
                           "vesta: %s: log record %llu cannot be applied (%s): this process no "
                           "longer follows the other processes' writes; restart it\n",
                           description_.c_str(), static_cast<unsigned long long>(sequence),
                           delivered.message().c_str());
              failed_for_good = true;
              break;
            }
          }
          through = sequence;
          std::lock_guard lock(wal_mutex_);
          followed_through_ = sequence;
          bytes_written_ += row[2].is_null() ? 0 : row[2].as<uint64_t>();
        }
        more = !failed_for_good && r.size() == static_cast<size_t>(kReplayBatchRecords);
      }
      const auto now = std::chrono::steady_clock::now();
      if (now - last_beat >= std::chrono::seconds(1)) {
        const core::Status held = ensure_workspace_lock();
        if (!held.is_ok()) {
          std::fprintf(stderr, "vesta: %s: the workspace lock: %s\n", description_.c_str(),
                       held.message().c_str());
        }
        update_leadership();
        const core::Status beat = heartbeat(through);
        if (!beat.is_ok()) {
          std::fprintf(stderr, "vesta: %s: %s\n", description_.c_str(), beat.message().c_str());
        }
        last_beat = now;
      }
      notifications->arrived = false;
      const auto poll = std::chrono::duration_cast<std::chrono::microseconds>(options_.follow_poll);
      connection->await_notification(static_cast<long>(poll.count() / 1000000),
                                     static_cast<long>(poll.count() % 1000000));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "vesta: %s: following the log: %s; reconnecting\n", description_.c_str(),
                   e.what());
      notifications.reset();
      connection.reset();
      leader_.store(false);
      const auto wait =
          backoff / 2 + std::chrono::milliseconds(
                            std::uniform_int_distribution<int64_t>(0, backoff.count() / 2)(jitter));
      std::unique_lock lock(wal_mutex_);
      if (flusher_wake_.wait_for(lock, wait, [&] { return stopping_ || follow_stop_; })) break;
      backoff = std::min(backoff * 2, kMaxBackoff);
    }
  }
  notifications.reset();
}

}  // namespace vesta::persistence
