#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "core/cancellation.h"
#include "core/status.h"
#include "index/searcher.h"

namespace vesta::index {

struct BatchingOptions {
  // Queries one coalesced batch may hold; 0 or 1 turns batching off.
  size_t max_batch = 256;
  // The longest a request waits for others to join its batch.
  std::chrono::microseconds max_delay{1000};
};

struct BatchingStats {
  uint64_t batches = 0;   // searcher calls made
  uint64_t requests = 0;  // requests answered through them
  uint64_t queries = 0;   // queries in them
};

// Coalesces concurrent search requests on one collection into one searcher
// call ("continuous batching"). A request that arrives while nothing of this
// collection is being searched runs at once, alone: no added latency when the
// load is light. A request that arrives while a search runs joins the open
// batch; that batch's first request (its leader) gathers others until the
// running searches end, the batch is full, or max_delay has passed since it
// arrived, whichever is first. Then the batch starts as soon as fewer than
// `runners` searches of the collection run (the searcher's
// searches_side_by_side: 1 where one search takes every CPU thread) and the
// batches that closed before it have started; while it waits for that, it
// stays open to new requests until full. So a request waits at most max_delay
// for others to join, and beyond that only for the collection's searcher to
// have room: under load each searcher call carries what arrived while the
// previous one ran, instead of a new call starting every max_delay beside it
// (which, when a search takes longer than the delay, splits the load into
// ever smaller batches that compete for the same threads).
//
// The leader runs `run` with every member's queries stacked and the largest k;
// each member gets its own rows of the result, cut to its k. Because top-k is
// exact with ties broken by row, and a query's scores do not depend on the
// batch it is in, a member's result is the same as if it had run alone.
// Thread-safe.
class SearchBatcher {
 public:
  // A member's share of a batch: hits[first, first + n) are its queries' (each
  // cut to its k is the caller's business: the batch's k may be larger).
  using Consume = std::function<void(const SearchHits& hits, size_t first)>;
  // Runs a stacked batch (n queries of dim values, best k) and hands the hits
  // to `deliver` while whatever it holds (the collection lock) is still held.
  using Run = std::function<core::Status(const float* queries, size_t n, size_t k,
                                         const std::function<void(const SearchHits&)>& deliver)>;

  SearchBatcher(size_t dim, BatchingOptions options) : dim_(dim), options_(options) {}

  // Searches `n` queries (dim values each, prepared) for the best `k`, maybe
  // together with other callers' queries; `consume` receives this request's
  // hits (rows cut to k) under the leader's lock. `runners` (at least 1): how
  // many batches of this collection may run at once. A batch still waiting
  // for room at its leader's `give_up` fails whole with DeadlineExceeded.
  // Once `cancel` (optional) is cancelled, a request that waits in a batch
  // not started yet leaves it (its queries are not searched), and a leader
  // whose batch holds no one else drops it; both return kCancelled. (A leader
  // with others in its batch runs it for them.) Returns the batch's status.
  core::Status submit(
      const float* queries, size_t n, size_t k, const Consume& consume, const Run& run,
      size_t runners = 1,
      std::chrono::steady_clock::time_point give_up = std::chrono::steady_clock::time_point::max(),
      const core::CancellationToken* cancel = nullptr);

  BatchingStats stats() const;
  // Requests in batches that have not started yet.
  size_t queued_requests() const;
  const BatchingOptions& options() const { return options_; }

 private:
  struct Member {
    const float* queries;
    size_t n;
    size_t k;
    const Consume* consume;
  };
  struct Batch {
    std::vector<Member> members;
    size_t queries = 0;
    bool closed = false;  // taken by its leader; nobody joins any more
    bool done = false;
    core::Status status;
    std::condition_variable finished;
  };

  core::Status run_batch(Batch& batch, const Run& run);

  size_t dim_;
  BatchingOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable idle_;      // a running batch ended, or the open one filled
  std::shared_ptr<Batch> open_;       // accepting members; null when none
  std::deque<const Batch*> waiting_;  // leaders waiting to start, oldest first
  size_t running_ = 0;                // batches being searched now
  BatchingStats stats_;
};

}  // namespace vesta::index
