#include "index/flat_index.h"

#include <algorithm>
#include <atomic>
#include <iterator>
#include <string>

#include "core/check.h"
#include "core/float16.h"
#include "core/parallel_for.h"
#include "kernels/cpu/distance.h"

namespace vesta::index {
namespace {

std::atomic<uint64_t> next_instance_id{1};

}  // namespace

FlatIndex::FlatIndex(size_t dim, Metric metric)
    : dim_(dim),
      stride_(kernels::padded_dim(dim)),
      metric_(metric),
      instance_id_(next_instance_id.fetch_add(1, std::memory_order_relaxed)) {
  VESTA_CHECK(dim > 0) << "FlatIndex with dim 0";
}

core::Status FlatIndex::validate_vector(std::span<const float> vector,
                                        std::string_view what) const {
  if (vector.size() != dim_) {
    return core::invalid_argument(std::string(what) + " has " + std::to_string(vector.size()) +
                                  " values, expected " + std::to_string(dim_));
  }
  return core::check_float16_range(vector, what);
}

void FlatIndex::write_row(uint64_t row, std::span<const float> vector) {
  VESTA_CHECK(vector.size() == dim_) << "vector of " << vector.size() << " values, dim " << dim_;
  std::span<uint16_t> out(rows_.data() + row * stride_, dim_);
  if (metric_ == Metric::kCosine) {
    // A zero vector stays zero (its cosine with anything scores 0).
    std::vector<float> unit(vector.begin(), vector.end());
    normalise(unit);
    core::floats_to_halves(unit, out);
  } else {
    core::floats_to_halves(vector, out);
  }
}

namespace {

// Payloads per task when they are shared out on every core.
constexpr size_t kPayloadSlice = 4096;

// A payload as the index keeps it: null for none.
std::shared_ptr<const nlohmann::json> share(nlohmann::json payload) {
  if (payload.is_null()) return nullptr;
  return std::make_shared<const nlohmann::json>(std::move(payload));
}

}  // namespace

const nlohmann::json& FlatIndex::null_payload() {
  static const nlohmann::json kNull;
  return kNull;
}

uint64_t FlatIndex::place(const core::PointId& id, nlohmann::json payload) {
  VESTA_CHECK(payload.is_object() || payload.is_null()) << "payload must be an object or null";
  if (auto it = id_to_row_.find(id); it != id_to_row_.end()) {
    keep_before_image(it->second);
    rewritten_rows_.push_back(it->second);
    payloads_[it->second] = share(std::move(payload));
    for (auto& [key, index] : payload_indexes_) {
      index.remove(it->second);
      index.add(it->second, row_payload(it->second));
    }
    return it->second;
  }
  const uint64_t row = row_ids_.size();
  rows_.resize(rows_.size() + stride_, 0);  // padding stays zero
  if (tombstones_.size() * 64 <= row) tombstones_.push_back(0);
  row_ids_.push_back(id);
  payloads_.push_back(share(std::move(payload)));
  id_to_row_.emplace(id, row);
  for (auto& [key, index] : payload_indexes_) index.add(row, row_payload(row));
  return row;
}

void FlatIndex::upsert(const core::PointId& id, std::span<const float> vector,
                       nlohmann::json payload) {
  VESTA_CHECK(vector.size() == dim_) << "vector of " << vector.size() << " values, dim " << dim_;
  write_row(place(id, std::move(payload)), vector);
}

void FlatIndex::reserve(size_t points) {
  const size_t rows = row_count() + points;
  rows_.reserve(rows * stride_);
  row_ids_.reserve(rows);
  payloads_.reserve(rows);
  tombstones_.reserve((rows + 63) / 64);
  id_to_row_.reserve(rows);
}

void FlatIndex::upsert_halves(const core::PointId& id, std::span<const uint16_t> halves,
                              nlohmann::json payload) {
  VESTA_CHECK(halves.size() == dim_) << "row of " << halves.size() << " values, dim " << dim_;
  const uint64_t row = place(id, std::move(payload));
  std::copy(halves.begin(), halves.end(), rows_.begin() + static_cast<ptrdiff_t>(row * stride_));
}

void FlatIndex::load(std::vector<core::PointId> ids, core::HalfVector rows,
                     std::vector<nlohmann::json> payloads) {
  const size_t n = ids.size();
  VESTA_CHECK(row_count() == 0) << "load into an index with " << row_count() << " rows";
  VESTA_CHECK(rows.size() == n * dim_ && payloads.size() == n)
      << n << " ids, " << rows.size() << " row values (dim " << dim_ << "), " << payloads.size()
      << " payloads";
  id_to_row_.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    VESTA_CHECK(payloads[i].is_object() || payloads[i].is_null())
        << "payload must be an object or null";
    if (!id_to_row_.try_emplace(ids[i], i).second) {
      // A repeated id (no snapshot Vesta writes has one): point after point,
      // so that the later one overwrites the earlier as it always did.
      id_to_row_.clear();
      reserve(n);
      for (size_t j = 0; j < n; ++j) {
        upsert_halves(ids[j], {rows.data() + j * dim_, dim_}, std::move(payloads[j]));
      }
      return;
    }
  }
  if (stride_ == dim_) {
    rows_ = std::move(rows);
  } else {
    rows_.resize(n * stride_);  // not zero-filled: every value is written below
    constexpr size_t kSlice = 4096;
    core::parallel_for((n + kSlice - 1) / kSlice, [&](size_t slice) {
      for (size_t r = slice * kSlice; r < std::min(n, (slice + 1) * kSlice); ++r) {
        uint16_t* out = rows_.data() + r * stride_;
        std::copy_n(rows.data() + r * dim_, dim_, out);
        std::fill(out + dim_, out + stride_, uint16_t{0});
      }
    });
  }
  row_ids_ = std::move(ids);
  payloads_.resize(n);
  core::parallel_for((n + kPayloadSlice - 1) / kPayloadSlice, [&](size_t slice) {
    for (size_t r = slice * kPayloadSlice; r < std::min(n, (slice + 1) * kPayloadSlice); ++r) {
      payloads_[r] = share(std::move(payloads[r]));
    }
  });
  tombstones_.assign((n + 63) / 64, 0);
  for (auto& [key, index] : payload_indexes_) {
    for (uint64_t row = 0; row < n; ++row) index.add(row, row_payload(row));
  }
}

bool FlatIndex::remove(const core::PointId& id) {
  auto it = id_to_row_.find(id);
  if (it == id_to_row_.end()) return false;
  const uint64_t row = it->second;
  keep_before_image(row);
  tombstones_[row / 64] |= uint64_t{1} << (row % 64);
  ++tombstone_version_;
  for (auto& [key, index] : payload_indexes_) index.remove(row);
  payloads_[row] = nullptr;
  id_to_row_.erase(it);
  return true;
}

bool FlatIndex::set_payload(const core::PointId& id, nlohmann::json payload) {
  VESTA_CHECK(payload.is_object() || payload.is_null()) << "payload must be an object or null";
  auto it = id_to_row_.find(id);
  if (it == id_to_row_.end()) return false;
  keep_before_image(it->second);
  payloads_[it->second] = share(std::move(payload));
  for (auto& [key, index] : payload_indexes_) {
    index.remove(it->second);
    index.add(it->second, row_payload(it->second));
  }
  return true;
}

std::optional<uint64_t> FlatIndex::find_row(const core::PointId& id) const {
  auto it = id_to_row_.find(id);
  if (it == id_to_row_.end()) return std::nullopt;
  return it->second;
}

std::vector<float> FlatIndex::row_vector(uint64_t row) const {
  VESTA_CHECK(row < row_count()) << "row " << row << " of " << row_count();
  std::vector<float> out(dim_);
  core::halves_to_floats({rows_.data() + row * stride_, dim_}, out);
  return out;
}

size_t FlatIndex::compact() {
  const size_t before = row_count();
  if (tombstone_count() == 0 || frozen_) return 0;  // row numbers stay while frozen
  uint64_t write = 0;
  for (uint64_t read = 0; read < before; ++read) {
    if (!is_live(read)) continue;
    if (write != read) {
      std::copy_n(rows_.begin() + static_cast<ptrdiff_t>(read * stride_), stride_,
                  rows_.begin() + static_cast<ptrdiff_t>(write * stride_));
      row_ids_[write] = std::move(row_ids_[read]);
      payloads_[write] = std::move(payloads_[read]);
      id_to_row_[row_ids_[write]] = write;
    }
    ++write;
  }
  rows_.resize(write * stride_);
  rows_.shrink_to_fit();
  row_ids_.resize(write);
  payloads_.resize(write);
  tombstones_.assign((write + 63) / 64, 0);
  ++tombstone_version_;
  rewritten_rows_.clear();
  rewritten_rows_.shrink_to_fit();
  ++generation_;
  // Row numbers changed: rebuild the payload indexes.
  for (auto& [key, index] : payload_indexes_) {
    index.clear();
    for (uint64_t row = 0; row < write; ++row) index.add(row, row_payload(row));
  }
  return before - write;
}

void FlatIndex::freeze() {
  VESTA_CHECK(!frozen_) << "the index is frozen already";
  frozen_ = true;
  frozen_rows_ = row_count();
  frozen_live_ = live_count();
}

void FlatIndex::thaw() {
  frozen_ = false;
  frozen_rows_ = 0;
  frozen_live_ = 0;
  std::unordered_map<uint64_t, BeforeImage>().swap(before_images_);
}

void FlatIndex::keep_before_image(uint64_t row) {
  if (!frozen_ || row >= frozen_rows_ || before_images_.contains(row)) return;
  // Only live rows change, so a row with a before-image was live when frozen.
  const uint16_t* values = rows_.data() + row * stride_;
  before_images_.emplace(row, BeforeImage{{values, values + dim_}, payloads_[row]});
}

FlatIndex::FrozenRow FlatIndex::frozen_row(uint64_t row) const {
  VESTA_CHECK(frozen_ && row < frozen_rows_) << "row " << row << " of a view of " << frozen_rows_;
  if (auto it = before_images_.find(row); it != before_images_.end()) {
    return {true, it->second.values.data(), &it->second.payload};
  }
  // Unchanged since freeze(): a row dead then is dead now, one live then and
  // live now was never written (or it would have a before-image).
  return {is_live(row), rows_.data() + row * stride_, &payloads_[row]};
}

void FlatIndex::create_payload_index(const std::string& key, PayloadSchema schema) {
  auto it = payload_indexes_.find(key);
  if (it != payload_indexes_.end() && it->second.schema() == schema) return;
  if (it != payload_indexes_.end()) payload_indexes_.erase(it);
  PayloadIndex index(key, schema);
  for (uint64_t row = 0; row < row_count(); ++row) {
    if (is_live(row)) index.add(row, row_payload(row));
  }
  payload_indexes_.emplace(key, std::move(index));
}

bool FlatIndex::drop_payload_index(const std::string& key) {
  return payload_indexes_.erase(key) > 0;
}

std::optional<std::vector<uint64_t>> FlatIndex::indexed_candidates(
    const std::vector<IndexableCondition>& conditions) const {
  std::optional<std::vector<uint64_t>> result;
  for (const IndexableCondition& condition : conditions) {
    for (const auto& [key, index] : payload_indexes_) {
      std::optional<std::vector<uint64_t>> rows = index.candidates(condition);
      if (!rows) continue;
      if (!result) {
        result = std::move(rows);
      } else {
        std::vector<uint64_t> both;
        std::set_intersection(result->begin(), result->end(), rows->begin(), rows->end(),
                              std::back_inserter(both));
        result = std::move(both);
      }
      break;
    }
  }
  return result;
}

}  // namespace vesta::index
