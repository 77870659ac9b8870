// The Bolt client against a real graph database: FalkorDB (the graph test
// peer, scripts/graph-test-peer.sh; $VESTA_TEST_BOLT_URL), and the official
// neo4j Python driver reading what the client wrote and writing what it
// reads ($VESTA_TEST_GRAPH_PYTHON). Skipped, saying why, without them.
// docs/graph.md ("The graph test peer") lists what FalkorDB accepts; where it
// differs from Neo4j these tests check what it can.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "persistence/bolt/client.h"
#include "persistence/bolt/connection.h"

namespace vesta::bolt {
namespace {

using namespace std::chrono_literals;

std::optional<std::string> env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

#define VESTA_SKIP_WITHOUT_GRAPH_PEER()                                                       \
  do {                                                                                        \
    if (!env("VESTA_TEST_BOLT_URL")) {                                                        \
      GTEST_SKIP() << "needs the graph test peer: VESTA_TEST_BOLT_URL is not set "            \
                      "(scripts/test.sh starts FalkorDB with scripts/graph-test-peer.sh and " \
                      "sets it)";                                                             \
    }                                                                                         \
  } while (false)

ConnectionOptions peer_options() {
  ConnectionOptions options;
  options.uri = env("VESTA_TEST_BOLT_URL").value_or("");
  options.connect_timeout = 10s;
  options.read_timeout = 30s;
  // FalkorDB 4.16 leaves the next connection's handshake unanswered after a
  // GOODBYE (docs/graph.md).
  options.send_goodbye = false;
  return options;
}

// A label no other test or run uses: the peer's graph is shared.
std::string unique_label(const std::string& stem) {
  static std::atomic<int> counter{0};
  static const unsigned kRandom = std::random_device{}() % 1000000;
  return "Vesta" + stem + "_" + std::to_string(::getpid()) + "_" + std::to_string(kRandom) + "_" +
         std::to_string(counter++);
}

std::unique_ptr<Connection> open_peer(ConnectionOptions options = peer_options()) {
  core::Result<std::unique_ptr<Connection>> connection = Connection::open(options);
  EXPECT_TRUE(connection.is_ok()) << connection.status().to_string();
  return connection.is_ok() ? std::move(connection).value() : nullptr;
}

QueryResult run_ok(Connection& connection, const std::string& query, const Dictionary& params = {},
                   const RunOptions& options = {}) {
  core::Result<QueryResult> result = connection.run(query, params, options);
  EXPECT_TRUE(result.is_ok()) << query.substr(0, 200) << ": "
                              << result.status().to_string().substr(0, 300);
  return result.is_ok() ? std::move(result).value() : QueryResult{};
}

std::int64_t count_of(Connection& connection, const std::string& query) {
  QueryResult result = run_ok(connection, query);
  if (result.records.size() != 1 || result.records[0].size() != 1) return -1;
  const std::int64_t* count = result.records[0][0].get_if<std::int64_t>();
  return count != nullptr ? *count : -1;
}

// The rows the dispatcher will send: UNWIND $rows AS r MERGE ... SET n += r.props.
// (A dozen at most per query here: FalkorDB crashes when a query and its
// parameters, as Cypher text, pass about 4 KB.)
List node_rows(int n, int offset = 0) {
  List rows;
  for (int i = offset; i < offset + n; ++i) {
    List embedding;
    for (int d = 0; d < 8; ++d) embedding.emplace_back(0.125 * (i + d));
    rows.emplace_back(Dictionary{{"id", "n" + std::to_string(i)},
                                 {"props", Dictionary{{"name", "entity " + std::to_string(i)},
                                                      {"rank", i},
                                                      {"weight", i * 0.5},
                                                      {"seen", i % 2 == 0},
                                                      {"embedding", embedding}}}});
  }
  return rows;
}

std::string upsert_nodes(const std::string& label) {
  return "UNWIND $rows AS r MERGE (n:`" + label + "` {id: r.id}) SET n += r.props";
}
std::string upsert_edges(const std::string& label) {
  return "UNWIND $rows AS r MATCH (a:`" + label + "` {id: r.source}) MATCH (b:`" + label +
         "` {id: r.target}) MERGE (a)-[e:RELATED]->(b) SET e += r.props";
}

TEST(FalkorDb, NegotiatesBolt54AndNamesItself) {
  VESTA_SKIP_WITHOUT_GRAPH_PEER();
  auto connection = open_peer();
  ASSERT_TRUE(connection);
  EXPECT_EQ(connection->version(), (BoltVersion{5, 4}));
  const Value* server = connection->server_metadata().find("server");
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(server->to_string(), "\"Neo4j/5.13.0\"") << "FalkorDB presents itself as Neo4j";
}

// FalkorDB takes the schemes none and bearer (any token) and refuses basic
// when Redis has no password set (docs/graph.md).
TEST(FalkorDb, AcceptsNoAuthAndBearerAndRefusesBasicWithoutAPassword) {
  VESTA_SKIP_WITHOUT_GRAPH_PEER();
  for (const AuthToken& accepted : {AuthToken::none(), AuthToken::bearer("any-token")}) {
    ConnectionOptions options = peer_options();
    options.auth = accepted;
    auto connection = open_peer(options);
    ASSERT_TRUE(connection) << accepted.scheme;
    EXPECT_EQ(count_of(*connection, "RETURN 1"), 1);
  }
  ConnectionOptions options = peer_options();
  options.auth = AuthToken::basic("falkordb", "");
  core::Result<std::unique_ptr<Connection>> refused = Connection::open(options);
  ASSERT_FALSE(refused.is_ok());
  EXPECT_NE(
      refused.status().message().find("refused LOGON: FalkorDB.ClientError.Security.Unauthorized"),
      std::string::npos)
      << refused.status().message();
  EXPECT_EQ(refused.status().code(), core::StatusCode::kInvalidArgument);
  EXPECT_FALSE(is_transient(refused.status()));
}

TEST(FalkorDb, WritesNodesAndRelationshipsAndReadsThemBack) {
  VESTA_SKIP_WITHOUT_GRAPH_PEER();
  const std::string label = unique_label("Write");
  auto connection = open_peer();
  ASSERT_TRUE(connection);
  ASSERT_TRUE(connection->begin().is_ok());
  run_ok(*connection, upsert_nodes(label), {{"rows", node_rows(12)}});
  List edges;
  for (int i = 0; i + 1 < 12; ++i) {
    edges.emplace_back(Dictionary{{"source", "n" + std::to_string(i)},
                                  {"target", "n" + std::to_string(i + 1)},
                                  {"props", Dictionary{{"strength", i}}}});
  }
  QueryResult written = run_ok(*connection, upsert_edges(label), {{"rows", edges}});
  ASSERT_TRUE(connection->commit().is_ok());
  EXPECT_TRUE(written.summary.contains("stats") || !written.summary.empty());

  EXPECT_EQ(count_of(*connection, "MATCH (n:`" + label + "`) RETURN count(n)"), 12);
  EXPECT_EQ(count_of(*connection, "MATCH (:`" + label + "`)-[e:RELATED]->() RETURN count(e)"), 11);
  QueryResult node = run_ok(*connection, "MATCH (n:`" + label +
                                             "` {id: 'n3'}) RETURN n.name, n.rank, n.weight, "
                                             "n.seen, n.embedding, n");
  ASSERT_EQ(node.records.size(), 1u);
  const List& row = node.records[0];
  EXPECT_EQ(row[0], Value("entity 3"));
  EXPECT_EQ(row[1], Value(3));
  EXPECT_EQ(row[2], Value(1.5));
  EXPECT_EQ(row[3], Value(false));
  ASSERT_TRUE(row[4].is<List>());
  EXPECT_EQ(row[4].as<List>().size(), 8u);
  EXPECT_EQ(row[4].as<List>()[1], Value(0.5));
  // A node comes back as a Node structure (tag 0x4E): id, labels,
  // properties and, in Bolt 5, element_id.
  ASSERT_TRUE(row[5].is<Structure>());
  const Structure& n = row[5].as<Structure>();
  EXPECT_EQ(n.tag, 0x4E);
  ASSERT_GE(n.fields.size(), 3u);
  EXPECT_EQ(n.fields[1], Value(List{label}));
  ASSERT_TRUE(n.fields[2].is<Dictionary>());
  EXPECT_EQ(*n.fields[2].as<Dictionary>().find("name"), Value("entity 3"));

  QueryResult edge =
      run_ok(*connection, "MATCH (:`" + label + "` {id: 'n4'})-[e]->(b) RETURN e, b.id");
  ASSERT_EQ(edge.records.size(), 1u);
  ASSERT_TRUE(edge.records[0][0].is<Structure>());
  EXPECT_EQ(edge.records[0][0].as<Structure>().tag, 0x52) << "a Relationship structure";
  EXPECT_EQ(edge.records[0][1], Value("n5"));
}

TEST(FalkorDb, MergeUpsertsAreIdempotent) {
  VESTA_SKIP_WITHOUT_GRAPH_PEER();
  const std::string label = unique_label("Merge");
  Client client(peer_options());
  for (int round = 0; round < 3; ++round) {
    core::Status status = client.execute_in_transaction([&](Transaction& tx) {
      VESTA_RETURN_IF_ERROR(tx.run(upsert_nodes(label), {{"rows", node_rows(10)}}).status());
      List edges{
          Dictionary{{"source", "n1"}, {"target", "n2"}, {"props", Dictionary{{"r", round}}}}};
      return tx.run(upsert_edges(label), {{"rows", edges}}).status();
    });
    ASSERT_TRUE(status.is_ok()) << status.to_string();
  }
  core::Result<QueryResult> counts =
      client.run("MATCH (n:`" + label +
                 "`) OPTIONAL MATCH (n)-[e:RELATED]->() RETURN count(DISTINCT n), "
                 "count(e), max(e.r)");
  ASSERT_TRUE(counts.is_ok()) << counts.status().to_string();
  EXPECT_EQ(counts.value().records.at(0), (List{10, 1, 2}));
}

// FalkorDB's FAILURE carries its own code ("SyntaxError", not a Neo4j code;
// the official driver shows it as Neo.DatabaseError.General.UnknownError) and
// sends the IGNORED of the pipelined PULL only after the client's RESET
// (docs/graph.md). The client sends RESET at once, reads both, and goes on.
TEST(FalkorDb, AFailedQueryLeavesTheConnectionUsable) {
  VESTA_SKIP_WITHOUT_GRAPH_PEER();
  auto connection = open_peer();
  ASSERT_TRUE(connection);
  ASSERT_TRUE(connection->begin().is_ok());
  core::Result<QueryResult> failed = connection->run("RETRUN 1");
  ASSERT_FALSE(failed.is_ok());
  EXPECT_EQ(connection->last_failure().code, "SyntaxError");
  EXPECT_NE(connection->last_failure().message.find("Invalid input"), std::string::npos);
  EXPECT_EQ(failed.status().code(), core::StatusCode::kInternal) << "permanent";
  EXPECT_FALSE(is_transient(failed.status()));
  EXPECT_FALSE(connection->is_broken());
  EXPECT_FALSE(connection->in_transaction());
  EXPECT_EQ(count_of(*connection, "RETURN 41 + 1"), 42);
  ASSERT_TRUE(connection->begin().is_ok());
  EXPECT_EQ(count_of(*connection, "RETURN 2"), 2);
  EXPECT_TRUE(connection->commit().is_ok());
}

TEST(FalkorDb, ExplicitTransactionsCommitAndRollBackWithoutErrors) {
  VESTA_SKIP_WITHOUT_GRAPH_PEER();
  const std::string label = unique_label("Tx");
  auto connection = open_peer();
  ASSERT_TRUE(connection);
  ASSERT_TRUE(connection->begin().is_ok());
  run_ok(*connection, "CREATE (:`" + label + "` {id: 1})");
  ASSERT_TRUE(connection->commit().is_ok());
  ASSERT_TRUE(connection->begin().is_ok());
  run_ok(*connection, "CREATE (:`" + label + "` {id: 2})");
  ASSERT_TRUE(connection->rollback().is_ok());
  // FalkorDB applies each RUN at once: ROLLBACK undoes nothing (Neo4j would
  // count 1). Written down here so that a FalkorDB that changes shows up.
  EXPECT_EQ(count_of(*connection, "MATCH (n:`" + label + "`) RETURN count(n)"), 2);
}

TEST(FalkorDb, PullsLargeResultsInBatches) {
  VESTA_SKIP_WITHOUT_GRAPH_PEER();
  auto connection = open_peer();
  ASSERT_TRUE(connection);
  for (std::int64_t fetch_size : {std::int64_t{-1}, std::int64_t{100}, std::int64_t{7}}) {
    RunOptions options;
    options.fetch_size = fetch_size;
    QueryResult result = run_ok(*connection, "UNWIND range(1, 1000) AS i RETURN i", {}, options);
    ASSERT_EQ(result.records.size(), 1000u) << fetch_size;
    EXPECT_EQ(result.records[999], (List{1000}));
  }
}

// A record of 20,000 integers (about 60 KB) and one of 3,000 strings. Both
// stay under one chunk: FalkorDB 4.16 never sends a message over 65,535
// bytes. Requests stay small: it drops a request that does not arrive in one
// read, and crashes once a query with parameters, written out as Cypher
// text, passes about 4 KB (docs/graph.md).
TEST(FalkorDb, LargeResultsArriveWhole) {
  VESTA_SKIP_WITHOUT_GRAPH_PEER();
  auto connection = open_peer();
  ASSERT_TRUE(connection);
  QueryResult result = run_ok(*connection, "RETURN range(1, 20000) AS numbers");
  ASSERT_EQ(result.records.size(), 1u);
  ASSERT_TRUE(result.records[0][0].is<List>());
  const List& numbers = result.records[0][0].as<List>();
  ASSERT_EQ(numbers.size(), 20000u);
  EXPECT_EQ(numbers.front(), Value(1));
  EXPECT_EQ(numbers.back(), Value(20000));
  result = run_ok(*connection,
                  "UNWIND range(1, 3000) AS i WITH collect('item number ' + toString(i)) AS l "
                  "RETURN l");
  ASSERT_EQ(result.records.size(), 1u);
  ASSERT_EQ(result.records[0][0].as<List>().size(), 3000u);
  EXPECT_EQ(result.records[0][0].as<List>()[2999], Value("item number 3000"));
}

// A message over 65,535 bytes must be split into chunks, and FalkorDB 4.16
// never answers one (docs/graph.md): it either stays silent (the client's
// read timeout ends the wait) or closes the connection, depending on how
// the bytes arrive. Either way the request fails as transient, the
// connection is dropped, and the server keeps serving the others.
TEST(FalkorDb, AMessageOverOneChunkTimesOutAndBreaksOnlyItsConnection) {
  VESTA_SKIP_WITHOUT_GRAPH_PEER();
  ConnectionOptions options = peer_options();
  options.read_timeout = 1500ms;
  auto connection = open_peer(options);
  ASSERT_TRUE(connection);
  core::Result<QueryResult> result =
      connection->run("RETURN '" + std::string(70 * 1000, 'x') + "' AS big");
  ASSERT_FALSE(result.is_ok());
  EXPECT_TRUE(is_transient(result.status())) << result.status().to_string();
  EXPECT_TRUE(connection->is_broken());
  auto other = open_peer();
  ASSERT_TRUE(other);
  EXPECT_EQ(count_of(*other, "RETURN 5"), 5);
}

TEST(FalkorDb, CreatesAnIndexButNotAConstraint) {
  VESTA_SKIP_WITHOUT_GRAPH_PEER();
  const std::string label = unique_label("Index");
  auto connection = open_peer();
  ASSERT_TRUE(connection);
  run_ok(*connection, "CREATE (:`" + label + "` {id: 'x'})");
  run_ok(*connection, "CREATE INDEX FOR (n:`" + label + "`) ON (n.id)");
  core::Result<QueryResult> constraint =
      connection->run("CREATE CONSTRAINT FOR (n:`" + label + "`) REQUIRE n.id IS UNIQUE");
  EXPECT_FALSE(constraint.is_ok()) << "FalkorDB has no Cypher constraint DDL (docs/graph.md)";
  EXPECT_FALSE(connection->is_broken());
  QueryResult indexes = run_ok(*connection, "CALL db.indexes() YIELD label RETURN label");
  bool found = false;
  for (const List& row : indexes.records) found |= row.at(0) == Value(label);
  EXPECT_TRUE(found);
}

// Several threads share one Client (pool of 3): every upsert lands once.
TEST(FalkorDb, ConcurrentTransactionsThroughThePool) {
  VESTA_SKIP_WITHOUT_GRAPH_PEER();
  const std::string label = unique_label("Pool");
  PoolOptions pool;
  pool.max_size = 3;
  Client client(peer_options(), pool);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        core::Status status = client.execute_in_transaction([&](Transaction& tx) {
          return tx.run(upsert_nodes(label), {{"rows", node_rows(5, t * 50 + i * 5)}}).status();
        });
        if (!status.is_ok()) ++failures;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  core::Result<QueryResult> count = client.run("MATCH (n:`" + label + "`) RETURN count(n)");
  ASSERT_TRUE(count.is_ok());
  EXPECT_EQ(count.value().records.at(0), (List{300}));
  EXPECT_LE(client.pool().stats().opened, 3u);
}

// --- the official driver ---------------------------------------------------

std::optional<std::string> driver_python() { return env("VESTA_TEST_GRAPH_PYTHON"); }

// Runs the driver side (tests/graph/neo4j_driver_interop.py); its stdout.
std::string run_driver(const std::string& command, const std::string& label) {
  const std::string line = *driver_python() + " " + VESTA_TESTS_DIR +
                           "/graph/neo4j_driver_interop.py " + command + " " +
                           *env("VESTA_TEST_BOLT_URL") + " " + label;
  std::FILE* pipe = ::popen(line.c_str(), "r");
  EXPECT_NE(pipe, nullptr) << line;
  if (pipe == nullptr) return "";
  std::string out;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
  EXPECT_EQ(::pclose(pipe), 0) << line << " printed: " << out;
  return out;
}

#define VESTA_SKIP_WITHOUT_DRIVER()                                                      \
  do {                                                                                   \
    VESTA_SKIP_WITHOUT_GRAPH_PEER();                                                     \
    if (!driver_python()) {                                                              \
      GTEST_SKIP() << "needs the official neo4j driver: VESTA_TEST_GRAPH_PYTHON is not " \
                      "set (scripts/test.sh sets it to tests/graph/.venv's python)";     \
    }                                                                                    \
  } while (false)

TEST(FalkorDb, TheOfficialDriverReadsWhatTheClientWrote) {
  VESTA_SKIP_WITHOUT_DRIVER();
  const std::string label = unique_label("ToDriver");
  Client client(peer_options());
  core::Status status = client.execute_in_transaction([&](Transaction& tx) {
    List rows{Dictionary{{"id", "c-1"},
                         {"props", Dictionary{{"name", "Grace"},
                                              {"year", 1906},
                                              {"big", std::int64_t{1} << 50},
                                              {"ratio", -2.5},
                                              {"flag", true},
                                              {"vector", List{0.25, 0.5, -8.0}},
                                              {"words", List{"x", "ÿ"}}}}},
              Dictionary{{"id", "c-2"}, {"props", Dictionary{{"name", "Straße ☃"}}}}};
    VESTA_RETURN_IF_ERROR(tx.run(upsert_nodes(label), {{"rows", rows}}).status());
    List edges{Dictionary{{"source", "c-1"}, {"target", "c-2"}, {"props", Dictionary{{"w", 0.5}}}}};
    return tx.run(upsert_edges(label), {{"rows", edges}}).status();
  });
  ASSERT_TRUE(status.is_ok()) << status.to_string();

  const nlohmann::json read = nlohmann::json::parse(run_driver("read", label));
  const nlohmann::json expected = nlohmann::json::parse(R"({
    "nodes": [
      {"id": "c-1", "labels": ["LABEL"], "props": {"id": "c-1", "name": "Grace", "year": 1906,
       "big": 1125899906842624, "ratio": -2.5, "flag": true, "vector": [0.25, 0.5, -8.0],
       "words": ["x", "ÿ"]}},
      {"id": "c-2", "labels": ["LABEL"], "props": {"id": "c-2", "name": "Straße ☃"}}],
    "edges": [{"source": "c-1", "target": "c-2", "type": "RELATED", "props": {"w": 0.5}}]
  })");
  std::string expected_text = expected.dump();
  for (size_t at; (at = expected_text.find("LABEL")) != std::string::npos;) {
    expected_text.replace(at, 5, label);
  }
  EXPECT_EQ(read, nlohmann::json::parse(expected_text));
}

TEST(FalkorDb, TheClientReadsWhatTheOfficialDriverWrote) {
  VESTA_SKIP_WITHOUT_DRIVER();
  const std::string label = unique_label("FromDriver");
  run_driver("write", label);
  auto connection = open_peer();
  ASSERT_TRUE(connection);
  QueryResult nodes =
      run_ok(*connection, "MATCH (n:`" + label + "`) RETURN n.id, properties(n) ORDER BY n.id");
  ASSERT_EQ(nodes.records.size(), 3u);
  const Dictionary& ada = nodes.records[0][1].as<Dictionary>();
  EXPECT_EQ(*ada.find("name"), Value("Ada"));
  EXPECT_EQ(*ada.find("age"), Value(36));
  EXPECT_EQ(*ada.find("big"), Value(std::int64_t{1} << 40));
  EXPECT_EQ(*ada.find("score"), Value(0.25));
  EXPECT_EQ(*ada.find("active"), Value(true));
  EXPECT_EQ(*ada.find("tags"), Value(List{"a", "b"}));
  EXPECT_EQ(*ada.find("embedding"), Value(List{0.5, -1.25, 3.0}));
  EXPECT_EQ(*nodes.records[1][1].as<Dictionary>().find("name"), Value("Grüße ☃"));
  EXPECT_EQ(*nodes.records[1][1].as<Dictionary>().find("age"), Value(-7));
  QueryResult edges = run_ok(*connection, "MATCH (a:`" + label +
                                              "`)-[e:KNOWS]->(b) RETURN a.id, "
                                              "b.id, e.weight, e.since ORDER BY a.id");
  ASSERT_EQ(edges.records.size(), 2u);
  EXPECT_EQ(edges.records[0], (List{"py-1", "py-2", 0.75, 1843}));
  EXPECT_EQ(edges.records[1], (List{"py-2", "py-3", nullptr, nullptr}));
}

}  // namespace
}  // namespace vesta::bolt
