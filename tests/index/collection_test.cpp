#include "index/collection.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <thread>

#include "core/float16.h"
#include "index/cpu_searcher.h"

namespace vesta::index {
namespace {

using core::PointId;

class CollectionTest : public ::testing::Test {
 protected:
  Collection make(size_t dim, Metric metric) {
    return Collection({"docs", dim, metric}, locks_, searcher_);
  }
  core::ThreadPool pool_{2};
  core::LockManager locks_;
  CpuSearcher searcher_{pool_};
};

TEST_F(CollectionTest, UpsertGetSearchRemove) {
  Collection c = make(2, Metric::kDot);
  ASSERT_TRUE(c.upsert({{PointId::number(1), {1, 0}, {{"t", "a"}}},
                        {PointId::string("b").value(), {0, 1}, {{"t", "b"}}}})
                  .is_ok());
  EXPECT_EQ(c.count().value(), 2u);
  const auto got = c.get(PointId::string("b").value()).value();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->payload["t"], "b");
  EXPECT_EQ(got->vector, (std::vector<float>{0, 1}));

  SearchParams params;
  params.limit = 1;
  params.with_payload = true;
  const std::vector<ScoredPoint> hits = c.search(std::vector<float>{0.2f, 0.9f}, params).value();
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].id, PointId::string("b").value());
  EXPECT_FLOAT_EQ(hits[0].score, 0.9f);
  EXPECT_EQ(hits[0].payload["t"], "b");
  EXPECT_TRUE(hits[0].vector.empty());

  const std::vector<PointId> ids{PointId::number(1), PointId::number(99)};
  EXPECT_EQ(c.remove(ids).value(), 1u);
  EXPECT_EQ(c.count().value(), 1u);
  EXPECT_FALSE(c.get(PointId::number(1)).value().has_value());
}

TEST_F(CollectionTest, ScoresFollowQdrantConventions) {
  Collection euclid = make(2, Metric::kEuclid);
  ASSERT_TRUE(
      euclid.upsert({{PointId::number(1), {3, 4}, nullptr}, {PointId::number(2), {1, 1}, nullptr}})
          .is_ok());
  SearchParams params;
  const auto e = euclid.search(std::vector<float>{0, 0}, params).value();
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].id, PointId::number(2));  // lower distance first
  EXPECT_NEAR(e[0].score, std::sqrt(2.0f), 1e-3f);
  EXPECT_NEAR(e[1].score, 5.0f, 1e-3f);

  Collection cosine = make(2, Metric::kCosine);
  ASSERT_TRUE(
      cosine.upsert({{PointId::number(1), {10, 0}, nullptr}, {PointId::number(2), {1, 1}, nullptr}})
          .is_ok());
  const auto s = cosine.search(std::vector<float>{5, 0}, params).value();
  EXPECT_EQ(s[0].id, PointId::number(1));
  EXPECT_NEAR(s[0].score, 1.0f, 1e-3f);
  EXPECT_NEAR(s[1].score, std::sqrt(0.5f), 1e-3f);
}

TEST_F(CollectionTest, ARejectedBatchChangesNothing) {
  Collection c = make(2, Metric::kDot);
  core::Status s =
      c.upsert({{PointId::number(1), {1, 0}, nullptr}, {PointId::number(2), {1, NAN}, nullptr}});
  EXPECT_EQ(s.code(), core::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("point 2 (points[1])"), std::string::npos) << s.message();
  EXPECT_EQ(c.count().value(), 0u);

  s = c.upsert({{PointId::number(3), {1, 0, 0}, nullptr}});
  EXPECT_NE(s.message().find("has 3 values, expected 2"), std::string::npos) << s.message();
  s = c.upsert({{PointId::number(4), {1, 0}, nlohmann::json::array({1})}});
  EXPECT_NE(s.message().find("must be a JSON object"), std::string::npos) << s.message();
  EXPECT_EQ(c.count().value(), 0u);
}

TEST_F(CollectionTest, SearchValidatesLimitAndQuery) {
  Collection c = make(2, Metric::kDot);
  SearchParams params;
  params.limit = 1025;
  EXPECT_EQ(c.search(std::vector<float>{1, 1}, params).status().code(),
            core::StatusCode::kInvalidArgument);
  params.limit = 10;
  EXPECT_NE(c.search(std::vector<float>{1}, params).status().message().find("expected 1 x 2"),
            std::string::npos);
  EXPECT_NE(c.search(std::vector<float>{1, INFINITY}, params).status().message().find("query 0"),
            std::string::npos);
  params.limit = 0;
  EXPECT_TRUE(c.search(std::vector<float>{1, 1}, params).value().empty());
}

TEST_F(CollectionTest, FilterRestrictsResultsAndBatchKeepsQueryOrder) {
  Collection c = make(1, Metric::kDot);
  std::vector<PointWrite> points;
  for (uint64_t i = 1; i <= 100; ++i) {
    points.push_back({PointId::number(i), {static_cast<float>(i)}, {{"even", i % 2 == 0}}});
  }
  ASSERT_TRUE(c.upsert(std::move(points)).is_ok());
  SearchParams params;
  params.limit = 3;
  params.filter = [](const PointId&, const nlohmann::json& payload) {
    return payload.value("even", false);
  };
  const auto batch = c.search_batch(std::vector<float>{1, -1}, 2, params).value();
  ASSERT_EQ(batch.size(), 2u);
  EXPECT_EQ(batch[0][0].id, PointId::number(100));
  EXPECT_EQ(batch[0][1].id, PointId::number(98));
  EXPECT_EQ(batch[1][0].id, PointId::number(2));
  EXPECT_EQ(batch[1][2].id, PointId::number(6));
}

TEST_F(CollectionTest, ManyDeletesTriggerCompactionWithoutLosingPoints) {
  Collection c = make(1, Metric::kDot);
  std::vector<PointWrite> points;
  for (uint64_t i = 0; i < 5000; ++i) points.push_back({PointId::number(i), {1.0f}, nullptr});
  ASSERT_TRUE(c.upsert(std::move(points)).is_ok());
  std::vector<PointId> doomed;
  for (uint64_t i = 0; i < 5000; i += 2) doomed.push_back(PointId::number(i));
  EXPECT_EQ(c.remove(doomed).value(), 2500u);
  EXPECT_EQ(c.compact().value(), 0u);  // already compacted by remove()
  EXPECT_EQ(c.count().value(), 2500u);
  EXPECT_TRUE(c.get(PointId::number(4999)).value().has_value());
  EXPECT_FALSE(c.get(PointId::number(4998)).value().has_value());
}

// Searches on the CPU and records what the collection tells it of changes.
class RecordingSearcher final : public Searcher {
 public:
  explicit RecordingSearcher(Searcher& inner) : inner_(inner) {}
  std::string_view name() const override { return "recording"; }
  core::Result<SearchHits> search(const FlatIndex& index, const SearchRequest& request) override {
    return inner_.search(index, request);
  }
  void index_changed(const FlatIndex& index) override {
    rows_seen.push_back(index.row_count());
    live_seen.push_back(index.live_count());
  }
  std::vector<size_t> rows_seen;  // row_count() at each call
  std::vector<size_t> live_seen;  // live_count() at each call

 private:
  Searcher& inner_;
};

// Points 0 .. n - 1 of a dim-1 collection, each [1].
void upsert_ones(Collection& c, uint64_t n) {
  std::vector<PointWrite> points;
  for (uint64_t i = 0; i < n; ++i) points.push_back({PointId::number(i), {1.0f}, nullptr});
  ASSERT_TRUE(c.upsert(std::move(points)).is_ok());
}

TEST_F(CollectionTest, EveryChangeTellsTheSearcherAfterItApplied) {
  RecordingSearcher recording(searcher_);
  Collection c({"docs", 1, Metric::kDot}, locks_, recording);
  upsert_ones(c, 3000);
  ASSERT_EQ(recording.rows_seen, (std::vector<size_t>{3000}));

  ASSERT_EQ(c.remove(std::vector<PointId>{PointId::number(7)}).value(), 1u);
  ASSERT_EQ(recording.live_seen.back(), 2999u);
  ASSERT_EQ(c.update_payloads(std::vector<PointId>{PointId::number(8)},
                              PayloadUpdate{PayloadUpdate::Kind::kSet, {{"t", 1}}, {}})
                .value(),
            1u);
  EXPECT_EQ(recording.rows_seen.size(), 3u);
  EXPECT_EQ(c.compact().value(), 1u);
  ASSERT_EQ(recording.rows_seen.size(), 4u);
  EXPECT_EQ(recording.rows_seen.back(), 2999u);  // told after the rows moved

  CollectionSnapshot snapshot = c.snapshot().value();
  RecordingSearcher fresh(searcher_);
  Collection restored({"docs", 1, Metric::kDot}, locks_, fresh);
  ASSERT_TRUE(restored.restore(std::move(snapshot)).is_ok());
  EXPECT_EQ(fresh.rows_seen, (std::vector<size_t>{2999}));
}

TEST_F(CollectionTest, ConcurrentSearchesAndWritesSeeWholePoints) {
  // Each writer rewrites its own point with a vector whose two halves are
  // equal; a reader must never see a torn vector.
  Collection c = make(8, Metric::kDot);
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < 2; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; !stop; ++i) {
        const float x = static_cast<float>(i % 100);
        ASSERT_TRUE(c.upsert({{PointId::number(static_cast<uint64_t>(w)), std::vector<float>(8, x),
                               nullptr}})
                        .is_ok());
      }
    });
  }
  SearchParams params;
  params.with_vector = true;
  for (int i = 0; i < 300; ++i) {
    const auto hits = c.search(std::vector<float>(8, 1.0f), params).value();
    for (const ScoredPoint& p : hits) {
      ASSERT_EQ(p.vector, std::vector<float>(8, p.vector[0]));
    }
  }
  stop = true;
  for (std::thread& t : writers) t.join();
}

TEST_F(CollectionTest, ASnapshotTakenDuringWritesHoldsWholePointsAndTheirPayloadsAsText) {
  // Rows and payload pointers are taken under the lock, the payloads written
  // out as text after it: each point's payload must still be the one written
  // with its vector.
  Collection c = make(4, Metric::kDot);
  const PointId named = PointId::string("s").value();
  std::vector<PointWrite> fixed;
  fixed.push_back({PointId::number(100), {1, 2, 3, 4}, nullptr});
  fixed.push_back({named, {1, 1, 1, 1}, nlohmann::json{{"k", "v"}}});
  ASSERT_TRUE(c.upsert(std::move(fixed)).is_ok());
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < 2; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; !stop; ++i) {
        const int x = i % 1000;
        const auto value = static_cast<float>(x);
        std::vector<PointWrite> points;
        for (uint64_t p = 0; p < 50; ++p) {
          points.push_back({PointId::number(static_cast<uint64_t>(w) * 50 + p),
                            std::vector<float>(4, value), nlohmann::json{{"x", x}}});
        }
        ASSERT_TRUE(c.upsert(std::move(points)).is_ok());
        if (i % 7 == 0) {
          ASSERT_TRUE(c.update_payloads(
                           std::vector<PointId>{PointId::number(static_cast<uint64_t>(w) * 50)},
                           PayloadUpdate{PayloadUpdate::Kind::kSet, {{"x", x}}, {}})
                          .is_ok());
        }
      }
    });
  }
  for (int round = 0; round < 30; ++round) {
    const CollectionSnapshot snapshot = c.snapshot().value();
    ASSERT_EQ(snapshot.payloads.size(), snapshot.ids.size());
    ASSERT_EQ(snapshot.rows.size(), snapshot.ids.size() * 4);
    for (size_t i = 0; i < snapshot.ids.size(); ++i) {
      const PointId& id = snapshot.ids[i];
      if (id == PointId::number(100)) {
        EXPECT_EQ(snapshot.payloads[i], "");  // no payload
        continue;
      }
      if (id == named) {
        EXPECT_EQ(snapshot.payloads[i], R"({"k":"v"})");
        continue;
      }
      const nlohmann::json payload = nlohmann::json::parse(snapshot.payloads[i]);
      const float value = core::half_to_float(snapshot.rows[i * 4]);
      ASSERT_EQ(payload["x"].get<int>(), static_cast<int>(value)) << "point " << id.to_string();
      for (size_t d = 1; d < 4; ++d) ASSERT_EQ(snapshot.rows[i * 4 + d], snapshot.rows[i * 4]);
    }
  }
  stop = true;
  for (std::thread& t : writers) t.join();
}

TEST_F(CollectionTest, AFrozenCollectionReadsThePointsAsTheyWereWhenFrozenInGroups) {
  Collection c = make(2, Metric::kDot);
  std::vector<PointWrite> points;
  for (uint64_t i = 0; i < 10; ++i) {
    points.push_back({PointId::number(i),
                      {static_cast<float>(i), 0.0f},
                      i % 2 == 0 ? nlohmann::json{{"i", i}} : nlohmann::json()});
  }
  ASSERT_TRUE(c.upsert(std::move(points)).is_ok());
  ASSERT_EQ(c.remove(std::vector<PointId>{PointId::number(9)}).value(), 1u);
  ASSERT_TRUE(c.create_payload_index("i", PayloadSchema::kInteger).is_ok());
  std::unique_ptr<FrozenCollection> frozen = c.freeze().value();
  EXPECT_EQ(frozen->count(), 9u);
  EXPECT_EQ(frozen->payload_indexes().size(), 1u);
  std::vector<PointId> ids;
  core::HalfVector rows;
  std::vector<std::shared_ptr<const nlohmann::json>> payloads;
  std::vector<PointId> all_ids;
  std::vector<float> firsts;
  std::vector<nlohmann::json> all_payloads;
  auto take = [&] {
    for (size_t i = 0; i < ids.size(); ++i) {
      all_ids.push_back(ids[i]);
      firsts.push_back(core::half_to_float(rows[i * 2]));
      all_payloads.push_back(payloads[i] != nullptr ? *payloads[i] : nlohmann::json());
    }
    ids.clear();  // read() appends
    rows.clear();
    payloads.clear();
  };
  ASSERT_TRUE(frozen->read(4, &ids, &rows, &payloads).is_ok());
  take();
  // Writes between the groups, to points read and not yet read; searches
  // and writes go on while the view lives.
  std::vector<PointWrite> changes;
  changes.push_back({PointId::number(1), {100, 0}, nlohmann::json{{"i", 100}}});
  changes.push_back({PointId::number(6), {600, 0}, nlohmann::json{{"i", 600}}});
  changes.push_back({PointId::number(42), {42, 0}, nullptr});
  ASSERT_TRUE(c.upsert(std::move(changes)).is_ok());
  ASSERT_EQ(c.remove(std::vector<PointId>{PointId::number(7), PointId::number(0)}).value(), 2u);
  ASSERT_EQ(c.update_payloads(std::vector<PointId>{PointId::number(8)},
                              PayloadUpdate{PayloadUpdate::Kind::kSet, {{"x", 1}}, {}})
                .value(),
            1u);
  EXPECT_EQ(c.search(std::vector<float>{1.0f, 0.0f}, SearchParams{}).value().front().id,
            PointId::number(6));
  EXPECT_GE(frozen->before_images(), 4u);
  ASSERT_TRUE(frozen->read(4, &ids, &rows, &payloads).is_ok());
  take();
  ASSERT_TRUE(frozen->read(4, &ids, &rows, &payloads).is_ok());
  EXPECT_EQ(ids.size(), 1u);  // what was left
  take();
  EXPECT_EQ(frozen->points_read(), 9u);
  std::vector<PointId> expected_ids;
  std::vector<float> expected_firsts;
  std::vector<nlohmann::json> expected_payloads;
  for (uint64_t i = 0; i < 9; ++i) {
    expected_ids.push_back(PointId::number(i));
    expected_firsts.push_back(static_cast<float>(i));
    expected_payloads.push_back(i % 2 == 0 ? nlohmann::json{{"i", i}} : nlohmann::json());
  }
  EXPECT_EQ(all_ids, expected_ids);
  EXPECT_EQ(firsts, expected_firsts);
  EXPECT_EQ(all_payloads, expected_payloads);
  frozen.reset();
  // Released: the collection shows the writes, and a new view sees them.
  EXPECT_EQ(c.count().value(), 8u);
  EXPECT_EQ(c.freeze().value()->count(), 8u);
  EXPECT_EQ(c.snapshot().value().ids.size(), 8u);
}

TEST_F(CollectionTest, ACompactionTheFrozenViewHeldBackRunsWhenItIsReleased) {
  RecordingSearcher recording(searcher_);
  Collection c({"docs", 1, Metric::kDot}, locks_, recording);
  upsert_ones(c, 3000);
  std::unique_ptr<FrozenCollection> frozen = c.freeze().value();
  std::vector<PointId> gone;
  for (uint64_t i = 0; i < 2000; ++i) gone.push_back(PointId::number(i));
  ASSERT_EQ(c.remove(gone).value(), 2000u);
  EXPECT_EQ(c.compact().value(), 0u);  // row numbers stay while the view lives
  EXPECT_EQ(recording.rows_seen.back(), 3000u);
  EXPECT_EQ(frozen->count(), 3000u);
  frozen.reset();
  EXPECT_EQ(recording.rows_seen.back(), 1000u);  // compacted, and the searcher told
  EXPECT_EQ(c.count().value(), 1000u);
  EXPECT_EQ(c.freeze().value()->count(), 1000u);
}

}  // namespace
}  // namespace vesta::index
