#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace vesta::server {

// Parses the JSON body of a route that carries vectors (search, query, their
// batches, upsert) without a JSON value per float: the arrays of numbers at
// the route's paths are read from the text straight into float32 vectors
// (std::from_chars), carried in the result as packed vectors (json_codec.h),
// which vector_from_json reads; everything else is parsed by nlohmann as
// parse_json_body would.
//
// The result is parse_json_body's in every other respect, and the floats are
// the same bits: a number becomes the double nlohmann makes of it (an integer
// through int64/uint64, anything else correctly rounded), cast to float. An
// array stays a JSON array, for vector_from_json to judge, unless every
// element is a number it would accept (finite, within float32's range). A
// body the reader does not take in full (malformed, a UTF-8 BOM, anything it
// is unsure of) is parsed again by parse_json_body, which reports the error
// or gives the answer. Thread-safe; holds only the paths.
class VectorBodyParser {
 public:
  // Paths of object keys separated by '.', with "[]" for each element of an
  // array: "vector", "searches[].query.nearest", "batch.vectors[]". Keys
  // holding '.' or '[' cannot be named.
  VectorBodyParser(std::initializer_list<std::string_view> paths);

  core::Result<nlohmann::json> parse(const std::string& body) const;

 private:
  // One step of the paths' tree.
  struct Node {
    bool vector = false;                            // an array of numbers here is a vector
    std::vector<std::pair<std::string, int>> keys;  // members on a path -> node
    int elements = -1;  // the node of each array element, or -1 when off every path

    int child(std::string_view key) const;  // -1 when off every path
  };
  class Reader;  // one body's parse

  std::vector<Node> nodes_;  // nodes_[0] is the body
};

}  // namespace vesta::server
