#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "index/payload_filter.h"

namespace vesta::index {

// What a payload index holds (Qdrant's field_schema names).
enum class PayloadSchema {
  kKeyword,  // string values: answers match value/any of strings
  kInteger,  // numbers: answers match value/any of integers and ranges
  kFloat,    // numbers: answers ranges
};
std::optional<PayloadSchema> parse_payload_schema(std::string_view name);  // keyword|integer|float
std::string_view payload_schema_name(PayloadSchema schema);

// An index of one payload field (a dot path) over a FlatIndex's rows, kept in
// step by the FlatIndex as rows are written, deleted and renumbered. It only
// narrows a filter's candidates: every candidate is still checked against the
// whole filter, so a candidate set that is too large is slower, never wrong.
// Not thread-safe (guarded like the FlatIndex that owns it).
class PayloadIndex {
 public:
  PayloadIndex(std::string key, PayloadSchema schema);

  const std::string& key() const { return key_; }
  PayloadSchema schema() const { return schema_; }
  size_t indexed_rows() const { return row_values_.size(); }

  void add(uint64_t row, const nlohmann::json& payload);
  void remove(uint64_t row);
  void clear();

  // The rows whose value at this key may satisfy `condition` (sorted), or
  // nullopt when this index cannot answer it (another key, or a test its
  // schema does not cover).
  std::optional<std::vector<uint64_t>> candidates(const IndexableCondition& condition) const;

 private:
  std::string key_;
  std::vector<std::string> path_;
  PayloadSchema schema_;
  std::unordered_map<std::string, std::set<uint64_t>> keywords_;          // keyword schema
  std::multimap<double, uint64_t> numbers_;                               // numeric schemas
  std::unordered_map<uint64_t, std::vector<nlohmann::json>> row_values_;  // for remove()
};

}  // namespace vesta::index
