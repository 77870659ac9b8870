#include "index/payload_filter.h"

#include <optional>
#include <variant>

namespace vesta::index {

using nlohmann::json;

namespace {

struct FieldMatch {
  enum class Kind { kValue, kAny, kExcept } kind = Kind::kValue;
  std::vector<json> values;  // strings, integers or booleans
};

struct FieldRange {
  std::optional<double> gt, gte, lt, lte;
};

// A field condition: `key` split on '.', then a match or a range test.
struct FieldCondition {
  std::vector<std::string> path;
  std::variant<FieldMatch, FieldRange> test;
};

struct HasId {
  std::vector<core::PointId> ids;
};
struct IsEmpty {
  std::vector<std::string> path;
};
struct IsNull {
  std::vector<std::string> path;
};

}  // namespace

std::vector<std::string> split_payload_key(const std::string& key) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    const size_t dot = key.find('.', start);
    std::string part =
        key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    // "list[]" is Qdrant's explicit array step; arrays are flattened anyway.
    if (part.size() >= 2 && part.compare(part.size() - 2, 2, "[]") == 0)
      part.resize(part.size() - 2);
    out.push_back(std::move(part));
    if (dot == std::string::npos) return out;
    start = dot + 1;
  }
}

namespace {

// Every value found at `path`, arrays flattened at each step.
void collect(const json& node, const std::vector<std::string>& path, size_t depth,
             std::vector<const json*>* out) {
  if (depth == path.size()) {
    if (node.is_array()) {
      for (const json& element : node) out->push_back(&element);
    } else {
      out->push_back(&node);
    }
    return;
  }
  if (node.is_array()) {
    for (const json& element : node) collect(element, path, depth, out);
    return;
  }
  if (!node.is_object()) return;
  auto it = node.find(path[depth]);
  if (it != node.end()) collect(*it, path, depth + 1, out);
}

}  // namespace

std::vector<const json*> payload_values(const json& payload, const std::vector<std::string>& path) {
  std::vector<const json*> out;
  collect(payload, path, 0, &out);
  return out;
}

namespace {

bool same_value(const json& stored, const json& wanted) {
  if (wanted.is_string()) return stored.is_string() && stored == wanted;
  if (wanted.is_boolean()) return stored.is_boolean() && stored == wanted;
  // Integers: compare numerically, whatever the JSON integer flavour (the
  // parser stores non-negative literals as unsigned, negative ones as signed).
  if (stored.is_number_integer() && wanted.is_number_integer()) {
    const bool stored_unsigned = stored.is_number_unsigned();
    if (stored_unsigned == wanted.is_number_unsigned()) return stored == wanted;
    const json& signed_one = stored_unsigned ? wanted : stored;
    const json& unsigned_one = stored_unsigned ? stored : wanted;
    const int64_t s = signed_one.get<int64_t>();
    return s >= 0 && static_cast<uint64_t>(s) == unsigned_one.get<uint64_t>();
  }
  return false;
}

bool in_list(const json& stored, const std::vector<json>& list) {
  for (const json& v : list) {
    if (same_value(stored, v)) return true;
  }
  return false;
}

bool field_holds(const FieldCondition& c, const json& payload) {
  std::vector<const json*> values;
  collect(payload, c.path, 0, &values);
  if (const auto* match = std::get_if<FieldMatch>(&c.test)) {
    switch (match->kind) {
      case FieldMatch::Kind::kValue:
      case FieldMatch::Kind::kAny:
        for (const json* v : values) {
          if (in_list(*v, match->values)) return true;
        }
        return false;
      case FieldMatch::Kind::kExcept:
        for (const json* v : values) {
          if (!v->is_null() && !in_list(*v, match->values)) return true;
        }
        return false;
    }
    return false;
  }
  const FieldRange& r = std::get<FieldRange>(c.test);
  for (const json* v : values) {
    if (!v->is_number()) continue;
    const double x = v->get<double>();
    if (r.gt && !(x > *r.gt)) continue;
    if (r.gte && !(x >= *r.gte)) continue;
    if (r.lt && !(x < *r.lt)) continue;
    if (r.lte && !(x <= *r.lte)) continue;
    return true;
  }
  return false;
}

}  // namespace

struct PayloadFilter::Node {
  using Condition =
      std::variant<std::shared_ptr<const Node>, FieldCondition, HasId, IsEmpty, IsNull>;
  std::vector<Condition> must;
  std::vector<Condition> should;
  std::vector<Condition> must_not;
  std::vector<Condition> min_should;
  size_t min_count = 0;

  static bool holds(const Condition& c, const core::PointId& id, const json& payload) {
    if (const auto* node = std::get_if<std::shared_ptr<const Node>>(&c)) {
      return (*node)->evaluate(id, payload);
    }
    if (const auto* field = std::get_if<FieldCondition>(&c)) return field_holds(*field, payload);
    if (const auto* has = std::get_if<HasId>(&c)) {
      for (const core::PointId& wanted : has->ids) {
        if (wanted == id) return true;
      }
      return false;
    }
    if (const auto* empty = std::get_if<IsEmpty>(&c)) {
      std::vector<const json*> values;
      collect(payload, empty->path, 0, &values);
      for (const json* v : values) {
        if (!v->is_null()) return false;
      }
      return true;
    }
    const IsNull& is_null = std::get<IsNull>(c);
    // Holds when the field is present and null (a null inside an array counts).
    std::vector<const json*> values;
    collect(payload, is_null.path, 0, &values);
    for (const json* v : values) {
      if (v->is_null()) return true;
    }
    return false;
  }

  bool evaluate(const core::PointId& id, const json& payload) const {
    for (const Condition& c : must) {
      if (!holds(c, id, payload)) return false;
    }
    for (const Condition& c : must_not) {
      if (holds(c, id, payload)) return false;
    }
    if (!should.empty()) {
      bool any = false;
      for (const Condition& c : should) {
        if (holds(c, id, payload)) {
          any = true;
          break;
        }
      }
      if (!any) return false;
    }
    if (!min_should.empty()) {
      size_t count = 0;
      for (const Condition& c : min_should) count += holds(c, id, payload) ? 1 : 0;
      if (count < min_count) return false;
    }
    return true;
  }
};

namespace {

using Node = PayloadFilter::Node;
using Condition = Node::Condition;

// JSON parsed from text keeps non-negative integers unsigned; JSON built in
// C++ may hold them signed. Both are accepted as counts and ids.
bool is_non_negative_integer(const json& j) {
  return j.is_number_unsigned() || (j.is_number_integer() && j.get<int64_t>() >= 0);
}

core::Status fail(const std::string& where, const std::string& what) {
  return core::invalid_argument(where + " " + what);
}

// `depth` is this filter's nesting level (the top level is 1), `max_depth`
// the deepest accepted.
core::Result<std::shared_ptr<const Node>> parse_filter(const json& j, const std::string& where,
                                                       int depth, int max_depth);

core::Result<std::vector<std::string>> parse_key(const json& object, const std::string& where) {
  auto key = object.find("key");
  if (key == object.end() || !key->is_string() || key->get<std::string>().empty()) {
    return fail(where + ".key", "must be a non-empty string");
  }
  return split_payload_key(key->get<std::string>());
}

core::Result<std::vector<json>> match_values(const json& list, const std::string& where) {
  if (!list.is_array()) return fail(where, "must be an array");
  std::vector<json> out;
  for (size_t i = 0; i < list.size(); ++i) {
    const json& v = list[i];
    if (!v.is_string() && !v.is_number_integer() && !v.is_boolean()) {
      return fail(where + "[" + std::to_string(i) + "]", "must be a string, an integer or a bool");
    }
    out.push_back(v);
  }
  return out;
}

core::Result<Condition> parse_condition(const json& c, const std::string& where, int depth,
                                        int max_depth) {
  if (!c.is_object()) return fail(where, "must be an object");
  if (c.contains("must") || c.contains("should") || c.contains("must_not") ||
      c.contains("min_should")) {
    auto nested = parse_filter(c, where, depth + 1, max_depth);
    if (!nested.is_ok()) return nested.status();
    return Condition(nested.value());
  }
  if (auto has_id = c.find("has_id"); has_id != c.end()) {
    if (!has_id->is_array()) return fail(where + ".has_id", "must be an array of point ids");
    HasId out;
    for (size_t i = 0; i < has_id->size(); ++i) {
      const json& v = (*has_id)[i];
      const std::string at = where + ".has_id[" + std::to_string(i) + "]";
      if (is_non_negative_integer(v)) {
        out.ids.push_back(core::PointId::number(v.get<uint64_t>()));
      } else if (v.is_string()) {
        auto id = core::PointId::from_text(v.get<std::string>());
        if (!id.is_ok()) return fail(at, id.status().message());
        out.ids.push_back(id.value());
      } else {
        return fail(at, "must be an unsigned integer or a string");
      }
    }
    return Condition(std::move(out));
  }
  if (auto is_empty = c.find("is_empty"); is_empty != c.end()) {
    if (!is_empty->is_object()) return fail(where + ".is_empty", "must be {\"key\": ...}");
    auto key = parse_key(*is_empty, where + ".is_empty");
    if (!key.is_ok()) return key.status();
    return Condition(IsEmpty{key.value()});
  }
  if (auto is_null = c.find("is_null"); is_null != c.end()) {
    if (!is_null->is_object()) return fail(where + ".is_null", "must be {\"key\": ...}");
    auto key = parse_key(*is_null, where + ".is_null");
    if (!key.is_ok()) return key.status();
    return Condition(IsNull{key.value()});
  }
  if (!c.contains("key")) {
    return fail(where, "must be a filter, has_id, is_empty, is_null or a field condition with key");
  }
  auto key = parse_key(c, where);
  if (!key.is_ok()) return key.status();
  FieldCondition field{key.value(), FieldMatch{}};
  if (auto match = c.find("match"); match != c.end()) {
    if (!match->is_object()) return fail(where + ".match", "must be an object");
    FieldMatch m;
    if (auto value = match->find("value"); value != match->end()) {
      auto values = match_values(json::array({*value}), where + ".match.value");
      if (!values.is_ok())
        return fail(where + ".match.value", "must be a string, an integer or a bool");
      m.values = values.value();
    } else if (auto any = match->find("any"); any != match->end()) {
      m.kind = FieldMatch::Kind::kAny;
      auto values = match_values(*any, where + ".match.any");
      if (!values.is_ok()) return values.status();
      m.values = values.value();
    } else if (auto except = match->find("except"); except != match->end()) {
      m.kind = FieldMatch::Kind::kExcept;
      auto values = match_values(*except, where + ".match.except");
      if (!values.is_ok()) return values.status();
      m.values = values.value();
    } else {
      return fail(where + ".match", "must have value, any or except (text match is not supported)");
    }
    field.test = std::move(m);
    return Condition(std::move(field));
  }
  if (auto range = c.find("range"); range != c.end()) {
    if (!range->is_object()) return fail(where + ".range", "must be an object");
    FieldRange r;
    for (const auto& [name, bound] : range->items()) {
      if (bound.is_null()) continue;
      if (!bound.is_number()) return fail(where + ".range." + name, "must be a number");
      const double v = bound.get<double>();
      if (name == "gt") {
        r.gt = v;
      } else if (name == "gte") {
        r.gte = v;
      } else if (name == "lt") {
        r.lt = v;
      } else if (name == "lte") {
        r.lte = v;
      } else {
        return fail(where + ".range." + name, "is not one of gt, gte, lt, lte");
      }
    }
    field.test = r;
    return Condition(std::move(field));
  }
  return fail(where, "has a key but no match or range (other conditions are not supported)");
}

core::Result<std::vector<Condition>> parse_list(const json& list, const std::string& where,
                                                int depth, int max_depth) {
  std::vector<Condition> out;
  if (list.is_null()) return out;
  // Qdrant accepts a single condition in place of a list.
  const json items = list.is_array() ? list : json::array({list});
  for (size_t i = 0; i < items.size(); ++i) {
    auto c = parse_condition(items[i], where + "[" + std::to_string(i) + "]", depth, max_depth);
    if (!c.is_ok()) return c.status();
    out.push_back(std::move(c).value());
  }
  return out;
}

core::Result<std::shared_ptr<const Node>> parse_filter(const json& j, const std::string& where,
                                                       int depth, int max_depth) {
  if (depth > max_depth) {
    return fail(where, "nests filters deeper than " + std::to_string(max_depth));
  }
  if (!j.is_object()) return fail(where, "must be an object");
  auto node = std::make_shared<Node>();
  for (const auto& [name, value] : j.items()) {
    const std::string at = where + "." + name;
    if (name == "must" || name == "should" || name == "must_not") {
      auto list = parse_list(value, at, depth, max_depth);
      if (!list.is_ok()) return list.status();
      (name == "must"     ? node->must
       : name == "should" ? node->should
                          : node->must_not) = std::move(list).value();
    } else if (name == "min_should") {
      if (value.is_null()) continue;
      if (!value.is_object()) return fail(at, "must be {\"conditions\": [...], \"min_count\": n}");
      auto conditions = parse_list(value.value("conditions", json::array()), at + ".conditions",
                                   depth, max_depth);
      if (!conditions.is_ok()) return conditions.status();
      auto min_count = value.find("min_count");
      if (min_count == value.end() || !is_non_negative_integer(*min_count)) {
        return fail(at + ".min_count", "must be a non-negative integer");
      }
      node->min_should = std::move(conditions).value();
      node->min_count = min_count->get<size_t>();
    } else {
      return fail(at, "is not one of must, should, must_not, min_should");
    }
  }
  return std::shared_ptr<const Node>(std::move(node));
}

}  // namespace

core::Result<PayloadFilter> PayloadFilter::parse(const json& filter, int max_depth) {
  auto root = parse_filter(filter, "filter", 1, max_depth);
  if (!root.is_ok()) return root.status();
  return PayloadFilter(root.value());
}

bool PayloadFilter::matches(const core::PointId& id, const json& payload) const {
  return root_->evaluate(id, payload);
}

void collect_payload_values(const json& payload, const std::vector<std::string>& path,
                            std::vector<const json*>* out) {
  collect(payload, path, 0, out);
}

std::vector<IndexableCondition> PayloadFilter::indexable_conditions() const {
  std::vector<IndexableCondition> out;
  for (const Node::Condition& c : root_->must) {
    const auto* field = std::get_if<FieldCondition>(&c);
    if (field == nullptr) continue;
    IndexableCondition indexable;
    indexable.path = field->path;
    if (const auto* match = std::get_if<FieldMatch>(&field->test)) {
      if (match->kind == FieldMatch::Kind::kExcept) continue;
      bool usable = !match->values.empty();
      for (const json& v : match->values)
        usable = usable && (v.is_string() || v.is_number_integer());
      if (!usable) continue;
      indexable.values = match->values;
    } else {
      const FieldRange& range = std::get<FieldRange>(field->test);
      indexable.is_range = true;
      indexable.gt = range.gt;
      indexable.gte = range.gte;
      indexable.lt = range.lt;
      indexable.lte = range.lte;
    }
    out.push_back(std::move(indexable));
  }
  return out;
}

}  // namespace vesta::index
