// The JSON text `vesta bench` sends: every float read back by the server's
// path (nearest double, cast to float) is the float written, bit for bit;
// the requests have the shape of the DOM-built ones they replace.

#include "loadgen/request_json.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/json_codec.h"
#include "server/vector_body_parser.h"

namespace vesta::loadgen {
namespace {

using nlohmann::json;

uint32_t bits_of(float f) {
  uint32_t b = 0;
  std::memcpy(&b, &f, sizeof(b));
  return b;
}

// The floats the server reads from `text`, a JSON array, both ways it can.
void expect_reads_back(const std::string& text, const std::vector<float>& want) {
  const std::string body = "{\"vector\":" + text + "}";
  const server::VectorBodyParser reader{"vector"};
  for (bool fast : {false, true}) {
    core::Result<json> parsed = fast ? reader.parse(body) : server::parse_json_body(body);
    ASSERT_TRUE(parsed.is_ok()) << parsed.status().message();
    core::Result<std::vector<float>> got =
        server::vector_from_json(parsed.value()["vector"], "vector", "");
    ASSERT_TRUE(got.is_ok()) << got.status().message();
    ASSERT_EQ(got.value().size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      ASSERT_EQ(bits_of(got.value()[i]), bits_of(want[i]))
          << (fast ? "reader" : "parse_json_body") << ": " << want[i] << " written as "
          << json::parse(text)[i].dump();
    }
  }
}

TEST(RequestJson, FloatsReadBackBitIdentical) {
  const uint64_t seed = std::random_device{}();
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  std::vector<float> values = {
      0.0f, -0.0f, 1.0f, -1.0f, 16777216.0f, 16777218.0f, 65504.0f,
      std::numeric_limits<float>::max(), -std::numeric_limits<float>::max(),
      std::numeric_limits<float>::min(), std::numeric_limits<float>::denorm_min(),
      -std::numeric_limits<float>::denorm_min(), 1e-45f, 0.1f, 1e30f,
      // Its shortest text, 7.038531e-26, reads back as the
      // neighbour through a double: the writer must not use it.
      std::bit_cast<float>(uint32_t{0x15ae43fd}), -std::bit_cast<float>(uint32_t{0x15ae43fd})};
  // Random bit patterns cover every exponent; normal values what embeddings hold.
  std::normal_distribution<float> normal(0.0f, 0.05f);
  while (values.size() < 200000) {
    const auto b = static_cast<uint32_t>(rng());
    float f = 0;
    std::memcpy(&f, &b, sizeof(f));
    if (std::isfinite(f)) values.push_back(f);
    values.push_back(normal(rng));
  }
  std::string text;
  append_float_array(text, values);
  expect_reads_back(text, values);
}

TEST(RequestJson, NegativeZeroKeepsItsSignAndNonFiniteIsNull) {
  std::string text;
  append_float_array(text, std::vector<float>{-0.0f, 0.0f, 2.5f});
  EXPECT_EQ(text, "[-0.0,0,2.5]");
  text.clear();
  append_float_array(text, std::vector<float>{std::nanf(""), INFINITY, -INFINITY});
  EXPECT_EQ(text, "[null,null,null]");
  text.clear();
  append_float_array(text, std::vector<float>{});
  EXPECT_EQ(text, "[]");
}

TEST(RequestJson, RequestsHaveTheShapeOfTheDomBuiltOnes) {
  const std::vector<float> rows = {0.5f, -0.25f, 1.0f, 0.125f, 3.0f, -7.5f};
  // What bench_command built before with nlohmann, values and all.
  const json search = json::parse(search_request_json(std::span(rows).first(3), 10));
  EXPECT_EQ(search,
            (json{{"vector", std::vector<float>(rows.begin(), rows.begin() + 3)}, {"limit", 10}}));
  const json batch = json::parse(search_batch_request_json(rows, 3, 4));
  EXPECT_EQ(
      batch,
      (json{{"searches",
             {json{{"vector", std::vector<float>(rows.begin(), rows.begin() + 3)}, {"limit", 4}},
              json{{"vector", std::vector<float>(rows.begin() + 3, rows.end())}, {"limit", 4}}}}}));
  const json upsert = json::parse(upsert_batch_json(7, rows, 2));
  EXPECT_EQ(upsert, (json{{"batch",
                           {{"ids", {7, 8, 9}},
                            {"vectors",
                             {std::vector<float>{0.5f, -0.25f}, std::vector<float>{1.0f, 0.125f},
                              std::vector<float>{3.0f, -7.5f}}}}}}));
}

}  // namespace
}  // namespace vesta::loadgen
