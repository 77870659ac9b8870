#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace vesta::core {

// A fixed set of worker threads that run submitted tasks in FIFO order.
//
// parallel_for is the main entry point: it splits an index range among the
// workers *and the calling thread*, so a caller always makes progress on its
// own work, even when every worker is busy or the caller is itself a worker
// (nested use cannot deadlock). Thread-safe: any thread may submit at any time.
// The destructor finishes queued tasks and joins every worker.
class ThreadPool {
 public:
  // `threads` = 0 means one per hardware thread.
  explicit ThreadPool(size_t threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  size_t size() const { return workers_.size(); }

  // Queues `task` to run on a worker.
  void submit(std::function<void()> task);

  // Calls fn(i) for every i in [0, n) using up to `max_parallelism` threads
  // (0 = the pool's size + the caller) and returns when all calls are done.
  // fn must not throw.
  void parallel_for(size_t n, const std::function<void(size_t)>& fn, size_t max_parallelism = 0);

 private:
  void worker_loop();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> queue_;  // guarded by mutex_
  bool stopping_ = false;                    // guarded by mutex_
  std::vector<std::thread> workers_;
};

}  // namespace vesta::core
