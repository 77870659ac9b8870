#include "server/json_codec.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "core/check.h"

namespace vesta::server {

core::Result<nlohmann::json> parse_json_body(const std::string& body) {
  if (body.empty()) return core::invalid_argument("request body is empty; expected a JSON object");
  try {
    return nlohmann::json::parse(body);
  } catch (const nlohmann::json::parse_error& e) {
    return core::invalid_argument("malformed JSON at byte " + std::to_string(e.byte) + ": " +
                                  e.what());
  } catch (const nlohmann::json::exception& e) {
    // A number too large for a double (1e400) is out_of_range, not a
    // parse_error: still the client's mistake.
    return core::invalid_argument(std::string("unreadable JSON: ") + e.what());
  }
}

core::Result<core::PointId> point_id_from_json(const nlohmann::json& value,
                                               const std::string& field) {
  if (value.is_number_unsigned()) return core::PointId::number(value.get<uint64_t>());
  if (value.is_string()) {
    core::Result<core::PointId> id = core::PointId::from_text(value.get<std::string>());
    if (!id.is_ok()) return core::invalid_argument(field + ": " + id.status().message());
    return id;
  }
  return core::invalid_argument(field + " must be an unsigned integer or a string (UUID), got " +
                                std::string(value.type_name()) +
                                (value.is_number() ? " " + value.dump() : ""));
}

nlohmann::json point_id_to_json(const core::PointId& id) {
  if (id.kind() == core::PointIdKind::kNumber) return id.as_number();
  return id.to_string();
}

nlohmann::json packed_vector_json(std::span<const float> values) {
  const auto* bytes = reinterpret_cast<const uint8_t*>(values.data());
  return nlohmann::json::binary(
      nlohmann::json::binary_t::container_type(bytes, bytes + values.size_bytes()),
      kPackedVectorSubtype);
}

core::Status unknown_vector_name(const std::string& field, const std::string& named,
                                 const std::string& vector_name) {
  if (vector_name.empty()) {
    return core::invalid_argument(field + " names the vector \"" + named +
                                  "\"; this collection holds one unnamed vector (named \"\" in "
                                  "Qdrant's named forms)");
  }
  return core::invalid_argument(field + " names the vector \"" + named +
                                "\"; this collection's one vector is named \"" + vector_name +
                                "\"");
}

nlohmann::json vector_to_json(const std::vector<float>& vector, const std::string& vector_name) {
  if (vector_name.empty()) return nlohmann::json(vector);
  return nlohmann::json{{vector_name, vector}};
}

core::Result<std::vector<float>> vector_from_json(const nlohmann::json& value,
                                                  const std::string& field,
                                                  const std::string& vector_name) {
  if (value.is_binary()) {
    const nlohmann::json::binary_t& bytes = value.get_binary();
    VESTA_CHECK(bytes.has_subtype() && bytes.subtype() == kPackedVectorSubtype &&
                bytes.size() % sizeof(float) == 0)
        << field << " holds a binary value that is not a packed vector";
    std::vector<float> out(bytes.size() / sizeof(float));
    if (!out.empty()) std::memcpy(out.data(), bytes.data(), bytes.size());
    return out;
  }
  if (value.is_object()) {
    // Qdrant's named forms of the collection's one vector:
    // {"<name>": [...]} and {"name": "<name>", "vector": [...]}.
    if (value.size() == 1 && value.contains(vector_name)) {
      return vector_from_json(value[vector_name], field + "[\"" + vector_name + "\"]", vector_name);
    }
    const auto name = value.find("name");
    if (value.size() == 2 && name != value.end() && value.contains("vector") && name->is_string() &&
        name->get_ref<const std::string&>() == vector_name) {
      return vector_from_json(value["vector"], field + ".vector", vector_name);
    }
    const std::string named = name != value.end() && name->is_string()
                                  ? name->get<std::string>()
                                  : (value.empty() ? std::string() : value.begin().key());
    return unknown_vector_name(field, named, vector_name);
  }
  if (!value.is_array()) {
    return core::invalid_argument(field + " must be an array of numbers, got " +
                                  std::string(value.type_name()));
  }
  std::vector<float> out;
  out.reserve(value.size());
  for (size_t i = 0; i < value.size(); ++i) {
    const nlohmann::json& x = value[i];
    if (!x.is_number()) {
      return core::invalid_argument(field + "[" + std::to_string(i) + "] must be a number, got " +
                                    std::string(x.type_name()));
    }
    const double d = x.get<double>();
    if (!std::isfinite(d) || std::fabs(d) > std::numeric_limits<float>::max()) {
      return core::invalid_argument(field + "[" + std::to_string(i) + "] = " + x.dump() +
                                    " is not a finite float32");
    }
    out.push_back(static_cast<float>(d));
  }
  return out;
}

core::Result<bool> optional_bool(const nlohmann::json& object, const char* key, bool fallback,
                                 const std::string& where) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) {
    return core::invalid_argument(where + key + " must be true or false, got " +
                                  std::string(it->type_name()));
  }
  return it->get<bool>();
}

core::Result<size_t> optional_count(const nlohmann::json& object, const char* key, size_t fallback,
                                    const std::string& where) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return fallback;
  if (!it->is_number_unsigned()) {
    return core::invalid_argument(where + key + " must be a non-negative integer, got " +
                                  it->dump());
  }
  return static_cast<size_t>(it->get<uint64_t>());
}

}  // namespace vesta::server
