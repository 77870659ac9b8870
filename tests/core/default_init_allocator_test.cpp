#include "core/default_init_allocator.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace vesta::core {
namespace {

TEST(DefaultInitAllocator, ExplicitValuesAndClassTypesAreStillInitialised) {
  HalfVector rows;
  rows.resize(1000, 7);  // a value given is written
  for (uint16_t v : rows) ASSERT_EQ(v, 7u);
  rows.resize(3000);  // grows (not zero-filled); the first values are kept
  for (size_t i = 0; i < 1000; ++i) ASSERT_EQ(rows[i], 7u);
  for (size_t i = 1000; i < rows.size(); ++i) rows[i] = static_cast<uint16_t>(i);
  HalfVector copy = rows;
  EXPECT_EQ(copy, rows);
  copy.push_back(1);
  EXPECT_EQ(copy.back(), 1u);
  EXPECT_EQ(copy.size(), 3001u);
  // Class types are default-constructed, which for them initialises.
  std::vector<std::string, DefaultInitAllocator<std::string>> texts(3);
  for (const std::string& t : texts) EXPECT_TRUE(t.empty());
  texts.emplace_back(5, 'x');
  EXPECT_EQ(texts.back(), "xxxxx");
}

}  // namespace
}  // namespace vesta::core
