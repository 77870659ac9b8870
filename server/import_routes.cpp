#include "server/import_routes.h"

#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "server/envelope.h"
#include "server/request_body.h"

namespace vesta::server {
namespace {

using nlohmann::json;

core::Result<ImportOptions> import_options(const HttpRequest& request) {
  ImportOptions options;
  std::optional<std::string> format = query_param(request.query, "format");
  if (!format) {
    auto type = request.headers.find("content-type");
    const bool octets =
        type != request.headers.end() && type->second.starts_with("application/octet-stream");
    format = octets ? "binary" : "ndjson";
  }
  if (*format == "binary") {
    options.format = ImportOptions::Format::kBinary;
  } else if (*format != "ndjson") {
    return core::invalid_argument("format must be ndjson or binary, got '" + *format + "'");
  }
  const std::string on_error = query_param(request.query, "on_error").value_or("skip");
  if (on_error != "skip" && on_error != "abort") {
    return core::invalid_argument("on_error must be skip or abort, got '" + on_error + "'");
  }
  options.skip_bad_points = on_error == "skip";
  std::optional<std::string> key = query_param(request.query, "idempotency_key");
  if (auto header = request.headers.find("idempotency-key");
      !key && header != request.headers.end()) {
    key = header->second;
  }
  if (key) {
    if (key->empty() || key->size() > 200) {
      return core::invalid_argument("idempotency_key must be 1 to 200 characters");
    }
    options.idempotency_key = *key;
  }
  return options;
}

}  // namespace

json import_job_json(const ImportJobInfo& job) {
  json errors = json::array();
  for (const ImportJobInfo::Error& e : job.errors) {
    errors.push_back({{"line", e.line}, {"message", e.message}});
  }
  auto or_null = [](const std::string& s) { return s.empty() ? json() : json(s); };
  return {{"id", job.id},
          {"collection", job.collection},
          {"state", job.state},
          {"format", job.format},
          {"on_error", job.on_error},
          {"idempotency_key", or_null(job.idempotency_key)},
          {"points_total", job.points_total},
          {"points_done", job.points_done},
          {"points_skipped", job.points_skipped},
          {"rate", job.rate},
          {"eta_seconds", job.eta_seconds ? json(*job.eta_seconds) : json()},
          {"errors", errors},
          {"failure", or_null(job.failure)},
          {"created_at", or_null(job.created_at)},
          {"started_at", or_null(job.started_at)},
          {"finished_at", or_null(job.finished_at)},
          {"restarts", job.restarts}};
}

void add_import_routes(Router& r, ImportJobs& jobs) {
  r.add("POST", "/collections/{name}/import",
        [&jobs](const HttpRequest& req, const RouteParams& p) {
          bool existing = false;
          HttpResponse response = respond([&]() -> core::Result<json> {
            core::Result<ImportOptions> options = import_options(req);
            if (!options.is_ok()) return options.status();
            // A body the server wrote to a file as it arrived is mapped, and
            // the job takes the file over.
            std::optional<persistence::MappedFile> mapped;
            core::Result<std::string_view> body = request_body(req, &mapped);
            if (!body.is_ok()) return body.status();
            core::Result<ImportJobInfo> job =
                jobs.submit(p.at("name"), body.value(), options.value(), &existing,
                            req.body_file != nullptr ? &req.body_file->path : nullptr);
            if (!job.is_ok()) return job.status();
            return import_job_json(job.value());
          });
          // Accepted: a new job; 200: the job this idempotency key started.
          if (response.status == 200 && !existing) response.status = 202;
          return response;
        });
  r.add("GET", "/jobs", [&jobs](const HttpRequest&, const RouteParams&) {
    return respond([&]() -> core::Result<json> {
      json out = json::array();
      for (const ImportJobInfo& job : jobs.list()) out.push_back(import_job_json(job));
      return out;
    });
  });
  r.add("GET", "/jobs/{id}", [&jobs](const HttpRequest&, const RouteParams& p) {
    return respond([&]() -> core::Result<json> {
      core::Result<ImportJobInfo> job = jobs.get(p.at("id"));
      if (!job.is_ok()) return job.status();
      return import_job_json(job.value());
    });
  });
  r.add("DELETE", "/jobs/{id}", [&jobs](const HttpRequest&, const RouteParams& p) {
    return respond([&]() -> core::Result<json> {
      core::Result<ImportJobInfo> job = jobs.cancel(p.at("id"));
      if (!job.is_ok()) return job.status();
      return import_job_json(job.value());
    });
  });
}

}  // namespace vesta::server
