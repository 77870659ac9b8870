#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/default_init_allocator.h"
#include "core/point_id.h"
#include "core/status.h"
#include "index/metric.h"
#include "index/payload_index.h"

namespace vesta::index {

// The vectors, ids, tombstones and payloads of one collection, in host memory.
//
// Rows are float16, stored with the padded stride of kernels/cpu/distance.h
// (zeros after `dim`). Each live point owns one row; `id_to_row` maps ids to
// rows. Overwriting a live point rewrites its row in place; deleting sets its
// tombstone bit and drops it from the map, so a later upsert of the same id
// gets a fresh row and never sees stale data. compact() moves live rows down
// over tombstones (row numbers change; generation() counts such changes).
//
// Not thread-safe: Collection guards it with the LockManager (shared for
// reads, exclusive for writes). Invariant: for every live row r,
// id_to_row[row_id(r)] == r and the tombstone bit of r is clear.
class FlatIndex {
 public:
  FlatIndex(size_t dim, Metric metric);

  size_t dim() const { return dim_; }
  size_t stride() const { return stride_; }
  Metric metric() const { return metric_; }
  size_t live_count() const { return id_to_row_.size(); }
  size_t row_count() const { return row_ids_.size(); }
  size_t tombstone_count() const { return row_count() - live_count(); }
  // Bumped whenever row numbers change (compaction).
  uint64_t generation() const { return generation_; }

  // For mirrors of the rows (the GPU searcher), which follow the index by
  // looking at what changed rather than copying everything:
  // - instance_id(): unique per FlatIndex of the process, never reused;
  // - rows [0, row_count()) only grow within one generation, and a row is
  //   rewritten in place only by an overwrite, listed in rewritten_rows()
  //   (oldest first; cleared when the generation changes);
  // - tombstone_version(): bumped whenever a tombstone bit changes.
  uint64_t instance_id() const { return instance_id_; }
  std::span<const uint64_t> rewritten_rows() const { return rewritten_rows_; }
  uint64_t tombstone_version() const { return tombstone_version_; }

  // Checks a vector for this index: length, finite, within float16 range.
  // `what` names it in the error ("vector of point 7").
  core::Status validate_vector(std::span<const float> vector, std::string_view what) const;

  // Inserts or overwrites. The vector must have passed validate_vector();
  // Cosine vectors are normalised here. The payload is a JSON object or null.
  void upsert(const core::PointId& id, std::span<const float> vector, nlohmann::json payload);
  // Makes room for `points` more rows (loading a snapshot).
  void reserve(size_t points);
  // Inserts or overwrites with a row as stored (`dim` float16 bit patterns,
  // already normalised for Cosine), bit for bit.
  void upsert_halves(const core::PointId& id, std::span<const uint16_t> halves,
                     nlohmann::json payload);
  // Fills an empty index with points as stored (how snapshots are loaded):
  // `rows` holds ids.size() rows of `dim` values (already normalised for
  // Cosine), payloads are JSON objects or null. Leaves what upsert_halves()
  // point after point would (point i in row i; a repeated id overwrites the
  // earlier one's row), without copying: the vectors are taken over (the
  // rows as they are when stride() == dim, else copied into padded rows on
  // every core).
  void load(std::vector<core::PointId> ids, core::HalfVector rows,
            std::vector<nlohmann::json> payloads);
  // True when the id was live.
  bool remove(const core::PointId& id);
  // Replaces the payload of a live point; false when the id is unknown.
  bool set_payload(const core::PointId& id, nlohmann::json payload);

  std::optional<uint64_t> find_row(const core::PointId& id) const;
  bool is_live(uint64_t row) const {
    return (tombstones_[row / 64] & (uint64_t{1} << (row % 64))) == 0;
  }
  const core::PointId& row_id(uint64_t row) const { return row_ids_[row]; }
  const nlohmann::json& row_payload(uint64_t row) const {
    return payloads_[row] != nullptr ? *payloads_[row] : null_payload();
  }
  // The payload of a row as shared with the index (null for none): it never
  // changes (a write replaces the pointer, never the JSON it points to), so a
  // copy of the pointers taken under the collection's lock can be read after
  // the lock is released (how snapshots copy payloads).
  const std::shared_ptr<const nlohmann::json>& shared_payload(uint64_t row) const {
    return payloads_[row];
  }
  // The stored vector of a row as float32 (normalised for Cosine), `dim` values.
  std::vector<float> row_vector(uint64_t row) const;

  // Raw storage for the searchers: row_count() rows of stride() halves.
  const uint16_t* rows() const { return rows_.data(); }
  // One bit per row (word r / 64, bit r % 64), set for tombstones.
  const uint64_t* tombstones() const { return tombstones_.data(); }

  // Rewrites rows without tombstones, keeping their relative order. Returns
  // the number of rows reclaimed.
  size_t compact();

  // ---- A frozen view, for snapshots that do not copy the collection ----
  // freeze() fixes a view of rows [0, row_count()) as they are now; until
  // thaw(), a write that changes one of them (an overwrite, a delete, a
  // payload change) first keeps the row's before-image (its values and
  // payload), and compact() does nothing (returns 0). Rows added meanwhile
  // are not in the view. frozen_row(r) reads row r (< frozen_row_count()) of
  // the view. One view at a time; freezing a frozen index is a bug. Like
  // every other call, under the collection's lock: freeze, thaw and
  // frozen_row under the shared lock at least, as they change nothing that a
  // reader reads and writers (exclusive) cannot run beside them.
  void freeze();
  void thaw();
  bool frozen() const { return frozen_; }
  uint64_t frozen_row_count() const { return frozen_rows_; }
  size_t frozen_live_count() const { return frozen_live_; }
  struct FrozenRow {
    bool live = false;
    const uint16_t* values = nullptr;                                // `dim` values
    const std::shared_ptr<const nlohmann::json>* payload = nullptr;  // null pointee: none
  };
  FrozenRow frozen_row(uint64_t row) const;
  // Rows whose before-images are kept (what the view costs in memory).
  size_t before_image_count() const { return before_images_.size(); }

  // Payload indexes, kept in step with every write. Creating one that exists
  // with the same schema does nothing; with another schema it is rebuilt.
  void create_payload_index(const std::string& key, PayloadSchema schema);
  bool drop_payload_index(const std::string& key);  // false when there was none
  const std::map<std::string, PayloadIndex>& payload_indexes() const { return payload_indexes_; }
  // The live rows that may satisfy all of `conditions`, from the indexes that
  // can answer some of them (intersected, sorted); nullopt when none can.
  std::optional<std::vector<uint64_t>> indexed_candidates(
      const std::vector<IndexableCondition>& conditions) const;

 private:
  // The row of `id` with its payload stored (a new row when the id is not
  // live); the caller writes the row's values.
  uint64_t place(const core::PointId& id, nlohmann::json payload);
  static const nlohmann::json& null_payload();
  // Keeps `row`'s before-image while frozen (once: the first change is the
  // one the view needs).
  void keep_before_image(uint64_t row);
  void write_row(uint64_t row, std::span<const float> vector);

  size_t dim_;
  size_t stride_;
  Metric metric_;
  core::HalfVector rows_;  // padding written explicitly (zeros)
  std::vector<core::PointId> row_ids_;
  // Null for a point without a payload; never changed once shared.
  std::vector<std::shared_ptr<const nlohmann::json>> payloads_;
  std::vector<uint64_t> tombstones_;
  std::unordered_map<core::PointId, uint64_t> id_to_row_;
  uint64_t generation_ = 0;
  uint64_t instance_id_;
  std::vector<uint64_t> rewritten_rows_;
  uint64_t tombstone_version_ = 0;
  std::map<std::string, PayloadIndex> payload_indexes_;
  // The frozen view (freeze()).
  struct BeforeImage {
    std::vector<uint16_t> values;  // dim of them
    std::shared_ptr<const nlohmann::json> payload;
  };
  bool frozen_ = false;
  uint64_t frozen_rows_ = 0;
  size_t frozen_live_ = 0;
  std::unordered_map<uint64_t, BeforeImage> before_images_;
};

}  // namespace vesta::index
