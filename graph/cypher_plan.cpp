#include "graph/cypher_plan.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "persistence/bolt/packstream.h"

namespace vesta::graph {
namespace {

using nlohmann::json;

std::string quoted(const std::string& name) { return "`" + name + "`"; }

std::string key_of(const json& id) {
  return id.is_string() ? "s" + id.get<std::string>() : id.dump();
}

// The shape of a statement: one per kind, workspace and label set or type.
enum class Kind { kUpsertNode = 0, kUpsertEdge = 1, kDeleteEdge = 2, kDeleteNode = 3 };
struct Shape {
  Kind kind;
  std::string workspace;
  std::string detail;  // labels joined by '\n', or the relationship type ("" for any)
  std::vector<std::string> labels;
  friend bool operator<(const Shape& a, const Shape& b) {
    return std::tie(a.kind, a.workspace, a.detail) < std::tie(b.kind, b.workspace, b.detail);
  }
};

std::string query_of(const Shape& shape) {
  const std::string ws = quoted(shape.workspace);
  switch (shape.kind) {
    case Kind::kUpsertNode: {
      std::string q = "UNWIND $rows AS r MERGE (n:" + ws + " {id: r.id}) SET n += r.props";
      if (!shape.labels.empty()) {
        q += " SET n";
        for (const std::string& label : shape.labels) q += ":" + quoted(label);
      }
      return q;
    }
    case Kind::kUpsertEdge:
      // MERGE, not MATCH, of the ends: an end that is a point written through
      // the points API (the request checks found it) has no node yet, and
      // MATCH would drop the acknowledged edge without a word.
      return "UNWIND $rows AS r MERGE (a:" + ws + " {id: r.s}) MERGE (b:" + ws +
             " {id: r.t}) MERGE (a)-[e:" + quoted(shape.detail) + "]->(b) SET e += r.props";
    case Kind::kDeleteEdge:
      return "UNWIND $rows AS r MATCH (a:" + ws + " {id: r.s})-[e" +
             (shape.detail.empty() ? std::string() : ":" + quoted(shape.detail)) + "]->(b:" + ws +
             " {id: r.t}) DELETE e";
    case Kind::kDeleteNode: return "UNWIND $rows AS r MATCH (n:" + ws + " {id: r}) DETACH DELETE n";
  }
  return {};
}

// What a row costs against the statement cap: its PackStream size, or its
// size written out as Cypher text where that is larger (FalkorDB 4.16
// writes the parameters as text before the query, into a 4 KB buffer).
size_t row_bytes(const bolt::Value& row) {
  bolt::Bytes packed;
  (void)bolt::pack(row, &packed);
  return std::max(packed.size(), row.to_string().size() + 2);
}

// Operations grouped so far, and what they touched, to tell whether the
// next one commutes with the group's statement order.
class Group {
 public:
  bool empty() const { return shapes_.empty(); }

  bool upsert_node(const std::string& ws, const NodeUpsert& n) {
    std::string labels;
    for (const std::string& l : n.labels) labels += l + "\n";
    const std::string node = ws + "\n" + key_of(n.id);
    auto state = nodes_.find(node);
    if (state != nodes_.end() &&
        (state->second.deleted || (state->second.labels && *state->second.labels != labels))) {
      return false;
    }
    NodeState& s = nodes_[node];
    s.labels = labels;
    add({Kind::kUpsertNode, ws, labels, n.labels}, node,
        json{{"id", n.id}, {"props", n.properties}});
    return true;
  }

  bool upsert_edge(const std::string& ws, const EdgeUpsert& e) {
    const std::string a = ws + "\n" + key_of(e.source), b = ws + "\n" + key_of(e.target);
    for (const std::string* node : {&a, &b}) {
      if (auto it = nodes_.find(*node); it != nodes_.end() && it->second.deleted) return false;
    }
    const std::string pair = a + "\n" + b;
    if (deleted_edges_.contains(pair + "\n" + e.type) || deleted_edges_.contains(pair + "\n")) {
      return false;
    }
    nodes_[a].used = true;
    nodes_[b].used = true;
    written_edges_.insert(pair + "\n" + e.type);
    written_pairs_.insert(pair);
    add({Kind::kUpsertEdge, ws, e.type, {}}, pair + "\n" + e.type,
        json{{"s", e.source}, {"t", e.target}, {"props", e.properties}});
    return true;
  }

  bool delete_edge(const std::string& ws, const EdgeDelete& e) {
    const std::string pair = ws + "\n" + key_of(e.source) + "\n" + ws + "\n" + key_of(e.target);
    if (e.type.empty() ? written_pairs_.contains(pair)
                       : written_edges_.contains(pair + "\n" + e.type)) {
      return false;
    }
    deleted_edges_.insert(pair + "\n" + e.type);
    add({Kind::kDeleteEdge, ws, e.type, {}}, pair + "\n" + e.type,
        json{{"s", e.source}, {"t", e.target}});
    return true;
  }

  bool delete_node(const std::string& ws, const json& id) {
    const std::string node = ws + "\n" + key_of(id);
    if (auto it = nodes_.find(node); it != nodes_.end() && (it->second.labels || it->second.used)) {
      return false;
    }
    nodes_[node].deleted = true;
    add({Kind::kDeleteNode, ws, "", {}}, node, id);
    return true;
  }

  // The group's statements, node upserts first, rows split by size.
  void emit(size_t max_bytes, std::vector<Statement>* out) const {
    for (const Shape& shape : order_) {
      const json& rows = shapes_.at(shape);
      Statement current{query_of(shape), {}, 0};
      bolt::List list;
      size_t bytes = 0;
      auto flush = [&] {
        if (list.empty()) return;
        current.operations = list.size();
        current.parameters.set("rows", bolt::Value(std::move(list)));
        out->push_back(std::move(current));
        current = Statement{query_of(shape), {}, 0};
        list = bolt::List();
        bytes = 0;
      };
      for (const json& row : rows) {
        bolt::Value value = to_bolt(row);
        const size_t size = row_bytes(value);
        if (!list.empty() && bytes + size > max_bytes) flush();
        bytes += size;
        list.push_back(std::move(value));
      }
      flush();
    }
  }

 private:
  struct NodeState {
    std::optional<std::string> labels;  // upserted with these
    bool used = false;                  // an end of an upserted edge
    bool deleted = false;
  };

  // Adds a row for `key` (a node, or an edge's ends and type) to the
  // statement of `shape`. A key written again in the same statement is not
  // a second row: UNWIND over two rows of one node is applied in row order
  // by Neo4j but not by every server (FalkorDB 4.16 keeps the first row's
  // properties), so the later properties are merged into the first row,
  // which is what SET += of one after the other does. Deletes of one key
  // twice are one delete.
  void add(const Shape& shape, const std::string& key, json row) {
    auto it = shapes_.find(shape);
    if (it == shapes_.end()) {
      order_.push_back(shape);
      std::stable_sort(order_.begin(), order_.end(),
                       [](const Shape& a, const Shape& b) { return a.kind < b.kind; });
      it = shapes_.emplace(shape, json::array()).first;
    }
    const auto [row_at, added] = row_of_.try_emplace({shape, key}, it->second.size());
    if (added) {
      it->second.push_back(std::move(row));
      return;
    }
    json& earlier = it->second[row_at->second];
    if (row.is_object() && row.contains("props")) {
      for (const auto& [name, value] : row["props"].items()) earlier["props"][name] = value;
    }
  }

  std::map<Shape, json> shapes_;
  std::vector<Shape> order_;                                // by kind, then first use
  std::map<std::pair<Shape, std::string>, size_t> row_of_;  // a key's row in its statement
  std::map<std::string, NodeState> nodes_;
  std::set<std::string> written_edges_;  // pair + type
  std::set<std::string> written_pairs_;
  std::set<std::string> deleted_edges_;  // pair + type ("" for any)
};

}  // namespace

bolt::Value to_bolt(const json& value) {
  switch (value.type()) {
    case json::value_t::null: return bolt::Value(nullptr);
    case json::value_t::boolean: return bolt::Value(value.get<bool>());
    case json::value_t::number_integer: return bolt::Value(value.get<int64_t>());
    case json::value_t::number_unsigned: {
      const auto n = value.get<uint64_t>();
      // Checked at the request; a larger one is kept as a float rather than
      // wrapped.
      if (n > static_cast<uint64_t>(INT64_MAX)) return bolt::Value(static_cast<double>(n));
      return bolt::Value(static_cast<int64_t>(n));
    }
    case json::value_t::number_float: return bolt::Value(value.get<double>());
    case json::value_t::string: return bolt::Value(value.get<std::string>());
    case json::value_t::array: {
      bolt::List list;
      list.reserve(value.size());
      for (const json& item : value) list.push_back(to_bolt(item));
      return bolt::Value(std::move(list));
    }
    case json::value_t::object: {
      bolt::Dictionary dict;
      for (const auto& [key, item] : value.items()) dict.set(key, to_bolt(item));
      return bolt::Value(std::move(dict));
    }
    default: return bolt::Value(nullptr);
  }
}

std::vector<Statement> plan_statements(const std::vector<PlannedEntry>& entries,
                                       size_t max_statement_bytes) {
  std::vector<Statement> out;
  Group group;
  auto add = [&](const auto& step) {
    if (step(group)) return;
    group.emit(max_statement_bytes, &out);
    group = Group();
    const bool added = step(group);
    VESTA_CHECK(added) << "an operation conflicts with an empty group";
  };
  for (const PlannedEntry& entry : entries) {
    const std::string& ws = entry.workspace;
    const GraphOperations& ops = entry.operations;
    for (const NodeUpsert& n : ops.upsert_nodes) {
      add([&](Group& g) { return g.upsert_node(ws, n); });
    }
    for (const EdgeUpsert& e : ops.upsert_edges) {
      add([&](Group& g) { return g.upsert_edge(ws, e); });
    }
    for (const EdgeDelete& e : ops.delete_edges) {
      add([&](Group& g) { return g.delete_edge(ws, e); });
    }
    for (const json& id : ops.delete_nodes) {
      add([&](Group& g) { return g.delete_node(ws, id); });
    }
  }
  if (!group.empty()) group.emit(max_statement_bytes, &out);
  return out;
}

std::string constraint_statement(const std::string& workspace) {
  return "CREATE CONSTRAINT " + quoted("vesta_" + workspace + "_id") +
         " IF NOT EXISTS FOR (n:" + quoted(workspace) + ") REQUIRE n.id IS UNIQUE";
}

std::string index_statement(const std::string& workspace) {
  return "CREATE INDEX FOR (n:" + quoted(workspace) + ") ON (n.id)";
}

}  // namespace vesta::graph
