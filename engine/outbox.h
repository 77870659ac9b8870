#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/cancellation.h"
#include "core/status.h"

namespace vesta::engine {

// What a write's attachment carries to the outbox: the workspace it belongs
// to, how many operations it holds (for the status), and the operations
// themselves (their text is the graph layer's business). Framed as u16
// workspace length, workspace, u32 operation count, operations.
struct OutboxItem {
  std::string workspace;
  uint32_t operations = 0;
  std::string text;
};
std::string encode_attachment(const OutboxItem& item);
core::Result<OutboxItem> decode_attachment(std::string_view bytes);

// A change to the outbox, logged (as a record of kind 8) so that it
// survives restarts and reaches every process of a shared workspace in log
// order. JSON: {"delivered": [sequences], "dead": [{"sequence", "error"}],
// "retry": [sequences]}.
struct OutboxChange {
  std::vector<uint64_t> delivered;                     // committed in the graph database
  std::vector<std::pair<uint64_t, std::string>> dead;  // refused for good, with why
  std::vector<uint64_t> retry;                         // dead letters put back
  std::string to_text() const;
  static core::Result<OutboxChange> from_text(std::string_view text);
};

struct OutboxEntry {
  uint64_t sequence = 0;
  OutboxItem item;
};

struct DeadLetter {
  uint64_t sequence = 0;
  OutboxItem item;
  std::string error;
};

struct OutboxStatus {
  uint64_t pending_records = 0;
  uint64_t pending_operations = 0;
  uint64_t dead_letters = 0;
  uint64_t last_delivered = 0;   // any workspace
  double oldest_pending_s = 0;   // how long the oldest pending record has waited here
  uint64_t waits_cancelled = 0;  // wait_delivered calls their caller gave up (any workspace)
};

// How a waited-for record ended.
enum class Delivery { kPending, kDelivered, kDead, kCancelled };

// The operations logged with writes that are still to be delivered (in
// sequence order), and those refused for good (dead letters). Rebuilt from
// the log at start (the engine replays every record it keeps; it keeps the
// log after lowest_needed()). Thread-safe.
class Outbox {
 public:
  // A record's attachment, logged as `sequence`.
  void add(uint64_t sequence, OutboxItem item);
  // A logged change. Sequences it names that are not here (delivered before,
  // or older than the log kept) are ignored.
  void apply(const OutboxChange& change);

  // The oldest pending entries, at most `max_operations` operations (always
  // at least one entry when any is pending).
  std::vector<OutboxEntry> front(size_t max_operations) const;
  // Waits until something is pending or `timeout` passes.
  bool wait_pending(std::chrono::milliseconds timeout) const;
  // Waits until `sequence` is no longer pending (or `timeout`, or `cancel`
  // is set: kCancelled, the record still pending); what became of it, and
  // for a dead letter its error.
  Delivery wait_delivered(uint64_t sequence, std::chrono::milliseconds timeout, std::string* error,
                          const core::CancellationToken* cancel = nullptr) const;
  OutboxStatus status(const std::optional<std::string>& workspace) const;
  std::vector<DeadLetter> dead_letters() const;
  // The log must be kept after this sequence for the outbox to be rebuilt
  // (UINT64_MAX: nothing is needed).
  uint64_t keep_after() const;
  // At shutdown: waiters return at once (kPending), now and from now on.
  void stop_waiting();

 private:
  struct Pending {
    OutboxItem item;
    std::chrono::steady_clock::time_point since;
  };
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::map<uint64_t, Pending> pending_;
  std::map<uint64_t, DeadLetter> dead_;
  uint64_t last_delivered_ = 0;
  bool stopped_waiting_ = false;
  mutable uint64_t waits_cancelled_ = 0;
};

}  // namespace vesta::engine
