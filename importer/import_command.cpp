#include "importer/import_command.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "core/byte_size.h"
#include "importer/bulk_import.h"
#include "importer/target_collection.h"
#include "loadgen/http_client.h"

namespace vesta::importer {
namespace {

using nlohmann::json;

constexpr std::string_view kUsage =
    R"(vesta import - load a file into a running vesta server

Usage:
  vesta import --format FORMAT FILE --collection NAME [options]

Formats:
  ndjson                 the server's NDJSON import body: one point a line,
                         {"id": 1, "vector": [...], "payload": {...}}
  binary                 the server's binary import body ("VIMP" header, u64
                         ids, float32 or float16 rows, payload NDJSON)
                         Both go to POST /collections/NAME/import as background
                         jobs, followed until they end (docs/api.md, Bulk
                         import); a file larger than --max-import-bytes is
                         split into several jobs at line or row boundaries.
  lightrag-nano          a NanoVectorDB JSON file, as LightRAG writes by default
                         (vdb_entities.json, vdb_relationships.json,
                         vdb_chunks.json): each point's "__id__" becomes its id
                         (a string), its other fields its payload, and its
                         vector comes from its own "vector" field (LightRAG
                         1.4.7 and later: float16, not normalised) or else from
                         the file's float32 "matrix" (normalised); sent in
                         upserts

Options:
  --format FORMAT        the file's format (required; see above)
  --collection NAME      collection (or alias) to load into (required); created
                         with size = the file's dimension when it does not
                         exist (ndjson: the first line's vector); an existing
                         one must have that size
  --url URL              server (default http://127.0.0.1:6333)
  --api-key KEY          sent in the api-key header (env VESTA_API_KEY)
  --distance D           Cosine, Dot or Euclid for a collection the import
                         creates (default Cosine, which LightRAG uses)

ndjson and binary:
  --on-error skip|abort  a bad point (malformed line, wrong size, a value
                         beyond float16) is skipped and reported (default), or
                         ends the import there (exit status 1)
  --idempotency-key KEY  a job of the collection with this key already exists:
                         it is followed, nothing is imported again; a split
                         file's parts use KEY-partIofN (letters, digits and
                         - _ . ~ :, at most 180 characters)
  --max-import-bytes N   the server's --max-import-bytes (default 1G; K/M/G/T
                         suffixes): the largest body one job may carry

lightrag-nano:
  --batch-points N       points per upsert request (default 1000; a request is
                         also cut at 16 MiB of JSON)

Points with an id already in the collection are replaced. Progress goes to
standard error (a bar redrawn in place on a terminal, else a line every 2 s),
the summary to standard output. Ctrl-C (or SIGTERM) cancels the jobs
(DELETE /jobs/ID); what they imported stays. Exits 0 when every point was
imported (or skipped), 1 when the file cannot be read, the server refused (with
its message) or a job failed or was cancelled (with the server's first errors,
by line or row of the file), 2 on a usage error, 130 when interrupted.
)";

// A request is cut here even before --batch-points: well under vesta serve's
// default --max-body-bytes (64 MiB), with room for large payloads (LightRAG's
// chunk texts) beside 3072-dimensional vectors.
constexpr size_t kMaxBatchBodyBytes = size_t{16} << 20;

constexpr std::string_view kKnownFormats = "ndjson, binary, lightrag-nano";

// What the import reads from a file, whatever its format.
using ImportedFile = persistence::NanoVectorDbFile;

core::Result<ImportedFile> read_file(const ImportOptions& o) {
  switch (o.format) {
    case ImportFormat::kLightragNano: return persistence::read_nano_vectordb_file(o.file);
    case ImportFormat::kNdjson:
    case ImportFormat::kBinary: break;  // sent as they are (bulk_import.h)
  }
  return core::internal_error("unhandled import format");
}

core::Result<loadgen::HttpReply> exchange(loadgen::HttpClient& client, std::string_view method,
                                          const std::string& target, const std::string& body,
                                          const std::string& what) {
  core::Result<loadgen::HttpReply> reply = client.request(method, target, body);
  if (!reply.is_ok()) {
    return core::Status(reply.status().code(), what + ": " + reply.status().message());
  }
  return reply;
}

// Sends the points in upserts of at most --batch-points points and
// kMaxBatchBodyBytes bytes, printing progress after each.
core::Status upload(loadgen::HttpClient& client, const ImportOptions& o, const std::string& path,
                    const std::vector<persistence::NanoPoint>& points) {
  const std::string target = path + "/points?wait=true";
  std::string body;
  size_t first = 0;  // the first point of the batch in `body`
  size_t next = 0;   // the next point to add to it
  std::string piece;
  auto send = [&]() -> core::Status {
    body += "]}";
    const std::string what = "upserting points " + std::to_string(first) + ".." +
                             std::to_string(next - 1) + " (ids '" + points[first].id + "'..'" +
                             points[next - 1].id + "')";
    core::Result<loadgen::HttpReply> reply = exchange(client, "PUT", target, body, what);
    if (!reply.is_ok()) return reply.status();
    if (reply.value().status != 200) {
      std::string message = what + ": " + loadgen::describe_http_failure(reply.value());
      if (reply.value().status == 413) {
        message +=
            " (lower --batch-points, or raise the server's --max-batch-points or "
            "--max-body-bytes)";
      }
      return {core::StatusCode::kUnavailable, message};
    }
    std::fprintf(stderr, "vesta import: imported %zu/%zu points\n", next, points.size());
    first = next;
    body.clear();
    return core::Status::ok();
  };
  while (next < points.size()) {
    piece = point_json(points[next]);
    const size_t count = next - first;
    if (count > 0 &&
        (count == o.batch_points || body.size() + piece.size() + 3 > kMaxBatchBodyBytes)) {
      VESTA_RETURN_IF_ERROR(send());
    }
    body += body.empty() ? "{\"points\":[" : ",";
    body += piece;
    ++next;
  }
  if (next > first) VESTA_RETURN_IF_ERROR(send());
  return core::Status::ok();
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

std::string_view import_format_name(ImportFormat format) {
  switch (format) {
    case ImportFormat::kLightragNano: return "lightrag-nano";
    case ImportFormat::kNdjson: return "ndjson";
    case ImportFormat::kBinary: return "binary";
  }
  return "unknown";
}

std::optional<ImportFormat> parse_import_format(std::string_view name) {
  if (name == "lightrag-nano") return ImportFormat::kLightragNano;
  if (name == "ndjson") return ImportFormat::kNdjson;
  if (name == "binary") return ImportFormat::kBinary;
  return std::nullopt;
}

std::string_view import_usage() { return kUsage; }

core::Result<ImportOptions> parse_import_options(const std::vector<std::string_view>& args) {
  ImportOptions o;
  if (const char* key = std::getenv("VESTA_API_KEY")) o.api_key = key;
  bool format_given = false;
  std::vector<std::string_view> files;
  // Flags of one way of importing only, to refuse with the other.
  std::vector<std::string> server_flags;  // ndjson, binary
  std::vector<std::string> upsert_flags;  // lightrag-nano
  // --help wins wherever it is, even beside a flag that is wrong.
  if (std::find_if(args.begin(), args.end(),
                   [](std::string_view a) { return a == "--help" || a == "-h"; }) != args.end()) {
    o.help = true;
    return o;
  }
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string_view flag = args[i];
    if (!flag.starts_with("-")) {
      files.push_back(flag);
      continue;
    }
    static constexpr std::string_view kValueFlags[] = {
        "--format",   "--collection",      "--url",
        "--api-key",  "--batch-points",    "--distance",
        "--on-error", "--idempotency-key", "--max-import-bytes"};
    if (std::find(std::begin(kValueFlags), std::end(kValueFlags), flag) == std::end(kValueFlags)) {
      return core::invalid_argument("unknown import option '" + std::string(flag) + "'");
    }
    if (i + 1 >= args.size()) return core::invalid_argument(std::string(flag) + " needs a value");
    const std::string_view value = args[++i];
    if (flag == "--format") {
      const std::optional<ImportFormat> format = parse_import_format(value);
      if (!format) {
        return core::invalid_argument("unknown --format '" + std::string(value) +
                                      "' (known: " + std::string(kKnownFormats) + ")");
      }
      o.format = *format;
      format_given = true;
    } else if (flag == "--collection") {
      o.collection = std::string(value);
    } else if (flag == "--url") {
      o.url = std::string(value);
    } else if (flag == "--api-key") {
      o.api_key = std::string(value);
    } else if (flag == "--on-error") {
      if (value != "skip" && value != "abort") {
        return core::invalid_argument("--on-error must be skip or abort, got '" +
                                      std::string(value) + "'");
      }
      o.abort_on_error = value == "abort";
      server_flags.emplace_back(flag);
    } else if (flag == "--idempotency-key") {
      const bool allowed = std::all_of(value.begin(), value.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_' ||
               c == '.' || c == '~' || c == ':';
      });
      if (value.empty() || value.size() > kMaxIdempotencyKeyChars || !allowed) {
        return core::invalid_argument(
            "--idempotency-key must be 1 to " + std::to_string(kMaxIdempotencyKeyChars) +
            " letters, digits, '-', '_', '.', '~' or ':', got '" + std::string(value) + "'");
      }
      o.idempotency_key = std::string(value);
      server_flags.emplace_back(flag);
    } else if (flag == "--max-import-bytes") {
      const std::optional<size_t> bytes = core::parse_byte_size(value);
      if (!bytes || *bytes < 1024) {
        return core::invalid_argument(
            "--max-import-bytes must be at least 1K, in bytes or with a K/M/G/T suffix, got '" +
            std::string(value) + "'");
      }
      o.max_import_bytes = *bytes;
      server_flags.emplace_back(flag);
    } else if (flag == "--batch-points") {
      size_t n = 0;
      const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (error != std::errc() || end != value.data() + value.size() || n < 1 || n > 1'000'000) {
        return core::invalid_argument("--batch-points must be an integer from 1 to 1000000, got '" +
                                      std::string(value) + "'");
      }
      o.batch_points = n;
      upsert_flags.emplace_back(flag);
    } else if (flag == "--distance") {
      const std::optional<index::Metric> metric = index::parse_metric(value);
      if (!metric) {
        return core::invalid_argument("--distance must be Cosine, Dot or Euclid, got '" +
                                      std::string(value) + "'");
      }
      o.metric = *metric;
    }
  }
  if (!format_given) {
    return core::invalid_argument("--format is required (known: " + std::string(kKnownFormats) +
                                  ")");
  }
  const bool through_jobs = o.format != ImportFormat::kLightragNano;
  if (through_jobs && !upsert_flags.empty()) {
    return core::invalid_argument(upsert_flags.front() + " applies to --format lightrag-nano only");
  }
  if (!through_jobs && !server_flags.empty()) {
    return core::invalid_argument(server_flags.front() +
                                  " applies to --format ndjson and binary only");
  }
  if (files.empty()) return core::invalid_argument("give the FILE to import");
  if (files.size() > 1) {
    return core::invalid_argument("give one FILE, got '" + std::string(files[0]) + "' and '" +
                                  std::string(files[1]) + "'");
  }
  o.file = std::string(files[0]);
  if (o.collection.empty()) return core::invalid_argument("--collection is required");
  return o;
}

std::string point_json(const persistence::NanoPoint& point) {
  std::string out = "{\"id\":";
  out += json(point.id).dump();
  out += ",\"vector\":[";
  char number[32];
  for (size_t i = 0; i < point.vector.size(); ++i) {
    if (i > 0) out += ',';
    // Shortest text that reads back as the same float: about half the bytes
    // of printing it as a double.
    const auto [end, error] = std::to_chars(number, number + sizeof(number), point.vector[i]);
    VESTA_CHECK(error == std::errc()) << "to_chars of a float needs more than 32 bytes";
    out.append(number, end);
  }
  out += "],\"payload\":";
  // The parser accepted only valid UTF-8, so `replace` never applies; it keeps
  // dump() from throwing.
  out += point.payload.is_null()
             ? "{}"
             : point.payload.dump(-1, ' ', false, json::error_handler_t::replace);
  out += '}';
  return out;
}

int run_import_command(const std::vector<std::string_view>& args) {
  core::Result<ImportOptions> parsed = parse_import_options(args);
  if (!parsed.is_ok()) {
    std::fprintf(stderr, "vesta import: %s\nRun 'vesta import --help' for usage.\n",
                 parsed.status().message().c_str());
    return 2;
  }
  const ImportOptions& o = parsed.value();
  if (o.help) {
    std::fputs(kUsage.data(), stdout);
    return 0;
  }
  core::Result<loadgen::HttpEndpoint> endpoint = loadgen::HttpEndpoint::parse_url(o.url);
  if (!endpoint.is_ok()) {
    std::fprintf(stderr, "vesta import: %s\n", endpoint.status().message().c_str());
    return 2;
  }

  if (o.format != ImportFormat::kLightragNano) return run_bulk_import(o, endpoint.value());

  // The file first: a bad file must not leave an empty collection behind.
  const auto start = std::chrono::steady_clock::now();
  core::Result<ImportedFile> file = read_file(o);
  if (!file.is_ok()) {
    std::fprintf(stderr, "vesta import: %s: %s\n", o.file.c_str(), file.status().message().c_str());
    return 1;
  }
  const ImportedFile& f = file.value();
  std::fprintf(stderr, "vesta import: read %s (%s): %zu points of dimension %u in %.2f s\n",
               o.file.c_str(), import_format_name(o.format).data(), f.points.size(), f.dim,
               seconds_since(start));

  const auto upload_start = std::chrono::steady_clock::now();
  loadgen::HttpClient client(endpoint.value(), o.api_key);
  const std::string path = "/collections/" + loadgen::url_path_segment(o.collection);
  core::Result<TargetCollection> collection =
      prepare_target_collection(client, o.collection, f.dim, o.metric);
  if (!collection.is_ok()) {
    std::fprintf(stderr, "vesta import: %s\n", collection.status().message().c_str());
    return 1;
  }
  if (core::Status status = upload(client, o, path, f.points); !status.is_ok()) {
    std::fprintf(stderr, "vesta import: %s\n", status.message().c_str());
    return 1;
  }
  std::printf(
      "imported %zu points from %s into collection '%s' (%s, dimension %u, %s) in %.2f s; "
      "vectors from the points' own \"vector\" field: %zu, from the matrix: %zu\n",
      f.points.size(), o.file.c_str(), o.collection.c_str(),
      collection.value().created ? "created" : "existing", f.dim,
      collection.value().distance.c_str(), seconds_since(upload_start), f.vectors_from_field,
      f.points.size() - f.vectors_from_field);
  return 0;
}

}  // namespace vesta::importer
