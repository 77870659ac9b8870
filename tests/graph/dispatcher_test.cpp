// The dispatcher against a real Bolt server: the graph test peer (FalkorDB,
// scripts/graph-test-peer.sh; $VESTA_TEST_BOLT_URL). Without it the
// GraphDelivery tests skip, saying why; GraphDispatcher tests need no peer.
#include "graph/dispatcher.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <thread>

#include "core/thread_pool.h"
#include "graph/graph_write.h"
#include "index/cpu_searcher.h"
#include "persistence/file_store.h"

namespace vesta::graph {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;

std::optional<std::string> env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

#define VESTA_SKIP_WITHOUT_GRAPH_PEER()                                                          \
  do {                                                                                           \
    if (!env("VESTA_TEST_BOLT_URL")) {                                                           \
      GTEST_SKIP() << "needs the graph test peer: VESTA_TEST_BOLT_URL is not set (run "          \
                      "scripts/test.sh, which starts FalkorDB with scripts/graph-test-peer.sh)"; \
    }                                                                                            \
  } while (0)

bolt::ConnectionOptions connection(const std::string& uri) {
  bolt::ConnectionOptions options;
  options.uri = uri;
  options.connect_timeout = 5s;
  options.read_timeout = 20s;
  options.send_goodbye = false;  // FalkorDB 4.16: see docs/graph.md
  return options;
}

std::string unique_workspace(const std::string& name) {
  std::random_device random;
  return name + "_" + std::to_string(::getpid()) + "_" + std::to_string(random() % 100000);
}

// A durable engine in a temporary data directory with collection "ent"
// (4 dimensions), and a dispatcher to `uri`.
class GraphFixture {
 public:
  explicit GraphFixture(const std::string& uri) {
    files_.dir = fs::temp_directory_path() / ("vesta-graph-" + std::to_string(::getpid()) + "-" +
                                              std::to_string(std::random_device{}() % 1000000));
    fs::remove_all(files_.dir);
    options_.connection = connection(uri);
    options_.statement_bytes = 3000;  // FalkorDB crashes on larger parameters
    options_.batch_operations = 40;
    options_.backoff_min = 10ms;
    options_.backoff_max = 200ms;
    reopen(true);
  }
  ~GraphFixture() {
    dispatcher_.reset();
    engine_.reset();
    store_.reset();
    fs::remove_all(files_.dir);
  }

  // A restart: everything in memory rebuilt from the data directory.
  void reopen(bool create = false) {
    dispatcher_.reset();
    engine_.reset();
    store_.reset();
    store_ = persistence::FileStore::open(files_).value();
    engine_ = engine::Engine::open(*store_, locks_, searcher_, {}, {}).value();
    if (create) {
      ASSERT_TRUE(engine_->registry().create({"ent", 4, index::Metric::kCosine}).is_ok());
    }
    dispatcher_ = std::make_unique<Dispatcher>(*engine_, options_);
  }
  engine::Engine& engine() { return *engine_; }
  Dispatcher& dispatcher() { return *dispatcher_; }
  index::Collection& collection() { return *engine_->registry().get("ent").value(); }

  uint64_t upsert(const std::string& ws, const std::vector<json>& nodes,
                  const std::vector<json>& edges = {}) {
    core::Result<GraphWrite> w = parse_upsert(
        ws, {{"collection", "ent"}, {"nodes", json(nodes)}, {"edges", json(edges)}}, {});
    EXPECT_TRUE(w.is_ok()) << w.status().to_string();
    core::Result<uint64_t> seq = collection().write_attached(std::move(w.value().write));
    EXPECT_TRUE(seq.is_ok()) << seq.status().to_string();
    return seq.is_ok() ? seq.value() : 0;
  }
  uint64_t remove(const std::string& ws, const std::vector<json>& nodes,
                  const std::vector<json>& edges = {}) {
    core::Result<GraphWrite> w = parse_delete(
        ws, {{"collection", "ent"}, {"nodes", json(nodes)}, {"edges", json(edges)}}, {});
    EXPECT_TRUE(w.is_ok()) << w.status().to_string();
    core::Result<uint64_t> seq = collection().write_attached(std::move(w.value().write));
    EXPECT_TRUE(seq.is_ok()) << seq.status().to_string();
    return seq.is_ok() ? seq.value() : 0;
  }
  // Operations that pass no request check: what a graph database refuses.
  uint64_t raw(const std::string& ws, const GraphOperations& ops) {
    index::Collection::AttachedWrite w;
    w.write = index::UpsertPoints{};
    w.lock_ids = {core::PointId::string("raw").value()};
    w.attachment =
        engine::encode_attachment({ws, static_cast<uint32_t>(ops.count()), ops.to_text()});
    core::Result<uint64_t> seq = collection().write_attached(std::move(w));
    EXPECT_TRUE(seq.is_ok()) << seq.status().to_string();
    return seq.is_ok() ? seq.value() : 0;
  }

 private:
  persistence::FileStoreOptions files_;
  DispatcherOptions options_;
  core::ThreadPool pool_{2};
  core::LockManager locks_;
  index::CpuSearcher searcher_{pool_};
  std::unique_ptr<persistence::Store> store_;
  std::unique_ptr<engine::Engine> engine_;
  std::unique_ptr<Dispatcher> dispatcher_;
};

json node(const json& id, const json& props = json::object(), json labels = json::array()) {
  const float x = static_cast<float>(std::hash<std::string>{}(id.dump()) % 100) + 1;
  return {{"id", id}, {"vector", {x, 1, 2, 3}}, {"properties", props}, {"labels", labels}};
}

// Rows of a read query, each a list of values rendered as text.
std::vector<std::string> read(const std::string& query) {
  bolt::Client client(connection(*env("VESTA_TEST_BOLT_URL")));
  core::Result<bolt::QueryResult> result = client.run(query);
  EXPECT_TRUE(result.is_ok()) << query << ": " << result.status().to_string();
  std::vector<std::string> out;
  if (!result.is_ok()) return out;
  for (const bolt::List& record : result.value().records) {
    std::string row;
    for (const bolt::Value& v : record) row += (row.empty() ? "" : " ") + v.to_string();
    out.push_back(row);
  }
  return out;
}

TEST(GraphDelivery, DeliversUpsertsAndDeletesAsTheyWereAcknowledged) {
  VESTA_SKIP_WITHOUT_GRAPH_PEER();
  GraphFixture f(*env("VESTA_TEST_BOLT_URL"));
  const std::string ws = unique_workspace("deliver");
  // 20 requests of 5 nodes (a chain of edges within each, one to the
  // previous request's first node), before the dispatcher starts, so that
  // batches hold several requests.
  // One node written twice in one batch: the later properties win (FalkorDB
  // applies two UNWIND rows of one node first-row-wins, so they are merged).
  f.upsert(ws, {node(500, {{"v", 1}, {"w", 1}})});
  f.upsert(ws, {node(500, {{"v", 2}})});
  uint64_t last = 0;
  for (int r = 0; r < 20; ++r) {
    std::vector<json> nodes, edges;
    for (int i = 0; i < 5; ++i) {
      const int id = r * 5 + i;
      nodes.push_back(node(id, {{"v", id}, {"name", "n" + std::to_string(id)}},
                           json::array({i == 0 ? "Head" : "Member"})));
      if (i > 0) edges.push_back({{"source", id - 1}, {"target", id}, {"type", "NEXT"}});
    }
    if (r > 0) edges.push_back({{"source", r * 5}, {"target", (r - 1) * 5}, {"type", "PREV"}});
    last = f.upsert(ws, nodes, edges);
  }
  // Re-upserts change properties (and remove one), then deletes: node 7
  // (with its edges), edge 10->11, and every edge 0->... of any type.
  f.upsert(ws, {node(3, {{"v", 300}, {"name", nullptr}}, json::array({"Member"}))});
  f.remove(ws, {7},
           {{{"source", 10}, {"target", 11}, {"type", "NEXT"}}, {{"source", 0}, {"target", 1}}});
  last = f.upsert(ws, {node(7, {{"v", 700}}, json::array({"Reborn"}))});
  f.dispatcher().start();
  std::string error;
  ASSERT_EQ(f.engine().outbox().wait_delivered(last, 60s, &error), engine::Delivery::kDelivered)
      << f.dispatcher().state().last_error.value_or("");
  EXPECT_EQ(f.engine().outbox().status(ws).pending_records, 0u);
  EXPECT_GE(f.dispatcher().state().transactions, 2u);  // batches of at most 40 operations
  EXPECT_TRUE(f.dispatcher().state().connected);

  EXPECT_EQ(read("MATCH (n:`" + ws + "`) RETURN count(n)"), std::vector<std::string>{"101"});
  EXPECT_EQ(read("MATCH (n:`" + ws + "` {id: 500}) RETURN n.v, n.w"),
            std::vector<std::string>{"2 1"});
  EXPECT_EQ(read("MATCH (n:`" + ws + "`) WITH n.id AS id, count(*) AS c WHERE c > 1 RETURN id"),
            std::vector<std::string>{});
  EXPECT_EQ(read("MATCH (n:`" + ws + "` {id: 3}) RETURN n.v, n.name"),
            std::vector<std::string>{"300 null"});
  EXPECT_EQ(read("MATCH (n:`" + ws + "` {id: 12}) RETURN n.v, n.name, n:Member"),
            std::vector<std::string>{"12 \"n12\" true"});
  // 7 came back as a new node: new properties, and its old edges are gone.
  EXPECT_EQ(read("MATCH (n:`" + ws + "` {id: 7}) RETURN n.v, n.name, n:Reborn"),
            std::vector<std::string>{"700 null true"});
  EXPECT_EQ(read("MATCH (:`" + ws + "` {id: 7})-[e]-() RETURN count(e)"),
            std::vector<std::string>{"0"});
  // 20 x 4 NEXT, less 6->7, 7->8, 10->11, 0->1; 19 PREV.
  EXPECT_EQ(read("MATCH (:`" + ws + "`)-[e:NEXT]->() RETURN count(e)"),
            std::vector<std::string>{"76"});
  EXPECT_EQ(read("MATCH (:`" + ws + "`)-[e:PREV]->() RETURN count(e)"),
            std::vector<std::string>{"19"});
  EXPECT_EQ(read("MATCH (a:`" + ws + "` {id: 5})-[e:PREV]->(b) RETURN b.id"),
            std::vector<std::string>{"0"});
  // The vectors are the collection's points, with the properties as payload.
  std::optional<index::StoredPoint> p = f.collection().get(core::PointId::number(3)).value();
  ASSERT_TRUE(p);
  EXPECT_EQ(p->payload, (json{{"v", 300}, {"vesta_node_id", 3}}));
  EXPECT_FALSE(f.collection().get(core::PointId::number(999)).value());
}

TEST(GraphDelivery, ARefusedEntryBecomesADeadLetterAndTheRestIsDelivered) {
  VESTA_SKIP_WITHOUT_GRAPH_PEER();
  GraphFixture f(*env("VESTA_TEST_BOLT_URL"));
  const std::string ws = unique_workspace("dead");
  f.upsert(ws, {node("a")});
  // A map property: the request checks refuse it, a graph database too.
  GraphOperations refused;
  refused.upsert_nodes = {NodeUpsert{"b", {}, {{"map", {{"x", 1}}}}}};
  const uint64_t bad = f.raw(ws, refused);
  const uint64_t good = f.upsert(ws, {node("c")});
  f.dispatcher().start();
  std::string error;
  EXPECT_EQ(f.engine().outbox().wait_delivered(good, 60s, &error), engine::Delivery::kDelivered);
  EXPECT_EQ(f.engine().outbox().wait_delivered(bad, 1s, &error), engine::Delivery::kDead);
  EXPECT_FALSE(error.empty());
  ASSERT_EQ(f.engine().outbox().dead_letters().size(), 1u);
  EXPECT_EQ(f.engine().outbox().dead_letters()[0].sequence, bad);
  EXPECT_EQ(f.engine().outbox().status(ws).dead_letters, 1u);
  EXPECT_EQ(read("MATCH (n:`" + ws + "`) RETURN n.id ORDER BY n.id"),
            (std::vector<std::string>{"\"a\"", "\"c\""}));

  // Dead letters survive a restart, and hold the log they need.
  ASSERT_TRUE(f.engine().snapshot_all().is_ok());
  ASSERT_TRUE(f.engine().snapshot_all().is_ok());
  f.reopen();
  ASSERT_EQ(f.engine().outbox().dead_letters().size(), 1u);
  EXPECT_EQ(f.engine().outbox().dead_letters()[0].error, error);
  EXPECT_EQ(f.engine().outbox().status(std::nullopt).pending_records, 0u);
  // Retried, it is refused again, and stays a dead letter.
  f.dispatcher().start();
  engine::OutboxChange retry;
  retry.retry = {bad};
  ASSERT_TRUE(f.engine().change_outbox(retry).is_ok());
  EXPECT_EQ(f.engine().outbox().wait_delivered(bad, 60s, &error), engine::Delivery::kDead);
  EXPECT_EQ(f.engine().outbox().dead_letters().size(), 1u);
}

TEST(GraphDelivery, AnEdgeToAPointWrittenThroughThePointsApiGetsABareNode) {
  // The request checks accept an end that is a point of the collection; the
  // graph has no node for it, so the edge's delivery makes one (id only)
  // rather than drop the acknowledged edge.
  VESTA_SKIP_WITHOUT_GRAPH_PEER();
  GraphFixture f(*env("VESTA_TEST_BOLT_URL"));
  const std::string ws = unique_workspace("bare");
  ASSERT_TRUE(f.collection().upsert({{core::PointId::number(900), {1, 2, 3, 4}, nullptr}}).is_ok());
  const uint64_t seq = f.upsert(ws, {node(901, {{"v", 1}})},
                                {{{"source", 901}, {"target", 900}, {"type", "REF"}},
                                 {{"source", 900}, {"target", 900}, {"type", "SELF"}}});
  f.dispatcher().start();
  ASSERT_EQ(f.engine().outbox().wait_delivered(seq, 60s, nullptr), engine::Delivery::kDelivered)
      << f.dispatcher().state().last_error.value_or("");
  EXPECT_EQ(read("MATCH (a:`" + ws + "` {id: 901})-[e:REF]->(b:`" + ws +
                 "` {id: 900}) RETURN a.v, b.v, count(e)"),
            std::vector<std::string>{"1 null 1"});
  EXPECT_EQ(read("MATCH (a:`" + ws + "` {id: 900})-[e:SELF]->(a) RETURN count(e)"),
            std::vector<std::string>{"1"});
  EXPECT_EQ(read("MATCH (n:`" + ws + "`) RETURN count(n)"), std::vector<std::string>{"2"});
}

TEST(GraphDelivery, TheWorkspaceLabelIsIndexedOnId) {
  VESTA_SKIP_WITHOUT_GRAPH_PEER();
  GraphFixture f(*env("VESTA_TEST_BOLT_URL"));
  const std::string ws = unique_workspace("index");
  const uint64_t seq = f.upsert(ws, {node(1)});
  f.dispatcher().start();
  ASSERT_EQ(f.engine().outbox().wait_delivered(seq, 60s, nullptr), engine::Delivery::kDelivered);
  // FalkorDB takes the index (constraints are not Cypher there).
  const std::vector<std::string> indexes =
      read("CALL db.indexes() YIELD label, properties RETURN label, properties");
  EXPECT_NE(std::find(indexes.begin(), indexes.end(), "\"" + ws + "\" [\"id\"]"), indexes.end())
      << ::testing::PrintToString(indexes);
}

TEST(GraphDispatcher, AnUnreachableGraphKeepsEverythingPendingAndSaysWhy) {
  GraphFixture f("bolt://127.0.0.1:1");
  const uint64_t seq = f.upsert("ws", {node("a")});
  f.dispatcher().start();
  for (int i = 0; i < 200 && f.dispatcher().state().retries < 3; ++i)
    std::this_thread::sleep_for(20ms);
  const DispatcherState state = f.dispatcher().state();
  EXPECT_GE(state.retries, 3u);
  EXPECT_FALSE(state.connected);
  ASSERT_TRUE(state.last_error);
  EXPECT_NE(state.last_error->find("127.0.0.1"), std::string::npos) << *state.last_error;
  EXPECT_EQ(f.engine().outbox().wait_delivered(seq, 10ms, nullptr), engine::Delivery::kPending);
  EXPECT_EQ(f.engine().outbox().status("ws").pending_records, 1u);
  EXPECT_EQ(f.engine().outbox().status("ws").pending_operations, 1u);
  EXPECT_EQ(f.engine().outbox().status("other").pending_records, 0u);
  // Still pending after a restart: nothing acknowledged is lost.
  f.reopen();
  EXPECT_EQ(f.engine().outbox().status("ws").pending_records, 1u);
  EXPECT_TRUE(f.collection().get(core::PointId::string("a").value()).value());
}

}  // namespace
}  // namespace vesta::graph
