#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/point_id.h"
#include "core/status.h"

namespace vesta::server {

// Conversions between Qdrant-shaped JSON and engine types. Every error names
// the JSON field at fault ("points[3].vector[7]").

// A JSON body; InvalidArgument with the parser's position when malformed.
core::Result<nlohmann::json> parse_json_body(const std::string& body);

// An unsigned integer or a string (UUID when it parses as one).
core::Result<core::PointId> point_id_from_json(const nlohmann::json& value,
                                               const std::string& field);
nlohmann::json point_id_to_json(const core::PointId& id);

// An array of numbers as float32; NaN/Inf/float16 range are checked later by
// the collection, which knows the dimension. Also reads a packed vector, and
// Qdrant's named forms of a collection's one vector, `vector_name` ("" when
// the collection's vector is unnamed): {"<name>": [...]} and
// {"name": "<name>", "vector": [...]} (any other name: 400).
core::Result<std::vector<float>> vector_from_json(const nlohmann::json& value,
                                                  const std::string& field,
                                                  const std::string& vector_name);

// The 400 for a request naming a vector the collection does not have.
core::Status unknown_vector_name(const std::string& field, const std::string& named,
                                 const std::string& vector_name);

// A vector as an answer shows it: the array, or {"<name>": [...]} when the
// collection's vector is named.
nlohmann::json vector_to_json(const std::vector<float>& vector, const std::string& vector_name);

// A packed vector: float32 values carried in a JSON DOM as a binary value of
// subtype kPackedVectorSubtype, in host byte order. VectorBodyParser makes
// them from the vectors of a request body; JSON text cannot produce a binary
// value, so one is never taken for user input. They live only between
// parsing a body and reading it, and are never serialised.
inline constexpr std::uint64_t kPackedVectorSubtype = 0x76657374;  // "vest"
nlohmann::json packed_vector_json(std::span<const float> values);

// Optional members with a type check: the default when absent or null.
core::Result<bool> optional_bool(const nlohmann::json& object, const char* key, bool fallback,
                                 const std::string& where);
core::Result<size_t> optional_count(const nlohmann::json& object, const char* key, size_t fallback,
                                    const std::string& where);

}  // namespace vesta::server
