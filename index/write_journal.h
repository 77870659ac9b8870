#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/default_init_allocator.h"
#include "core/point_id.h"
#include "core/status.h"
#include "index/alias_action.h"
#include "index/metric.h"
#include "index/payload_index.h"

namespace vesta::index {

struct CollectionConfig {
  std::string name;
  size_t dim = 0;
  Metric metric = Metric::kCosine;
  // Which life of `name` this is: the registry gives every collection it
  // creates a new number, so that writes logged for a dropped collection
  // never replay into a later one of the same name. 0 outside a registry.
  uint64_t incarnation = 0;
  // The name of the collection's one vector in Qdrant's named forms; "" (the
  // default): unnamed. Requests may name it, and answers name it.
  std::string vector_name{};
};

// One point to insert or overwrite.
struct PointWrite {
  core::PointId id;
  std::vector<float> vector;
  nlohmann::json payload = nullptr;  // a JSON object, or null for none
};

// A change to the payloads of some points (Qdrant's set, overwrite, delete
// and clear payload).
struct PayloadUpdate {
  enum class Kind { kSet, kOverwrite, kDeleteKeys, kClear };
  Kind kind = Kind::kSet;
  nlohmann::json payload = nlohmann::json::object();  // kSet (merged), kOverwrite
  std::vector<std::string> keys;                      // kDeleteKeys
  // Applies the update to one stored payload (an object).
  void apply(nlohmann::json& stored) const;
};

// The writes of a collection, as the write-ahead log records them. Each is
// deterministic given the state of the points it names, and idempotent
// (applying it twice leaves what applying it once does), which recovery
// relies on.
struct UpsertPoints {
  std::vector<PointWrite> points;
};
struct DeletePoints {
  std::vector<core::PointId> ids;
};
struct UpdatePayloads {
  std::vector<core::PointId> ids;
  PayloadUpdate update;
};
struct CreatePayloadIndex {
  std::string key;
  PayloadSchema schema = PayloadSchema::kKeyword;
};
struct DropPayloadIndex {
  std::string key;
};
using CollectionWrite =
    std::variant<UpsertPoints, DeletePoints, UpdatePayloads, CreatePayloadIndex, DropPayloadIndex>;

// What survives a restart besides the points: the collections, their
// aliases, and the next incarnation number.
struct Catalog {
  std::vector<CollectionConfig> collections;  // sorted by name
  std::vector<Alias> aliases;                 // sorted by alias name
  uint64_t next_incarnation = 1;
};

// Where a collection's state may be taken from for a snapshot: its live
// points with their float16 rows as stored (dim values each, normalised for
// Cosine), payloads as JSON texts ("" for none), its payload indexes, and the
// journal position it includes.
struct CollectionSnapshot {
  uint64_t journal_sequence = 0;
  std::vector<core::PointId> ids;
  core::HalfVector rows;
  std::vector<std::string> payloads;
  std::map<std::string, PayloadSchema> payload_indexes;
};

// Makes the writes of collections and the registry's catalog durable before
// they take effect (the write-ahead log). Implemented above the index layer
// (engine/); collections and the registry call it. Thread-safe.
//
// The protocol of a point write: the collection takes the keyed locks on the
// point ids, calls log(), then takes its collection lock and applies the
// write, then calls applied(). Writes of the same point are therefore logged
// in the order they are applied; writes of different points may be applied
// in another order than logged, which is why every write is idempotent and
// why a snapshot records watermark(), below which everything was applied.
//
// A journal shared by several processes applies every write itself, in the
// one order of the log (applies_writes()): log() then returns once the write
// is applied, the caller neither applies it nor calls applied(), and takes
// no collection lock around log() (the journal takes it to apply).
struct LoggedWrite {
  uint64_t sequence = 0;
  bool applied = false;  // by the journal (applies_writes())
  size_t touched = 0;    // when applied: what applying it counted
};

class WriteJournal {
 public:
  virtual ~WriteJournal() = default;

  virtual bool applies_writes() const { return false; }
  // Durable before returning OK; the returned sequence orders the write.
  // An error means the write must not be applied (and is not acknowledged).
  // `attachment` (usually empty) is opaque bytes made durable in the same
  // record, all or nothing with the write: what the journal's owner does
  // with them (graph operations for the outbox) is none of the index's
  // business.
  virtual core::Result<LoggedWrite> log(const CollectionConfig& collection,
                                        const CollectionWrite& write,
                                        std::string_view attachment) = 0;
  // The write logged as `sequence` is applied (or will never be).
  virtual void applied(uint64_t sequence) = 0;
  // Every write logged at or below this sequence has been applied. Read it
  // under the collection lock to know what a copy of the collection holds.
  virtual uint64_t watermark() const = 0;
  // Makes the catalog after a change durable; an error means the change must
  // not be made. Called by the registry with its writer lock held, so calls
  // are serialised and in order.
  virtual core::Status save_catalog(const Catalog& catalog) = 0;
};

}  // namespace vesta::index
