#include "importer/import_command.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "loadgen/http_client.h"

namespace vesta::importer {
namespace {

using nlohmann::json;

constexpr std::string_view kUsage =
    R"(vesta import - load another store's file into a running vesta server

Usage:
  vesta import --format FORMAT FILE --collection NAME [options]

Formats:
  lightrag-nano          a NanoVectorDB JSON file, as LightRAG writes by default
                         (vdb_entities.json, vdb_relationships.json,
                         vdb_chunks.json): each point's "__id__" becomes its id
                         (a string), its other fields its payload, and its
                         vector comes from its own "vector" field (LightRAG
                         1.4.7 and later: float16, not normalised) or else from
                         the file's float32 "matrix" (normalised)

Options:
  --format FORMAT        the file's format (required; see above)
  --collection NAME      collection to load into (required); created with
                         size = the file's dimension when it does not exist; an
                         existing one must have that size
  --url URL              server (default http://127.0.0.1:6333)
  --api-key KEY          sent in the api-key header (env VESTA_API_KEY)
  --batch-points N       points per upsert request (default 1000; a request is
                         also cut at 16 MiB of JSON)
  --distance D           Cosine, Dot or Euclid for a collection the import
                         creates (default Cosine, which LightRAG uses)

Points with an id already in the collection are replaced. Progress goes to
standard error, the summary to standard output. Exits 0 when every point was
imported, 1 when the file cannot be read or the server refused (with its
message), 2 on a usage error.
)";

// A request is cut here even before --batch-points: well under vesta serve's
// default --max-body-bytes (64 MiB), with room for large payloads (LightRAG's
// chunk texts) beside 3072-dimensional vectors.
constexpr size_t kMaxBatchBodyBytes = size_t{16} << 20;

// Bytes of a server's answer quoted in an error when it is not Qdrant's
// {"status": {"error": ...}}.
constexpr size_t kQuotedBodyBytes = 300;

// What the import reads from a file, whatever its format.
using ImportedFile = persistence::NanoVectorDbFile;

core::Result<ImportedFile> read_file(const ImportOptions& o) {
  switch (o.format) {
    case ImportFormat::kLightragNano: return persistence::read_nano_vectordb_file(o.file);
  }
  return core::internal_error("unhandled import format");
}

// A path segment with every byte but RFC 3986's unreserved ones
// percent-encoded (the server's router decodes it).
std::string path_segment(std::string_view text) {
  constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0xF];
    }
  }
  return out;
}

// "HTTP 400: <the server's error>" for an answer that is not a success.
std::string describe_failure(const loadgen::HttpReply& reply) {
  std::string message = "HTTP " + std::to_string(reply.status) + ": ";
  const json body = json::parse(reply.body, nullptr, false);
  const json::json_pointer error("/status/error");
  if (body.is_object() && body.contains(error) && body.at(error).is_string()) {
    message += body.at(error).get<std::string>();
  } else {
    message += reply.body.substr(0, kQuotedBodyBytes);
  }
  return message;
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

// The collection the points go into.
struct PreparedCollection {
  bool created = false;  // by this import
  std::string distance;
};

// Makes sure the collection exists with vectors of `dim`.
core::Result<PreparedCollection> prepare_collection(loadgen::HttpClient& client,
                                                    const ImportOptions& o, const std::string& path,
                                                    uint32_t dim) {
  core::Result<loadgen::HttpReply> info = exchange(client, "GET", path, "", "GET " + path);
  if (!info.is_ok()) return info.status();
  if (info.value().status == 200) {
    const json body = json::parse(info.value().body, nullptr, false);
    const json::json_pointer size_at("/result/config/params/vectors/size");
    const json::json_pointer distance_at("/result/config/params/vectors/distance");
    if (!body.is_object() || !body.contains(size_at) || !body.at(size_at).is_number_unsigned()) {
      return core::invalid_argument("collection '" + o.collection + "' exists but GET " + path +
                                    " has no result.config.params.vectors.size (named vectors "
                                    "are not supported)");
    }
    const uint64_t size = body.at(size_at).get<uint64_t>();
    if (size != dim) {
      return core::invalid_argument("collection '" + o.collection +
                                    "' exists with vectors of size " + std::to_string(size) +
                                    ", but the file's vectors have " + std::to_string(dim) +
                                    " dimensions; import into another --collection or delete "
                                    "this one first");
    }
    PreparedCollection existing{false, "unknown distance"};
    if (body.contains(distance_at) && body.at(distance_at).is_string()) {
      existing.distance = body.at(distance_at).get<std::string>();
    }
    if (existing.distance != index::metric_name(o.metric)) {
      std::fprintf(stderr,
                   "vesta import: collection '%s' exists with distance %s; --distance %s applies "
                   "only to a collection the import creates\n",
                   o.collection.c_str(), existing.distance.c_str(),
                   index::metric_name(o.metric).data());
    }
    return existing;
  }
  if (info.value().status != 404) {
    return core::Status(core::StatusCode::kUnavailable,
                        "GET " + path + ": " + describe_failure(info.value()));
  }
  const json config = {
      {"vectors", {{"size", dim}, {"distance", std::string(index::metric_name(o.metric))}}}};
  core::Result<loadgen::HttpReply> created =
      exchange(client, "PUT", path, config.dump(), "PUT " + path);
  if (!created.is_ok()) return created.status();
  if (created.value().status != 200) {
    return core::Status(
        core::StatusCode::kUnavailable,
        "creating collection '" + o.collection + "': " + describe_failure(created.value()));
  }
  return PreparedCollection{true, std::string(index::metric_name(o.metric))};
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
      std::string message = what + ": " + describe_failure(reply.value());
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
  }
  return "unknown";
}

std::optional<ImportFormat> parse_import_format(std::string_view name) {
  if (name == "lightrag-nano") return ImportFormat::kLightragNano;
  return std::nullopt;
}

std::string_view import_usage() { return kUsage; }

core::Result<ImportOptions> parse_import_options(const std::vector<std::string_view>& args) {
  ImportOptions o;
  if (const char* key = std::getenv("VESTA_API_KEY")) o.api_key = key;
  bool format_given = false;
  std::vector<std::string_view> files;
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
    static constexpr std::string_view kValueFlags[] = {"--format",  "--collection",   "--url",
                                                       "--api-key", "--batch-points", "--distance"};
    if (std::find(std::begin(kValueFlags), std::end(kValueFlags), flag) == std::end(kValueFlags)) {
      return core::invalid_argument("unknown import option '" + std::string(flag) + "'");
    }
    if (i + 1 >= args.size()) return core::invalid_argument(std::string(flag) + " needs a value");
    const std::string_view value = args[++i];
    if (flag == "--format") {
      const std::optional<ImportFormat> format = parse_import_format(value);
      if (!format) {
        return core::invalid_argument("unknown --format '" + std::string(value) +
                                      "' (known: lightrag-nano)");
      }
      o.format = *format;
      format_given = true;
    } else if (flag == "--collection") {
      o.collection = std::string(value);
    } else if (flag == "--url") {
      o.url = std::string(value);
    } else if (flag == "--api-key") {
      o.api_key = std::string(value);
    } else if (flag == "--batch-points") {
      size_t n = 0;
      const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (error != std::errc() || end != value.data() + value.size() || n < 1 || n > 1'000'000) {
        return core::invalid_argument("--batch-points must be an integer from 1 to 1000000, got '" +
                                      std::string(value) + "'");
      }
      o.batch_points = n;
    } else if (flag == "--distance") {
      const std::optional<index::Metric> metric = index::parse_metric(value);
      if (!metric) {
        return core::invalid_argument("--distance must be Cosine, Dot or Euclid, got '" +
                                      std::string(value) + "'");
      }
      o.metric = *metric;
    }
  }
  if (!format_given) return core::invalid_argument("--format is required (known: lightrag-nano)");
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
  const std::string path = "/collections/" + path_segment(o.collection);
  core::Result<PreparedCollection> collection = prepare_collection(client, o, path, f.dim);
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
