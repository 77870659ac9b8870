#include "server/payload_selector.h"

#include <algorithm>

namespace vesta::server {
namespace {

using nlohmann::json;
using Path = PayloadSelector::Path;

// "a.b[].c" -> [a, b, [], c]; InvalidArgument naming `where` otherwise.
core::Result<Path> parse_path(std::string_view text, const std::string& where) {
  auto bad = [&] {
    return core::invalid_argument(where + ": '" + std::string(text) +
                                  "' is not a payload key path (keys joined by '.', each may end "
                                  "in [] to select every element of an array)");
  };
  Path path;
  size_t start = 0;
  for (;;) {
    const size_t dot = std::min(text.find('.', start), text.size());
    std::string_view part = text.substr(start, dot - start);
    const size_t bracket = std::min(part.find('['), part.size());
    const std::string_view key = part.substr(0, bracket);
    if (key.empty() || key.find_first_of("]\"") != std::string_view::npos) return bad();
    path.push_back({false, std::string(key)});
    for (part.remove_prefix(bracket); !part.empty(); part.remove_prefix(2)) {
      if (part.substr(0, 2) != "[]") return bad();  // array indexes are not supported
      path.push_back({true, ""});
    }
    if (dot == text.size()) return path;
    start = dot + 1;
  }
}

// The key paths of a JSON list; `where` names the list.
core::Result<std::vector<Path>> parse_paths(const json& list, const std::string& where) {
  if (!list.is_array()) {
    return core::invalid_argument(where + ": expected a list of payload key paths, got " +
                                  std::string(list.type_name()));
  }
  std::vector<Path> paths;
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string at = where + "[" + std::to_string(i) + "]";
    if (!list[i].is_string()) {
      return core::invalid_argument(at + ": expected a string, got " +
                                    std::string(list[i].type_name()));
    }
    core::Result<Path> path = parse_path(list[i].get<std::string>(), at);
    if (!path.is_ok()) return path.status();
    paths.push_back(std::move(path).value());
  }
  return paths;
}

// Whether `prefix` is a prefix of `path` (or equal to it).
bool starts_with(const Path& path, const Path& prefix) {
  return prefix.size() <= path.size() && std::equal(prefix.begin(), prefix.end(), path.begin());
}

}  // namespace

core::Result<PayloadSelector> PayloadSelector::parse(const json& value, const std::string& field,
                                                     const PayloadSelector& fallback) {
  if (value.is_null()) return fallback;
  if (value.is_boolean()) return value.get<bool>() ? all() : none();
  if (value.is_array()) {
    core::Result<std::vector<Path>> paths = parse_paths(value, field);
    if (!paths.is_ok()) return paths.status();
    return PayloadSelector(Mode::kInclude, std::move(paths).value());
  }
  if (!value.is_object()) {
    return core::invalid_argument(field +
                                  ": expected true, false, a list of payload key paths, "
                                  "{\"include\": [...]} or {\"exclude\": [...]}, got " +
                                  std::string(value.type_name()));
  }
  const json* list = nullptr;
  Mode mode = Mode::kInclude;
  for (const auto& [key, member] : value.items()) {
    if (member.is_null()) continue;
    if (key != "include" && key != "exclude") {
      return core::invalid_argument(field + "." + key +
                                    ": unknown member; expected include or exclude");
    }
    if (list != nullptr) {
      return core::invalid_argument(field + ": expected one of include or exclude, not both");
    }
    list = &member;
    mode = key == "include" ? Mode::kInclude : Mode::kExclude;
  }
  if (list == nullptr) {
    return core::invalid_argument(field +
                                  ": expected {\"include\": [...]} or {\"exclude\": [...]}");
  }
  core::Result<std::vector<Path>> paths =
      parse_paths(*list, field + (mode == Mode::kInclude ? ".include" : ".exclude"));
  if (!paths.is_ok()) return paths.status();
  return PayloadSelector(mode, std::move(paths).value());
}

core::Result<PayloadSelector> PayloadSelector::parse_text(std::string_view text,
                                                          const std::string& field) {
  if (text == "true") return all();
  if (text == "false") return none();
  std::vector<Path> paths;
  size_t start = 0;
  for (size_t i = 0;; ++i) {
    const size_t comma = std::min(text.find(',', start), text.size());
    core::Result<Path> path =
        parse_path(text.substr(start, comma - start), field + "[" + std::to_string(i) + "]");
    if (!path.is_ok()) return path.status();
    paths.push_back(std::move(path).value());
    if (comma == text.size()) break;
    start = comma + 1;
  }
  return PayloadSelector(Mode::kInclude, std::move(paths));
}

bool PayloadSelector::keeps(const Path& path, bool* keeps_all_below) const {
  switch (mode_) {
    case Mode::kNone: *keeps_all_below = false; return false;
    case Mode::kAll: *keeps_all_below = true; return true;
    case Mode::kInclude: {
      // Kept when the path and a pattern agree as far as both go (Qdrant's
      // check_include_pattern): the keys along a pattern and all below it.
      bool kept = false;
      *keeps_all_below = false;
      for (const Path& pattern : paths_) {
        const size_t common = std::min(pattern.size(), path.size());
        if (!std::equal(pattern.begin(), pattern.begin() + static_cast<ptrdiff_t>(common),
                        path.begin())) {
          continue;
        }
        kept = true;
        if (pattern.size() <= path.size()) *keeps_all_below = true;
      }
      return kept;
    }
    case Mode::kExclude: {
      *keeps_all_below = true;
      for (const Path& pattern : paths_) {
        if (starts_with(path, pattern)) return false;
        if (starts_with(pattern, path)) *keeps_all_below = false;
      }
      return true;
    }
  }
  return false;
}

json PayloadSelector::select(const json& value, Path& path) const {
  if (value.is_object()) {
    json out = json::object();
    for (const auto& [key, member] : value.items()) {
      path.push_back({false, key});
      bool all_below = false;
      if (keeps(path, &all_below)) out[key] = all_below ? member : select(member, path);
      path.pop_back();
    }
    return out;
  }
  if (value.is_array()) {
    json out = json::array();
    path.push_back({true, ""});
    bool all_below = false;
    if (keeps(path, &all_below)) {  // the same answer for every element
      for (const json& element : value) out.push_back(all_below ? element : select(element, path));
    }
    path.pop_back();
    return out;
  }
  return value;
}

json PayloadSelector::apply(const json& payload) const {
  if (mode_ == Mode::kNone) return json();
  if (!payload.is_object()) return json::object();
  if (mode_ == Mode::kAll) return payload;
  Path path;
  return select(payload, path);
}

}  // namespace vesta::server
