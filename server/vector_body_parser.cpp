#include "server/vector_body_parser.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <system_error>

#include "core/check.h"
#include "server/json_codec.h"

namespace vesta::server {

using nlohmann::json;

int VectorBodyParser::Node::child(std::string_view key) const {
  for (const auto& [name, node] : keys) {
    if (name == key) return node;
  }
  return -1;
}

VectorBodyParser::VectorBodyParser(std::initializer_list<std::string_view> paths) : nodes_(1) {
  for (std::string_view path : paths) {
    VESTA_CHECK(!path.empty()) << "an empty vector path";
    size_t node = 0;
    while (!path.empty()) {
      if (path.starts_with("[]")) {
        path.remove_prefix(2);
        if (nodes_[node].elements < 0) {
          nodes_[node].elements = static_cast<int>(nodes_.size());
          nodes_.emplace_back();
        }
        node = static_cast<size_t>(nodes_[node].elements);
      } else {
        if (path.starts_with('.')) path.remove_prefix(1);
        const std::string_view key = path.substr(0, path.find_first_of(".["));
        VESTA_CHECK(!key.empty()) << "a vector path with an empty key";
        path.remove_prefix(key.size());
        int next = nodes_[node].child(key);
        if (next < 0) {
          next = static_cast<int>(nodes_.size());
          nodes_[node].keys.emplace_back(std::string(key), next);
          nodes_.emplace_back();
        }
        node = static_cast<size_t>(next);
      }
    }
    nodes_[node].vector = true;
  }
}

// A single pass over one body. Every read_* returns false when the body is
// not one the reader takes in full; parse() then hands it to
// parse_json_body. A false from read_vector alone only means "not a
// vector": the array is read as JSON instead.
class VectorBodyParser::Reader {
 public:
  Reader(std::string_view text, const std::vector<Node>& nodes)
      : pos_(text.data()), end_(text.data() + text.size()), nodes_(nodes) {}

  // The whole body: one value, then only whitespace.
  bool read_body(json& out) {
    if (!read_value(0, out)) return false;
    skip_whitespace();
    return pos_ == end_;
  }

 private:
  // A value at `node` of the paths' tree (-1: off every path).
  bool read_value(int node, json& out) {
    skip_whitespace();
    if (pos_ == end_) return false;
    if (node >= 0) {
      const Node& n = nodes_[static_cast<size_t>(node)];
      if (*pos_ == '[' && n.vector && read_vector(out)) return true;
      if (*pos_ == '{' && !n.keys.empty()) return read_object(n, out);
      if (*pos_ == '[' && n.elements >= 0) return read_array(n.elements, out);
    }
    return read_json(out);
  }

  // An object on a path; a repeated key keeps its last value, as nlohmann's
  // parser does.
  bool read_object(const Node& node, json& out) {
    ++pos_;
    out = json::object();
    skip_whitespace();
    if (pos_ != end_ && *pos_ == '}') {
      ++pos_;
      return true;
    }
    std::string key;
    while (true) {
      skip_whitespace();
      if (!read_key(key)) return false;
      skip_whitespace();
      if (pos_ == end_ || *pos_ != ':') return false;
      ++pos_;
      json value;
      if (!read_value(node.child(key), value)) return false;
      out[key] = std::move(value);
      skip_whitespace();
      if (pos_ == end_) return false;
      if (*pos_ == '}') {
        ++pos_;
        return true;
      }
      if (*pos_ != ',') return false;
      ++pos_;
    }
  }

  // An array on a path: each element at node `elements`.
  bool read_array(int elements, json& out) {
    ++pos_;
    out = json::array();
    skip_whitespace();
    if (pos_ != end_ && *pos_ == ']') {
      ++pos_;
      return true;
    }
    while (true) {
      json value;
      if (!read_value(elements, value)) return false;
      out.push_back(std::move(value));
      skip_whitespace();
      if (pos_ == end_) return false;
      if (*pos_ == ']') {
        ++pos_;
        return true;
      }
      if (*pos_ != ',') return false;
      ++pos_;
    }
  }

  // An array of numbers that vector_from_json would accept, as a packed
  // vector. Anything else leaves the position where it was and returns false.
  bool read_vector(json& out) {
    const char* const start = pos_;
    ++pos_;
    floats_.clear();
    skip_whitespace();
    if (pos_ != end_ && *pos_ == ']') {
      ++pos_;
      out = packed_vector_json(floats_);
      return true;
    }
    while (true) {
      skip_whitespace();
      double value = 0;
      // vector_from_json's limits; beyond them it reports, from the JSON array.
      if (!read_number(value) || !(std::fabs(value) <= std::numeric_limits<float>::max())) {
        pos_ = start;
        return false;
      }
      floats_.push_back(static_cast<float>(value));
      skip_whitespace();
      if (pos_ != end_ && *pos_ == ',') {
        ++pos_;
      } else if (pos_ != end_ && *pos_ == ']') {
        ++pos_;
        out = packed_vector_json(floats_);
        return true;
      } else {
        pos_ = start;
        return false;
      }
    }
  }

  // A JSON number (RFC 8259's grammar, which nlohmann's lexer follows) as the
  // double nlohmann makes of it: an integer that fits int64 (negative) or
  // uint64 converted from that integer, anything else correctly rounded
  // (strtod there, from_chars here: both give the nearest double). "-0" is
  // the integer 0, so +0.0 as in nlohmann. On false the position is unchanged.
  bool read_number(double& out) {
    const char* p = pos_;
    const bool negative = p != end_ && *p == '-';
    if (negative) ++p;
    if (p == end_) return false;
    if (*p == '0') {
      ++p;
    } else if (*p >= '1' && *p <= '9') {
      p = skip_digits(p + 1);
    } else {
      return false;
    }
    bool integer = true;
    if (p != end_ && *p == '.') {
      integer = false;
      const char* digits = p + 1;
      p = skip_digits(digits);
      if (p == digits) return false;
    }
    if (p != end_ && (*p == 'e' || *p == 'E')) {
      integer = false;
      ++p;
      if (p != end_ && (*p == '+' || *p == '-')) ++p;
      const char* digits = p;
      p = skip_digits(digits);
      if (p == digits) return false;
    }
    if (integer) {
      // Out of the integer's range, nlohmann reads it as a double, as below.
      if (negative) {
        int64_t value = 0;
        if (std::from_chars(pos_, p, value).ec == std::errc()) {
          out = static_cast<double>(value);
          pos_ = p;
          return true;
        }
      } else {
        uint64_t value = 0;
        if (std::from_chars(pos_, p, value).ec == std::errc()) {
          out = static_cast<double>(value);
          pos_ = p;
          return true;
        }
      }
    }
    // Out of double's range (overflow, or underflow where the library says
    // so): not taken here; nlohmann's own answer follows from the JSON path.
    const auto [end, error] = std::from_chars(pos_, p, out);
    if (error != std::errc() || end != p) return false;
    pos_ = p;
    return true;
  }

  // An object key: plain ASCII text taken as it is; escapes and other bytes
  // decoded (and checked) by nlohmann.
  bool read_key(std::string& key) {
    if (pos_ == end_ || *pos_ != '"') return false;
    const char* p = pos_ + 1;
    while (p != end_ && *p != '"' && *p != '\\' && static_cast<unsigned char>(*p) >= 0x20 &&
           static_cast<unsigned char>(*p) < 0x80) {
      ++p;
    }
    if (p != end_ && *p == '"') {
      key.assign(pos_ + 1, p);
      pos_ = p + 1;
      return true;
    }
    json decoded;
    if (!read_json(decoded) || !decoded.is_string()) return false;
    key = decoded.get<std::string>();
    return true;
  }

  // Any value, parsed by nlohmann from its own text.
  bool read_json(json& out) {
    const char* const start = pos_;
    if (!skip_value()) return false;
    out = json::parse(start, pos_, nullptr, /*allow_exceptions=*/false);
    return !out.is_discarded();
  }

  // Moves past one value without checking its inside (nlohmann does that):
  // brackets are counted outside strings, a string ends at its first
  // unescaped quote, a number or literal at a delimiter. False at the end of
  // the text or at a character no value starts with.
  bool skip_value() {
    if (pos_ == end_) return false;
    const char c = *pos_;
    if (c == '"') return skip_string();
    if (c == '{' || c == '[') {
      size_t depth = 0;
      while (pos_ != end_) {
        const char d = *pos_;
        if (d == '"') {
          if (!skip_string()) return false;
          continue;
        }
        if (d == '{' || d == '[') {
          ++depth;
        } else if ((d == '}' || d == ']') && --depth == 0) {
          ++pos_;
          return true;
        }
        ++pos_;
      }
      return false;
    }
    if (c == '-' || (c >= '0' && c <= '9') || c == 't' || c == 'f' || c == 'n') {
      while (pos_ != end_ && !is_delimiter(*pos_)) ++pos_;
      return true;
    }
    return false;
  }

  bool skip_string() {
    ++pos_;
    while (pos_ != end_) {
      if (*pos_ == '\\') {
        if (end_ - pos_ < 2) return false;
        pos_ += 2;
      } else if (*pos_ == '"') {
        ++pos_;
        return true;
      } else {
        ++pos_;
      }
    }
    return false;
  }

  const char* skip_digits(const char* p) const {
    while (p != end_ && *p >= '0' && *p <= '9') ++p;
    return p;
  }

  // JSON's whitespace: space, tab, line feed, carriage return.
  static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
  static bool is_delimiter(char c) { return is_space(c) || c == ',' || c == ']' || c == '}'; }

  void skip_whitespace() {
    while (pos_ != end_ && is_space(*pos_)) ++pos_;
  }

  const char* pos_;
  const char* const end_;
  const std::vector<Node>& nodes_;
  std::vector<float> floats_;  // the vector being read, reused
};

core::Result<json> VectorBodyParser::parse(const std::string& body) const {
  json out;
  if (Reader(body, nodes_).read_body(out)) return out;
  return parse_json_body(body);
}

}  // namespace vesta::server
