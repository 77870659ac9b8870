#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "graph/graph_write.h"
#include "persistence/bolt/value.h"

namespace vesta::graph {

// One Cypher statement of a delivery: `UNWIND $rows AS r ...` over rows.
struct Statement {
  std::string query;
  bolt::Dictionary parameters;  // {"rows": [...]}
  size_t operations = 0;        // rows
};

// The operations of some outbox entries, in sequence order, for one
// workspace each.
struct PlannedEntry {
  std::string workspace;
  GraphOperations operations;
};

// The statements that apply `entries` in one transaction with the effect of
// applying them one operation at a time, in order. Consecutive operations
// are grouped into one statement per shape (node upserts of one label set,
// edges of one type, deletes; per workspace), in the order node upserts,
// edge upserts, edge deletes, node deletes; an operation that would not
// commute with that order (a node deleted and written in one group, an edge
// written and deleted, a node written with two label sets) starts a new
// group. A node (or an edge) written twice in one group is one row with the
// properties merged in order, as SET += one after the other would leave
// them: UNWIND over two rows of one node is not applied in row order by
// every server. A statement's rows stay under `max_statement_bytes`, each
// row counted as the larger of its PackStream size and its Cypher text (one
// row alone may pass it). Every statement is idempotent: MERGE, SET +=,
// DELETE of what matches.
std::vector<Statement> plan_statements(const std::vector<PlannedEntry>& entries,
                                       size_t max_statement_bytes);

// A JSON value (a checked property or node id) as a PackStream value.
bolt::Value to_bolt(const nlohmann::json& value);

// The statement that makes lookups by id fast for a workspace label, where
// the server has it: Neo4j's uniqueness constraint, and the plain index
// (FalkorDB has no constraints in Cypher) tried when it is refused.
std::string constraint_statement(const std::string& workspace);
std::string index_statement(const std::string& workspace);

}  // namespace vesta::graph
