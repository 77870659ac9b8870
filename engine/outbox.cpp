#include "engine/outbox.h"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace vesta::engine {

std::string encode_attachment(const OutboxItem& item) {
  VESTA_CHECK(item.workspace.size() <= 0xFFFF) << "workspace name too long";
  std::string out;
  out.reserve(2 + item.workspace.size() + 4 + item.text.size());
  out.push_back(static_cast<char>(item.workspace.size() & 0xFF));
  out.push_back(static_cast<char>(item.workspace.size() >> 8));
  out.append(item.workspace);
  for (size_t i = 0; i < 4; ++i)
    out.push_back(static_cast<char>((item.operations >> (8 * i)) & 0xFF));
  out.append(item.text);
  return out;
}

core::Result<OutboxItem> decode_attachment(std::string_view bytes) {
  auto damaged = [](const std::string& what) {
    return core::internal_error("outbox attachment damaged: " + what);
  };
  if (bytes.size() < 2) return damaged("shorter than its header");
  const size_t length =
      static_cast<uint8_t>(bytes[0]) | (static_cast<size_t>(static_cast<uint8_t>(bytes[1])) << 8);
  if (bytes.size() < 2 + length + 4) return damaged("shorter than its workspace name");
  OutboxItem item;
  item.workspace = std::string(bytes.substr(2, length));
  for (size_t i = 0; i < 4; ++i) {
    item.operations |= static_cast<uint32_t>(static_cast<uint8_t>(bytes[2 + length + i]))
                       << (8 * i);
  }
  item.text = std::string(bytes.substr(2 + length + 4));
  return item;
}

std::string OutboxChange::to_text() const {
  nlohmann::json out = nlohmann::json::object();
  if (!delivered.empty()) out["delivered"] = delivered;
  if (!dead.empty()) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& [sequence, error] : dead) {
      list.push_back({{"sequence", sequence}, {"error", error}});
    }
    out["dead"] = std::move(list);
  }
  if (!retry.empty()) out["retry"] = retry;
  return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

core::Result<OutboxChange> OutboxChange::from_text(std::string_view text) {
  const nlohmann::json in = nlohmann::json::parse(text, nullptr, false);
  auto damaged = [] {
    return core::internal_error("outbox record damaged: not the JSON expected");
  };
  if (!in.is_object()) return damaged();
  OutboxChange change;
  auto sequences = [&](const char* key, std::vector<uint64_t>& out) {
    if (!in.contains(key)) return true;
    const nlohmann::json& list = in[key];
    if (!list.is_array()) return false;
    for (const nlohmann::json& s : list) {
      if (!s.is_number_unsigned()) return false;
      out.push_back(s.get<uint64_t>());
    }
    return true;
  };
  if (!sequences("delivered", change.delivered) || !sequences("retry", change.retry)) {
    return damaged();
  }
  if (in.contains("dead")) {
    if (!in["dead"].is_array()) return damaged();
    for (const nlohmann::json& d : in["dead"]) {
      if (!d.is_object() || !d.contains("sequence") || !d["sequence"].is_number_unsigned() ||
          !d.contains("error") || !d["error"].is_string()) {
        return damaged();
      }
      change.dead.emplace_back(d["sequence"].get<uint64_t>(), d["error"].get<std::string>());
    }
  }
  return change;
}

void Outbox::add(uint64_t sequence, OutboxItem item) {
  {
    std::lock_guard lock(mutex_);
    pending_[sequence] = Pending{std::move(item), std::chrono::steady_clock::now()};
  }
  changed_.notify_all();
}

void Outbox::apply(const OutboxChange& change) {
  {
    std::lock_guard lock(mutex_);
    for (uint64_t sequence : change.delivered) {
      if (pending_.erase(sequence) > 0) last_delivered_ = std::max(last_delivered_, sequence);
    }
    for (const auto& [sequence, error] : change.dead) {
      auto it = pending_.find(sequence);
      if (it == pending_.end()) continue;
      dead_[sequence] = DeadLetter{sequence, std::move(it->second.item), error};
      pending_.erase(it);
    }
    for (uint64_t sequence : change.retry) {
      auto it = dead_.find(sequence);
      if (it == dead_.end()) continue;
      pending_[sequence] = Pending{std::move(it->second.item), std::chrono::steady_clock::now()};
      dead_.erase(it);
    }
  }
  changed_.notify_all();
}

std::vector<OutboxEntry> Outbox::front(size_t max_operations) const {
  std::lock_guard lock(mutex_);
  std::vector<OutboxEntry> out;
  size_t operations = 0;
  for (const auto& [sequence, pending] : pending_) {
    if (!out.empty() && operations + pending.item.operations > max_operations) break;
    out.push_back(OutboxEntry{sequence, pending.item});
    operations += pending.item.operations;
  }
  return out;
}

bool Outbox::wait_pending(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return !pending_.empty(); });
}

Delivery Outbox::wait_delivered(uint64_t sequence, std::chrono::milliseconds timeout,
                                std::string* error, const core::CancellationToken* cancel) const {
  std::unique_lock lock(mutex_);
  const core::WaitEnd end = core::wait_cancellable(
      changed_, lock, std::chrono::steady_clock::now() + timeout, cancel,
      [&] { return !pending_.contains(sequence) || stopped_waiting_; },
      [&] { return cancel->cancelled(); });
  if (end == core::WaitEnd::kCancelled) {
    ++waits_cancelled_;
    return Delivery::kCancelled;
  }
  if (pending_.contains(sequence)) return Delivery::kPending;
  if (auto it = dead_.find(sequence); it != dead_.end()) {
    if (error != nullptr) *error = it->second.error;
    return Delivery::kDead;
  }
  return Delivery::kDelivered;
}

OutboxStatus Outbox::status(const std::optional<std::string>& workspace) const {
  std::lock_guard lock(mutex_);
  OutboxStatus out;
  out.last_delivered = last_delivered_;
  out.waits_cancelled = waits_cancelled_;
  const auto now = std::chrono::steady_clock::now();
  for (const auto& [sequence, pending] : pending_) {
    if (workspace && pending.item.workspace != *workspace) continue;
    if (out.pending_records == 0) {
      out.oldest_pending_s = std::chrono::duration<double>(now - pending.since).count();
    }
    ++out.pending_records;
    out.pending_operations += pending.item.operations;
  }
  for (const auto& [sequence, dead] : dead_) {
    if (!workspace || dead.item.workspace == *workspace) ++out.dead_letters;
  }
  return out;
}

std::vector<DeadLetter> Outbox::dead_letters() const {
  std::lock_guard lock(mutex_);
  std::vector<DeadLetter> out;
  out.reserve(dead_.size());
  for (const auto& [sequence, dead] : dead_) out.push_back(dead);
  return out;
}

uint64_t Outbox::keep_after() const {
  std::lock_guard lock(mutex_);
  uint64_t lowest = UINT64_MAX;
  if (!pending_.empty()) lowest = std::min(lowest, pending_.begin()->first);
  if (!dead_.empty()) lowest = std::min(lowest, dead_.begin()->first);
  return lowest == UINT64_MAX ? UINT64_MAX : lowest - 1;
}

void Outbox::stop_waiting() {
  {
    std::lock_guard lock(mutex_);
    stopped_waiting_ = true;
  }
  changed_.notify_all();
}

}  // namespace vesta::engine
