#include "index/flat_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/default_init_allocator.h"
#include "core/float16.h"
#include "test_seed.h"

namespace vesta::index {
namespace {

using core::PointId;

std::vector<float> vec(std::initializer_list<float> v) { return v; }

// Checks the documented invariant: every live row maps back to itself.
void expect_consistent(const FlatIndex& index) {
  size_t live = 0;
  for (uint64_t r = 0; r < index.row_count(); ++r) {
    if (!index.is_live(r)) continue;
    ++live;
    ASSERT_EQ(index.find_row(index.row_id(r)), r);
  }
  ASSERT_EQ(live, index.live_count());
}

TEST(FlatIndex, UpsertStoresFloat16RowsWithZeroPadding) {
  FlatIndex index(3, Metric::kDot);
  EXPECT_EQ(index.stride(), 16u);
  index.upsert(PointId::number(1), vec({1.0f, 0.1f, -2.5f}), nullptr);
  EXPECT_EQ(index.row_vector(0), vec({1.0f, 0.0999755859375f, -2.5f}));  // 0.1 in float16
  for (size_t i = 3; i < index.stride(); ++i) EXPECT_EQ(index.rows()[i], 0u);
}

TEST(FlatIndex, CosineVectorsAreNormalisedAtInsert) {
  FlatIndex index(2, Metric::kCosine);
  index.upsert(PointId::number(1), vec({3.0f, 4.0f}), nullptr);
  index.upsert(PointId::number(2), vec({0.0f, 0.0f}), nullptr);
  const std::vector<float> v = index.row_vector(0);
  EXPECT_NEAR(v[0], 0.6f, 1e-3f);
  EXPECT_NEAR(v[1], 0.8f, 1e-3f);
  EXPECT_EQ(index.row_vector(1), vec({0.0f, 0.0f}));  // zero stays zero, never NaN
}

TEST(FlatIndex, OverwriteRewritesTheRowInPlace) {
  FlatIndex index(2, Metric::kDot);
  index.upsert(PointId::number(7), vec({1, 1}), nlohmann::json{{"a", 1}});
  index.upsert(PointId::number(7), vec({2, 2}), nlohmann::json{{"a", 2}});
  EXPECT_EQ(index.row_count(), 1u);
  EXPECT_EQ(index.live_count(), 1u);
  EXPECT_EQ(index.row_vector(0), vec({2, 2}));
  EXPECT_EQ(index.row_payload(0)["a"], 2);
}

TEST(FlatIndex, DeleteThenUpsertReusesNoStaleRow) {
  FlatIndex index(2, Metric::kDot);
  index.upsert(PointId::number(1), vec({1, 1}), nlohmann::json{{"v", "old"}});
  ASSERT_TRUE(index.remove(PointId::number(1)));
  EXPECT_FALSE(index.is_live(0));
  EXPECT_EQ(index.find_row(PointId::number(1)), std::nullopt);
  index.upsert(PointId::number(1), vec({3, 3}), nlohmann::json{{"v", "new"}});
  const uint64_t row = *index.find_row(PointId::number(1));
  EXPECT_EQ(row, 1u);
  EXPECT_TRUE(index.is_live(row));
  EXPECT_FALSE(index.is_live(0));
  EXPECT_EQ(index.row_vector(row), vec({3, 3}));
  EXPECT_EQ(index.row_payload(row)["v"], "new");
  EXPECT_EQ(index.tombstone_count(), 1u);
  expect_consistent(index);
}

TEST(FlatIndex, ASharedPayloadNeverChangesWhateverIsWrittenAfter) {
  // Snapshots copy the payloads' pointers under the lock and read them after.
  FlatIndex index(2, Metric::kDot);
  index.upsert(PointId::number(1), vec({1, 1}), nlohmann::json{{"v", 1}});
  index.upsert(PointId::number(2), vec({2, 2}), nullptr);
  index.upsert(PointId::number(3), vec({3, 3}), nlohmann::json{{"v", 3}});
  EXPECT_EQ(index.shared_payload(1), nullptr);
  EXPECT_TRUE(index.row_payload(1).is_null());
  const std::shared_ptr<const nlohmann::json> first = index.shared_payload(0);
  const std::shared_ptr<const nlohmann::json> third = index.shared_payload(2);
  ASSERT_NE(first, nullptr);
  ASSERT_TRUE(index.set_payload(PointId::number(1), nlohmann::json{{"v", 10}}));
  EXPECT_EQ(*first, (nlohmann::json{{"v", 1}}));
  EXPECT_EQ(index.row_payload(0), (nlohmann::json{{"v", 10}}));
  const std::shared_ptr<const nlohmann::json> second_version = index.shared_payload(0);
  index.upsert(PointId::number(1), vec({5, 5}), nlohmann::json{{"v", 11}});
  EXPECT_EQ(*second_version, (nlohmann::json{{"v", 10}}));
  ASSERT_TRUE(index.remove(PointId::number(2)));
  ASSERT_TRUE(index.remove(PointId::number(1)));
  EXPECT_EQ(index.compact(), 2u);
  EXPECT_EQ(*first, (nlohmann::json{{"v", 1}}));
  EXPECT_EQ(*second_version, (nlohmann::json{{"v", 10}}));
  EXPECT_EQ(index.shared_payload(0), third);  // moved, not copied
  EXPECT_EQ(index.row_payload(0), (nlohmann::json{{"v", 3}}));
}

TEST(FlatIndex, AFrozenViewKeepsTheRowsAsTheyWereWhateverIsWrittenAfter) {
  FlatIndex index(2, Metric::kDot);
  index.upsert(PointId::number(1), vec({1, 1}), nlohmann::json{{"v", 1}});
  index.upsert(PointId::number(2), vec({2, 2}), nullptr);
  index.upsert(PointId::number(3), vec({3, 3}), nlohmann::json{{"v", 3}});
  index.upsert(PointId::number(4), vec({4, 4}), nlohmann::json{{"v", 4}});
  ASSERT_TRUE(index.remove(PointId::number(4)));  // dead before the view
  index.freeze();
  EXPECT_EQ(index.frozen_row_count(), 4u);
  EXPECT_EQ(index.frozen_live_count(), 3u);
  // Every kind of change to the frozen rows, and a new row.
  index.upsert(PointId::number(1), vec({10, 10}), nlohmann::json{{"v", 10}});
  index.upsert(PointId::number(1), vec({11, 11}), nlohmann::json{{"v", 11}});
  ASSERT_TRUE(index.set_payload(PointId::number(2), nlohmann::json{{"v", 20}}));
  ASSERT_TRUE(index.remove(PointId::number(3)));
  index.upsert(PointId::number(3), vec({30, 30}), nlohmann::json{{"v", 30}});  // a new row
  index.upsert(PointId::number(5), vec({5, 5}), nullptr);
  EXPECT_EQ(index.compact(), 0u);  // row numbers stay while frozen
  EXPECT_EQ(index.before_image_count(), 3u);
  auto values = [&](const FlatIndex::FrozenRow& row) {
    return std::vector<uint16_t>(row.values, row.values + index.dim());
  };
  auto halves = [](float x) { return std::vector<uint16_t>(2, core::float_to_half(x)); };
  const FlatIndex::FrozenRow first = index.frozen_row(0);
  EXPECT_TRUE(first.live);
  EXPECT_EQ(values(first), halves(1));
  EXPECT_EQ(**first.payload, (nlohmann::json{{"v", 1}}));
  const FlatIndex::FrozenRow second = index.frozen_row(1);
  EXPECT_TRUE(second.live);
  EXPECT_EQ(values(second), halves(2));
  EXPECT_EQ(*second.payload, nullptr);
  const FlatIndex::FrozenRow third = index.frozen_row(2);
  EXPECT_TRUE(third.live);
  EXPECT_EQ(values(third), halves(3));
  EXPECT_EQ(**third.payload, (nlohmann::json{{"v", 3}}));
  EXPECT_FALSE(index.frozen_row(3).live);
  // The index itself shows the writes.
  EXPECT_EQ(index.row_vector(0), vec({11, 11}));
  EXPECT_EQ(index.row_payload(1), (nlohmann::json{{"v", 20}}));
  EXPECT_FALSE(index.is_live(2));
  EXPECT_EQ(index.live_count(), 4u);
  index.thaw();
  EXPECT_FALSE(index.frozen());
  EXPECT_EQ(index.before_image_count(), 0u);
  EXPECT_EQ(index.compact(), 2u);
  expect_consistent(index);
  index.freeze();  // again, after a thaw
  EXPECT_EQ(index.frozen_live_count(), 4u);
  index.thaw();
}

TEST(FlatIndex, RemoveOfUnknownIdIsFalse) {
  FlatIndex index(2, Metric::kDot);
  EXPECT_FALSE(index.remove(PointId::number(3)));
  index.upsert(PointId::number(3), vec({1, 1}), nullptr);
  EXPECT_TRUE(index.remove(PointId::number(3)));
  EXPECT_FALSE(index.remove(PointId::number(3)));
}

TEST(FlatIndex, IdKindsAreDistinct) {
  FlatIndex index(1, Metric::kDot);
  index.upsert(PointId::number(5), vec({1}), nullptr);
  index.upsert(PointId::string("5").value(), vec({2}), nullptr);
  EXPECT_EQ(index.live_count(), 2u);
}

TEST(FlatIndex, ValidateVectorNamesThePointAndTheProblem) {
  FlatIndex index(3, Metric::kDot);
  core::Status wrong_dim = index.validate_vector(vec({1, 2}), "vector of point 9");
  EXPECT_EQ(wrong_dim.code(), core::StatusCode::kInvalidArgument);
  EXPECT_EQ(wrong_dim.message(), "vector of point 9 has 2 values, expected 3");
  core::Status nan = index.validate_vector(vec({1, NAN, 2}), "vector of point 9");
  EXPECT_NE(nan.message().find("point 9"), std::string::npos);
  EXPECT_NE(nan.message().find("NaN"), std::string::npos);
  EXPECT_FALSE(index.validate_vector(vec({1, 70000, 2}), "v").is_ok());
  EXPECT_TRUE(index.validate_vector(vec({1, 65504, -65504}), "v").is_ok());
}

TEST(FlatIndex, CompactionKeepsLivePointsAndOrder) {
  std::mt19937_64 rng(testing::test_seed("FlatIndex.Compaction"));
  FlatIndex index(4, Metric::kEuclid);
  std::map<uint64_t, std::vector<float>> model;  // id -> vector, as stored
  for (int round = 0; round < 20; ++round) {
    for (int i = 0; i < 200; ++i) {
      const uint64_t id = rng() % 500;
      const float x = static_cast<float>(rng() % 1000);
      const std::vector<float> v{x, x + 1, x + 2, x + 3};
      if (rng() % 3 == 0) {
        EXPECT_EQ(index.remove(PointId::number(id)), model.erase(id) == 1);
      } else {
        index.upsert(PointId::number(id), v, nlohmann::json{{"id", id}});
        model[id] = v;
      }
    }
    const uint64_t generation = index.generation();
    const size_t tombstones = index.tombstone_count();
    std::vector<PointId> order_before;
    for (uint64_t r = 0; r < index.row_count(); ++r) {
      if (index.is_live(r)) order_before.push_back(index.row_id(r));
    }
    if (round % 2 == 0) {
      EXPECT_EQ(index.compact(), tombstones);
      EXPECT_EQ(index.tombstone_count(), 0u);
      EXPECT_EQ(index.row_count(), model.size());
      EXPECT_EQ(index.generation(), generation + (tombstones > 0 ? 1 : 0));
      std::vector<PointId> order_after;
      for (uint64_t r = 0; r < index.row_count(); ++r) order_after.push_back(index.row_id(r));
      EXPECT_EQ(order_after, order_before);
    }
    expect_consistent(index);
    ASSERT_EQ(index.live_count(), model.size());
    for (const auto& [id, v] : model) {
      const std::optional<uint64_t> row = index.find_row(PointId::number(id));
      ASSERT_TRUE(row.has_value()) << id;
      EXPECT_EQ(index.row_vector(*row), v);
      EXPECT_EQ(index.row_payload(*row)["id"], id);
    }
  }
}

// load() must leave exactly the index that upsert_halves() point after point
// leaves: rows bit for bit (padding zero), ids, payloads, tombstones, the id
// map and payload indexes; a repeated id keeps the later point.
void expect_same_index(const FlatIndex& a, const FlatIndex& b) {
  ASSERT_EQ(a.row_count(), b.row_count());
  ASSERT_EQ(a.live_count(), b.live_count());
  ASSERT_EQ(a.stride(), b.stride());
  for (uint64_t r = 0; r < a.row_count(); ++r) {
    ASSERT_TRUE(std::equal(a.rows() + r * a.stride(), a.rows() + (r + 1) * a.stride(),
                           b.rows() + r * b.stride()))
        << "row " << r;
    ASSERT_EQ(a.row_id(r), b.row_id(r)) << "row " << r;
    ASSERT_EQ(a.row_payload(r), b.row_payload(r)) << "row " << r;
    ASSERT_EQ(a.is_live(r), b.is_live(r)) << "row " << r;
    ASSERT_EQ(a.find_row(a.row_id(r)), b.find_row(b.row_id(r))) << "row " << r;
  }
  for (uint64_t w = 0; w < (a.row_count() + 63) / 64; ++w) {
    ASSERT_EQ(a.tombstones()[w], b.tombstones()[w]) << "tombstone word " << w;
  }
  ASSERT_EQ(a.payload_indexes().size(), b.payload_indexes().size());
  for (const auto& [key, index] : a.payload_indexes()) {
    EXPECT_EQ(index.indexed_rows(), b.payload_indexes().at(key).indexed_rows()) << key;
  }
  IndexableCondition tag{{"tag"}, {"t0", "t2"}, false, {}, {}, {}, {}};
  EXPECT_EQ(a.indexed_candidates({tag}), b.indexed_candidates({tag}));
  expect_consistent(a);
}

TEST(FlatIndex, LoadEqualsUpsertingTheRowsOneByOne) {
  std::mt19937_64 rng(testing::test_seed("FlatIndex.LoadEqualsUpsertingTheRowsOneByOne"));
  // Dims whose stride is the dim (rows taken over) and padded ones (copied).
  for (size_t dim : {1, 7, 16, 130, 768}) {
    for (size_t n : {0, 1, 63, 64, 65, 1000, 9000}) {
      for (bool repeat : {false, true}) {
        if (repeat && n < 2) continue;
        std::vector<PointId> ids;
        core::HalfVector rows(n * dim);
        std::vector<nlohmann::json> payloads;
        for (size_t i = 0; i < n; ++i) {
          // With `repeat`, every tenth point reuses an earlier point's id.
          const uint64_t id = repeat && i % 10 == 9 ? rng() % i : i;
          ids.push_back(id % 3 == 2 ? PointId::string("s" + std::to_string(id)).value()
                                    : PointId::number(1'000'000 + id));
          payloads.push_back(i % 4 == 0 ? nlohmann::json()
                                        : nlohmann::json{{"tag", "t" + std::to_string(i % 5)}});
        }
        for (uint16_t& h : rows) h = static_cast<uint16_t>(rng());
        FlatIndex one_by_one(dim, Metric::kCosine);
        FlatIndex loaded(dim, Metric::kCosine);
        for (FlatIndex* index : {&one_by_one, &loaded}) {
          index->create_payload_index("tag", PayloadSchema::kKeyword);
        }
        one_by_one.reserve(n);
        for (size_t i = 0; i < n; ++i) {
          one_by_one.upsert_halves(ids[i], {rows.data() + i * dim, dim}, payloads[i]);
        }
        loaded.load(ids, rows, payloads);
        SCOPED_TRACE("dim " + std::to_string(dim) + ", " + std::to_string(n) + " points" +
                     (repeat ? ", repeated ids" : ""));
        expect_same_index(loaded, one_by_one);
        for (size_t r = 0; r < loaded.row_count(); ++r) {
          for (size_t i = dim; i < loaded.stride(); ++i) {
            ASSERT_EQ(loaded.rows()[r * loaded.stride() + i], 0u) << "padding of row " << r;
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace vesta::index
