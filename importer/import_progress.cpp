#include "importer/import_progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>

namespace vesta::importer {
namespace {

// A bar is redrawn at most this often: a terminal need not see every poll.
constexpr std::chrono::milliseconds kBarRedrawInterval{100};
// Columns assumed when the terminal's width cannot be read.
constexpr int kDefaultWidth = 80;
// The bar itself never grows past this many columns.
constexpr int kMaxBarColumns = 40;

int terminal_width(std::FILE* out) {
  winsize size{};
  if (::ioctl(::fileno(out), TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  return kDefaultWidth;
}

int percent(const ProgressSnapshot& p) {
  if (p.total == 0) return 100;
  return static_cast<int>(std::min<uint64_t>(100, p.done * 100 / p.total));
}

std::string rate_text(double rate) {
  return std::to_string(static_cast<uint64_t>(std::llround(rate)));
}

}  // namespace

std::string format_duration(double seconds) {
  if (!(seconds >= 0) || seconds > 1e7) return "?";
  const auto whole = static_cast<uint64_t>(std::ceil(seconds));
  const uint64_t hours = whole / 3600, minutes = whole / 60 % 60, secs = whole % 60;
  char text[32];
  if (hours > 0) {
    std::snprintf(text, sizeof(text), "%llu:%02llu:%02llu", static_cast<unsigned long long>(hours),
                  static_cast<unsigned long long>(minutes), static_cast<unsigned long long>(secs));
  } else {
    std::snprintf(text, sizeof(text), "%llu:%02llu", static_cast<unsigned long long>(minutes),
                  static_cast<unsigned long long>(secs));
  }
  return text;
}

std::string format_progress_bar(const ProgressSnapshot& p, int width) {
  std::string tail = "  " + std::to_string(p.done) + "/" + std::to_string(p.total) + " points  " +
                     std::to_string(percent(p)) + "%";
  if (p.skipped > 0) tail += "  " + std::to_string(p.skipped) + " skipped";
  if (p.rate > 0) tail += "  " + rate_text(p.rate) + "/s";
  if (p.eta_seconds) tail += "  ETA " + format_duration(*p.eta_seconds);
  if (!p.note.empty()) tail += "  " + p.note;
  // The bar takes what the text leaves, between 10 and kMaxBarColumns.
  const int columns = std::clamp(width - 1 - 2 - static_cast<int>(tail.size()), 10, kMaxBarColumns);
  const int filled = p.total == 0
                         ? columns
                         : static_cast<int>(static_cast<double>(columns) *
                                            static_cast<double>(std::min(p.done, p.total)) /
                                            static_cast<double>(p.total));
  std::string line = "[" + std::string(filled, '#') + std::string(columns - filled, '-') + "]";
  line += tail;
  if (width > 1 && static_cast<int>(line.size()) > width - 1) line.resize(width - 1);
  return line;
}

std::string format_progress_line(const ProgressSnapshot& p) {
  std::string line = std::to_string(p.done) + "/" + std::to_string(p.total) + " points (" +
                     std::to_string(percent(p)) + "%)";
  if (p.skipped > 0) line += ", " + std::to_string(p.skipped) + " skipped";
  if (p.rate > 0) line += ", " + rate_text(p.rate) + " points/s";
  if (p.eta_seconds) line += ", ETA " + format_duration(*p.eta_seconds);
  if (!p.note.empty()) line += ", " + p.note;
  return line;
}

ImportProgress::ImportProgress(Style style, std::FILE* out, uint64_t total,
                               std::chrono::milliseconds line_interval)
    : style_(style), out_(out), line_interval_(line_interval) {
  last_.total = total;
}

ImportProgress::~ImportProgress() { finish(); }

ImportProgress::Style ImportProgress::style_for(int fd) {
  return ::isatty(fd) != 0 ? Style::kBar : Style::kLines;
}

void ImportProgress::update(uint64_t done, uint64_t skipped, std::string_view note, bool force) {
  const Clock::time_point now = Clock::now();
  // The rate counts from the last update that saw no progress yet, so time
  // spent queued behind other jobs does not lower it.
  if (!rate_start_ || done <= done_at_rate_start_) {
    rate_start_ = now;
    done_at_rate_start_ = done;
  }
  last_.done = done;
  last_.skipped = skipped;
  last_.note = std::string(note);
  const double seconds = std::chrono::duration<double>(now - *rate_start_).count();
  if (seconds > 0 && done > done_at_rate_start_) {
    last_.rate = static_cast<double>(done - done_at_rate_start_) / seconds;
    last_.eta_seconds = static_cast<double>(last_.total - std::min(done, last_.total)) / last_.rate;
  }
  const auto interval = style_ == Style::kBar ? kBarRedrawInterval : line_interval_;
  if (force || !last_print_ || now - *last_print_ >= interval) {
    last_print_ = now;
    draw();
  }
}

void ImportProgress::message(std::string_view text) {
  if (bar_on_screen_) std::fputs("\r\x1b[K", out_);
  bar_on_screen_ = false;
  std::fprintf(out_, "vesta import: %.*s\n", static_cast<int>(text.size()), text.data());
  std::fflush(out_);
}

void ImportProgress::finish() {
  if (bar_on_screen_) std::fputc('\n', out_);
  bar_on_screen_ = false;
  std::fflush(out_);
}

void ImportProgress::draw() {
  if (style_ == Style::kBar) {
    // Back to the line's start and clear it, so a shorter line leaves nothing behind.
    std::fprintf(out_, "\r\x1b[K%s", format_progress_bar(last_, terminal_width(out_)).c_str());
    bar_on_screen_ = true;
  } else {
    std::fprintf(out_, "vesta import: %s\n", format_progress_line(last_).c_str());
  }
  std::fflush(out_);
}

}  // namespace vesta::importer
