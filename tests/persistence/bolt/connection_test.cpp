// Connection against an in-process scripted peer (scripted_peer.h): message
// shapes per negotiated version, the FAILURE -> IGNORED -> RESET recovery,
// chunking and NOOPs from the server, timeouts, a server that hangs up, TLS.
#include "persistence/bolt/connection.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "scripted_peer.h"

namespace vesta::bolt {
namespace {

using testing::ScriptedPeer;
using namespace std::chrono_literals;

ConnectionOptions options_for(const ScriptedPeer& peer, const std::string& scheme = "bolt") {
  ConnectionOptions options;
  options.uri = peer.uri(scheme);
  options.auth = AuthToken::basic("neo4j", "secret");
  options.connect_timeout = 5s;
  options.read_timeout = 5s;
  return options;
}

std::unique_ptr<Connection> open_ok(const ConnectionOptions& options) {
  core::Result<std::unique_ptr<Connection>> connection = Connection::open(options);
  EXPECT_TRUE(connection.is_ok()) << connection.status().to_string();
  return connection.is_ok() ? std::move(connection).value() : nullptr;
}

const Dictionary& field_dictionary(const Structure& message, size_t field = 0) {
  return message.fields.at(field).as<Dictionary>();
}

std::string string_at(const Dictionary& dictionary, const char* key) {
  const Value* value = dictionary.find(key);
  return value != nullptr && value->is<std::string>() ? value->as<std::string>() : "<missing>";
}

// Bolt 5.1+: HELLO carries no credentials; LOGON follows with them. From
// 5.3, HELLO names the driver in bolt_agent.
TEST(Connection, Bolt54SendsHelloWithBoltAgentThenLogon) {
  ScriptedPeer peer;
  peer.serve_hello({5, 4});
  peer.start();
  auto connection = open_ok(options_for(peer));
  ASSERT_TRUE(connection);
  EXPECT_EQ(connection->version(), (BoltVersion{5, 4}));
  EXPECT_EQ(string_at(connection->server_metadata(), "server"), "Scripted/1.0");
  ASSERT_EQ(peer.finish(), "");
  const auto received = peer.received();
  ASSERT_EQ(received.size(), 2u);
  const Dictionary& hello = field_dictionary(received[0]);
  EXPECT_EQ(string_at(hello, "user_agent"), "vesta/0.1");
  EXPECT_FALSE(hello.contains("scheme"));
  EXPECT_FALSE(hello.contains("credentials"));
  ASSERT_TRUE(hello.contains("bolt_agent"));
  EXPECT_EQ(string_at(hello.find("bolt_agent")->as<Dictionary>(), "product"), "vesta-bolt/0.1");
  const Dictionary& logon = field_dictionary(received[1]);
  EXPECT_EQ(logon,
            (Dictionary{{"scheme", "basic"}, {"principal", "neo4j"}, {"credentials", "secret"}}));
  // The handshake proposed 5.4..5.0 and 4.4.
  ASSERT_EQ(peer.handshakes().size(), 1u);
  const std::array<std::uint8_t, 20> proposed = {0x60, 0x60, 0xB0, 0x17, 0, 4, 4, 5, 0, 0,
                                                 4,    4,    0,    0,    0, 0, 0, 0, 0, 0};
  EXPECT_EQ(peer.handshakes()[0], proposed);
}

// Bolt 5.0 and 4.4 have no LOGON: the credentials go inside HELLO, and there
// is no bolt_agent before 5.3.
TEST(Connection, Bolt50And44PutTheCredentialsInHello) {
  for (BoltVersion version : {BoltVersion{5, 0}, BoltVersion{4, 4}}) {
    ScriptedPeer peer;
    peer.serve_hello(version);
    peer.start();
    auto connection = open_ok(options_for(peer));
    ASSERT_TRUE(connection);
    EXPECT_EQ(connection->version(), version);
    ASSERT_EQ(peer.finish(), "") << version.to_string();
    const auto received = peer.received();
    ASSERT_EQ(received.size(), 1u);
    const Dictionary& hello = field_dictionary(received[0]);
    EXPECT_EQ(string_at(hello, "scheme"), "basic");
    EXPECT_EQ(string_at(hello, "principal"), "neo4j");
    EXPECT_EQ(string_at(hello, "credentials"), "secret");
    EXPECT_FALSE(hello.contains("bolt_agent"));
  }
}

TEST(Connection, BearerAuthSendsTheToken) {
  ScriptedPeer peer;
  peer.serve_hello({5, 2});
  peer.start();
  ConnectionOptions options = options_for(peer);
  options.auth = AuthToken::bearer("a.jwt.token");
  auto connection = open_ok(options);
  ASSERT_EQ(peer.finish(), "");
  const auto received = peer.received();
  ASSERT_EQ(received.size(), 2u);
  EXPECT_FALSE(field_dictionary(received[0]).contains("bolt_agent")) << "5.2 has none";
  EXPECT_EQ(field_dictionary(received[1]),
            (Dictionary{{"scheme", "bearer"}, {"credentials", "a.jwt.token"}}));
}

TEST(Connection, RefusedCredentialsAreAPermanentFailure) {
  ScriptedPeer peer;
  peer.accept().handshake(BoltVersion{5, 4}).expect(MessageTag::kHello).success();
  peer.expect(MessageTag::kLogon)
      .failure("Neo.ClientError.Security.Unauthorized", "The client is unauthorized")
      .hang_up();
  peer.start();
  core::Result<std::unique_ptr<Connection>> connection = Connection::open(options_for(peer));
  ASSERT_FALSE(connection.is_ok());
  EXPECT_EQ(connection.status().code(), core::StatusCode::kInvalidArgument);
  EXPECT_NE(
      connection.status().message().find("refused LOGON: Neo.ClientError.Security.Unauthorized"),
      std::string::npos)
      << connection.status().message();
  EXPECT_FALSE(is_transient(connection.status()));
  EXPECT_EQ(peer.finish(), "");
}

TEST(Connection, AServerWithoutACommonVersionIsUnavailable) {
  ScriptedPeer peer;
  peer.accept().handshake(std::array<std::uint8_t, 4>{0, 0, 0, 0}).hang_up();
  peer.start();
  core::Result<std::unique_ptr<Connection>> connection = Connection::open(options_for(peer));
  ASSERT_FALSE(connection.is_ok());
  EXPECT_EQ(connection.status().code(), core::StatusCode::kUnavailable);
  EXPECT_NE(connection.status().message().find("none of the versions"), std::string::npos);
  EXPECT_EQ(peer.finish(), "");
}

TEST(Connection, RunPipelinesRunAndPullAndReturnsRecords) {
  ScriptedPeer peer;
  peer.serve_hello({5, 4});
  peer.expect(MessageTag::kBegin).success();
  peer.expect(MessageTag::kRun).expect(MessageTag::kPull);
  peer.success({{"fields", List{"n", "name"}}, {"t_first", 1}});
  peer.record({1, "one"}).record({2, "two"});
  peer.success({{"type", "w"}, {"db", "neo4j"}});
  peer.expect(MessageTag::kCommit).success({{"bookmark", "FB:kcwQ"}});
  peer.start();
  auto connection = open_ok(options_for(peer));
  ASSERT_TRUE(connection);
  TransactionConfig config;
  config.database = "graph";
  config.timeout_ms = 2500;
  config.metadata = Dictionary{{"app", "vesta"}};
  ASSERT_TRUE(connection->begin(config).is_ok());
  EXPECT_TRUE(connection->in_transaction());
  core::Result<QueryResult> result = connection->run(
      "UNWIND $rows AS r RETURN r.n AS n, r.name AS name", {{"rows", List{Dictionary{{"n", 1}}}}});
  ASSERT_TRUE(result.is_ok()) << result.status().to_string();
  EXPECT_EQ(result.value().keys, (std::vector<std::string>{"n", "name"}));
  ASSERT_EQ(result.value().records.size(), 2u);
  EXPECT_EQ(result.value().records[1], (List{2, "two"}));
  EXPECT_EQ(string_at(result.value().summary, "db"), "neo4j");
  ASSERT_TRUE(connection->commit().is_ok());
  EXPECT_FALSE(connection->in_transaction());
  EXPECT_EQ(connection->last_bookmark(), "FB:kcwQ");
  ASSERT_EQ(peer.finish(), "");

  const auto received = peer.received();
  ASSERT_EQ(received.size(), 6u);
  EXPECT_EQ(
      field_dictionary(received[2]),
      (Dictionary{
          {"tx_timeout", 2500}, {"tx_metadata", Dictionary{{"app", "vesta"}}}, {"db", "graph"}}));
  const Structure& run = received[3];
  ASSERT_EQ(run.fields.size(), 3u);
  EXPECT_EQ(run.fields[0], Value("UNWIND $rows AS r RETURN r.n AS n, r.name AS name"));
  EXPECT_EQ(run.fields[2], Value(Dictionary{})) << "a RUN in a transaction carries no extra";
  EXPECT_EQ(field_dictionary(received[4]), (Dictionary{{"n", -1}}));
}

TEST(Connection, AutoCommitRunCarriesTheDatabase) {
  ScriptedPeer peer;
  peer.serve_hello({5, 4});
  peer.expect(MessageTag::kRun).expect(MessageTag::kPull);
  peer.success({{"fields", List{"x"}}}).record({1}).success({{"bookmark", "b1"}});
  peer.start();
  auto connection = open_ok(options_for(peer));
  ASSERT_TRUE(connection);
  RunOptions options;
  options.auto_commit.database = "other";
  options.auto_commit.read_only = true;
  core::Result<QueryResult> result = connection->run("RETURN 1 AS x", {}, options);
  ASSERT_TRUE(result.is_ok()) << result.status().to_string();
  EXPECT_EQ(connection->last_bookmark(), "b1");
  ASSERT_EQ(peer.finish(), "");
  EXPECT_EQ(peer.received()[2].fields[2], Value(Dictionary{{"mode", "r"}, {"db", "other"}}));
}

TEST(Connection, PullsInBatchesWhileTheServerHasMore) {
  ScriptedPeer peer;
  peer.serve_hello({5, 4});
  peer.expect(MessageTag::kRun).expect(MessageTag::kPull);
  peer.success({{"fields", List{"i"}}}).record({1}).record({2}).success({{"has_more", true}});
  peer.expect(MessageTag::kPull).record({3}).record({4}).success({{"has_more", true}});
  peer.expect(MessageTag::kPull).record({5}).success({{"type", "r"}});
  peer.start();
  auto connection = open_ok(options_for(peer));
  ASSERT_TRUE(connection);
  RunOptions options;
  options.fetch_size = 2;
  core::Result<QueryResult> result =
      connection->run("UNWIND range(1, 5) AS i RETURN i", {}, options);
  ASSERT_TRUE(result.is_ok()) << result.status().to_string();
  ASSERT_EQ(result.value().records.size(), 5u);
  EXPECT_EQ(result.value().records[4], (List{5}));
  ASSERT_EQ(peer.finish(), "");
  for (size_t i : {3u, 4u, 5u}) {
    EXPECT_EQ(field_dictionary(peer.received()[i]), (Dictionary{{"n", 2}}));
  }
  EXPECT_FALSE(connection->run("RETURN 1", {}, RunOptions{0, {}}).is_ok());
}

// The Bolt state machine: a FAILURE puts the server in FAILED, where it
// answers IGNORED to everything (here the pipelined PULL) until RESET. The
// client reads both, sends RESET, and the connection is usable again.
TEST(Connection, FailureThenIgnoredThenResetLeavesTheConnectionUsable) {
  ScriptedPeer peer;
  peer.serve_hello({5, 4});
  peer.expect(MessageTag::kBegin).success();
  peer.expect(MessageTag::kRun).expect(MessageTag::kPull);
  peer.failure("Neo.ClientError.Statement.SyntaxError", "Invalid input 'RETRUN'");
  peer.ignored();
  peer.expect(MessageTag::kReset).success();
  peer.expect(MessageTag::kRun).expect(MessageTag::kPull);
  peer.success({{"fields", List{"x"}}}).record({1}).success();
  peer.start();
  auto connection = open_ok(options_for(peer));
  ASSERT_TRUE(connection);
  ASSERT_TRUE(connection->begin().is_ok());
  core::Result<QueryResult> failed = connection->run("RETRUN 1");
  ASSERT_FALSE(failed.is_ok());
  EXPECT_EQ(failed.status().code(), core::StatusCode::kInvalidArgument);
  EXPECT_EQ(failed.status().message(),
            "Neo.ClientError.Statement.SyntaxError: Invalid input 'RETRUN'");
  EXPECT_FALSE(is_transient(failed.status()));
  EXPECT_EQ(connection->last_failure().code, "Neo.ClientError.Statement.SyntaxError");
  EXPECT_FALSE(connection->is_broken());
  EXPECT_FALSE(connection->in_transaction()) << "the failure ended the transaction";
  EXPECT_TRUE(connection->rollback().is_ok()) << "nothing left to roll back";
  EXPECT_EQ(connection->commit().code(), core::StatusCode::kConflict);
  core::Result<QueryResult> again = connection->run("RETURN 1 AS x");
  ASSERT_TRUE(again.is_ok()) << again.status().to_string();
  EXPECT_EQ(again.value().records.at(0), (List{1}));
  ASSERT_EQ(peer.finish(), "");
}

TEST(Connection, TransientServerFailuresAreClassedTransient) {
  ScriptedPeer deadlock;
  deadlock.serve_hello({5, 4});
  deadlock.expect(MessageTag::kBegin).success();
  deadlock.expect(MessageTag::kRun).expect(MessageTag::kPull);
  deadlock.failure("Neo.TransientError.Transaction.DeadlockDetected", "deadlock").ignored();
  deadlock.expect(MessageTag::kReset).success();
  deadlock.start();
  auto connection = open_ok(options_for(deadlock));
  ASSERT_TRUE(connection);
  ASSERT_TRUE(connection->begin().is_ok());
  core::Result<QueryResult> failed = connection->run("MERGE (n:X {id: 1})");
  ASSERT_FALSE(failed.is_ok());
  EXPECT_EQ(failed.status().code(), core::StatusCode::kUnavailable);
  EXPECT_TRUE(is_transient(failed.status()));
  ASSERT_EQ(deadlock.finish(), "");
}

TEST(Connection, ServerFailureCodesAreClassified) {
  auto classify = [](const std::string& code) { return ServerFailure{code, "m"}; };
  EXPECT_TRUE(classify("Neo.TransientError.General.MemoryPoolOutOfMemoryError").transient());
  EXPECT_TRUE(classify("Neo.ClientError.Cluster.NotALeader").transient());
  EXPECT_FALSE(classify("Neo.TransientError.Transaction.Terminated").transient());
  EXPECT_FALSE(classify("Neo.TransientError.Transaction.LockClientStopped").transient());
  EXPECT_FALSE(classify("Neo.ClientError.Schema.ConstraintValidationFailed").transient());
  EXPECT_FALSE(classify("Neo.DatabaseError.General.UnknownError").transient());
  EXPECT_EQ(classify("Neo.DatabaseError.General.UnknownError").to_status().code(),
            core::StatusCode::kInternal);
  // Bolt 5.7+ names the code neo4j_code.
  EXPECT_EQ(
      ServerFailure::from_metadata({{"neo4j_code", "Neo.ClientError.X.Y"}, {"message", "m"}}).code,
      "Neo.ClientError.X.Y");
  EXPECT_EQ(ServerFailure::from_metadata({}).code, "Neo.DatabaseError.General.UnknownError");
}

// The server may cut a message into chunks of any size (here 7 bytes, and a
// 200 KB string that needs several full chunks) and send NOOP chunks before
// and between messages.
TEST(Connection, ReadsMessagesSplitAcrossChunksAndSkipsNoops) {
  const std::string big(200 * 1024, 'x');
  ScriptedPeer peer;
  peer.serve_hello({5, 4});
  peer.expect(MessageTag::kRun).expect(MessageTag::kPull);
  peer.reply(Structure{0x70, {Dictionary{{"fields", List{"s", "t"}}}}}, 7, 3);
  peer.reply(Structure{0x71, {List{big, "tail"}}}, kMaxChunkBytes, 1);
  peer.reply(Structure{0x71, {List{"short", Dictionary{{"k", List{1, 2.5, nullptr}}}}}}, 1, 2);
  peer.send_raw({0, 0, 0, 0});  // two NOOPs between messages
  peer.success();
  peer.start();
  auto connection = open_ok(options_for(peer));
  ASSERT_TRUE(connection);
  core::Result<QueryResult> result = connection->run("RETURN $s AS s");
  ASSERT_TRUE(result.is_ok()) << result.status().to_string();
  ASSERT_EQ(result.value().records.size(), 2u);
  EXPECT_EQ(result.value().records[0], (List{big, "tail"}));
  EXPECT_EQ(result.value().records[1], (List{"short", Dictionary{{"k", List{1, 2.5, nullptr}}}}));
  ASSERT_EQ(peer.finish(), "");
}

TEST(Connection, ServerClosingMidTransactionBreaksTheConnection) {
  ScriptedPeer peer;
  peer.serve_hello({5, 4});
  peer.expect(MessageTag::kBegin).success();
  peer.expect(MessageTag::kRun).expect(MessageTag::kPull);
  peer.success({{"fields", List{"x"}}});
  peer.hang_up();
  peer.start();
  auto connection = open_ok(options_for(peer));
  ASSERT_TRUE(connection);
  ASSERT_TRUE(connection->begin().is_ok());
  core::Result<QueryResult> result = connection->run("RETURN 1 AS x");
  ASSERT_FALSE(result.is_ok());
  EXPECT_EQ(result.status().code(), core::StatusCode::kUnavailable);
  EXPECT_NE(result.status().message().find("closed the connection"), std::string::npos)
      << result.status().message();
  EXPECT_TRUE(is_transient(result.status()));
  EXPECT_TRUE(connection->is_broken());
  EXPECT_FALSE(connection->in_transaction());
  EXPECT_EQ(connection->commit().code(), core::StatusCode::kUnavailable);
  EXPECT_FALSE(connection->looks_alive());
  ASSERT_EQ(peer.finish(), "");
}

TEST(Connection, ASilentServerTimesOut) {
  ScriptedPeer peer;
  peer.serve_hello({5, 4});
  peer.expect(MessageTag::kBegin).pause(3s);
  peer.start();
  ConnectionOptions options = options_for(peer);
  options.read_timeout = 300ms;
  auto connection = open_ok(options);
  ASSERT_TRUE(connection);
  const auto start = std::chrono::steady_clock::now();
  const core::Status status = connection->begin();
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(status.code(), core::StatusCode::kDeadlineExceeded) << status.to_string();
  EXPECT_GE(waited, 300ms);
  EXPECT_LT(waited, 2500ms);
  EXPECT_TRUE(connection->is_broken());
  (void)peer.finish(0ms);
}

TEST(Connection, ConnectTimesOutAgainstAServerThatNeverAnswersTheHandshake) {
  ScriptedPeer peer;
  peer.accept().pause(3s);
  peer.start();
  ConnectionOptions options = options_for(peer);
  options.connect_timeout = 300ms;
  core::Result<std::unique_ptr<Connection>> connection = Connection::open(options);
  ASSERT_FALSE(connection.is_ok());
  EXPECT_EQ(connection.status().code(), core::StatusCode::kDeadlineExceeded);
  (void)peer.finish(0ms);
}

TEST(Connection, ARefusedConnectionIsUnavailable) {
  std::string uri;
  {
    ScriptedPeer closed;  // its port is free again once it is gone
    uri = closed.uri();
  }
  ConnectionOptions options;
  options.uri = uri;
  core::Result<std::unique_ptr<Connection>> connection = Connection::open(options);
  ASSERT_FALSE(connection.is_ok());
  EXPECT_EQ(connection.status().code(), core::StatusCode::kUnavailable);
}

TEST(Connection, CloseSendsGoodbyeUnlessToldNot) {
  for (bool goodbye : {true, false}) {
    ScriptedPeer peer;
    peer.serve_hello({5, 4});
    if (goodbye) peer.expect(MessageTag::kGoodbye);
    peer.start();
    ConnectionOptions options = options_for(peer);
    options.send_goodbye = goodbye;
    auto connection = open_ok(options);
    ASSERT_TRUE(connection);
    connection->close();
    connection->close();  // idempotent
    ASSERT_EQ(peer.finish(), "");
    EXPECT_EQ(peer.received().size(), goodbye ? 3u : 2u);
  }
}

TEST(Connection, GarbageFromTheServerIsAProtocolError) {
  ScriptedPeer peer;
  peer.serve_hello({5, 4});
  peer.expect(MessageTag::kBegin);
  peer.send_raw({0x00, 0x02, 0xC4, 0x00, 0x00, 0x00});  // a reserved marker
  peer.start();
  auto connection = open_ok(options_for(peer));
  ASSERT_TRUE(connection);
  const core::Status status = connection->begin();
  EXPECT_EQ(status.code(), core::StatusCode::kInternal);
  EXPECT_NE(status.message().find("reserved marker 0xC4 at byte 0"), std::string::npos)
      << status.message();
  EXPECT_TRUE(connection->is_broken());
  ASSERT_EQ(peer.finish(), "");
}

TEST(Connection, TlsWithoutVerificationAcceptsASelfSignedServer) {
  ScriptedPeer peer(/*tls=*/true);
  peer.serve_hello({5, 4});
  peer.expect(MessageTag::kRun).expect(MessageTag::kPull);
  peer.success({{"fields", List{"x"}}}).record({42}).success();
  peer.start();
  auto connection = open_ok(options_for(peer, "bolt+ssc"));
  ASSERT_TRUE(connection);
  core::Result<QueryResult> result = connection->run("RETURN 42 AS x");
  ASSERT_TRUE(result.is_ok()) << result.status().to_string();
  EXPECT_EQ(result.value().records.at(0), (List{42}));
  ASSERT_EQ(peer.finish(), "");
}

TEST(Connection, TlsWithVerificationChecksTheCertificate) {
  {
    // Self-signed and not trusted: refused.
    ScriptedPeer peer(/*tls=*/true);
    peer.accept();
    peer.start();
    core::Result<std::unique_ptr<Connection>> connection =
        Connection::open(options_for(peer, "bolt+s"));
    ASSERT_FALSE(connection.is_ok());
    EXPECT_NE(connection.status().message().find("TLS"), std::string::npos)
        << connection.status().message();
    (void)peer.finish(0ms);
  }
}

TEST(Connection, TlsWithVerificationAcceptsATrustedCertificate) {
  {
    // Trusted through tls_ca_file (its SAN holds 127.0.0.1): accepted.
    ScriptedPeer peer(/*tls=*/true);
    peer.serve_hello({5, 4});
    peer.start();
    ConnectionOptions options = options_for(peer, "bolt+s");
    options.tls_ca_file = std::string(VESTA_TESTS_DIR) + "/server/tls/test-cert.pem";
    auto connection = open_ok(options);
    EXPECT_TRUE(connection);
    ASSERT_EQ(peer.finish(), "");
  }
}

}  // namespace
}  // namespace vesta::bolt
