// The NanoVectorDB reader against files written by the real packages
// (tests/persistence/nano_vectordb/, made by make_fixtures.py there), random
// files in both forms, and every malformed input.

#include "persistence/nano_vectordb_import.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>

#include "base64_encoder.h"
#include "core/float16.h"
#include "test_seed.h"

namespace vesta::persistence {
namespace {

using nlohmann::json;

const std::string kFixtures = std::string(VESTA_TESTS_DIR) + "/persistence/nano_vectordb/";

json read_json(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return json::parse(text.str());
}

std::string floats_base64(const std::vector<float>& values) {
  return testing::base64_encode(
      std::string_view(reinterpret_cast<const char*>(values.data()), values.size() * 4));
}

// zlib.compress(raw), as Python writes it.
std::string zlib_bytes(std::string_view raw) {
  uLongf size = compressBound(static_cast<uLong>(raw.size()));
  std::string out(size, '\0');
  EXPECT_EQ(compress(reinterpret_cast<Bytef*>(out.data()), &size,
                     reinterpret_cast<const Bytef*>(raw.data()), static_cast<uLong>(raw.size())),
            Z_OK);
  out.resize(size);
  return out;
}

// What LightRAG stores in a point's "vector": base64(zlib(float16 bytes)).
std::string compressed_halves(const std::vector<uint16_t>& halves) {
  return testing::base64_encode(zlib_bytes(
      std::string_view(reinterpret_cast<const char*>(halves.data()), halves.size() * 2)));
}

void expect_error(std::string_view text, const std::string& words) {
  core::Result<NanoVectorDbFile> r = parse_nano_vectordb(text);
  ASSERT_FALSE(r.is_ok()) << "parsed: " << text.substr(0, 300);
  EXPECT_EQ(r.status().code(), core::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find(words), std::string::npos)
      << "message: " << r.status().message() << "\nexpected to contain: " << words;
}

// A file of `points` points of `dim` with ids "p0".. and zero vectors in the matrix.
json file_of(size_t points, uint32_t dim) {
  json doc = {{"embedding_dim", dim}, {"data", json::array()}};
  for (size_t i = 0; i < points; ++i) doc["data"].push_back({{"__id__", "p" + std::to_string(i)}});
  doc["matrix"] = floats_base64(std::vector<float>(points * dim, 0.25f));
  return doc;
}

TEST(NanoVectorDbImport, ReadsTheMatrixFormThatNanoVectorDbWrites) {
  const json expected = read_json(kFixtures + "expected.json")["nano_vectordb_matrix"];
  core::Result<NanoVectorDbFile> r =
      read_nano_vectordb_file(kFixtures + "nano_vectordb_matrix.json");
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  const NanoVectorDbFile& f = r.value();
  EXPECT_EQ(f.dim, 6u);
  EXPECT_EQ(f.vectors_from_field, 0u);
  ASSERT_EQ(f.points.size(), expected["ids"].size());
  for (size_t i = 0; i < f.points.size(); ++i) {
    EXPECT_EQ(f.points[i].id, expected["ids"][i]);
    EXPECT_EQ(f.points[i].payload, json({{"entity_name", expected["entity_names"][i]}}));
    // The same float32 bytes numpy decodes: exact.
    EXPECT_EQ(f.points[i].vector, expected["vectors"][i].get<std::vector<float>>());
  }
  EXPECT_EQ(f.points[3].payload["entity_name"],
            "\xc3\x89"
            "douard Lucas");  // UTF-8 kept
}

TEST(NanoVectorDbImport, ReadsLightRagVectorFieldsAndPrefersThemToTheMatrix) {
  const json expected = read_json(kFixtures + "expected.json")["lightrag_vector_field"];
  core::Result<NanoVectorDbFile> r =
      read_nano_vectordb_file(kFixtures + "lightrag_vector_field.json");
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  const NanoVectorDbFile& f = r.value();
  EXPECT_EQ(f.dim, 8u);
  ASSERT_EQ(f.points.size(), 4u);
  EXPECT_EQ(f.vectors_from_field, 4u);
  const json raw = read_json(kFixtures + "lightrag_vector_field.json");
  for (size_t i = 0; i < f.points.size(); ++i) {
    const NanoPoint& p = f.points[i];
    EXPECT_EQ(p.id, expected["ids"][i]);
    // What LightRAG's own get_vectors_by_ids decodes: the float16 embedding,
    // not the normalised matrix row.
    EXPECT_EQ(p.vector, expected["vectors"][i].get<std::vector<float>>());
    double norm = 0;
    for (float v : p.vector) norm += double{v} * v;
    EXPECT_GT(std::sqrt(norm), 1.5) << "the vector field is not normalised";
    // Every field but __id__ and vector, as it was.
    json payload = raw["data"][i];
    payload.erase("__id__");
    payload.erase("vector");
    EXPECT_EQ(p.payload, payload);
    EXPECT_TRUE(p.payload.contains("__created_at__"));
    EXPECT_TRUE(p.payload.contains("__write_seq__"));
    EXPECT_EQ(p.payload["entity_name"], expected["entity_names"][i]);
    EXPECT_EQ(p.payload["file_path"], "notes.txt");
  }
}

TEST(NanoVectorDbImport, RandomFilesRoundTripInBothForms) {
  std::mt19937_64 rng(testing::test_seed("NanoVectorDbImport.RandomFilesRoundTripInBothForms"));
  std::normal_distribution<float> normal;
  for (const uint32_t dim : {1u, 7u, 33u, 384u}) {
    for (const size_t points : {size_t{1}, size_t{2}, size_t{101}}) {
      std::vector<float> matrix(points * dim);
      for (float& v : matrix) v = normal(rng);
      json doc = {{"embedding_dim", dim}, {"data", json::array()}};
      std::vector<std::vector<float>> want(points);
      size_t with_field = 0;
      for (size_t i = 0; i < points; ++i) {
        json item = {{"__id__", "chunk-" + std::to_string(rng())},
                     {"__created_at__", 1718000000 + i},
                     {"content", "text " + std::to_string(i)}};
        want[i].assign(matrix.begin() + i * dim, matrix.begin() + (i + 1) * dim);
        if (rng() % 2 == 0) {  // this point has its own float16 vector
          std::vector<uint16_t> halves(dim);
          for (uint32_t d = 0; d < dim; ++d) {
            halves[d] = core::float_to_half(normal(rng) * 10);
            want[i][d] = core::half_to_float(halves[d]);
          }
          item["vector"] = compressed_halves(halves);
          ++with_field;
        }
        doc["data"].push_back(item);
      }
      doc["matrix"] = floats_base64(matrix);
      core::Result<NanoVectorDbFile> r = parse_nano_vectordb(doc.dump());
      ASSERT_TRUE(r.is_ok()) << r.status().to_string();
      ASSERT_EQ(r.value().points.size(), points);
      EXPECT_EQ(r.value().vectors_from_field, with_field);
      for (size_t i = 0; i < points; ++i) {
        const NanoPoint& p = r.value().points[i];
        EXPECT_EQ(p.id, doc["data"][i]["__id__"]);
        EXPECT_EQ(p.vector, want[i]) << "dim " << dim << " point " << i;
        EXPECT_EQ(p.payload.size(), 2u);
        EXPECT_EQ(p.payload["content"], doc["data"][i]["content"]);
      }
    }
  }
}

TEST(NanoVectorDbImport, AZeroPointFileHasItsDimensionAndNoPoints) {
  // What NanoVectorDB(4).save() writes before any upsert.
  core::Result<NanoVectorDbFile> r =
      parse_nano_vectordb(R"({"embedding_dim": 4, "data": [], "matrix": ""})");
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r.value().dim, 4u);
  EXPECT_TRUE(r.value().points.empty());
}

TEST(NanoVectorDbImport, OtherTopLevelKeysAreIgnoredAndTheMatrixMayBeAbsentWithVectorFields) {
  const std::string v = compressed_halves({core::float_to_half(1), core::float_to_half(-2)});
  core::Result<NanoVectorDbFile> r = parse_nano_vectordb(
      R"({"embedding_dim": 2, "additional_data": {"x": 1}, "data": [{"__id__": "a", "vector": ")" +
      v + R"("}]})");
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r.value().points[0].vector, (std::vector<float>{1, -2}));
  EXPECT_EQ(r.value().points[0].payload, json::object());
}

TEST(NanoVectorDbImport, TheDocumentErrorsNameTheField) {
  expect_error("", "the file is empty");
  expect_error("{\"embedding_dim\": 4,", "not valid JSON: parse error at line 1, column 21");
  expect_error(R"({"embedding_dim": 4, "data": [{"__id__": "a", "x": NaN}]})", "not valid JSON");
  expect_error("[1, 2]", "must hold a JSON object with embedding_dim, data and matrix, not array");
  expect_error(R"({"data": [], "matrix": ""})", "embedding_dim is missing");
  for (const char* dim : {"0", "-3", "1.5", "\"8\"", "65537", "null"}) {
    expect_error(std::string(R"({"embedding_dim": )") + dim + R"(, "data": [], "matrix": ""})",
                 std::string("embedding_dim must be an integer from 1 to 65536, got ") + dim);
  }
  expect_error(R"({"embedding_dim": 4, "matrix": ""})", "data is missing");
  expect_error(R"({"embedding_dim": 4, "data": {}, "matrix": ""})",
               "data must be an array, got object");
}

TEST(NanoVectorDbImport, ThePointErrorsNameTheIndex) {
  json doc = file_of(18, 4);
  doc["data"][17].erase("__id__");
  expect_error(doc.dump(), "data[17].__id__ is missing");
  doc["data"][17]["__id__"] = 17;
  expect_error(doc.dump(), "data[17].__id__ must be a string, got number");
  doc["data"][17]["__id__"] = "";
  expect_error(doc.dump(), "data[17].__id__: ");
  doc["data"][17]["__id__"] = std::string(257, 'x');
  expect_error(doc.dump(), "data[17].__id__: ");
  doc["data"][17]["__id__"] = "p3";
  expect_error(doc.dump(), "data[17].__id__ 'p3' is the id of data[3] too");
  // The same UUID written two ways is one Vesta id.
  doc["data"][16]["__id__"] = "0123456789abcdef0123456789abcdef";
  doc["data"][17]["__id__"] = "01234567-89ab-cdef-0123-456789ABCDEF";
  expect_error(doc.dump(),
               "data[17].__id__ '01234567-89ab-cdef-0123-456789ABCDEF' is the id of "
               "data[16] too");
  doc["data"][17] = "p17";
  expect_error(doc.dump(), "data[17] must be an object, got string");
}

TEST(NanoVectorDbImport, TheMatrixErrorsSayWhatIsWrong) {
  json doc = file_of(3, 4);
  doc["matrix"] = json::array();
  expect_error(doc.dump(), "matrix must be a base64 string, got array");
  doc["matrix"] = "AAAAA";
  expect_error(doc.dump(), "matrix: base64 text of 5 characters is not a multiple of 4");
  doc["matrix"] = "A===";
  expect_error(doc.dump(), "matrix: bad base64 padding at offset 1");
  doc["matrix"] = "AAAAAAAA";  // 6 bytes
  expect_error(doc.dump(), "matrix holds 6 bytes, not a whole number of float32 values");
  doc["matrix"] = floats_base64(std::vector<float>(8, 1.0f));
  expect_error(doc.dump(),
               "matrix holds 8 float32 values, expected 3 points x embedding_dim 4 = 12");
  std::string text = floats_base64(std::vector<float>(12, 1.0f));
  text[30] = '#';  // in row 1 (bytes 16..31 are characters 21..43)
  doc["matrix"] = text;
  expect_error(doc.dump(), "matrix row 1: bad base64 character '#' at offset 30");
  doc.erase("matrix");
  expect_error(doc.dump(), "data[0] has no \"vector\" and the file has no \"matrix\"");
}

TEST(NanoVectorDbImport, NonFiniteAndOutOfRangeValuesAreErrors) {
  json doc = file_of(2, 4);
  doc["matrix"] = floats_base64({1, 2, 3, 4, 1, 2, std::numeric_limits<float>::quiet_NaN(), 4});
  expect_error(doc.dump(), "matrix row 1 (data[1]): value at position 2 is NaN");
  doc["matrix"] = floats_base64({-std::numeric_limits<float>::infinity(), 2, 3, 4, 1, 2, 3, 4});
  expect_error(doc.dump(), "matrix row 0 (data[0]): value at position 0 is -Inf");
  doc["matrix"] = floats_base64({1, 2, 3, 4, 1, 2, 3, 1e6f});
  expect_error(doc.dump(), "matrix row 1 (data[1]): value at position 3 is 1000000");
  doc["data"][1]["vector"] = compressed_halves({0x3C00, 0x7C00, 0, 0});  // 1, +Inf
  expect_error(doc.dump(), "data[1].vector: value at position 1 is +Inf");
  doc["data"][1]["vector"] = compressed_halves({0x3C00, 0, 0x7E00, 0});  // a NaN
  expect_error(doc.dump(), "data[1].vector: value at position 2 is NaN");
}

TEST(NanoVectorDbImport, TheVectorFieldErrorsSayWhatIsWrong) {
  json doc = file_of(2, 4);
  doc["data"][1]["vector"] = json::array({1, 2, 3, 4});
  expect_error(doc.dump(), "data[1].vector must be a base64 string, got array");
  doc["data"][1]["vector"] = "eJw!";
  expect_error(doc.dump(), "data[1].vector: bad base64 character '!' at offset 3");
  doc["data"][1]["vector"] = testing::base64_encode("not zlib at all");
  expect_error(doc.dump(), "data[1].vector: zlib: incorrect header check");
  const std::vector<uint16_t> four = {0x3C00, 0x4000, 0x4200, 0x4400};
  const std::string z = zlib_bytes(std::string_view(reinterpret_cast<const char*>(four.data()), 8));
  // Without its last 5 bytes (the Adler-32 and one more).
  doc["data"][1]["vector"] = testing::base64_encode(z.substr(0, z.size() - 5));
  expect_error(doc.dump(), "data[1].vector: zlib: the compressed data is truncated");
  doc["data"][1]["vector"] = testing::base64_encode(z + "xyz");
  expect_error(doc.dump(), "data[1].vector: 3 bytes after the end of the zlib stream");
  doc["data"][1]["vector"] = compressed_halves({0x3C00, 0x4000, 0x4200});
  expect_error(doc.dump(), "data[1].vector holds 3 float16 values, expected embedding_dim 4");
  doc["data"][1]["vector"] = compressed_halves({0x3C00, 0x4000, 0x4200, 0x4400, 0x4500});
  expect_error(doc.dump(),
               "data[1].vector decompresses to more float16 values than embedding_dim 4");
  doc["data"][1]["vector"] = testing::base64_encode(zlib_bytes("\x01\x02\x03\x04\x05\x06\x07"));
  expect_error(doc.dump(),
               "data[1].vector decompresses to 7 bytes, not a whole number of float16 values");
}

TEST(NanoVectorDbImport, AFileThatCannotBeReadIsAnError) {
  core::Result<NanoVectorDbFile> r = read_nano_vectordb_file(kFixtures + "no-such-file.json");
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("cannot open"), std::string::npos) << r.status().message();
  r = read_nano_vectordb_file(kFixtures);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("not a regular file"), std::string::npos)
      << r.status().message();
}

}  // namespace
}  // namespace vesta::persistence
