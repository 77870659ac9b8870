#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/point_id.h"
#include "core/status.h"

namespace vesta::index {

// A Qdrant payload filter, parsed once and evaluated per point.
//
// Grammar (Qdrant's): a filter has any of `must` (all hold), `should` (at
// least one holds, when present), `must_not` (none holds) and `min_should`
// ({conditions, min_count}: at least min_count hold). A condition is a nested
// filter, {"has_id": [ids]}, {"is_empty": {"key"}}, {"is_null": {"key"}}, or
// a field condition {"key": "a.b", "match" | "range": ...} with
//   match: {"value": v} | {"any": [v...]} | {"except": [v...]}
//          (v: string, integer or bool);
//   range: {"gt", "gte", "lt", "lte"} (numbers).
// Keys are dot paths into the payload; where a path meets an array, the
// condition holds when any element satisfies it (Qdrant's semantics).
// `except` holds when the field has a value and not all of them are listed.
// Immutable after parse(); evaluation is thread-safe.
class PayloadFilter {
 public:
  // The deepest nesting of filters accepted unless parse() is told otherwise.
  static constexpr int kDefaultMaxDepth = 16;

  // InvalidArgument naming the JSON path of the fault ("filter.must[2].range.gt"),
  // also when filters nest deeper than `max_depth` (the top level is 1).
  static core::Result<PayloadFilter> parse(const nlohmann::json& filter,
                                           int max_depth = kDefaultMaxDepth);

  bool matches(const core::PointId& id, const nlohmann::json& payload) const;

  struct Node;  // defined in payload_filter.cpp

 private:
  explicit PayloadFilter(std::shared_ptr<const Node> root) : root_(std::move(root)) {}
  std::shared_ptr<const Node> root_;
};

}  // namespace vesta::index
