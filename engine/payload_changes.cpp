#include "engine/payload_changes.h"

#include <type_traits>
#include <utility>
#include <variant>

namespace vesta::engine {
namespace {

using persistence::PayloadChange;

std::pair<std::string, std::string> id_of(const core::PointId& id) {
  switch (id.kind()) {
    case core::PointIdKind::kNumber: return {"number", id.to_string()};
    case core::PointIdKind::kUuid: return {"uuid", id.to_string()};
    case core::PointIdKind::kString: return {"string", id.to_string()};
  }
  return {"string", id.to_string()};
}

std::string json_text(const nlohmann::json& value) {
  return value.is_null() ? std::string() : without_nul_escapes(value.dump());
}

PayloadChange change_of(const index::CollectionConfig& collection, PayloadChange::Kind kind) {
  PayloadChange change;
  change.kind = kind;
  change.collection = collection.name;
  change.incarnation = collection.incarnation;
  return change;
}

}  // namespace

std::string without_nul_escapes(std::string json) {
  for (size_t i = 0; i + 1 < json.size(); ++i) {
    if (json[i] != '\\') continue;
    if (json.compare(i + 1, 5, "u0000") == 0) json.replace(i + 2, 4, "fffd");
    ++i;  // the escaped character (a backslash included) is not an escape
  }
  return json;
}

persistence::PayloadChanges payload_changes(const index::CollectionConfig& collection,
                                            const index::CollectionWrite& write) {
  persistence::PayloadChanges out;
  std::visit(
      [&](const auto& op) {
        using Op = std::decay_t<decltype(op)>;
        if constexpr (std::is_same_v<Op, index::UpsertPoints>) {
          PayloadChange change = change_of(collection, PayloadChange::Kind::kUpsert);
          change.ids.reserve(op.points.size());
          change.payloads.reserve(op.points.size());
          for (const index::PointWrite& p : op.points) {
            change.ids.push_back(id_of(p.id));
            change.payloads.push_back(json_text(p.payload));
          }
          out.push_back(std::move(change));
        } else if constexpr (std::is_same_v<Op, index::DeletePoints>) {
          PayloadChange change = change_of(collection, PayloadChange::Kind::kDelete);
          for (const core::PointId& id : op.ids) change.ids.push_back(id_of(id));
          out.push_back(std::move(change));
        } else if constexpr (std::is_same_v<Op, index::UpdatePayloads>) {
          using Update = index::PayloadUpdate::Kind;
          PayloadChange::Kind kind = PayloadChange::Kind::kMerge;
          switch (op.update.kind) {
            case Update::kSet: kind = PayloadChange::Kind::kMerge; break;
            case Update::kOverwrite: kind = PayloadChange::Kind::kReplace; break;
            case Update::kDeleteKeys: kind = PayloadChange::Kind::kDeleteKeys; break;
            case Update::kClear: kind = PayloadChange::Kind::kClear; break;
          }
          PayloadChange change = change_of(collection, kind);
          for (const core::PointId& id : op.ids) change.ids.push_back(id_of(id));
          change.json = without_nul_escapes(op.update.payload.dump());
          change.keys = op.update.keys;
          out.push_back(std::move(change));
        }
        // Payload indexes change no payload.
      },
      write);
  return out;
}

PayloadChange all_payloads(const index::CollectionConfig& collection,
                           const index::CollectionSnapshot& snapshot) {
  PayloadChange change = change_of(collection, PayloadChange::Kind::kUpsert);
  change.ids.reserve(snapshot.ids.size());
  change.payloads.reserve(snapshot.ids.size());
  for (size_t i = 0; i < snapshot.ids.size(); ++i) {
    change.ids.push_back(id_of(snapshot.ids[i]));
    change.payloads.push_back(without_nul_escapes(snapshot.payloads[i]));
  }
  return change;
}

}  // namespace vesta::engine
