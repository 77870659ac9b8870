#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "index/metric.h"
#include "persistence/nano_vectordb_import.h"

namespace vesta::importer {

// The file formats `vesta import` reads; --format names one.
enum class ImportFormat {
  kLightragNano,  // "lightrag-nano": a NanoVectorDB JSON file (LightRAG's vdb_*.json)
  kNdjson,        // "ndjson": the server's NDJSON import body, one point a line
  kBinary,        // "binary": the server's binary import body ("VIMP")
};

std::string_view import_format_name(ImportFormat format);
std::optional<ImportFormat> parse_import_format(std::string_view name);

// The options of `vesta import` (import_usage() describes each).
struct ImportOptions {
  ImportFormat format = ImportFormat::kLightragNano;
  std::string file;
  std::string collection;
  std::string url = "http://127.0.0.1:6333";
  std::string api_key;                            // sent as the api-key header when not empty
  size_t batch_points = 1000;                     // lightrag-nano only
  index::Metric metric = index::Metric::kCosine;  // for a collection the import creates
  // ndjson and binary only (they go through POST /collections/NAME/import):
  bool abort_on_error = false;                    // --on-error abort (else skip)
  std::string idempotency_key;                    // empty: none
  uint64_t max_import_bytes = uint64_t{1} << 30;  // the server's --max-import-bytes
  bool help = false;
};

// The longest --idempotency-key: the server takes 200 characters, and a
// split file's parts add "-partNNofNN" to it.
inline constexpr size_t kMaxIdempotencyKeyChars = 180;

// Parses the arguments after "import"; errors name the flag.
core::Result<ImportOptions> parse_import_options(const std::vector<std::string_view>& args);

std::string_view import_usage();

// One point as it goes into an upsert's "points" list:
// {"id":"...","vector":[...],"payload":{...}}, floats in their shortest form
// that reads back to the same float.
std::string point_json(const persistence::NanoPoint& point);

// `vesta import`: 0 when every point was imported (ndjson and binary: or
// skipped under --on-error skip), 1 when the file or the server failed or a
// job failed or was cancelled (the message says which, with the server's
// error), 2 for a usage error, 130 when interrupted (the jobs cancelled).
int run_import_command(const std::vector<std::string_view>& args);

}  // namespace vesta::importer
