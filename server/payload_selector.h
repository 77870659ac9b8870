#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace vesta::server {

// Which part of a point's payload a response carries, as Qdrant's
// `with_payload` says: true (all of it), false (none: the response's
// "payload" is null), a list of key paths (those only), {"include": [paths]}
// (the same) or {"exclude": [paths]} (all but those).
//
// A path is keys joined by '.' ("meta.lang"); "[]" after a key steps into the
// elements of the array there ("authors[].name"). Selection follows Qdrant's:
// an included path keeps the keys along it and everything below its end; an
// array is only entered through "[]", so "authors.name" keeps an array at
// "authors" but none of its elements. An excluded path drops what is at its
// end and keeps everything else. Immutable after parse(); thread-safe.
class PayloadSelector {
 public:
  static PayloadSelector all() { return PayloadSelector(Mode::kAll, {}); }
  static PayloadSelector none() { return PayloadSelector(Mode::kNone, {}); }

  // The JSON value of a `with_payload` member; `fallback` when null.
  // InvalidArgument naming `field` and the element at fault, e.g.
  // "searches[1].with_payload.include[0]: expected a string, got number".
  static core::Result<PayloadSelector> parse(const nlohmann::json& value, const std::string& field,
                                             const PayloadSelector& fallback);
  // A `with_payload` URL query parameter (a Vesta extension for GET point):
  // "true", "false" or comma-separated key paths ("city,meta.lang").
  static core::Result<PayloadSelector> parse_text(std::string_view text, const std::string& field);

  // False only for `with_payload: false`: the payload need not be read.
  bool wants_payload() const { return mode_ != Mode::kNone; }

  // What the response's "payload" holds for a stored `payload` (a JSON
  // object, or null for none): null when nothing is wanted, else an object.
  nlohmann::json apply(const nlohmann::json& payload) const;

  // One step of a path: a key, or "[]" (every element of an array).
  struct Step {
    bool every_element = false;
    std::string key;  // empty for "[]"
    bool operator==(const Step&) const = default;
  };
  using Path = std::vector<Step>;

 private:
  enum class Mode { kNone, kAll, kInclude, kExclude };
  PayloadSelector(Mode mode, std::vector<Path> paths) : mode_(mode), paths_(std::move(paths)) {}

  // Whether the value at `path` appears in the output, and whether
  // everything below it does too (no need to look further down).
  bool keeps(const Path& path, bool* keeps_all_below) const;
  nlohmann::json select(const nlohmann::json& value, Path& path) const;

  Mode mode_;
  std::vector<Path> paths_;
};

}  // namespace vesta::server
