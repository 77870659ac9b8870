#include "core/point_id.h"

#include <gtest/gtest.h>

#include <unordered_set>

namespace vesta::core {
namespace {

constexpr const char* kCanonical = "550e8400-e29b-41d4-a716-446655440000";

TEST(Uuid, ParsesEveryAcceptedForm) {
  for (const char* text :
       {"550e8400-e29b-41d4-a716-446655440000", "550E8400-E29B-41D4-A716-446655440000",
        "550e8400e29b41d4a716446655440000", "{550e8400-e29b-41d4-a716-446655440000}",
        "urn:uuid:550e8400-e29b-41d4-a716-446655440000"}) {
    Result<Uuid> uuid = Uuid::parse(text);
    ASSERT_TRUE(uuid.is_ok()) << text;
    EXPECT_EQ(uuid.value().to_string(), kCanonical) << text;
  }
}

TEST(Uuid, RejectsMalformedText) {
  for (const char* text :
       {"", "550e8400-e29b-41d4-a716-44665544000", "550e8400-e29b-41d4-a716-4466554400000",
        "550e8400e29b-41d4-a716-446655440000-", "550e8400-e29b-41d4-a716_446655440000",
        "g50e8400-e29b-41d4-a716-446655440000", "550e8400-e29b-41d4-a716-44665544000g"}) {
    EXPECT_FALSE(Uuid::parse(text).is_ok()) << text;
  }
}

TEST(PointId, FromTextPrefersUuidThenString) {
  const PointId uuid = PointId::from_text("550E8400E29B41D4A716446655440000").value();
  EXPECT_EQ(uuid.kind(), PointIdKind::kUuid);
  EXPECT_EQ(uuid.to_string(), kCanonical);
  const PointId text = PointId::from_text("doc-17").value();
  EXPECT_EQ(text.kind(), PointIdKind::kString);
  EXPECT_EQ(text.as_string(), "doc-17");
  EXPECT_EQ(PointId::from_text("550e8400-e29b-41d4-a716_446655440000").value().kind(),
            PointIdKind::kString);
}

TEST(PointId, StringLengthLimits) {
  EXPECT_FALSE(PointId::string("").is_ok());
  EXPECT_TRUE(PointId::string("x").is_ok());
  EXPECT_TRUE(PointId::string(std::string(256, 'a')).is_ok());
  const Result<PointId> too_long = PointId::string(std::string(257, 'a'));
  ASSERT_FALSE(too_long.is_ok());
  EXPECT_EQ(too_long.status().message(), "string point id of 257 bytes exceeds the limit of 256");
}

TEST(PointId, OrderEqualityAndHashAgree) {
  const std::vector<PointId> ordered = {
      PointId::number(0),
      PointId::number(7),
      PointId::number(UINT64_MAX),
      PointId::uuid(Uuid::parse("00000000-0000-0000-0000-000000000001").value()),
      PointId::uuid(Uuid::parse(kCanonical).value()),
      PointId::string("0").value(),
      PointId::string("7").value(),
      PointId::string("a").value()};
  for (size_t i = 0; i < ordered.size(); ++i) {
    for (size_t j = 0; j < ordered.size(); ++j) {
      EXPECT_EQ(ordered[i] < ordered[j], i < j) << i << " " << j;
      EXPECT_EQ(ordered[i] == ordered[j], i == j) << i << " " << j;
    }
  }
  std::unordered_set<PointId> set(ordered.begin(), ordered.end());
  EXPECT_EQ(set.size(), ordered.size());
  EXPECT_EQ(std::hash<PointId>()(PointId::number(7)), std::hash<PointId>()(PointId::number(7)));
  EXPECT_TRUE(set.contains(PointId::string("7").value()));
  EXPECT_FALSE(set.contains(PointId::string("8").value()));
}

TEST(PointId, ToStringAndAccessors) {
  EXPECT_EQ(PointId().to_string(), "0");
  EXPECT_EQ(PointId::number(18446744073709551615ull).to_string(), "18446744073709551615");
  EXPECT_EQ(PointId::number(9).as_number(), 9u);
  EXPECT_DEATH((void)PointId::number(9).as_string(), "is not a string");
}

}  // namespace
}  // namespace vesta::core
