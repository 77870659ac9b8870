// PostgresStore against a real PostgreSQL server ($VESTA_TEST_POSTGRES_URL;
// the tests skip, saying why, without one). Each test uses a workspace of its
// own, or a database of its own where it changes what workspaces share.

#include "persistence/postgres_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "persistence/pg_connection_pool.h"
#include "persistence/pg_schema.h"
#include "postgres_test_db.h"
#include "snapshot_contents_match.h"
#include "test_seed.h"

namespace vesta::persistence {
namespace {

using testing::postgres_exec;
using testing::postgres_url;
using testing::unique_name;
using Records = std::vector<std::pair<uint64_t, std::string>>;

PostgresStoreOptions options_for(const std::string& workspace, std::string url = "") {
  PostgresStoreOptions options;
  options.uri = url.empty() ? *postgres_url() : std::move(url);
  options.workspace = workspace;
  options.connect_timeout = std::chrono::seconds(2);
  return options;
}

std::unique_ptr<PostgresStore> open_ok(const PostgresStoreOptions& options) {
  core::Result<std::unique_ptr<PostgresStore>> store = PostgresStore::open(options);
  EXPECT_TRUE(store.is_ok()) << store.status().to_string();
  return store.is_ok() ? std::move(store).value() : nullptr;
}

core::Status open_wal_collecting(PostgresStore& store, uint64_t replay_after, Records* replayed) {
  return store.open_wal(replay_after, [replayed](uint64_t sequence, std::string_view bytes) {
    replayed->emplace_back(sequence, std::string(bytes));
    return core::Status::ok();
  });
}

// Record i: lengths vary (0 included), bytes include NULs and high bytes.
std::string record_bytes(uint64_t i) {
  if (i % 17 == 0) return {};
  std::string s = "record-" + std::to_string(i) + ":";
  for (uint64_t k = 0; k < i % 41; ++k) s.push_back(static_cast<char>((i * 7 + k * 13) % 256));
  return s;
}

void write_and_sync(PostgresStore& store, uint64_t first, uint64_t last) {
  for (uint64_t i = first; i <= last; ++i) {
    core::Result<uint64_t> seq = store.write_wal(record_bytes(i));
    ASSERT_TRUE(seq.is_ok()) << seq.status().to_string();
    ASSERT_EQ(seq.value(), i);
  }
  ASSERT_TRUE(store.sync_wal(last).is_ok());
}

void expect_records(const Records& replayed, uint64_t first, uint64_t last) {
  ASSERT_EQ(replayed.size(), last + 1 - first);
  for (uint64_t i = first; i <= last; ++i) {
    EXPECT_EQ(replayed[i - first].first, i);
    EXPECT_EQ(replayed[i - first].second, record_bytes(i)) << "record " << i;
  }
}

SnapshotContents contents_of(const std::string& collection, uint64_t incarnation,
                             uint64_t wal_sequence, size_t points, uint32_t dim = 8) {
  SnapshotContents c;
  c.collection = collection;
  c.dim = dim;
  c.metric = "Dot";
  c.incarnation = incarnation;
  c.wal_sequence = wal_sequence;
  c.payload_indexes = {{"city", "keyword"}};
  std::mt19937_64 rng(wal_sequence * 1000 + points);
  for (size_t p = 0; p < points; ++p) {
    c.ids.push_back(core::PointId::number(wal_sequence * 100000 + p));
    for (uint32_t d = 0; d < dim; ++d) c.rows.push_back(static_cast<uint16_t>(rng()));
    c.payloads.push_back(p % 3 == 0 ? "" : "{\"p\":" + std::to_string(p) + "}");
  }
  return c;
}

std::string sql_text(const std::string& text) { return "'" + text + "'"; }

TEST(PostgresStore, TheCatalogRoundTripsAndIsReplaced) {
  VESTA_SKIP_WITHOUT_POSTGRES();
  const PostgresStoreOptions options = options_for(unique_name("catalog"));
  {
    std::unique_ptr<PostgresStore> store = open_ok(options);
    ASSERT_NE(store, nullptr);
    core::Result<std::optional<std::string>> none = store->load_catalog();
    ASSERT_TRUE(none.is_ok()) << none.status().to_string();
    EXPECT_FALSE(none.value().has_value());
    ASSERT_TRUE(store->save_catalog("{\"first\": 1}").is_ok());
    ASSERT_TRUE(store->save_catalog("{\"second\": \"ünïcode\"}").is_ok());
    EXPECT_NE(store->describe().find("workspace " + options.workspace), std::string::npos);
  }
  std::unique_ptr<PostgresStore> store = open_ok(options);
  ASSERT_NE(store, nullptr);
  core::Result<std::optional<std::string>> catalog = store->load_catalog();
  ASSERT_TRUE(catalog.is_ok());
  EXPECT_EQ(catalog.value(), std::optional<std::string>("{\"second\": \"ünïcode\"}"));
}

TEST(PostgresStore, RecordsReplayInOrderAcrossReopenAndSequencesContinue) {
  VESTA_SKIP_WITHOUT_POSTGRES();
  const PostgresStoreOptions options = options_for(unique_name("wal"));
  {
    std::unique_ptr<PostgresStore> store = open_ok(options);
    ASSERT_NE(store, nullptr);
    Records replayed;
    ASSERT_TRUE(open_wal_collecting(*store, 0, &replayed).is_ok());
    EXPECT_TRUE(replayed.empty());
    EXPECT_EQ(store->wal_last_sequence(), 0u);
    EXPECT_TRUE(store->sync_wal(0).is_ok());
    // More than one replay batch (256), and one large record.
    write_and_sync(*store, 1, 600);
    core::Result<uint64_t> big = store->write_wal(std::string(3 << 20, '\xab'));
    ASSERT_TRUE(big.is_ok());
    EXPECT_EQ(big.value(), 601u);
    ASSERT_TRUE(store->sync_wal(601).is_ok());
    EXPECT_EQ(store->sync_wal(602).code(), core::StatusCode::kInvalidArgument);
    EXPECT_GT(store->wal_bytes_written(), 3u << 20);
  }
  {
    std::unique_ptr<PostgresStore> store = open_ok(options);
    ASSERT_NE(store, nullptr);
    Records replayed;
    ASSERT_TRUE(open_wal_collecting(*store, 0, &replayed).is_ok());
    ASSERT_EQ(replayed.size(), 601u);
    replayed.pop_back();
    expect_records(replayed, 1, 600);
    EXPECT_EQ(store->wal_last_sequence(), 601u);
    write_and_sync(*store, 602, 605);
  }
  std::unique_ptr<PostgresStore> store = open_ok(options);
  ASSERT_NE(store, nullptr);
  Records replayed;
  ASSERT_TRUE(open_wal_collecting(*store, 590, &replayed).is_ok());
  ASSERT_EQ(replayed.size(), 15u);
  EXPECT_EQ(replayed.front().first, 591u);
  EXPECT_EQ(replayed[10].second, std::string(3 << 20, '\xab'));
  EXPECT_EQ(replayed.back().first, 605u);
}

TEST(PostgresStore, AReplayAfterBeyondTheLogContinuesAfterIt) {
  VESTA_SKIP_WITHOUT_POSTGRES();
  const PostgresStoreOptions options = options_for(unique_name("beyond"));
  {
    std::unique_ptr<PostgresStore> store = open_ok(options);
    Records replayed;
    ASSERT_TRUE(open_wal_collecting(*store, 0, &replayed).is_ok());
    write_and_sync(*store, 1, 5);
  }
  std::unique_ptr<PostgresStore> store = open_ok(options);
  Records replayed;
  ASSERT_TRUE(open_wal_collecting(*store, 40, &replayed).is_ok());
  EXPECT_TRUE(replayed.empty());
  EXPECT_EQ(store->write_wal("x").value(), 41u);
}

TEST(PostgresStore, ConcurrentWritersShareCommitsAndReplayContiguously) {
  VESTA_SKIP_WITHOUT_POSTGRES();
  const PostgresStoreOptions options = options_for(unique_name("concurrent"));
  constexpr int kThreads = 8;
  constexpr int kPerThread = 150;
  std::map<uint64_t, std::string> written;
  {
    std::unique_ptr<PostgresStore> store = open_ok(options);
    ASSERT_NE(store, nullptr);
    Records replayed;
    ASSERT_TRUE(open_wal_collecting(*store, 0, &replayed).is_ok());
    std::mutex mutex;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          const std::string record = "thread " + std::to_string(t) + " record " + std::to_string(i);
          core::Result<uint64_t> seq = store->write_wal(record);
          ASSERT_TRUE(seq.is_ok()) << seq.status().to_string();
          ASSERT_TRUE(store->sync_wal(seq.value()).is_ok());
          std::lock_guard lock(mutex);
          written[seq.value()] = record;
        }
      });
    }
    for (std::thread& t : threads) t.join();
    const PostgresStore::WalStats stats = store->wal_stats();
    EXPECT_EQ(stats.records, static_cast<uint64_t>(kThreads * kPerThread));
    EXPECT_LT(stats.commits, stats.records) << "concurrent writers never shared a COMMIT";
    std::printf("%llu records in %llu commits\n", static_cast<unsigned long long>(stats.records),
                static_cast<unsigned long long>(stats.commits));
  }
  std::unique_ptr<PostgresStore> store = open_ok(options);
  ASSERT_NE(store, nullptr);
  Records replayed;
  ASSERT_TRUE(open_wal_collecting(*store, 0, &replayed).is_ok());
  ASSERT_EQ(replayed.size(), static_cast<size_t>(kThreads * kPerThread));
  for (size_t i = 0; i < replayed.size(); ++i) {
    EXPECT_EQ(replayed[i].first, i + 1);
    EXPECT_EQ(replayed[i].second, written[i + 1]);
  }
}

TEST(PostgresStore, TruncateRemovesRecordsUpToASequenceButNeverTheNewest) {
  VESTA_SKIP_WITHOUT_POSTGRES();
  const PostgresStoreOptions options = options_for(unique_name("truncate"));
  {
    std::unique_ptr<PostgresStore> store = open_ok(options);
    Records replayed;
    ASSERT_TRUE(open_wal_collecting(*store, 0, &replayed).is_ok());
    write_and_sync(*store, 1, 10);
    ASSERT_TRUE(store->truncate_wal(6).is_ok());
  }
  {
    std::unique_ptr<PostgresStore> store = open_ok(options);
    Records replayed;
    ASSERT_TRUE(open_wal_collecting(*store, 0, &replayed).is_ok());
    expect_records(replayed, 7, 10);
    // Everything: the newest row stays, so the next sequence is 11 even
    // after a restart with nothing to replay from.
    ASSERT_TRUE(store->truncate_wal(10).is_ok());
  }
  std::unique_ptr<PostgresStore> store = open_ok(options);
  Records replayed;
  ASSERT_TRUE(open_wal_collecting(*store, 0, &replayed).is_ok());
  expect_records(replayed, 10, 10);
  EXPECT_EQ(store->write_wal("next").value(), 11u);
}

TEST(PostgresStore, SnapshotsKeepTheNewestTwoAndFallBackWhenTheNewestIsDamaged) {
  VESTA_SKIP_WITHOUT_POSTGRES();
  PostgresStoreOptions options = options_for(unique_name("snapshots"));
  options.snapshot_chunk_bytes = 4096;  // several chunk rows per snapshot
  options.snapshot.chunk_points = 64;
  std::unique_ptr<PostgresStore> store = open_ok(options);
  ASSERT_NE(store, nullptr);
  core::Result<std::optional<SnapshotContents>> none = store->load_snapshot("docs", 1);
  ASSERT_TRUE(none.is_ok());
  EXPECT_FALSE(none.value().has_value());

  const SnapshotContents s10 = contents_of("docs", 1, 10, 300);
  const SnapshotContents s20 = contents_of("docs", 1, 20, 400);
  const SnapshotContents s30 = contents_of("docs", 1, 30, 500);
  EXPECT_EQ(store->save_snapshot(s10).value(), 10u);
  EXPECT_EQ(store->save_snapshot(s20).value(), 10u);  // keeps 10 and 20
  EXPECT_EQ(store->save_snapshot(s30).value(), 20u);  // keeps 20 and 30
  EXPECT_EQ(store->save_snapshot(s30).value(), 20u);  // the same again: replaced
  const std::string ws = sql_text(options.workspace);
  const pqxx::result kept = postgres_exec(
      options.uri, "SELECT wal_sequence, chunks FROM vesta_snapshots WHERE workspace = " + ws +
                       " ORDER BY wal_sequence");
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(kept[0][0].as<int>(), 20);
  EXPECT_EQ(kept[1][0].as<int>(), 30);
  EXPECT_GE(kept[1][1].as<int>(), 3);
  EXPECT_EQ(postgres_exec(options.uri,
                          "SELECT count(*) FROM vesta_snapshot_chunks WHERE workspace = " + ws +
                              " AND wal_sequence = 10")[0][0]
                .as<int>(),
            0);

  core::Result<std::optional<SnapshotContents>> loaded = store->load_snapshot("docs", 1);
  ASSERT_TRUE(loaded.is_ok()) << loaded.status().to_string();
  ASSERT_TRUE(loaded.value().has_value());
  testing::expect_same_snapshot(*loaded.value(), s30);

  // One flipped byte in a chunk row of the newest: the older one is loaded.
  postgres_exec(options.uri,
                "UPDATE vesta_snapshot_chunks SET bytes = set_byte(bytes, 100, get_byte(bytes, "
                "100) # 90) WHERE workspace = " +
                    ws + " AND wal_sequence = 30 AND chunk = 1");
  loaded = store->load_snapshot("docs", 1);
  ASSERT_TRUE(loaded.is_ok()) << loaded.status().to_string();
  ASSERT_TRUE(loaded.value().has_value());
  testing::expect_same_snapshot(*loaded.value(), s20);

  // A missing chunk row of the older one too: none is usable, which is an
  // error (starting without them could lose points).
  postgres_exec(options.uri, "DELETE FROM vesta_snapshot_chunks WHERE workspace = " + ws +
                                 " AND wal_sequence = 20 AND chunk = 2");
  loaded = store->load_snapshot("docs", 1);
  ASSERT_FALSE(loaded.is_ok());
  EXPECT_NE(loaded.status().message().find("chunk 2 of"), std::string::npos)
      << loaded.status().message();
  EXPECT_NE(loaded.status().message().find("checksum"), std::string::npos)
      << loaded.status().message();

  // Another incarnation replaces them; the old incarnation has none left.
  const SnapshotContents next = contents_of("docs", 2, 40, 1);
  EXPECT_EQ(store->save_snapshot(next).value(), 40u);
  EXPECT_FALSE(store->load_snapshot("docs", 1).value().has_value());
  testing::expect_same_snapshot(*store->load_snapshot("docs", 2).value(), next);
  // An empty collection's snapshot.
  const SnapshotContents empty = contents_of("empty", 1, 41, 0);
  ASSERT_TRUE(store->save_snapshot(empty).is_ok());
  testing::expect_same_snapshot(*store->load_snapshot("empty", 1).value(), empty);

  ASSERT_TRUE(store->drop_snapshots("docs").is_ok());
  EXPECT_FALSE(store->load_snapshot("docs", 2).value().has_value());
  EXPECT_TRUE(store->load_snapshot("empty", 1).value().has_value());
}

TEST(PostgresStore, AFreshDatabaseIsMigratedAndANewerSchemaIsRefused) {
  VESTA_SKIP_WITHOUT_POSTGRES();
  testing::ScratchDatabase db("migrations");
  {
    pqxx::connection connection(db.url());
    EXPECT_EQ(pg_schema_version(connection).value(), 0);
  }
  // Two processes starting together on a fresh database: both migrate safely.
  std::vector<std::thread> openers;
  std::atomic<int> opened{0};
  for (int i = 0; i < 2; ++i) {
    openers.emplace_back([&, i] {
      core::Result<std::unique_ptr<PostgresStore>> store =
          PostgresStore::open(options_for("w" + std::to_string(i), db.url()));
      EXPECT_TRUE(store.is_ok()) << store.status().to_string();
      if (store.is_ok()) ++opened;
    });
  }
  for (std::thread& t : openers) t.join();
  EXPECT_EQ(opened.load(), 2);
  {
    pqxx::connection connection(db.url());
    EXPECT_EQ(pg_schema_version(connection).value(), kPgSchemaVersion);
  }
  EXPECT_EQ(postgres_exec(db.url(), "SELECT count(*) FROM vesta_schema_version")[0][0].as<int>(),
            kPgSchemaVersion);

  // A newer vesta migrated it: refused, naming both versions.
  postgres_exec(db.url(), "INSERT INTO vesta_schema_version (version, description) VALUES (" +
                              std::to_string(kPgSchemaVersion + 1) + ", 'from the future')");
  core::Result<std::unique_ptr<PostgresStore>> refused =
      PostgresStore::open(options_for("w0", db.url()));
  ASSERT_FALSE(refused.is_ok());
  EXPECT_EQ(refused.status().code(), core::StatusCode::kConflict);
  EXPECT_NE(
      refused.status().message().find("schema version " + std::to_string(kPgSchemaVersion + 1)),
      std::string::npos)
      << refused.status().message();
  EXPECT_NE(refused.status().message().find("up to " + std::to_string(kPgSchemaVersion)),
            std::string::npos)
      << refused.status().message();
}

TEST(PostgresStore, WorkspacesNeverSeeEachOthersData) {
  VESTA_SKIP_WITHOUT_POSTGRES();
  const std::string a_name = unique_name("ws_a"), b_name = unique_name("ws_b");
  std::unique_ptr<PostgresStore> a = open_ok(options_for(a_name));
  std::unique_ptr<PostgresStore> b = open_ok(options_for(b_name));
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(a->save_catalog("catalog of a").is_ok());
  Records replayed;
  ASSERT_TRUE(open_wal_collecting(*a, 0, &replayed).is_ok());
  ASSERT_TRUE(open_wal_collecting(*b, 0, &replayed).is_ok());
  write_and_sync(*a, 1, 20);
  write_and_sync(*b, 1, 3);  // b's sequences start at 1 too
  ASSERT_TRUE(a->save_snapshot(contents_of("docs", 1, 20, 10)).is_ok());
  ASSERT_TRUE(b->truncate_wal(3).is_ok());
  ASSERT_TRUE(b->drop_snapshots("docs").is_ok());

  EXPECT_FALSE(b->load_catalog().value().has_value());
  EXPECT_FALSE(b->load_snapshot("docs", 1).value().has_value());
  b.reset();
  a.reset();
  a = open_ok(options_for(a_name));
  b = open_ok(options_for(b_name));
  EXPECT_EQ(a->load_catalog().value(), std::optional<std::string>("catalog of a"));
  EXPECT_TRUE(a->load_snapshot("docs", 1).value().has_value());
  Records of_a, of_b;
  ASSERT_TRUE(open_wal_collecting(*a, 0, &of_a).is_ok());
  ASSERT_TRUE(open_wal_collecting(*b, 0, &of_b).is_ok());
  expect_records(of_a, 1, 20);
  expect_records(of_b, 3, 3);
}

TEST(PostgresStore, AWorkspaceServesOneProcessAtATime) {
  VESTA_SKIP_WITHOUT_POSTGRES();
  PostgresStoreOptions options = options_for(unique_name("locked"));
  options.connect_timeout = std::chrono::seconds(1);
  std::unique_ptr<PostgresStore> first = open_ok(options);
  ASSERT_NE(first, nullptr);
  core::Result<std::unique_ptr<PostgresStore>> second = PostgresStore::open(options);
  ASSERT_FALSE(second.is_ok());
  EXPECT_EQ(second.status().code(), core::StatusCode::kConflict);
  EXPECT_NE(second.status().message().find("in use by another vesta process"), std::string::npos)
      << second.status().message();
  first.reset();
  EXPECT_NE(open_ok(options), nullptr);
}

TEST(PgConnection, SettingsNeverShowThePassword) {
  core::Result<PgConnectionSettings> settings = pg_connection_settings(
      "postgresql://vesta:s3cret-pw@db.example:6543/vectors?sslmode=verify-full&"
      "sslrootcert=/etc/ca.pem",
      std::chrono::seconds(7), std::chrono::seconds(9));
  ASSERT_TRUE(settings.is_ok()) << settings.status().to_string();
  EXPECT_EQ(settings.value().description,
            "PostgreSQL vesta@db.example:6543/vectors (sslmode verify-full)");
  const std::string& conninfo = settings.value().conninfo;
  EXPECT_NE(conninfo.find("password='s3cret-pw'"), std::string::npos);
  EXPECT_NE(conninfo.find("connect_timeout='7'"), std::string::npos);
  EXPECT_NE(conninfo.find("options='-c statement_timeout=9000'"), std::string::npos);
  EXPECT_NE(conninfo.find("sslrootcert='/etc/ca.pem'"), std::string::npos);

  core::Result<PgConnectionSettings> bad =
      pg_connection_settings("postgresql://vesta:s3cret%zz@db.example/x", std::chrono::seconds(1),
                             std::chrono::seconds(1));
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().code(), core::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message().find("s3cret"), std::string::npos) << bad.status().message();
  EXPECT_FALSE(pg_connection_settings("postgresql://x@h/db?nonsense=1", std::chrono::seconds(1),
                                      std::chrono::seconds(1))
                   .is_ok());
}

TEST(PgConnection, AnUnreachableServerIsUnavailable) {
  PostgresStoreOptions options;
  options.uri = "postgresql://vesta:pw@127.0.0.1:1/vesta";  // nothing listens on port 1
  options.connect_timeout = std::chrono::seconds(1);
  core::Result<std::unique_ptr<PostgresStore>> store = PostgresStore::open(options);
  ASSERT_FALSE(store.is_ok());
  EXPECT_EQ(store.status().code(), core::StatusCode::kUnavailable);
  EXPECT_NE(store.status().message().find("PostgreSQL unreachable"), std::string::npos)
      << store.status().message();
  options.workspace = "no spaces allowed";
  EXPECT_EQ(PostgresStore::open(options).status().code(), core::StatusCode::kInvalidArgument);
}

// Backends of this store's connections are terminated again and again while
// eight threads write: each write either succeeds or fails with kUnavailable;
// the store reconnects by itself; afterwards every acknowledged record is
// there, and no failed one is (they were made void).
TEST(PostgresStore, ConnectionLossFailsOrSucceedsAndLosesNothingAcknowledged) {
  VESTA_SKIP_WITHOUT_POSTGRES();
  const uint64_t seed = testing::test_seed("PostgresStore.ConnectionLoss");
  const std::string workspace = unique_name("loss");
  const std::string url = *postgres_url();
  PostgresStoreOptions options =
      options_for(workspace, testing::with_parameter(url, "application_name=" + workspace));
  std::map<uint64_t, std::string> acknowledged;
  std::set<uint64_t> failed;
  std::atomic<uint64_t> unavailable{0};
  {
    std::unique_ptr<PostgresStore> store = open_ok(options);
    ASSERT_NE(store, nullptr);
    Records replayed;
    ASSERT_TRUE(open_wal_collecting(*store, 0, &replayed).is_ok());
    std::mutex mutex;
    std::atomic<bool> done{false};
    std::vector<std::thread> writers;
    for (int t = 0; t < 8; ++t) {
      writers.emplace_back([&, t] {
        for (int i = 0; !done.load(); ++i) {
          const std::string record = "writer " + std::to_string(t) + " write " + std::to_string(i);
          core::Result<uint64_t> seq = store->write_wal(record);
          if (!seq.is_ok()) {  // refused while the store is reconnecting
            EXPECT_EQ(seq.status().code(), core::StatusCode::kUnavailable)
                << seq.status().to_string();
            ++unavailable;
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
            continue;
          }
          const core::Status synced = store->sync_wal(seq.value());
          std::lock_guard lock(mutex);
          if (synced.is_ok()) {
            acknowledged[seq.value()] = record;
          } else {
            EXPECT_EQ(synced.code(), core::StatusCode::kUnavailable) << synced.to_string();
            EXPECT_NE(synced.message().find("PostgreSQL"), std::string::npos) << synced.message();
            failed.insert(seq.value());
          }
        }
      });
    }
    std::mt19937_64 rng(seed);
    for (int round = 0; round < 12; ++round) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50 + rng() % 200));
      postgres_exec(url,
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                    "application_name = '" +
                        workspace + "'");
    }
    // Writable again, on its own.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    for (;;) {
      core::Result<uint64_t> seq = store->write_wal("after the losses");
      if (seq.is_ok() && store->sync_wal(seq.value()).is_ok()) {
        std::lock_guard lock(mutex);
        acknowledged[seq.value()] = "after the losses";
        break;
      }
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the store did not reconnect";
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    done = true;
    for (std::thread& w : writers) w.join();
    std::printf(
        "%zu acknowledged, %zu failed, %llu refused while reconnecting, %llu batches retried\n",
        acknowledged.size(), failed.size(), static_cast<unsigned long long>(unavailable.load()),
        static_cast<unsigned long long>(store->wal_stats().retried_batches));
    EXPECT_GT(store->wal_stats().retried_batches + failed.size(), 0u)
        << "no write met a terminated connection";
  }
  std::unique_ptr<PostgresStore> store = open_ok(options);
  ASSERT_NE(store, nullptr);
  Records replayed;
  ASSERT_TRUE(open_wal_collecting(*store, 0, &replayed).is_ok());
  std::map<uint64_t, std::string> found(replayed.begin(), replayed.end());
  for (const auto& [sequence, record] : acknowledged) {
    auto it = found.find(sequence);
    ASSERT_NE(it, found.end()) << "acknowledged record " << sequence << " lost";
    EXPECT_EQ(it->second, record);
  }
  for (uint64_t sequence : failed) {
    EXPECT_EQ(found.count(sequence), 0u) << "record " << sequence << " failed but took effect";
  }
  // Gapless: void rows fill the failed sequences.
  const pqxx::result rows = postgres_exec(
      url, "SELECT count(*), min(sequence), max(sequence) FROM vesta_wal WHERE workspace = '" +
               workspace + "'");
  EXPECT_EQ(rows[0][0].as<uint64_t>(), rows[0][2].as<uint64_t>() - rows[0][1].as<uint64_t>() + 1);
}

// The connection dies while COMMIT runs (a deferred trigger holds it): its
// outcome is unknown to the store, which looks on a new connection, finds the
// batch absent and writes it again; the write succeeds once, in order.
TEST(PostgresStore, ACommitWhoseOutcomeIsUnknownIsCheckedThenRetried) {
  VESTA_SKIP_WITHOUT_POSTGRES();
  testing::ScratchDatabase db("in_doubt");
  const std::string workspace = unique_name("in_doubt");
  const PostgresStoreOptions options =
      options_for(workspace, testing::with_parameter(db.url(), "application_name=" + workspace));
  std::unique_ptr<PostgresStore> store = open_ok(options);
  ASSERT_NE(store, nullptr);
  Records replayed;
  ASSERT_TRUE(open_wal_collecting(*store, 0, &replayed).is_ok());
  write_and_sync(*store, 1, 2);
  postgres_exec(db.url(), R"(CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS
                             $$ BEGIN PERFORM pg_sleep(1); RETURN NULL; END $$)");
  postgres_exec(db.url(),
                "CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON vesta_wal DEFERRABLE "
                "INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.sequence = 3) EXECUTE FUNCTION "
                "slow_commit()");
  std::thread killer([&] {
    // Once COMMIT is in the trigger's sleep: end that backend.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (postgres_exec(db.url(),
                         "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                         "application_name = '" +
                             workspace + "' AND wait_event = 'PgSleep'")
               .empty() &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  core::Result<uint64_t> seq = store->write_wal(record_bytes(3));
  ASSERT_TRUE(seq.is_ok());
  const core::Status synced = store->sync_wal(seq.value());
  killer.join();
  EXPECT_TRUE(synced.is_ok()) << synced.to_string();
  EXPECT_EQ(store->wal_stats().retried_batches, 1u);
  write_and_sync(*store, 4, 5);
  store.reset();
  store = open_ok(options);
  replayed.clear();
  ASSERT_TRUE(open_wal_collecting(*store, 0, &replayed).is_ok());
  expect_records(replayed, 1, 5);
}

// While the server refuses this store's connections (its role may not log
// in), a write fails with kUnavailable and further writes are refused; once
// the role may log in again the store reconnects by itself, the failed
// sequence is void (a NULL row: never replayed) and nothing acknowledged is
// lost.
TEST(PostgresStore, WhileTheServerRefusesConnectionsWritesFailThenTheStoreRecovers) {
  VESTA_SKIP_WITHOUT_POSTGRES();
  const std::string workspace = unique_name("refused");
  const std::string url = *postgres_url();
  const std::string role = unique_name("vesta_role");
  postgres_exec(url, "CREATE ROLE " + role + " LOGIN SUPERUSER");
  const PostgresStoreOptions options = options_for(
      workspace,
      testing::with_parameter(testing::with_user(url, role), "application_name=" + workspace));
  uint64_t failed_sequence = 0;
  {
    std::unique_ptr<PostgresStore> store = open_ok(options);
    ASSERT_NE(store, nullptr);
    Records replayed;
    ASSERT_TRUE(open_wal_collecting(*store, 0, &replayed).is_ok());
    write_and_sync(*store, 1, 3);

    postgres_exec(url, "ALTER ROLE " + role + " NOLOGIN");
    postgres_exec(url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '" +
                           role + "'");
    core::Result<uint64_t> seq = store->write_wal(record_bytes(4));
    ASSERT_TRUE(seq.is_ok());
    failed_sequence = seq.value();
    const core::Status synced = store->sync_wal(failed_sequence);
    ASSERT_EQ(synced.code(), core::StatusCode::kUnavailable) << synced.to_string();
    EXPECT_NE(synced.message().find("PostgreSQL unreachable"), std::string::npos)
        << synced.message();
    core::Result<uint64_t> refused = store->write_wal("refused");
    ASSERT_FALSE(refused.is_ok());
    EXPECT_EQ(refused.status().code(), core::StatusCode::kUnavailable);
    EXPECT_GE(store->wal_stats().failed_records, 1u);

    postgres_exec(url, "ALTER ROLE " + role + " LOGIN");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    for (;;) {
      core::Result<uint64_t> next = store->write_wal("after");
      if (next.is_ok()) {
        EXPECT_EQ(next.value(), failed_sequence + 1);  // never reused
        ASSERT_TRUE(store->sync_wal(next.value()).is_ok());
        break;
      }
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the store did not reconnect";
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  std::unique_ptr<PostgresStore> store = open_ok(options);
  ASSERT_NE(store, nullptr);
  Records replayed;
  ASSERT_TRUE(open_wal_collecting(*store, 0, &replayed).is_ok());
  ASSERT_EQ(replayed.size(), 4u);
  replayed.pop_back();
  expect_records(replayed, 1, 3);
  const pqxx::result void_row =
      postgres_exec(url, "SELECT record IS NULL FROM vesta_wal WHERE workspace = '" + workspace +
                             "' AND sequence = " + std::to_string(failed_sequence));
  ASSERT_EQ(void_row.size(), 1u);
  EXPECT_TRUE(void_row[0][0].as<bool>());
  store.reset();
  postgres_exec(url, "DROP ROLE " + role);
}

}  // namespace
}  // namespace vesta::persistence
