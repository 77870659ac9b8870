#include "importer/bulk_import.h"

#include <pthread.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "importer/import_progress.h"
#include "importer/import_splitter.h"
#include "importer/target_collection.h"
#include "persistence/mapped_file.h"

namespace vesta::importer {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// How often the job in hand is polled (GET /jobs/ID): first after
// kFirstPollDelay, then twice as long each time up to kPollInterval, so that
// a small job is seen to end soon after it did.
constexpr std::chrono::milliseconds kFirstPollDelay{10};
constexpr std::chrono::milliseconds kPollInterval{250};
// The upload of one part, until the server's 202: it reads an import body
// for up to 10 minutes and writes it to disk before it answers.
constexpr int kUploadTimeoutSeconds = 600;
// Polls may fail this long in a row (a server restarting: its jobs resume)
// before the command gives up.
constexpr std::chrono::seconds kPollFailureBudget{30};
// After a cancel, how long to wait for a running job to stop (it finishes
// the chunk in hand first).
constexpr std::chrono::seconds kCancelWait{30};
// Bad points printed with their lines; the server keeps 100 per job.
constexpr size_t kErrorsShown = 5;
// The exit status of a command interrupted by SIGINT, as shells report it.
constexpr int kInterruptedExitStatus = 130;

volatile std::sig_atomic_t g_interrupted = 0;

void note_interrupt(int /*signal*/) { g_interrupted = 1; }

// Catches SIGINT and SIGTERM into g_interrupted for the life of the import,
// so that the command can cancel its jobs; restores the previous handlers.
class InterruptCatcher {
 public:
  InterruptCatcher() {
    g_interrupted = 0;
    struct sigaction action {};
    action.sa_handler = note_interrupt;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, &old_int_);
    sigaction(SIGTERM, &action, &old_term_);
  }
  ~InterruptCatcher() { release(); }
  InterruptCatcher(const InterruptCatcher&) = delete;
  InterruptCatcher& operator=(const InterruptCatcher&) = delete;

  // Puts the previous handlers back: while the jobs are being cancelled, a
  // second Ctrl-C ends the command at once.
  void release() {
    if (released_) return;
    released_ = true;
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }

 private:
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
  bool released_ = false;
};

// Holds SIGINT and SIGTERM back while alive, so that no request is cut in
// half (a timed-out socket call is not restarted after a signal): an
// interrupt during an upload is seen once the server answered, with the
// new job's id in hand to cancel it.
class SignalsHeld {
 public:
  SignalsHeld() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, &old_);
  }
  ~SignalsHeld() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }
  SignalsHeld(const SignalsHeld&) = delete;
  SignalsHeld& operator=(const SignalsHeld&) = delete;

 private:
  sigset_t old_{};
};

// Sleeps `duration`, or less when interrupted.
void pause_for(std::chrono::milliseconds duration) {
  const Clock::time_point until = Clock::now() + duration;
  while (g_interrupted == 0 && Clock::now() < until) {
    std::this_thread::sleep_for(
        std::min<Clock::duration>(std::chrono::milliseconds(20), until - Clock::now()));
  }
}

// A job as GET /jobs/{id} answers it (docs/api.md "Bulk import").
struct JobState {
  std::string id;
  std::string state;
  uint64_t points_total = 0;
  uint64_t points_done = 0;
  uint64_t points_skipped = 0;
  struct Error {
    uint64_t line = 0;  // in the part: NDJSON 1-based line, binary 0-based row
    std::string message;
  };
  std::vector<Error> errors;
  std::string failure;

  bool finished() const {
    return state == "completed" || state == "failed" || state == "cancelled";
  }
  uint64_t through() const { return points_done + points_skipped; }
};

std::string string_field(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

uint64_t count_field(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
}

core::Result<JobState> job_from_reply(const loadgen::HttpReply& reply, const std::string& what) {
  const json body = json::parse(reply.body, nullptr, false);
  if (!body.is_object() || !body.contains("result") || !body["result"].is_object() ||
      !body["result"].contains("id")) {
    return core::Status(core::StatusCode::kUnavailable,
                        what + ": the answer is not a job: " + reply.body.substr(0, 200));
  }
  const json& r = body["result"];
  JobState job;
  job.id = string_field(r, "id");
  job.state = string_field(r, "state");
  job.points_total = count_field(r, "points_total");
  job.points_done = count_field(r, "points_done");
  job.points_skipped = count_field(r, "points_skipped");
  job.failure = string_field(r, "failure");
  if (auto errors = r.find("errors"); errors != r.end() && errors->is_array()) {
    for (const json& e : *errors) {
      if (e.is_object()) job.errors.push_back({count_field(e, "line"), string_field(e, "message")});
    }
  }
  return job;
}

// The size of the first non-blank line's "vector" array, if it has one: the
// size of a collection the import creates.
std::optional<uint32_t> first_vector_size(std::string_view ndjson) {
  size_t pos = 0;
  while (pos < ndjson.size()) {
    size_t stop = ndjson.find('\n', pos);
    if (stop == std::string_view::npos) stop = ndjson.size();
    const std::string_view line = ndjson.substr(pos, stop - pos);
    pos = stop + 1;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    const json point = json::parse(line, nullptr, false);
    if (point.is_object() && point.contains("vector") && point["vector"].is_array() &&
        !point["vector"].empty() && point["vector"].size() <= UINT32_MAX) {
      return static_cast<uint32_t>(point["vector"].size());
    }
    return std::nullopt;
  }
  return std::nullopt;
}

// One run of `vesta import --format ndjson|binary`, from the first upload to
// the summary. Single-threaded.
class BulkImport {
 public:
  BulkImport(const ImportOptions& o, const loadgen::HttpEndpoint& endpoint,
             const ImportSplitter& splitter, InterruptCatcher& catcher)
      : o_(o),
        splitter_(splitter),
        catcher_(catcher),
        client_(endpoint, o.api_key),
        uploader_(endpoint, o.api_key, kUploadTimeoutSeconds),
        collection_path_("/collections/" + loadgen::url_path_segment(o.collection)),
        jobs_(splitter.parts().size()),
        progress_(ImportProgress::style_for(STDERR_FILENO), stderr, splitter.points()) {}

  loadgen::HttpClient& client() { return client_; }

  // Submits and follows every part; the command's exit status.
  int run(const TargetCollection& target);

 private:
  size_t part_count() const { return splitter_.parts().size(); }
  std::string part_name(size_t k) const {
    return part_count() == 1 ? std::string("the job")
                             : "part " + std::to_string(k + 1) + "/" + std::to_string(part_count());
  }
  std::string note(size_t k) const {
    return part_count() == 1 ? std::string()
                             : "job " + std::to_string(k + 1) + "/" + std::to_string(part_count());
  }
  // "lines 1-4000" or "rows 0-3999" of the file.
  std::string part_span(size_t k) const {
    const ImportPart& p = splitter_.parts()[k];
    const bool ndjson = splitter_.format() == ImportSplitter::Format::kNdjson;
    return std::string(ndjson ? "lines " : "rows ") + std::to_string(p.first) + "-" +
           std::to_string(p.first + p.count - 1);
  }
  std::string idempotency_key(size_t k) const {
    if (o_.idempotency_key.empty() || part_count() == 1) return o_.idempotency_key;
    return o_.idempotency_key + "-part" + std::to_string(k + 1) + "of" +
           std::to_string(part_count());
  }

  core::Status submit(size_t k);
  core::Result<JobState> poll(size_t k);
  void show_progress(bool force);
  void remember_errors(size_t k);
  // Cancels the submitted jobs from `first` on and waits for them to stop;
  // says what each imported.
  void cancel_from(size_t first, const std::string& why);
  void print_errors();

  const ImportOptions& o_;
  const ImportSplitter& splitter_;
  InterruptCatcher& catcher_;
  loadgen::HttpClient client_;    // polls, cancels
  loadgen::HttpClient uploader_;  // uploads, with their longer timeout
  const std::string collection_path_;
  std::vector<std::optional<JobState>> jobs_;         // by part, once submitted
  size_t submitted_ = 0;                              // parts submitted, in order
  size_t current_ = 0;                                // the part followed
  uint64_t through_before_ = 0, skipped_before_ = 0;  // parts before current_
  std::vector<std::string> errors_;                   // bad points, in the file's terms
  uint64_t errors_total_ = 0;
  ImportProgress progress_;
};

core::Status BulkImport::submit(size_t k) {
  const bool binary = splitter_.format() == ImportSplitter::Format::kBinary;
  std::string target = collection_path_ + "/import?format=" + (binary ? "binary" : "ndjson") +
                       "&on_error=" + (o_.abort_on_error ? "abort" : "skip");
  const std::string key = idempotency_key(k);
  if (!key.empty()) target += "&idempotency_key=" + key;
  const ImportPart& part = splitter_.parts()[k];
  if (part_count() > 1) {
    progress_.message("uploading " + part_name(k) + ": " + part_span(k) + ", " +
                      std::to_string(part.body_bytes) + " bytes");
  }
  core::Result<loadgen::HttpReply> reply = [&] {
    SignalsHeld held;
    return uploader_.request("POST", target, splitter_.body(k),
                             binary ? "application/octet-stream" : "application/x-ndjson");
  }();
  const std::string what = "submitting " + part_name(k) + " (" + part_span(k) + ")";
  if (!reply.is_ok()) {
    // A server that refuses a body over its limit answers 413 and closes
    // while the body is still being sent, which the sender may see only as
    // a broken connection.
    const std::string& message = reply.status().message();
    const bool connected = message.find("cannot connect") == std::string::npos &&
                           message.find("cannot resolve") == std::string::npos;
    return core::Status(reply.status().code(),
                        what + ": " + message +
                            (connected ? " (a body over the server's --max-import-bytes is cut "
                                         "off while it is sent: pass the server's value to "
                                         "--max-import-bytes)"
                                       : ""));
  }
  if (reply.value().status != 200 && reply.value().status != 202) {
    std::string message = what + ": " + loadgen::describe_http_failure(reply.value());
    if (reply.value().status == 413) {
      message += " (pass the server's --max-import-bytes to vesta import's --max-import-bytes)";
    }
    return {core::StatusCode::kUnavailable, message};
  }
  core::Result<JobState> job = job_from_reply(reply.value(), what);
  if (!job.is_ok()) return job.status();
  jobs_[k] = std::move(job).value();
  ++submitted_;
  const JobState& j = *jobs_[k];
  progress_.message(
      std::string(reply.value().status == 200 ? "following the existing job " : "job ") + j.id +
      (part_count() > 1 ? " (" + part_name(k) + ")" : std::string()) + ": " +
      std::to_string(j.points_total) + " points" +
      (reply.value().status == 200 ? ", idempotency key " + key : std::string()));
  return core::Status::ok();
}

core::Result<JobState> BulkImport::poll(size_t k) {
  const std::string target = "/jobs/" + loadgen::url_path_segment(jobs_[k]->id);
  std::optional<Clock::time_point> first_failure;
  for (;;) {
    core::Result<loadgen::HttpReply> reply = [&] {
      SignalsHeld held;
      return client_.request("GET", target);
    }();
    std::string problem;
    if (!reply.is_ok()) {
      problem = reply.status().message();
    } else if (reply.value().status != 200) {
      // A job the server no longer knows will not come back.
      if (reply.value().status == 404 || reply.value().status == 401 ||
          reply.value().status == 403) {
        return core::Status(core::StatusCode::kUnavailable,
                            "GET " + target + ": " + loadgen::describe_http_failure(reply.value()));
      }
      problem = loadgen::describe_http_failure(reply.value());
    } else {
      return job_from_reply(reply.value(), "GET " + target);
    }
    if (!first_failure) first_failure = Clock::now();
    if (Clock::now() - *first_failure > kPollFailureBudget || g_interrupted != 0) {
      return core::Status(core::StatusCode::kUnavailable,
                          "GET " + target + ": " + problem + " (for " +
                              std::to_string(kPollFailureBudget.count()) +
                              " s; the job may still run on the server)");
    }
    pause_for(std::chrono::seconds(1));
  }
}

void BulkImport::show_progress(bool force) {
  const JobState& j = *jobs_[current_];
  progress_.update(through_before_ + j.through(), skipped_before_ + j.points_skipped,
                   note(current_), force);
}

void BulkImport::remember_errors(size_t k) {
  const JobState& j = *jobs_[k];
  errors_total_ += std::max<uint64_t>(j.points_skipped, j.errors.size());
  for (const JobState::Error& e : j.errors) {
    if (errors_.size() < kErrorsShown) errors_.push_back(splitter_.in_file_terms(k, e.message));
  }
}

void BulkImport::print_errors() {
  for (const std::string& e : errors_) std::fprintf(stderr, "  %s\n", e.c_str());
  if (errors_total_ > errors_.size()) {
    std::fprintf(stderr, "  ... and %llu more (GET /jobs/ID lists the first 100 of each job)\n",
                 static_cast<unsigned long long>(errors_total_ - errors_.size()));
  }
}

void BulkImport::cancel_from(size_t first, const std::string& why) {
  for (size_t k = first; k < submitted_; ++k) {
    JobState& j = *jobs_[k];
    if (j.finished()) continue;
    const std::string target = "/jobs/" + loadgen::url_path_segment(j.id);
    core::Result<loadgen::HttpReply> reply = client_.request("DELETE", target);
    if (!reply.is_ok() || reply.value().status != 200) {
      std::fprintf(stderr, "vesta import: %s: cancelling job %s failed: %s\n", why.c_str(),
                   j.id.c_str(),
                   reply.is_ok() ? loadgen::describe_http_failure(reply.value()).c_str()
                                 : reply.status().message().c_str());
      continue;
    }
    // A running job stops after the chunk in hand: wait for its last count.
    const Clock::time_point until = Clock::now() + kCancelWait;
    for (;;) {
      core::Result<loadgen::HttpReply> state = client_.request("GET", target);
      if (state.is_ok() && state.value().status == 200) {
        core::Result<JobState> now = job_from_reply(state.value(), "GET " + target);
        if (now.is_ok()) j = std::move(now).value();
      }
      if (j.finished() || Clock::now() > until) break;
      std::this_thread::sleep_for(kPollInterval);
    }
    const std::string job = j.id + " (" + part_name(k) + ", " + part_span(k) + ")";
    const auto points = static_cast<unsigned long long>(j.points_done);
    if (j.state == "cancelled") {
      std::fprintf(stderr, "vesta import: %s: cancelled job %s after %llu points%s\n", why.c_str(),
                   job.c_str(), points, points > 0 ? " (they stay)" : "");
    } else if (j.finished()) {
      std::fprintf(stderr, "vesta import: %s: job %s had %s meanwhile, %llu points\n", why.c_str(),
                   job.c_str(), j.state.c_str(), points);
    } else {
      std::fprintf(stderr,
                   "vesta import: %s: job %s is cancelled but still %s after %lld s, %llu points "
                   "so far (GET /jobs/%s)\n",
                   why.c_str(), job.c_str(), j.state.c_str(),
                   static_cast<long long>(kCancelWait.count()), points, j.id.c_str());
    }
  }
}

int BulkImport::run(const TargetCollection& target) {
  const Clock::time_point start = Clock::now();
  const size_t n = part_count();
  uint64_t imported = 0;  // by finished jobs
  std::vector<std::string> ids;
  auto interrupted = [&]() {
    progress_.finish();
    catcher_.release();
    cancel_from(current_, "interrupted");
    uint64_t stayed = imported;
    for (size_t k = current_; k < submitted_; ++k) stayed += jobs_[k]->points_done;
    std::fprintf(stderr, "vesta import: interrupted; %llu points of %s were imported into '%s'",
                 static_cast<unsigned long long>(stayed), o_.file.c_str(), o_.collection.c_str());
    if (submitted_ < n) {
      std::fprintf(stderr, "; %s not submitted",
                   (n - submitted_ == 1
                        ? part_name(submitted_)
                        : "parts " + std::to_string(submitted_ + 1) + "-" + std::to_string(n))
                       .c_str());
    }
    std::fputc('\n', stderr);
    return kInterruptedExitStatus;
  };

  if (n == 0) {
    // As lightrag-nano does: the collection is made, nothing is sent.
    std::printf(
        "%s holds no points; nothing imported into collection '%s' (%s, dimension %u, %s)\n",
        o_.file.c_str(), o_.collection.c_str(), target.created ? "created" : "existing", target.dim,
        target.distance.c_str());
    return 0;
  }
  if (core::Status s = submit(0); !s.is_ok()) {
    progress_.finish();
    std::fprintf(stderr, "vesta import: %s\n", s.message().c_str());
    return g_interrupted != 0 ? kInterruptedExitStatus : 1;
  }
  std::chrono::milliseconds poll_delay = kFirstPollDelay;
  while (current_ < n) {
    if (g_interrupted != 0) return interrupted();
    core::Result<JobState> polled = poll(current_);
    if (g_interrupted != 0) return interrupted();
    if (!polled.is_ok()) {
      progress_.finish();
      std::fprintf(stderr, "vesta import: following job %s (%s): %s\n", jobs_[current_]->id.c_str(),
                   part_name(current_).c_str(), polled.status().message().c_str());
      return 1;
    }
    jobs_[current_] = std::move(polled).value();
    const JobState& j = *jobs_[current_];
    show_progress(j.finished());
    if (!j.finished()) {
      // Under skip, the next part uploads while this one waits or runs (so
      // at most two bodies wait on the server's disk); under abort it must
      // wait for this one's end.
      if (!o_.abort_on_error && submitted_ == current_ + 1 && submitted_ < n) {
        if (core::Status s = submit(submitted_); !s.is_ok()) {
          progress_.finish();
          std::fprintf(stderr, "vesta import: %s\n", s.message().c_str());
          cancel_from(current_, "stopping");
          return 1;
        }
        continue;
      }
      pause_for(poll_delay);
      poll_delay = std::min(poll_delay * 2, kPollInterval);
      continue;
    }
    poll_delay = kFirstPollDelay;
    remember_errors(current_);
    imported += j.points_done;
    ids.push_back(j.id);
    if (j.state != "completed") {
      progress_.finish();
      const std::string why = j.state == "failed"
                                  ? "failed: " + splitter_.in_file_terms(current_, j.failure)
                                  : std::string("was cancelled");
      std::fprintf(stderr, "vesta import: job %s (%s, %s) %s\n", j.id.c_str(),
                   part_name(current_).c_str(), part_span(current_).c_str(), why.c_str());
      if (!errors_.empty()) {
        std::fprintf(stderr, "vesta import: the server's errors, by %s of %s:\n",
                     splitter_.format() == ImportSplitter::Format::kNdjson ? "line" : "row",
                     o_.file.c_str());
        print_errors();
      }
      cancel_from(current_ + 1, "stopping");
      std::fprintf(
          stderr, "vesta import: %llu points were imported into '%s' before it stopped (they stay)",
          static_cast<unsigned long long>(imported), o_.collection.c_str());
      if (submitted_ < n) {
        std::fprintf(stderr, "; parts %zu-%zu were not submitted", submitted_ + 1, n);
      }
      std::fputc('\n', stderr);
      return 1;
    }
    through_before_ += j.through();
    skipped_before_ += j.points_skipped;
    ++current_;
    if (current_ < n && submitted_ == current_) {
      if (g_interrupted != 0) return interrupted();
      if (core::Status s = submit(current_); !s.is_ok()) {
        progress_.finish();
        std::fprintf(stderr, "vesta import: %s\n", s.message().c_str());
        return 1;
      }
    }
  }
  progress_.finish();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (skipped_before_ > 0) {
    std::fprintf(stderr, "vesta import: skipped %llu bad points (--on-error skip), by %s of %s:\n",
                 static_cast<unsigned long long>(skipped_before_),
                 splitter_.format() == ImportSplitter::Format::kNdjson ? "line" : "row",
                 o_.file.c_str());
    print_errors();
  }
  std::string job_list;
  for (const std::string& id : ids) job_list += (job_list.empty() ? "" : ", ") + id;
  std::printf(
      "imported %llu points from %s into collection '%s' (%s, dimension %u, %s) in %.2f s with "
      "%zu job%s (%s)%s\n",
      static_cast<unsigned long long>(imported), o_.file.c_str(), o_.collection.c_str(),
      target.created ? "created" : "existing", target.dim, target.distance.c_str(), seconds, n,
      n == 1 ? "" : "s", job_list.c_str(),
      skipped_before_ > 0 ? ("; skipped " + std::to_string(skipped_before_) + " bad points").c_str()
                          : "");
  return 0;
}

}  // namespace

int run_bulk_import(const ImportOptions& o, const loadgen::HttpEndpoint& endpoint) {
  const ImportSplitter::Format format = o.format == ImportFormat::kBinary
                                            ? ImportSplitter::Format::kBinary
                                            : ImportSplitter::Format::kNdjson;
  core::Result<persistence::MappedFile> file = persistence::MappedFile::open(o.file);
  if (!file.is_ok()) {
    std::fprintf(stderr, "vesta import: %s\n", file.status().message().c_str());
    return 1;
  }
  const std::string_view bytes = file.value().bytes();
  core::Result<ImportSplitter> split = ImportSplitter::split(format, bytes, o.max_import_bytes);
  if (!split.is_ok()) {
    std::fprintf(stderr, "vesta import: %s: %s\n", o.file.c_str(),
                 split.status().message().c_str());
    return 1;
  }
  const ImportSplitter& splitter = split.value();
  const std::optional<uint32_t> dim = format == ImportSplitter::Format::kBinary
                                          ? std::optional<uint32_t>(splitter.binary_header().dim)
                                          : first_vector_size(bytes);
  const size_t parts = splitter.parts().size();
  std::string plan = "one job";
  if (parts == 0) {
    plan = "nothing to send";
  } else if (parts > 1) {
    plan = std::to_string(parts) + " jobs of at most --max-import-bytes " +
           std::to_string(o.max_import_bytes) + " bytes";
  }
  std::fprintf(
      stderr, "vesta import: %s (%s): %llu points%s, %zu bytes, %s\n", o.file.c_str(),
      import_format_name(o.format).data(), static_cast<unsigned long long>(splitter.points()),
      dim ? (" of dimension " + std::to_string(*dim)).c_str() : "", bytes.size(), plan.c_str());

  InterruptCatcher catcher;
  BulkImport run(o, endpoint, splitter, catcher);
  core::Result<TargetCollection> target = [&] {
    SignalsHeld held;
    return prepare_target_collection(run.client(), o.collection, dim, o.metric);
  }();
  if (!target.is_ok()) {
    std::fprintf(stderr, "vesta import: %s\n", target.status().message().c_str());
    return 1;
  }
  if (g_interrupted != 0) {
    std::fprintf(stderr, "vesta import: interrupted before any job was submitted\n");
    return kInterruptedExitStatus;
  }
  return run.run(target.value());
}

}  // namespace vesta::importer
