// PackStream encoding. The byte examples are those of the Bolt
// documentation's PackStream page (neo4j.com/docs/bolt/current/packstream/,
// source modules/ROOT/pages/packstream/index.adoc of github.com/neo4j/
// docs-bolt), cited per test.
#include "persistence/bolt/packstream.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "test_seed.h"

namespace vesta::bolt {
namespace {

Bytes hex(const std::string& text) {
  Bytes bytes;
  for (size_t i = 0; i < text.size();) {
    if (text[i] == ' ' || text[i] == '\n') {
      ++i;
      continue;
    }
    bytes.push_back(static_cast<std::uint8_t>(std::stoi(text.substr(i, 2), nullptr, 16)));
    i += 2;
  }
  return bytes;
}

Bytes packed(const Value& value) {
  Bytes out;
  core::Status status = pack(value, &out);
  EXPECT_TRUE(status.is_ok()) << status.to_string();
  return out;
}

Value unpacked(const Bytes& bytes) {
  core::Result<Value> value = unpack(bytes);
  EXPECT_TRUE(value.is_ok()) << value.status().to_string();
  return value.is_ok() ? value.value() : Value();
}

// Encodes to exactly `bytes` and decodes back to `value`.
void expect_bytes(const Value& value, const std::string& bytes) {
  EXPECT_EQ(packed(value), hex(bytes)) << value.to_string();
  EXPECT_EQ(unpacked(hex(bytes)), value) << bytes;
}

std::string unpack_error(const Bytes& bytes, const UnpackLimits& limits = {}) {
  core::Result<Value> value = unpack(bytes, limits);
  EXPECT_FALSE(value.is_ok());
  return value.is_ok() ? "" : value.status().message();
}

// "Null is always encoded using the single marker byte C0"; "C3 ... true,
// C2 ... false".
TEST(PackStream, NullAndBooleansMatchTheDocumentation) {
  expect_bytes(Value(), "C0");
  expect_bytes(true, "C3");
  expect_bytes(false, "C2");
}

// The Integer section: 42 in each of its five representations (only the
// first is minimal), and the examples with the minimum and maximum values.
TEST(PackStream, IntegerExamplesOfTheDocumentation) {
  expect_bytes(42, "2A");
  for (const char* wide : {"C8 2A", "C9 00 2A", "CA 00 00 00 2A", "CB 00 00 00 00 00 00 00 2A"}) {
    EXPECT_EQ(unpacked(hex(wide)), Value(42)) << wide;
  }
  expect_bytes(std::numeric_limits<std::int64_t>::min(), "CB 80 00 00 00 00 00 00 00");
  expect_bytes(std::numeric_limits<std::int64_t>::max(), "CB 7F FF FF FF FF FF FF FF");
}

// The documentation's table of optimal representations, at every edge.
TEST(PackStream, IntegersUseTheSmallestRepresentation) {
  expect_bytes(-16, "F0");
  expect_bytes(-1, "FF");
  expect_bytes(0, "00");
  expect_bytes(127, "7F");
  expect_bytes(-17, "C8 EF");
  expect_bytes(-128, "C8 80");
  expect_bytes(128, "C9 00 80");
  expect_bytes(-129, "C9 FF 7F");
  expect_bytes(32767, "C9 7F FF");
  expect_bytes(-32768, "C9 80 00");
  expect_bytes(32768, "CA 00 00 80 00");
  expect_bytes(-32769, "CA FF FF 7F FF");
  expect_bytes(2147483647, "CA 7F FF FF FF");
  expect_bytes(-2147483648LL, "CA 80 00 00 00");
  expect_bytes(2147483648LL, "CB 00 00 00 00 80 00 00 00");
  expect_bytes(-2147483649LL, "CB FF FF FF FF 7F FF FF FF");
  // Wide forms of negative numbers decode with their sign.
  EXPECT_EQ(unpacked(hex("C9 FF FF")), Value(-1));
  EXPECT_EQ(unpacked(hex("CA FF FF FF F0")), Value(-16));
}

// "The value 1.23 in decimal can be represented as C1 3F F3 AE 14 7A E1 47 AE".
TEST(PackStream, FloatExampleOfTheDocumentation) {
  expect_bytes(1.23, "C1 3F F3 AE 14 7A E1 47 AE");
  expect_bytes(-0.0, "C1 80 00 00 00 00 00 00 00");
  expect_bytes(std::numeric_limits<double>::infinity(), "C1 7F F0 00 00 00 00 00 00");
  const Value nan = unpacked(hex("C1 7F F8 00 00 00 00 00 00"));
  ASSERT_TRUE(nan.is<double>());
  EXPECT_TRUE(std::isnan(nan.as<double>()));
}

// The Bytes examples: b[] is CC 00, b[1, 2, 3] is CC 03 01 02 03.
TEST(PackStream, BytesExamplesOfTheDocumentation) {
  expect_bytes(Bytes{}, "CC 00");
  expect_bytes(Bytes{1, 2, 3}, "CC 03 01 02 03");
  EXPECT_EQ(packed(Bytes(256, 7)).size(), 3u + 256u);
  EXPECT_EQ(packed(Bytes(256, 7))[0], 0xCD);
  EXPECT_EQ(packed(Bytes(65536, 7))[0], 0xCE);
  EXPECT_EQ(unpacked(hex("CD 00 02 01 02")), Value(Bytes{1, 2}));
  EXPECT_EQ(unpacked(hex("CE 00 00 00 01 09")), Value(Bytes{9}));
}

// The String examples, including the UTF-8 one (sizes count bytes).
TEST(PackStream, StringExamplesOfTheDocumentation) {
  expect_bytes("", "80");
  expect_bytes("A", "81 41");
  expect_bytes("ABCDEFGHIJKLMNOPQRSTUVWXYZ",
               "D0 1A 41 42 43 44 45 46 47 48 49 4A 4B 4C 4D 4E 4F 50 51 52 53 54 55 56 57 58 59 "
               "5A");
  expect_bytes("Größenmaßstäbe", "D0 12 47 72 C3 B6 C3 9F 65 6E 6D 61 C3 9F 73 74 C3 A4 62 65");
  EXPECT_EQ(packed(std::string(15, 'x'))[0], 0x8F);
  EXPECT_EQ(packed(std::string(16, 'x'))[0], 0xD0);
  EXPECT_EQ(packed(std::string(256, 'x'))[0], 0xD1);
  EXPECT_EQ(packed(std::string(65536, 'x'))[0], 0xD2);
  EXPECT_EQ(unpacked(hex("D1 00 01 41")), Value("A"));
  EXPECT_EQ(unpacked(hex("D2 00 00 00 01 41")), Value("A"));
}

// The List examples: [], [1, 2, 3], [1, 2.0, "three"] and a 40-item list.
TEST(PackStream, ListExamplesOfTheDocumentation) {
  expect_bytes(List{}, "90");
  expect_bytes(List{1, 2, 3}, "93 01 02 03");
  expect_bytes(List{1, 2.0, "three"}, "93 01 C1 40 00 00 00 00 00 00 00 85 74 68 72 65 65");
  List forty;
  std::string forty_bytes = "D4 28";
  for (int i = 1; i <= 40; ++i) {
    forty.emplace_back(i);
    char byte[4];
    std::snprintf(byte, sizeof byte, " %02X", i);
    forty_bytes += byte;
  }
  expect_bytes(forty, forty_bytes);
  EXPECT_EQ(unpacked(hex("D5 00 01 01")), Value(List{1}));
  EXPECT_EQ(unpacked(hex("D6 00 00 00 01 01")), Value(List{1}));
}

// The Dictionary examples: {}, {"one": "eins"}, {"A": 1, ..., "Z": 26}, and
// "if there are multiple instances of the same key ... the last seen value
// for that key should be used".
TEST(PackStream, DictionaryExamplesOfTheDocumentation) {
  expect_bytes(Dictionary{}, "A0");
  expect_bytes(Dictionary{{"one", "eins"}}, "A1 83 6F 6E 65 84 65 69 6E 73");
  Dictionary letters;
  std::string letters_bytes = "D8 1A";
  for (int i = 0; i < 26; ++i) {
    letters.set(std::string(1, static_cast<char>('A' + i)), i + 1);
    char entry[16];
    std::snprintf(entry, sizeof entry, " 81 %02X %02X", 'A' + i, i + 1);
    letters_bytes += entry;
  }
  expect_bytes(letters, letters_bytes);
  // [("key_1", 1), ("key_2", 2), ("key_1", 3)] -> {"key_1": 3, "key_2": 2}
  const Value repeated =
      unpacked(hex("A3 85 6B 65 79 5F 31 01 85 6B 65 79 5F 32 02 85 6B 65 79 5F 31 03"));
  EXPECT_EQ(repeated, Value(Dictionary{{"key_1", 3}, {"key_2", 2}}));
  EXPECT_EQ(unpacked(hex("D9 00 01 81 61 01")), Value(Dictionary{{"a", 1}}));
  EXPECT_EQ(unpacked(hex("DA 00 00 00 01 81 61 01")), Value(Dictionary{{"a", 1}}));
}

// Structures: B0..BF with the tag byte, e.g. a Bolt message (RUN is tag 10)
// and a Node (tag 4E) as a record value.
TEST(PackStream, StructuresCarryTheirTagAndFields) {
  expect_bytes(Structure{0x0F, {}}, "B0 0F");
  expect_bytes(Structure{0x10, {"RETURN 1", Dictionary{}, Dictionary{}}},
               "B3 10 88 52 45 54 55 52 4E 20 31 A0 A0");
  Bytes too_many;
  List sixteen(16, Value(1));
  EXPECT_FALSE(pack(Structure{0x4E, sixteen}, &too_many).is_ok());
  EXPECT_TRUE(too_many.empty()) << "nothing is written on failure";
  EXPECT_FALSE(pack(Structure{0x80, {}}, &too_many).is_ok());
}

TEST(PackStream, NonUtf8StringsAreRefusedBothWays) {
  Bytes out;
  core::Status status = pack(std::string("a\xFF"), &out);
  EXPECT_EQ(status.code(), core::StatusCode::kInvalidArgument);
  EXPECT_NE(unpack_error(hex("82 61 FF")).find("byte 2"), std::string::npos);
  EXPECT_NE(unpack_error(hex("82 C0 80")).find("not UTF-8"), std::string::npos)
      << "an overlong encoding";
  EXPECT_NE(unpack_error(hex("83 ED A0 80")).find("not UTF-8"), std::string::npos) << "a surrogate";
}

TEST(PackStream, HostileInputIsRefusedNamingTheOffset) {
  // A reserved marker, inside a list: its offset is 1.
  EXPECT_EQ(unpack_error(hex("91 C4")), "PackStream: reserved marker 0xC4 at byte 1");
  for (const char* marker :
       {"C5", "C6", "C7", "CF", "D3", "D7", "DB", "DC", "DD", "DE", "DF", "E0", "EF"}) {
    EXPECT_NE(unpack_error(hex(marker)).find("reserved marker"), std::string::npos) << marker;
  }
  // Truncated values of every kind.
  for (const char* truncated : {"C1 00", "C9 00", "CB 00 00", "CC 05 01", "D0 05 41", "93 01",
                                "A1 81 61", "B1 10", "B1", "D5 00", "CE 00 00"}) {
    EXPECT_FALSE(unpack(hex(truncated)).is_ok()) << truncated;
  }
  // A declared size far beyond the input is refused before any allocation.
  EXPECT_NE(unpack_error(hex("D6 7F FF FF FF 01")).find("truncated List at byte 0"),
            std::string::npos);
  EXPECT_NE(unpack_error(hex("DA 7F FF FF FF")).find("truncated Dictionary"), std::string::npos);
  // Sizes over 2^31 - 1.
  EXPECT_NE(unpack_error(hex("D2 80 00 00 00")).find("over the limit"), std::string::npos);
  // Keys must be strings.
  EXPECT_EQ(unpack_error(hex("A1 01 02")),
            "PackStream: a dictionary key that is a Integer, not a String at byte 1");
  // Bytes left after the value; no value at all.
  EXPECT_EQ(unpack_error(hex("01 02")), "PackStream: 1 bytes after the value at byte 1");
  EXPECT_NE(unpack_error({}).find("end of input"), std::string::npos);
  // Structure tags are 0..127.
  EXPECT_NE(unpack_error(hex("B0 80")).find("tag"), std::string::npos);
}

TEST(PackStream, NestingDeeperThanTheLimitIsRefused) {
  Bytes deep(100000, 0x91);  // a list in a list in ... 100,000 deep
  deep.push_back(0x01);
  EXPECT_NE(unpack_error(deep).find("nesting deeper than 64"), std::string::npos);
  UnpackLimits shallow;
  shallow.max_depth = 2;
  EXPECT_TRUE(unpack(hex("91 91 01"), shallow).is_ok());
  EXPECT_NE(unpack_error(hex("91 91 91 01"), shallow).find("at byte 2"), std::string::npos);
  EXPECT_NE(unpack_error(hex("91 A1 81 61 B1 4E 01"), shallow).find("at byte 4"),
            std::string::npos);
}

// Random values of every type survive a round trip, and every proper prefix
// of their encoding is refused (never crashes, never reads past the end).
TEST(PackStream, RandomValuesRoundTripAndTheirPrefixesFail) {
  const std::uint64_t seed =
      vesta::testing::test_seed("PackStream.RandomValuesRoundTripAndTheirPrefixesFail");
  std::mt19937_64 random(seed);
  std::function<Value(int)> make = [&](int depth) -> Value {
    switch (random() % (depth > 3 ? 6 : 9)) {
      case 0: return Value();
      case 1: return Value(random() % 2 == 0);
      case 2: {
        const int shift = static_cast<int>(random() % 64);
        return Value(static_cast<std::int64_t>(random()) >> shift);
      }
      case 3:
        return Value(std::ldexp(static_cast<double>(random() % 1000000) - 500000.0,
                                static_cast<int>(random() % 40) - 20));
      case 4: {
        Bytes bytes(random() % 300);
        for (auto& b : bytes) b = static_cast<std::uint8_t>(random());
        return Value(std::move(bytes));
      }
      case 5: {
        std::string text(random() % 70, 'x');
        for (auto& c : text) c = static_cast<char>('a' + random() % 26);
        if (random() % 3 == 0) text += "ß€😀";
        return Value(std::move(text));
      }
      case 6: {
        List list(random() % 20);
        for (auto& item : list) item = make(depth + 1);
        return Value(std::move(list));
      }
      case 7: {
        Dictionary dictionary;
        const size_t n = random() % 20;
        for (size_t i = 0; i < n; ++i)
          dictionary.set("k" + std::to_string(random() % 100), make(depth + 1));
        return Value(std::move(dictionary));
      }
      default: {
        Structure structure{static_cast<std::uint8_t>(random() % 128), {}};
        structure.fields.resize(random() % 16);
        for (auto& field : structure.fields) field = make(depth + 1);
        return Value(std::move(structure));
      }
    }
  };
  for (int round = 0; round < 300; ++round) {
    const Value value = make(0);
    const Bytes bytes = packed(value);
    ASSERT_EQ(unpacked(bytes), value) << "seed " << seed << ": " << value.to_string();
    for (size_t cut = 0; cut < bytes.size(); cut += 1 + bytes.size() / 50) {
      ASSERT_FALSE(unpack(std::span(bytes.data(), cut)).is_ok()) << "seed " << seed;
    }
  }
}

}  // namespace
}  // namespace vesta::bolt
