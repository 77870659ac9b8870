// ConnectionPool and Client against the scripted peer: broken connections
// are discarded, dirty ones RESET, dead idle ones replaced, and acquire waits
// at most its timeout.
#include "persistence/bolt/connection_pool.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "persistence/bolt/client.h"
#include "scripted_peer.h"

namespace vesta::bolt {
namespace {

using testing::ScriptedPeer;
using namespace std::chrono_literals;

ConnectionOptions options_for(const ScriptedPeer& peer) {
  ConnectionOptions options;
  options.uri = peer.uri();
  options.connect_timeout = 5s;
  options.read_timeout = 5s;
  options.send_goodbye = false;
  return options;
}

PoolOptions pool_of(size_t size, std::chrono::milliseconds acquire_timeout = 2s) {
  PoolOptions options;
  options.max_size = size;
  options.acquire_timeout = acquire_timeout;
  return options;
}

// The server closing mid-transaction: the client reports a broken
// connection, the pool discards it and opens a new one for the next user.
TEST(ConnectionPool, DiscardsAConnectionTheServerClosedMidTransaction) {
  ScriptedPeer peer;
  peer.serve_hello({5, 4});
  peer.expect(MessageTag::kBegin).success();
  peer.expect(MessageTag::kRun).expect(MessageTag::kPull).hang_up();
  peer.serve_hello({5, 4});
  peer.expect(MessageTag::kRun).expect(MessageTag::kPull);
  peer.success({{"fields", List{"x"}}}).record({1}).success();
  peer.start();
  ConnectionPool pool(options_for(peer), pool_of(1));
  {
    core::Result<ConnectionPool::Lease> lease = pool.acquire();
    ASSERT_TRUE(lease.is_ok()) << lease.status().to_string();
    ASSERT_TRUE(lease.value()->begin().is_ok());
    core::Result<QueryResult> result = lease.value()->run("CREATE (:X)");
    ASSERT_FALSE(result.is_ok());
    EXPECT_EQ(result.status().code(), core::StatusCode::kUnavailable);
    EXPECT_TRUE(lease.value()->is_broken());
  }
  EXPECT_EQ(pool.stats().discarded, 1u);
  EXPECT_EQ(pool.stats().idle, 0u);
  core::Result<ConnectionPool::Lease> next = pool.acquire();
  ASSERT_TRUE(next.is_ok()) << next.status().to_string();
  core::Result<QueryResult> result = next.value()->run("RETURN 1 AS x");
  ASSERT_TRUE(result.is_ok()) << result.status().to_string();
  EXPECT_EQ(pool.stats().opened, 2u);
  EXPECT_EQ(peer.connections(), 2);
  EXPECT_EQ(peer.finish(), "");
}

TEST(ConnectionPool, ReusesCleanConnectionsAndResetsOnesLeftInATransaction) {
  ScriptedPeer peer;
  peer.serve_hello({5, 4});
  peer.expect(MessageTag::kBegin).success();
  peer.expect(MessageTag::kReset).success();  // the lease ended inside the transaction
  peer.expect(MessageTag::kRun).expect(MessageTag::kPull).success().success();
  peer.start();
  ConnectionPool pool(options_for(peer), pool_of(2));
  {
    core::Result<ConnectionPool::Lease> lease = pool.acquire();
    ASSERT_TRUE(lease.is_ok());
    ASSERT_TRUE(lease.value()->begin().is_ok());
  }
  EXPECT_EQ(pool.stats().idle, 1u);
  {
    core::Result<ConnectionPool::Lease> lease = pool.acquire();
    ASSERT_TRUE(lease.is_ok());
    EXPECT_FALSE(lease.value()->in_transaction());
    ASSERT_TRUE(lease.value()->run("RETURN 1").is_ok());
  }
  EXPECT_EQ(pool.stats().opened, 1u);
  EXPECT_EQ(pool.stats().discarded, 0u);
  EXPECT_EQ(peer.finish(), "");
}

TEST(ConnectionPool, ReplacesAnIdleConnectionTheServerClosed) {
  ScriptedPeer peer;
  peer.serve_hello({5, 4}).hang_up();
  peer.serve_hello({5, 4});
  peer.start();
  ConnectionPool pool(options_for(peer), pool_of(1));
  {
    core::Result<ConnectionPool::Lease> lease = pool.acquire();
    ASSERT_TRUE(lease.is_ok());
    // Wait until the server's close has arrived.
    for (int i = 0; i < 200 && lease.value()->looks_alive(); ++i) std::this_thread::sleep_for(10ms);
    EXPECT_FALSE(lease.value()->looks_alive());
  }
  core::Result<ConnectionPool::Lease> lease = pool.acquire();
  ASSERT_TRUE(lease.is_ok()) << lease.status().to_string();
  EXPECT_TRUE(lease.value()->looks_alive());
  EXPECT_EQ(pool.stats().opened, 2u);
  EXPECT_EQ(pool.stats().discarded, 1u);
  EXPECT_EQ(peer.finish(), "");
}

TEST(ConnectionPool, AcquireWaitsForAReturnThenTimesOut) {
  ScriptedPeer peer;
  peer.serve_hello({5, 4});
  peer.start();
  ConnectionPool pool(options_for(peer), pool_of(1, 300ms));
  std::optional<ConnectionPool::Lease> held;
  {
    core::Result<ConnectionPool::Lease> lease = pool.acquire();
    ASSERT_TRUE(lease.is_ok());
    held.emplace(std::move(lease).value());
  }
  const auto start = std::chrono::steady_clock::now();
  core::Result<ConnectionPool::Lease> busy = pool.acquire();
  ASSERT_FALSE(busy.is_ok());
  EXPECT_EQ(busy.status().code(), core::StatusCode::kDeadlineExceeded);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 300ms);

  // A return while someone waits hands the connection over.
  std::thread giver([&held] {
    std::this_thread::sleep_for(50ms);
    held.reset();
  });
  core::Result<ConnectionPool::Lease> handed = pool.acquire();
  giver.join();
  ASSERT_TRUE(handed.is_ok()) << handed.status().to_string();
  EXPECT_EQ(pool.stats().opened, 1u);
  EXPECT_EQ(peer.finish(), "");
}

TEST(ConnectionPool, AnUnreachableServerIsUnavailableAndFreesTheSlot) {
  std::string uri;
  {
    ScriptedPeer gone;
    uri = gone.uri();
  }
  ConnectionOptions options;
  options.uri = uri;
  ConnectionPool pool(options, pool_of(1));
  for (int i = 0; i < 2; ++i) {
    core::Result<ConnectionPool::Lease> lease = pool.acquire();
    ASSERT_FALSE(lease.is_ok());
    EXPECT_EQ(lease.status().code(), core::StatusCode::kUnavailable);
  }
  EXPECT_EQ(pool.stats().leased, 0u);
}

TEST(Client, ExecuteInTransactionCommitsOrRollsBack) {
  ScriptedPeer peer;
  peer.serve_hello({5, 4});
  peer.expect(MessageTag::kBegin).success();
  peer.expect(MessageTag::kRun).expect(MessageTag::kPull).success().success();
  peer.expect(MessageTag::kCommit).success();
  peer.expect(MessageTag::kBegin).success();
  peer.expect(MessageTag::kRollback).success();
  peer.expect(MessageTag::kBegin).success();
  peer.expect(MessageTag::kRun).expect(MessageTag::kPull);
  peer.success({{"fields", List{"v"}}}).record({7}).success();
  peer.expect(MessageTag::kCommit).success();
  peer.start();
  Client client(options_for(peer), pool_of(1));
  core::Status committed = client.execute_in_transaction(
      [](Transaction& tx) { return tx.run("MERGE (n:X {id: 1})").status(); });
  EXPECT_TRUE(committed.is_ok()) << committed.to_string();
  core::Status rolled_back = client.execute_in_transaction(
      [](Transaction&) { return core::invalid_argument("the caller changed its mind"); });
  EXPECT_EQ(rolled_back.message(), "the caller changed its mind");
  core::Result<QueryResult> result = client.run("RETURN 7 AS v");
  ASSERT_TRUE(result.is_ok()) << result.status().to_string();
  EXPECT_EQ(result.value().records.at(0), (List{7}));
  EXPECT_EQ(peer.finish(), "");
  EXPECT_EQ(client.pool().stats().opened, 1u);
}

}  // namespace
}  // namespace vesta::bolt
