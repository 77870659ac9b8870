#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "core/status.h"
#include "persistence/bolt/connection.h"

namespace vesta::bolt {

struct PoolOptions {
  size_t max_size = 4;  // connections open at once, leased or idle
  // How long acquire() waits for a connection to come back when all are out.
  std::chrono::milliseconds acquire_timeout{10000};
};

// Up to max_size connections to one server, opened when first needed and
// reused. A lease lends one connection to one thread; when the lease ends the
// connection comes back if it is clean: a broken one is discarded, one left
// in a transaction is RESET first (discarded if that fails). An idle
// connection that the server closed meanwhile is discarded at acquire
// (Connection::looks_alive), so a restarted server costs no failed request.
//
// Thread-safe. Leases must end before the pool is destroyed.
class ConnectionPool {
 public:
  class Lease {
   public:
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease();  // gives the connection back (or discards it)

    Connection& connection() { return *connection_; }
    Connection* operator->() { return connection_.get(); }
    // Closes the connection instead of giving it back.
    void discard();

   private:
    friend class ConnectionPool;
    Lease(ConnectionPool* pool, std::unique_ptr<Connection> connection);

    ConnectionPool* pool_;
    std::unique_ptr<Connection> connection_;
  };

  struct Stats {
    std::uint64_t opened = 0;     // connections opened
    std::uint64_t discarded = 0;  // closed because broken, dirty or found dead
    size_t idle = 0;
    size_t leased = 0;
  };

  ConnectionPool(ConnectionOptions connection_options, PoolOptions pool_options);
  ~ConnectionPool();
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // An idle connection, or a new one when there is room; else waits up to
  // acquire_timeout (kDeadlineExceeded). Opening fails as Connection::open
  // does.
  core::Result<Lease> acquire();

  Stats stats() const;
  const ConnectionOptions& connection_options() const { return connection_options_; }

 private:
  void give_back(std::unique_ptr<Connection> connection);

  const ConnectionOptions connection_options_;
  const PoolOptions pool_options_;
  mutable std::mutex mutex_;  // guards the members below
  std::condition_variable returned_;
  std::vector<std::unique_ptr<Connection>> idle_;
  size_t leased_ = 0;  // connections out, and slots taken by opens in progress
  std::uint64_t opened_ = 0;
  std::uint64_t discarded_ = 0;
};

}  // namespace vesta::bolt
