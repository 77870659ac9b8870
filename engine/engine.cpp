#include "engine/engine.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <optional>
#include <utility>

#include <nlohmann/json.hpp>

#include "core/utc_time.h"
#include "engine/payload_changes.h"
#include "engine/write_codec.h"
#include "persistence/file_io.h"
#include "persistence/sha256.h"

namespace vesta::engine {
namespace {

using nlohmann::json;

constexpr int kCatalogFormat = 1;

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string encode_catalog(const index::Catalog& catalog) {
  json collections = json::array();
  for (const index::CollectionConfig& c : catalog.collections) {
    json entry = {{"name", c.name},
                  {"size", c.dim},
                  {"distance", index::metric_name(c.metric)},
                  {"incarnation", c.incarnation}};
    // Only when named: catalogs of unnamed vectors read as before.
    if (!c.vector_name.empty()) entry["vector_name"] = c.vector_name;
    collections.push_back(std::move(entry));
  }
  json aliases = json::array();
  for (const index::Alias& a : catalog.aliases) {
    aliases.push_back({{"alias_name", a.alias_name}, {"collection_name", a.collection_name}});
  }
  return json{{"format", kCatalogFormat},
              {"next_incarnation", catalog.next_incarnation},
              {"collections", collections},
              {"aliases", aliases}}
      .dump(1);
}

core::Result<index::Catalog> decode_catalog(const std::string& text) {
  index::Catalog catalog;
  try {
    const json doc = json::parse(text);
    const int format = doc.at("format").get<int>();
    if (format != kCatalogFormat) {
      return core::Status(core::StatusCode::kConflict,
                          "the catalog has format " + std::to_string(format) +
                              "; this binary reads format " + std::to_string(kCatalogFormat));
    }
    catalog.next_incarnation = doc.at("next_incarnation").get<uint64_t>();
    for (const json& c : doc.at("collections")) {
      const std::string distance = c.at("distance").get<std::string>();
      const std::optional<index::Metric> metric = index::parse_metric(distance);
      if (!metric) return core::internal_error("catalog: unknown distance '" + distance + "'");
      catalog.collections.push_back({c.at("name").get<std::string>(), c.at("size").get<size_t>(),
                                     *metric, c.at("incarnation").get<uint64_t>(),
                                     c.value("vector_name", std::string())});
    }
    for (const json& a : doc.at("aliases")) {
      catalog.aliases.push_back(
          {a.at("alias_name").get<std::string>(), a.at("collection_name").get<std::string>()});
    }
  } catch (const json::exception& e) {
    return core::internal_error(std::string("the catalog cannot be read: ") + e.what());
  }
  return catalog;
}

// A frozen collection's points as a snapshot's source: each group's ids,
// rows and payload pointers read under the collection's lock, its payloads
// written out as text on the coding threads.
class FrozenSource : public persistence::SnapshotPointSource {
 public:
  FrozenSource(std::shared_ptr<index::Collection> collection,
               std::unique_ptr<index::FrozenCollection> frozen)
      : collection_(std::move(collection)), frozen_(std::move(frozen)) {}

  size_t points() const override { return frozen_->count(); }
  core::Status read(size_t n, persistence::SnapshotGroup& group) override {
    auto payloads = std::make_shared<std::vector<std::shared_ptr<const nlohmann::json>>>();
    group.ids.clear();
    group.rows.clear();
    group.payloads.clear();
    VESTA_RETURN_IF_ERROR(frozen_->read(n, &group.ids, &group.rows, payloads.get()));
    group.finish = [payloads](persistence::SnapshotGroup& g) {
      g.payloads.assign(payloads->size(), std::string());
      for (size_t i = 0; i < payloads->size(); ++i) {
        if ((*payloads)[i] != nullptr) g.payloads[i] = (*payloads)[i]->dump();
      }
      payloads->clear();
    };
    return core::Status::ok();
  }

 private:
  std::shared_ptr<index::Collection> collection_;    // outlives frozen_
  std::unique_ptr<index::FrozenCollection> frozen_;  // released first
};

// The snapshot of `collection` as it is now, its points read from the
// collection as the snapshot is written (no copy of the collection).
core::Result<persistence::SnapshotContents> frozen_contents(
    std::shared_ptr<index::Collection> collection) {
  core::Result<std::unique_ptr<index::FrozenCollection>> frozen = collection->freeze();
  if (!frozen.is_ok()) return frozen.status();
  const index::CollectionConfig& config = collection->config();
  persistence::SnapshotContents c;
  c.collection = config.name;
  c.dim = static_cast<uint32_t>(config.dim);
  c.metric = std::string(index::metric_name(config.metric));
  c.incarnation = config.incarnation;
  c.wal_sequence = frozen.value()->journal_sequence();
  c.vector_name = config.vector_name;
  for (const auto& [key, schema] : frozen.value()->payload_indexes()) {
    c.payload_indexes.emplace(key, std::string(index::payload_schema_name(schema)));
  }
  c.source = std::make_shared<FrozenSource>(std::move(collection), std::move(frozen).value());
  return c;
}

core::Result<index::CollectionSnapshot> from_contents(const index::CollectionConfig& config,
                                                      persistence::SnapshotContents c) {
  if (c.dim != config.dim || c.metric != index::metric_name(config.metric)) {
    return core::internal_error("the snapshot of collection '" + config.name + "' is of size " +
                                std::to_string(c.dim) + " and distance " + c.metric +
                                ", the catalog says " + std::to_string(config.dim) + " and " +
                                std::string(index::metric_name(config.metric)));
  }
  index::CollectionSnapshot s;
  s.journal_sequence = c.wal_sequence;
  s.ids = std::move(c.ids);
  s.rows = std::move(c.rows);
  s.payloads = std::move(c.payloads);
  for (const auto& [key, name] : c.payload_indexes) {
    const std::optional<index::PayloadSchema> schema = index::parse_payload_schema(name);
    if (!schema) {
      return core::internal_error("the snapshot of collection '" + config.name +
                                  "' has a payload index of unknown type '" + name + "'");
    }
    s.payload_indexes.emplace(key, *schema);
  }
  return s;
}

}  // namespace

Engine::Engine(persistence::Store& store, core::LockManager& locks, index::Searcher& searcher,
               index::BatchingOptions batching, EngineOptions options)
    : store_(store),
      shared_(store.shared()),
      options_(options),
      registry_(locks, searcher, batching, this),
      last_round_(std::chrono::steady_clock::now()) {}

core::Result<std::unique_ptr<Engine>> Engine::open(persistence::Store& store,
                                                   core::LockManager& locks,
                                                   index::Searcher& searcher,
                                                   index::BatchingOptions batching,
                                                   EngineOptions options, RecoveryReport* report) {
  std::unique_ptr<Engine> engine(new Engine(store, locks, searcher, batching, options));
  RecoveryReport local;
  VESTA_RETURN_IF_ERROR(engine->recover(report != nullptr ? report : &local));
  engine->wal_bytes_at_last_round_ = store.wal_bytes_written();
  Engine* e = engine.get();
  if (engine->shared_) {
    VESTA_RETURN_IF_ERROR(store.follow([e](uint64_t sequence, std::string_view record) {
      return e->apply_record(sequence, record, nullptr);
    }));
  }
  engine->snapshot_thread_ = std::thread([e] { e->snapshot_loop(); });
  return engine;
}

Engine::~Engine() {
  store_.stop_following();
  {
    std::lock_guard lock(thread_mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (snapshot_thread_.joinable()) snapshot_thread_.join();
}

core::Status Engine::recover(RecoveryReport* report) {
  *report = RecoveryReport{};
  core::Result<std::optional<std::string>> text = store_.load_catalog();
  if (!text.is_ok()) return text.status();
  index::Catalog catalog;
  if (text.value()) {
    core::Result<index::Catalog> decoded = decode_catalog(*text.value());
    if (!decoded.is_ok()) return decoded.status();
    catalog = std::move(decoded).value();
  }
  VESTA_RETURN_IF_ERROR(registry_.restore(catalog));
  report->collections = catalog.collections.size();

  catalog_sequence_ = store_.catalog_sequence();

  // Each collection from its newest snapshot; the log is replayed from the
  // oldest position any of them needs.
  uint64_t replay_after = UINT64_MAX;
  for (const index::CollectionConfig& config : catalog.collections) {
    auto phase_start = std::chrono::steady_clock::now();
    core::Result<std::optional<persistence::SnapshotContents>> loaded =
        store_.load_snapshot(config.name, config.incarnation);
    report->snapshot_read_s += seconds_since(phase_start);
    if (!loaded.is_ok()) return loaded.status();
    phase_start = std::chrono::steady_clock::now();
    uint64_t sequence = 0;
    if (loaded.value()) {
      core::Result<index::CollectionSnapshot> snapshot =
          from_contents(config, std::move(*loaded.value()));
      if (!snapshot.is_ok()) return snapshot.status();
      sequence = snapshot.value().journal_sequence;
      report->points_loaded += snapshot.value().ids.size();
      ++report->snapshots_loaded;
      core::Result<std::shared_ptr<index::Collection>> collection = registry_.get(config.name);
      if (!collection.is_ok()) return collection.status();
      VESTA_RETURN_IF_ERROR(collection.value()->restore(std::move(snapshot).value()));
    }
    report->snapshot_load_s += seconds_since(phase_start);
    covered_[config.name] = sequence;
    replay_after = std::min(replay_after, sequence);
    // keep_after 0 until this process snapshots it: the older snapshot the
    // store keeps (its fallback) may need the log from further back.
    tracked_[config.name] = Tracked{config.incarnation, 0, true};
  }
  if (replay_after == UINT64_MAX) replay_after = 0;

  const auto replay_start = std::chrono::steady_clock::now();
  // From the start of what the store kept, not from replay_after: records
  // before it may carry outbox entries not delivered yet (the log is kept
  // for them); the collections' own records there are skipped unread.
  VESTA_RETURN_IF_ERROR(store_.open_wal(
      0, replay_after, [&](uint64_t sequence, std::string_view record) -> core::Status {
        return apply_record(sequence, record, report);
      }));
  report->log_replay_s = seconds_since(replay_start);
  covered_.clear();
  {
    std::lock_guard lock(mutex_);
    last_logged_ = store_.wal_last_sequence();
    applied_through_ = last_logged_;
  }
  // A store's payload table that disagrees with a collection (first start
  // after the table was added; a write whose COMMIT was reported failed but
  // landed) is rewritten from the collection. Not when the store is shared:
  // other processes write it meanwhile.
  if (store_.keeps_payloads() && !shared_) {
    for (const index::CollectionConfig& config : registry_.catalog().collections) {
      core::Result<std::optional<uint64_t>> rows =
          store_.payload_rows(config.name, config.incarnation);
      if (!rows.is_ok()) return rows.status();
      core::Result<std::shared_ptr<index::Collection>> collection = registry_.get(config.name);
      if (!collection.is_ok()) return collection.status();
      const size_t points = collection.value()->count().value();
      if (!rows.value() || *rows.value() == points) continue;
      core::Result<index::CollectionSnapshot> snapshot = collection.value()->snapshot();
      if (!snapshot.is_ok()) return snapshot.status();
      VESTA_RETURN_IF_ERROR(store_.replace_payload_rows(all_payloads(config, snapshot.value())));
      std::fprintf(stderr,
                   "vesta: the payload table of collection '%s' held %llu rows for %zu points: "
                   "rewritten from the collection\n",
                   config.name.c_str(), static_cast<unsigned long long>(*rows.value()), points);
    }
  }
  return core::Status::ok();
}

core::Result<std::shared_ptr<index::Collection>> Engine::collection_for(const std::string& name,
                                                                        uint64_t incarnation) {
  for (int waited_ms = 0;; ++waited_ms) {
    {
      std::lock_guard lock(mutex_);
      auto tracked = tracked_.find(name);
      if (tracked == tracked_.end() || tracked->second.incarnation != incarnation) {
        return std::shared_ptr<index::Collection>();  // dropped
      }
    }
    core::Result<std::shared_ptr<index::Collection>> collection = registry_.get(name);
    if (collection.is_ok() && collection.value()->config().incarnation == incarnation) {
      return collection;
    }
    // Tracked but not in the registry yet: this process's own catalog
    // change, committed, which the registry is about to show.
    if (!shared_ || waited_ms >= 10000) {
      return core::internal_error("collection '" + name + "' (incarnation " +
                                  std::to_string(incarnation) + ") is in the catalog but not here");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

core::Status Engine::apply_record(uint64_t sequence, std::string_view record,
                                  RecoveryReport* report) {
  size_t touched = 0;
  if (std::optional<std::string_view> text = catalog_record_text(record)) {
    // A catalog change of a shared log: the registry shows it already when
    // this process made it, or when the catalog loaded at start is newer.
    if (sequence > catalog_sequence_) {
      core::Result<index::Catalog> catalog = decode_catalog(std::string(*text));
      if (!catalog.is_ok()) {
        return core::Status(catalog.status().code(), "WAL record " + std::to_string(sequence) +
                                                         ": " + catalog.status().message());
      }
      bool changed = false;
      VESTA_RETURN_IF_ERROR(registry_.sync(catalog.value(), [&] {
        if (sequence <= catalog_sequence_) return false;
        catalog_sequence_ = sequence;
        changed = true;
        return true;
      }));
      if (changed) (void)track_catalog(catalog.value(), sequence);
    } else if (report != nullptr) {
      ++report->records_skipped;
    }
  } else if (std::optional<std::string_view> text = outbox_record_text(record)) {
    core::Result<OutboxChange> change = OutboxChange::from_text(*text);
    if (!change.is_ok()) {
      return core::Status(change.status().code(), "WAL record " + std::to_string(sequence) + ": " +
                                                      change.status().message());
    }
    outbox_.apply(change.value());
  } else if (report != nullptr && skipped_at_recovery(sequence, record)) {
    ++report->records_skipped;  // a dropped collection's, or in the snapshot
  } else {
    core::Result<DecodedWrite> decoded = decode_write(record);
    if (!decoded.is_ok()) {
      return core::Status(decoded.status().code(), "WAL record " + std::to_string(sequence) + ": " +
                                                       decoded.status().message());
    }
    if (!decoded.value().attachment.empty()) {
      // Acknowledged with the write, so delivered whatever became of the
      // collection since.
      core::Result<OutboxItem> item = decode_attachment(decoded.value().attachment);
      if (!item.is_ok()) {
        return core::Status(item.status().code(), "WAL record " + std::to_string(sequence) + ": " +
                                                      item.status().message());
      }
      outbox_.add(sequence, std::move(item).value());
    }
    const std::string& name = decoded.value().collection;
    auto covered = covered_.find(name);
    core::Result<std::shared_ptr<index::Collection>> collection =
        collection_for(name, decoded.value().incarnation);
    if (!collection.is_ok()) return collection.status();
    if (collection.value() == nullptr ||
        (covered != covered_.end() && sequence <= covered->second)) {
      if (report != nullptr)
        ++report->records_skipped;  // a dropped collection's, or in the snapshot
    } else {
      core::Result<size_t> applied = collection.value()->replay(std::move(decoded.value().write));
      if (!applied.is_ok()) {
        return core::internal_error("WAL record " + std::to_string(sequence) +
                                    " cannot be applied to collection '" + name +
                                    "': " + applied.status().message());
      }
      touched = applied.value();
      if (report != nullptr) ++report->records_replayed;
      std::lock_guard lock(mutex_);
      if (auto it = tracked_.find(name); it != tracked_.end()) it->second.dirty = true;
    }
  }
  if (shared_) {
    {
      std::lock_guard lock(mutex_);
      applied_through_ = std::max(applied_through_, sequence);
      last_logged_ = applied_through_;
      recent_touched_[sequence] = touched;
      // Kept for the writers of the last 65536 records; older ones have
      // read theirs (or belong to other processes).
      while (!recent_touched_.empty() && recent_touched_.begin()->first + 65536 < sequence) {
        recent_touched_.erase(recent_touched_.begin());
      }
    }
    applied_cv_.notify_all();
  }
  return core::Status::ok();
}

bool Engine::skipped_at_recovery(uint64_t sequence, std::string_view record) {
  const std::optional<WriteHeader> header = peek_write_header(record);
  if (!header) return false;  // not a plain write: decoded in full
  if (auto covered = covered_.find(header->collection);
      covered != covered_.end() && sequence <= covered->second) {
    return true;
  }
  std::lock_guard lock(mutex_);
  auto tracked = tracked_.find(header->collection);
  return tracked == tracked_.end() || tracked->second.incarnation != header->incarnation;
}

core::Result<index::LoggedWrite> Engine::wait_applied(uint64_t sequence) {
  constexpr auto kApplyWait = std::chrono::seconds(30);
  std::unique_lock lock(mutex_);
  applied_cv_.wait_for(lock, kApplyWait,
                       [&] { return applied_through_ >= sequence || follow_failed_; });
  if (applied_through_ < sequence) {
    return core::Status(core::StatusCode::kUnavailable,
                        "the write is committed (log sequence " + std::to_string(sequence) +
                            ") but this process has not applied it yet (" +
                            (follow_failed_ ? "it stopped following the log; see its log"
                                            : "its connection to PostgreSQL is down") +
                            "); other processes of the workspace serve it");
  }
  index::LoggedWrite logged{sequence, true, 0};
  if (auto it = recent_touched_.find(sequence); it != recent_touched_.end()) {
    logged.touched = it->second;
    recent_touched_.erase(it);
  }
  return logged;
}

core::Result<index::LoggedWrite> Engine::log(const index::CollectionConfig& collection,
                                             const index::CollectionWrite& write,
                                             std::string_view attachment) {
  std::optional<OutboxItem> item;
  if (!attachment.empty()) {
    core::Result<OutboxItem> decoded = decode_attachment(attachment);
    if (!decoded.is_ok()) return decoded.status();
    item = std::move(decoded).value();
  }
  persistence::PayloadChanges changes;
  if (store_.keeps_payloads()) changes = payload_changes(collection, write);
  core::Result<index::LoggedWrite> logged =
      log_record(encode_write(collection, write, attachment), std::move(changes), collection.name);
  // A shared store's follower added it when it applied the record.
  if (logged.is_ok() && item && !shared_) outbox_.add(logged.value().sequence, std::move(*item));
  return logged;
}

core::Status Engine::change_outbox(const OutboxChange& change) {
  core::Result<index::LoggedWrite> logged =
      log_record(encode_outbox_record(change.to_text()), {}, std::string());
  if (!logged.is_ok()) return logged.status();
  if (!shared_) {
    outbox_.apply(change);
    applied(logged.value().sequence);
  }
  return core::Status::ok();
}

core::Result<index::LoggedWrite> Engine::log_record(const std::string& record,
                                                    persistence::PayloadChanges changes,
                                                    const std::string& collection) {
  if (shared_) {
    core::Result<uint64_t> committed = store_.append_shared(record, std::move(changes));
    if (!committed.is_ok()) {
      return core::Status(
          core::StatusCode::kUnavailable,
          "the write was not applied: the write-ahead log failed: " + committed.status().message());
    }
    {
      std::lock_guard lock(mutex_);
      ++stats_.records_logged;
    }
    return wait_applied(committed.value());
  }
  uint64_t sequence = 0;
  {
    // The sequence enters in_flight_ under the same lock that watermark()
    // reads, so no watermark ever covers a write that is not applied yet.
    std::lock_guard lock(mutex_);
    core::Result<uint64_t> written = store_.write_wal(record, std::move(changes));
    if (!written.is_ok()) {
      return core::Status(
          core::StatusCode::kUnavailable,
          "the write was not applied: the write-ahead log failed: " + written.status().message());
    }
    sequence = written.value();
    // The log took a record after the writes in failed_ failed, so it has
    // settled them (Store::write_wal): they will never take effect, and no
    // longer hold the watermark back.
    for (uint64_t failed : failed_) in_flight_.erase(failed);
    failed_.clear();
    in_flight_.insert(sequence);
    last_logged_ = sequence;
    ++stats_.records_logged;
    if (auto it = tracked_.find(collection); it != tracked_.end()) it->second.dirty = true;
  }
  const core::Status synced = store_.sync_wal(sequence);
  if (!synced.is_ok()) {
    // The record may or may not be in the log, so it stays "in flight": no
    // snapshot may claim a position at or past it (a later recovery could
    // cut it from the log and hand its sequence out again) until the log
    // has settled the failure, which the next record it accepts shows. A
    // FileStore never does (its errors are sticky), so there the watermark
    // stops here until a restart; a PostgresStore does once it is back.
    std::lock_guard lock(mutex_);
    failed_.insert(sequence);
    return core::Status(core::StatusCode::kUnavailable,
                        "the write was not applied: the write-ahead log could not make it "
                        "durable: " +
                            synced.message());
  }
  return index::LoggedWrite{sequence, false, 0};
}

void Engine::applied(uint64_t sequence) {
  std::lock_guard lock(mutex_);
  in_flight_.erase(sequence);
}

uint64_t Engine::watermark() const {
  std::lock_guard lock(mutex_);
  if (shared_) return applied_through_;
  return in_flight_.empty() ? last_logged_ : *in_flight_.begin() - 1;
}

std::vector<std::string> Engine::track_catalog(const index::Catalog& catalog, uint64_t at) {
  std::lock_guard lock(mutex_);
  std::vector<std::string> dropped;
  std::map<std::string, Tracked> next;
  for (const index::CollectionConfig& c : catalog.collections) {
    auto it = tracked_.find(c.name);
    if (it != tracked_.end() && it->second.incarnation == c.incarnation) {
      next.emplace(c.name, it->second);
    } else {
      // A new collection needs nothing logged before it.
      next.emplace(c.name, Tracked{c.incarnation, at, true});
    }
  }
  for (const auto& [name, tracked] : tracked_) {
    auto it = next.find(name);
    if (it == next.end() || it->second.incarnation != tracked.incarnation) dropped.push_back(name);
  }
  tracked_ = std::move(next);
  return dropped;
}

core::Status Engine::save_catalog(const index::Catalog& catalog) {
  const std::string text = encode_catalog(catalog);
  // The points of collections the change drops (or replaces) go with it.
  persistence::PayloadChanges dropped;
  if (store_.keeps_payloads()) {
    std::lock_guard lock(mutex_);
    for (const auto& entry : tracked_) {
      const std::string& name = entry.first;
      const uint64_t incarnation = entry.second.incarnation;
      const bool kept = std::any_of(catalog.collections.begin(), catalog.collections.end(),
                                    [&](const index::CollectionConfig& c) {
                                      return c.name == name && c.incarnation == incarnation;
                                    });
      if (kept) continue;
      persistence::PayloadChange change;
      change.kind = persistence::PayloadChange::Kind::kDropCollection;
      change.collection = name;
      change.incarnation = incarnation;
      dropped.push_back(std::move(change));
    }
  }
  uint64_t at = 0;
  if (shared_) {
    // Called under the registry's writer lock, as the sync of a catalog
    // record is: catalog_sequence_ is what the registry shows.
    core::Result<uint64_t> committed = store_.append_catalog(encode_catalog_record(text), text,
                                                             catalog_sequence_, std::move(dropped));
    if (!committed.is_ok()) return committed.status();
    catalog_sequence_ = committed.value();
    at = committed.value();
  } else {
    VESTA_RETURN_IF_ERROR(store_.save_catalog(text, std::move(dropped)));
    std::lock_guard lock(mutex_);
    at = last_logged_;
  }
  std::lock_guard snapshots(snapshot_mutex_);
  for (const std::string& name : track_catalog(catalog, at)) {
    // The catalog no longer names them, so a failure here only leaves files
    // that recovery ignores.
    const core::Status removed = store_.drop_snapshots(name);
    if (!removed.is_ok()) {
      std::fprintf(stderr, "vesta: the snapshots of dropped collection '%s' remain: %s\n",
                   name.c_str(), removed.message().c_str());
    }
  }
  return core::Status::ok();
}

core::Status Engine::snapshot_collection(const std::string& name, uint64_t incarnation) {
  core::Result<std::shared_ptr<index::Collection>> collection = registry_.get(name);
  if (!collection.is_ok() || collection.value()->config().incarnation != incarnation) {
    return core::Status::ok();  // dropped meanwhile
  }
  {
    std::lock_guard lock(mutex_);
    Tracked& tracked = tracked_[name];
    tracked.dirty = false;  // a write from here on marks it again
    tracked.saving = true;
  }
  auto mark_dirty = [&] {
    std::lock_guard lock(mutex_);
    if (auto it = tracked_.find(name); it != tracked_.end()) {
      it->second.dirty = true;
      it->second.saving = false;
    }
    ++stats_.snapshot_failures;
  };
  // Read from the collection as it is written, not copied: writes go on,
  // waiting for one group's copy at most.
  core::Result<persistence::SnapshotContents> contents = frozen_contents(collection.value());
  if (!contents.is_ok()) {
    mark_dirty();
    return contents.status();
  }
  core::Result<uint64_t> keep_after = store_.save_snapshot(contents.value());
  contents.value().source.reset();  // releases the collection's frozen view
  if (!keep_after.is_ok()) {
    mark_dirty();
    return keep_after.status();
  }
  std::lock_guard lock(mutex_);
  if (auto it = tracked_.find(name); it != tracked_.end()) {
    it->second.saving = false;
    if (it->second.incarnation == incarnation) it->second.keep_after = keep_after.value();
  }
  ++stats_.snapshots_written;
  return core::Status::ok();
}

core::Status Engine::snapshot_all() {
  std::lock_guard snapshots(snapshot_mutex_);
  // What the log held when the round began: writes from here on (they go on
  // while the collections are read) count towards the next round.
  const uint64_t wal_bytes_at_start = store_.wal_bytes_written();
  std::vector<std::pair<std::string, uint64_t>> due;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [name, tracked] : tracked_) {
      if (tracked.dirty) due.emplace_back(name, tracked.incarnation);
    }
  }
  core::Status first_error = core::Status::ok();
  for (const auto& [name, incarnation] : due) {
    const core::Status status = snapshot_collection(name, incarnation);
    if (!status.is_ok()) {
      std::fprintf(stderr, "vesta: snapshot of collection '%s' failed: %s\n", name.c_str(),
                   status.message().c_str());
      if (first_error.is_ok()) first_error = status;
    }
  }
  uint64_t keep_after = 0;
  {
    std::lock_guard lock(mutex_);
    ++stats_.snapshot_rounds;
    keep_after = last_logged_;
    for (const auto& [name, tracked] : tracked_)
      keep_after = std::min(keep_after, tracked.keep_after);
  }
  keep_after = std::min(keep_after, outbox_.keep_after());
  const core::Status truncated = store_.truncate_wal(keep_after);
  if (!truncated.is_ok() && first_error.is_ok()) first_error = truncated;
  wal_bytes_at_last_round_ = wal_bytes_at_start;
  last_round_ = std::chrono::steady_clock::now();
  return first_error;
}

namespace {

constexpr std::string_view kSnapshotSuffix = ".snapshot";

// Where a snapshot's SHA-256 is kept: beside it, <name>.checksum.
std::filesystem::path checksum_path(const std::filesystem::path& snapshot) {
  std::filesystem::path out = snapshot;
  out += ".checksum";
  return out;
}

bool is_snapshot_name(const std::string& name) {
  if (name.size() <= kSnapshotSuffix.size() || name.front() == '.' ||
      !name.ends_with(kSnapshotSuffix)) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

}  // namespace

core::Result<std::filesystem::path> Engine::snapshot_file(const std::string& collection,
                                                          const std::string& name) const {
  if (options_.snapshots_dir.empty()) {
    return core::Status(core::StatusCode::kConflict,
                        "snapshots need file storage (this server keeps nothing)");
  }
  if (!is_snapshot_name(name)) {
    return core::not_found("snapshot '" + name + "' of collection '" + collection +
                           "' does not exist");
  }
  return options_.snapshots_dir / collection / name;
}

core::Result<SnapshotInfo> Engine::create_snapshot(const std::string& collection) {
  core::Result<std::shared_ptr<index::Collection>> c = registry_.get(collection);
  if (!c.is_ok()) return c.status();
  const index::CollectionConfig& config = c.value()->config();
  core::Result<persistence::SnapshotContents> contents = frozen_contents(c.value());
  if (!contents.is_ok()) return contents.status();
  const auto now = std::chrono::system_clock::now();
  const std::string name = config.name + "-" + std::to_string(config.incarnation) + "-" +
                           std::to_string(contents.value().wal_sequence) + "-" +
                           core::utc_time(now, "%Y-%m-%d-%H-%M-%S") + std::string(kSnapshotSuffix);
  core::Result<std::filesystem::path> path = snapshot_file(config.name, name);
  if (!path.is_ok()) return path.status();
  std::error_code ec;
  std::filesystem::create_directories(path.value().parent_path(), ec);
  if (ec) {
    return core::internal_error("cannot create " + path.value().parent_path().string() + ": " +
                                ec.message());
  }
  std::string checksum;
  core::Result<size_t> size =
      persistence::write_snapshot_file(path.value(), contents.value(), {}, &checksum);
  if (!size.is_ok()) return size.status();
  VESTA_RETURN_IF_ERROR(persistence::write_file_atomically(checksum_path(path.value()), checksum));
  return SnapshotInfo{name, core::utc_time(now, "%Y-%m-%dT%H:%M:%S"), size.value(), checksum};
}

core::Result<std::vector<SnapshotInfo>> Engine::list_snapshots(const std::string& collection) {
  core::Result<std::shared_ptr<index::Collection>> c = registry_.get(collection);
  if (!c.is_ok()) return c.status();
  if (options_.snapshots_dir.empty()) return std::vector<SnapshotInfo>();
  std::vector<SnapshotInfo> out;
  std::error_code ec;
  const std::filesystem::path dir = options_.snapshots_dir / c.value()->config().name;
  if (!std::filesystem::exists(dir, ec)) return out;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_regular_file() || !is_snapshot_name(name)) continue;
    const auto written = std::chrono::file_clock::to_sys(entry.last_write_time());
    core::Result<std::string> checksum = persistence::read_whole_file(checksum_path(entry.path()));
    out.push_back(
        {name,
         core::utc_time(std::chrono::time_point_cast<std::chrono::system_clock::duration>(written),
                        "%Y-%m-%dT%H:%M:%S"),
         entry.file_size(), checksum.is_ok() ? checksum.value() : std::string()});
  }
  if (ec) return core::internal_error("cannot list " + dir.string() + ": " + ec.message());
  std::sort(out.begin(), out.end(),
            [](const SnapshotInfo& a, const SnapshotInfo& b) { return a.name < b.name; });
  return out;
}

core::Result<std::filesystem::path> Engine::snapshot_path(const std::string& collection,
                                                          const std::string& name) {
  core::Result<std::shared_ptr<index::Collection>> c = registry_.get(collection);
  if (!c.is_ok()) return c.status();
  core::Result<std::filesystem::path> path = snapshot_file(c.value()->config().name, name);
  if (!path.is_ok()) return path.status();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path.value(), ec)) {
    return core::not_found("snapshot '" + name + "' of collection '" + collection +
                           "' does not exist");
  }
  return path;
}

core::Result<bool> Engine::delete_snapshot(const std::string& collection, const std::string& name) {
  core::Result<std::shared_ptr<index::Collection>> c = registry_.get(collection);
  if (!c.is_ok()) return c.status();
  core::Result<std::filesystem::path> path = snapshot_file(c.value()->config().name, name);
  if (!path.is_ok()) return path.status();
  std::error_code ec;
  if (!std::filesystem::remove(path.value(), ec)) {
    if (ec)
      return core::internal_error("cannot remove " + path.value().string() + ": " + ec.message());
    return core::not_found("snapshot '" + name + "' of collection '" + collection +
                           "' does not exist");
  }
  std::filesystem::remove(checksum_path(path.value()), ec);  // none for an older snapshot
  return true;
}

core::Status Engine::recover_from_snapshot(const std::string& collection, std::string_view bytes,
                                           std::string_view checksum) {
  if (!checksum.empty()) {
    std::string expected(checksum);
    std::transform(expected.begin(), expected.end(), expected.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    const std::string actual = persistence::sha256_hex(bytes);
    if (actual != expected) {
      return core::invalid_argument("checksum: the snapshot's SHA-256 is " + actual + ", not " +
                                    std::string(checksum));
    }
  }
  if (shared_) {
    // Its points would be in this process and the store's snapshots, in no
    // log record the other processes read.
    return core::Status(core::StatusCode::kConflict,
                        "recovering a collection from a snapshot is not supported while several "
                        "processes share the workspace (--postgres-shared)");
  }
  core::Result<persistence::SnapshotContents> contents = persistence::decode_snapshot(bytes);
  if (!contents.is_ok()) {
    return core::invalid_argument("the snapshot cannot be read: " + contents.status().message());
  }
  const std::optional<index::Metric> metric = index::parse_metric(contents.value().metric);
  if (!metric) {
    return core::invalid_argument("the snapshot has an unknown distance '" +
                                  contents.value().metric + "'");
  }
  // An alias recovers its collection; the collection keeps its aliases.
  std::string name = collection;
  std::vector<index::Alias> aliases;
  if (core::Result<std::shared_ptr<index::Collection>> existing = registry_.get(collection);
      existing.is_ok()) {
    name = existing.value()->config().name;
    aliases = registry_.aliases_of(name).value();
    core::Result<bool> dropped = registry_.drop(name);
    if (!dropped.is_ok()) return dropped.status();
  }
  VESTA_RETURN_IF_ERROR(
      registry_.create({name, contents.value().dim, *metric, 0, contents.value().vector_name}));
  core::Result<std::shared_ptr<index::Collection>> created = registry_.get(name);
  if (!created.is_ok()) return created.status();
  const index::CollectionConfig config = created.value()->config();
  core::Result<index::CollectionSnapshot> loaded =
      from_contents(config, std::move(contents).value());
  // The payload table's rows are taken before restore() takes the points over.
  std::optional<persistence::PayloadChange> payload_rows;
  if (loaded.is_ok() && store_.keeps_payloads()) {
    payload_rows = all_payloads(config, loaded.value());
  }
  core::Status status =
      loaded.is_ok() ? created.value()->restore(std::move(loaded).value()) : loaded.status();
  if (status.is_ok()) {
    // Durable before the answer: the restored points are in no log record.
    std::lock_guard snapshots(snapshot_mutex_);
    status = snapshot_collection(name, config.incarnation);
  }
  if (status.is_ok() && payload_rows) {
    status = store_.replace_payload_rows(*payload_rows);
  }
  if (!status.is_ok()) {
    (void)registry_.drop(name);
    return status;
  }
  std::vector<index::AliasAction> actions;
  for (const index::Alias& alias : aliases) {
    actions.push_back(index::CreateAlias{name, alias.alias_name});
  }
  if (!actions.empty()) VESTA_RETURN_IF_ERROR(registry_.update_aliases(actions));
  return core::Status::ok();
}

EngineStats Engine::stats() const {
  EngineStats stats;
  {
    std::lock_guard lock(mutex_);
    stats = stats_;
  }
  stats.collections_awaiting_snapshot = awaiting_snapshot();
  return stats;
}

uint64_t Engine::awaiting_snapshot() const {
  std::lock_guard lock(mutex_);
  return static_cast<uint64_t>(std::count_if(tracked_.begin(), tracked_.end(), [](const auto& e) {
    return e.second.dirty || e.second.saving;
  }));
}

void Engine::snapshot_loop() {
  std::unique_lock lock(thread_mutex_);
  while (!wake_.wait_for(lock, options_.snapshot_poll, [this] { return stopping_; })) {
    lock.unlock();
    bool due = false;
    {
      std::lock_guard snapshots(snapshot_mutex_);
      const uint64_t grown = store_.wal_bytes_written() - wal_bytes_at_last_round_;
      const bool by_size = options_.snapshot_wal_bytes > 0 && grown >= options_.snapshot_wal_bytes;
      // By time when anything changed, or a collection still awaits its
      // snapshot (a round failed, and nothing was written since).
      const bool by_time =
          options_.snapshot_interval.count() > 0 && (grown > 0 || awaiting_snapshot() > 0) &&
          std::chrono::steady_clock::now() - last_round_ >= options_.snapshot_interval;
      due = by_size || by_time;
    }
    // Processes sharing a store leave snapshots and truncation to the leader.
    if (due && store_.is_leader()) (void)snapshot_all();  // failures: logged, retried next time
    lock.lock();
  }
}

}  // namespace vesta::engine
