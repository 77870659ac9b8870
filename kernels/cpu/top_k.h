#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace vesta::kernels {

// One search result: a row of the index and its score.
struct Neighbor {
  float score = 0.0f;
  uint64_t row = 0;
  friend bool operator==(const Neighbor&, const Neighbor&) = default;
};

// The largest k supported by every search path.
inline constexpr size_t kMaxTopK = 1024;

// Exact top-k selection with a strict total order, so results never depend on
// the order rows were offered in: a neighbour is better when its score is
// better (higher or lower, fixed at construction) or, on equal scores, when
// its row is smaller. Keeps a bounded binary heap whose root is the worst kept
// neighbour. Not thread-safe; one per query per thread, merged afterwards.
class TopKCollector {
 public:
  TopKCollector() = default;
  TopKCollector(size_t k, bool higher_is_better);

  size_t k() const { return k_; }
  size_t size() const { return heap_.size(); }
  bool higher_is_better() const { return higher_is_better_; }

  // Offers one neighbour; O(1) when it is rejected, O(log k) when kept.
  void push(float score, uint64_t row) {
    const Entry entry{higher_is_better_ ? -score : score, row};
    if (heap_.size() < k_) {
      push_heap(entry);
    } else if (k_ > 0 && entry < heap_.front()) {
      replace_top(entry);
    }
  }

  // True when a neighbour with this score could still be kept (cheap pre-test).
  bool could_keep(float score) const {
    if (heap_.size() < k_) return true;
    const float key = higher_is_better_ ? -score : score;
    return k_ > 0 && key <= heap_.front().key;
  }

  // Offers scores[i] with row first_row + i for i < n: the same as n push()
  // calls, with a cheap threshold test first (most rows are rejected).
  void push_all(const float* scores, size_t n, uint64_t first_row);

  // Offers every neighbour `other` holds (same k and direction).
  void merge(const TopKCollector& other);

  // The kept neighbours, best first; leaves the collector empty.
  std::vector<Neighbor> take_sorted();

 private:
  // key = score for lower-is-better, -score for higher-is-better; smaller
  // (key, row) is better, so the heap is a max-heap on (key, row).
  struct Entry {
    float key;
    uint64_t row;
    bool operator<(const Entry& o) const { return key < o.key || (key == o.key && row < o.row); }
  };
  void push_heap(const Entry& entry);
  void replace_top(const Entry& entry);

  size_t k_ = 0;
  bool higher_is_better_ = true;
  std::vector<Entry> heap_;
};

// The best min(k, scores.size()) of scores[i] (row = i), best first.
std::vector<Neighbor> select_top_k(std::span<const float> scores, size_t k, bool higher_is_better);

}  // namespace vesta::kernels
