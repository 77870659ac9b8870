// Option parsing of `vesta bench` (the run itself is tested end to end by
// tests/compat/test_bench.py against a real `vesta serve`).

#include "loadgen/bench_command.h"

#include <gtest/gtest.h>

namespace vesta::loadgen {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

core::Result<BenchOptions> parse(std::vector<std::string_view> args) {
  return parse_bench_options(args);
}

void expect_error(const core::Result<BenchOptions>& r, const std::string& words) {
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find(words), std::string::npos) << r.status().message();
}

TEST(BenchOptions, DefaultsAndEveryFlag) {
  auto d = parse({"--collection", "docs"});
  ASSERT_TRUE(d.is_ok()) << d.status().to_string();
  EXPECT_EQ(d.value().url, "http://127.0.0.1:6333");
  EXPECT_EQ(d.value().concurrency, 64u);
  EXPECT_EQ(d.value().duration, seconds(10));
  EXPECT_EQ(d.value().mode, BenchOptions::Mode::kJson);
  EXPECT_EQ(d.value().k, 10u);
  EXPECT_EQ(d.value().batch, 1u);
  EXPECT_EQ(d.value().upload, BenchOptions::Upload::kJson);
  auto o = parse({"--upload",
                  "import",
                  "--url",
                  "http://10.0.0.1:7000",
                  "--collection",
                  "c",
                  "--create",
                  "--dim",
                  "768",
                  "--points",
                  "100000",
                  "--distance",
                  "Euclid",
                  "--concurrency",
                  "8",
                  "--requests",
                  "500",
                  "--mode",
                  "binary",
                  "--batch",
                  "4",
                  "--k",
                  "20",
                  "--recall",
                  "--report",
                  "out.json",
                  "--seed",
                  "7",
                  "--api-key",
                  "key"});
  ASSERT_TRUE(o.is_ok()) << o.status().to_string();
  EXPECT_TRUE(o.value().create);
  EXPECT_EQ(o.value().dim, 768u);
  EXPECT_EQ(o.value().points, 100000u);
  EXPECT_EQ(o.value().metric, index::Metric::kEuclid);
  EXPECT_EQ(o.value().requests, 500u);
  EXPECT_FALSE(o.value().duration.has_value());
  EXPECT_EQ(o.value().mode, BenchOptions::Mode::kBinary);
  EXPECT_EQ(o.value().batch, 4u);
  EXPECT_EQ(o.value().k, 20u);
  EXPECT_TRUE(o.value().recall);
  EXPECT_EQ(o.value().report_path, "out.json");
  EXPECT_EQ(o.value().seed, 7u);
  EXPECT_EQ(o.value().api_key, "key");
  EXPECT_EQ(o.value().upload, BenchOptions::Upload::kImport);
}

TEST(BenchOptions, ErrorsNameTheFlag) {
  expect_error(parse({}), "--collection is required");
  expect_error(parse({"--collection", "c", "--create"}), "--create needs --dim");
  expect_error(parse({"--collection", "c", "--dim", "4"}), "--dim is only used with --create");
  expect_error(parse({"--collection", "c", "--recall"}), "--recall needs --create");
  expect_error(parse({"--collection", "c", "--duration", "1s", "--requests", "5"}), "not both");
  expect_error(parse({"--collection", "c", "--mode", "xml"}), "--mode must be json or binary");
  expect_error(parse({"--collection", "c", "--upload", "csv"}), "--upload must be json or import");
  expect_error(parse({"--collection", "c", "--k", "0"}), "--k must be an integer from 1 to 1024");
  expect_error(parse({"--collection", "c", "--concurrency", "x"}), "--concurrency");
  expect_error(parse({"--collection", "c", "--distance", "L1"}), "--distance");
  expect_error(parse({"--collection", "c", "--duration", "soon"}), "--duration");
  expect_error(parse({"--collection"}), "--collection needs a value");
  expect_error(parse({"--collection", "c", "--fast"}), "unknown bench option '--fast'");
}

TEST(BenchOptions, Durations) {
  EXPECT_EQ(parse_duration("10s"), seconds(10));
  EXPECT_EQ(parse_duration("10"), seconds(10));
  EXPECT_EQ(parse_duration("1.5s"), milliseconds(1500));
  EXPECT_EQ(parse_duration("500ms"), milliseconds(500));
  EXPECT_EQ(parse_duration("2m"), seconds(120));
  for (const char* bad : {"", "s", "0s", "-1s", "1h", "1 s", "nan", "inf"}) {
    EXPECT_FALSE(parse_duration(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace vesta::loadgen
