#include "index/collection.h"

#include <algorithm>
#include <chrono>
#include <string>
#include <variant>

#include "core/parallel_for.h"
#include "kernels/cpu/top_k.h"

namespace vesta::index {
namespace {

// Compaction starts when tombstones exceed both this count and a quarter of the rows.
constexpr size_t kCompactMinTombstones = 1024;

// A lock key that keeps the id kinds apart ("n:5" is not "s:5").
std::string id_key(const core::PointId& id) {
  switch (id.kind()) {
    case core::PointIdKind::kNumber: return "n:" + id.to_string();
    case core::PointIdKind::kUuid: return "u:" + id.to_string();
    case core::PointIdKind::kString: return "s:" + id.to_string();
  }
  return id.to_string();
}

std::vector<std::string> id_keys(std::span<const core::PointId> ids) {
  std::vector<std::string> keys;
  keys.reserve(ids.size());
  for (const core::PointId& id : ids) keys.push_back(id_key(id));
  return keys;
}

}  // namespace

Collection::Collection(CollectionConfig config, core::LockManager& locks, Searcher& searcher,
                       BatchingOptions batching, WriteJournal* journal)
    : config_(std::move(config)),
      locks_(locks),
      searcher_(searcher),
      index_(config_.dim, config_.metric),
      batcher_(config_.dim, batching),
      journal_(journal) {}

Collection::~Collection() { searcher_.forget(index_); }

core::Result<size_t> Collection::write(CollectionWrite write, std::span<const core::PointId> ids,
                                       const core::LockOptions& lock) {
  core::Result<core::KeyLockGuard> keys = locks_.lock_keys(lock_namespace(), id_keys(ids), lock);
  if (!keys.is_ok()) return keys.status();
  if (journal_ == nullptr) {
    core::Result<core::CollectionLockGuard> guard =
        locks_.lock_collection_exclusive(config_.name, lock);
    if (!guard.is_ok()) return guard.status();
    return apply_locked(write);
  }
  return log_and_apply(write, {}, nullptr);
}

core::Result<size_t> Collection::log_and_apply(CollectionWrite& write, std::string_view attachment,
                                               uint64_t* sequence) {
  core::Result<LoggedWrite> logged = journal_->log(config_, write, attachment);
  if (!logged.is_ok()) return logged.status();
  if (sequence != nullptr) *sequence = logged.value().sequence;
  if (logged.value().applied) return logged.value().touched;
  // A logged write will be replayed after a crash, so it is applied now
  // whatever the request's deadline: the collection lock is waited for
  // without one (its holders never wait on anything this write holds).
  core::Result<core::CollectionLockGuard> guard =
      locks_.lock_collection_exclusive(config_.name, {std::chrono::hours(24), nullptr});
  VESTA_CHECK(guard.is_ok()) << "a logged write could not lock collection '" << config_.name
                             << "': " << guard.status().message();
  const size_t touched = apply_locked(write);
  journal_->applied(logged.value().sequence);
  return touched;
}

core::Result<uint64_t> Collection::write_attached(AttachedWrite request,
                                                  const core::LockOptions& lock) {
  if (journal_ == nullptr) {
    return core::Status(core::StatusCode::kUnavailable,
                        "collection '" + config_.name + "' keeps no log to write this to");
  }
  if (auto* upsert = std::get_if<UpsertPoints>(&request.write)) {
    VESTA_RETURN_IF_ERROR(validate_points(upsert->points));
  }
  core::Result<core::KeyLockGuard> keys =
      locks_.lock_keys(lock_namespace(), id_keys(request.lock_ids), lock);
  if (!keys.is_ok()) return keys.status();
  if (!request.must_exist.empty()) {
    core::Result<core::CollectionLockGuard> guard =
        locks_.lock_collection_shared(config_.name, lock);
    if (!guard.is_ok()) return guard.status();
    for (const AttachedWrite::Required& required : request.must_exist) {
      if (!index_.find_row(required.id)) {
        return core::Status(core::StatusCode::kUnprocessable, required.missing);
      }
    }
  }
  CollectionWrite write =
      std::visit([](auto& w) -> CollectionWrite { return std::move(w); }, request.write);
  uint64_t sequence = 0;
  core::Result<size_t> written = log_and_apply(write, request.attachment, &sequence);
  if (!written.is_ok()) return written.status();
  return sequence;
}

core::Status Collection::validate_points(const std::vector<PointWrite>& points) const {
  for (size_t i = 0; i < points.size(); ++i) {
    const PointWrite& p = points[i];
    const std::string what =
        "vector of point " + p.id.to_string() + " (points[" + std::to_string(i) + "])";
    VESTA_RETURN_IF_ERROR(index_.validate_vector(p.vector, what));
    if (!p.payload.is_object() && !p.payload.is_null()) {
      return core::invalid_argument("payload of point " + p.id.to_string() + " (points[" +
                                    std::to_string(i) + "]) must be a JSON object");
    }
  }
  return core::Status::ok();
}

size_t Collection::apply_locked(CollectionWrite& write) {
  struct Apply {
    Collection& c;
    size_t operator()(UpsertPoints& w) const {
      for (PointWrite& p : w.points) c.index_.upsert(p.id, p.vector, std::move(p.payload));
      return w.points.size();
    }
    size_t operator()(DeletePoints& w) const {
      size_t removed = 0;
      for (const core::PointId& id : w.ids) removed += c.index_.remove(id) ? 1 : 0;
      c.maybe_compact();
      return removed;
    }
    size_t operator()(UpdatePayloads& w) const {
      size_t updated = 0;
      for (const core::PointId& id : w.ids) {
        const std::optional<uint64_t> row = c.index_.find_row(id);
        if (!row) continue;
        nlohmann::json payload = c.index_.row_payload(*row);
        if (payload.is_null()) payload = nlohmann::json::object();
        w.update.apply(payload);
        VESTA_CHECK(payload.is_object()) << "a payload update produced a non-object";
        c.index_.set_payload(id, std::move(payload));
        ++updated;
      }
      return updated;
    }
    size_t operator()(CreatePayloadIndex& w) const {
      c.index_.create_payload_index(w.key, w.schema);
      return 0;
    }
    size_t operator()(DropPayloadIndex& w) const {
      return c.index_.drop_payload_index(w.key) ? 1 : 0;
    }
  };
  const size_t touched = std::visit(Apply{*this}, write);
  searcher_.index_changed(index_);
  return touched;
}

core::Status Collection::upsert(std::vector<PointWrite> points, const core::LockOptions& lock) {
  if (points.empty()) return core::Status::ok();
  VESTA_RETURN_IF_ERROR(validate_points(points));
  std::vector<core::PointId> ids;
  ids.reserve(points.size());
  for (const PointWrite& p : points) ids.push_back(p.id);
  core::Result<size_t> written = write(UpsertPoints{std::move(points)}, ids, lock);
  return written.status();
}

core::Result<size_t> Collection::remove(std::span<const core::PointId> ids,
                                        const core::LockOptions& lock) {
  if (ids.empty()) return size_t{0};
  return write(DeletePoints{{ids.begin(), ids.end()}}, ids, lock);
}

core::Result<size_t> Collection::replay(CollectionWrite write) {
  if (auto* upsert = std::get_if<UpsertPoints>(&write)) {
    for (const PointWrite& p : upsert->points) {
      VESTA_RETURN_IF_ERROR(
          index_.validate_vector(p.vector, "vector of point " + p.id.to_string()));
    }
  }
  // Without a deadline, as for a logged write: it must apply.
  core::Result<core::CollectionLockGuard> guard =
      locks_.lock_collection_exclusive(config_.name, {std::chrono::hours(24), nullptr});
  if (!guard.is_ok()) return guard.status();
  return apply_locked(write);
}

core::Result<std::unique_ptr<FrozenCollection>> Collection::freeze(const core::LockOptions& lock) {
  std::unique_lock turn(freeze_mutex_);
  core::Result<core::CollectionLockGuard> guard = locks_.lock_collection_shared(config_.name, lock);
  if (!guard.is_ok()) return guard.status();
  std::unique_ptr<FrozenCollection> frozen(new FrozenCollection(*this, std::move(turn), lock));
  frozen->journal_sequence_ = journal_ != nullptr ? journal_->watermark() : 0;
  for (const auto& [key, index] : index_.payload_indexes()) {
    frozen->payload_indexes_.emplace(key, index.schema());
  }
  index_.freeze();
  frozen->count_ = index_.frozen_live_count();
  return frozen;
}

FrozenCollection::~FrozenCollection() {
  // Without a deadline: the view must be released. Exclusively, so that a
  // compaction the view held back runs now.
  core::Result<core::CollectionLockGuard> guard = collection_.locks_.lock_collection_exclusive(
      collection_.config_.name, {std::chrono::hours(24), nullptr});
  VESTA_CHECK(guard.is_ok()) << "releasing the frozen view of collection '"
                             << collection_.config_.name << "': " << guard.status().to_string();
  collection_.index_.thaw();
  const uint64_t generation = collection_.index_.generation();
  collection_.maybe_compact();
  if (collection_.index_.generation() != generation) {
    collection_.searcher_.index_changed(collection_.index_);
  }
}

size_t FrozenCollection::before_images() const {
  core::Result<core::CollectionLockGuard> guard =
      collection_.locks_.lock_collection_shared(collection_.config_.name, lock_);
  return guard.is_ok() ? collection_.index_.before_image_count() : 0;
}

core::Status FrozenCollection::read(size_t n, std::vector<core::PointId>* ids,
                                    core::HalfVector* rows,
                                    std::vector<std::shared_ptr<const nlohmann::json>>* payloads) {
  const size_t take = std::min(n, count_ - read_);
  const size_t dim = collection_.config_.dim;
  // Room made (and the rows' memory touched) before the lock: a fresh
  // allocation's page faults would cost more than the copy.
  const size_t first = ids->size();
  const size_t first_value = rows->size();
  ids->reserve(first + take);
  rows->resize(first_value + take * dim);
  std::fill(rows->begin() + static_cast<ptrdiff_t>(first_value), rows->end(), uint16_t{0});
  payloads->reserve(payloads->size() + take);
  core::Result<core::CollectionLockGuard> guard =
      collection_.locks_.lock_collection_shared(collection_.config_.name, lock_);
  if (!guard.is_ok()) {
    rows->resize(first_value);
    return guard.status();
  }
  const FlatIndex& index = collection_.index_;
  uint16_t* to = rows->data() + first_value;
  while (ids->size() - first < take) {
    VESTA_CHECK(next_row_ < index.frozen_row_count())
        << "the frozen view of collection '" << collection_.config_.name << "' holds " << count_
        << " points, " << read_ + ids->size() - first << " found";
    const uint64_t row = next_row_++;
    const FlatIndex::FrozenRow frozen = index.frozen_row(row);
    if (!frozen.live) continue;
    ids->push_back(index.row_id(row));
    to = std::copy_n(frozen.values, dim, to);
    payloads->push_back(*frozen.payload);
  }
  read_ += take;
  return core::Status::ok();
}

core::Result<CollectionSnapshot> Collection::snapshot(const core::LockOptions& lock) {
  core::Result<std::unique_ptr<FrozenCollection>> frozen = freeze(lock);
  if (!frozen.is_ok()) return frozen.status();
  FrozenCollection& view = *frozen.value();
  CollectionSnapshot out;
  out.journal_sequence = view.journal_sequence();
  out.payload_indexes = view.payload_indexes();
  const size_t n = view.count();
  // A group at a time, so that writes wait for one group's copy at most;
  // the payloads are written out as text after, on every core.
  out.ids.reserve(n);
  out.rows.reserve(n * config_.dim);
  std::vector<std::shared_ptr<const nlohmann::json>> payloads;
  payloads.reserve(n);
  constexpr size_t kGroup = 16384;
  while (view.points_read() < n) {
    VESTA_RETURN_IF_ERROR(view.read(kGroup, &out.ids, &out.rows, &payloads));
  }
  frozen.value().reset();
  out.payloads.resize(n);
  constexpr size_t kSlice = 4096;
  core::parallel_for((n + kSlice - 1) / kSlice, [&](size_t slice) {
    for (size_t i = slice * kSlice; i < std::min(n, (slice + 1) * kSlice); ++i) {
      if (payloads[i] != nullptr) out.payloads[i] = payloads[i]->dump();
      payloads[i].reset();
    }
  });
  return out;
}

core::Status Collection::restore(CollectionSnapshot snapshot) {
  const size_t dim = config_.dim;
  if (snapshot.rows.size() != snapshot.ids.size() * dim ||
      snapshot.payloads.size() != snapshot.ids.size()) {
    return core::invalid_argument(
        "snapshot of collection '" + config_.name + "' has " + std::to_string(snapshot.ids.size()) +
        " ids, " + std::to_string(snapshot.rows.size()) + " row values and " +
        std::to_string(snapshot.payloads.size()) + " payloads (dim " + std::to_string(dim) + ")");
  }
  // Payload texts are parsed on every core before the lock (nothing else
  // sees this snapshot); each text is released once parsed.
  const size_t n = snapshot.ids.size();
  std::vector<nlohmann::json> payloads(n);
  std::vector<uint8_t> bad(n, 0);
  constexpr size_t kSlice = 4096;
  core::parallel_for((n + kSlice - 1) / kSlice, [&](size_t slice) {
    for (size_t i = slice * kSlice; i < std::min(n, (slice + 1) * kSlice); ++i) {
      if (snapshot.payloads[i].empty()) continue;
      payloads[i] =
          nlohmann::json::parse(snapshot.payloads[i], nullptr, /*allow_exceptions=*/false);
      bad[i] = payloads[i].is_object() ? 0 : 1;
      std::string().swap(snapshot.payloads[i]);
    }
  });
  for (size_t i = 0; i < n; ++i) {
    if (bad[i] != 0) {
      return core::invalid_argument("snapshot of collection '" + config_.name +
                                    "': the payload of point " + snapshot.ids[i].to_string() +
                                    " is not a JSON object");
    }
  }
  core::Result<core::CollectionLockGuard> guard = locks_.lock_collection_exclusive(config_.name);
  if (!guard.is_ok()) return guard.status();
  if (index_.row_count() != 0) {
    return core::Status(core::StatusCode::kConflict,
                        "collection '" + config_.name +
                            "' received writes while a snapshot was loaded into it; retry");
  }
  for (const auto& [key, schema] : snapshot.payload_indexes) {
    index_.create_payload_index(key, schema);
  }
  // The rows, ids and payloads are taken over, not copied.
  index_.load(std::move(snapshot.ids), std::move(snapshot.rows), std::move(payloads));
  searcher_.index_changed(index_);
  return core::Status::ok();
}

void Collection::maybe_compact() {
  const size_t tombstones = index_.tombstone_count();
  if (tombstones > kCompactMinTombstones && tombstones * 4 > index_.row_count()) index_.compact();
}

core::Result<size_t> Collection::compact(const core::LockOptions& lock) {
  core::Result<core::CollectionLockGuard> guard =
      locks_.lock_collection_exclusive(config_.name, lock);
  if (!guard.is_ok()) return guard.status();
  const size_t dropped = index_.compact();
  searcher_.index_changed(index_);
  return dropped;
}

core::Result<std::optional<StoredPoint>> Collection::get(const core::PointId& id,
                                                         const core::LockOptions& lock) {
  core::Result<core::CollectionLockGuard> guard = locks_.lock_collection_shared(config_.name, lock);
  if (!guard.is_ok()) return guard.status();
  const std::optional<uint64_t> row = index_.find_row(id);
  if (!row) return std::optional<StoredPoint>();
  return std::optional<StoredPoint>(
      StoredPoint{id, index_.row_vector(*row), index_.row_payload(*row)});
}

core::Result<size_t> Collection::count(const core::LockOptions& lock) {
  core::Result<core::CollectionLockGuard> guard = locks_.lock_collection_shared(config_.name, lock);
  if (!guard.is_ok()) return guard.status();
  return index_.live_count();
}

void Collection::for_each_matching(const PointFilter& filter,
                                   const std::vector<IndexableCondition>& indexable,
                                   const std::function<void(uint64_t row)>& fn) const {
  auto visit = [&](uint64_t r) {
    if (index_.is_live(r) && (!filter || filter(index_.row_id(r), index_.row_payload(r)))) fn(r);
  };
  const std::optional<std::vector<uint64_t>> candidates =
      indexable.empty() ? std::nullopt : index_.indexed_candidates(indexable);
  if (candidates) {
    for (uint64_t r : *candidates) visit(r);
  } else {
    for (uint64_t r = 0; r < index_.row_count(); ++r) visit(r);
  }
}

core::Result<size_t> Collection::count_matching(const PointFilter& filter,
                                                const std::vector<IndexableCondition>& indexable,
                                                const core::LockOptions& lock) {
  core::Result<core::CollectionLockGuard> guard = locks_.lock_collection_shared(config_.name, lock);
  if (!guard.is_ok()) return guard.status();
  size_t n = 0;
  for_each_matching(filter, indexable, [&](uint64_t) { ++n; });
  return n;
}

core::Result<std::vector<core::PointId>> Collection::ids_matching(
    const PointFilter& filter, const std::vector<IndexableCondition>& indexable,
    const core::LockOptions& lock) {
  core::Result<core::CollectionLockGuard> guard = locks_.lock_collection_shared(config_.name, lock);
  if (!guard.is_ok()) return guard.status();
  std::vector<core::PointId> ids;
  for_each_matching(filter, indexable, [&](uint64_t r) { ids.push_back(index_.row_id(r)); });
  return ids;
}

core::Result<size_t> Collection::remove_matching(const PointFilter& filter,
                                                 const std::vector<IndexableCondition>& indexable,
                                                 const core::LockOptions& lock) {
  core::Result<std::vector<core::PointId>> ids = ids_matching(filter, indexable, lock);
  if (!ids.is_ok()) return ids.status();
  return remove(ids.value(), lock);
}

core::Result<size_t> Collection::update_payloads(std::span<const core::PointId> ids,
                                                 const PayloadUpdate& update,
                                                 const core::LockOptions& lock) {
  if (ids.empty()) return size_t{0};
  if (update.kind == PayloadUpdate::Kind::kSet || update.kind == PayloadUpdate::Kind::kOverwrite) {
    if (!update.payload.is_object()) return core::invalid_argument("payload must be a JSON object");
  }
  return write(UpdatePayloads{{ids.begin(), ids.end()}, update}, ids, lock);
}

core::Result<Collection::ScrollPage> Collection::scroll(
    const std::optional<core::PointId>& offset, size_t limit, const PointFilter& filter,
    const std::vector<IndexableCondition>& indexable, bool with_payload, bool with_vector,
    const core::LockOptions& lock) {
  core::Result<core::CollectionLockGuard> guard = locks_.lock_collection_shared(config_.name, lock);
  if (!guard.is_ok()) return guard.status();
  std::vector<std::pair<core::PointId, uint64_t>> candidates;
  for_each_matching(filter, indexable, [&](uint64_t r) {
    const core::PointId& id = index_.row_id(r);
    if (!offset || !(id < *offset)) candidates.emplace_back(id, r);
  });
  const size_t take = std::min(candidates.size(), limit + 1);
  std::partial_sort(candidates.begin(), candidates.begin() + static_cast<ptrdiff_t>(take),
                    candidates.end(),
                    [](const auto& a, const auto& b) { return a.first < b.first; });
  ScrollPage page;
  for (size_t i = 0; i < std::min(take, limit); ++i) {
    const uint64_t row = candidates[i].second;
    page.points.push_back({candidates[i].first,
                           with_vector ? index_.row_vector(row) : std::vector<float>{},
                           with_payload ? index_.row_payload(row) : nlohmann::json()});
  }
  if (take > limit) page.next_page_offset = candidates[limit].first;
  return page;
}

core::Result<std::vector<ScoredPoint>> Collection::search(std::span<const float> query,
                                                          const SearchParams& params) {
  core::Result<std::vector<std::vector<ScoredPoint>>> batch = search_batch(query, 1, params);
  if (!batch.is_ok()) return batch.status();
  return std::move(std::move(batch).value()[0]);
}

core::Result<std::vector<std::vector<ScoredPoint>>> Collection::search_batch(
    std::span<const float> queries, size_t n_queries, const SearchParams& params) {
  const size_t dim = config_.dim;
  if (params.limit > kernels::kMaxTopK) {
    return core::invalid_argument("limit " + std::to_string(params.limit) +
                                  " exceeds the maximum of " + std::to_string(kernels::kMaxTopK));
  }
  if (queries.size() != n_queries * dim) {
    return core::invalid_argument("query batch has " + std::to_string(queries.size()) +
                                  " values, expected " + std::to_string(n_queries) + " x " +
                                  std::to_string(dim));
  }
  // Validate, and normalise for Cosine, before taking any lock.
  std::vector<float> prepared(queries.begin(), queries.end());
  for (size_t q = 0; q < n_queries; ++q) {
    std::span<float> v(prepared.data() + q * dim, dim);
    VESTA_RETURN_IF_ERROR(index_.validate_vector(v, "query " + std::to_string(q)));
    if (config_.metric == Metric::kCosine) normalise(v);
  }

  std::vector<std::vector<ScoredPoint>> out(n_queries);
  // Rows become points under the lock the search ran under (compaction
  // renumbers rows).
  auto take = [&](const SearchHits& hits, size_t first) {
    for (size_t q = 0; q < n_queries; ++q) {
      const std::vector<kernels::Neighbor>& row_hits = hits[first + q];
      const size_t count = std::min(row_hits.size(), params.limit);
      for (size_t j = 0; j < count; ++j) {
        const kernels::Neighbor& n = row_hits[j];
        ScoredPoint point{
            index_.row_id(n.row), score_from_distance(config_.metric, n.score), nullptr, {}};
        if (params.with_payload) point.payload = index_.row_payload(n.row);
        if (params.with_vector) point.vector = index_.row_vector(n.row);
        out[q].push_back(std::move(point));
      }
    }
  };

  if (!params.filter) {
    // Unfiltered searches may share one searcher call with concurrent ones.
    const core::Status status = batcher_.submit(
        prepared.data(), n_queries, params.limit, take,
        [&](const float* stacked, size_t n, size_t k,
            const std::function<void(const SearchHits&)>& deliver) -> core::Status {
          core::Result<core::CollectionLockGuard> guard =
              locks_.lock_collection_shared(config_.name, params.lock);
          if (!guard.is_ok()) return guard.status();
          core::Result<SearchHits> hits = searcher_.search(index_, {stacked, n, k, nullptr});
          if (!hits.is_ok()) return hits.status();
          deliver(hits.value());
          // For the next requests (read without the lock).
          side_by_side_.store(searcher_.searches_side_by_side(index_), std::memory_order_relaxed);
          return core::Status::ok();
        },
        side_by_side_.load(std::memory_order_relaxed),
        // A request waits for earlier searches no longer than for a lock, and
        // gives up as a lock wait would when cancelled.
        std::chrono::steady_clock::now() + std::max<std::chrono::steady_clock::duration>(
                                               params.lock.timeout, batcher_.options().max_delay),
        params.lock.cancel);
    if (!status.is_ok()) return status;
    return out;
  }

  core::Result<core::CollectionLockGuard> guard =
      locks_.lock_collection_shared(config_.name, params.lock);
  if (!guard.is_ok()) return guard.status();
  std::vector<uint64_t> allowed((index_.row_count() + 63) / 64, 0);
  for_each_matching(params.filter, params.indexable,
                    [&](uint64_t r) { allowed[r / 64] |= uint64_t{1} << (r % 64); });
  core::Result<SearchHits> hits =
      searcher_.search(index_, {prepared.data(), n_queries, params.limit, allowed.data()});
  if (!hits.is_ok()) return hits.status();
  take(hits.value(), 0);
  return out;
}

core::Status Collection::create_payload_index(const std::string& key, PayloadSchema schema,
                                              const core::LockOptions& lock) {
  if (key.empty()) return core::invalid_argument("field_name must not be empty");
  return write_index_change(CreatePayloadIndex{key, schema}, lock).status();
}

core::Result<bool> Collection::delete_payload_index(const std::string& key,
                                                    const core::LockOptions& lock) {
  core::Result<size_t> dropped = write_index_change(DropPayloadIndex{key}, lock);
  if (!dropped.is_ok()) return dropped.status();
  return dropped.value() == 1;
}

core::Result<size_t> Collection::write_index_change(CollectionWrite write,
                                                    const core::LockOptions& lock) {
  if (journal_ != nullptr && journal_->applies_writes()) {
    // The journal applies in its order, taking the collection lock itself.
    core::Result<LoggedWrite> logged = journal_->log(config_, write, {});
    if (!logged.is_ok()) return logged.status();
    return logged.value().touched;
  }
  // Logged under the collection lock: index changes name no points, so
  // nothing else would keep two of them in the same order in the journal
  // and in memory.
  core::Result<core::CollectionLockGuard> guard =
      locks_.lock_collection_exclusive(config_.name, lock);
  if (!guard.is_ok()) return guard.status();
  if (journal_ == nullptr) return apply_locked(write);
  core::Result<LoggedWrite> logged = journal_->log(config_, write, {});
  if (!logged.is_ok()) return logged.status();
  const size_t touched = apply_locked(write);
  journal_->applied(logged.value().sequence);
  return touched;
}

core::Result<std::map<std::string, Collection::PayloadIndexInfo>> Collection::payload_schema(
    const core::LockOptions& lock) {
  core::Result<core::CollectionLockGuard> guard = locks_.lock_collection_shared(config_.name, lock);
  if (!guard.is_ok()) return guard.status();
  std::map<std::string, PayloadIndexInfo> out;
  for (const auto& [key, index] : index_.payload_indexes()) {
    out.emplace(key, PayloadIndexInfo{index.schema(), index.indexed_rows()});
  }
  return out;
}

}  // namespace vesta::index
