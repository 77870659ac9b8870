// Engine scenarios of engine_test.cpp over a PostgresStore (a real server:
// $VESTA_TEST_POSTGRES_URL; skipped, saying why, without one). Each test has
// a workspace of its own.

#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/thread_pool.h"
#include "engine/engine.h"
#include "engine_test_points.h"
#include "index/cpu_searcher.h"
#include "persistence/postgres_store.h"
#include "postgres_test_db.h"
#include "test_seed.h"

namespace vesta::engine {
namespace {

using core::PointId;
using nlohmann::json;
using test_data::contents;
using test_data::points;

// One process's worth of durable state in a workspace: reopen() is a restart.
class DurableOnPostgres {
 public:
  explicit DurableOnPostgres(const std::string& stem) {
    options_.uri = *testing::postgres_url();
    options_.workspace = testing::unique_name(stem);
    options_.snapshot_chunk_bytes = 4096;  // several chunk rows per snapshot
    reopen();
  }
  void reopen() {
    engine_.reset();
    store_.reset();
    core::Result<std::unique_ptr<persistence::PostgresStore>> store =
        persistence::PostgresStore::open(options_);
    ASSERT_TRUE(store.is_ok()) << store.status().to_string();
    store_ = std::move(store).value();
    EngineOptions options;
    options.snapshot_wal_bytes = 0;  // rounds only when a test asks
    options.snapshot_interval = std::chrono::seconds(0);
    core::Result<std::unique_ptr<Engine>> engine =
        Engine::open(*store_, locks_, searcher_, {}, options, &report_);
    ASSERT_TRUE(engine.is_ok()) << engine.status().to_string();
    engine_ = std::move(engine).value();
  }
  index::CollectionRegistry& registry() { return engine_->registry(); }
  index::Collection& collection(const std::string& name) {
    return *engine_->registry().get(name).value();
  }
  Engine& engine() { return *engine_; }
  const RecoveryReport& report() const { return report_; }
  // Runs `sql` with $WS replaced by the quoted workspace.
  pqxx::result sql(std::string text) const {
    for (size_t at = text.find("$WS"); at != std::string::npos; at = text.find("$WS")) {
      text.replace(at, 3, "'" + options_.workspace + "'");
    }
    return testing::postgres_exec(options_.uri, text);
  }

 private:
  persistence::PostgresStoreOptions options_;
  core::ThreadPool pool_{2};
  core::LockManager locks_;
  index::CpuSearcher searcher_{pool_};
  std::unique_ptr<persistence::PostgresStore> store_;
  std::unique_ptr<Engine> engine_;
  RecoveryReport report_;
};

TEST(EngineOnPostgres, EveryKindOfWriteSurvivesARestart) {
  VESTA_SKIP_WITHOUT_POSTGRES();
  DurableOnPostgres d("engine_kinds");
  ASSERT_TRUE(d.registry().create({"docs", 8, index::Metric::kCosine}).is_ok());
  ASSERT_TRUE(d.registry().create({"other", 3, index::Metric::kEuclid}).is_ok());
  index::Collection& docs = d.collection("docs");
  ASSERT_TRUE(docs.upsert(points(0, 100, 8)).is_ok());
  ASSERT_TRUE(docs.upsert(points(50, 10, 8)).is_ok());
  ASSERT_EQ(docs.remove(std::vector{PointId::number(3), PointId::number(4)}).value(), 2u);
  index::PayloadUpdate set;
  set.payload = json{{"city", "Oslo"}};
  ASSERT_EQ(docs.update_payloads(std::vector{PointId::number(7)}, set).value(), 1u);
  ASSERT_TRUE(docs.create_payload_index("city", index::PayloadSchema::kKeyword).is_ok());
  ASSERT_TRUE(d.collection("other").upsert({{PointId::string("x").value(), {1, 2, 3}}}).is_ok());
  ASSERT_TRUE(d.registry().update_aliases({index::CreateAlias{"docs", "live"}}).is_ok());
  const auto before = contents(docs);
  ASSERT_EQ(before.size(), 98u);

  d.reopen();
  EXPECT_EQ(d.report().collections, 2u);
  EXPECT_EQ(contents(d.collection("docs")), before);  // vectors bit for bit
  EXPECT_EQ(d.collection("docs").get(PointId::number(7)).value()->payload["city"], "Oslo");
  EXPECT_EQ(d.collection("docs").payload_schema().value().count("city"), 1u);
  EXPECT_EQ(d.collection("other").count().value(), 1u);
  EXPECT_EQ(d.registry().aliases(), (std::vector<index::Alias>{{"live", "docs"}}));
}

TEST(EngineOnPostgres, SnapshotsTruncateTheLogAndRecoveryReplaysOnlyWhatFollows) {
  VESTA_SKIP_WITHOUT_POSTGRES();
  DurableOnPostgres d("engine_snapshot");
  ASSERT_TRUE(d.registry().create({"docs", 16, index::Metric::kDot}).is_ok());
  for (uint64_t b = 0; b < 20; ++b) {
    ASSERT_TRUE(d.collection("docs").upsert(points(b * 10, 10, 16)).is_ok());
  }
  ASSERT_TRUE(d.engine().snapshot_all().is_ok());
  ASSERT_TRUE(d.collection("docs").upsert(points(1000, 5, 16)).is_ok());
  ASSERT_TRUE(d.engine().snapshot_all().is_ok());  // the second: the first's log can go
  ASSERT_TRUE(d.collection("docs").upsert(points(2000, 5, 16)).is_ok());
  EXPECT_LE(d.sql("SELECT count(*) FROM vesta_wal WHERE workspace = $WS")[0][0].as<int>(), 3);
  const auto before = contents(d.collection("docs"));

  d.reopen();
  EXPECT_EQ(d.report().snapshots_loaded, 1u);
  EXPECT_EQ(d.report().points_loaded, 205u);
  EXPECT_EQ(d.report().records_replayed, 1u);  // only the upsert after the last snapshot
  EXPECT_EQ(contents(d.collection("docs")), before);
}

TEST(EngineOnPostgres, ADamagedNewestSnapshotFallsBackToTheOlderOneAndTheLog) {
  VESTA_SKIP_WITHOUT_POSTGRES();
  DurableOnPostgres d("engine_fallback");
  ASSERT_TRUE(d.registry().create({"docs", 4, index::Metric::kDot}).is_ok());
  ASSERT_TRUE(d.collection("docs").upsert(points(0, 50, 4)).is_ok());
  ASSERT_TRUE(d.engine().snapshot_all().is_ok());
  ASSERT_TRUE(d.collection("docs").upsert(points(100, 50, 4)).is_ok());
  ASSERT_TRUE(d.engine().snapshot_all().is_ok());
  ASSERT_TRUE(d.collection("docs").remove(std::vector{PointId::number(0)}).is_ok());
  const auto before = contents(d.collection("docs"));
  ASSERT_EQ(d.sql("SELECT count(*) FROM vesta_snapshots WHERE workspace = $WS")[0][0].as<int>(), 2);
  // One byte of the newest snapshot's first chunk row, flipped.
  d.sql(
      "UPDATE vesta_snapshot_chunks SET bytes = set_byte(bytes, 40, get_byte(bytes, 40) # 165) "
      "WHERE workspace = $WS AND chunk = 0 AND wal_sequence = (SELECT max(wal_sequence) FROM "
      "vesta_snapshots WHERE workspace = $WS)");
  d.reopen();
  EXPECT_EQ(d.report().snapshots_loaded, 1u);
  EXPECT_EQ(d.report().points_loaded, 50u);  // the older snapshot
  EXPECT_EQ(contents(d.collection("docs")), before);
}

TEST(EngineOnPostgres, ARecreatedCollectionNeverReplaysTheWritesOfTheDroppedOne) {
  VESTA_SKIP_WITHOUT_POSTGRES();
  DurableOnPostgres d("engine_recreate");
  ASSERT_TRUE(d.registry().create({"docs", 4, index::Metric::kDot}).is_ok());
  ASSERT_TRUE(d.collection("docs").upsert(points(0, 10, 4)).is_ok());
  ASSERT_TRUE(d.engine().snapshot_all().is_ok());
  ASSERT_TRUE(d.registry().drop("docs").value());
  EXPECT_EQ(d.sql("SELECT count(*) FROM vesta_snapshots WHERE workspace = $WS")[0][0].as<int>(), 0);
  ASSERT_TRUE(d.registry().create({"docs", 6, index::Metric::kCosine}).is_ok());
  ASSERT_TRUE(d.collection("docs").upsert(points(100, 3, 6)).is_ok());

  d.reopen();
  EXPECT_EQ(d.collection("docs").config().dim, 6u);
  EXPECT_EQ(d.collection("docs").count().value(), 3u);
  EXPECT_EQ(d.report().records_replayed, 1u);
  EXPECT_EQ(d.report().records_skipped, 1u);
}

TEST(EngineOnPostgres, ConcurrentWritersDuringSnapshotRoundsLoseNothing) {
  VESTA_SKIP_WITHOUT_POSTGRES();
  const uint64_t seed =
      testing::test_seed("EngineOnPostgres.ConcurrentWritersDuringSnapshotRounds");
  DurableOnPostgres d("engine_concurrent");
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

}  // namespace
}  // namespace vesta::engine
