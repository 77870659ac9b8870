#include "graph/graph_write.h"

#include "engine/outbox.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <set>
#include <utility>

namespace vesta::graph {
namespace {

using nlohmann::json;

constexpr size_t kMaxLabels = 16;
constexpr size_t kMaxNameBytes = 64;  // a label or relationship type
constexpr size_t kMaxPropertyKeyBytes = 256;

core::Status bad(const std::string& message) { return core::invalid_argument(message); }
core::Status unprocessable(const std::string& message) {
  return core::Status(core::StatusCode::kUnprocessable, message);
}

std::string id_text(const json& id) { return id.is_string() ? id.get<std::string>() : id.dump(); }

// A node id: a non-empty string of at most kMaxStringIdBytes bytes, or an
// integer 0..2^63-1 (a Bolt Integer).
core::Status check_node_id(const json& id, const std::string& field) {
  if (id.is_string()) {
    const auto& text = id.get_ref<const std::string&>();
    if (text.empty() || text.size() > core::kMaxStringIdBytes) {
      return bad(field + " must be 1.." + std::to_string(core::kMaxStringIdBytes) + " bytes, got " +
                 std::to_string(text.size()));
    }
    return core::Status::ok();
  }
  if (id.is_number_unsigned() || (id.is_number_integer() && id.get<int64_t>() >= 0)) {
    if (id.is_number_unsigned() &&
        id.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return bad(field + " is larger than a graph integer holds (2^63-1)");
    }
    return core::Status::ok();
  }
  return bad(field + " must be a string or a non-negative integer");
}

// A label or relationship type: written into Cypher between backticks, so
// no backtick, and nothing a name cannot hold.
core::Status check_name(const std::string& name, const std::string& field) {
  if (name.empty() || name.size() > kMaxNameBytes) {
    return bad(field + " must be 1.." + std::to_string(kMaxNameBytes) + " bytes");
  }
  for (char c : name) {
    if (c == '`' || static_cast<unsigned char>(c) < 0x20) {
      return bad(field + " must not hold a backtick or a control character: '" + name + "'");
    }
  }
  return core::Status::ok();
}

bool is_scalar(const json& v) { return v.is_boolean() || v.is_number() || v.is_string(); }

core::Status check_property_value(const json& v, const std::string& field) {
  if (v.is_null() || v.is_boolean() || v.is_string()) return core::Status::ok();
  if (v.is_number()) {
    if (v.is_number_unsigned() &&
        v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return unprocessable(field + " is larger than a graph integer holds (2^63-1)");
    }
    return core::Status::ok();
  }
  if (v.is_array()) {
    for (size_t i = 0; i < v.size(); ++i) {
      const json& item = v[i];
      const std::string at = field + "[" + std::to_string(i) + "]";
      if (!is_scalar(item)) {
        return unprocessable(at +
                             ": a list property holds booleans, numbers or strings only, got " +
                             std::string(item.type_name()));
      }
      VESTA_RETURN_IF_ERROR(check_property_value(item, at));
      const bool same = (item.is_boolean() && v[0].is_boolean()) ||
                        (item.is_number() && v[0].is_number()) ||
                        (item.is_string() && v[0].is_string());
      if (!same) return unprocessable(at + ": a list property holds values of one type only");
    }
    return core::Status::ok();
  }
  return unprocessable(field + ": a graph property is null, a boolean, a number, a string or a " +
                       "list of those, not an " + std::string(v.type_name()));
}

core::Result<json> parse_properties(const json& parent, const std::string& field) {
  if (!parent.contains("properties") || parent["properties"].is_null()) return json::object();
  const json& properties = parent["properties"];
  if (!properties.is_object()) return bad(field + ".properties must be an object");
  for (const auto& [key, value] : properties.items()) {
    if (key.empty() || key.size() > kMaxPropertyKeyBytes) {
      return bad(field + ".properties: a key must be 1.." + std::to_string(kMaxPropertyKeyBytes) +
                 " bytes");
    }
    VESTA_RETURN_IF_ERROR(check_property_value(value, field + ".properties." + key));
  }
  return properties;
}

core::Status check_keys(const json& object, const std::string& field,
                        std::initializer_list<std::string_view> known) {
  for (const auto& [key, value] : object.items()) {
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      return bad(field + ": unknown field '" + key + "'");
    }
  }
  return core::Status::ok();
}

core::Result<const json*> optional_array(const json& body, const char* key) {
  static const json kEmpty = json::array();
  if (!body.contains(key) || body[key].is_null()) return &kEmpty;
  if (!body[key].is_array()) return bad(std::string(key) + " must be an array");
  return &body[key];
}

core::Result<std::string> collection_name(const json& body) {
  if (!body.is_object()) return bad("the body must be a JSON object");
  if (!body.contains("collection") || !body["collection"].is_string() ||
      body["collection"].get_ref<const std::string&>().empty()) {
    return bad("collection must be the name of the collection of the nodes' vectors");
  }
  return body["collection"].get<std::string>();
}

core::Status check_sizes(size_t nodes, size_t edges, const GraphLimits& limits) {
  if (nodes > limits.max_nodes) {
    return core::Status(core::StatusCode::kPayloadTooLarge,
                        "nodes holds " + std::to_string(nodes) + " nodes; at most " +
                            std::to_string(limits.max_nodes) + " per request");
  }
  if (edges > limits.max_edges) {
    return core::Status(core::StatusCode::kPayloadTooLarge,
                        "edges holds " + std::to_string(edges) + " edges; at most " +
                            std::to_string(limits.max_edges) + " per request");
  }
  if (nodes == 0 && edges == 0) return bad("nodes and edges are both empty: nothing to write");
  return core::Status::ok();
}

core::Result<std::vector<float>> parse_vector(const json& node, const std::string& field) {
  if (!node.contains("vector") || !node["vector"].is_array()) {
    return bad(field + ".vector must be an array of numbers (the node's embedding)");
  }
  const json& v = node["vector"];
  std::vector<float> out;
  out.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_number()) {
      return bad(field + ".vector[" + std::to_string(i) + "] must be a number");
    }
    out.push_back(v[i].get<float>());
  }
  return out;
}

// Sorted and without repeats, for the keyed locks.
std::vector<core::PointId> unique_ids(std::vector<core::PointId> ids) {
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

std::string attachment(std::string_view workspace, const GraphOperations& operations) {
  return engine::encode_attachment(engine::OutboxItem{
      std::string(workspace), static_cast<uint32_t>(operations.count()), operations.to_text()});
}

json edge_json(const json& source, const json& target, const std::string& type) {
  json out = {{"s", source}, {"t", target}};
  if (!type.empty()) out["type"] = type;
  return out;
}

// What both bodies start with, checked: the collection and the node and
// edge arrays (empty when absent), and the answer's counts.
struct Body {
  GraphWrite out;  // collection, nodes and edges set
  const json* nodes = nullptr;
  const json* edges = nullptr;
};

core::Result<Body> parse_body(std::string_view workspace, const json& body,
                              const GraphLimits& limits) {
  VESTA_RETURN_IF_ERROR(check_workspace(workspace));
  core::Result<std::string> collection = collection_name(body);
  if (!collection.is_ok()) return collection.status();
  VESTA_RETURN_IF_ERROR(check_keys(body, "the body", {"collection", "nodes", "edges"}));
  core::Result<const json*> nodes = optional_array(body, "nodes");
  if (!nodes.is_ok()) return nodes.status();
  core::Result<const json*> edges = optional_array(body, "edges");
  if (!edges.is_ok()) return edges.status();
  VESTA_RETURN_IF_ERROR(check_sizes(nodes.value()->size(), edges.value()->size(), limits));
  Body out{{}, nodes.value(), edges.value()};
  out.out.collection = std::move(collection).value();
  out.out.nodes = nodes.value()->size();
  out.out.edges = edges.value()->size();
  return out;
}

// An edge's source and target checked as node ids; their point ids, also
// added to `lock_ids`.
core::Result<std::array<core::PointId, 2>> edge_ends(const json& edge, const std::string& field,
                                                     std::vector<core::PointId>* lock_ids) {
  std::array<core::PointId, 2> out;
  for (size_t e = 0; e < 2; ++e) {
    const char* end = e == 0 ? "source" : "target";
    const std::string at = field + "." + end;
    if (!edge.contains(end)) return bad(at + " is required");
    VESTA_RETURN_IF_ERROR(check_node_id(edge[end], at));
    core::Result<core::PointId> point = node_point_id(edge[end]);
    if (!point.is_ok()) return bad(at + ": " + point.status().message());
    out[e] = point.value();
    lock_ids->push_back(point.value());
  }
  return out;
}

}  // namespace

core::Status check_workspace(std::string_view workspace) {
  if (workspace.empty() || workspace.size() > 63) {
    return bad("the workspace name must be 1..63 characters, got " +
               std::to_string(workspace.size()));
  }
  for (char c : workspace) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) {
      return bad("the workspace name '" + std::string(workspace) +
                 "' may hold letters, digits and '_' only");
    }
  }
  return core::Status::ok();
}

core::Status check_vectors(const GraphWrite& write, size_t dim) {
  const auto* upsert = std::get_if<index::UpsertPoints>(&write.write.write);
  if (upsert == nullptr) return core::Status::ok();
  for (size_t i = 0; i < upsert->points.size(); ++i) {
    const std::vector<float>& v = upsert->points[i].vector;
    const std::string field = "nodes[" + std::to_string(i) + "].vector";
    if (v.size() != dim) {
      return bad(field + " has " + std::to_string(v.size()) + " values, expected " +
                 std::to_string(dim) + " (the dimension of collection '" + write.collection + "')");
    }
    for (size_t d = 0; d < v.size(); ++d) {
      if (!std::isfinite(v[d])) {
        return bad(field + "[" + std::to_string(d) + "] is not a finite float32 number");
      }
    }
  }
  return core::Status::ok();
}

core::Result<core::PointId> node_point_id(const json& id) {
  if (id.is_string()) return core::PointId::from_text(id.get_ref<const std::string&>());
  return core::PointId::number(id.get<uint64_t>());
}

std::string GraphOperations::to_text() const {
  json out = json::object();
  if (!upsert_nodes.empty()) {
    json list = json::array();
    for (const NodeUpsert& n : upsert_nodes) {
      list.push_back({{"id", n.id}, {"labels", n.labels}, {"props", n.properties}});
    }
    out["un"] = std::move(list);
  }
  if (!upsert_edges.empty()) {
    json list = json::array();
    for (const EdgeUpsert& e : upsert_edges) {
      json edge = edge_json(e.source, e.target, e.type);
      edge["props"] = e.properties;
      list.push_back(std::move(edge));
    }
    out["ue"] = std::move(list);
  }
  if (!delete_edges.empty()) {
    json list = json::array();
    for (const EdgeDelete& e : delete_edges) list.push_back(edge_json(e.source, e.target, e.type));
    out["de"] = std::move(list);
  }
  if (!delete_nodes.empty()) out["dn"] = delete_nodes;
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

core::Result<GraphOperations> GraphOperations::from_text(std::string_view text) {
  const json in = json::parse(text, nullptr, false);
  auto damaged = [](const std::string& what) {
    return core::internal_error("graph operations damaged: " + what);
  };
  if (!in.is_object()) return damaged("not a JSON object");
  GraphOperations ops;
  try {
    if (in.contains("un")) {
      for (const json& n : in.at("un")) {
        ops.upsert_nodes.push_back(
            NodeUpsert{n.at("id"), n.at("labels").get<std::vector<std::string>>(), n.at("props")});
      }
    }
    if (in.contains("ue")) {
      for (const json& e : in.at("ue")) {
        ops.upsert_edges.push_back(
            EdgeUpsert{e.at("s"), e.at("t"), e.at("type").get<std::string>(), e.at("props")});
      }
    }
    if (in.contains("de")) {
      for (const json& e : in.at("de")) {
        ops.delete_edges.push_back(
            EdgeDelete{e.at("s"), e.at("t"), e.value("type", std::string())});
      }
    }
    if (in.contains("dn")) {
      for (const json& id : in.at("dn")) ops.delete_nodes.push_back(id);
    }
  } catch (const json::exception& e) {
    return damaged(e.what());
  }
  return ops;
}

core::Result<GraphWrite> parse_upsert(std::string_view workspace, const json& body,
                                      const GraphLimits& limits) {
  core::Result<Body> parsed = parse_body(workspace, body, limits);
  if (!parsed.is_ok()) return parsed.status();
  const json& nodes = *parsed.value().nodes;
  const json& edges = *parsed.value().edges;
  GraphWrite out = std::move(parsed.value().out);
  index::UpsertPoints points;
  std::vector<core::PointId> lock_ids;
  std::set<core::PointId> in_request;
  for (size_t i = 0; i < nodes.size(); ++i) {
    const json& node = nodes[i];
    const std::string field = "nodes[" + std::to_string(i) + "]";
    if (!node.is_object()) return bad(field + " must be an object");
    VESTA_RETURN_IF_ERROR(check_keys(node, field, {"id", "labels", "properties", "vector"}));
    if (!node.contains("id")) return bad(field + ".id is required");
    VESTA_RETURN_IF_ERROR(check_node_id(node["id"], field + ".id"));
    core::Result<core::PointId> point = node_point_id(node["id"]);
    if (!point.is_ok()) return bad(field + ".id: " + point.status().message());
    NodeUpsert op;
    op.id = node["id"];
    if (node.contains("labels") && !node["labels"].is_null()) {
      if (!node["labels"].is_array()) return bad(field + ".labels must be an array of strings");
      if (node["labels"].size() > kMaxLabels) {
        return bad(field + ".labels: at most " + std::to_string(kMaxLabels) + " labels");
      }
      for (size_t l = 0; l < node["labels"].size(); ++l) {
        const json& label = node["labels"][l];
        const std::string at = field + ".labels[" + std::to_string(l) + "]";
        if (!label.is_string()) return bad(at + " must be a string");
        VESTA_RETURN_IF_ERROR(check_name(label.get<std::string>(), at));
        op.labels.push_back(label.get<std::string>());
      }
      std::sort(op.labels.begin(), op.labels.end());
      op.labels.erase(std::unique(op.labels.begin(), op.labels.end()), op.labels.end());
    }
    core::Result<json> properties = parse_properties(node, field);
    if (!properties.is_ok()) return properties.status();
    op.properties = std::move(properties).value();
    core::Result<std::vector<float>> vector = parse_vector(node, field);
    if (!vector.is_ok()) return vector.status();
    json payload = op.properties;
    for (auto it = payload.begin(); it != payload.end();) {
      it = it.value().is_null() ? payload.erase(it) : std::next(it);
    }
    payload["vesta_node_id"] = op.id;
    points.points.push_back(
        index::PointWrite{point.value(), std::move(vector).value(), std::move(payload)});
    lock_ids.push_back(point.value());
    in_request.insert(point.value());
    out.operations.upsert_nodes.push_back(std::move(op));
  }
  std::set<core::PointId> required;
  for (size_t i = 0; i < edges.size(); ++i) {
    const json& edge = edges[i];
    const std::string field = "edges[" + std::to_string(i) + "]";
    if (!edge.is_object()) return bad(field + " must be an object");
    VESTA_RETURN_IF_ERROR(check_keys(edge, field, {"source", "target", "type", "properties"}));
    EdgeUpsert op;
    core::Result<std::array<core::PointId, 2>> ends = edge_ends(edge, field, &lock_ids);
    if (!ends.is_ok()) return ends.status();
    for (size_t e = 0; e < 2; ++e) {
      const core::PointId& point = ends.value()[e];
      if (!in_request.contains(point) && required.insert(point).second) {
        const char* end = e == 0 ? "source" : "target";
        out.write.must_exist.push_back(
            {point, field + "." + end + ": node '" + id_text(edge[end]) +
                        "' is neither a node of this request nor a point of collection '" +
                        out.collection + "'"});
      }
    }
    op.source = edge["source"];
    op.target = edge["target"];
    if (!edge.contains("type") || !edge["type"].is_string()) {
      return bad(field + ".type must be a string (the relationship type)");
    }
    op.type = edge["type"].get<std::string>();
    VESTA_RETURN_IF_ERROR(check_name(op.type, field + ".type"));
    core::Result<json> properties = parse_properties(edge, field);
    if (!properties.is_ok()) return properties.status();
    op.properties = std::move(properties).value();
    out.operations.upsert_edges.push_back(std::move(op));
  }
  out.write.write = std::move(points);
  out.write.lock_ids = unique_ids(std::move(lock_ids));
  out.write.attachment = attachment(workspace, out.operations);
  return out;
}

core::Result<GraphWrite> parse_delete(std::string_view workspace, const json& body,
                                      const GraphLimits& limits) {
  core::Result<Body> parsed = parse_body(workspace, body, limits);
  if (!parsed.is_ok()) return parsed.status();
  const json& nodes = *parsed.value().nodes;
  const json& edges = *parsed.value().edges;
  GraphWrite out = std::move(parsed.value().out);
  index::DeletePoints points;
  std::vector<core::PointId> lock_ids;
  for (size_t i = 0; i < nodes.size(); ++i) {
    const json& id = nodes[i];
    const std::string field = "nodes[" + std::to_string(i) + "]";
    VESTA_RETURN_IF_ERROR(check_node_id(id, field));
    core::Result<core::PointId> point = node_point_id(id);
    if (!point.is_ok()) return bad(field + ": " + point.status().message());
    points.ids.push_back(point.value());
    lock_ids.push_back(point.value());
    out.operations.delete_nodes.push_back(id);
  }
  for (size_t i = 0; i < edges.size(); ++i) {
    const json& edge = edges[i];
    const std::string field = "edges[" + std::to_string(i) + "]";
    if (!edge.is_object()) return bad(field + " must be an object");
    VESTA_RETURN_IF_ERROR(check_keys(edge, field, {"source", "target", "type"}));
    EdgeDelete op;
    core::Result<std::array<core::PointId, 2>> ends = edge_ends(edge, field, &lock_ids);
    if (!ends.is_ok()) return ends.status();
    op.source = edge["source"];
    op.target = edge["target"];
    if (edge.contains("type") && !edge["type"].is_null()) {
      if (!edge["type"].is_string()) return bad(field + ".type must be a string");
      op.type = edge["type"].get<std::string>();
      VESTA_RETURN_IF_ERROR(check_name(op.type, field + ".type"));
    }
    out.operations.delete_edges.push_back(std::move(op));
  }
  out.write.write = std::move(points);
  out.write.lock_ids = unique_ids(std::move(lock_ids));
  out.write.attachment = attachment(workspace, out.operations);
  return out;
}

}  // namespace vesta::graph
