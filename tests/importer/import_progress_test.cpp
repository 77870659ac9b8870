// The progress bar and lines of `vesta import --format ndjson|binary`.

#include "importer/import_progress.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <string>

namespace vesta::importer {
namespace {

ProgressSnapshot snapshot(uint64_t done, uint64_t total, double rate = 0,
                          std::optional<double> eta_seconds = std::nullopt) {
  ProgressSnapshot p;
  p.done = done;
  p.total = total;
  p.rate = rate;
  p.eta_seconds = eta_seconds;
  return p;
}

TEST(ImportProgress, DurationsReadAsClockTimes) {
  EXPECT_EQ(format_duration(0), "0:00");
  EXPECT_EQ(format_duration(0.2), "0:01");  // rounded up: never "0:00" while work is left
  EXPECT_EQ(format_duration(65), "1:05");
  EXPECT_EQ(format_duration(720), "12:00");
  EXPECT_EQ(format_duration(3723), "1:02:03");
  EXPECT_EQ(format_duration(-1), "?");
  EXPECT_EQ(format_duration(1e12), "?");
}

TEST(ImportProgress, LineSaysDoneTotalRateAndEta) {
  ProgressSnapshot p = snapshot(81920, 200000, 131072.4, 0.9);
  EXPECT_EQ(format_progress_line(p), "81920/200000 points (40%), 131072 points/s, ETA 0:01");
  p.skipped = 3;
  p.note = "job 2/3";
  EXPECT_EQ(format_progress_line(p),
            "81920/200000 points (40%), 3 skipped, 131072 points/s, ETA 0:01, job 2/3");
  // Before any progress: no rate, no ETA.
  EXPECT_EQ(format_progress_line(snapshot(0, 10)), "0/10 points (0%)");
}

TEST(ImportProgress, BarFitsTheTerminalAndFillsInProportion) {
  const ProgressSnapshot half = snapshot(50, 100, 10, 5);
  for (int width : {20, 40, 80, 200}) {
    const std::string bar = format_progress_bar(half, width);
    EXPECT_LE(static_cast<int>(bar.size()), width - 1) << bar;
    EXPECT_EQ(bar.front(), '[');
  }
  const std::string bar = format_progress_bar(half, 120);
  const size_t close = bar.find(']');
  ASSERT_NE(close, std::string::npos);
  EXPECT_EQ(std::count(bar.begin(), bar.begin() + close, '#'),
            std::count(bar.begin(), bar.begin() + close, '-'));
  EXPECT_NE(bar.find("50/100 points  50%  10/s  ETA 0:05"), std::string::npos) << bar;
  const std::string full = format_progress_bar(snapshot(7, 7), 80);
  EXPECT_EQ(full.find('-'), std::string::npos) << full;
}

TEST(ImportProgress, LinesAreWrittenAtTheIntervalOrWhenForced) {
  std::FILE* out = std::tmpfile();
  ASSERT_NE(out, nullptr);
  {
    ImportProgress progress(ImportProgress::Style::kLines, out, 100, std::chrono::hours(1));
    progress.update(0, 0, "");                // the first update prints
    progress.update(10, 0, "");               // within the interval: not printed
    progress.update(20, 1, "job 1/2", true);  // forced
    progress.message("job import-1 completed");
  }
  std::rewind(out);
  std::string text(4096, '\0');
  text.resize(std::fread(text.data(), 1, text.size(), out));
  std::fclose(out);
  EXPECT_NE(text.find("vesta import: 0/100 points (0%)\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("10/100"), std::string::npos) << text;
  EXPECT_NE(text.find("vesta import: 20/100 points (20%), 1 skipped"), std::string::npos) << text;
  EXPECT_NE(text.find("job 1/2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("vesta import: job import-1 completed\n"), std::string::npos) << text;
  EXPECT_EQ(text.find('\r'), std::string::npos) << "plain lines never redraw";
}

}  // namespace
}  // namespace vesta::importer
