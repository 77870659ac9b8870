// ImportSplitter: NDJSON and binary import files cut into parts that fit a
// body limit, checked by reading every part back the way the server does
// (server/import_jobs.cpp) and comparing the points, in order, with the
// file's.

#include "importer/import_splitter.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "test_seed.h"

namespace vesta::importer {
namespace {

using Format = ImportSplitter::Format;

bool blank(std::string_view line) {
  return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

// The points of an NDJSON body as the server sees them: its non-blank lines,
// each with its 1-based line number in that body.
std::vector<std::pair<uint64_t, std::string>> ndjson_points(std::string_view body) {
  std::vector<std::pair<uint64_t, std::string>> out;
  uint64_t line = 1;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t stop = body.find('\n', pos);
    if (stop == std::string_view::npos) stop = body.size();
    const std::string_view text = body.substr(pos, stop - pos);
    if (!blank(text)) out.emplace_back(line, std::string(text));
    pos = stop + 1;
    ++line;
  }
  return out;
}

// Random NDJSON: point lines of 1 to `max_line` bytes of filler, blank lines
// (empty, spaces, "\r") among them, CRLF endings on some, and the last line
// with or without its '\n'.
std::string random_ndjson(std::mt19937_64& rng, size_t lines, size_t max_line) {
  std::uniform_int_distribution<size_t> length(1, max_line);
  std::uniform_int_distribution<int> kind(0, 9);
  std::string out;
  for (size_t i = 0; i < lines; ++i) {
    const int k = kind(rng);
    if (k == 0) {
      out += "";
    } else if (k == 1) {
      out += "  \r";
    } else {
      std::string line = "{\"id\":" + std::to_string(i) + ",\"x\":\"";
      line += std::string(length(rng), static_cast<char>('a' + i % 26));
      line += "\"}";
      if (k == 2) line += '\r';
      out += line;
    }
    if (i + 1 < lines || kind(rng) < 5) out += '\n';
  }
  return out;
}

// Checks every part against the limit and the file: its body is exactly its
// lines, its numbering maps each body line to the same file line, and the
// parts' points, concatenated, are the file's points.
void check_ndjson_round_trip(const std::string& file, uint64_t limit) {
  core::Result<ImportSplitter> split = ImportSplitter::split(Format::kNdjson, file, limit);
  ASSERT_TRUE(split.is_ok()) << split.status().to_string();
  const ImportSplitter& s = split.value();
  const auto expected = ndjson_points(file);
  std::vector<std::pair<uint64_t, std::string>> got;
  uint64_t points = 0;
  for (size_t k = 0; k < s.parts().size(); ++k) {
    const ImportPart& part = s.parts()[k];
    const std::string body = s.body(k);
    EXPECT_EQ(body.size(), part.body_bytes);
    EXPECT_LE(body.size(), limit) << "part " << k;
    EXPECT_GT(part.points, 0u) << "a part of blank lines only is no job";
    EXPECT_EQ(body, file.substr(part.offset, part.bytes));
    const auto in_part = ndjson_points(body);
    EXPECT_EQ(in_part.size(), part.points);
    points += part.points;
    for (const auto& [line, text] : in_part) got.emplace_back(s.file_position(k, line), text);
  }
  EXPECT_EQ(points, expected.size());
  EXPECT_EQ(s.points(), expected.size());
  EXPECT_EQ(got, expected);
  if (file.size() <= limit && !expected.empty()) {
    ASSERT_EQ(s.parts().size(), 1u);
    EXPECT_EQ(s.body(0), file);
  }
}

TEST(ImportSplitter, NdjsonPartsAreWholeLinesUnderTheLimitAndGiveBackEveryPoint) {
  std::mt19937_64 rng(testing::test_seed(
      "ImportSplitter.NdjsonPartsAreWholeLinesUnderTheLimitAndGiveBackEveryPoint"));
  for (size_t lines : {1, 2, 31, 33, 1000, 5000}) {
    const std::string file = random_ndjson(rng, lines, 200);
    for (uint64_t limit : {uint64_t{240}, uint64_t{241}, uint64_t{1000}, uint64_t{4099},
                           uint64_t{65536}, uint64_t{file.size()}, uint64_t{file.size() + 1}}) {
      SCOPED_TRACE("lines " + std::to_string(lines) + ", limit " + std::to_string(limit));
      check_ndjson_round_trip(file, limit);
    }
  }
}

TEST(ImportSplitter, NdjsonLineExactlyAtTheLimitFitsAndOneByteMoreIsNamed) {
  const std::string line = R"({"id":1,"vector":[0.5]})";
  const std::string file = line + "\n" + line + "\n";
  // Each part holds one line and its '\n'.
  check_ndjson_round_trip(file, line.size() + 1);
  core::Result<ImportSplitter> split =
      ImportSplitter::split(Format::kNdjson, "\n\n" + file, line.size());
  ASSERT_FALSE(split.is_ok());
  EXPECT_EQ(split.status().message(),
            "line 3 is " + std::to_string(line.size() + 1) +
                " bytes, more than one import request may carry (--max-import-bytes " +
                std::to_string(line.size()) + ")");
}

TEST(ImportSplitter, NdjsonOfBlankLinesOnlyHasNoParts) {
  core::Result<ImportSplitter> split = ImportSplitter::split(Format::kNdjson, "\n \n\r\n", 1024);
  ASSERT_TRUE(split.is_ok());
  EXPECT_TRUE(split.value().parts().empty());
  EXPECT_TRUE(ImportSplitter::split(Format::kNdjson, "", 1024).value().parts().empty());
}

TEST(ImportSplitter, JobMessagesAreRenumberedToTheFile) {
  std::string file;
  for (int i = 0; i < 10; ++i) file += "{\"id\":" + std::to_string(i) + "}\n";
  // 9 bytes a line: two lines a part, so part 2 starts at line 5.
  core::Result<ImportSplitter> split = ImportSplitter::split(Format::kNdjson, file, 18);
  ASSERT_TRUE(split.is_ok());
  ASSERT_EQ(split.value().parts().size(), 5u);
  EXPECT_EQ(split.value().parts()[2].first, 5u);
  EXPECT_EQ(split.value().file_position(2, 2), 6u);
  EXPECT_EQ(split.value().in_file_terms(2, "line 2: vector is required"),
            "line 6: vector is required");
  EXPECT_EQ(split.value().in_file_terms(2, "line 1: x (on_error=abort; ...)"),
            "line 5: x (on_error=abort; ...)");
  EXPECT_EQ(split.value().in_file_terms(2, "the collection's size is now 3"),
            "the collection's size is now 3");
  EXPECT_EQ(split.value().in_file_terms(2, "line x"), "line x");
}

// ------------------------------------------------------------------ binary

struct BinaryRows {
  uint8_t dtype = 0;
  uint32_t dim = 0;
  std::vector<uint64_t> ids;
  std::vector<std::string> values;  // per row, its dim values' bytes
  bool payloads = false;
  std::string payload_ndjson;  // the section, exactly as written
};

std::string encode(const BinaryRows& r) {
  server::BinaryImportHeader h;
  h.dtype = r.dtype;
  h.payloads = r.payloads;
  h.dim = r.dim;
  h.rows = r.ids.size();
  std::string out = server::encode_binary_import_header(h);
  for (uint64_t id : r.ids) out.append(reinterpret_cast<const char*>(&id), 8);
  for (const std::string& v : r.values) out += v;
  if (r.payloads) {
    const uint64_t n = r.payload_ndjson.size();
    out.append(reinterpret_cast<const char*>(&n), 8);
    out += r.payload_ndjson;
  }
  return out;
}

// A body's points as the server reads them: (id, value bytes, payload line),
// the payload line of row i being the section's line i ("" past its end).
struct BinaryPoint {
  uint64_t id;
  std::string values;
  std::string payload;
  bool operator==(const BinaryPoint&) const = default;
};

std::vector<BinaryPoint> decode(std::string_view body) {
  core::Result<server::BinaryImportHeader> read = server::read_binary_import_header(body);
  EXPECT_TRUE(read.is_ok()) << read.status().to_string();
  if (!read.is_ok()) return {};
  const server::BinaryImportHeader h = read.value();
  const std::string_view section =
      h.payloads ? body.substr(h.payloads_offset, h.payload_bytes) : std::string_view();
  std::vector<BinaryPoint> out;
  size_t payload = 0;
  const uint64_t row_bytes = uint64_t{h.dim} * h.value_bytes();
  for (uint64_t row = 0; row < h.rows; ++row) {
    BinaryPoint p{};
    std::memcpy(&p.id, body.data() + h.ids_offset + row * 8, 8);
    p.values = std::string(body.substr(h.values_offset + row * row_bytes, row_bytes));
    if (h.payloads) {
      size_t stop = section.find('\n', payload);
      if (stop == std::string_view::npos) stop = section.size();
      if (payload <= section.size())
        p.payload = std::string(section.substr(payload, stop - payload));
      payload = stop + 1;
    }
    out.push_back(std::move(p));
  }
  return out;
}

BinaryRows random_rows(std::mt19937_64& rng, size_t rows, uint32_t dim, uint8_t dtype,
                       bool payloads) {
  BinaryRows r;
  r.dtype = dtype;
  r.dim = dim;
  r.payloads = payloads;
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> kind(0, 9);
  std::uniform_int_distribution<size_t> length(0, 120);
  for (size_t i = 0; i < rows; ++i) {
    r.ids.push_back(rng());
    std::string v(size_t{dim} * (dtype == 0 ? 4 : 2), '\0');
    for (char& c : v) c = static_cast<char>(byte(rng));
    r.values.push_back(std::move(v));
    if (payloads) {
      const int k = kind(rng);
      if (k == 0) {
        r.payload_ndjson += "\n";  // no payload
      } else {
        r.payload_ndjson += "{\"i\":" + std::to_string(i) + ",\"t\":\"" +
                            std::string(length(rng), 'p') + "\"}" + (k == 1 ? "\r\n" : "\n");
      }
    }
  }
  return r;
}

void check_binary_round_trip(const std::string& file, uint64_t limit) {
  core::Result<ImportSplitter> split = ImportSplitter::split(Format::kBinary, file, limit);
  ASSERT_TRUE(split.is_ok()) << split.status().to_string();
  const ImportSplitter& s = split.value();
  const std::vector<BinaryPoint> expected = decode(file);
  std::vector<BinaryPoint> got;
  uint64_t next_row = 0;
  for (size_t k = 0; k < s.parts().size(); ++k) {
    const ImportPart& part = s.parts()[k];
    const std::string body = s.body(k);
    EXPECT_EQ(body.size(), part.body_bytes) << "part " << k;
    EXPECT_LE(body.size(), limit) << "part " << k;
    EXPECT_EQ(part.first, next_row);
    EXPECT_EQ(s.file_position(k, 0), next_row);
    next_row += part.count;
    const std::vector<BinaryPoint> in_part = decode(body);
    EXPECT_EQ(in_part.size(), part.points);
    got.insert(got.end(), in_part.begin(), in_part.end());
  }
  EXPECT_EQ(s.points(), expected.size());
  EXPECT_EQ(got, expected);
  if (file.size() <= limit && !expected.empty()) {
    ASSERT_EQ(s.parts().size(), 1u);
    EXPECT_EQ(s.body(0), file);
  }
}

TEST(ImportSplitter, BinaryPartsRewriteTheHeaderAndSliceIdsValuesAndPayloads) {
  std::mt19937_64 rng(
      testing::test_seed("ImportSplitter.BinaryPartsRewriteTheHeaderAndSliceIdsValuesAndPayloads"));
  for (size_t rows : {1, 2, 33, 1000}) {
    for (uint32_t dim : {1u, 3u, 33u}) {
      for (uint8_t dtype : {uint8_t{0}, uint8_t{1}}) {
        for (bool payloads : {false, true}) {
          const std::string file = encode(random_rows(rng, rows, dim, dtype, payloads));
          for (uint64_t limit : {uint64_t{1024}, uint64_t{1500}, uint64_t{8192},
                                 uint64_t{file.size()}, uint64_t{file.size() - 1}}) {
            if (limit < 1024) continue;
            SCOPED_TRACE("rows " + std::to_string(rows) + ", dim " + std::to_string(dim) +
                         ", dtype " + std::to_string(dtype) + ", payloads " +
                         std::to_string(payloads) + ", limit " + std::to_string(limit));
            check_binary_round_trip(file, limit);
          }
        }
      }
    }
  }
}

TEST(ImportSplitter, BinaryPayloadSectionsThatEndEarlyOrLateSplitAsTheServerReadsThem) {
  std::mt19937_64 rng(testing::test_seed(
      "ImportSplitter.BinaryPayloadSectionsThatEndEarlyOrLateSplitAsTheServerReadsThem"));
  BinaryRows r = random_rows(rng, 300, 4, 0, true);
  // The last line without its '\n'.
  BinaryRows no_newline = r;
  no_newline.payload_ndjson.pop_back();
  // Lines for the first 100 rows only: the others have no payload.
  BinaryRows short_section = r;
  size_t cut = 0;
  for (int i = 0; i < 100; ++i) cut = short_section.payload_ndjson.find('\n', cut) + 1;
  short_section.payload_ndjson.resize(cut);
  // ... and that without its last '\n'.
  BinaryRows short_no_newline = short_section;
  short_no_newline.payload_ndjson.pop_back();
  // More lines than rows: the extra ones are not read.
  BinaryRows long_section = r;
  long_section.payload_ndjson += "{\"extra\":1}\n{\"extra\":2}";
  // No lines at all.
  BinaryRows empty_section = r;
  empty_section.payload_ndjson.clear();
  for (const BinaryRows* rows :
       {&no_newline, &short_section, &short_no_newline, &long_section, &empty_section}) {
    const std::string file = encode(*rows);
    for (uint64_t limit : {uint64_t{1024}, uint64_t{2000}, uint64_t{5000}}) {
      SCOPED_TRACE("section of " + std::to_string(rows->payload_ndjson.size()) + " bytes, limit " +
                   std::to_string(limit));
      check_binary_round_trip(file, limit);
    }
  }
}

TEST(ImportSplitter, BinaryRowTooLargeForAnyPartIsNamed) {
  BinaryRows r;
  r.dim = 300;  // 1,200 bytes of float32 values a row
  r.ids = {7};
  r.values = {std::string(1200, '\0')};
  core::Result<ImportSplitter> split = ImportSplitter::split(Format::kBinary, encode(r), 1024);
  ASSERT_FALSE(split.is_ok());
  EXPECT_EQ(split.status().message(),
            "row 0 takes 1208 bytes with its payload; with the header that is more than one "
            "import request may carry (--max-import-bytes 1024)");
}

TEST(ImportSplitter, BinaryFileTheServerWouldRefuseIsRefusedBeforeSending) {
  BinaryRows r;
  r.dim = 2;
  r.ids = {1, 2};
  r.values = {std::string(8, '\0'), std::string(8, '\0')};
  std::string file = encode(r);
  file.pop_back();
  core::Result<ImportSplitter> split = ImportSplitter::split(Format::kBinary, file, 1 << 20);
  ASSERT_FALSE(split.is_ok());
  EXPECT_NE(split.status().message().find("does not fit"), std::string::npos)
      << split.status().message();
  EXPECT_FALSE(ImportSplitter::split(Format::kBinary, "VIMQ", 1 << 20).is_ok());
  BinaryRows none;
  none.dim = 4;
  EXPECT_TRUE(
      ImportSplitter::split(Format::kBinary, encode(none), 1 << 20).value().parts().empty());
}

TEST(ImportSplitter, BinaryMessagesAreRenumberedByRow) {
  std::mt19937_64 rng(testing::test_seed("ImportSplitter.BinaryMessagesAreRenumberedByRow"));
  const std::string file = encode(random_rows(rng, 100, 8, 0, false));
  // 40 bytes a row: 25 rows a part under 1 KiB.
  core::Result<ImportSplitter> split = ImportSplitter::split(Format::kBinary, file, 1024);
  ASSERT_TRUE(split.is_ok());
  const ImportSplitter& s = split.value();
  ASSERT_GT(s.parts().size(), 2u);
  const uint64_t first = s.parts()[2].first;
  EXPECT_EQ(first, 2 * s.parts()[0].count);
  EXPECT_EQ(s.in_file_terms(2, "row 3: vector[0] is NaN"),
            "row " + std::to_string(first + 3) + ": vector[0] is NaN");
  EXPECT_EQ(s.in_file_terms(2, "line 3: x"), "line 3: x");
}

}  // namespace
}  // namespace vesta::importer
