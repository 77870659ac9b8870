#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/lock_manager.h"
#include "core/point_id.h"
#include "core/status.h"
#include "index/flat_index.h"
#include "index/search_batcher.h"
#include "index/searcher.h"
#include "index/write_journal.h"

namespace vesta::index {

// A stored point as read back.
struct StoredPoint {
  core::PointId id;
  std::vector<float> vector;  // as stored: float16 precision, normalised for Cosine
  nlohmann::json payload;
};

// Decides whether a point may appear in search results (payload filters).
using PointFilter = std::function<bool(const core::PointId& id, const nlohmann::json& payload)>;

struct SearchParams {
  size_t limit = 10;   // k; at most kernels::kMaxTopK
  PointFilter filter;  // optional
  // Conditions of `filter` a payload index may narrow down (optional; the
  // filter alone decides, these only make it cheaper).
  std::vector<IndexableCondition> indexable;
  bool with_payload = false;
  bool with_vector = false;
  // How long to wait for the collection lock, and the request's cancellation
  // (which also ends a wait for its batch).
  core::LockOptions lock;
};

struct ScoredPoint {
  core::PointId id;
  float score = 0.0f;         // Cosine/Dot: higher is better; Euclid: distance
  nlohmann::json payload;     // null unless with_payload
  std::vector<float> vector;  // empty unless with_vector
};

class Collection;

// A collection's live points as they were when Collection::freeze() was
// called, read in row order a group at a time, each group under the
// collection's shared lock for the time of its copy: a snapshot round reads
// the collection without copying it whole and holds writes up for one group
// at most. Writes go on meanwhile; those that change a frozen row keep its
// before-image (FlatIndex::freeze), so the view stays as it was, and
// compaction waits. Released (thawed) when destroyed, under the exclusive
// lock, running the compaction that waited if it is due; the collection must
// outlive it. Not thread-safe.
class FrozenCollection {
 public:
  ~FrozenCollection();
  FrozenCollection(const FrozenCollection&) = delete;
  FrozenCollection& operator=(const FrozenCollection&) = delete;

  size_t count() const { return count_; }  // live points in the view
  uint64_t journal_sequence() const { return journal_sequence_; }
  const std::map<std::string, PayloadSchema>& payload_indexes() const { return payload_indexes_; }
  // Appends to the three the next min(n, count() - read) points of the
  // view: their ids, rows (dim values each, as stored) and payloads (shared
  // with the index, never changed; null for none). The vectors grow before
  // the lock is taken.
  core::Status read(size_t n, std::vector<core::PointId>* ids, core::HalfVector* rows,
                    std::vector<std::shared_ptr<const nlohmann::json>>* payloads);
  size_t points_read() const { return read_; }
  // Rows whose before-images the index keeps for this view now.
  size_t before_images() const;

 private:
  friend class Collection;
  FrozenCollection(Collection& collection, std::unique_lock<std::mutex> turn,
                   core::LockOptions lock)
      : collection_(collection), turn_(std::move(turn)), lock_(lock) {}

  Collection& collection_;
  std::unique_lock<std::mutex> turn_;  // the collection's freeze_mutex_
  core::LockOptions lock_;
  size_t count_ = 0;
  uint64_t journal_sequence_ = 0;
  std::map<std::string, PayloadSchema> payload_indexes_;
  uint64_t next_row_ = 0;  // where read() goes on
  size_t read_ = 0;
};

// A named collection: its FlatIndex, the Searcher that answers its queries,
// and the locking protocol around them.
//
// Locking (through the shared LockManager): writers take keyed locks on the
// point ids they touch (namespace "points/<name>", sorted, all-or-nothing)
// and then the collection lock exclusively; readers take the collection lock
// shared. Lock order: point keys before the collection lock, never the
// reverse. Thread-safe. Writes validate the whole batch before applying any
// of it, so a rejected batch changes nothing.
class Collection {
 public:
  // `journal` (optional, borrowed) makes writes durable before they apply.
  Collection(CollectionConfig config, core::LockManager& locks, Searcher& searcher,
             BatchingOptions batching = {}, WriteJournal* journal = nullptr);
  ~Collection();  // tells the searcher to forget the index
  Collection(const Collection&) = delete;
  Collection& operator=(const Collection&) = delete;

  const CollectionConfig& config() const { return config_; }

  core::Status upsert(std::vector<PointWrite> points, const core::LockOptions& lock = {});

  // An upsert or delete logged with an attachment in one journal record
  // (WriteJournal::log), for writes that must reach somewhere else too
  // (graph operations). Takes the keyed locks of `lock_ids` (the write's ids
  // and any others the caller needs held), then checks that every point of
  // `must_exist` is live (else kUnprocessable with its `missing` text),
  // then logs and applies. Needs a journal. Returns the log sequence.
  struct AttachedWrite {
    std::variant<UpsertPoints, DeletePoints> write;
    std::vector<core::PointId> lock_ids;
    struct Required {
      core::PointId id;
      std::string missing;  // the error when it is not live
    };
    std::vector<Required> must_exist;
    std::string attachment;
  };
  core::Result<uint64_t> write_attached(AttachedWrite request, const core::LockOptions& lock = {});
  // Returns how many of `ids` were live (and are now deleted).
  core::Result<size_t> remove(std::span<const core::PointId> ids,
                              const core::LockOptions& lock = {});
  core::Result<std::optional<StoredPoint>> get(const core::PointId& id,
                                               const core::LockOptions& lock = {});
  core::Result<size_t> count(const core::LockOptions& lock = {});
  // Points the filter keeps.
  // The filter methods below take the conditions of the filter a payload
  // index may narrow down (PayloadFilter::indexable_conditions(); optional:
  // the filter alone decides, they only make it cheaper), as searches do.
  core::Result<size_t> count_matching(const PointFilter& filter,
                                      const std::vector<IndexableCondition>& indexable = {},
                                      const core::LockOptions& lock = {});
  // Deletes the points the filter keeps; returns how many. Points written
  // while it runs may or may not be seen (as with Qdrant).
  core::Result<size_t> remove_matching(const PointFilter& filter,
                                       const std::vector<IndexableCondition>& indexable = {},
                                       const core::LockOptions& lock = {});

  // Applies `update` to the payload of each live point of `ids` (a null
  // payload counts as an empty object); returns how many were live.
  core::Result<size_t> update_payloads(std::span<const core::PointId> ids,
                                       const PayloadUpdate& update,
                                       const core::LockOptions& lock = {});
  // The live points the filter keeps (for payload updates by filter).
  core::Result<std::vector<core::PointId>> ids_matching(
      const PointFilter& filter, const std::vector<IndexableCondition>& indexable = {},
      const core::LockOptions& lock = {});

  // One page of points in id order (numbers, then UUIDs, then strings),
  // starting at `offset` (inclusive) when given.
  struct ScrollPage {
    std::vector<StoredPoint> points;                // vector empty unless with_vector
    std::optional<core::PointId> next_page_offset;  // first id of the next page
  };
  core::Result<ScrollPage> scroll(const std::optional<core::PointId>& offset, size_t limit,
                                  const PointFilter& filter,
                                  const std::vector<IndexableCondition>& indexable,
                                  bool with_payload, bool with_vector,
                                  const core::LockOptions& lock = {});

  // Nearest neighbours of one query (dim values).
  core::Result<std::vector<ScoredPoint>> search(std::span<const float> query,
                                                const SearchParams& params);
  // Nearest neighbours of n_queries queries stored row after row. Unfiltered
  // searches go through the collection's SearchBatcher, so concurrent ones may
  // share one searcher call (same results as alone).
  core::Result<std::vector<std::vector<ScoredPoint>>> search_batch(std::span<const float> queries,
                                                                   size_t n_queries,
                                                                   const SearchParams& params);

  // Payload indexes (PUT/DELETE /collections/{name}/index): exclusive lock.
  core::Status create_payload_index(const std::string& key, PayloadSchema schema,
                                    const core::LockOptions& lock = {});
  // True when there was one.
  core::Result<bool> delete_payload_index(const std::string& key,
                                          const core::LockOptions& lock = {});
  struct PayloadIndexInfo {
    PayloadSchema schema;
    size_t points;  // points with an indexed value
  };
  core::Result<std::map<std::string, PayloadIndexInfo>> payload_schema(
      const core::LockOptions& lock = {});

  // Applies a write read back from the journal (not logged again): at
  // recovery, and in processes sharing a journal, writes of other processes
  // (and their own) in log order. Returns what applying it counted.
  core::Result<size_t> replay(CollectionWrite write);
  // A copy of the live points for a snapshot, with the journal watermark
  // read under the same lock (shared): freeze() read whole.
  core::Result<CollectionSnapshot> snapshot(const core::LockOptions& lock = {});
  // The live points as they are now, to be read a group at a time
  // (FrozenCollection) without copying the collection. One at a time per
  // collection: a second freeze() waits until the first is released.
  core::Result<std::unique_ptr<FrozenCollection>> freeze(const core::LockOptions& lock = {});
  // Loads a snapshot into this collection, which must be empty (Conflict
  // when it is not); its rows, ids and payloads are taken over, not copied.
  core::Status restore(CollectionSnapshot snapshot);

  // Reclaims tombstoned rows now (also done automatically after deletes once
  // tombstones exceed a quarter of the rows).
  core::Result<size_t> compact(const core::LockOptions& lock = {});

 private:
  std::string lock_namespace() const { return "points/" + config_.name; }
  // The write protocol: keys of `ids`, then journal_->log(), then the
  // collection lock exclusively, then apply. Returns what apply returned.
  core::Result<size_t> write(CollectionWrite write, std::span<const core::PointId> ids,
                             const core::LockOptions& lock);
  // The rest of write() once the keyed locks are held; `sequence` (may be
  // null) receives the log sequence.
  core::Result<size_t> log_and_apply(CollectionWrite& write, std::string_view attachment,
                                     uint64_t* sequence);
  // Upserted points checked before anything is written.
  core::Status validate_points(const std::vector<PointWrite>& points) const;
  // Applies a write; the caller holds the exclusive collection lock. Returns
  // how many points it touched (upserted, deleted, updated; for index
  // writes 1 when an index was dropped). May move from `write`.
  size_t apply_locked(CollectionWrite& write);
  // Payload index writes: the collection lock, then the log, then apply.
  core::Result<size_t> write_index_change(CollectionWrite write, const core::LockOptions& lock);
  void maybe_compact();  // caller holds the exclusive collection lock
  // Calls fn(row) for each live row the filter keeps (every live row for a
  // null filter), in row order, visiting only the candidates of the payload
  // indexes `indexable` can use; the caller holds the collection lock.
  void for_each_matching(const PointFilter& filter,
                         const std::vector<IndexableCondition>& indexable,
                         const std::function<void(uint64_t row)>& fn) const;

  CollectionConfig config_;
  core::LockManager& locks_;
  Searcher& searcher_;
  FlatIndex index_;  // guarded by the collection lock
  SearchBatcher batcher_;
  // What the searcher said after the last search: how many batches of this
  // collection may run at once (SearchBatcher's runners).
  std::atomic<size_t> side_by_side_{1};
  WriteJournal* journal_;  // optional
  // Held by the FrozenCollection of this collection, if any.
  std::mutex freeze_mutex_;
  friend class FrozenCollection;

 public:
  BatchingStats batching_stats() const { return batcher_.stats(); }
};

}  // namespace vesta::index
