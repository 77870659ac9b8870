#pragma once

#include <cstddef>
#include <functional>

namespace vesta::core {

// Runs fn(i) for every i in [0, n) on up to `max_threads` threads (0: one per
// hardware thread), started for the call and joined before it returns; the
// calling thread is one of them. For one-off bulk work outside the search
// pool (snapshot coding, restores); fn must be thread-safe across indexes.
void parallel_for(size_t n, const std::function<void(size_t)>& fn, size_t max_threads = 0);

}  // namespace vesta::core
