#pragma once

#include <memory>
#include <optional>
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
// A top-level `must` field condition that a payload index can answer: a
// match of any of `values` (strings or integers), or a numeric range.
struct IndexableCondition {
  std::vector<std::string> path;       // the key split on '.'
  std::vector<nlohmann::json> values;  // match value/any; empty for a range
  bool is_range = false;
  std::optional<double> gt, gte, lt, lte;
};

// A payload key split on '.', "[]" steps dropped (arrays are flattened).
std::vector<std::string> split_payload_key(const std::string& key);
// Every value of `payload` at `path` (split_payload_key), arrays flattened at
// each step, as filters read them.
std::vector<const nlohmann::json*> payload_values(const nlohmann::json& payload,
                                                  const std::vector<std::string>& path);
// Every value at `path` in `payload`, arrays flattened at each step.
void collect_payload_values(const nlohmann::json& payload, const std::vector<std::string>& path,
                            std::vector<const nlohmann::json*>* out);

class PayloadFilter {
 public:
  // The deepest nesting of filters accepted unless parse() is told otherwise.
  static constexpr int kDefaultMaxDepth = 16;

  // InvalidArgument naming the JSON path of the fault ("filter.must[2].range.gt"),
  // also when filters nest deeper than `max_depth` (the top level is 1).
  static core::Result<PayloadFilter> parse(const nlohmann::json& filter,
                                           int max_depth = kDefaultMaxDepth);

  bool matches(const core::PointId& id, const nlohmann::json& payload) const;
  // The conditions every match must satisfy that an index could narrow down
  // (top-level `must` match value/any and range conditions).
  std::vector<IndexableCondition> indexable_conditions() const;

  struct Node;  // defined in payload_filter.cpp

 private:
  explicit PayloadFilter(std::shared_ptr<const Node> root) : root_(std::move(root)) {}
  std::shared_ptr<const Node> root_;
};

}  // namespace vesta::index
