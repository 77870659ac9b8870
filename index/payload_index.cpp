#include "index/payload_index.h"

#include <algorithm>

namespace vesta::index {

std::optional<PayloadSchema> parse_payload_schema(std::string_view name) {
  if (name == "keyword") return PayloadSchema::kKeyword;
  if (name == "integer") return PayloadSchema::kInteger;
  if (name == "float") return PayloadSchema::kFloat;
  return std::nullopt;
}

std::string_view payload_schema_name(PayloadSchema schema) {
  switch (schema) {
    case PayloadSchema::kKeyword: return "keyword";
    case PayloadSchema::kInteger: return "integer";
    case PayloadSchema::kFloat: return "float";
  }
  return "?";
}

PayloadIndex::PayloadIndex(std::string key, PayloadSchema schema)
    : key_(std::move(key)), path_(split_payload_key(key_)), schema_(schema) {}

void PayloadIndex::add(uint64_t row, const nlohmann::json& payload) {
  if (payload.is_null()) return;
  std::vector<const nlohmann::json*> found;
  collect_payload_values(payload, path_, &found);
  std::vector<nlohmann::json> kept;
  for (const nlohmann::json* v : found) {
    if (schema_ == PayloadSchema::kKeyword && v->is_string()) {
      keywords_[v->get<std::string>()].insert(row);
      kept.push_back(*v);
    } else if (schema_ != PayloadSchema::kKeyword && v->is_number()) {
      numbers_.emplace(v->get<double>(), row);
      kept.push_back(*v);
    }
  }
  if (!kept.empty()) row_values_[row] = std::move(kept);
}

void PayloadIndex::remove(uint64_t row) {
  auto it = row_values_.find(row);
  if (it == row_values_.end()) return;
  for (const nlohmann::json& v : it->second) {
    if (v.is_string()) {
      auto posting = keywords_.find(v.get<std::string>());
      if (posting == keywords_.end()) continue;
      posting->second.erase(row);
      if (posting->second.empty()) keywords_.erase(posting);
    } else {
      auto [first, last] = numbers_.equal_range(v.get<double>());
      for (auto n = first; n != last; ++n) {
        if (n->second == row) {
          numbers_.erase(n);
          break;
        }
      }
    }
  }
  row_values_.erase(it);
}

void PayloadIndex::clear() {
  keywords_.clear();
  numbers_.clear();
  row_values_.clear();
}

std::optional<std::vector<uint64_t>> PayloadIndex::candidates(
    const IndexableCondition& condition) const {
  if (condition.path != path_) return std::nullopt;
  std::vector<uint64_t> rows;
  if (condition.is_range) {
    if (schema_ == PayloadSchema::kKeyword) return std::nullopt;
    auto it = numbers_.begin();
    if (condition.gte || condition.gt) {
      const double low = std::max(condition.gte.value_or(condition.gt.value_or(0)),
                                  condition.gt.value_or(condition.gte.value_or(0)));
      it = numbers_.lower_bound(low);
    }
    for (; it != numbers_.end(); ++it) {
      const double v = it->first;
      if (condition.lt && !(v < *condition.lt)) break;
      if (condition.lte && !(v <= *condition.lte)) break;
      if (condition.gt && !(v > *condition.gt)) continue;
      if (condition.gte && !(v >= *condition.gte)) continue;
      rows.push_back(it->second);
    }
  } else {
    for (const nlohmann::json& v : condition.values) {
      if (schema_ == PayloadSchema::kKeyword) {
        if (!v.is_string()) return std::nullopt;
        auto posting = keywords_.find(v.get<std::string>());
        if (posting != keywords_.end())
          rows.insert(rows.end(), posting->second.begin(), posting->second.end());
      } else {
        if (schema_ != PayloadSchema::kInteger || !v.is_number_integer()) return std::nullopt;
        auto [first, last] = numbers_.equal_range(v.get<double>());
        for (auto it = first; it != last; ++it) rows.push_back(it->second);
      }
    }
  }
  std::sort(rows.begin(), rows.end());
  rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
  return rows;
}

}  // namespace vesta::index
