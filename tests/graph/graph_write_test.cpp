#include "graph/graph_write.h"

#include <gtest/gtest.h>

#include <limits>

#include "engine/outbox.h"

namespace vesta::graph {
namespace {

using nlohmann::json;

json node(const json& id, std::vector<float> vector = {1, 0, 0, 0}) {
  return {{"id", id}, {"vector", vector}};
}

core::Status upsert_error(const json& body, GraphLimits limits = {}) {
  return parse_upsert("ws", body, limits).status();
}

TEST(GraphWrite, AnUpsertBecomesPointsLocksChecksAndOperations) {
  const json body = {
      {"collection", "entities"},
      {"nodes",
       {{{"id", "Alice"},
         {"labels", {"Person", "Author", "Person"}},
         {"properties", {{"name", "Alice"}, {"age", 33}, {"gone", nullptr}}},
         {"vector", {1, 2, 3, 4}}},
        node(7)}},
      {"edges",
       {{{"source", "Alice"}, {"target", 7}, {"type", "KNOWS"}, {"properties", {{"w", 0.5}}}},
        {{"source", "Alice"}, {"target", "Bob"}, {"type", "LIKES"}}}}};
  core::Result<GraphWrite> parsed = parse_upsert("ws", body, {});
  ASSERT_TRUE(parsed.is_ok()) << parsed.status().to_string();
  const GraphWrite& w = parsed.value();
  EXPECT_EQ(w.collection, "entities");
  EXPECT_EQ(w.nodes, 2u);
  EXPECT_EQ(w.edges, 2u);
  const auto& points = std::get<index::UpsertPoints>(w.write.write).points;
  ASSERT_EQ(points.size(), 2u);
  EXPECT_EQ(points[0].id, core::PointId::string("Alice").value());
  EXPECT_EQ(points[0].vector, (std::vector<float>{1, 2, 3, 4}));
  // The payload: the properties without the nulls (removals), and the id.
  EXPECT_EQ(points[0].payload, (json{{"name", "Alice"}, {"age", 33}, {"vesta_node_id", "Alice"}}));
  EXPECT_EQ(points[1].id, core::PointId::number(7));
  // Locks on every node and edge end, sorted, once each.
  EXPECT_EQ(w.write.lock_ids, (std::vector<core::PointId>{core::PointId::number(7),
                                                          core::PointId::string("Alice").value(),
                                                          core::PointId::string("Bob").value()}));
  // Only the end that is not a node of the request must exist already.
  ASSERT_EQ(w.write.must_exist.size(), 1u);
  EXPECT_EQ(w.write.must_exist[0].id, core::PointId::string("Bob").value());
  EXPECT_NE(w.write.must_exist[0].missing.find("edges[1].target: node 'Bob'"), std::string::npos);
  // The operations: labels sorted and unique; the null kept (SET += removes).
  ASSERT_EQ(w.operations.upsert_nodes.size(), 2u);
  EXPECT_EQ(w.operations.upsert_nodes[0].labels, (std::vector<std::string>{"Author", "Person"}));
  EXPECT_TRUE(w.operations.upsert_nodes[0].properties["gone"].is_null());
  EXPECT_EQ(w.operations.upsert_edges[0].type, "KNOWS");
  // The attachment is the workspace, the count and the operations' text,
  // which reads back the same.
  core::Result<engine::OutboxItem> item = engine::decode_attachment(w.write.attachment);
  ASSERT_TRUE(item.is_ok());
  EXPECT_EQ(item.value().workspace, "ws");
  EXPECT_EQ(item.value().operations, 4u);
  core::Result<GraphOperations> back = GraphOperations::from_text(item.value().text);
  ASSERT_TRUE(back.is_ok()) << back.status().to_string();
  EXPECT_EQ(back.value().to_text(), w.operations.to_text());
}

TEST(GraphWrite, ADeleteNamesNodesAndEdgesWithOrWithoutAType) {
  const json body = {{"collection", "entities"},
                     {"nodes", {"Alice", 3}},
                     {"edges",
                      {{{"source", "Bob"}, {"target", "Carol"}},
                       {{"source", "Bob"}, {"target", "Dan"}, {"type", "KNOWS"}}}}};
  core::Result<GraphWrite> parsed = parse_delete("ws", body, {});
  ASSERT_TRUE(parsed.is_ok()) << parsed.status().to_string();
  const auto& ids = std::get<index::DeletePoints>(parsed.value().write.write).ids;
  EXPECT_EQ(ids, (std::vector<core::PointId>{core::PointId::string("Alice").value(),
                                             core::PointId::number(3)}));
  EXPECT_EQ(parsed.value().write.lock_ids.size(), 5u);
  EXPECT_TRUE(parsed.value().write.must_exist.empty());
  EXPECT_EQ(parsed.value().operations.delete_edges[0].type, "");
  EXPECT_EQ(parsed.value().operations.delete_edges[1].type, "KNOWS");
  EXPECT_EQ(parsed.value().operations.delete_nodes.size(), 2u);
}

TEST(GraphWrite, EveryBadInputIsRefusedNamingItsField) {
  struct Case {
    json body;
    core::StatusCode code;
    std::string names;
  };
  const json ok_node = node("a");
  const std::vector<Case> cases = {
      {json::array(), core::StatusCode::kInvalidArgument, "JSON object"},
      {{{"nodes", {ok_node}}}, core::StatusCode::kInvalidArgument, "collection"},
      {{{"collection", "c"}}, core::StatusCode::kInvalidArgument, "both empty"},
      {{{"collection", "c"}, {"nodes", {ok_node}}, {"node", 1}},
       core::StatusCode::kInvalidArgument,
       "unknown field 'node'"},
      {{{"collection", "c"}, {"nodes", "a"}}, core::StatusCode::kInvalidArgument, "nodes must"},
      {{{"collection", "c"}, {"nodes", {{{"vector", {1}}}}}},
       core::StatusCode::kInvalidArgument,
       "nodes[0].id is required"},
      {{{"collection", "c"}, {"nodes", {node(-1)}}},
       core::StatusCode::kInvalidArgument,
       "nodes[0].id must be a string or a non-negative integer"},
      {{{"collection", "c"}, {"nodes", {node("")}}},
       core::StatusCode::kInvalidArgument,
       "nodes[0].id must be 1..256 bytes"},
      {{{"collection", "c"}, {"nodes", {node(std::string(257, 'x'))}}},
       core::StatusCode::kInvalidArgument,
       "nodes[0].id must be 1..256 bytes"},
      {{{"collection", "c"}, {"nodes", {node(uint64_t{1} << 63)}}},
       core::StatusCode::kInvalidArgument,
       "2^63-1"},
      {{{"collection", "c"}, {"nodes", {{{"id", "a"}}}}},
       core::StatusCode::kInvalidArgument,
       "nodes[0].vector must be an array"},
      {{{"collection", "c"}, {"nodes", {{{"id", "a"}, {"vector", {1, "x"}}}}}},
       core::StatusCode::kInvalidArgument,
       "nodes[0].vector[1] must be a number"},
      {{{"collection", "c"}, {"nodes", {{{"id", "a"}, {"vector", {1}}, {"labels", {"a`b"}}}}}},
       core::StatusCode::kInvalidArgument,
       "nodes[0].labels[0] must not hold a backtick"},
      {{{"collection", "c"},
        {"nodes", {{{"id", "a"}, {"vector", {1}}, {"labels", {std::string(65, 'L')}}}}}},
       core::StatusCode::kInvalidArgument,
       "nodes[0].labels[0] must be 1..64 bytes"},
      {{{"collection", "c"},
        {"nodes", {{{"id", "a"}, {"vector", {1}}, {"properties", {{"meta", {{"x", 1}}}}}}}}},
       core::StatusCode::kUnprocessable,
       "nodes[0].properties.meta"},
      {{{"collection", "c"},
        {"nodes", {{{"id", "a"}, {"vector", {1}}, {"properties", {{"l", {1, "x"}}}}}}}},
       core::StatusCode::kUnprocessable,
       "nodes[0].properties.l[1]: a list property holds values of one type only"},
      {{{"collection", "c"},
        {"nodes", {{{"id", "a"}, {"vector", {1}}, {"properties", {{"l", {{1}}}}}}}}},
       core::StatusCode::kUnprocessable,
       "nodes[0].properties.l[0]"},
      {{{"collection", "c"}, {"edges", {{{"source", "a"}, {"target", "b"}}}}},
       core::StatusCode::kInvalidArgument,
       "edges[0].type must be a string"},
      {{{"collection", "c"}, {"edges", {{{"source", "a"}, {"type", "T"}}}}},
       core::StatusCode::kInvalidArgument,
       "edges[0].target is required"},
      {{{"collection", "c"},
        {"edges", {{{"source", "a"}, {"target", "b"}, {"type", "T"}, {"properties", 3}}}}},
       core::StatusCode::kInvalidArgument,
       "edges[0].properties must be an object"},
  };
  for (const Case& c : cases) {
    const core::Status status = upsert_error(c.body);
    EXPECT_EQ(status.code(), c.code) << c.body.dump() << ": " << status.to_string();
    EXPECT_NE(status.message().find(c.names), std::string::npos)
        << c.body.dump() << ": " << status.message();
  }
  EXPECT_EQ(parse_upsert("my-ws", {{"collection", "c"}, {"nodes", {ok_node}}}, {}).status().code(),
            core::StatusCode::kInvalidArgument);
  EXPECT_EQ(parse_upsert(std::string(64, 'w'), {{"collection", "c"}, {"nodes", {ok_node}}}, {})
                .status()
                .code(),
            core::StatusCode::kInvalidArgument);
  GraphLimits small;
  small.max_nodes = 1;
  small.max_edges = 1;
  EXPECT_EQ(upsert_error({{"collection", "c"}, {"nodes", {ok_node, ok_node}}}, small).code(),
            core::StatusCode::kPayloadTooLarge);
  const json edge = {{"source", "a"}, {"target", "a"}, {"type", "T"}};
  EXPECT_EQ(upsert_error({{"collection", "c"}, {"edges", {edge, edge}}}, small).code(),
            core::StatusCode::kPayloadTooLarge);
  EXPECT_EQ(
      parse_delete("ws", {{"collection", "c"}, {"nodes", {json::object()}}}, {}).status().code(),
      core::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      parse_delete("ws",
                   {{"collection", "c"}, {"edges", {{{"source", 1}, {"target", 2}, {"type", ""}}}}},
                   {})
          .status()
          .code(),
      core::StatusCode::kInvalidArgument);
}

TEST(GraphWrite, VectorsAreCheckedAgainstTheCollectionNamingTheNode) {
  core::Result<GraphWrite> w =
      parse_upsert("ws", {{"collection", "c"}, {"nodes", {node("a"), node("b", {1, 2})}}}, {});
  ASSERT_TRUE(w.is_ok());
  const core::Status status = check_vectors(w.value(), 4);
  EXPECT_EQ(status.code(), core::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("nodes[1].vector has 2 values, expected 4"), std::string::npos);
  EXPECT_TRUE(check_vectors(w.value(), 2).code() == core::StatusCode::kInvalidArgument);
  core::Result<GraphWrite> huge = parse_upsert(
      "ws",
      {{"collection", "c"}, {"nodes", {node("a", {1, std::numeric_limits<float>::infinity()})}}},
      {});
  ASSERT_TRUE(huge.is_ok());
  EXPECT_NE(check_vectors(huge.value(), 2).message().find("nodes[0].vector[1]"), std::string::npos);
  core::Result<GraphWrite> fine =
      parse_upsert("ws", {{"collection", "c"}, {"nodes", {node("a")}}}, {});
  EXPECT_TRUE(check_vectors(fine.value(), 4).is_ok());
}

TEST(GraphWrite, DamagedOperationsTextIsAnError) {
  EXPECT_FALSE(GraphOperations::from_text("not json").is_ok());
  EXPECT_FALSE(GraphOperations::from_text(R"({"un": [{"id": 1}]})").is_ok());
  EXPECT_FALSE(GraphOperations::from_text(R"({"ue": 3})").is_ok());
  EXPECT_TRUE(GraphOperations::from_text("{}").is_ok());
}

}  // namespace
}  // namespace vesta::graph
