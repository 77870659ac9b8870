// Chunked framing. The byte examples are those of the Bolt documentation's
// "Message > Chunking" section (neo4j.com/docs/bolt/current/bolt/message/,
// source modules/ROOT/pages/bolt/message.adoc of github.com/neo4j/docs-bolt).
#include "persistence/bolt/chunk_decoder.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "test_seed.h"

namespace vesta::bolt {
namespace {

Bytes hex(const std::string& text) {
  Bytes bytes;
  for (size_t i = 0; i < text.size();) {
    if (text[i] == ' ') {
      ++i;
      continue;
    }
    bytes.push_back(static_cast<std::uint8_t>(std::stoi(text.substr(i, 2), nullptr, 16)));
    i += 2;
  }
  return bytes;
}

const Bytes kMessage16 = hex("00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F");
const Bytes kMessage20 = hex("00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F 01 02 03 04");
const Bytes kMessage8 = hex("0F 0E 0D 0C 0B 0A 09 08");

std::vector<Bytes> decode_all(const Bytes& wire, size_t* noops = nullptr) {
  ChunkDecoder decoder(1 << 20);
  EXPECT_TRUE(decoder.feed(wire).is_ok());
  std::vector<Bytes> messages;
  while (auto message = decoder.next_message()) messages.push_back(*message);
  EXPECT_FALSE(decoder.mid_message());
  if (noops != nullptr) *noops = decoder.noop_chunks();
  return messages;
}

// "Example of a message in one chunk".
TEST(ChunkDecoder, OneChunkExampleOfTheDocumentation) {
  const Bytes wire = hex("00 10 00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F 00 00");
  Bytes out;
  append_chunked(kMessage16, &out);
  EXPECT_EQ(out, wire);
  EXPECT_EQ(decode_all(wire), std::vector<Bytes>{kMessage16});
}

// "Example of a message split in two chunks" (chunks of at most 16 bytes).
TEST(ChunkDecoder, TwoChunkExampleOfTheDocumentation) {
  const Bytes wire =
      hex("00 10 00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F 00 04 01 02 03 04 00 00");
  Bytes out;
  append_chunked(kMessage20, &out, 16);
  EXPECT_EQ(out, wire);
  EXPECT_EQ(decode_all(wire), std::vector<Bytes>{kMessage20});
}

// "Example with two messages" and "... with a NOOP in between".
TEST(ChunkDecoder, TwoMessagesAndNoopExamplesOfTheDocumentation) {
  const Bytes two =
      hex("00 10 00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F 00 00 "
          "00 08 0F 0E 0D 0C 0B 0A 09 08 00 00");
  EXPECT_EQ(decode_all(two), (std::vector<Bytes>{kMessage16, kMessage8}));
  const Bytes with_noop =
      hex("00 10 00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F 00 00 "
          "00 00 "
          "00 08 0F 0E 0D 0C 0B 0A 09 08 00 00");
  size_t noops = 0;
  EXPECT_EQ(decode_all(with_noop, &noops), (std::vector<Bytes>{kMessage16, kMessage8}));
  EXPECT_EQ(noops, 1u);
}

TEST(ChunkDecoder, LargeMessagesAreSplitAtTheChunkLimit) {
  Bytes big(2 * kMaxChunkBytes + 10, 0x5A);
  Bytes wire;
  append_chunked(big, &wire);
  ASSERT_EQ(wire.size(), big.size() + 3 * 2 + 2);
  EXPECT_EQ(wire[0], 0xFF);
  EXPECT_EQ(wire[1], 0xFF);
  EXPECT_EQ(decode_all(wire), std::vector<Bytes>{big});
}

// The network cuts the stream anywhere: in a header, in a chunk, between
// chunks. Every cut gives back the same messages.
TEST(ChunkDecoder, ReassemblesWhateverTheReadBoundaries) {
  const std::uint64_t seed =
      vesta::testing::test_seed("ChunkDecoder.ReassemblesWhateverTheReadBoundaries");
  std::mt19937_64 random(seed);
  std::vector<Bytes> messages;
  Bytes wire;
  for (int i = 0; i < 50; ++i) {
    Bytes message(1 + random() % 300);
    for (auto& b : message) b = static_cast<std::uint8_t>(random());
    if (random() % 4 == 0) wire.insert(wire.end(), {0, 0});  // NOOP
    append_chunked(message, &wire, 1 + random() % 40);
    messages.push_back(std::move(message));
  }
  for (int round = 0; round < 20; ++round) {
    ChunkDecoder decoder(1 << 20);
    std::vector<Bytes> got;
    for (size_t at = 0; at < wire.size();) {
      const size_t n = std::min<size_t>(wire.size() - at, 1 + random() % 7);
      ASSERT_TRUE(decoder.feed(std::span(wire.data() + at, n)).is_ok());
      at += n;
      while (auto message = decoder.next_message()) got.push_back(*message);
    }
    ASSERT_EQ(got, messages) << "seed " << seed;
  }
}

TEST(ChunkDecoder, RefusesMessagesOverTheLimit) {
  ChunkDecoder decoder(100);
  Bytes wire;
  append_chunked(Bytes(60, 1), &wire, 50);
  EXPECT_TRUE(decoder.feed(std::span(wire.data(), 40)).is_ok());
  Bytes more;
  append_chunked(Bytes(101, 1), &more);
  ChunkDecoder small(100);
  const core::Status status = small.feed(more);
  EXPECT_EQ(status.code(), core::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("more than 100 bytes"), std::string::npos);
}

TEST(ChunkDecoder, ReportsAPartialMessage) {
  ChunkDecoder decoder(100);
  EXPECT_FALSE(decoder.mid_message());
  ASSERT_TRUE(decoder.feed(hex("00")).is_ok());
  EXPECT_TRUE(decoder.mid_message());
  ASSERT_TRUE(decoder.feed(hex("02 01 02")).is_ok());
  EXPECT_TRUE(decoder.mid_message());
  EXPECT_FALSE(decoder.next_message());
  ASSERT_TRUE(decoder.feed(hex("00 00")).is_ok());
  EXPECT_EQ(decoder.next_message(), hex("01 02"));
}

}  // namespace
}  // namespace vesta::bolt
