#include "index/payload_index.h"

#include <gtest/gtest.h>

#include <algorithm>

#include <random>

#include "core/lock_manager.h"
#include "core/thread_pool.h"
#include "index/collection.h"
#include "index/cpu_searcher.h"
#include "test_seed.h"

namespace vesta::index {
namespace {

using nlohmann::json;

IndexableCondition match(std::string key, std::vector<json> values) {
  IndexableCondition c;
  c.path = split_payload_key(key);
  c.values = std::move(values);
  return c;
}
IndexableCondition range(std::string key, std::optional<double> gte, std::optional<double> lt) {
  IndexableCondition c;
  c.path = split_payload_key(key);
  c.is_range = true;
  c.gte = gte;
  c.lt = lt;
  return c;
}

TEST(PayloadIndex, KeywordAndNumericCandidatesWithArraysNestedKeysAndRemoval) {
  PayloadIndex city("meta.city", PayloadSchema::kKeyword);
  city.add(0, json{{"meta", {{"city", "Paris"}}}});
  city.add(1, json{{"meta", {{"city", json::array({"Rome", "Paris"})}}}});
  city.add(2, json{{"meta", {{"city", 7}}}});  // not a string: not indexed
  city.add(3, json{{"other", 1}});
  EXPECT_EQ(city.indexed_rows(), 2u);
  EXPECT_EQ(city.candidates(match("meta.city", {"Paris"})), (std::vector<uint64_t>{0, 1}));
  EXPECT_EQ(city.candidates(match("meta.city", {"Rome", "Oslo"})), (std::vector<uint64_t>{1}));
  EXPECT_EQ(city.candidates(match("city", {"Paris"})), std::nullopt);       // another key
  EXPECT_EQ(city.candidates(match("meta.city", {json(3)})), std::nullopt);  // not a string
  EXPECT_EQ(city.candidates(range("meta.city", 1, 2)), std::nullopt);
  city.remove(0);
  EXPECT_EQ(city.candidates(match("meta.city", {"Paris"})), (std::vector<uint64_t>{1}));

  PayloadIndex year("year", PayloadSchema::kInteger);
  for (uint64_t r = 0; r < 10; ++r) year.add(r, json{{"year", 2000 + static_cast<int>(r)}});
  year.add(10, json{{"year", 2003.5}});
  EXPECT_EQ(year.candidates(range("year", 2003, 2005)), (std::vector<uint64_t>{3, 4, 10}));
  EXPECT_EQ(year.candidates(match("year", {json(2001), json(2009)})),
            (std::vector<uint64_t>{1, 9}));
  year.remove(4);
  EXPECT_EQ(year.candidates(range("year", 2003, 2005)), (std::vector<uint64_t>{3, 10}));
  PayloadIndex score("score", PayloadSchema::kFloat);
  score.add(0, json{{"score", 0.5}});
  EXPECT_EQ(score.candidates(match("score", {json(1)})), std::nullopt);  // float: ranges only
  EXPECT_EQ(parse_payload_schema("keyword"), PayloadSchema::kKeyword);
  EXPECT_EQ(parse_payload_schema("geo"), std::nullopt);
}

// With and without indexes, filtered searches give the same answers, through
// writes, overwrites, payload updates, deletes and compaction.
TEST(PayloadIndex, FilteredSearchesAgreeWithAndWithoutIndexes) {
  std::mt19937_64 rng(testing::test_seed("PayloadIndex.Agree"));
  std::normal_distribution<float> normal;
  core::ThreadPool pool(2);
  CpuSearcher searcher(pool);
  core::LockManager locks;
  Collection plain({"plain", 8, Metric::kDot}, locks, searcher);
  Collection indexed({"indexed", 8, Metric::kDot}, locks, searcher);
  ASSERT_TRUE(indexed.create_payload_index("city", PayloadSchema::kKeyword).is_ok());
  ASSERT_TRUE(indexed.create_payload_index("n", PayloadSchema::kInteger).is_ok());
  const char* cities[] = {"Paris", "Rome", "Oslo", "Lima"};
  auto random_points = [&](uint64_t first, uint64_t count) {
    std::vector<PointWrite> points;
    for (uint64_t i = first; i < first + count; ++i) {
      std::vector<float> v(8);
      for (float& x : v) x = normal(rng);
      points.push_back({core::PointId::number(i), v,
                        json{{"city", cities[rng() % 4]}, {"n", static_cast<int>(rng() % 100)}}});
    }
    return points;
  };
  auto both = [&](std::vector<PointWrite> points) {
    ASSERT_TRUE(plain.upsert(points).is_ok());
    ASSERT_TRUE(indexed.upsert(std::move(points)).is_ok());
  };
  both(random_points(0, 3000));
  both(random_points(100, 500));  // overwrites
  std::vector<core::PointId> gone;
  for (uint64_t i = 0; i < 3000; i += 3) gone.push_back(core::PointId::number(i));
  ASSERT_TRUE(plain.remove(gone).is_ok());  // also compacts (over a quarter deleted)
  ASSERT_TRUE(indexed.remove(gone).is_ok());
  const std::vector<core::PointId> moved = {core::PointId::number(1), core::PointId::number(2)};
  PayloadUpdate to_oslo;
  to_oslo.payload = json{{"city", "Oslo"}};
  ASSERT_TRUE(plain.update_payloads(moved, to_oslo).is_ok());
  ASSERT_TRUE(indexed.update_payloads(moved, to_oslo).is_ok());

  for (int round = 0; round < 40; ++round) {
    const std::string city = cities[rng() % 4];
    const int low = static_cast<int>(rng() % 80);
    const json filter = {
        {"must", json::array({{{"key", "city"}, {"match", {{"value", city}}}},
                              {{"key", "n"}, {"range", {{"gte", low}, {"lt", low + 15}}}}})}};
    auto parsed = PayloadFilter::parse(filter);
    ASSERT_TRUE(parsed.is_ok());
    SearchParams params;
    params.limit = 20;
    params.filter = [f = parsed.value()](const core::PointId& id, const json& p) {
      return f.matches(id, p);
    };
    params.indexable = parsed.value().indexable_conditions();
    ASSERT_EQ(params.indexable.size(), 2u);
    std::vector<float> q(8);
    for (float& x : q) x = normal(rng);
    auto a = plain.search(q, params);
    auto b = indexed.search(q, params);
    ASSERT_TRUE(a.is_ok() && b.is_ok());
    ASSERT_EQ(a.value().size(), b.value().size()) << filter.dump();
    for (size_t i = 0; i < a.value().size(); ++i) EXPECT_EQ(a.value()[i].id, b.value()[i].id);
    // Count, the ids a delete or payload update by filter would touch, and
    // scroll pages go through the indexes too, with the same answers.
    const size_t expected = plain.count_matching(params.filter).value();
    EXPECT_EQ(indexed.count_matching(params.filter, params.indexable).value(), expected);
    std::vector<core::PointId> ids_plain = plain.ids_matching(params.filter).value();
    std::vector<core::PointId> ids_indexed =
        indexed.ids_matching(params.filter, params.indexable).value();
    std::sort(ids_plain.begin(), ids_plain.end());
    std::sort(ids_indexed.begin(), ids_indexed.end());
    EXPECT_EQ(ids_indexed, ids_plain);
    std::optional<core::PointId> offset;
    std::vector<core::PointId> scrolled;
    do {
      Collection::ScrollPage page =
          indexed.scroll(offset, 7, params.filter, params.indexable, false, false).value();
      for (const StoredPoint& p : page.points) scrolled.push_back(p.id);
      offset = page.next_page_offset;
    } while (offset);
    EXPECT_EQ(scrolled, ids_plain);  // scroll pages come in id order
  }
  auto schema = indexed.payload_schema();
  ASSERT_TRUE(schema.is_ok());
  EXPECT_EQ(schema.value().at("city").points, 2000u);  // live points
  ASSERT_TRUE(indexed.delete_payload_index("city").value());
  EXPECT_FALSE(indexed.delete_payload_index("city").value());
}

}  // namespace
}  // namespace vesta::index
