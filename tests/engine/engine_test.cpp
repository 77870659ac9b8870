#include "engine/engine.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "core/thread_pool.h"
#include "engine/write_codec.h"
#include "engine_test_points.h"
#include "index/cpu_searcher.h"
#include "persistence/file_store.h"
#include "test_seed.h"

namespace vesta::engine {
namespace {

namespace fs = std::filesystem;
using core::PointId;
using nlohmann::json;

fs::path scratch_dir(const std::string& name) {
  fs::path dir =
      fs::temp_directory_path() / ("vesta-engine-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  return dir;
}

// One process's worth of durable state over a data directory: reopen() is
// a restart (everything in memory is rebuilt from the files).
class Durable {
 public:
  explicit Durable(fs::path dir, uint64_t segment_bytes = 64ull << 20) {
    options_.dir = std::move(dir);
    options_.wal.segment_bytes = segment_bytes;
    reopen();
  }
  void reopen() {
    engine_.reset();
    store_.reset();
    core::Result<std::unique_ptr<persistence::FileStore>> store =
        persistence::FileStore::open(options_);
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
  const fs::path& dir() const { return options_.dir; }

 private:
  persistence::FileStoreOptions options_;
  core::ThreadPool pool_{2};
  core::LockManager locks_;
  index::CpuSearcher searcher_{pool_};
  std::unique_ptr<persistence::FileStore> store_;
  std::unique_ptr<Engine> engine_;
  RecoveryReport report_;
};

using test_data::contents;
using test_data::points;

TEST(Engine, EveryKindOfWriteSurvivesARestart) {
  Durable d(scratch_dir("kinds"));
  ASSERT_TRUE(d.registry().create({"docs", 8, index::Metric::kCosine}).is_ok());
  ASSERT_TRUE(d.registry().create({"other", 3, index::Metric::kEuclid}).is_ok());
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
}

TEST(Engine, SnapshotsTruncateTheLogAndRecoveryReplaysOnlyWhatFollows) {
  Durable d(scratch_dir("snapshot"), /*segment_bytes=*/4096);
  ASSERT_TRUE(d.registry().create({"docs", 16, index::Metric::kDot}).is_ok());
  for (uint64_t b = 0; b < 20; ++b)
    ASSERT_TRUE(d.collection("docs").upsert(points(b * 10, 10, 16)).is_ok());
  const size_t segments_before = std::distance(fs::directory_iterator(d.dir() / "wal"), {});
  ASSERT_TRUE(d.engine().snapshot_all().is_ok());
  ASSERT_TRUE(d.collection("docs").upsert(points(1000, 5, 16)).is_ok());
  ASSERT_TRUE(d.engine().snapshot_all().is_ok());  // the second: the first's log can go
  ASSERT_TRUE(d.collection("docs").upsert(points(2000, 5, 16)).is_ok());
  const size_t segments_after = std::distance(fs::directory_iterator(d.dir() / "wal"), {});
  EXPECT_LT(segments_after, segments_before);
  const auto before = contents(d.collection("docs"));

  d.reopen();
  EXPECT_EQ(d.report().snapshots_loaded, 1u);
  EXPECT_EQ(d.report().points_loaded, 205u);
  EXPECT_EQ(d.report().records_replayed, 1u);  // only the upsert after the last snapshot
  EXPECT_EQ(contents(d.collection("docs")), before);
}

TEST(Engine, ADamagedNewestSnapshotFallsBackToTheOlderOneAndTheLog) {
  Durable d(scratch_dir("fallback"), /*segment_bytes=*/4096);
  ASSERT_TRUE(d.registry().create({"docs", 4, index::Metric::kDot}).is_ok());
  ASSERT_TRUE(d.collection("docs").upsert(points(0, 50, 4)).is_ok());
  ASSERT_TRUE(d.engine().snapshot_all().is_ok());
  ASSERT_TRUE(d.collection("docs").upsert(points(100, 50, 4)).is_ok());
  ASSERT_TRUE(d.engine().snapshot_all().is_ok());
  ASSERT_TRUE(d.collection("docs").remove(std::vector{PointId::number(0)}).is_ok());
  const auto before = contents(d.collection("docs"));

  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(d.dir() / "snapshots" / "c-docs"))
    files.push_back(e.path());
  ASSERT_EQ(files.size(), 2u);
  std::sort(files.begin(), files.end());
  {
    std::fstream f(files.back(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(files.back()) / 2));
    f.put('\x5a');
  }
  d.reopen();
  EXPECT_EQ(d.report().snapshots_loaded, 1u);
  EXPECT_EQ(d.report().points_loaded, 50u);  // the older snapshot
  EXPECT_EQ(contents(d.collection("docs")), before);
}

TEST(Engine, ARecreatedCollectionNeverReplaysTheWritesOfTheDroppedOne) {
  Durable d(scratch_dir("recreate"));
  ASSERT_TRUE(d.registry().create({"docs", 4, index::Metric::kDot}).is_ok());
  ASSERT_TRUE(d.collection("docs").upsert(points(0, 10, 4)).is_ok());
  ASSERT_TRUE(d.engine().snapshot_all().is_ok());
  ASSERT_TRUE(d.registry().drop("docs").value());
  EXPECT_FALSE(fs::exists(d.dir() / "snapshots" / "c-docs"));
  ASSERT_TRUE(d.registry().create({"docs", 6, index::Metric::kCosine}).is_ok());
  ASSERT_TRUE(d.collection("docs").upsert(points(100, 3, 6)).is_ok());

  d.reopen();
  EXPECT_EQ(d.collection("docs").config().dim, 6u);
  EXPECT_EQ(d.collection("docs").count().value(), 3u);
  EXPECT_EQ(d.report().records_replayed, 1u);
  EXPECT_EQ(d.report().records_skipped, 1u);
}

TEST(Engine, ATornLogTailIsCutAndEverythingBeforeItRecovered) {
  Durable d(scratch_dir("torn"));
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

TEST(Engine, ConcurrentWritersDuringSnapshotRoundsLoseNothing) {
  // Writers of different points may apply out of log order; a snapshot taken
  // between them must not claim a position it does not hold.
  const uint64_t seed = testing::test_seed("Engine.ConcurrentWritersDuringSnapshotRounds");
  Durable d(scratch_dir("concurrent"), /*segment_bytes=*/16384);
  ASSERT_TRUE(d.registry().create({"docs", 8, index::Metric::kEuclid}).is_ok());
  constexpr int kThreads = 4;
  constexpr uint64_t kPerThread = 150;
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

TEST(Engine, ADataDirectoryServesOneProcessAtATime) {
  Durable d(scratch_dir("lock"));
  persistence::FileStoreOptions options;
  options.dir = d.dir();
  core::Result<std::unique_ptr<persistence::FileStore>> second =
      persistence::FileStore::open(options);
  ASSERT_FALSE(second.is_ok());
  EXPECT_EQ(second.status().code(), core::StatusCode::kConflict);
  EXPECT_NE(second.status().message().find("in use"), std::string::npos);
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

}  // namespace
}  // namespace vesta::engine
