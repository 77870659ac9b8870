#include "core/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <memory>

#include "core/check.h"

namespace vesta::core {

ThreadPool::ThreadPool(size_t threads) {
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  workers_.reserve(threads);
  for (size_t i = 0; i < threads; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (std::thread& t : workers_) t.join();
}

void ThreadPool::submit(std::function<void()> task) {
  {
    std::lock_guard lock(mutex_);
    VESTA_CHECK(!stopping_) << "submit() on a stopping ThreadPool";
    queue_.push_back(std::move(task));
  }
  wake_.notify_one();
}

void ThreadPool::worker_loop() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
  }
}

namespace {

// Shared by the caller and the helper tasks of one parallel_for. The caller
// returns once every index has *completed*; helpers still queued then find no
// index left and return without touching `fn` (which may be gone by then), so
// a parallel_for never waits for a queued helper (no deadlock when every
// worker is itself inside a parallel_for).
struct ParallelForState {
  ParallelForState(size_t n, const std::function<void(size_t)>& f) : count(n), fn(f) {}
  const size_t count;
  const std::function<void(size_t)>& fn;
  std::atomic<size_t> next{0};
  std::mutex mutex;
  std::condition_variable done;
  size_t completed = 0;  // guarded by mutex

  void run() {
    size_t finished = 0;
    for (size_t i = next.fetch_add(1); i < count; i = next.fetch_add(1)) {
      fn(i);
      ++finished;
    }
    if (finished == 0) return;
    std::lock_guard lock(mutex);
    completed += finished;
    if (completed == count) done.notify_all();
  }
};

}  // namespace

void ThreadPool::parallel_for(size_t n, const std::function<void(size_t)>& fn,
                              size_t max_parallelism) {
  if (n == 0) return;
  if (max_parallelism == 0) max_parallelism = workers_.size() + 1;
  const size_t helpers = std::min({n, max_parallelism, workers_.size() + 1}) - 1;
  auto state = std::make_shared<ParallelForState>(n, fn);
  for (size_t h = 0; h < helpers; ++h) {
    submit([state] { state->run(); });
  }
  state->run();
  std::unique_lock lock(state->mutex);
  state->done.wait(lock, [&] { return state->completed == state->count; });
}

}  // namespace vesta::core
