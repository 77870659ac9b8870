#include "server/payload_selector.h"

#include <gtest/gtest.h>

namespace vesta::server {
namespace {

using nlohmann::json;

const json kPayload = {
    {"city", "Oslo"},
    {"n", 3},
    {"meta", {{"lang", "no"}, {"source", "web"}, {"deep", {{"x", 1}, {"y", 2}}}}},
    {"authors", {{{"name", "a"}, {"age", 30}}, {{"name", "b"}}}},
    {"tags", {"t1", "t2"}}};

json select(const json& with_payload, const json& payload = kPayload) {
  auto selector = PayloadSelector::parse(with_payload, "with_payload", PayloadSelector::none());
  EXPECT_TRUE(selector.is_ok()) << selector.status().message();
  return selector.is_ok() ? selector.value().apply(payload) : json();
}

std::string parse_error(const json& with_payload) {
  auto selector = PayloadSelector::parse(with_payload, "with_payload", PayloadSelector::none());
  EXPECT_FALSE(selector.is_ok()) << with_payload.dump();
  return selector.is_ok() ? "" : selector.status().message();
}

TEST(PayloadSelector, BoolsAndNull) {
  EXPECT_EQ(select(true), kPayload);
  EXPECT_TRUE(select(false).is_null());
  EXPECT_TRUE(select(nullptr).is_null());  // the fallback
  auto fallback_all = PayloadSelector::parse(nullptr, "with_payload", PayloadSelector::all());
  ASSERT_TRUE(fallback_all.is_ok());
  EXPECT_EQ(fallback_all.value().apply(kPayload), kPayload);
  // A point without a payload reads as {} whenever a payload is wanted.
  EXPECT_EQ(select(true, nullptr), json::object());
  EXPECT_EQ(select(json::array({"city"}), nullptr), json::object());
  EXPECT_TRUE(select(false, nullptr).is_null());
}

TEST(PayloadSelector, ListKeepsOnlyTheNamedKeysAndDotPathsSelectNestedKeys) {
  EXPECT_EQ(select({"city", "meta.lang"}), json({{"city", "Oslo"}, {"meta", {{"lang", "no"}}}}));
  EXPECT_EQ(select({"meta.deep"}), json({{"meta", {{"deep", {{"x", 1}, {"y", 2}}}}}}));
  EXPECT_EQ(select({"meta.deep.y", "n"}), json({{"n", 3}, {"meta", {{"deep", {{"y", 2}}}}}}));
  EXPECT_EQ(select(json::array()), json::object());
  EXPECT_EQ(select({"missing", "meta.missing"}), json({{"meta", json::object()}}));
  EXPECT_EQ(select({{"include", {"city"}}}), json({{"city", "Oslo"}}));
  // A null member is ignored, as a client may send both with one null.
  EXPECT_EQ(select({{"include", {"n"}}, {"exclude", nullptr}}), json({{"n", 3}}));
}

TEST(PayloadSelector, ArraysAreEnteredOnlyThroughBrackets) {
  EXPECT_EQ(select({"authors[].name"}), json({{"authors", {{{"name", "a"}}, {{"name", "b"}}}}}));
  EXPECT_EQ(select({"tags"}), json({{"tags", {"t1", "t2"}}}));
  // As in Qdrant: without [] the path keeps the array but none of its elements.
  EXPECT_EQ(select({"authors.name"}), json({{"authors", json::array()}}));
}

TEST(PayloadSelector, ExcludeDropsThePathsAndKeepsTheRest) {
  json expected = kPayload;
  expected.erase("city");
  expected["meta"].erase("lang");
  EXPECT_EQ(select({{"exclude", {"city", "meta.lang"}}}), expected);
  json no_ages = kPayload;
  no_ages["authors"][0].erase("age");
  EXPECT_EQ(select({{"exclude", {"authors[].age"}}}), no_ages);
  EXPECT_EQ(select({{"exclude", json::array()}}), kPayload);
  EXPECT_EQ(select({{"exclude", {"meta"}}}).contains("meta"), false);
}

TEST(PayloadSelector, ErrorsNameTheField) {
  EXPECT_EQ(parse_error({{"include", {"a", 5}}}),
            "with_payload.include[1]: expected a string, got number");
  EXPECT_EQ(parse_error({"a", true}), "with_payload[1]: expected a string, got boolean");
  EXPECT_NE(parse_error({{"exclude", "a"}}).find("with_payload.exclude: expected a list"),
            std::string::npos);
  EXPECT_NE(parse_error({{"include", {"a"}}, {"exclude", {"b"}}}).find("not both"),
            std::string::npos);
  EXPECT_NE(parse_error({{"fields", {"a"}}}).find("with_payload.fields: unknown member"),
            std::string::npos);
  EXPECT_NE(parse_error(json::object()).find("with_payload: expected {\"include\""),
            std::string::npos);
  EXPECT_NE(parse_error("yes").find("with_payload: expected true, false"), std::string::npos);
  EXPECT_NE(parse_error(3).find("got number"), std::string::npos);
  for (const char* bad : {"", "a..b", ".a", "a.", "a[0]", "a[", "[]", "a]"}) {
    EXPECT_NE(parse_error({"ok", bad})
                  .find("with_payload[1]: '" + std::string(bad) + "' is not a payload key path"),
              std::string::npos)
        << bad;
  }
}

TEST(PayloadSelector, QueryParameterText) {
  auto all = PayloadSelector::parse_text("true", "with_payload");
  ASSERT_TRUE(all.is_ok());
  EXPECT_EQ(all.value().apply(kPayload), kPayload);
  auto none = PayloadSelector::parse_text("false", "with_payload");
  ASSERT_TRUE(none.is_ok());
  EXPECT_FALSE(none.value().wants_payload());
  auto some = PayloadSelector::parse_text("city,meta.lang", "with_payload");
  ASSERT_TRUE(some.is_ok());
  EXPECT_EQ(some.value().apply(kPayload), json({{"city", "Oslo"}, {"meta", {{"lang", "no"}}}}));
  auto bad = PayloadSelector::parse_text("city,,n", "with_payload");
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("with_payload[1]"), std::string::npos);
}

}  // namespace
}  // namespace vesta::server
