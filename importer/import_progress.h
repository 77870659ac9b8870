#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

namespace vesta::importer {

// Where an import stands, as shown to the user.
struct ProgressSnapshot {
  uint64_t done = 0;     // points the jobs got through: imported and skipped
  uint64_t total = 0;    // points of the whole file
  uint64_t skipped = 0;  // of done, bad points skipped
  double rate = 0;       // points per second; 0 while unknown
  std::optional<double> eta_seconds;
  std::string note;  // e.g. "job 2/3"; may be empty
};

// "1:05", "12:00", "1:02:03"; "?" for a negative or absurd value.
std::string format_duration(double seconds);

// One line of a terminal progress bar, at most `width` columns:
// "[#########---------]  81920/200000 points  41%  131072/s  ETA 0:01  job 1/3".
std::string format_progress_bar(const ProgressSnapshot& p, int width);

// A plain progress line for logs:
// "81920/200000 points (41%), 131072 points/s, ETA 0:01, job 1/3".
std::string format_progress_line(const ProgressSnapshot& p);

// Shows an import's progress on standard error: on a terminal a bar redrawn
// in place (at most every 100 ms), elsewhere a plain line every
// `line_interval` (and at each `update(..., force=true)`). The rate is
// measured here, over the points done since the first update that saw
// progress, so it spans every job of a split file. Not thread-safe.
class ImportProgress {
 public:
  enum class Style { kBar, kLines };
  using Clock = std::chrono::steady_clock;

  ImportProgress(Style style, std::FILE* out, uint64_t total,
                 std::chrono::milliseconds line_interval = std::chrono::seconds(2));
  ~ImportProgress();  // ends a bar's line
  ImportProgress(const ImportProgress&) = delete;
  ImportProgress& operator=(const ImportProgress&) = delete;

  // Style::kBar when `fd` is a terminal, else kLines.
  static Style style_for(int fd);

  // The jobs got through `done` points (`skipped` of them skipped). `force`
  // prints a line now, whatever the interval.
  void update(uint64_t done, uint64_t skipped, std::string_view note, bool force = false);
  // A line of its own (the bar, if any, is cleared first and redrawn by the
  // next update).
  void message(std::string_view text);
  // Ends a bar's line, so that what follows starts on a line of its own.
  void finish();

  ProgressSnapshot snapshot() const { return last_; }

 private:
  void draw();

  const Style style_;
  std::FILE* const out_;
  const std::chrono::milliseconds line_interval_;
  ProgressSnapshot last_;
  std::optional<Clock::time_point> rate_start_;
  uint64_t done_at_rate_start_ = 0;
  std::optional<Clock::time_point> last_print_;
  bool bar_on_screen_ = false;
};

}  // namespace vesta::importer
