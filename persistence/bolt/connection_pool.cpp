#include "persistence/bolt/connection_pool.h"

#include <utility>

namespace vesta::bolt {

ConnectionPool::Lease::Lease(ConnectionPool* pool, std::unique_ptr<Connection> connection)
    : pool_(pool), connection_(std::move(connection)) {}

ConnectionPool::Lease::Lease(Lease&& other) noexcept
    : pool_(other.pool_), connection_(std::move(other.connection_)) {}

ConnectionPool::Lease::~Lease() {
  if (connection_) pool_->give_back(std::move(connection_));
}

void ConnectionPool::Lease::discard() {
  if (connection_) {
    connection_->close();
    pool_->give_back(std::move(connection_));
  }
}

ConnectionPool::ConnectionPool(ConnectionOptions connection_options, PoolOptions pool_options)
    : connection_options_(std::move(connection_options)), pool_options_(pool_options) {
  VESTA_CHECK(pool_options_.max_size >= 1) << "a Bolt pool of size 0";
}

ConnectionPool::~ConnectionPool() {
  std::unique_lock lock(mutex_);
  VESTA_CHECK(leased_ == 0) << leased_ << " Bolt connections still leased at pool destruction";
  std::vector<std::unique_ptr<Connection>> idle = std::move(idle_);
  lock.unlock();
  idle.clear();  // GOODBYE and close, outside the lock
}

core::Result<ConnectionPool::Lease> ConnectionPool::acquire() {
  const auto deadline = std::chrono::steady_clock::now() + pool_options_.acquire_timeout;
  std::vector<std::unique_ptr<Connection>> dead;  // closed outside the lock
  std::unique_lock lock(mutex_);
  while (true) {
    while (!idle_.empty()) {
      std::unique_ptr<Connection> connection = std::move(idle_.back());
      idle_.pop_back();
      if (connection->looks_alive()) {
        ++leased_;
        lock.unlock();
        return Lease(this, std::move(connection));
      }
      ++discarded_;
      dead.push_back(std::move(connection));
    }
    if (leased_ < pool_options_.max_size) break;
    if (!returned_.wait_until(lock, deadline, [this] {
          return !idle_.empty() || leased_ < pool_options_.max_size;
        })) {
      return core::Status(core::StatusCode::kDeadlineExceeded,
                          "Bolt: all " + std::to_string(pool_options_.max_size) +
                              " connections to " + connection_options_.uri + " stayed busy for " +
                              std::to_string(pool_options_.acquire_timeout.count()) + " ms");
    }
  }
  ++leased_;  // the slot is ours while we connect, outside the lock
  lock.unlock();
  dead.clear();
  core::Result<std::unique_ptr<Connection>> opened = Connection::open(connection_options_);
  lock.lock();
  if (!opened.is_ok()) {
    --leased_;
    returned_.notify_one();
    return opened.status();
  }
  ++opened_;
  lock.unlock();
  return Lease(this, std::move(opened).value());
}

void ConnectionPool::give_back(std::unique_ptr<Connection> connection) {
  // A connection left in a transaction (its user returned early) is RESET,
  // which rolls the transaction back; one that cannot be is dropped.
  if (!connection->is_broken() && connection->in_transaction()) {
    (void)connection->reset();
  }
  const bool keep = !connection->is_broken();
  if (!keep) connection.reset();  // closes it, outside the lock
  std::lock_guard lock(mutex_);
  --leased_;
  if (keep) {
    idle_.push_back(std::move(connection));
  } else {
    ++discarded_;
  }
  returned_.notify_one();
}

ConnectionPool::Stats ConnectionPool::stats() const {
  std::lock_guard lock(mutex_);
  return {opened_, discarded_, idle_.size(), leased_};
}

}  // namespace vesta::bolt
