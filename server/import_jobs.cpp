#include "server/import_jobs.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <optional>
#include <random>
#include <utility>

#include <nlohmann/json.hpp>

#include "core/float16.h"
#include "core/utc_time.h"
#include "persistence/file_io.h"
#include "persistence/mapped_file.h"
#include "server/json_codec.h"
#include "server/vector_body_parser.h"

namespace vesta::server {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int kStateFormat = 1;

std::string utc_now() {
  return core::utc_time(std::chrono::system_clock::now(), "%Y-%m-%dT%H:%M:%SZ");
}

std::string new_job_id() {
  std::random_device device;
  char text[40];
  std::snprintf(text, sizeof(text), "import-%08x%08x", device(), device());
  return text;
}

template <typename T>
T read_le(std::string_view bytes, size_t offset) {
  T value{};
  std::memcpy(&value, bytes.data() + offset, sizeof(T));  // little-endian hosts
  return value;
}

const char* format_name(ImportOptions::Format format) {
  return format == ImportOptions::Format::kBinary ? "binary" : "ndjson";
}

bool blank(std::string_view line) {
  return std::all_of(line.begin(), line.end(),
                     [](char c) { return c == ' ' || c == '\t' || c == '\r'; });
}

// Points of an NDJSON body: the non-blank lines.
uint64_t count_points(std::string_view body) {
  uint64_t points = 0;
  size_t start = 0;
  while (start < body.size()) {
    size_t end = body.find('\n', start);
    if (end == std::string_view::npos) end = body.size();
    if (!blank(body.substr(start, end - start))) ++points;
    start = end + 1;
  }
  return points;
}

// One NDJSON line as a point (the upsert route's fields).
core::Result<index::PointWrite> point_from_line(const VectorBodyParser& parser,
                                                const std::string& line, size_t dim,
                                                const std::string& vector_name) {
  core::Result<json> parsed = parser.parse(line);
  if (!parsed.is_ok()) return parsed.status();
  const json& p = parsed.value();
  if (!p.is_object()) return core::invalid_argument("a line must be a JSON object");
  if (!p.contains("id")) return core::invalid_argument("id is required");
  if (!p.contains("vector")) return core::invalid_argument("vector is required");
  core::Result<core::PointId> id = point_id_from_json(p["id"], "id");
  if (!id.is_ok()) return id.status();
  core::Result<std::vector<float>> v = vector_from_json(p["vector"], "vector", vector_name);
  if (!v.is_ok()) return v.status();
  if (v.value().size() != dim) {
    return core::invalid_argument("vector has " + std::to_string(v.value().size()) +
                                  " values, the collection's size is " + std::to_string(dim));
  }
  VESTA_RETURN_IF_ERROR(core::check_float16_range(v.value(), "vector"));
  json payload = p.value("payload", json());
  if (!payload.is_null() && !payload.is_object()) {
    return core::invalid_argument("payload must be a JSON object");
  }
  return index::PointWrite{std::move(id).value(), std::move(v).value(), std::move(payload)};
}

}  // namespace

struct ImportJobs::Job {
  ImportJobInfo info;  // mutex_
  ImportOptions options;
  uint64_t created = 0;  // order of creation
  std::string body;      // without a directory: the body, while queued or running
  // Where to go on: NDJSON, the byte offset and number of the next line;
  // binary, the next row and the byte offset of its payload line.
  uint64_t next_offset = 0;
  uint64_t next_line = 1;
  uint64_t payload_offset = 0;
  bool cancel = false;  // mutex_
  Clock::time_point run_started;
  uint64_t done_at_run_start = 0;
};

core::Result<std::unique_ptr<ImportJobs>> ImportJobs::open(index::CollectionRegistry& registry,
                                                           ImportJobsOptions options) {
  std::unique_ptr<ImportJobs> jobs(new ImportJobs(registry, std::move(options)));
  const fs::path& dir = jobs->options_.dir;
  if (!dir.empty()) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return core::internal_error("cannot create " + dir.string() + ": " + ec.message());
    std::vector<std::shared_ptr<Job>> found;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      if (entry.path().extension() != ".json") continue;
      core::Result<std::string> text = persistence::read_whole_file(entry.path());
      if (!text.is_ok()) return text.status();
      auto job = std::make_shared<Job>();
      try {
        const json s = json::parse(text.value());
        if (s.at("format_version").get<int>() != kStateFormat) {
          return core::internal_error(entry.path().string() + ": unknown job state format");
        }
        ImportJobInfo& i = job->info;
        i.id = s.at("id");
        i.collection = s.at("collection");
        i.state = s.at("state");
        i.format = s.at("format");
        i.on_error = s.at("on_error");
        i.idempotency_key = s.at("idempotency_key");
        i.points_total = s.at("points_total");
        i.points_done = s.at("points_done");
        i.points_skipped = s.at("points_skipped");
        for (const json& e : s.at("errors")) i.errors.push_back({e.at("line"), e.at("message")});
        i.failure = s.at("failure");
        i.created_at = s.at("created_at");
        i.started_at = s.at("started_at");
        i.finished_at = s.at("finished_at");
        i.restarts = s.at("restarts");
        job->created = s.at("created");
        job->next_offset = s.at("next_offset");
        job->next_line = s.at("next_line");
        job->payload_offset = s.at("payload_offset");
        job->options.format =
            i.format == "binary" ? ImportOptions::Format::kBinary : ImportOptions::Format::kNdjson;
        job->options.skip_bad_points = i.on_error == "skip";
        job->options.idempotency_key = i.idempotency_key;
      } catch (const json::exception& e) {
        return core::internal_error(entry.path().string() + " cannot be read: " + e.what());
      }
      found.push_back(job);
    }
    if (ec) return core::internal_error("cannot list " + dir.string() + ": " + ec.message());
    std::sort(found.begin(), found.end(),
              [](const auto& a, const auto& b) { return a->created < b->created; });
    std::lock_guard lock(jobs->mutex_);
    for (const auto& job : found) {
      jobs->jobs_[job->info.id] = job;
      if (job->info.state == "queued" || job->info.state == "running") {
        if (job->info.state == "running") ++job->info.restarts;
        job->info.state = "queued";
        jobs->queue_.push_back(job);
        std::fprintf(stderr, "vesta: import job %s into '%s' resumes after %llu of %llu points\n",
                     job->info.id.c_str(), job->info.collection.c_str(),
                     static_cast<unsigned long long>(job->info.points_done),
                     static_cast<unsigned long long>(job->info.points_total));
      }
    }
  }
  ImportJobs* self = jobs.get();
  jobs->worker_ = std::thread([self] { self->work(); });
  return jobs;
}

ImportJobs::ImportJobs(index::CollectionRegistry& registry, ImportJobsOptions options)
    : registry_(registry), options_(std::move(options)) {}

ImportJobs::~ImportJobs() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (worker_.joinable()) worker_.join();
}

core::Status ImportJobs::save(const Job& job) const {
  if (options_.dir.empty()) return core::Status::ok();
  const ImportJobInfo& i = job.info;
  json errors = json::array();
  for (const ImportJobInfo::Error& e : i.errors) {
    errors.push_back({{"line", e.line}, {"message", e.message}});
  }
  const json state = {{"format_version", kStateFormat},
                      {"id", i.id},
                      {"collection", i.collection},
                      {"state", i.state},
                      {"format", i.format},
                      {"on_error", i.on_error},
                      {"idempotency_key", i.idempotency_key},
                      {"points_total", i.points_total},
                      {"points_done", i.points_done},
                      {"points_skipped", i.points_skipped},
                      {"errors", errors},
                      {"failure", i.failure},
                      {"created_at", i.created_at},
                      {"started_at", i.started_at},
                      {"finished_at", i.finished_at},
                      {"restarts", i.restarts},
                      {"created", job.created},
                      {"next_offset", job.next_offset},
                      {"next_line", job.next_line},
                      {"payload_offset", job.payload_offset}};
  return persistence::write_file_atomically(
      options_.dir / (i.id + ".json"), state.dump(1, ' ', false, json::error_handler_t::replace));
}

ImportJobInfo ImportJobs::info_of(const Job& job) const {
  ImportJobInfo info = job.info;
  if (info.state == "running") {
    const double seconds = std::chrono::duration<double>(Clock::now() - job.run_started).count();
    const uint64_t done = info.points_done - job.done_at_run_start;
    if (seconds > 0 && done > 0) {
      info.rate = static_cast<double>(done) / seconds;
      const uint64_t left =
          info.points_total - std::min(info.points_total, info.points_done + info.points_skipped);
      info.eta_seconds = static_cast<double>(left) / info.rate;
    }
  }
  return info;
}

core::Result<ImportJobInfo> ImportJobs::submit(const std::string& collection, std::string_view body,
                                               const ImportOptions& options, bool* existing,
                                               const std::filesystem::path* body_file) {
  *existing = false;
  core::Result<std::shared_ptr<index::Collection>> target = registry_.get(collection);
  if (!target.is_ok()) return target.status();
  const index::CollectionConfig config = target.value()->config();
  auto job = std::make_shared<Job>();
  ImportJobInfo& i = job->info;
  if (options.format == ImportOptions::Format::kBinary) {
    core::Result<BinaryImportHeader> header = read_binary_import_header(body);
    if (!header.is_ok()) return header.status();
    if (header.value().dim != config.dim) {
      return core::invalid_argument("binary import of " + std::to_string(header.value().dim) +
                                    "-value vectors into collection '" + config.name +
                                    "' of size " + std::to_string(config.dim));
    }
    i.points_total = header.value().rows;
    job->next_offset = 0;  // the next row
  } else {
    i.points_total = count_points(body);
  }
  i.id = new_job_id();
  i.collection = config.name;  // an alias swapped meanwhile does not redirect the job
  i.state = "queued";
  i.format = format_name(options.format);
  i.on_error = options.skip_bad_points ? "skip" : "abort";
  i.idempotency_key = options.idempotency_key;
  i.created_at = utc_now();
  job->options = options;

  std::lock_guard lock(mutex_);
  if (!options.idempotency_key.empty()) {
    for (const auto& [id, other] : jobs_) {
      if (other->info.collection == config.name &&
          other->info.idempotency_key == options.idempotency_key) {
        *existing = true;
        return info_of(*other);
      }
    }
  }
  job->created = jobs_.empty() ? 1 : 0;
  for (const auto& [id, other] : jobs_) job->created = std::max(job->created, other->created + 1);
  if (!options_.dir.empty()) {
    // The worker maps the file: the server holds no copy of the body.
    const std::filesystem::path kept = options_.dir / (i.id + ".body");
    VESTA_RETURN_IF_ERROR(body_file != nullptr ? persistence::adopt_file(*body_file, kept, body)
                                               : persistence::write_file_atomically(kept, body));
    VESTA_RETURN_IF_ERROR(save(*job));
  } else {
    job->body = std::string(body);
  }
  jobs_[i.id] = job;
  queue_.push_back(job);
  forget_old_jobs();
  wake_.notify_all();
  return info_of(*job);
}

core::Result<ImportJobInfo> ImportJobs::get(const std::string& id) const {
  std::lock_guard lock(mutex_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return core::not_found("job '" + id + "' does not exist");
  return info_of(*it->second);
}

std::vector<ImportJobInfo> ImportJobs::list() const {
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<Job>> all;
  for (const auto& [id, job] : jobs_) all.push_back(job);
  std::sort(all.begin(), all.end(),
            [](const auto& a, const auto& b) { return a->created > b->created; });
  std::vector<ImportJobInfo> out;
  for (const auto& job : all) out.push_back(info_of(*job));
  return out;
}

core::Result<ImportJobInfo> ImportJobs::cancel(const std::string& id) {
  std::lock_guard lock(mutex_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return core::not_found("job '" + id + "' does not exist");
  Job& job = *it->second;
  if (job.info.state == "queued") {
    std::erase(queue_, it->second);
    job.info.state = "cancelled";
    job.info.finished_at = utc_now();
    job.body.clear();
    std::error_code ignored;
    if (!options_.dir.empty()) fs::remove(options_.dir / (id + ".body"), ignored);
    VESTA_RETURN_IF_ERROR(save(job));
  } else if (job.info.state == "running") {
    job.cancel = true;  // the worker stops after the chunk in hand
  }
  return info_of(job);
}

void ImportJobs::forget_old_jobs() {
  std::vector<std::shared_ptr<Job>> finished;
  for (const auto& [id, job] : jobs_) {
    if (job->info.state != "queued" && job->info.state != "running") finished.push_back(job);
  }
  if (finished.size() <= options_.finished_jobs_kept) return;
  std::sort(finished.begin(), finished.end(),
            [](const auto& a, const auto& b) { return a->created < b->created; });
  for (size_t n = 0; n + options_.finished_jobs_kept < finished.size(); ++n) {
    std::error_code ignored;
    if (!options_.dir.empty()) fs::remove(options_.dir / (finished[n]->info.id + ".json"), ignored);
    jobs_.erase(finished[n]->info.id);
  }
}

void ImportJobs::work() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    std::shared_ptr<Job> job = queue_.front();
    queue_.pop_front();
    lock.unlock();
    run(job);
    lock.lock();
  }
}

void ImportJobs::run(const std::shared_ptr<Job>& job) {
  const std::string id = job->info.id;
  auto finish = [&](const std::string& state, const std::string& failure) {
    std::lock_guard lock(mutex_);
    // The finished job keeps its run's average rate.
    const double seconds = std::chrono::duration<double>(Clock::now() - job->run_started).count();
    if (seconds > 0) {
      job->info.rate =
          static_cast<double>(job->info.points_done - job->done_at_run_start) / seconds;
    }
    job->info.state = state;
    job->info.failure = failure;
    job->info.finished_at = utc_now();
    job->body.clear();
    job->body.shrink_to_fit();
    if (!options_.dir.empty()) {
      std::error_code ignored;
      fs::remove(options_.dir / (id + ".body"), ignored);
    }
    const core::Status saved = save(*job);
    if (!saved.is_ok()) {
      std::fprintf(stderr, "vesta: import job %s: %s\n", id.c_str(), saved.message().c_str());
    }
    std::fprintf(stderr,
                 "vesta: import job %s into '%s' %s: %llu points imported, %llu skipped%s%s\n",
                 id.c_str(), job->info.collection.c_str(), state.c_str(),
                 static_cast<unsigned long long>(job->info.points_done),
                 static_cast<unsigned long long>(job->info.points_skipped),
                 failure.empty() ? "" : ": ", failure.c_str());
  };
  // With a directory the body is its file, mapped (not read) for the run.
  std::optional<persistence::MappedFile> mapped;
  if (!options_.dir.empty()) {
    core::Result<persistence::MappedFile> file =
        persistence::MappedFile::open(options_.dir / (id + ".body"));
    if (!file.is_ok()) return finish("failed", "its body is lost: " + file.status().message());
    mapped.emplace(std::move(file).value());
  }
  {
    std::lock_guard lock(mutex_);
    if (job->info.state != "queued") return;  // cancelled meanwhile
    job->info.state = "running";
    if (job->info.started_at.empty()) job->info.started_at = utc_now();
    job->run_started = Clock::now();
    job->done_at_run_start = job->info.points_done;
    (void)save(*job);
  }
  core::Result<std::shared_ptr<index::Collection>> collection = registry_.get(job->info.collection);
  if (!collection.is_ok()) {
    return finish("failed", "collection '" + job->info.collection + "' no longer exists");
  }
  const size_t dim = collection.value()->config().dim;
  const std::string vector_name = collection.value()->config().vector_name;
  const std::string_view body = mapped ? mapped->bytes() : std::string_view(job->body);
  const bool binary = job->options.format == ImportOptions::Format::kBinary;
  BinaryImportHeader header;
  if (binary) {
    core::Result<BinaryImportHeader> read = read_binary_import_header(body);
    if (!read.is_ok()) return finish("failed", read.status().message());
    header = read.value();
    if (header.dim != dim) {
      return finish("failed", "the collection's size is now " + std::to_string(dim));
    }
  }
  const VectorBodyParser parser({"vector"});
  const core::LockOptions patient{std::chrono::minutes(5), nullptr};

  for (;;) {
    bool cancelled = false;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;  // resumes at the next start
      cancelled = job->cancel;
    }
    if (cancelled) return finish("cancelled", "");
    // One chunk: points, the bad ones (line or row, message), and where the
    // next chunk starts.
    std::vector<index::PointWrite> points;
    std::vector<ImportJobInfo::Error> bad;
    uint64_t offset = job->next_offset, line = job->next_line, payload = job->payload_offset;
    bool abort = false;
    if (binary) {
      const uint64_t end = std::min<uint64_t>(header.rows, offset + options_.chunk_points);
      for (; offset < end; ++offset) {
        const uint64_t row = offset;
        std::vector<float> vector(dim);
        if (header.dtype == 0) {
          std::memcpy(vector.data(), body.data() + header.values_offset + row * dim * 4, dim * 4);
        } else {
          for (size_t d = 0; d < dim; ++d) {
            vector[d] = core::half_to_float(
                read_le<uint16_t>(body, header.values_offset + (row * dim + d) * 2));
          }
        }
        json point_payload;
        core::Status problem = core::check_float16_range(vector, "vector");
        if (header.payloads) {
          const std::string_view section =
              body.substr(header.payloads_offset, header.payload_bytes);
          size_t stop = section.find('\n', payload);
          if (stop == std::string_view::npos) stop = section.size();
          const std::string_view text = payload <= section.size()
                                            ? section.substr(payload, stop - payload)
                                            : std::string_view();
          payload = stop + 1;
          if (problem.is_ok() && !blank(text)) {
            try {
              point_payload = json::parse(text);
              if (!point_payload.is_object() && !point_payload.is_null()) {
                problem = core::invalid_argument("payload must be a JSON object");
              }
            } catch (const json::exception& e) {
              problem = core::invalid_argument(std::string("payload: ") + e.what());
            }
          }
        }
        if (!problem.is_ok()) {
          bad.push_back({row, "row " + std::to_string(row) + ": " + problem.message()});
          if (!job->options.skip_bad_points) {
            abort = true;
            ++offset;
            break;
          }
          continue;
        }
        points.push_back(
            {core::PointId::number(read_le<uint64_t>(body, header.ids_offset + row * 8)),
             std::move(vector), std::move(point_payload)});
      }
    } else {
      while (offset < body.size() && points.size() + bad.size() < options_.chunk_points) {
        size_t stop = body.find('\n', offset);
        if (stop == std::string_view::npos) stop = body.size();
        const std::string text(body.substr(offset, stop - offset));
        const uint64_t this_line = line;
        offset = stop + 1;
        ++line;
        if (blank(text)) continue;
        core::Result<index::PointWrite> point = point_from_line(parser, text, dim, vector_name);
        if (!point.is_ok()) {
          bad.push_back(
              {this_line, "line " + std::to_string(this_line) + ": " + point.status().message()});
          if (!job->options.skip_bad_points) {
            abort = true;
            break;
          }
          continue;
        }
        points.push_back(std::move(point).value());
      }
      offset = std::min<uint64_t>(offset, body.size());
    }
    const size_t imported = points.size();
    const std::string abort_message = abort ? bad.back().message : std::string();
    if (!points.empty()) {
      const core::Status written = collection.value()->upsert(std::move(points), patient);
      if (!written.is_ok()) return finish("failed", written.message());
    }
    {
      std::lock_guard lock(mutex_);
      ImportJobInfo& i = job->info;
      i.points_done += imported;
      if (!abort) i.points_skipped += bad.size();
      for (ImportJobInfo::Error& e : bad) {
        if (i.errors.size() < options_.max_errors_kept) i.errors.push_back(std::move(e));
      }
      job->next_offset = offset;
      job->next_line = line;
      job->payload_offset = payload;
      const core::Status saved = save(*job);
      if (!saved.is_ok()) {
        std::fprintf(stderr, "vesta: import job %s: %s\n", id.c_str(), saved.message().c_str());
      }
    }
    if (abort) {
      return finish("failed",
                    abort_message + " (on_error=abort; the points before it are imported)");
    }
    const bool done = binary ? offset >= header.rows : offset >= body.size();
    if (done) return finish("completed", "");
  }
}

}  // namespace vesta::server
