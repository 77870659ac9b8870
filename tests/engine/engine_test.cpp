#include "engine/engine.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "core/thread_pool.h"
#include "engine/write_codec.h"
#include "engine_test_points.h"
#include "index/cpu_searcher.h"
#include "persistence/file_store.h"
#include "persistence/postgres_store.h"
#include "persistence/snapshot_codec.h"
#include "postgres_test_db.h"
#include "test_seed.h"

namespace vesta::engine {
namespace {

namespace fs = std::filesystem;
using core::PointId;
using nlohmann::json;
using test_data::contents;
using test_data::points;

// kPostgresShared: a PostgresStore opened shared (several processes per
// workspace), here alone: the engine applies every write in log order.
enum class Backend { kFile, kPostgres, kPostgresShared };

fs::path scratch_dir(const std::string& name) {
  fs::path dir =
      fs::temp_directory_path() / ("vesta-engine-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  return dir;
}

// One process's worth of durable state in a Store — a data directory, or a
// workspace of the test PostgreSQL ($VESTA_TEST_POSTGRES_URL) — where
// reopen() is a restart (everything in memory is rebuilt from the store).
// Small log segments and snapshot chunk rows, so truncation and chunking
// show in small tests. `postgres_uri` replaces $VESTA_TEST_POSTGRES_URL.
// Whether `done()` holds within `within`, asked every 10 ms.
template <typename Done>
bool eventually(Done done, std::chrono::seconds within) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

// Engine options with no rounds of its own: tests call snapshot_all().
EngineOptions rounds_on_request() {
  EngineOptions options;
  options.snapshot_wal_bytes = 0;
  options.snapshot_interval = std::chrono::seconds(0);
  return options;
}

class Durable {
 public:
  Durable(Backend backend, const std::string& name, const std::string& postgres_uri = {})
      : backend_(backend) {
    files_.dir = scratch_dir(name);
    files_.wal.segment_bytes = 4096;
    if (backend != Backend::kFile) {
      postgres_.uri = postgres_uri.empty() ? *testing::postgres_url() : postgres_uri;
      postgres_.workspace = testing::unique_name("engine_" + name);
      postgres_.snapshot_chunk_bytes = 4096;
      postgres_.shared = backend == Backend::kPostgresShared;
    }
    reopen();
  }
  ~Durable() {
    engine_.reset();
    store_.reset();
    fs::remove_all(files_.dir);
  }
  Durable(const Durable&) = delete;
  Durable& operator=(const Durable&) = delete;

  void reopen() {
    engine_.reset();
    store_.reset();
    if (backend_ == Backend::kFile) {
      core::Result<std::unique_ptr<persistence::FileStore>> store =
          persistence::FileStore::open(files_);
      ASSERT_TRUE(store.is_ok()) << store.status().to_string();
      store_ = std::move(store).value();
    } else {
      core::Result<std::unique_ptr<persistence::PostgresStore>> store =
          persistence::PostgresStore::open(postgres_);
      ASSERT_TRUE(store.is_ok()) << store.status().to_string();
      store_ = std::move(store).value();
    }
    core::Result<std::unique_ptr<Engine>> engine =
        Engine::open(*store_, locks_, searcher_, {}, options_, &report_);
    ASSERT_TRUE(engine.is_ok()) << engine.status().to_string();
    engine_ = std::move(engine).value();
  }
  // Reopens with the engine's own snapshot rounds (`options`) instead of
  // rounds only when a test asks.
  void reopen_with(const EngineOptions& options) {
    options_ = options;
    reopen();
  }
  index::CollectionRegistry& registry() { return engine_->registry(); }
  index::Collection& collection(const std::string& name) {
    return *engine_->registry().get(name).value();
  }
  Engine& engine() { return *engine_; }
  const RecoveryReport& report() const { return report_; }
  const fs::path& dir() const { return files_.dir; }

  // What the log holds: segment files, or rows.
  size_t log_size() const {
    if (backend_ == Backend::kFile) {
      return static_cast<size_t>(std::distance(fs::directory_iterator(files_.dir / "wal"), {}));
    }
    return sql("SELECT count(*) FROM vesta_wal WHERE workspace = $WS")[0][0].as<size_t>();
  }
  // The snapshots kept of collection `name`.
  size_t snapshot_count(const std::string& name) const {
    if (backend_ == Backend::kFile) {
      const fs::path dir = files_.dir / "snapshots" / ("c-" + name);
      return fs::exists(dir) ? static_cast<size_t>(std::distance(fs::directory_iterator(dir), {}))
                             : 0;
    }
    return sql("SELECT count(*) FROM vesta_snapshots WHERE workspace = $WS AND collection = '" +
               name + "'")[0][0]
        .as<size_t>();
  }
  // PostgreSQL: vesta_points of collection `name`, as "<type>:<id>" -> payload
  // (null for none).
  std::map<std::string, json> payload_table(const std::string& name) const {
    std::map<std::string, json> out;
    for (const pqxx::row& row : sql("SELECT id_type, id, payload::text FROM vesta_points WHERE "
                                    "workspace = $WS AND collection = '" +
                                    name + "'")) {
      out[row[0].as<std::string>() + ":" + row[1].as<std::string>()] =
          row[2].is_null() ? json(nullptr) : json::parse(row[2].as<std::string>());
    }
    return out;
  }
  void delete_payload_rows(const std::string& name) const {
    sql("DELETE FROM vesta_points WHERE workspace = $WS AND collection = '" + name +
        "' AND id IN ('1', '2')");
  }
  // Flips one byte inside the newest snapshot of collection `name`.
  void damage_newest_snapshot(const std::string& name) const {
    if (backend_ == Backend::kFile) {
      std::vector<fs::path> files;
      for (const auto& e : fs::directory_iterator(files_.dir / "snapshots" / ("c-" + name))) {
        files.push_back(e.path());
      }
      std::sort(files.begin(), files.end());
      std::fstream f(files.back(), std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(static_cast<std::streamoff>(fs::file_size(files.back()) / 2));
      f.put('\x5a');
      return;
    }
    sql("UPDATE vesta_snapshot_chunks SET bytes = set_byte(bytes, 40, get_byte(bytes, 40) # 165) "
        "WHERE workspace = $WS AND chunk = 0 AND wal_sequence = (SELECT max(wal_sequence) FROM "
        "vesta_snapshots WHERE workspace = $WS)");
  }

 private:
  // Runs `text` with $WS replaced by the quoted workspace.
  pqxx::result sql(std::string text) const {
    for (size_t at = text.find("$WS"); at != std::string::npos; at = text.find("$WS")) {
      text.replace(at, 3, "'" + postgres_.workspace + "'");
    }
    return testing::postgres_exec(postgres_.uri, text);
  }

  Backend backend_;
  EngineOptions options_ = rounds_on_request();
  persistence::FileStoreOptions files_;
  persistence::PostgresStoreOptions postgres_;
  core::ThreadPool pool_{2};
  core::LockManager locks_;
  index::CpuSearcher searcher_{pool_};
  std::unique_ptr<persistence::Store> store_;
  std::unique_ptr<Engine> engine_;
  RecoveryReport report_;
};

// The scenarios every Store must pass, over each backend.
class EngineOnStore : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() != Backend::kFile) {
      VESTA_SKIP_WITHOUT_POSTGRES();
    }
  }
  std::unique_ptr<Durable> open(const std::string& name) {
    return std::make_unique<Durable>(GetParam(), name);
  }
};

INSTANTIATE_TEST_SUITE_P(Backends, EngineOnStore,
                         ::testing::Values(Backend::kFile, Backend::kPostgres,
                                           Backend::kPostgresShared),
                         [](const ::testing::TestParamInfo<Backend>& info) {
                           switch (info.param) {
                             case Backend::kFile: return "FileStore";
                             case Backend::kPostgres: return "PostgresStore";
                             case Backend::kPostgresShared: return "SharedPostgresStore";
                           }
                           return "unknown";
                         });

TEST_P(EngineOnStore, EveryKindOfWriteSurvivesARestart) {
  std::unique_ptr<Durable> store = open("kinds");
  Durable& d = *store;
  ASSERT_TRUE(d.registry().create({"docs", 8, index::Metric::kCosine}).is_ok());
  ASSERT_TRUE(d.registry().create({"other", 3, index::Metric::kEuclid, 0, "image"}).is_ok());
  index::Collection& docs = d.collection("docs");
  ASSERT_TRUE(docs.upsert(points(0, 100, 8)).is_ok());
  ASSERT_TRUE(docs.upsert(points(50, 10, 8)).is_ok());  // overwrites
  const std::vector<PointId> gone = {PointId::number(3), PointId::number(4)};
  ASSERT_EQ(docs.remove(gone).value(), 2u);
  index::PayloadUpdate set;
  set.payload = json{{"city", "Oslo"}};
  ASSERT_EQ(docs.update_payloads(std::vector{PointId::number(7)}, set).value(), 1u);
  index::PayloadUpdate del;
  del.kind = index::PayloadUpdate::Kind::kDeleteKeys;
  del.keys = {"even"};
  ASSERT_EQ(docs.update_payloads(std::vector{PointId::number(8)}, del).value(), 1u);
  ASSERT_TRUE(docs.create_payload_index("city", index::PayloadSchema::kKeyword).is_ok());
  ASSERT_TRUE(d.collection("other").upsert({{PointId::string("x").value(), {1, 2, 3}}}).is_ok());
  ASSERT_TRUE(d.registry().update_aliases({index::CreateAlias{"docs", "live"}}).is_ok());
  const auto before = contents(docs);
  ASSERT_EQ(before.size(), 98u);

  d.reopen();
  EXPECT_EQ(d.report().collections, 2u);
  EXPECT_EQ(d.report().snapshots_loaded, 0u);
  EXPECT_EQ(contents(d.collection("docs")), before);  // vectors bit for bit
  EXPECT_EQ(d.collection("docs").get(PointId::number(7)).value()->payload["city"], "Oslo");
  EXPECT_FALSE(d.collection("docs").get(PointId::number(8)).value()->payload.contains("even"));
  EXPECT_EQ(d.collection("docs").payload_schema().value().count("city"), 1u);
  EXPECT_EQ(d.collection("other").count().value(), 1u);
  EXPECT_EQ(d.registry().aliases(), (std::vector<index::Alias>{{"live", "docs"}}));
  EXPECT_EQ(d.collection("other").config().metric, index::Metric::kEuclid);
  EXPECT_EQ(d.collection("other").config().vector_name, "image");
  EXPECT_EQ(d.collection("docs").config().vector_name, "");

  // A snapshot of a collection with a named vector recovers it named (the
  // snapshot API; not while shared).
  if (GetParam() == Backend::kPostgresShared) return;
  persistence::SnapshotContents named;
  named.collection = "other";
  named.dim = 3;
  named.metric = "Euclid";
  named.vector_name = "image";
  core::Result<std::string> bytes = persistence::encode_snapshot(named);
  ASSERT_TRUE(bytes.is_ok());
  ASSERT_TRUE(d.engine().recover_from_snapshot("third", bytes.value()).is_ok());
  EXPECT_EQ(d.collection("third").config().vector_name, "image");
  d.reopen();
  EXPECT_EQ(d.collection("third").config().vector_name, "image");
}

// The payloads a collection holds, as payload_table() shows them.
std::map<std::string, json> payloads_of(index::Collection& c) {
  std::map<std::string, json> out;
  for (const auto& [id, point] : contents(c)) {
    const char* type = id.kind() == core::PointIdKind::kNumber ? "number"
                       : id.kind() == core::PointIdKind::kUuid ? "uuid"
                                                               : "string";
    out[std::string(type) + ":" + id.to_string()] = point.second;
  }
  return out;
}

TEST_P(EngineOnStore, PostgresKeepsEveryPayloadQueryableAsJsonbInStepWithTheCollection) {
  if (GetParam() == Backend::kFile) GTEST_SKIP() << "vesta_points is PostgreSQL's";
  std::unique_ptr<Durable> store = open("jsonb");
  Durable& d = *store;
  ASSERT_TRUE(d.registry().create({"docs", 4, index::Metric::kDot}).is_ok());
  ASSERT_TRUE(d.registry().create({"gone", 4, index::Metric::kDot}).is_ok());
  index::Collection& docs = d.collection("docs");
  ASSERT_TRUE(docs.upsert(points(0, 30, 4)).is_ok());
  ASSERT_TRUE(d.collection("gone").upsert(points(0, 5, 4)).is_ok());
  std::vector<index::PointWrite> odd = {
      {PointId::string("ключ \"quoted\"").value(),
       {1, 2, 3, 4},
       json{{"text", std::string("nul\0byte", 8)}, {"nested", {{"a", {1, 2.5, "x"}}}}}},
      {PointId::uuid(core::Uuid::parse("6ba7b810-9dad-11d1-80b4-00c04fd430c8").value()),
       {1, 0, 0, 0},
       nullptr}};
  ASSERT_TRUE(docs.upsert(odd).is_ok());
  ASSERT_EQ(docs.remove(std::vector{PointId::number(3)}).value(), 1u);
  index::PayloadUpdate set;
  set.payload = json{{"city", "Oslo"}, {"i", 700}};
  ASSERT_EQ(docs.update_payloads(std::vector{PointId::number(7), PointId::number(99)}, set).value(),
            1u);
  index::PayloadUpdate overwrite;
  overwrite.kind = index::PayloadUpdate::Kind::kOverwrite;
  overwrite.payload = json{{"only", true}};
  ASSERT_TRUE(docs.update_payloads(std::vector{PointId::number(8)}, overwrite).is_ok());
  index::PayloadUpdate del;
  del.kind = index::PayloadUpdate::Kind::kDeleteKeys;
  del.keys = {"even", "absent"};
  ASSERT_TRUE(docs.update_payloads(std::vector{PointId::number(9)}, del).is_ok());
  index::PayloadUpdate clear;
  clear.kind = index::PayloadUpdate::Kind::kClear;
  ASSERT_TRUE(docs.update_payloads(std::vector{PointId::number(10)}, clear).is_ok());
  ASSERT_TRUE(d.registry().drop("gone").value());
  ASSERT_TRUE(d.registry().create({"gone", 4, index::Metric::kDot}).is_ok());
  ASSERT_TRUE(d.collection("gone").upsert(points(40, 2, 4)).is_ok());

  std::map<std::string, json> expected = payloads_of(docs);
  // jsonb cannot hold U+0000: the table shows U+FFFD there.
  const std::string key = "string:ключ \"quoted\"";
  ASSERT_TRUE(expected.contains(key));
  expected[key]["text"] =
      "nul\xEF\xBF\xBD"
      "byte";
  EXPECT_EQ(d.payload_table("docs"), expected);
  EXPECT_EQ(d.payload_table("gone"), payloads_of(d.collection("gone")));
  EXPECT_EQ(d.payload_table("gone").size(), 2u);

  // A table that disagrees with the collection is rewritten at start (not
  // when shared: other processes write it meanwhile).
  if (GetParam() == Backend::kPostgres) {
    d.delete_payload_rows("docs");
    d.reopen();
    EXPECT_EQ(d.payload_table("docs"), expected);
  }

  // A collection recovered from a snapshot (the snapshot API; not while
  // shared) has its payloads in the table too (taken before the collection
  // takes the snapshot's points over).
  if (GetParam() != Backend::kPostgres) return;
  core::Result<index::CollectionSnapshot> taken = d.collection("docs").snapshot();
  ASSERT_TRUE(taken.is_ok());
  persistence::SnapshotContents contents;
  contents.collection = "docs";
  contents.dim = 4;
  contents.metric = "Dot";
  contents.ids = taken.value().ids;
  contents.rows = taken.value().rows;
  contents.payloads = taken.value().payloads;
  core::Result<std::string> bytes = persistence::encode_snapshot(contents);
  ASSERT_TRUE(bytes.is_ok());
  ASSERT_TRUE(d.engine().recover_from_snapshot("copy", bytes.value()).is_ok());
  EXPECT_EQ(d.payload_table("copy"), expected);
  EXPECT_EQ(payloads_of(d.collection("copy")), payloads_of(d.collection("docs")));
}

TEST_P(EngineOnStore, SnapshotsTruncateTheLogAndRecoveryReplaysOnlyWhatFollows) {
  std::unique_ptr<Durable> store = open("snapshot");
  Durable& d = *store;
  ASSERT_TRUE(d.registry().create({"docs", 16, index::Metric::kDot}).is_ok());
  for (uint64_t b = 0; b < 20; ++b) {
    ASSERT_TRUE(d.collection("docs").upsert(points(b * 10, 10, 16)).is_ok());
  }
  const size_t log_before = d.log_size();
  EXPECT_EQ(d.engine().stats().collections_awaiting_snapshot, 1u);
  ASSERT_TRUE(d.engine().snapshot_all().is_ok());
  EXPECT_EQ(d.engine().stats().collections_awaiting_snapshot, 0u);
  ASSERT_TRUE(d.collection("docs").upsert(points(1000, 5, 16)).is_ok());
  ASSERT_TRUE(d.engine().snapshot_all().is_ok());  // the second: the first's log can go
  ASSERT_TRUE(d.collection("docs").upsert(points(2000, 5, 16)).is_ok());
  EXPECT_EQ(d.engine().stats().collections_awaiting_snapshot, 1u);  // the metric's promise:
  EXPECT_LT(d.log_size(), log_before);
  const auto before = contents(d.collection("docs"));

  d.reopen();
  EXPECT_EQ(d.report().snapshots_loaded, 1u);
  EXPECT_EQ(d.report().points_loaded, 205u);
  EXPECT_EQ(d.report().records_replayed, 1u);  // only the upsert after the last snapshot
  EXPECT_EQ(contents(d.collection("docs")), before);
  EXPECT_EQ(d.engine().stats().collections_awaiting_snapshot, 1u);  // replayed, not snapshotted
}

TEST_P(EngineOnStore, ADamagedNewestSnapshotFallsBackToTheOlderOneAndTheLog) {
  std::unique_ptr<Durable> store = open("fallback");
  Durable& d = *store;
  ASSERT_TRUE(d.registry().create({"docs", 4, index::Metric::kDot}).is_ok());
  ASSERT_TRUE(d.collection("docs").upsert(points(0, 50, 4)).is_ok());
  ASSERT_TRUE(d.engine().snapshot_all().is_ok());
  ASSERT_TRUE(d.collection("docs").upsert(points(100, 50, 4)).is_ok());
  ASSERT_TRUE(d.engine().snapshot_all().is_ok());
  ASSERT_TRUE(d.collection("docs").remove(std::vector{PointId::number(0)}).is_ok());
  const auto before = contents(d.collection("docs"));
  ASSERT_EQ(d.snapshot_count("docs"), 2u);
  d.damage_newest_snapshot("docs");

  d.reopen();
  EXPECT_EQ(d.report().snapshots_loaded, 1u);
  EXPECT_EQ(d.report().points_loaded, 50u);  // the older snapshot
  EXPECT_EQ(contents(d.collection("docs")), before);
}

TEST_P(EngineOnStore, ARecreatedCollectionNeverReplaysTheWritesOfTheDroppedOne) {
  std::unique_ptr<Durable> store = open("recreate");
  Durable& d = *store;
  ASSERT_TRUE(d.registry().create({"docs", 4, index::Metric::kDot}).is_ok());
  ASSERT_TRUE(d.collection("docs").upsert(points(0, 10, 4)).is_ok());
  ASSERT_TRUE(d.engine().snapshot_all().is_ok());
  ASSERT_TRUE(d.registry().drop("docs").value());
  EXPECT_EQ(d.snapshot_count("docs"), 0u);
  ASSERT_TRUE(d.registry().create({"docs", 6, index::Metric::kCosine}).is_ok());
  ASSERT_TRUE(d.collection("docs").upsert(points(100, 3, 6)).is_ok());

  d.reopen();
  EXPECT_EQ(d.collection("docs").config().dim, 6u);
  EXPECT_EQ(d.collection("docs").count().value(), 3u);
  EXPECT_EQ(d.report().records_replayed, 1u);
  // The dropped collection's write; a shared log holds the catalog changes
  // (drop, create) too, which the catalog loaded at start already shows.
  EXPECT_EQ(d.report().records_skipped, GetParam() == Backend::kPostgresShared ? 3u : 1u);
}

TEST_P(EngineOnStore, ConcurrentWritersDuringSnapshotRoundsLoseNothing) {
  // Writers of different points may apply out of log order; a snapshot taken
  // between them must not claim a position it does not hold.
  const uint64_t seed = testing::test_seed("EngineOnStore.ConcurrentWritersDuringSnapshotRounds");
  std::unique_ptr<Durable> store = open("concurrent");
  Durable& d = *store;
  ASSERT_TRUE(d.registry().create({"docs", 8, index::Metric::kEuclid}).is_ok());
  constexpr int kThreads = 4;
  constexpr uint64_t kPerThread = 100;
  std::atomic<bool> done{false};
  std::thread snapshotter([&] {
    while (!done.load()) ASSERT_TRUE(d.engine().snapshot_all().is_ok());
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      std::mt19937_64 rng(seed + t);
      for (uint64_t i = 0; i < kPerThread; ++i) {
        const uint64_t id = t * 1000 + i;
        ASSERT_TRUE(d.collection("docs").upsert(points(id, 1, 8)).is_ok());
        if (rng() % 5 == 0) {
          ASSERT_TRUE(d.collection("docs").remove(std::vector{PointId::number(id)}).is_ok());
          ASSERT_TRUE(d.collection("docs").upsert(points(id, 1, 8)).is_ok());
        }
      }
    });
  }
  for (std::thread& w : writers) w.join();
  done = true;
  snapshotter.join();
  const auto before = contents(d.collection("docs"));
  ASSERT_EQ(before.size(), kThreads * kPerThread);
  d.reopen();
  EXPECT_EQ(contents(d.collection("docs")), before);
}

TEST_P(EngineOnStore, WritesDuringARoundAreCoveredByTheNextWithoutFurtherWrites) {
  // Rounds run by the engine while writers keep writing; once they stop,
  // a round covers the last writes even where they landed while the last
  // round ran (it used to count them as covered and wait for more writes).
  std::unique_ptr<Durable> store = open("rounds_after_writes");
  Durable& d = *store;
  EngineOptions options;
  options.snapshot_wal_bytes = 1;  // a round whenever the log grew
  options.snapshot_interval = std::chrono::seconds(0);
  options.snapshot_poll = std::chrono::milliseconds(5);
  d.reopen_with(options);
  ASSERT_TRUE(d.registry().create({"docs", 64, index::Metric::kDot}).is_ok());
  // Enough points that the rounds take most of the time the writes do.
  ASSERT_TRUE(d.collection("docs").upsert(points(0, 40000, 64)).is_ok());
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
  for (uint64_t i = 0; std::chrono::steady_clock::now() < until; ++i) {
    ASSERT_TRUE(d.collection("docs").upsert(points((i % 100) * 50, 50, 64)).is_ok());
  }
  EXPECT_TRUE(eventually([&] { return d.engine().stats().collections_awaiting_snapshot == 0; },
                         std::chrono::seconds(10)))
      << "the last writes were never covered by a round";
}

// A PostgreSQL role of a test's own, for tests that take PostgreSQL away
// from one store: its store's schema exists before the role connects (so
// that the role owns nothing), and it is dropped at the end.
class OwnRole {
 public:
  explicit OwnRole(const std::string& name)
      : url_(*testing::postgres_url()), role_(testing::unique_name("vesta_role")) {
    { Durable schema(Backend::kPostgres, name + "_schema"); }
    testing::postgres_exec(url_, "CREATE ROLE " + role_ + " LOGIN SUPERUSER");
  }
  ~OwnRole() { testing::postgres_exec(url_, "DROP ROLE " + role_); }
  OwnRole(const OwnRole&) = delete;
  OwnRole& operator=(const OwnRole&) = delete;

  std::string url() const { return testing::with_user(url_, role_); }
  // PostgreSQL "gone" for the role's sessions: it may not log in, they are
  // ended.
  void take_postgres_away() const {
    testing::postgres_exec(url_, "ALTER ROLE " + role_ + " NOLOGIN");
    testing::postgres_exec(
        url_,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '" + role_ + "'");
  }
  void give_postgres_back() const {
    testing::postgres_exec(url_, "ALTER ROLE " + role_ + " LOGIN");
  }

 private:
  std::string url_;
  std::string role_;
};

// PostgresStore only: a round that failed (PostgreSQL gone) runs again once
// the interval has passed, though nothing was written since.
TEST(Engine, ARoundThatFailedWhilePostgresWasGoneRunsAgainWithoutFurtherWrites) {
  VESTA_SKIP_WITHOUT_POSTGRES();
  OwnRole role("retried");
  {
    Durable d(Backend::kPostgres, "retried", role.url());
    ASSERT_TRUE(d.registry().create({"docs", 4, index::Metric::kDot}).is_ok());
    EngineOptions options = rounds_on_request();
    options.snapshot_interval = std::chrono::seconds(1);
    options.snapshot_poll = std::chrono::milliseconds(20);
    d.reopen_with(options);
    ASSERT_TRUE(d.collection("docs").upsert(points(0, 10, 4)).is_ok());
    // PostgreSQL "gone" for this store before the round: it fails.
    role.take_postgres_away();
    ASSERT_TRUE(eventually([&] { return d.engine().stats().snapshot_failures > 0; },
                           std::chrono::seconds(15)));
    EXPECT_EQ(d.engine().stats().collections_awaiting_snapshot, 1u);
    role.give_postgres_back();
    EXPECT_TRUE(eventually([&] { return d.engine().stats().collections_awaiting_snapshot == 0; },
                           std::chrono::seconds(15)))
        << "the failed round was not run again";
    EXPECT_GE(d.engine().stats().snapshots_written, 1u);
  }
}

// PostgresStore only: a write that failed while PostgreSQL was gone. Its
// sequence holds snapshots back only until the store has made it void (the
// next write it accepts shows that); then a snapshot covers everything again
// and the log before it can go.
TEST(Engine, AWriteThatFailedWhilePostgresWasGoneStopsHoldingSnapshotsBack) {
  VESTA_SKIP_WITHOUT_POSTGRES();
  OwnRole role("settled");
  {
    Durable d(Backend::kPostgres, "settled", role.url());
    ASSERT_TRUE(d.registry().create({"docs", 4, index::Metric::kDot}).is_ok());
    ASSERT_TRUE(d.collection("docs").upsert(points(0, 10, 4)).is_ok());

    // PostgreSQL "gone" for this store: its role may not log in, its
    // sessions are ended.
    role.take_postgres_away();
    const core::Status failed = d.collection("docs").upsert(points(100, 10, 4));
    ASSERT_EQ(failed.code(), core::StatusCode::kUnavailable) << failed.to_string();

    role.give_postgres_back();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!d.collection("docs").upsert(points(200, 10, 4)).is_ok()) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the store did not reconnect";
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_TRUE(d.engine().snapshot_all().is_ok());
    // The failed write holds nothing back.
    EXPECT_EQ(d.engine().stats().collections_awaiting_snapshot, 0u);
    const auto before = contents(d.collection("docs"));
    ASSERT_EQ(before.size(), 20u);  // the failed batch was not applied

    d.reopen();
    EXPECT_EQ(d.report().snapshots_loaded, 1u);
    EXPECT_EQ(d.report().points_loaded, 20u);
    // The snapshot covers the write after the failure: nothing to replay.
    EXPECT_EQ(d.report().records_replayed, 0u);
    EXPECT_EQ(contents(d.collection("docs")), before);
  }
}

// FileStore only: its log's torn tail, its directory lock.

TEST(Engine, ATornLogTailIsCutAndEverythingBeforeItRecovered) {
  Durable d(Backend::kFile, "torn");
  ASSERT_TRUE(d.registry().create({"docs", 4, index::Metric::kDot}).is_ok());
  ASSERT_TRUE(d.collection("docs").upsert(points(0, 10, 4)).is_ok());
  std::vector<fs::path> segments;
  for (const auto& e : fs::directory_iterator(d.dir() / "wal")) segments.push_back(e.path());
  std::sort(segments.begin(), segments.end());
  {
    std::ofstream f(segments.back(), std::ios::app | std::ios::binary);
    f << std::string("\x40\x00\x00\x00\x02\x00", 6);  // half a record header
  }
  d.reopen();
  EXPECT_EQ(d.collection("docs").count().value(), 10u);
  ASSERT_TRUE(d.collection("docs").upsert(points(10, 1, 4)).is_ok());
  d.reopen();
  EXPECT_EQ(d.collection("docs").count().value(), 11u);
}

TEST(Engine, ADataDirectoryServesOneProcessAtATime) {
  Durable d(Backend::kFile, "lock");
  persistence::FileStoreOptions options;
  options.dir = d.dir();
  core::Result<std::unique_ptr<persistence::FileStore>> second =
      persistence::FileStore::open(options);
  ASSERT_FALSE(second.is_ok());
  EXPECT_EQ(second.status().code(), core::StatusCode::kConflict);
  EXPECT_NE(second.status().message().find("in use"), std::string::npos);
}

// Operations attached to writes (graph/): durable with their write, rebuilt
// at start whatever the snapshots, kept in the log until delivered, dead
// letters too; every process of a shared workspace sees the same outbox.
TEST_P(EngineOnStore, TheOutboxSurvivesRestartsAndHoldsTheLogUntilDelivered) {
  std::unique_ptr<Durable> store = open("outbox");
  Durable& d = *store;
  ASSERT_TRUE(d.registry().create({"ent", 4, index::Metric::kCosine}).is_ok());
  auto attached = [&](uint64_t id, const std::string& text) {
    index::Collection::AttachedWrite w;
    w.write = index::UpsertPoints{points(id, 1, 4)};
    w.lock_ids = {PointId::number(id)};
    w.attachment = encode_attachment({"ws", 2, text});
    core::Result<uint64_t> seq = d.collection("ent").write_attached(std::move(w));
    EXPECT_TRUE(seq.is_ok()) << seq.status().to_string();
    return seq.is_ok() ? seq.value() : 0;
  };
  const uint64_t a = attached(1, "a");
  const uint64_t b = attached(2, "b");
  const uint64_t c = attached(3, "c");
  ASSERT_TRUE(a < b && b < c);
  std::vector<OutboxEntry> front = d.engine().outbox().front(100);
  ASSERT_EQ(front.size(), 3u);
  EXPECT_EQ(front[1].sequence, b);
  EXPECT_EQ(front[1].item.text, "b");
  EXPECT_EQ(front[1].item.workspace, "ws");
  EXPECT_EQ(d.engine().outbox().front(3).size(), 1u);  // 2 operations each
  EXPECT_EQ(d.engine().outbox().status("ws").pending_operations, 6u);

  OutboxChange change;
  change.delivered = {a};
  change.dead = {{b, "refused: because"}};
  ASSERT_TRUE(d.engine().change_outbox(change).is_ok());
  EXPECT_EQ(d.engine().outbox().wait_delivered(a, std::chrono::milliseconds(0), nullptr),
            Delivery::kDelivered);
  // Snapshots cover every write; the log must still keep b and c.
  for (uint64_t i = 0; i < 20; ++i) {
    ASSERT_TRUE(d.collection("ent").upsert(points(100 + i * 10, 10, 4)).is_ok());
  }
  ASSERT_TRUE(d.engine().snapshot_all().is_ok());
  ASSERT_TRUE(d.engine().snapshot_all().is_ok());
  const auto before = contents(d.collection("ent"));

  d.reopen();
  EXPECT_EQ(contents(d.collection("ent")), before);
  front = d.engine().outbox().front(100);
  ASSERT_EQ(front.size(), 1u);
  EXPECT_EQ(front[0].sequence, c);
  EXPECT_EQ(front[0].item.text, "c");
  ASSERT_EQ(d.engine().outbox().dead_letters().size(), 1u);
  EXPECT_EQ(d.engine().outbox().dead_letters()[0].sequence, b);
  EXPECT_EQ(d.engine().outbox().dead_letters()[0].error, "refused: because");
  EXPECT_EQ(d.engine().outbox().keep_after(), b - 1);

  // Retried and delivered: nothing holds the log any more.
  OutboxChange retry;
  retry.retry = {b};
  ASSERT_TRUE(d.engine().change_outbox(retry).is_ok());
  EXPECT_EQ(d.engine().outbox().front(100).size(), 2u);
  OutboxChange done;
  done.delivered = {b, c};
  ASSERT_TRUE(d.engine().change_outbox(done).is_ok());
  EXPECT_EQ(d.engine().outbox().keep_after(), UINT64_MAX);
  const size_t log_held = d.log_size();
  ASSERT_TRUE(d.collection("ent").upsert(points(900, 1, 4)).is_ok());
  ASSERT_TRUE(d.engine().snapshot_all().is_ok());
  ASSERT_TRUE(d.collection("ent").upsert(points(901, 1, 4)).is_ok());
  ASSERT_TRUE(d.engine().snapshot_all().is_ok());
  EXPECT_LT(d.log_size(), log_held);
  d.reopen();
  EXPECT_TRUE(d.engine().outbox().front(100).empty());
  EXPECT_TRUE(d.engine().outbox().dead_letters().empty());
  EXPECT_TRUE(d.collection("ent").get(PointId::number(3)).value());
}

TEST(WriteCodec, EveryWriteRoundTripsAndDamageIsReported) {
  const index::CollectionConfig config{"docs", 2, index::Metric::kDot, 7};
  index::PayloadUpdate update;
  update.kind = index::PayloadUpdate::Kind::kDeleteKeys;
  update.keys = {"a", "b.c"};
  const std::vector<index::CollectionWrite> writes = {
      index::UpsertPoints{{{PointId::number(1), {0.5f, -2.0f}, json{{"k", "v"}}},
                           {PointId::string("s").value(), {1.0f, 0.0f}, nullptr},
                           {PointId::from_text("5f1c2b1e-7a0b-4c3e-9a2d-1b2c3d4e5f60").value(),
                            {3.0f, 4.0f},
                            json::object()}}},
      index::DeletePoints{{PointId::number(9), PointId::string("x").value()}},
      index::UpdatePayloads{{PointId::number(1)}, update},
      index::CreatePayloadIndex{"city", index::PayloadSchema::kFloat},
      index::DropPayloadIndex{"city"}};
  for (const index::CollectionWrite& write : writes) {
    const std::string record = encode_write(config, write);
    core::Result<DecodedWrite> back = decode_write(record);
    ASSERT_TRUE(back.is_ok()) << back.status().to_string();
    EXPECT_EQ(back.value().collection, "docs");
    EXPECT_EQ(back.value().incarnation, 7u);
    EXPECT_EQ(encode_write(config, back.value().write), record);
    for (size_t cut = 0; cut < record.size(); ++cut) {
      EXPECT_FALSE(decode_write(std::string_view(record).substr(0, cut)).is_ok()) << cut;
    }
  }
  std::string newer = encode_write(config, writes[1]);
  newer[0] = 2;
  EXPECT_EQ(decode_write(newer).status().code(), core::StatusCode::kConflict);
}

TEST(Outbox, WaitersLearnWhatBecameOfTheirRecordAndAreReleasedAtShutdown) {
  Outbox outbox;
  outbox.add(5, {"ws", 3, "five"});
  outbox.add(6, {"other", 1, "six"});
  outbox.add(7, {"ws", 1, "seven"});
  EXPECT_EQ(outbox.status("ws").pending_records, 2u);
  EXPECT_EQ(outbox.status("ws").pending_operations, 4u);
  EXPECT_EQ(outbox.status(std::nullopt).pending_records, 3u);
  EXPECT_EQ(outbox.front(3).size(), 1u);  // 3 operations, then the cap
  EXPECT_EQ(outbox.front(4).size(), 2u);
  EXPECT_EQ(outbox.front(1).size(), 1u);  // at least one, whatever the cap
  EXPECT_EQ(outbox.keep_after(), 4u);

  std::atomic<int> delivered{-1};
  std::thread waiter([&] {
    std::string error;
    delivered = static_cast<int>(outbox.wait_delivered(6, std::chrono::seconds(30), &error));
  });
  OutboxChange change;
  change.delivered = {6, 99};  // 99 is unknown: ignored
  change.dead = {{5, "no"}};
  outbox.apply(change);
  waiter.join();
  EXPECT_EQ(delivered, static_cast<int>(Delivery::kDelivered));
  std::string error;
  EXPECT_EQ(outbox.wait_delivered(5, std::chrono::milliseconds(0), &error), Delivery::kDead);
  EXPECT_EQ(error, "no");
  EXPECT_EQ(outbox.status(std::nullopt).last_delivered, 6u);
  EXPECT_EQ(outbox.keep_after(), 4u);  // the dead letter holds the log

  const auto start = std::chrono::steady_clock::now();
  std::thread held([&] {
    EXPECT_EQ(outbox.wait_delivered(7, std::chrono::seconds(60), nullptr), Delivery::kPending);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  outbox.stop_waiting();
  held.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST(Outbox, AWaiterWhoseCallerGaveUpReturnsAtOnceAndTheRecordStaysPending) {
  Outbox outbox;
  outbox.add(5, {"ws", 1, "five"});
  core::CancellationToken token;
  const auto start = std::chrono::steady_clock::now();
  std::atomic<int> ended{-1};
  std::thread waiter([&] {
    ended = static_cast<int>(outbox.wait_delivered(5, std::chrono::seconds(60), nullptr, &token));
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(ended, -1);  // still waiting
  token.cancel();
  waiter.join();
  EXPECT_EQ(ended, static_cast<int>(Delivery::kCancelled));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_EQ(outbox.status(std::nullopt).waits_cancelled, 1u);
  EXPECT_EQ(outbox.status(std::nullopt).pending_records, 1u);  // delivered later all the same
  // A token that is not set changes nothing: delivery ends the wait.
  core::CancellationToken idle;
  std::thread delivered_waiter([&] {
    EXPECT_EQ(outbox.wait_delivered(5, std::chrono::seconds(60), nullptr, &idle),
              Delivery::kDelivered);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  OutboxChange change;
  change.delivered = {5};
  outbox.apply(change);
  delivered_waiter.join();
  EXPECT_EQ(outbox.status(std::nullopt).waits_cancelled, 1u);
}

TEST(WriteCodec, AttachedWritesAndOutboxRecordsRoundTrip) {
  const index::CollectionConfig config{"ent", 2, index::Metric::kCosine, 3};
  const std::vector<index::CollectionWrite> writes = {
      index::UpsertPoints{{{PointId::string("a").value(), {1.0f, 2.0f}, json{{"k", 1}}}}},
      index::DeletePoints{{PointId::number(4)}}};
  const std::string attachment = encode_attachment({"ws", 7, R"({"un": []})"});
  for (const index::CollectionWrite& write : writes) {
    const std::string record = encode_write(config, write, attachment);
    EXPECT_EQ(record[1], 7);                  // kind: attached
    EXPECT_FALSE(peek_write_header(record));  // decoded in full at recovery
    core::Result<DecodedWrite> back = decode_write(record);
    ASSERT_TRUE(back.is_ok()) << back.status().to_string();
    EXPECT_EQ(back.value().collection, "ent");
    EXPECT_EQ(back.value().incarnation, 3u);
    EXPECT_EQ(back.value().attachment, attachment);
    EXPECT_EQ(encode_write(config, back.value().write, back.value().attachment), record);
    for (size_t cut = 0; cut < record.size(); ++cut) {
      EXPECT_FALSE(decode_write(std::string_view(record).substr(0, cut)).is_ok()) << cut;
    }
    // Without an attachment: the plain record, whose header peeks.
    const std::string plain = encode_write(config, write);
    ASSERT_TRUE(peek_write_header(plain));
    EXPECT_EQ(peek_write_header(plain)->collection, "ent");
    EXPECT_EQ(peek_write_header(plain)->incarnation, 3u);
    EXPECT_TRUE(decode_write(plain).value().attachment.empty());
  }
  core::Result<OutboxItem> item = decode_attachment(attachment);
  ASSERT_TRUE(item.is_ok());
  EXPECT_EQ(item.value().workspace, "ws");
  EXPECT_EQ(item.value().operations, 7u);
  EXPECT_EQ(item.value().text, R"({"un": []})");
  EXPECT_FALSE(decode_attachment("\x05").is_ok());

  OutboxChange change;
  change.delivered = {1, 2};
  change.dead = {{3, "refused"}};
  change.retry = {9};
  const std::string record = encode_outbox_record(change.to_text());
  ASSERT_TRUE(outbox_record_text(record));
  EXPECT_FALSE(catalog_record_text(record));
  EXPECT_FALSE(outbox_record_text(encode_catalog_record("{}")));
  EXPECT_FALSE(decode_write(record).is_ok());
  core::Result<OutboxChange> back = OutboxChange::from_text(*outbox_record_text(record));
  ASSERT_TRUE(back.is_ok());
  EXPECT_EQ(back.value().delivered, change.delivered);
  EXPECT_EQ(back.value().dead, change.dead);
  EXPECT_EQ(back.value().retry, change.retry);
  EXPECT_FALSE(OutboxChange::from_text(R"({"dead": [{"sequence": 1}]})").is_ok());
}

}  // namespace
}  // namespace vesta::engine
