#include "engine/write_codec.h"

#include <cstring>
#include <type_traits>
#include <variant>

namespace vesta::engine {
namespace {

enum class Kind : uint8_t {
  kUpsert = 1,
  kDelete = 2,
  kUpdatePayloads = 3,
  kCreatePayloadIndex = 4,
  kDropPayloadIndex = 5,
  kCatalog = 6,
  kAttached = 7,  // an upsert or delete with an attachment (graph operations)
  kOutbox = 8     // a change to the outbox (graph deliveries, dead letters)
};

// version, kind, incarnation, u16 name length: the name starts here.
constexpr size_t kNameAt = 1 + 1 + 8 + 2;

class Writer {
 public:
  void u8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void u16(uint16_t v) { fixed(v); }
  void u32(uint32_t v) { fixed(v); }
  void u64(uint64_t v) { fixed(v); }
  void bytes(const void* data, size_t n) { out_.append(static_cast<const char*>(data), n); }
  void str16(std::string_view s) {
    u16(static_cast<uint16_t>(s.size()));
    out_.append(s);
  }
  void str32(std::string_view s) {
    u32(static_cast<uint32_t>(s.size()));
    out_.append(s);
  }
  void id(const core::PointId& id) {
    u8(static_cast<uint8_t>(id.kind()));
    switch (id.kind()) {
      case core::PointIdKind::kNumber: u64(id.as_number()); break;
      case core::PointIdKind::kUuid: bytes(id.as_uuid().bytes.data(), 16); break;
      case core::PointIdKind::kString: str16(id.as_string()); break;
    }
  }
  void ids(const std::vector<core::PointId>& ids) {
    u32(static_cast<uint32_t>(ids.size()));
    for (const core::PointId& i : ids) id(i);
  }
  void json(const nlohmann::json& value) { str32(value.is_null() ? std::string() : value.dump()); }
  std::string take() { return std::move(out_); }

 private:
  template <typename T>
  void fixed(T v) {
    static_assert(std::is_unsigned_v<T>);
    for (size_t i = 0; i < sizeof(T); ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  }
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  size_t at() const { return at_; }
  bool done() const { return at_ == in_.size(); }

  core::Result<uint64_t> fixed(size_t n) {
    VESTA_RETURN_IF_ERROR(need(n));
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v |= uint64_t{static_cast<uint8_t>(in_[at_ + i])} << (8 * i);
    at_ += n;
    return v;
  }
  core::Result<std::string_view> bytes(size_t n) {
    VESTA_RETURN_IF_ERROR(need(n));
    std::string_view out = in_.substr(at_, n);
    at_ += n;
    return out;
  }
  core::Result<std::string> str(size_t length_bytes) {
    core::Result<uint64_t> n = fixed(length_bytes);
    if (!n.is_ok()) return n.status();
    core::Result<std::string_view> b = bytes(n.value());
    if (!b.is_ok()) return b.status();
    return std::string(b.value());
  }
  core::Result<core::PointId> id() {
    core::Result<uint64_t> kind = fixed(1);
    if (!kind.is_ok()) return kind.status();
    switch (static_cast<core::PointIdKind>(kind.value())) {
      case core::PointIdKind::kNumber: {
        core::Result<uint64_t> v = fixed(8);
        if (!v.is_ok()) return v.status();
        return core::PointId::number(v.value());
      }
      case core::PointIdKind::kUuid: {
        core::Result<std::string_view> b = bytes(16);
        if (!b.is_ok()) return b.status();
        core::Uuid u;
        std::memcpy(u.bytes.data(), b.value().data(), 16);
        return core::PointId::uuid(u);
      }
      case core::PointIdKind::kString: {
        core::Result<std::string> s = str(2);
        if (!s.is_ok()) return s.status();
        return core::PointId::string(std::move(s).value());
      }
    }
    return error("unknown point id kind " + std::to_string(kind.value()));
  }
  core::Result<std::vector<core::PointId>> ids() {
    core::Result<uint64_t> n = fixed(4);
    if (!n.is_ok()) return n.status();
    std::vector<core::PointId> out;
    for (uint64_t i = 0; i < n.value(); ++i) {
      core::Result<core::PointId> one = id();
      if (!one.is_ok()) return one.status();
      out.push_back(std::move(one).value());
    }
    return out;
  }
  core::Result<nlohmann::json> json() {
    core::Result<std::string> text = str(4);
    if (!text.is_ok()) return text.status();
    if (text.value().empty()) return nlohmann::json();
    nlohmann::json value = nlohmann::json::parse(text.value(), nullptr, false);
    if (value.is_discarded()) return error("payload is not valid JSON");
    return value;
  }
  core::Status error(const std::string& what) const {
    return core::internal_error("WAL record damaged at byte " + std::to_string(at_) + ": " + what);
  }

 private:
  core::Status need(size_t n) const {
    if (in_.size() - at_ < n) {
      return error("needs " + std::to_string(n) + " more bytes, has " +
                   std::to_string(in_.size() - at_));
    }
    return core::Status::ok();
  }
  std::string_view in_;
  size_t at_ = 0;
};

#define VESTA_ASSIGN_OR_RETURN(lhs, expr)                  \
  auto lhs##_result = (expr);                              \
  if (!lhs##_result.is_ok()) return lhs##_result.status(); \
  auto lhs = std::move(lhs##_result).value()

core::Result<index::CollectionWrite> decode_body(Kind kind, Reader& r) {
  switch (kind) {
    case Kind::kUpsert: {
      VESTA_ASSIGN_OR_RETURN(count, r.fixed(4));
      VESTA_ASSIGN_OR_RETURN(dim, r.fixed(4));
      index::UpsertPoints w;
      w.points.reserve(count);
      for (uint64_t i = 0; i < count; ++i) {
        index::PointWrite p;
        VESTA_ASSIGN_OR_RETURN(id, r.id());
        VESTA_ASSIGN_OR_RETURN(values, r.bytes(dim * sizeof(float)));
        VESTA_ASSIGN_OR_RETURN(payload, r.json());
        p.id = std::move(id);
        p.vector.resize(dim);
        std::memcpy(p.vector.data(), values.data(), values.size());
        p.payload = std::move(payload);
        w.points.push_back(std::move(p));
      }
      return index::CollectionWrite(std::move(w));
    }
    case Kind::kDelete: {
      VESTA_ASSIGN_OR_RETURN(ids, r.ids());
      return index::CollectionWrite(index::DeletePoints{std::move(ids)});
    }
    case Kind::kUpdatePayloads: {
      index::UpdatePayloads w;
      VESTA_ASSIGN_OR_RETURN(update_kind, r.fixed(1));
      if (update_kind > static_cast<uint64_t>(index::PayloadUpdate::Kind::kClear)) {
        return r.error("unknown payload update " + std::to_string(update_kind));
      }
      w.update.kind = static_cast<index::PayloadUpdate::Kind>(update_kind);
      VESTA_ASSIGN_OR_RETURN(payload, r.json());
      w.update.payload = payload.is_null() ? nlohmann::json::object() : std::move(payload);
      VESTA_ASSIGN_OR_RETURN(keys, r.fixed(4));
      for (uint64_t i = 0; i < keys; ++i) {
        VESTA_ASSIGN_OR_RETURN(key, r.str(4));
        w.update.keys.push_back(std::move(key));
      }
      VESTA_ASSIGN_OR_RETURN(ids, r.ids());
      w.ids = std::move(ids);
      return index::CollectionWrite(std::move(w));
    }
    case Kind::kCreatePayloadIndex: {
      VESTA_ASSIGN_OR_RETURN(key, r.str(2));
      VESTA_ASSIGN_OR_RETURN(schema_name, r.str(2));
      const std::optional<index::PayloadSchema> schema = index::parse_payload_schema(schema_name);
      if (!schema) return r.error("unknown payload schema '" + schema_name + "'");
      return index::CollectionWrite(index::CreatePayloadIndex{std::move(key), *schema});
    }
    case Kind::kDropPayloadIndex: {
      VESTA_ASSIGN_OR_RETURN(key, r.str(2));
      return index::CollectionWrite(index::DropPayloadIndex{std::move(key)});
    }
    case Kind::kCatalog: return r.error("a catalog record is not a collection write");
    case Kind::kAttached: return r.error("an attachment inside an attached write");
    case Kind::kOutbox: return r.error("an outbox record is not a collection write");
  }
  return r.error("unknown write kind " + std::to_string(static_cast<int>(kind)));
}

#undef VESTA_ASSIGN_OR_RETURN

}  // namespace

std::string encode_write(const index::CollectionConfig& collection,
                         const index::CollectionWrite& write, std::string_view attachment) {
  if (!attachment.empty()) {
    VESTA_CHECK((std::holds_alternative<index::UpsertPoints>(write) ||
                 std::holds_alternative<index::DeletePoints>(write)))
        << "only upserts and deletes carry attachments";
    // The plain record with its kind moved after the name, then the
    // attachment.
    const std::string plain = encode_write(collection, write, {});
    const size_t body_at = kNameAt + collection.name.size();
    Writer w;
    w.u8(kWriteRecordVersion);
    w.u8(static_cast<uint8_t>(Kind::kAttached));
    w.bytes(plain.data() + 2, body_at - 2);
    w.u8(static_cast<uint8_t>(plain[1]));
    w.bytes(plain.data() + body_at, plain.size() - body_at);
    w.str32(attachment);
    return w.take();
  }
  Writer w;
  w.u8(kWriteRecordVersion);
  std::visit(
      [&](const auto& op) {
        using Op = std::decay_t<decltype(op)>;
        if constexpr (std::is_same_v<Op, index::UpsertPoints>) {
          w.u8(static_cast<uint8_t>(Kind::kUpsert));
        } else if constexpr (std::is_same_v<Op, index::DeletePoints>) {
          w.u8(static_cast<uint8_t>(Kind::kDelete));
        } else if constexpr (std::is_same_v<Op, index::UpdatePayloads>) {
          w.u8(static_cast<uint8_t>(Kind::kUpdatePayloads));
        } else if constexpr (std::is_same_v<Op, index::CreatePayloadIndex>) {
          w.u8(static_cast<uint8_t>(Kind::kCreatePayloadIndex));
        } else {
          w.u8(static_cast<uint8_t>(Kind::kDropPayloadIndex));
        }
        w.u64(collection.incarnation);
        w.str16(collection.name);
        if constexpr (std::is_same_v<Op, index::UpsertPoints>) {
          w.u32(static_cast<uint32_t>(op.points.size()));
          w.u32(static_cast<uint32_t>(collection.dim));
          for (const index::PointWrite& p : op.points) {
            VESTA_CHECK(p.vector.size() == collection.dim) << "unvalidated vector logged";
            w.id(p.id);
            w.bytes(p.vector.data(), p.vector.size() * sizeof(float));
            w.json(p.payload);
          }
        } else if constexpr (std::is_same_v<Op, index::DeletePoints>) {
          w.ids(op.ids);
        } else if constexpr (std::is_same_v<Op, index::UpdatePayloads>) {
          w.u8(static_cast<uint8_t>(op.update.kind));
          w.json(op.update.payload);
          w.u32(static_cast<uint32_t>(op.update.keys.size()));
          for (const std::string& key : op.update.keys) w.str32(key);
          w.ids(op.ids);
        } else if constexpr (std::is_same_v<Op, index::CreatePayloadIndex>) {
          w.str16(op.key);
          w.str16(index::payload_schema_name(op.schema));
        } else {
          w.str16(op.key);
        }
      },
      write);
  return w.take();
}

core::Result<DecodedWrite> decode_write(std::string_view record) {
  Reader r(record);
  core::Result<uint64_t> version = r.fixed(1);
  if (!version.is_ok()) return version.status();
  if (version.value() != kWriteRecordVersion) {
    return core::Status(core::StatusCode::kConflict,
                        "WAL record of version " + std::to_string(version.value()) +
                            "; this binary reads version " + std::to_string(kWriteRecordVersion));
  }
  core::Result<uint64_t> kind = r.fixed(1);
  if (!kind.is_ok()) return kind.status();
  core::Result<uint64_t> incarnation = r.fixed(8);
  if (!incarnation.is_ok()) return incarnation.status();
  core::Result<std::string> name = r.str(2);
  if (!name.is_ok()) return name.status();
  const bool attached = kind.value() == static_cast<uint64_t>(Kind::kAttached);
  if (attached) {
    kind = r.fixed(1);
    if (!kind.is_ok()) return kind.status();
    if (kind.value() != static_cast<uint64_t>(Kind::kUpsert) &&
        kind.value() != static_cast<uint64_t>(Kind::kDelete)) {
      return r.error("an attachment on write kind " + std::to_string(kind.value()));
    }
  }
  core::Result<index::CollectionWrite> write = decode_body(static_cast<Kind>(kind.value()), r);
  if (!write.is_ok()) return write.status();
  std::string attachment;
  if (attached) {
    core::Result<std::string> text = r.str(4);
    if (!text.is_ok()) return text.status();
    attachment = std::move(text).value();
  }
  if (!r.done()) return r.error("trailing bytes");
  return DecodedWrite{std::move(name).value(), incarnation.value(), std::move(write).value(),
                      std::move(attachment)};
}

std::optional<WriteHeader> peek_write_header(std::string_view record) {
  if (record.size() < kNameAt || static_cast<uint8_t>(record[0]) != kWriteRecordVersion) {
    return std::nullopt;
  }
  const auto kind = static_cast<uint8_t>(record[1]);
  if (kind < static_cast<uint8_t>(Kind::kUpsert) ||
      kind > static_cast<uint8_t>(Kind::kDropPayloadIndex)) {
    return std::nullopt;
  }
  Reader r(record.substr(2));
  core::Result<uint64_t> incarnation = r.fixed(8);
  core::Result<std::string> name = r.str(2);
  if (!incarnation.is_ok() || !name.is_ok()) return std::nullopt;
  return WriteHeader{std::move(name).value(), incarnation.value()};
}

std::string encode_outbox_record(std::string_view change) {
  Writer w;
  w.u8(kWriteRecordVersion);
  w.u8(static_cast<uint8_t>(Kind::kOutbox));
  w.u64(0);
  w.str16("");
  w.str32(change);
  return w.take();
}

std::optional<std::string_view> outbox_record_text(std::string_view record) {
  constexpr size_t kHeader = kNameAt + 4;
  if (record.size() < kHeader || static_cast<uint8_t>(record[0]) != kWriteRecordVersion ||
      static_cast<uint8_t>(record[1]) != static_cast<uint8_t>(Kind::kOutbox)) {
    return std::nullopt;
  }
  uint32_t length = 0;
  for (size_t i = 0; i < 4; ++i) {
    length |= static_cast<uint32_t>(static_cast<uint8_t>(record[kNameAt + i])) << (8 * i);
  }
  if (record.size() != kHeader + length) return std::nullopt;
  return record.substr(kHeader);
}

std::string encode_catalog_record(std::string_view catalog_text) {
  Writer w;
  w.u8(kWriteRecordVersion);
  w.u8(static_cast<uint8_t>(Kind::kCatalog));
  w.u64(0);
  w.str16("");
  w.str32(catalog_text);
  return w.take();
}

std::optional<std::string_view> catalog_record_text(std::string_view record) {
  // version, kind, incarnation 0, empty name, u32 length, text
  constexpr size_t kHeader = 1 + 1 + 8 + 2 + 4;
  if (record.size() < kHeader || static_cast<uint8_t>(record[0]) != kWriteRecordVersion ||
      static_cast<uint8_t>(record[1]) != static_cast<uint8_t>(Kind::kCatalog)) {
    return std::nullopt;
  }
  uint32_t length = 0;
  for (size_t i = 0; i < 4; ++i) {
    length |= static_cast<uint32_t>(static_cast<uint8_t>(record[12 + i])) << (8 * i);
  }
  if (record.size() != kHeader + length) return std::nullopt;
  return record.substr(kHeader);
}

}  // namespace vesta::engine
