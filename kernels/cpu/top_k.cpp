#include "kernels/cpu/top_k.h"

#include <algorithm>

#include "core/check.h"

namespace vesta::kernels {

TopKCollector::TopKCollector(size_t k, bool higher_is_better)
    : k_(k), higher_is_better_(higher_is_better) {
  VESTA_CHECK(k <= kMaxTopK) << "k = " << k << " exceeds " << kMaxTopK;
  heap_.reserve(k);
}

void TopKCollector::push_heap(const Entry& entry) {
  heap_.push_back(entry);
  size_t i = heap_.size() - 1;
  while (i > 0) {
    const size_t parent = (i - 1) / 2;
    if (!(heap_[parent] < heap_[i])) break;
    std::swap(heap_[parent], heap_[i]);
    i = parent;
  }
}

void TopKCollector::replace_top(const Entry& entry) {
  const size_t n = heap_.size();
  size_t i = 0;
  for (;;) {
    const size_t left = 2 * i + 1;
    if (left >= n) break;
    size_t larger = left;
    if (left + 1 < n && heap_[left] < heap_[left + 1]) larger = left + 1;
    if (!(entry < heap_[larger])) break;
    heap_[i] = heap_[larger];
    i = larger;
  }
  heap_[i] = entry;
}

void TopKCollector::push_all(const float* scores, size_t n, uint64_t first_row) {
  if (k_ == 0) return;
  size_t i = 0;
  for (; i < n && heap_.size() < k_; ++i) push(scores[i], first_row + i);
  // Full: only a score at least as good as the worst kept one can enter (an
  // equal score may still win on row). The threshold is re-read after each
  // insertion, which makes it stricter.
  if (i == n) return;
  float worst = higher_is_better_ ? -heap_.front().key : heap_.front().key;
  if (higher_is_better_) {
    for (; i < n; ++i) {
      if (scores[i] >= worst) {
        push(scores[i], first_row + i);
        worst = -heap_.front().key;
      }
    }
  } else {
    for (; i < n; ++i) {
      if (scores[i] <= worst) {
        push(scores[i], first_row + i);
        worst = heap_.front().key;
      }
    }
  }
}

void TopKCollector::merge(const TopKCollector& other) {
  VESTA_CHECK(other.k_ == k_ && other.higher_is_better_ == higher_is_better_)
      << "merging collectors of different shape";
  for (const Entry& e : other.heap_) {
    if (heap_.size() < k_) {
      push_heap(e);
    } else if (k_ > 0 && e < heap_.front()) {
      replace_top(e);
    }
  }
}

std::vector<Neighbor> TopKCollector::take_sorted() {
  std::sort(heap_.begin(), heap_.end());
  std::vector<Neighbor> out;
  out.reserve(heap_.size());
  for (const Entry& e : heap_) out.push_back({higher_is_better_ ? -e.key : e.key, e.row});
  heap_.clear();
  return out;
}

std::vector<Neighbor> select_top_k(std::span<const float> scores, size_t k, bool higher_is_better) {
  TopKCollector collector(k, higher_is_better);
  for (size_t i = 0; i < scores.size(); ++i) collector.push(scores[i], i);
  return collector.take_sorted();
}

}  // namespace vesta::kernels
