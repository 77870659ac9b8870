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
               "--format is required (known: ndjson, binary, lightrag-nano)");
  expect_error(parse({"--format", "jsonl", "f.json", "--collection", "c"}),
               "unknown --format 'jsonl' (known: ndjson, binary, lightrag-nano)");
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

TEST(ImportOptions, JobFormatsTakeTheirOwnFlags) {
  auto d = parse({"--format", "ndjson", "points.ndjson", "--collection", "docs"});
  ASSERT_TRUE(d.is_ok()) << d.status().to_string();
  EXPECT_EQ(d.value().format, ImportFormat::kNdjson);
  EXPECT_FALSE(d.value().abort_on_error);
  EXPECT_EQ(d.value().idempotency_key, "");
  EXPECT_EQ(d.value().max_import_bytes, uint64_t{1} << 30);

  auto o = parse({"--format", "binary", "p.vimp", "--collection", "docs", "--on-error", "abort",
                  "--idempotency-key", "load-2024.11:v2~x_y", "--max-import-bytes", "64M",
                  "--distance", "Euclid"});
  ASSERT_TRUE(o.is_ok()) << o.status().to_string();
  EXPECT_EQ(o.value().format, ImportFormat::kBinary);
  EXPECT_TRUE(o.value().abort_on_error);
  EXPECT_EQ(o.value().idempotency_key, "load-2024.11:v2~x_y");
  EXPECT_EQ(o.value().max_import_bytes, uint64_t{64} << 20);
  EXPECT_EQ(o.value().metric, index::Metric::kEuclid);
  EXPECT_FALSE(parse({"--format", "ndjson", "f", "--collection", "c", "--on-error", "skip"})
                   .value()
                   .abort_on_error);
}

TEST(ImportOptions, FlagsOfTheOtherWayOfImportingAreRefused) {
  expect_error(parse({"--format", "ndjson", "f", "--collection", "c", "--batch-points", "10"}),
               "--batch-points applies to --format lightrag-nano only");
  expect_error(
      parse({"--format", "lightrag-nano", "f", "--collection", "c", "--on-error", "abort"}),
      "--on-error applies to --format ndjson and binary only");
  expect_error(
      parse({"--format", "lightrag-nano", "f", "--collection", "c", "--max-import-bytes", "1M"}),
      "--max-import-bytes applies to --format ndjson and binary only");
  expect_error(parse({"--format", "ndjson", "f", "--collection", "c", "--on-error", "ignore"}),
               "--on-error must be skip or abort, got 'ignore'");
  expect_error(parse({"--format", "ndjson", "f", "--collection", "c", "--max-import-bytes", "100"}),
               "--max-import-bytes must be at least 1K");
  expect_error(parse({"--format", "ndjson", "f", "--collection", "c", "--max-import-bytes", "1X"}),
               "--max-import-bytes must be at least 1K");
  // The key goes into the URL's query, which the server does not decode.
  expect_error(parse({"--format", "ndjson", "f", "--collection", "c", "--idempotency-key", "a b"}),
               "--idempotency-key must be 1 to 180 letters");
  expect_error(parse({"--format", "ndjson", "f", "--collection", "c", "--idempotency-key",
                      "a&on_error=abort"}),
               "--idempotency-key must be");
  const std::string longest(kMaxIdempotencyKeyChars, 'k');
  EXPECT_TRUE(parse({"--format", "ndjson", "f", "--collection", "c", "--idempotency-key", longest})
                  .is_ok());
  const std::string too_long = longest + "k";
  expect_error(
      parse({"--format", "ndjson", "f", "--collection", "c", "--idempotency-key", too_long}),
      "--idempotency-key must be");
}

TEST(ImportFormat, NamesRoundTrip) {
  for (ImportFormat f :
       {ImportFormat::kLightragNano, ImportFormat::kNdjson, ImportFormat::kBinary}) {
    EXPECT_EQ(parse_import_format(import_format_name(f)), f);
  }
  EXPECT_EQ(import_format_name(ImportFormat::kLightragNano), "lightrag-nano");
  EXPECT_EQ(import_format_name(ImportFormat::kNdjson), "ndjson");
  EXPECT_EQ(import_format_name(ImportFormat::kBinary), "binary");
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
