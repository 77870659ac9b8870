// Option parsing and the upsert encoding of `vesta import` (the import itself
// is tested end to end by tests/compat/test_lightrag_import.py against a real
// `vesta serve`, with files written by the real nano-vectordb package).

#include "importer/import_command.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "test_seed.h"

namespace vesta::importer {
namespace {

using nlohmann::json;

core::Result<ImportOptions> parse(std::vector<std::string_view> args) {
  return parse_import_options(args);
}

void expect_error(const core::Result<ImportOptions>& r, const std::string& words) {
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find(words), std::string::npos) << r.status().message();
}

TEST(ImportOptions, DefaultsAndEveryFlag) {
  auto d = parse({"--format", "lightrag-nano", "vdb_entities.json", "--collection", "entities"});
  ASSERT_TRUE(d.is_ok()) << d.status().to_string();
  EXPECT_EQ(d.value().format, ImportFormat::kLightragNano);
  EXPECT_EQ(d.value().file, "vdb_entities.json");
  EXPECT_EQ(d.value().collection, "entities");
  EXPECT_EQ(d.value().url, "http://127.0.0.1:6333");
  EXPECT_EQ(d.value().batch_points, 1000u);
  EXPECT_EQ(d.value().metric, index::Metric::kCosine);
  EXPECT_FALSE(d.value().help);

  auto o =
      parse({"--collection", "c", "--url", "http://10.0.0.2:7000", "--api-key", "k",
             "--batch-points", "250", "--distance", "Dot", "f.json", "--format", "lightrag-nano"});
  ASSERT_TRUE(o.is_ok()) << o.status().to_string();
  EXPECT_EQ(o.value().file, "f.json");
  EXPECT_EQ(o.value().url, "http://10.0.0.2:7000");
  EXPECT_EQ(o.value().api_key, "k");
  EXPECT_EQ(o.value().batch_points, 250u);
  EXPECT_EQ(o.value().metric, index::Metric::kDot);

  EXPECT_TRUE(parse({"--help"}).value().help);
  EXPECT_TRUE(parse({"--format", "x", "-h"}).value().help);
}

TEST(ImportOptions, UsageErrorsNameTheFlag) {
  expect_error(parse({"f.json", "--collection", "c"}),
               "--format is required (known: lightrag-nano)");
  expect_error(parse({"--format", "ndjson", "f.json", "--collection", "c"}),
               "unknown --format 'ndjson' (known: lightrag-nano)");
  expect_error(parse({"--format", "lightrag-nano", "--collection", "c"}),
               "give the FILE to import");
  expect_error(parse({"--format", "lightrag-nano", "a.json", "b.json", "--collection", "c"}),
               "give one FILE, got 'a.json' and 'b.json'");
  expect_error(parse({"--format", "lightrag-nano", "a.json"}), "--collection is required");
  expect_error(parse({"--format", "lightrag-nano", "a.json", "--collection"}),
               "--collection needs a value");
  expect_error(
      parse({"--format", "lightrag-nano", "a.json", "--collection", "c", "--batch-points", "0"}),
      "--batch-points must be an integer from 1 to 1000000, got '0'");
  expect_error(
      parse({"--format", "lightrag-nano", "a.json", "--collection", "c", "--batch-points", "12x"}),
      "--batch-points must be an integer");
  expect_error(
      parse({"--format", "lightrag-nano", "a.json", "--collection", "c", "--distance", "cosine"}),
      "--distance must be Cosine, Dot or Euclid, got 'cosine'");
  expect_error(parse({"--format", "lightrag-nano", "a.json", "--collection", "c", "--create"}),
               "unknown import option '--create'");
}

TEST(ImportFormat, NamesRoundTrip) {
  EXPECT_EQ(import_format_name(ImportFormat::kLightragNano), "lightrag-nano");
  EXPECT_EQ(parse_import_format("lightrag-nano"), ImportFormat::kLightragNano);
  EXPECT_FALSE(parse_import_format("LightRAG-nano").has_value());
}

TEST(ImportPointJson, ReadsBackAsTheSamePoint) {
  std::mt19937_64 rng(testing::test_seed("ImportPointJson.ReadsBackAsTheSamePoint"));
  std::normal_distribution<float> normal;
  persistence::NanoPoint p;
  p.id = "ent-\"quoted\" \\ \xc3\xa9";
  for (int i = 0; i < 100; ++i) p.vector.push_back(normal(rng) * std::pow(10.0f, i % 9 - 4));
  p.vector.push_back(std::numeric_limits<float>::denorm_min());
  p.vector.push_back(-0.0f);
  p.vector.push_back(65504.0f);
  p.payload = {{"__created_at__", 1718000000},
               {"__write_seq__", uint64_t{1795659829459894037}},
               {"content", "line one\nline \"two\""},
               {"entity_name",
                "\xc3\x89"
                "douard"}};
  const json back = json::parse(point_json(p));
  EXPECT_EQ(back["id"], p.id);
  EXPECT_EQ(back["payload"], p.payload);
  ASSERT_EQ(back["vector"].size(), p.vector.size());
  for (size_t i = 0; i < p.vector.size(); ++i) {
    // Parsed as a double and narrowed, as the server does: the same float.
    EXPECT_EQ(static_cast<float>(back["vector"][i].get<double>()), p.vector[i]) << i;
  }

  persistence::NanoPoint bare{"x", {1.5f}, json()};
  EXPECT_EQ(point_json(bare), R"({"id":"x","vector":[1.5],"payload":{}})");
}

}  // namespace
}  // namespace vesta::importer
