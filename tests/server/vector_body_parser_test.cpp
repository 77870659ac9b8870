// VectorBodyParser against the reference path it replaces (parse_json_body,
// then vector_from_json): the same accepted bodies, bit-identical floats and
// the same errors, on random and adversarial bodies; then the REST handlers
// with the reader on and off, answer for answer.

#include "server/vector_body_parser.h"

#include <gtest/gtest.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "core/lock_manager.h"
#include "core/thread_pool.h"
#include "index/collection_registry.h"
#include "index/cpu_searcher.h"
#include "server/json_codec.h"
#include "server/rest_api.h"

namespace vesta::server {
namespace {

using nlohmann::json;

// The parsers of the routes (rest_api.cpp uses the same paths).
const VectorBodyParser kSearch{"vector"};
const VectorBodyParser kSearchBatch{"searches[].vector"};
const VectorBodyParser kQuery{"query", "query.nearest"};
const VectorBodyParser kQueryBatch{"searches[].query", "searches[].query.nearest"};
const VectorBodyParser kUpsert{"points[].vector", "batch.vectors[]"};

uint32_t bits_of(float f) {
  uint32_t b = 0;
  std::memcpy(&b, &f, sizeof(b));
  return b;
}

// What a parse came to: a DOM, an error Status, or an exception (nlohmann's
// number overflow escapes parse_json_body; the reader must keep that).
struct Outcome {
  std::optional<json> dom;
  std::string error;
  std::string exception;
};

template <typename Parse>
Outcome outcome_of(Parse&& parse) {
  Outcome o;
  try {
    core::Result<json> r = parse();
    if (r.is_ok()) {
      o.dom = std::move(r).value();
    } else {
      o.error = r.status().message();
    }
  } catch (const std::exception& e) {
    o.exception = e.what();
  }
  return o;
}

// Asserts that `fast` (the reader's DOM) is `reference` (parse_json_body's)
// with some arrays packed, each to the floats vector_from_json reads from the
// reference array, bit for bit. Counts the packed vectors.
void expect_equivalent(const json& reference, const json& fast, const std::string& where,
                       size_t* packed) {
  if (fast.is_binary()) {
    ++*packed;
    ASSERT_TRUE(reference.is_array()) << where << ": packed, but the reference is " << reference;
    core::Result<std::vector<float>> want = vector_from_json(reference, where, "");
    core::Result<std::vector<float>> got = vector_from_json(fast, where, "");
    ASSERT_TRUE(want.is_ok()) << where << ": packed, but the reference says "
                              << want.status().message();
    ASSERT_TRUE(got.is_ok());
    ASSERT_EQ(want.value().size(), got.value().size()) << where;
    for (size_t i = 0; i < want.value().size(); ++i) {
      ASSERT_EQ(bits_of(want.value()[i]), bits_of(got.value()[i]))
          << where << "[" << i << "]: " << reference[i].dump() << " -> " << want.value()[i]
          << " vs " << got.value()[i];
    }
    return;
  }
  ASSERT_EQ(reference.type(), fast.type()) << where;
  if (reference.is_object()) {
    ASSERT_EQ(reference.size(), fast.size()) << where;
    for (const auto& [key, value] : reference.items()) {
      ASSERT_TRUE(fast.contains(key)) << where << "." << key;
      expect_equivalent(value, fast.at(key), where + "." + key, packed);
    }
  } else if (reference.is_array()) {
    ASSERT_EQ(reference.size(), fast.size()) << where;
    for (size_t i = 0; i < reference.size(); ++i) {
      expect_equivalent(reference[i], fast[i], where + "[" + std::to_string(i) + "]", packed);
    }
  } else {
    // dump() also tells 0 from -0.0 and 1 from 1.0.
    ASSERT_EQ(reference.dump(), fast.dump()) << where;
  }
}

// Parses `body` both ways and asserts the same outcome; returns how many
// vectors the reader packed.
size_t expect_same_as_reference(const VectorBodyParser& parser, const std::string& body) {
  SCOPED_TRACE("body: " + body.substr(0, 400));
  const Outcome reference = outcome_of([&] { return parse_json_body(body); });
  const Outcome fast = outcome_of([&] { return parser.parse(body); });
  EXPECT_EQ(reference.exception, fast.exception);
  EXPECT_EQ(reference.error, fast.error);
  EXPECT_EQ(reference.dom.has_value(), fast.dom.has_value());
  size_t packed = 0;
  if (reference.dom && fast.dom) expect_equivalent(*reference.dom, *fast.dom, "body", &packed);
  return packed;
}

// Random number text in the forms clients write.
class NumberText {
 public:
  explicit NumberText(uint64_t seed) : rng_(seed) {}

  std::string next() {
    std::normal_distribution<float> normal(0.0f, 0.1f);
    const float f = normal(rng_);
    char text[64];
    switch (pick(9)) {
      case 0: {  // Python's repr of a float32 embedding value (17 digits)
        auto r = std::to_chars(text, text + sizeof(text), static_cast<double>(f));
        return {text, r.ptr};
      }
      case 1: {  // shortest float32
        auto r = std::to_chars(text, text + sizeof(text), f);
        return {text, r.ptr};
      }
      case 2:  // many digits, exactly as printf rounds them
        std::snprintf(text, sizeof(text), "%.*f", static_cast<int>(pick(30)), f);
        return text;
      case 3: {  // exponent forms, both letter cases, the exponent's sign sometimes left out
        std::snprintf(text, sizeof(text), pick(2) == 0 ? "%.*e" : "%.*E",
                      static_cast<int>(pick(20)),
                      f * std::pow(10.0f, static_cast<float>(pick(60)) - 30.0f));
        std::string out = text;
        const size_t sign = out.find_first_of("eE") + 1;
        if (out[sign] == '+' && pick(2) == 0) out.erase(sign, 1);
        return out;
      }
      case 4:  // integers, some past 2^24, 2^53 and 64 bits
        return integer_text();
      case 5: {  // halfway between two floats, and a hair either side
        const float a = f;
        const float b = std::nextafter(a, 1.0f);
        const double mid = (static_cast<double>(a) + static_cast<double>(b)) / 2;
        const double nudged = pick(3) == 0 ? mid : std::nextafter(mid, pick(2) == 0 ? 1.0 : -1.0);
        auto r = std::to_chars(text, text + sizeof(text), nudged, std::chars_format::scientific,
                               static_cast<int>(16 + pick(8)));
        return {text, r.ptr};
      }
      case 6:  // zeros
        return std::vector<std::string>{"0", "-0", "0.0", "-0.0", "0e0", "-0E-0", "0.000"}[pick(7)];
      case 7:  // tiny and large, near float32's and float16's ends (all within float32)
        return std::vector<std::string>{"1e-45",
                                        "1e-46",
                                        "1.4e-45",
                                        "7e-46",
                                        "1e-38",
                                        "1.17549435e-38",
                                        "65504",
                                        "65505",
                                        "65520",
                                        "1e38",
                                        "3.4028234663852886e38",
                                        "-3.4028234e38",
                                        "1e-320"}[pick(13)];
      default: {  // float32 bits at random, as shortest double text
        uint32_t b = static_cast<uint32_t>(rng_());
        float g = 0;
        std::memcpy(&g, &b, sizeof(g));
        if (!std::isfinite(g)) g = 0.5f;
        auto r = std::to_chars(text, text + sizeof(text), static_cast<double>(g));
        return {text, r.ptr};
      }
    }
  }

  std::string integer_text() {
    switch (pick(5)) {
      case 0: return std::to_string(static_cast<int64_t>(rng_() % 2001) - 1000);
      case 1: return std::to_string((uint64_t{1} << 24) + pick(5));
      case 2: return std::to_string((uint64_t{1} << 53) + pick(5));
      case 3:
        return std::vector<std::string>{"18446744073709551615", "18446744073709551616",
                                        "-9223372036854775808", "-9223372036854775809",
                                        "123456789012345678901234567890"}[pick(5)];
      default: return "-" + std::to_string(rng_() >> pick(64));
    }
  }

  // Whitespace JSON allows, sometimes none.
  std::string space() {
    static constexpr const char* kSpaces[] = {"", "", "", " ", "\n", "\t", "\r\n  "};
    return kSpaces[pick(7)];
  }

  size_t pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }
  std::mt19937_64& rng() { return rng_; }

 private:
  std::mt19937_64 rng_;
};

std::string vector_text(NumberText& numbers, size_t dim) {
  std::string out = "[" + numbers.space();
  for (size_t i = 0; i < dim; ++i) {
    if (i > 0) out += numbers.space() + "," + numbers.space();
    out += numbers.next();
  }
  return out + numbers.space() + "]";
}

uint64_t test_seed() {
  const uint64_t seed = std::random_device{}();
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  return seed;
}

TEST(VectorBodyParser, RandomVectorsAreBitIdenticalToTheReferencePath) {
  const uint64_t seed = test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  NumberText numbers(seed);
  size_t packed = 0;
  for (size_t dim : {1, 3, 33, 768}) {
    for (int round = 0; round < 20; ++round) {
      const std::string v = vector_text(numbers, dim);
      const std::string s = numbers.space();
      packed += expect_same_as_reference(
          kSearch, "{" + s + "\"vector\"" + s + ":" + s + v + s + ",\"limit\":10}");
      packed += expect_same_as_reference(
          kSearchBatch,
          "{\"searches\":[{\"vector\":" + v + "},{\"limit\":3," + s + "\"vector\":" + v + "}]}");
      packed += expect_same_as_reference(kQuery, "{\"query\":" + v + "}");
      packed += expect_same_as_reference(kQuery, "{\"query\":{\"nearest\":" + v + "}}");
      packed += expect_same_as_reference(kQueryBatch, "{\"searches\":[{\"query\":" + v +
                                                          "},{\"query\":{\"nearest\":" + v +
                                                          "}},{\"limit\":1}]}");
      packed += expect_same_as_reference(
          kUpsert, "{\"points\":[{\"id\":1,\"vector\":" + v + ",\"payload\":{\"a\":[1,2]}}]}");
      packed += expect_same_as_reference(
          kUpsert, "{\"batch\":{\"ids\":[1,2],\"vectors\":[" + v + "," + v + "]}}");
      if (HasFatalFailure()) return;
    }
  }
  // Every number here is within float32's range: the reader took every vector.
  EXPECT_EQ(packed, 4u * 20 * 10);
}

TEST(VectorBodyParser, AdversarialNumbersMatchTheReferencePath) {
  const std::vector<std::string> numbers = {
      // Values: signs, zeros, float32's and float16's edges, double's.
      "-0", "-0.0", "0", "0e0", "-0e-0", "1e-45", "1e-46", "7.006492321624085e-46", "65504",
      "65505", "65519.99", "65520", "-65505", "1e6", "1e38", "1e39", "-1e39",
      "3.4028234663852886e+38", "3.4028235e38", "3.4028235677973366e+38", "3.5e38", "1e308",
      "1.7976931348623157e308", "1e309", "1e400", "-1e400", "1e-320", "1e-400", "4.9e-324",
      "18446744073709551615", "18446744073709551616", "9223372036854775807", "-9223372036854775808",
      "-9223372036854775809", "9007199254740993", "16777217", "0.1", "1E5", "1e+5", "1.0e-5",
      "1.00000005960464477539062499999", "1.000000059604644775390625",
      "1.00000005960464477539062500001",
      "0.10000000000000000555111512312578270211815834045410156250001", "1" + std::string(400, '0'),
      "0." + std::string(400, '0') + "1", "123456789012345678901234567890e-20",
      // Not JSON numbers, or not numbers at all.
      "01", "-01", "00", "+1", ".5", "1.", "-.5", "1e", "1e+", "1E-", "-", "--1", "0x10", "NaN",
      "nan", "Infinity", "-Infinity", "inf", "1.5.2", "1e5e5", "1_000", "1 2", "true", "false",
      "null", "\"1\"", "[1]", "[]", "{}", "{\"a\":1}", "[[1,2]]", "", " ", "1,", ",1", "1]",
      "\"\\u0031\""};
  for (const std::string& x : numbers) {
    expect_same_as_reference(kSearch, "{\"vector\": [0.5, " + x + ", 0.25], \"limit\": 1}");
    expect_same_as_reference(kSearch, "{\"vector\": [" + x + "]}");
    expect_same_as_reference(kSearch, "{\"vector\": " + x + "}");
    expect_same_as_reference(kQuery, "{\"query\": {\"nearest\": [" + x + ", 1]}}");
    expect_same_as_reference(kUpsert, "{\"points\": [{\"id\": 1, \"vector\": [1, 2]}, {\"id\": " +
                                          x + ", \"vector\": [1, " + x + "]}]}");
    expect_same_as_reference(kUpsert, "{\"batch\": {\"ids\": [1], \"vectors\": [[" + x + "]]}}");
    if (HasFatalFailure()) return;
  }
}

TEST(VectorBodyParser, StructureKeysAndTypesMatchTheReferencePath) {
  const std::vector<std::string> bodies = {
      // Whitespace everywhere JSON allows it, and none.
      " \t\r\n{ \"vector\" : [ 1 , 2.5 ,-3e1 ] , \"limit\" : 3 } \n",
      "{\"vector\":[1,2,3],\"limit\":3}",
      // Duplicate keys: the last one counts, whatever the first was.
      "{\"vector\": [1, 2], \"vector\": [3, 4, 5]}",
      "{\"vector\": \"x\", \"vector\": [3, 4]}",
      "{\"vector\": [3, 4], \"vector\": \"x\"}",
      "{\"vector\": [1, 1e39], \"vector\": [2]}",
      // Wrong types where a vector belongs, and nested arrays.
      "{\"vector\": null}",
      "{\"vector\": true}",
      "{\"vector\": \"1,2\"}",
      "{\"vector\": {\"nearest\": [1, 2]}}",
      "{\"vector\": [[1, 2], [3, 4]]}",
      "{\"vector\": [1, [2]]}",
      "{\"vector\": [1, null]}",
      "{\"vector\": [1, \"2\"]}",
      "{\"vector\": [1, {}]}",
      "{\"vector\": [1, true]}",
      "{\"vector\": []}",
      "{\"vector\": [ ]}",
      // Keys: escaped, non-ASCII, control characters, empty.
      "{\"vec\\u0074or\": [1, 2]}",
      "{\"vector\\u0000\": [1, 2]}",
      "{\"v\\u00e9ctor\": [1]}",
      "{\"vécteur\": [1], \"vector\": [2]}",
      "{\"\": [1], \"vector\": [2]}",
      "{\"vec\ttor\": [1]}",
      "{\"vec\x7ftor\": [1], \"vector\": [2]}",
      "{\"vector\\\"\": [1]}",
      "{\"a\\\\\": 1, \"vector\": [2]}",
      // Not an object, or not only one.
      "[1, 2]",
      "\"vector\"",
      "1",
      "null",
      "{}",
      "{} {}",
      "{}x",
      "{\"vector\": [1]} ,",
      "\xEF\xBB\xBF{\"vector\": [1, 2]}",
      "\xEF\xBB{\"vector\": [1]}",
      // Truncated, unbalanced, trailing commas, missing separators.
      "",
      " ",
      "{",
      "{\"vector\"",
      "{\"vector\":",
      "{\"vector\": [1, 2",
      "{\"vector\": [1, 2]",
      "{\"vector\": [1, 2,]}",
      "{\"vector\": [1 2]}",
      "{\"vector\": [1, 2]]}",
      "{\"vector\": [1, 2}}",
      "{\"vector\" [1]}",
      "{\"vector\": [1],}",
      "{,\"vector\": [1]}",
      "{\"vector\": [1] \"limit\": 1}",
      "{vector: [1]}",
      "{'vector': [1]}",
      // Other members: what nlohmann says about them stands.
      "{\"vector\": [1], \"filter\": {\"must\": [{\"key\": \"a\", \"match\": {\"any\": [1, 2]}}]}}",
      "{\"vector\": [1], \"payload\": \"\\ud800\"}",
      "{\"vector\": [1], \"x\": \"\xff\"}",
      "{\"vector\": [1], \"x\": \"a\nb\"}",
      "{\"vector\": [1], \"x\": tru}",
      "{\"vector\": [1], \"x\": [1e400]}",
      "{\"vector\": [1], \"x\": 1e400}",
      "{\"vector\": [1], \"x\": [[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}",
      "{\"vector\": [1], \"x\": \"]}\\\"[{\"}",
      "{\"vector\": [1], \"x\": {\"vector\": [1]}}",
      "{\"vector\": [1], \"limit\": 1, \"limit\": 2}",
      std::string("{\"vector\": [1]}\0", 16),
      "{\"vector\": [1], \"x\": /* comment */ 1}",
  };
  for (const std::string& body : bodies) {
    expect_same_as_reference(kSearch, body);
    expect_same_as_reference(kQuery, body);
    expect_same_as_reference(kUpsert, body);
    if (HasFatalFailure()) return;
  }
  // A packed vector only where a path says so.
  core::Result<json> parsed = kUpsert.parse(
      R"({"points": [{"id": 1, "vector": [1, 2], "payload": {"vector": [1, 2]}}],
          "vector": [3], "batch": {"vectors": [[4]], "ids": [[5]]}})");
  ASSERT_TRUE(parsed.is_ok());
  const json& body = parsed.value();
  EXPECT_TRUE(body["points"][0]["vector"].is_binary());
  EXPECT_TRUE(body["points"][0]["payload"]["vector"].is_array());
  EXPECT_TRUE(body["vector"].is_array());
  EXPECT_TRUE(body["batch"]["vectors"][0].is_binary());
  EXPECT_TRUE(body["batch"]["ids"][0].is_array());
}

// Every prefix of a body, and bodies with one byte changed: whatever the
// reference says, the reader says.
TEST(VectorBodyParser, TruncatedAndCorruptedBodiesMatchTheReferencePath) {
  const uint64_t seed = test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  const std::string body =
      R"({"searches": [{"vector": [0.5, -1e-3, 2E+2, 0, -0], "limit": 2, "with_payload": true},)"
      R"( {"query": {"nearest": [1, 2.25]}, "vec\u0074or": [1], "filter": {"must": []}}]})";
  for (size_t n = 0; n <= body.size(); ++n) {
    expect_same_as_reference(kSearchBatch, body.substr(0, n));
    expect_same_as_reference(kQueryBatch, body.substr(0, n));
    if (HasFatalFailure()) return;
  }
  const std::string replacements = "{}[]\",:\\ 0123456789.eE+-tx\x01\xC3";
  for (int round = 0; round < 3000; ++round) {
    std::string corrupted = body;
    const int changes = 1 + static_cast<int>(rng() % 3);
    for (int c = 0; c < changes; ++c) {
      corrupted[rng() % corrupted.size()] = replacements[rng() % replacements.size()];
    }
    expect_same_as_reference(kSearchBatch, corrupted);
    expect_same_as_reference(kQueryBatch, corrupted);
    if (HasFatalFailure()) return;
  }
}

// The REST handlers with the reader (the default) and without it
// (RestApiOptions::fast_json_vectors = false: parse_json_body alone), on two
// registries given the same requests: the same status and answer (but the
// time) for each.
class VectorBodyThroughRestApi : public ::testing::Test {
 protected:
  struct Side {
    explicit Side(bool fast) : api(registry, "9.9.9", options(fast)) {}
    static RestApiOptions options(bool fast) {
      RestApiOptions o;
      o.fast_json_vectors = fast;
      return o;
    }
    core::ThreadPool pool{1};
    core::LockManager locks;
    index::CpuSearcher searcher{pool};
    index::CollectionRegistry registry{locks, searcher};
    RestApi api;
  };

  // Sends the request to both sides; returns the reader's answer.
  HttpResponse both(const std::string& method, const std::string& path, const std::string& body) {
    HttpRequest request;
    request.method = method;
    request.path = path;
    request.body = body;
    const HttpResponse reference = reference_.api.handle(request);
    const HttpResponse fast = fast_.api.handle(request);
    EXPECT_EQ(reference.status, fast.status) << method << " " << path << " " << body;
    EXPECT_EQ(without_time(reference.body), without_time(fast.body))
        << method << " " << path << " " << body.substr(0, 400);
    return fast;
  }

  static std::string without_time(const std::string& body) {
    json parsed = json::parse(body, nullptr, false);
    if (parsed.is_object()) parsed.erase("time");
    return parsed.dump();
  }

  Side reference_{false};
  Side fast_{true};
};

TEST_F(VectorBodyThroughRestApi, RandomAndBadRequestsGetTheSameAnswers) {
  const uint64_t seed = test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  NumberText numbers(seed);
  constexpr size_t kDim = 12;
  ASSERT_EQ(both("PUT", "/collections/c", R"({"vectors": {"size": 12, "distance": "Dot"}})").status,
            200);
  // A vector of kDim numbers with, now and then, one bad element or length.
  auto vector = [&]() {
    std::vector<std::string> items;
    for (size_t i = 0; i < kDim; ++i) items.push_back(numbers.next());
    switch (numbers.pick(12)) {
      case 0:
        items[numbers.pick(kDim)] =
            std::vector<std::string>{"\"x\"", "[1]",    "null", "1e39", "1e6",
                                     "65505", "-65520", "true", "{}"}[numbers.pick(9)];
        break;
      case 1: items.pop_back(); break;
      case 2: items.push_back("0.5"); break;
      default: break;
    }
    std::string out = "[";
    for (size_t i = 0; i < items.size(); ++i) out += (i > 0 ? ", " : "") + items[i];
    return out + "]";
  };
  const std::string base = "/collections/c/points";
  for (int round = 0; round < 60; ++round) {
    std::string points = "{\"points\": [";
    for (int i = 0; i < 5; ++i) {
      points += (i > 0 ? ", " : "") + std::string("{\"id\": ") + std::to_string(round * 5 + i) +
                ", \"vector\": " + vector() + ", \"payload\": {\"i\": " + std::to_string(i) + "}}";
    }
    both("PUT", base, points + "]}");
    both("PUT", base,
         "{\"batch\": {\"ids\": [" + std::to_string(1000 + round) + ", " +
             std::to_string(2000 + round) + "], \"vectors\": [" + vector() + ", " + vector() +
             "]}}");
    both("POST", base + "/search",
         "{\"vector\": " + vector() + ", \"limit\": 3, \"with_payload\": true}");
    both("POST", base + "/search/batch",
         "{\"searches\": [{\"vector\": " + vector() + ", \"limit\": 2}, {\"vector\": " + vector() +
             ", \"limit\": 4, \"with_vector\": true}]}");
    both("POST", base + "/query", "{\"query\": " + vector() + ", \"limit\": 2}");
    both("POST", base + "/query", "{\"query\": {\"nearest\": " + vector() + "}}");
    both("POST", base + "/query/batch",
         "{\"searches\": [{\"query\": " + vector() +
             "}, {\"limit\": 1}, {\"query\": {\"nearest\": " + vector() + "}}]}");
    if (HasFailure()) return;
  }
  // The errors the suites pin, by name.
  const HttpResponse r = both("PUT", base,
                              R"({"points": [{"id": 1, "vector": [1,2,3,4,5,6,7,8,9,10,11,12]},
                                  {"id": 2, "vector": [1,2,3,4,5,6,7,"x",9,10,11,12]}]})");
  EXPECT_NE(r.body.find("points[1].vector[7] must be a number"), std::string::npos) << r.body;
  const HttpResponse s =
      both("POST", base + "/search/batch",
           R"({"searches": [{"vector": [1,2,3,4,5,6,7,8,9,10,11,12]}, {"vector": "x"}]})");
  EXPECT_NE(s.body.find("searches[1].vector must be an array of numbers"), std::string::npos)
      << s.body;
  EXPECT_EQ(both("POST", base + "/count", "{}").status, 200);
}

}  // namespace
}  // namespace vesta::server
