#include "core/parallel_for.h"

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

namespace vesta::core {

void parallel_for(size_t n, const std::function<void(size_t)>& fn, size_t max_threads) {
  if (max_threads == 0) max_threads = std::max(1u, std::thread::hardware_concurrency());
  const size_t threads = std::min(n, max_threads);
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next.fetch_add(1); i < n; i = next.fetch_add(1)) fn(i);
  };
  std::vector<std::jthread> helpers;
  for (size_t t = 1; t < threads; ++t) helpers.emplace_back(work);
  work();
}

}  // namespace vesta::core
