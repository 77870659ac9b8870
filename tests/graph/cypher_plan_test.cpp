#include "graph/cypher_plan.h"

#include <gtest/gtest.h>

#include "persistence/bolt/packstream.h"

namespace vesta::graph {
namespace {

using nlohmann::json;

NodeUpsert node(const json& id, std::vector<std::string> labels = {}, json props = json::object()) {
  return NodeUpsert{id, std::move(labels), std::move(props)};
}

size_t rows(const Statement& s) {
  const bolt::Value* r = s.parameters.find("rows");
  return r == nullptr ? 0 : r->as<bolt::List>().size();
}

std::vector<std::string> queries(const std::vector<Statement>& statements) {
  std::vector<std::string> out;
  for (const Statement& s : statements) out.push_back(s.query);
  return out;
}

TEST(CypherPlan, OperationsOfOneShapeShareAStatementInOrder) {
  GraphOperations a, b;
  a.upsert_nodes = {node("x", {"P"}, {{"v", 1}}), node("y", {"P"})};
  a.upsert_edges = {EdgeUpsert{"x", "y", "KNOWS", {{"w", 1}}}};
  b.upsert_nodes = {node("x", {"P"}, {{"v", 2}}), node("z", {"Q", "P"})};
  b.upsert_edges = {EdgeUpsert{"y", "z", "KNOWS", json::object()}};
  const std::vector<Statement> plan = plan_statements({{"ws", a}, {"ws", b}}, 1 << 20);
  ASSERT_EQ(plan.size(), 3u);
  EXPECT_EQ(plan[0].query,
            "UNWIND $rows AS r MERGE (n:`ws` {id: r.id}) SET n += r.props SET n:`P`");
  // x, y, then x again: one row for x, its properties merged in order (a
  // server need not apply two rows of one node in order).
  EXPECT_EQ(rows(plan[0]), 2u);
  const bolt::List& first = plan[0].parameters.find("rows")->as<bolt::List>();
  EXPECT_EQ(*first[0].as<bolt::Dictionary>().find("props")->as<bolt::Dictionary>().find("v"),
            bolt::Value(2));
  EXPECT_EQ(plan[1].query,
            "UNWIND $rows AS r MERGE (n:`ws` {id: r.id}) SET n += r.props SET n:`Q`:`P`");
  EXPECT_EQ(plan[2].query,
            "UNWIND $rows AS r MERGE (a:`ws` {id: r.s}) MERGE (b:`ws` {id: r.t}) MERGE "
            "(a)-[e:`KNOWS`]->(b) SET e += r.props");
  EXPECT_EQ(rows(plan[2]), 2u);
  EXPECT_EQ(plan[0].operations + plan[1].operations + plan[2].operations, 5u);
}

TEST(CypherPlan, ANodeOrEdgeWrittenTwiceInAGroupIsOneRowWithMergedProperties) {
  GraphOperations a, b, c;
  a.upsert_nodes = {node("x", {"P"}, {{"keep", 1}, {"v", 1}, {"drop", 1}})};
  a.upsert_edges = {EdgeUpsert{"x", "x", "SELF", {{"w", 1}, {"z", 0}}}};
  b.upsert_nodes = {node("x", {"P"}, {{"v", 2}, {"drop", nullptr}})};
  b.upsert_edges = {EdgeUpsert{"x", "x", "SELF", {{"w", 2}}}};
  c.upsert_nodes = {node("x", {"P"}, {{"drop", 3}, {"v", 3}})};
  const std::vector<Statement> plan = plan_statements({{"ws", a}, {"ws", b}, {"ws", c}}, 1 << 20);
  ASSERT_EQ(plan.size(), 2u);
  ASSERT_EQ(rows(plan[0]), 1u);
  const bolt::Dictionary& props = plan[0]
                                      .parameters.find("rows")
                                      ->as<bolt::List>()[0]
                                      .as<bolt::Dictionary>()
                                      .find("props")
                                      ->as<bolt::Dictionary>();
  // What SET n += a, then += b, then += c leaves.
  EXPECT_EQ(props,
            (bolt::Dictionary{{"keep", int64_t{1}}, {"v", int64_t{3}}, {"drop", int64_t{3}}}));
  ASSERT_EQ(rows(plan[1]), 1u);
  const bolt::Dictionary& edge = plan[1]
                                     .parameters.find("rows")
                                     ->as<bolt::List>()[0]
                                     .as<bolt::Dictionary>()
                                     .find("props")
                                     ->as<bolt::Dictionary>();
  EXPECT_EQ(edge, (bolt::Dictionary{{"w", int64_t{2}}, {"z", int64_t{0}}}));
  // A removal (null) that comes last stays a removal.
  GraphOperations d;
  d.upsert_nodes = {node("x", {"P"}, {{"keep", nullptr}})};
  const std::vector<Statement> removed = plan_statements({{"ws", a}, {"ws", d}}, 1 << 20);
  EXPECT_TRUE(removed[0]
                  .parameters.find("rows")
                  ->as<bolt::List>()[0]
                  .as<bolt::Dictionary>()
                  .find("props")
                  ->as<bolt::Dictionary>()
                  .find("keep")
                  ->is_null());
}

TEST(CypherPlan, WhatDoesNotCommuteStartsANewGroup) {
  // Written, deleted, written again: three groups, in order.
  GraphOperations write, remove, again;
  write.upsert_nodes = {node("x")};
  remove.delete_nodes = {"x"};
  again.upsert_nodes = {node("x", {}, {{"v", 3}})};
  std::vector<Statement> plan =
      plan_statements({{"ws", write}, {"ws", remove}, {"ws", again}}, 1 << 20);
  ASSERT_EQ(plan.size(), 3u);
  EXPECT_NE(plan[0].query.find("MERGE"), std::string::npos);
  EXPECT_NE(plan[1].query.find("DETACH DELETE"), std::string::npos);
  EXPECT_NE(plan[2].query.find("MERGE"), std::string::npos);

  // An edge written then deleted (by type, or any type), and the reverse.
  GraphOperations edge, drop_typed, drop_any;
  edge.upsert_edges = {EdgeUpsert{"a", "b", "T", json::object()}};
  drop_typed.delete_edges = {EdgeDelete{"a", "b", "T"}};
  drop_any.delete_edges = {EdgeDelete{"a", "b", ""}};
  EXPECT_EQ(plan_statements({{"ws", edge}, {"ws", drop_typed}}, 1 << 20).size(), 2u);
  EXPECT_EQ(plan_statements({{"ws", edge}, {"ws", drop_any}}, 1 << 20).size(), 2u);
  EXPECT_EQ(plan_statements({{"ws", drop_any}, {"ws", edge}}, 1 << 20).size(), 2u);
  // A delete of another type, or of other ends, commutes.
  GraphOperations other;
  other.delete_edges = {EdgeDelete{"a", "b", "U"}, EdgeDelete{"a", "c", ""}};
  EXPECT_EQ(plan_statements({{"ws", edge}, {"ws", other}}, 1 << 20).size(), 3u);  // three shapes
  EXPECT_EQ(queries(plan_statements({{"ws", edge}, {"ws", other}}, 1 << 20))[1].find("DELETE e") !=
                std::string::npos,
            true);

  // A node deleted after an edge to it was written; a node with two label sets.
  GraphOperations drop_a;
  drop_a.delete_nodes = {"a"};
  EXPECT_EQ(plan_statements({{"ws", edge}, {"ws", drop_a}}, 1 << 20).size(), 2u);
  GraphOperations p, q;
  p.upsert_nodes = {node("x", {"P"})};
  q.upsert_nodes = {node("x", {"Q"})};
  EXPECT_EQ(plan_statements({{"ws", p}, {"ws", q}}, 1 << 20).size(), 2u);
  // The same ids in other workspaces are other nodes.
  EXPECT_EQ(plan_statements({{"ws", write}, {"other", remove}}, 1 << 20).size(), 2u);
  EXPECT_EQ(plan_statements({{"ws", write}, {"ws", p}}, 1 << 20).size(), 2u);  // 2 shapes, 1 group
}

TEST(CypherPlan, DeletesComeAfterWritesWithinAGroupAndNodesLast) {
  GraphOperations ops;
  ops.delete_nodes = {"gone"};
  ops.delete_edges = {EdgeDelete{"a", "b", "T"}};
  GraphOperations later;
  later.upsert_nodes = {node("c")};
  const std::vector<std::string> q =
      queries(plan_statements({{"ws", ops}, {"ws", later}}, 1 << 20));
  ASSERT_EQ(q.size(), 3u);
  EXPECT_EQ(q[0], "UNWIND $rows AS r MERGE (n:`ws` {id: r.id}) SET n += r.props");
  EXPECT_EQ(q[1],
            "UNWIND $rows AS r MATCH (a:`ws` {id: r.s})-[e:`T`]->(b:`ws` {id: r.t}) DELETE e");
  EXPECT_EQ(q[2], "UNWIND $rows AS r MATCH (n:`ws` {id: r}) DETACH DELETE n");
}

TEST(CypherPlan, StatementsStayUnderTheByteCap) {
  GraphOperations ops;
  for (int i = 0; i < 200; ++i) {
    ops.upsert_nodes.push_back(node(i, {}, {{"text", std::string(40, 'x')}}));
  }
  const std::vector<Statement> plan = plan_statements({{"ws", ops}}, 1000);
  ASSERT_GT(plan.size(), 5u);
  size_t total = 0;
  for (const Statement& s : plan) {
    bolt::Bytes packed;
    ASSERT_TRUE(bolt::pack(*s.parameters.find("rows"), &packed).is_ok());
    EXPECT_LE(packed.size(), 1000u + 8);  // the list header on top of the rows
    total += rows(s);
  }
  EXPECT_EQ(total, 200u);
  // One row larger than the cap goes alone.
  GraphOperations big;
  big.upsert_nodes = {node(1, {}, {{"text", std::string(5000, 'y')}}), node(2)};
  EXPECT_EQ(plan_statements({{"ws", big}}, 1000).size(), 2u);
}

TEST(CypherPlan, JsonBecomesPackStream) {
  EXPECT_EQ(to_bolt(json(nullptr)), bolt::Value(nullptr));
  EXPECT_EQ(to_bolt(json(true)), bolt::Value(true));
  EXPECT_EQ(to_bolt(json(-3)), bolt::Value(int64_t{-3}));
  EXPECT_EQ(to_bolt(json(uint64_t{5})), bolt::Value(int64_t{5}));
  EXPECT_EQ(to_bolt(json(0.25)), bolt::Value(0.25));
  EXPECT_EQ(to_bolt(json("s")), bolt::Value("s"));
  EXPECT_EQ(to_bolt(json{1, 2}), bolt::Value(bolt::List{int64_t{1}, int64_t{2}}));
  EXPECT_EQ(to_bolt(json{{"k", "v"}}), bolt::Value(bolt::Dictionary{{"k", "v"}}));
  EXPECT_EQ(constraint_statement("ws"),
            "CREATE CONSTRAINT `vesta_ws_id` IF NOT EXISTS FOR (n:`ws`) REQUIRE n.id IS UNIQUE");
  EXPECT_EQ(index_statement("ws"), "CREATE INDEX FOR (n:`ws`) ON (n.id)");
}

}  // namespace
}  // namespace vesta::graph
