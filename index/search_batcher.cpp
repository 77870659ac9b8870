#include "index/search_batcher.h"

#include <algorithm>

namespace vesta::index {
namespace {

core::Status cancelled_status() {
  return {core::StatusCode::kCancelled,
          "cancelled (the client went away) while waiting for earlier searches of this "
          "collection"};
}

}  // namespace

core::Status SearchBatcher::submit(const float* queries, size_t n, size_t k, const Consume& consume,
                                   const Run& run, size_t runners,
                                   std::chrono::steady_clock::time_point give_up,
                                   const core::CancellationToken* cancel) {
  runners = std::max<size_t>(runners, 1);
  const Member self{queries, n, k, &consume};
  std::unique_lock lock(mutex_);
  const bool batching = options_.max_batch > 1 && n < options_.max_batch;
  if (batching && open_ != nullptr && !open_->closed && open_->queries + n <= options_.max_batch) {
    // Follower: join the open batch and wait for its leader to run it.
    std::shared_ptr<Batch> batch = open_;
    batch->members.push_back(self);
    batch->queries += n;
    if (batch->queries >= options_.max_batch) idle_.notify_all();
    // Until the leader closes the batch this request may still leave it.
    const auto leaves = [&] { return cancel != nullptr && cancel->cancelled() && !batch->closed; };
    core::wait_cancellable(
        batch->finished, lock, std::chrono::steady_clock::time_point::max(), cancel,
        [&] { return batch->done; }, leaves);
    if (!batch->done && leaves()) {
      std::erase_if(batch->members, [&](const Member& m) { return m.consume == &consume; });
      batch->queries -= n;
      return cancelled_status();
    }
    return batch->status;
  }

  // Leader of a new batch.
  auto batch = std::make_shared<Batch>();
  batch->members.push_back(self);
  batch->queries = n;
  if (batching && (running_ > 0 || !waiting_.empty())) {
    // Something is being searched: let others join until it ends, the batch
    // fills, or the delay runs out.
    // Others join this batch from now on (the open one, if any, cannot take
    // this request, so it is left to its leader).
    open_ = batch;
    waiting_.push_back(batch.get());
    const auto full = [&] { return batch->queries >= options_.max_batch; };
    // A cancelled leader drops its batch only while no one else is in it.
    const auto alone_and_cancelled = [&] {
      return cancel != nullptr && cancel->cancelled() && batch->members.size() == 1;
    };
    const auto deadline = std::chrono::steady_clock::now() + options_.max_delay;
    core::wait_cancellable(
        idle_, lock, deadline, cancel, [&] { return running_ == 0 || full(); },
        alone_and_cancelled);
    // Then start once the searcher has room and the batches that waited
    // longer have started; until then others may still join.
    const auto has_room = [&] { return running_ < runners && waiting_.front() == batch.get(); };
    core::wait_cancellable(idle_, lock, give_up, cancel, has_room, alone_and_cancelled);
    if (!has_room()) {
      // Waited as long as a lock may be waited for, or cancelled with no one
      // else in it: the batch fails whole.
      std::erase(waiting_, batch.get());
      if (open_ == batch) open_ = nullptr;
      batch->closed = true;
      batch->status = alone_and_cancelled()
                          ? cancelled_status()
                          : core::Status(core::StatusCode::kDeadlineExceeded,
                                         "timed out waiting for earlier searches of this "
                                         "collection to end");
      batch->done = true;
      batch->finished.notify_all();
      idle_.notify_all();  // the next waiting leader may be first now
      return batch->status;
    }
    waiting_.pop_front();
    if (open_ == batch) open_ = nullptr;
    idle_.notify_all();  // the next waiting leader may have room too
  }
  batch->closed = true;
  ++running_;
  lock.unlock();

  const core::Status status = run_batch(*batch, run);

  lock.lock();
  --running_;
  batch->status = status;
  batch->done = true;
  ++stats_.batches;
  stats_.requests += batch->members.size();
  stats_.queries += batch->queries;
  batch->finished.notify_all();
  idle_.notify_all();
  return status;
}

core::Status SearchBatcher::run_batch(Batch& batch, const Run& run) {
  // Members are fixed once the batch is closed; read without the mutex.
  if (batch.members.size() == 1) {
    const Member& only = batch.members[0];
    return run(only.queries, only.n, only.k,
               [&](const SearchHits& hits) { (*only.consume)(hits, 0); });
  }
  std::vector<float> stacked(batch.queries * dim_);
  size_t k = 0;
  size_t offset = 0;
  std::vector<size_t> firsts;
  for (const Member& m : batch.members) {
    std::copy_n(m.queries, m.n * dim_, stacked.begin() + static_cast<ptrdiff_t>(offset * dim_));
    firsts.push_back(offset);
    offset += m.n;
    k = std::max(k, m.k);
  }
  return run(stacked.data(), batch.queries, k, [&](const SearchHits& hits) {
    for (size_t i = 0; i < batch.members.size(); ++i) (*batch.members[i].consume)(hits, firsts[i]);
  });
}

size_t SearchBatcher::queued_requests() const {
  std::lock_guard lock(mutex_);
  size_t requests = 0;
  for (const Batch* batch : waiting_) requests += batch->members.size();
  return requests;
}

BatchingStats SearchBatcher::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

}  // namespace vesta::index
