#include "persistence/wal.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace vesta::persistence {
namespace {

namespace fs = std::filesystem;

// A fresh directory per test (and per trial within a test), removed at the end.
class ScratchDir {
 public:
  ScratchDir() {
    static std::atomic<int> counter{0};
    const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::path(::testing::TempDir()) /
            ("vesta_wal_" + std::string(info->name()) + "_" + std::to_string(::getpid()) + "_" +
             std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const fs::path& path() const { return path_; }
  // The WAL directory inside it (not created: open() must create it).
  fs::path wal() const { return path_ / "wal"; }

 private:
  fs::path path_;
};

using Records = std::vector<std::pair<uint64_t, std::string>>;

// Opens the log, collecting what it replays.
core::Result<std::unique_ptr<Wal>> open_collecting(const WalOptions& options, uint64_t replay_after,
                                                   Records* replayed,
                                                   WalOpenReport* report = nullptr) {
  return Wal::open(
      options, replay_after,
      [replayed](uint64_t sequence, std::string_view bytes) {
        replayed->emplace_back(sequence, std::string(bytes));
        return core::Status::ok();
      },
      report);
}

std::unique_ptr<Wal> open_ok(const WalOptions& options, Records* replayed = nullptr,
                             WalOpenReport* report = nullptr) {
  Records ignored;
  core::Result<std::unique_ptr<Wal>> wal =
      open_collecting(options, 0, replayed != nullptr ? replayed : &ignored, report);
  EXPECT_TRUE(wal.is_ok()) << wal.status().to_string();
  return wal.is_ok() ? std::move(wal).value() : nullptr;
}

// Record i's bytes: lengths vary (0 included) and contents differ per record.
std::string record_bytes(uint64_t i) {
  std::string s = "record-" + std::to_string(i) + ":";
  s.append(i % 23, static_cast<char>('a' + i % 26));
  return i % 17 == 0 ? std::string() : s;
}

std::vector<fs::path> segment_files(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const fs::directory_entry& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".wal") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

uint64_t first_sequence_of(const fs::path& segment) {
  return std::stoull(segment.filename().string().substr(0, 20));
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_file(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Appends records first..last (record_bytes) and checks the sequences.
void append_records(Wal& wal, uint64_t first, uint64_t last) {
  for (uint64_t i = first; i <= last; ++i) {
    core::Result<uint64_t> seq = wal.append(record_bytes(i));
    ASSERT_TRUE(seq.is_ok()) << seq.status().to_string();
    ASSERT_EQ(seq.value(), i);
  }
}

void expect_records(const Records& replayed, uint64_t first, uint64_t last) {
  ASSERT_EQ(replayed.size(), last + 1 - first);
  for (uint64_t i = first; i <= last; ++i) {
    EXPECT_EQ(replayed[i - first].first, i);
    EXPECT_EQ(replayed[i - first].second, record_bytes(i)) << "record " << i;
  }
}

// The format of docs/wal-format.md, encoded independently of wal.cpp.
void put_le(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
uint32_t zlib_crc(std::string_view bytes) {
  return static_cast<uint32_t>(crc32(0L, reinterpret_cast<const unsigned char*>(bytes.data()),
                                     static_cast<uInt>(bytes.size())));
}
std::string documented_header(uint64_t first_sequence) {
  std::string h = "VWAL";
  put_le(h, 1, 4);
  put_le(h, first_sequence, 8);
  put_le(h, zlib_crc(h), 4);
  return h;
}
std::string documented_record(uint64_t sequence, std::string_view bytes) {
  std::string fields;
  put_le(fields, bytes.size(), 4);
  put_le(fields, sequence, 8);
  std::string r = fields;
  put_le(r, zlib_crc(fields + std::string(bytes)), 4);
  r += bytes;
  return r;
}

TEST(Wal, EmptyDirectoryIsCreatedAndOpensWithLastSequenceZero) {
  ScratchDir dir;
  WalOpenReport report;
  report.records = 99;  // open() resets it
  Records replayed;
  std::unique_ptr<Wal> wal = open_ok({.dir = dir.wal()}, &replayed, &report);
  ASSERT_NE(wal, nullptr);
  EXPECT_TRUE(fs::is_directory(dir.wal()));
  EXPECT_TRUE(replayed.empty());
  EXPECT_EQ(report.records, 0u);
  EXPECT_EQ(report.last_sequence, 0u);
  EXPECT_EQ(report.segments, 0u);
  EXPECT_FALSE(report.cut_tail);
  EXPECT_EQ(wal->last_sequence(), 0u);
  EXPECT_EQ(wal->durable_sequence(), 0u);
  EXPECT_EQ(wal->segment_count(), 1u);
  EXPECT_EQ(segment_files(dir.wal()).front().filename(), "00000000000000000001.wal");
  core::Result<uint64_t> seq = wal->append("first");
  ASSERT_TRUE(seq.is_ok());
  EXPECT_EQ(seq.value(), 1u);
}

TEST(Wal, ReopenReplaysEveryRecordInOrderAfterReplayAfter) {
  ScratchDir dir;
  const WalOptions options{.dir = dir.wal()};
  {
    std::unique_ptr<Wal> wal = open_ok(options);
    ASSERT_NE(wal, nullptr);
    append_records(*wal, 1, 40);
    EXPECT_EQ(wal->last_sequence(), 40u);
    EXPECT_EQ(wal->durable_sequence(), 40u);
    uint64_t expected_bytes = kWalSegmentHeaderBytes;
    for (uint64_t i = 1; i <= 40; ++i)
      expected_bytes += kWalRecordHeaderBytes + record_bytes(i).size();
    EXPECT_EQ(wal->bytes_written(), expected_bytes);
    // Written but not synced: the destructor syncs it.
    core::Result<uint64_t> seq = wal->write(record_bytes(41));
    ASSERT_TRUE(seq.is_ok());
    EXPECT_EQ(seq.value(), 41u);
    EXPECT_EQ(wal->durable_sequence(), 40u);
  }
  for (uint64_t replay_after : {0, 1, 17, 40, 41}) {
    Records replayed;
    WalOpenReport report;
    core::Result<std::unique_ptr<Wal>> reopened =
        open_collecting(options, replay_after, &replayed, &report);
    ASSERT_TRUE(reopened.is_ok()) << reopened.status().to_string();
    EXPECT_EQ(report.records, 41u);
    EXPECT_EQ(report.last_sequence, 41u);
    EXPECT_FALSE(report.cut_tail) << report.cut_detail;
    EXPECT_EQ(reopened.value()->last_sequence(), 41u);
    EXPECT_EQ(reopened.value()->durable_sequence(), 41u);
    expect_records(replayed, std::min<uint64_t>(replay_after, 41) + 1, 41);
  }
  std::unique_ptr<Wal> wal = open_ok(options);
  core::Result<uint64_t> seq = wal->append("after reopen");
  ASSERT_TRUE(seq.is_ok());
  EXPECT_EQ(seq.value(), 42u);
}

TEST(Wal, RecordsSpanSegmentsAndRemoveThroughDeletesExactlyTheCoveredOnes) {
  ScratchDir dir;
  const WalOptions options{.dir = dir.wal(), .segment_bytes = 200};
  constexpr uint64_t kRecords = 120;
  std::unique_ptr<Wal> wal = open_ok(options);
  ASSERT_NE(wal, nullptr);
  append_records(*wal, 1, kRecords);
  std::vector<fs::path> files = segment_files(dir.wal());
  ASSERT_GE(files.size(), 5u);
  EXPECT_EQ(wal->segment_count(), files.size());
  std::vector<uint64_t> firsts;
  for (const fs::path& f : files) firsts.push_back(first_sequence_of(f));
  EXPECT_EQ(firsts.front(), 1u);
  // Every segment but the active one was rolled, so reached segment_bytes.
  for (size_t i = 0; i + 1 < files.size(); ++i) {
    EXPECT_GE(fs::file_size(files[i]), options.segment_bytes) << files[i];
  }

  // Walk `sequence` up one at a time: a segment goes exactly when its last
  // record (the one before the next segment's first) is covered.
  size_t gone = 0;
  for (uint64_t sequence = 0; sequence <= kRecords + 5; ++sequence) {
    size_t expect_gone = 0;
    while (expect_gone + 1 < firsts.size() && firsts[expect_gone + 1] - 1 <= sequence) {
      ++expect_gone;
    }
    core::Result<size_t> removed = wal->remove_through(sequence);
    ASSERT_TRUE(removed.is_ok()) << removed.status().to_string();
    EXPECT_EQ(removed.value(), expect_gone - gone) << "sequence " << sequence;
    gone = expect_gone;
    const std::vector<fs::path> left = segment_files(dir.wal());
    ASSERT_EQ(left.size(), files.size() - gone) << "sequence " << sequence;
    EXPECT_EQ(left,
              std::vector<fs::path>(files.begin() + static_cast<ptrdiff_t>(gone), files.end()));
    EXPECT_EQ(wal->segment_count(), left.size());
  }
  // The active segment is never removed, even when it is wholly covered.
  EXPECT_EQ(wal->segment_count(), 1u);
  EXPECT_EQ(wal->remove_through(UINT64_MAX).value(), 0u);
  EXPECT_TRUE(fs::exists(files.back()));
  wal.reset();

  Records replayed;
  WalOpenReport report;
  wal = open_ok(options, &replayed, &report);
  ASSERT_NE(wal, nullptr);
  expect_records(replayed, firsts.back(), kRecords);
  EXPECT_EQ(report.last_sequence, kRecords);
  EXPECT_EQ(report.segments, 1u);
  EXPECT_EQ(wal->append("next").value(), kRecords + 1);
}

TEST(Wal, SequencesAreNeverReusedAfterEveryRecordWasRemoved) {
  ScratchDir dir;
  const WalOptions options{.dir = dir.wal()};
  {
    std::unique_ptr<Wal> wal = open_ok(options);
    append_records(*wal, 1, 10);
  }
  {
    // The reopened log's active segment is empty and starts at 11, so the
    // segment holding 1..10 can go.
    std::unique_ptr<Wal> wal = open_ok(options);
    EXPECT_EQ(wal->remove_through(10).value(), 1u);
    EXPECT_EQ(segment_files(dir.wal()).size(), 1u);
  }
  Records replayed;
  WalOpenReport report;
  std::unique_ptr<Wal> wal = open_ok(options, &replayed, &report);
  EXPECT_TRUE(replayed.empty());
  EXPECT_EQ(report.records, 0u);
  EXPECT_EQ(report.last_sequence, 10u);
  EXPECT_FALSE(report.cut_tail);
  EXPECT_EQ(wal->last_sequence(), 10u);
  EXPECT_EQ(wal->append("eleven").value(), 11u);
}

TEST(Wal, ReplayAfterBeyondTheLogStartsAfterItAndDropsTheCoveredSegments) {
  // A snapshot covering sequence 40 and a log that only reached 10 (its
  // newer segments were lost): new records must come after 40, or the next
  // recovery would skip them as covered.
  ScratchDir dir;
  const WalOptions options{.dir = dir.wal()};
  {
    std::unique_ptr<Wal> wal = open_ok(options);
    append_records(*wal, 1, 10);
  }
  Records replayed;
  WalOpenReport report;
  {
    core::Result<std::unique_ptr<Wal>> wal = open_collecting(options, 40, &replayed, &report);
    ASSERT_TRUE(wal.is_ok()) << wal.status().to_string();
    EXPECT_TRUE(replayed.empty());
    EXPECT_EQ(report.last_sequence, 40u);
    EXPECT_EQ(wal.value()->append("forty-one").value(), 41u);
  }
  replayed.clear();
  core::Result<std::unique_ptr<Wal>> wal = open_collecting(options, 40, &replayed, &report);
  ASSERT_TRUE(wal.is_ok()) << wal.status().to_string();
  ASSERT_EQ(replayed.size(), 1u);
  EXPECT_EQ(replayed[0], (std::pair<uint64_t, std::string>{41, "forty-one"}));
}

// Builds a log of `records` records, closes it and returns the bytes of its
// files by name, and where the last record starts in the last segment.
struct ClosedLog {
  std::map<std::string, std::string> files;
  std::string last_segment;
  size_t last_record_start = 0;
};

ClosedLog build_closed_log(const fs::path& wal_dir, const WalOptions& options, uint64_t records) {
  ClosedLog log;
  {
    std::unique_ptr<Wal> wal = open_ok(options);
    append_records(*wal, 1, records);
  }
  for (const fs::path& f : segment_files(wal_dir)) log.files[f.filename().string()] = read_file(f);
  log.last_segment = log.files.rbegin()->first;
  log.last_record_start =
      log.files.rbegin()->second.size() - kWalRecordHeaderBytes - record_bytes(records).size();
  return log;
}

void restore(const ClosedLog& log, const fs::path& dir) {
  fs::create_directories(dir);
  for (const auto& [name, bytes] : log.files) write_file(dir / name, bytes);
}

// Opens a log whose last record was damaged and checks it was cut, never
// replayed, and that the log goes on from the right sequence across reopens.
void expect_last_record_cut(const WalOptions& options, uint64_t records, const ClosedLog& log,
                            const std::string& trial) {
  SCOPED_TRACE(trial);
  Records replayed;
  WalOpenReport report;
  core::Result<std::unique_ptr<Wal>> wal = open_collecting(options, 0, &replayed, &report);
  ASSERT_TRUE(wal.is_ok()) << wal.status().to_string();
  EXPECT_TRUE(report.cut_tail);
  EXPECT_NE(report.cut_detail.find("segment " + log.last_segment + " at byte " +
                                   std::to_string(log.last_record_start) + ": "),
            std::string::npos)
      << report.cut_detail;
  EXPECT_EQ(report.records, records - 1);
  EXPECT_EQ(report.last_sequence, records - 1);
  expect_records(replayed, 1, records - 1);
  // The damaged segment was truncated to its last valid record (or removed
  // when none was left).
  const fs::path last = options.dir / log.last_segment;
  if (log.last_record_start > kWalSegmentHeaderBytes) {
    EXPECT_EQ(fs::file_size(last), log.last_record_start);
  }
  // Appends go to a new segment starting after the last valid record.
  core::Result<uint64_t> seq = wal.value()->append("replacement");
  ASSERT_TRUE(seq.is_ok()) << seq.status().to_string();
  EXPECT_EQ(seq.value(), records);
  EXPECT_EQ(first_sequence_of(segment_files(options.dir).back()), records);
  wal.value().reset();

  replayed.clear();
  wal = open_collecting(options, 0, &replayed, &report);
  ASSERT_TRUE(wal.is_ok()) << wal.status().to_string();
  EXPECT_FALSE(report.cut_tail) << report.cut_detail;
  EXPECT_EQ(report.last_sequence, records);
  ASSERT_EQ(replayed.size(), records);
  EXPECT_EQ(replayed.back(), std::make_pair(records, std::string("replacement")));
  replayed.pop_back();
  expect_records(replayed, 1, records - 1);
}

TEST(Wal, TornTailIsCutAndNeverReplayed) {
  constexpr uint64_t kRecords = 6;
  // segment_bytes 1: every record in a segment of its own, so cutting the
  // last one leaves its segment empty; a large one keeps all in one segment.
  for (uint64_t segment_bytes : {uint64_t{1}, uint64_t{1} << 20}) {
    ScratchDir scratch;
    const ClosedLog log = build_closed_log(
        scratch.wal(), {.dir = scratch.wal(), .segment_bytes = segment_bytes}, kRecords);
    const std::string& last = log.files.at(log.last_segment);
    for (size_t cut = log.last_record_start + 1; cut < last.size(); ++cut) {
      ScratchDir trial;
      ClosedLog torn = log;
      torn.files[log.last_segment].resize(cut);
      restore(torn, trial.wal());
      expect_last_record_cut({.dir = trial.wal(), .segment_bytes = segment_bytes}, kRecords, log,
                             "segment_bytes " + std::to_string(segment_bytes) + ", cut at " +
                                 std::to_string(cut) + " of " + std::to_string(last.size()));
    }
  }
}

TEST(Wal, FlippedByteInLastRecordIsCut) {
  constexpr uint64_t kRecords = 5;
  ScratchDir scratch;
  const ClosedLog log = build_closed_log(scratch.wal(), {.dir = scratch.wal()}, kRecords);
  const std::string& last = log.files.at(log.last_segment);
  for (size_t at = log.last_record_start; at < last.size(); ++at) {
    ScratchDir trial;
    ClosedLog damaged = log;
    damaged.files[log.last_segment][at] ^= 0x5A;
    restore(damaged, trial.wal());
    expect_last_record_cut({.dir = trial.wal()}, kRecords, log, "byte " + std::to_string(at));
  }
}

TEST(Wal, FlippedByteInAnEarlierSegmentFailsOpenNamingTheFile) {
  ScratchDir scratch;
  const ClosedLog log =
      build_closed_log(scratch.wal(), {.dir = scratch.wal(), .segment_bytes = 120}, 20);
  ASSERT_GE(log.files.size(), 3u);
  const std::string victim = std::next(log.files.begin())->first;  // the second segment
  const size_t size = log.files.at(victim).size();
  for (size_t at = 0; at < size; ++at) {
    SCOPED_TRACE("byte " + std::to_string(at));
    ScratchDir trial;
    ClosedLog damaged = log;
    damaged.files[victim][at] ^= 0x01;
    restore(damaged, trial.wal());
    Records replayed;
    core::Result<std::unique_ptr<Wal>> wal = open_collecting({.dir = trial.wal()}, 0, &replayed);
    ASSERT_FALSE(wal.is_ok());
    EXPECT_EQ(wal.status().code(), core::StatusCode::kInternal);
    EXPECT_NE(wal.status().message().find("segment " + victim + " at byte "), std::string::npos)
        << wal.status().message();
    // Nothing was changed on disk.
    EXPECT_EQ(segment_files(trial.wal()).size(), log.files.size());
    EXPECT_EQ(read_file(trial.wal() / victim), damaged.files[victim]);
  }
}

TEST(Wal, MissingMiddleSegmentFailsOpenAsAGap) {
  ScratchDir scratch;
  ClosedLog log = build_closed_log(scratch.wal(), {.dir = scratch.wal(), .segment_bytes = 120}, 20);
  ASSERT_GE(log.files.size(), 3u);
  const std::string third = std::next(log.files.begin(), 2)->first;
  log.files.erase(std::next(log.files.begin()));
  ScratchDir trial;
  restore(log, trial.wal());
  Records replayed;
  core::Result<std::unique_ptr<Wal>> wal = open_collecting({.dir = trial.wal()}, 0, &replayed);
  ASSERT_FALSE(wal.is_ok());
  EXPECT_NE(wal.status().message().find("segment " + third), std::string::npos)
      << wal.status().message();
  EXPECT_NE(wal.status().message().find("gap"), std::string::npos) << wal.status().message();
}

TEST(Wal, SegmentOfANewerFormatVersionIsRefused) {
  ScratchDir scratch;
  ClosedLog log = build_closed_log(scratch.wal(), {.dir = scratch.wal()}, 3);
  std::string& bytes = log.files.at(log.last_segment);
  bytes[4] = 2;  // version 2, with a valid header checksum
  const uint32_t sum =
      static_cast<uint32_t>(crc32(0L, reinterpret_cast<const unsigned char*>(bytes.data()), 16));
  for (int i = 0; i < 4; ++i) bytes[16 + i] = static_cast<char>((sum >> (8 * i)) & 0xFF);
  ScratchDir trial;
  restore(log, trial.wal());
  Records replayed;
  core::Result<std::unique_ptr<Wal>> wal = open_collecting({.dir = trial.wal()}, 0, &replayed);
  ASSERT_FALSE(wal.is_ok());
  EXPECT_EQ(wal.status().code(), core::StatusCode::kConflict);
  EXPECT_NE(wal.status().message().find("newer"), std::string::npos) << wal.status().message();
  // Not cut: a newer binary's data is left alone.
  EXPECT_EQ(read_file(trial.wal() / log.last_segment), bytes);
}

TEST(Wal, LastSegmentWithATornOrMissingHeaderIsDropped) {
  ScratchDir scratch;
  const WalOptions options{.dir = scratch.wal()};
  ClosedLog log = build_closed_log(scratch.wal(), options, 4);
  // What a crash while creating segment 5 leaves: an empty file, or part of
  // its header.
  for (size_t header_bytes : {size_t{0}, size_t{7}, kWalSegmentHeaderBytes - 1}) {
    SCOPED_TRACE(std::to_string(header_bytes) + " header bytes");
    ScratchDir trial;
    ClosedLog crashed = log;
    const std::string full = read_file(scratch.wal() / log.files.rbegin()->first);
    std::string header = full.substr(0, kWalSegmentHeaderBytes);
    header[8] = 5;  // first sequence 5 (header CRC not updated: the header is torn anyway)
    crashed.files["00000000000000000005.wal"] = header.substr(0, header_bytes);
    restore(crashed, trial.wal());
    Records replayed;
    WalOpenReport report;
    std::unique_ptr<Wal> wal = open_ok({.dir = trial.wal()}, &replayed, &report);
    ASSERT_NE(wal, nullptr);
    expect_records(replayed, 1, 4);
    EXPECT_EQ(report.cut_tail, header_bytes > 0) << report.cut_detail;
    EXPECT_EQ(wal->append("five").value(), 5u);
    wal.reset();
    wal = open_ok({.dir = trial.wal()}, &replayed, &report);
    EXPECT_EQ(report.last_sequence, 5u);
    EXPECT_FALSE(report.cut_tail);
  }
}

TEST(Wal, SegmentFilesFollowTheDocumentedFormat) {
  ScratchDir dir;
  {
    std::unique_ptr<Wal> wal = open_ok({.dir = dir.wal()});
    append_records(*wal, 1, 3);
  }
  const std::vector<fs::path> files = segment_files(dir.wal());
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].filename(), "00000000000000000001.wal");
  std::string expected = documented_header(1);
  for (uint64_t i = 1; i <= 3; ++i) expected += documented_record(i, record_bytes(i));
  EXPECT_EQ(read_file(files[0]), expected);
}

TEST(Wal, ChecksummedRecordWithTheWrongSequenceIsCutAtTheTailAndFatalBeforeIt) {
  // Stale blocks of an old segment can surface past the last write after a
  // crash: valid checksums, wrong sequences.
  ScratchDir scratch;
  ClosedLog log = build_closed_log(scratch.wal(), {.dir = scratch.wal()}, 3);
  {
    ScratchDir trial;
    ClosedLog stale = log;
    stale.files[log.last_segment] += documented_record(2, "stale");
    restore(stale, trial.wal());
    Records replayed;
    WalOpenReport report;
    std::unique_ptr<Wal> wal = open_ok({.dir = trial.wal()}, &replayed, &report);
    ASSERT_NE(wal, nullptr);
    expect_records(replayed, 1, 3);
    EXPECT_TRUE(report.cut_tail);
    EXPECT_NE(report.cut_detail.find("sequence 2, expected 4"), std::string::npos)
        << report.cut_detail;
    EXPECT_EQ(wal->append("four").value(), 4u);
  }
  {
    // The same in a segment that valid data follows.
    ScratchDir trial;
    ClosedLog stale = log;
    stale.files[log.last_segment] += documented_record(7, "gap");
    stale.files["00000000000000000004.wal"] = documented_header(4) + documented_record(4, "x");
    restore(stale, trial.wal());
    Records replayed;
    core::Result<std::unique_ptr<Wal>> wal = open_collecting({.dir = trial.wal()}, 0, &replayed);
    ASSERT_FALSE(wal.is_ok());
    EXPECT_NE(wal.status().message().find("segment " + log.last_segment + " at byte " +
                                          std::to_string(log.files.at(log.last_segment).size())),
              std::string::npos)
        << wal.status().message();
  }
}

TEST(Wal, ReplayErrorAbortsOpen) {
  ScratchDir dir;
  const WalOptions options{.dir = dir.wal()};
  {
    std::unique_ptr<Wal> wal = open_ok(options);
    append_records(*wal, 1, 5);
  }
  std::vector<uint64_t> seen;
  core::Result<std::unique_ptr<Wal>> wal =
      Wal::open(options, 1, [&seen](uint64_t sequence, std::string_view) {
        seen.push_back(sequence);
        return sequence == 3 ? core::invalid_argument("record 3 does not apply")
                             : core::Status::ok();
      });
  ASSERT_FALSE(wal.is_ok());
  EXPECT_EQ(wal.status().code(), core::StatusCode::kInvalidArgument);
  EXPECT_EQ(wal.status().message(), "record 3 does not apply");
  EXPECT_EQ(seen, (std::vector<uint64_t>{2, 3}));
  // The failed open changed nothing: all five replay.
  Records replayed;
  open_ok(options, &replayed);
  expect_records(replayed, 1, 5);
}

TEST(Wal, SyncOfAnUnwrittenSequenceIsAnInvalidArgument) {
  ScratchDir dir;
  std::unique_ptr<Wal> wal = open_ok({.dir = dir.wal()});
  EXPECT_TRUE(wal->sync(0).is_ok());
  EXPECT_EQ(wal->sync(1).code(), core::StatusCode::kInvalidArgument);
  ASSERT_TRUE(wal->write("x").is_ok());
  EXPECT_TRUE(wal->sync(1).is_ok());
  EXPECT_EQ(wal->durable_sequence(), 1u);
}

// 8 threads append at once; every sequence is handed out once, contiguously,
// and every record replays with its own bytes.
void concurrent_appenders(const WalOptions& options) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 60;
  std::map<uint64_t, std::string> written;
  {
    std::unique_ptr<Wal> wal = open_ok(options);
    ASSERT_NE(wal, nullptr);
    std::vector<std::vector<std::pair<uint64_t, std::string>>> got(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          std::string bytes = "thread " + std::to_string(t) + " record " + std::to_string(i);
          core::Result<uint64_t> seq = wal->append(bytes);
          if (!seq.is_ok()) {
            ADD_FAILURE() << seq.status().to_string();
            return;
          }
          // Durable at return, whatever other threads do.
          EXPECT_GE(wal->durable_sequence(), seq.value());
          got[t].emplace_back(seq.value(), std::move(bytes));
        }
      });
    }
    for (std::thread& t : threads) t.join();
    for (const auto& per_thread : got) {
      for (size_t i = 1; i < per_thread.size(); ++i) {
        EXPECT_LT(per_thread[i - 1].first, per_thread[i].first);  // in call order
      }
      for (const auto& [seq, bytes] : per_thread) {
        EXPECT_TRUE(written.emplace(seq, bytes).second) << "sequence " << seq << " twice";
      }
    }
    ASSERT_EQ(written.size(), size_t{kThreads * kPerThread});
    EXPECT_EQ(written.begin()->first, 1u);
    EXPECT_EQ(written.rbegin()->first, uint64_t{kThreads * kPerThread});
    EXPECT_EQ(wal->last_sequence(), uint64_t{kThreads * kPerThread});
    EXPECT_EQ(wal->durable_sequence(), uint64_t{kThreads * kPerThread});
  }
  Records replayed;
  open_ok(options, &replayed);
  ASSERT_EQ(replayed.size(), written.size());
  auto it = written.begin();
  for (const auto& record : replayed) {
    EXPECT_EQ(record.first, it->first);
    EXPECT_EQ(record.second, it->second);
    ++it;
  }
}

TEST(Wal, ConcurrentAppendersGetContiguousSequencesAndAllReplayWithFsyncAlways) {
  ScratchDir dir;
  concurrent_appenders({.dir = dir.wal(), .segment_bytes = 4096, .fsync = FsyncPolicy::kAlways});
}

TEST(Wal, ConcurrentAppendersGetContiguousSequencesAndAllReplayWithGroupCommit) {
  ScratchDir dir;
  concurrent_appenders({.dir = dir.wal(),
                        .segment_bytes = 4096,
                        .fsync = FsyncPolicy::kGroup,
                        .group_commit_interval = std::chrono::microseconds(500)});
}

TEST(Wal, GroupCommitServesConcurrentAppendersWithFewerFsyncsThanRecords) {
  ScratchDir dir;
  // A long interval: the 8 appenders waiting on one tick all write before it.
  std::unique_ptr<Wal> wal = open_ok({.dir = dir.wal(),
                                      .fsync = FsyncPolicy::kGroup,
                                      .group_commit_interval = std::chrono::milliseconds(50)});
  ASSERT_NE(wal, nullptr);
  constexpr int kThreads = 8;
  constexpr int kPerThread = 10;
  const uint64_t fsyncs_before = wal->fsync_count();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&wal] {
      for (int i = 0; i < kPerThread; ++i) {
        EXPECT_TRUE(wal->append("grouped").is_ok());
      }
    });
  }
  for (std::thread& t : threads) t.join();
  const uint64_t fsyncs = wal->fsync_count() - fsyncs_before;
  EXPECT_GE(fsyncs, 1u);
  EXPECT_LT(fsyncs, uint64_t{kThreads * kPerThread});
  EXPECT_EQ(wal->durable_sequence(), uint64_t{kThreads * kPerThread});
}

TEST(Wal, ConcurrentSyncCallersShareOneFsync) {
  ScratchDir dir;
  std::unique_ptr<Wal> wal = open_ok({.dir = dir.wal(), .fsync = FsyncPolicy::kAlways});
  ASSERT_NE(wal, nullptr);
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(wal->write("unsynced").is_ok());
  const uint64_t fsyncs_before = wal->fsync_count();
  // Whoever leads syncs everything written so far, so the others find their
  // record durable (at once, or when the leader's fsync ends).
  std::vector<std::thread> threads;
  for (uint64_t t = 1; t <= 8; ++t) {
    threads.emplace_back([&wal, t] { EXPECT_TRUE(wal->sync(t * 12).is_ok()); });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(wal->fsync_count() - fsyncs_before, 1u);
  EXPECT_EQ(wal->durable_sequence(), 100u);
}

}  // namespace
}  // namespace vesta::persistence
