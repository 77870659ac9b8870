#pragma once

#include <cstddef>
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
};

std::string_view import_format_name(ImportFormat format);
std::optional<ImportFormat> parse_import_format(std::string_view name);

// The options of `vesta import` (import_usage() describes each).
struct ImportOptions {
  ImportFormat format = ImportFormat::kLightragNano;
  std::string file;
  std::string collection;
  std::string url = "http://127.0.0.1:6333";
  std::string api_key;  // sent as the api-key header when not empty
  size_t batch_points = 1000;
  index::Metric metric = index::Metric::kCosine;  // for a collection the import creates
  bool help = false;
};

// Parses the arguments after "import"; errors name the flag.
core::Result<ImportOptions> parse_import_options(const std::vector<std::string_view>& args);

std::string_view import_usage();

// One point as it goes into an upsert's "points" list:
// {"id":"...","vector":[...],"payload":{...}}, floats in their shortest form
// that reads back to the same float.
std::string point_json(const persistence::NanoPoint& point);

// `vesta import`: 0 when every point was imported, 1 when the file or the
// server failed (the message says which, with the server's error), 2 for a
// usage error.
int run_import_command(const std::vector<std::string_view>& args);

}  // namespace vesta::importer
