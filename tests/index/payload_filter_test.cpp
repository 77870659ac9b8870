#include "index/payload_filter.h"

#include <gtest/gtest.h>

namespace vesta::index {
namespace {

using core::PointId;
using nlohmann::json;

bool eval(const json& filter, const json& payload, PointId id = PointId::number(1)) {
  auto f = PayloadFilter::parse(filter);
  EXPECT_TRUE(f.is_ok()) << f.status().to_string();
  return f.is_ok() && f.value().matches(id, payload);
}

std::string parse_error(const json& filter) {
  auto f = PayloadFilter::parse(filter);
  return f.is_ok() ? "" : f.status().message();
}

TEST(PayloadFilter, MatchValueAnyExcept) {
  const json p = {{"city", "Paris"}, {"n", 3}, {"ok", true}, {"tags", {"a", "b"}}};
  EXPECT_TRUE(eval({{"must", {{{"key", "city"}, {"match", {{"value", "Paris"}}}}}}}, p));
  EXPECT_FALSE(eval({{"must", {{{"key", "city"}, {"match", {{"value", "Rome"}}}}}}}, p));
  EXPECT_TRUE(eval({{"must", {{{"key", "n"}, {"match", {{"value", 3}}}}}}}, p));
  EXPECT_TRUE(eval(json::parse(R"({"must":[{"key":"n","match":{"value":3}}]})"),
                   json::parse(R"({"n":3})")));
  EXPECT_FALSE(eval({{"must", {{{"key", "n"}, {"match", {{"value", "3"}}}}}}}, p));
  EXPECT_TRUE(eval({{"must", {{{"key", "ok"}, {"match", {{"value", true}}}}}}}, p));
  EXPECT_TRUE(eval({{"must", {{{"key", "city"}, {"match", {{"any", {"Rome", "Paris"}}}}}}}}, p));
  EXPECT_TRUE(eval({{"must", {{{"key", "tags"}, {"match", {{"value", "b"}}}}}}}, p));  // array: any
  EXPECT_FALSE(eval({{"must", {{{"key", "city"}, {"match", {{"except", {"Paris"}}}}}}}}, p));
  EXPECT_TRUE(eval({{"must", {{{"key", "city"}, {"match", {{"except", {"Rome"}}}}}}}}, p));
  EXPECT_FALSE(eval({{"must", {{{"key", "missing"}, {"match", {{"except", {"x"}}}}}}}}, p));
  EXPECT_FALSE(eval({{"must", {{{"key", "missing"}, {"match", {{"value", "x"}}}}}}}, p));
}

TEST(PayloadFilter, RangeAndNestedKeys) {
  const json p = {{"price", 10.5},
                  {"shop", {{"rating", 4}, {"branches", {{{"size", 3}}, {{"size", 9}}}}}}};
  EXPECT_TRUE(eval({{"must", {{{"key", "price"}, {"range", {{"gte", 10}, {"lt", 11}}}}}}}, p));
  EXPECT_FALSE(eval({{"must", {{{"key", "price"}, {"range", {{"gt", 10.5}}}}}}}, p));
  EXPECT_TRUE(eval({{"must", {{{"key", "shop.rating"}, {"range", {{"lte", 4}}}}}}}, p));
  // Arrays of objects: any element may satisfy the condition.
  EXPECT_TRUE(eval({{"must", {{{"key", "shop.branches.size"}, {"range", {{"gt", 5}}}}}}}, p));
  EXPECT_TRUE(eval({{"must", {{{"key", "shop.branches[].size"}, {"range", {{"lt", 4}}}}}}}, p));
  EXPECT_FALSE(eval({{"must", {{{"key", "shop.branches.size"}, {"range", {{"gt", 10}}}}}}}, p));
  EXPECT_FALSE(eval({{"must", {{{"key", "shop"}, {"range", {{"gt", 0}}}}}}}, p));  // not a number
}

TEST(PayloadFilter, ShouldMustNotMinShouldAndNesting) {
  const json p = {{"a", 1}, {"b", 2}};
  const json a1 = {{"key", "a"}, {"match", {{"value", 1}}}};
  const json b1 = {{"key", "b"}, {"match", {{"value", 1}}}};
  const json b2 = {{"key", "b"}, {"match", {{"value", 2}}}};
  EXPECT_TRUE(eval({{"should", {b1, a1}}}, p));
  EXPECT_FALSE(eval({{"should", {b1}}}, p));
  EXPECT_FALSE(eval({{"must_not", {a1}}}, p));
  EXPECT_TRUE(eval({{"must_not", {b1}}}, p));
  EXPECT_TRUE(eval({{"min_should", {{"conditions", {a1, b1, b2}}, {"min_count", 2}}}}, p));
  EXPECT_FALSE(eval({{"min_should", {{"conditions", {a1, b1, b1}}, {"min_count", 2}}}}, p));
  EXPECT_TRUE(eval({{"must", {{{"should", {b1, b2}}}, a1}}}, p));
  EXPECT_FALSE(eval({{"must", {{{"must_not", {b2}}}}}}, p));
  EXPECT_TRUE(eval(json::object(), p));  // an empty filter keeps everything
  EXPECT_TRUE(eval({{"must", a1}}, p));  // a single condition in place of a list
}

TEST(PayloadFilter, HasIdIsEmptyIsNull) {
  const json p = {{"x", nullptr}, {"list", json::array()}, {"v", 0}};
  EXPECT_TRUE(eval({{"must", {{{"has_id", {1, 7}}}}}}, p, PointId::number(7)));
  EXPECT_FALSE(eval({{"must", {{{"has_id", {1}}}}}}, p, PointId::number(7)));
  EXPECT_TRUE(eval({{"must", {{{"has_id", {"550e8400-e29b-41d4-a716-446655440000"}}}}}}, p,
                   PointId::from_text("550E8400E29B41D4A716446655440000").value()));
  EXPECT_TRUE(eval({{"must", {{{"is_empty", {{"key", "missing"}}}}}}}, p));
  EXPECT_TRUE(eval({{"must", {{{"is_empty", {{"key", "list"}}}}}}}, p));
  EXPECT_TRUE(eval({{"must", {{{"is_empty", {{"key", "x"}}}}}}}, p));
  EXPECT_FALSE(eval({{"must", {{{"is_empty", {{"key", "v"}}}}}}}, p));
  EXPECT_TRUE(eval({{"must", {{{"is_null", {{"key", "x"}}}}}}}, p));
  EXPECT_FALSE(eval({{"must", {{{"is_null", {{"key", "missing"}}}}}}}, p));
  EXPECT_FALSE(eval({{"must", {{{"is_null", {{"key", "v"}}}}}}}, p));
  EXPECT_TRUE(eval({{"must", {{{"is_empty", {{"key", "a"}}}}}}}, nullptr));  // no payload at all
}

TEST(PayloadFilter, ParseErrorsNameThePath) {
  EXPECT_EQ(parse_error({{"must", {{{"key", "a"}, {"range", {{"gt", "x"}}}}}}}),
            "filter.must[0].range.gt must be a number");
  EXPECT_NE(parse_error({{"must", {{{"key", "a"}, {"match", {{"text", "x"}}}}}}})
                .find("filter.must[0].match"),
            std::string::npos);
  EXPECT_NE(parse_error({{"bogus", json::array()}}).find("filter.bogus"), std::string::npos);
  EXPECT_NE(parse_error({{"must", {{{"key", ""}}}}}).find("filter.must[0].key"), std::string::npos);
  EXPECT_NE(parse_error({{"must", {{{"key", "a"}, {"match", {{"any", {1.5}}}}}}}})
                .find("filter.must[0].match.any[0]"),
            std::string::npos);
  EXPECT_NE(parse_error({{"min_should", {{"conditions", json::array()}}}}).find("min_count"),
            std::string::npos);
  EXPECT_NE(parse_error("x").find("filter must be an object"), std::string::npos);
  json deep = {{"must", {{{"key", "a"}, {"match", {{"value", 1}}}}}}};
  for (int i = 0; i < PayloadFilter::kDefaultMaxDepth; ++i) deep = {{"must", {deep}}};
  EXPECT_NE(parse_error(deep).find("deeper than 16"), std::string::npos);
}

TEST(PayloadFilter, MaxDepthIsConfigurable) {
  // Depth 3: the top level and two nested filters.
  const json leaf = {{"key", "a"}, {"match", {{"value", 1}}}};
  const json depth3 = {{"must", {{{"should", {{{"must_not", {leaf}}}}}}}}};
  EXPECT_TRUE(PayloadFilter::parse(depth3, 3).is_ok());
  auto too_deep = PayloadFilter::parse(depth3, 2);
  ASSERT_FALSE(too_deep.is_ok());
  EXPECT_EQ(too_deep.status().message(), "filter.must[0].should[0] nests filters deeper than 2");
  EXPECT_TRUE(PayloadFilter::parse({{"must", {leaf}}}, 1).is_ok());
  EXPECT_FALSE(PayloadFilter::parse(depth3, 1).is_ok());
}

}  // namespace
}  // namespace vesta::index
