#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/status.h"
#include "index/collection_registry.h"
#include "server/binary_import_format.h"

namespace vesta::server {

// Bulk imports as background jobs (POST /collections/{name}/import; docs/api.md
// "Bulk import"): the body, NDJSON points or the binary import format, is
// kept (a file in the jobs directory, or memory for a server that keeps
// nothing) and upserted by one worker thread in chunks of chunk_points, each
// chunk one collection write (one log record, one COMMIT or fsync); after
// each durable chunk the job's state file records how far it got, so a job
// interrupted by a crash resumes from there at the next start (at most one
// chunk is written twice; upserts by id make that harmless) and never
// reports more than is durable.
struct ImportOptions {
  enum class Format { kNdjson, kBinary };
  Format format = Format::kNdjson;
  bool skip_bad_points = true;  // on_error=skip (else abort at the first bad point)
  std::string idempotency_key;  // empty: none
};

struct ImportJobsOptions {
  // Where job states and bodies are kept; empty: memory only (jobs end with
  // the process).
  std::filesystem::path dir;
  size_t chunk_points = 4096;
  size_t max_errors_kept = 100;  // the first ones, per job
  size_t finished_jobs_kept = 1000;
};

// One job as GET /jobs/{id} reports it.
struct ImportJobInfo {
  std::string id;
  std::string collection;
  std::string state;  // queued, running, completed, failed, cancelled
  std::string format;
  std::string on_error;
  std::string idempotency_key;
  uint64_t points_total = 0;
  uint64_t points_done = 0;     // durable in the collection
  uint64_t points_skipped = 0;  // bad points skipped (on_error=skip)
  struct Error {
    uint64_t line = 0;  // NDJSON: 1-based line; binary: 0-based row
    std::string message;
  };
  std::vector<Error> errors;  // the first max_errors_kept
  std::string failure;        // state failed: why
  double rate = 0;            // points per second, this run
  std::optional<double> eta_seconds;
  std::string created_at, started_at, finished_at;  // UTC, "" until then
  int restarts = 0;  // times it was resumed after the server stopped mid-job
};

class ImportJobs {
 public:
  // Reads the jobs in `options.dir` (created when missing) and requeues
  // those that were queued or running; starts the worker.
  static core::Result<std::unique_ptr<ImportJobs>> open(index::CollectionRegistry& registry,
                                                        ImportJobsOptions options);
  ~ImportJobs();  // stops the worker between chunks; unfinished jobs resume at the next open
  ImportJobs(const ImportJobs&) = delete;
  ImportJobs& operator=(const ImportJobs&) = delete;

  // A new job importing `body` into `collection` (which must exist; an alias
  // names its collection), checked enough to refuse what cannot be read at
  // all (a binary header). With an idempotency key that a job of the same
  // collection already has, that job instead (`*existing` = true).
  // `body_file`, when given, is a file whose contents `body` is (a body the
  // HTTP server wrote to a file as it arrived): with a jobs directory it is
  // moved there rather than written again.
  core::Result<ImportJobInfo> submit(const std::string& collection, std::string_view body,
                                     const ImportOptions& options, bool* existing,
                                     const std::filesystem::path* body_file = nullptr);
  core::Result<ImportJobInfo> get(const std::string& id) const;
  std::vector<ImportJobInfo> list() const;  // newest first
  // Stops a queued or running job (points already imported stay); a
  // finished job is returned as it is.
  core::Result<ImportJobInfo> cancel(const std::string& id);

 private:
  struct Job;
  ImportJobs(index::CollectionRegistry& registry, ImportJobsOptions options);
  void work();
  // Runs one job to its end (or until stopping); returns without a state
  // change when stopping.
  void run(const std::shared_ptr<Job>& job);
  core::Status save(const Job& job) const;  // the state file; mutex_ held
  ImportJobInfo info_of(const Job& job) const;
  void forget_old_jobs();  // mutex_ held

  index::CollectionRegistry& registry_;
  const ImportJobsOptions options_;
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Job>> jobs_;
  std::deque<std::shared_ptr<Job>> queue_;
  bool stopping_ = false;
  std::condition_variable wake_;
  std::thread worker_;
};

}  // namespace vesta::server
