#include "persistence/snapshot_codec.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "snapshot_contents_match.h"
#include "test_seed.h"

namespace vesta::persistence {
namespace {

SnapshotContents random_contents(std::mt19937_64& rng, size_t points, uint32_t dim) {
  SnapshotContents c;
  c.collection = "docs";
  c.dim = dim;
  c.metric = "Cosine";
  c.incarnation = rng();
  c.wal_sequence = rng();
  c.vector_name = points % 2 == 1 ? "image" : "";  // named and unnamed vectors
  c.payload_indexes = {{"city", "keyword"}, {"a.b", "float"}};
  for (size_t i = 0; i < points; ++i) {
    switch (i % 3) {
      case 0: c.ids.push_back(core::PointId::number(rng())); break;
      case 1: {
        core::Uuid u;
        for (auto& b : u.bytes) b = static_cast<uint8_t>(rng());
        c.ids.push_back(core::PointId::uuid(u));
        break;
      }
      default: c.ids.push_back(core::PointId::string("doc-" + std::to_string(i)).value());
    }
    c.payloads.push_back(i % 4 == 0 ? "" : R"({"n":)" + std::to_string(i) + R"(,"t":"a\nb"})");
  }
  // Realistic float16 rows: normal values, so high bytes repeat (what the
  // byte shuffle is for).
  std::normal_distribution<float> normal(0.0f, 0.05f);
  for (size_t i = 0; i < points * dim; ++i) {
    const float v = normal(rng);
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    // Truncating float32 -> float16 is enough for test data.
    const uint32_t sign = (bits >> 16) & 0x8000;
    const int exp = static_cast<int>((bits >> 23) & 0xFF) - 127 + 15;
    const uint16_t half = exp <= 0
                              ? static_cast<uint16_t>(sign)
                              : static_cast<uint16_t>(sign | (static_cast<uint32_t>(exp) << 10) |
                                                      ((bits >> 13) & 0x3FF));
    c.rows.push_back(half);
  }
  return c;
}

TEST(SnapshotCodec, RoundTripsBitIdenticallyAcrossChunkSizesAndEmpty) {
  std::mt19937_64 rng(testing::test_seed("SnapshotCodec.RoundTrip"));
  for (size_t points : {0, 1, 7, 1000}) {
    for (size_t chunk : {1, 3, 16384}) {
      const SnapshotContents c = random_contents(rng, points, 24);
      core::Result<std::string> bytes = encode_snapshot(c, {.chunk_points = chunk});
      ASSERT_TRUE(bytes.is_ok()) << bytes.status().to_string();
      core::Result<SnapshotContents> back = decode_snapshot(bytes.value());
      ASSERT_TRUE(back.is_ok()) << back.status().to_string();
      testing::expect_same_snapshot(c, back.value());
    }
  }
}

TEST(SnapshotCodec, WrittenAPieceAtATimeAsItIsCodedAndStoppedByTheSinksError) {
  std::mt19937_64 rng(testing::test_seed("SnapshotCodec.Stream"));
  const SnapshotContents c = random_contents(rng, 5000, 32);
  const SnapshotOptions options{.chunk_points = 100};  // 50 groups
  core::Result<std::string> whole = encode_snapshot(c, options);
  ASSERT_TRUE(whole.is_ok()) << whole.status().to_string();
  std::vector<size_t> pieces;
  std::string streamed;
  ASSERT_TRUE(write_snapshot(c, options, [&](std::string_view piece) {
                streamed += piece;
                pieces.push_back(piece.size());
                return core::Status::ok();
              }).is_ok());
  EXPECT_EQ(streamed, whole.value());
  // The header, one piece per group, the end: never more than a group's
  // chunks at once (what bounds the memory a snapshot needs).
  EXPECT_EQ(pieces.size(), 1 + 50 + 1);
  EXPECT_LT(*std::max_element(pieces.begin(), pieces.end()), whole.value().size() / 20);

  // A sink that fails (a full disk, a lost connection) stops the writing.
  size_t calls = 0;
  const core::Status failed = write_snapshot(c, options, [&](std::string_view) {
    return ++calls == 3 ? core::internal_error("disk full") : core::Status::ok();
  });
  EXPECT_EQ(failed.message(), "disk full");
  EXPECT_EQ(calls, 3u);
}

// Gives contents' points a group at a time, its payloads written out by
// `finish` (as a frozen collection's source does); records what it was asked.
class RecordingSource : public SnapshotPointSource {
 public:
  explicit RecordingSource(const SnapshotContents& c,
                           core::Status fail_at_third = core::Status::ok())
      : c_(c), fail_(std::move(fail_at_third)) {}
  size_t points() const override { return c_.ids.size(); }
  core::Status read(size_t n, SnapshotGroup& group) override {
    asked.push_back(n);
    if (!fail_.is_ok() && asked.size() == 3) return fail_;
    const size_t first = next_;
    const size_t take = std::min(n, c_.ids.size() - first);
    group.ids.assign(c_.ids.begin() + static_cast<ptrdiff_t>(first),
                     c_.ids.begin() + static_cast<ptrdiff_t>(first + take));
    group.rows.assign(c_.rows.begin() + static_cast<ptrdiff_t>(first * c_.dim),
                      c_.rows.begin() + static_cast<ptrdiff_t>((first + take) * c_.dim));
    group.payloads.clear();
    group.finish = [this, first, take](SnapshotGroup& g) {
      g.payloads.assign(c_.payloads.begin() + static_cast<ptrdiff_t>(first),
                        c_.payloads.begin() + static_cast<ptrdiff_t>(first + take));
    };
    next_ += take;
    return core::Status::ok();
  }
  std::vector<size_t> asked;

 private:
  const SnapshotContents& c_;
  core::Status fail_;
  size_t next_ = 0;
};

TEST(SnapshotCodec, PointsReadFromASourceAGroupAtATimeCodeTheSameBytes) {
  std::mt19937_64 rng(testing::test_seed("SnapshotCodec.Source"));
  const SnapshotContents c = random_contents(rng, 1050, 16);
  const SnapshotOptions options{.chunk_points = 100};
  const std::string whole = encode_snapshot(c, options).value();
  SnapshotContents header = c;
  header.ids.clear();
  header.rows.clear();
  header.payloads.clear();
  auto source = std::make_shared<RecordingSource>(c);
  header.source = source;
  core::Result<std::string> streamed = encode_snapshot(header, options);
  ASSERT_TRUE(streamed.is_ok()) << streamed.status().to_string();
  EXPECT_TRUE(streamed.value() == whole) << "a source codes other bytes than the contents";
  std::vector<size_t> expected(10, 100);
  expected.push_back(50);
  EXPECT_EQ(source->asked, expected);  // in order, one group each

  // A source's error stops the writing; so does one that gives too few points.
  header.source = std::make_shared<RecordingSource>(c, core::internal_error("lock timed out"));
  EXPECT_EQ(encode_snapshot(header, options).status().message(), "lock timed out");
  SnapshotContents short_header = header;
  struct Lying : RecordingSource {
    using RecordingSource::RecordingSource;
    size_t points() const override { return 1051; }
  };
  short_header.source = std::make_shared<Lying>(c);
  const core::Status lied = encode_snapshot(short_header, options).status();
  EXPECT_NE(lied.message().find("gave 50 points"), std::string::npos) << lied.to_string();
}

TEST(SnapshotCodec, ByteShuffleMakesFloat16RowsCompressWell) {
  std::mt19937_64 rng(testing::test_seed("SnapshotCodec.Size"));
  const SnapshotContents c = random_contents(rng, 2000, 384);
  core::Result<std::string> bytes = encode_snapshot(c);
  ASSERT_TRUE(bytes.is_ok());
  const size_t raw_rows = c.rows.size() * 2;
  // Normal values at one scale share their high bytes: expect well under raw size.
  EXPECT_LT(bytes.value().size(), raw_rows * 9 / 10) << bytes.value().size() << " vs " << raw_rows;
}

TEST(SnapshotCodec, EveryFlippedByteIsDetectedAndTruncationToo) {
  std::mt19937_64 rng(testing::test_seed("SnapshotCodec.Damage"));
  const SnapshotContents c = random_contents(rng, 20, 8);
  const std::string bytes = encode_snapshot(c, {.chunk_points = 8}).value();
  for (size_t at = 0; at < bytes.size(); ++at) {
    std::string damaged = bytes;
    damaged[at] = static_cast<char>(damaged[at] ^ 0x5A);
    core::Result<SnapshotContents> back = decode_snapshot(damaged);
    ASSERT_FALSE(back.is_ok()) << "flipped byte " << at << " of " << bytes.size()
                               << " went unnoticed";
  }
  for (size_t keep : {size_t{0}, size_t{11}, bytes.size() / 2, bytes.size() - 1}) {
    EXPECT_FALSE(decode_snapshot(bytes.substr(0, keep)).is_ok()) << keep;
  }
  std::string damaged = bytes;
  damaged[bytes.size() / 2] ^= 1;
  const core::Status status = decode_snapshot(damaged).status();
  EXPECT_NE(status.message().find("chunk"), std::string::npos) << status.message();
}

TEST(SnapshotCodec, ANewerFormatVersionIsRefusedAndBadContentsAreNotWritten) {
  SnapshotContents empty;
  empty.collection = "c";
  empty.dim = 2;
  empty.metric = "Dot";
  std::string bytes = encode_snapshot(empty).value();
  bytes[4] = 2;  // version 2
  core::Result<SnapshotContents> back = decode_snapshot(bytes);
  ASSERT_FALSE(back.is_ok());
  EXPECT_EQ(back.status().code(), core::StatusCode::kConflict);
  EXPECT_NE(back.status().message().find("newer"), std::string::npos);

  SnapshotContents bad = empty;
  bad.ids = {core::PointId::number(1)};
  bad.rows = {1};
  bad.payloads = {""};
  EXPECT_FALSE(encode_snapshot(bad).is_ok());  // one value for a 2-dim row
}

}  // namespace
}  // namespace vesta::persistence
