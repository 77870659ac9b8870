#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "index/collection.h"

namespace vesta::graph {

// The graph operations of one request, as the outbox keeps them (the text of
// its OutboxItem, JSON) and as the dispatcher turns them into Cypher. Node
// ids are JSON strings or unsigned integers; properties are JSON objects of
// graph property values (checked by the parsers below).
struct NodeUpsert {
  nlohmann::json id;
  std::vector<std::string> labels;  // sorted, unique
  nlohmann::json properties = nlohmann::json::object();
};
struct EdgeUpsert {
  nlohmann::json source;
  nlohmann::json target;
  std::string type;
  nlohmann::json properties = nlohmann::json::object();
};
struct EdgeDelete {
  nlohmann::json source;
  nlohmann::json target;
  std::string type;  // empty: every edge from source to target
};
struct GraphOperations {
  std::vector<NodeUpsert> upsert_nodes;
  std::vector<EdgeUpsert> upsert_edges;
  std::vector<EdgeDelete> delete_edges;
  std::vector<nlohmann::json> delete_nodes;

  size_t count() const {
    return upsert_nodes.size() + upsert_edges.size() + delete_edges.size() + delete_nodes.size();
  }
  std::string to_text() const;
  static core::Result<GraphOperations> from_text(std::string_view text);
};

// A graph request checked and ready for Collection::write_attached: the
// collection it names, the point write (node vectors, or the deletes of
// deleted nodes' points), the keyed locks and existence checks, and the
// operations for the outbox.
struct GraphWrite {
  std::string collection;
  index::Collection::AttachedWrite write;
  GraphOperations operations;
  size_t nodes = 0;  // as the request counted them (the answer says)
  size_t edges = 0;
};

struct GraphLimits {
  size_t max_nodes = 10000;   // per request (413)
  size_t max_edges = 100000;  // per request (413)
};

// "ws": 1..63 characters of [A-Za-z0-9_] (a label in the graph database).
core::Status check_workspace(std::string_view workspace);

// POST /graph/{workspace}/upsert and /delete bodies (docs/graph.md). Errors
// name the field: 400 for malformed input, 422 for well-formed but wrong
// (a property value a graph cannot hold), 413 past the limits. Vectors are
// checked against the collection by Collection::write_attached, and so are
// edge ends that are not nodes of the request (must_exist).
core::Result<GraphWrite> parse_upsert(std::string_view workspace, const nlohmann::json& body,
                                      const GraphLimits& limits);
core::Result<GraphWrite> parse_delete(std::string_view workspace, const nlohmann::json& body,
                                      const GraphLimits& limits);

// The node vectors of an upsert checked against the collection's
// dimension (and for finite values), naming the node: 400.
core::Status check_vectors(const GraphWrite& write, size_t dim);

// The point id of a node id (the same id: numbers, UUIDs, strings).
core::Result<core::PointId> node_point_id(const nlohmann::json& id);

}  // namespace vesta::graph
