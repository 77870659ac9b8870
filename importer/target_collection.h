#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/status.h"
#include "index/metric.h"
#include "loadgen/http_client.h"

namespace vesta::importer {

// The collection an import loads into, as the import found or made it.
struct TargetCollection {
  bool created = false;  // by this import
  uint32_t dim = 0;      // its vectors' size (0: unknown)
  std::string distance;  // "Cosine", "Dot", "Euclid", or "unknown distance"
};

// Makes sure collection `name` (or an alias of one) exists with vectors of
// `dim` values: an existing one must have that size (else an error naming
// both sizes, before anything is sent); a missing one is created with `dim`
// and `metric` (a distance different from an existing collection's is only
// warned about on standard error). With `dim` unknown, an existing
// collection is taken as it is and a missing one is an error.
core::Result<TargetCollection> prepare_target_collection(loadgen::HttpClient& client,
                                                         const std::string& name,
                                                         std::optional<uint32_t> dim,
                                                         index::Metric metric);

}  // namespace vesta::importer
