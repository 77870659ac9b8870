#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "persistence/bolt/auth_token.h"
#include "persistence/bolt/handshake.h"
#include "persistence/bolt/value.h"

// Bolt messages as PackStream structures (the Bolt documentation's "Message"
// page): the requests this client sends and the four responses.
namespace vesta::bolt {

// Message tags (structure signatures).
enum class MessageTag : std::uint8_t {
  kHello = 0x01,
  kGoodbye = 0x02,
  kReset = 0x0F,
  kRun = 0x10,
  kBegin = 0x11,
  kCommit = 0x12,
  kRollback = 0x13,
  kDiscard = 0x2F,
  kPull = 0x3F,
  kLogon = 0x6A,
  kLogoff = 0x6B,
  kSuccess = 0x70,
  kRecord = 0x71,
  kIgnored = 0x7E,
  kFailure = 0x7F,
};

// What BEGIN (or an auto-commit RUN) carries.
struct TransactionConfig {
  std::string database;                    // "": the server's default database
  bool read_only = false;                  // mode "r" (routes to a reader in a cluster)
  std::optional<std::int64_t> timeout_ms;  // the server's transaction timeout, else its default
  Dictionary metadata;                     // tx_metadata, shown in the server's query log
  std::vector<std::string> bookmarks;      // causal consistency across sessions

  // The extra dictionary of BEGIN and of an auto-commit RUN: only the keys
  // that differ from the protocol's defaults.
  Dictionary to_extra() const;
};

// HELLO: user_agent, bolt_agent from 5.3 (mandatory there), and the auth
// token's entries for Bolt 4.4 and 5.0, which have no LOGON.
Structure hello_message(BoltVersion version, std::string_view user_agent, const AuthToken& auth);
// LOGON (Bolt 5.1+).
Structure logon_message(const AuthToken& auth);
Structure begin_message(const TransactionConfig& config);
Structure run_message(std::string_view query, const Dictionary& parameters, Dictionary extra);
// PULL {n}: n records, or all with -1 (of the last RUN in a transaction).
Structure pull_message(std::int64_t n);
// COMMIT, ROLLBACK, RESET, GOODBYE: no fields.
Structure bare_message(MessageTag tag);

// The name of a message tag for errors and logs ("SUCCESS", "RUN", ...).
std::string message_name(std::uint8_t tag);

// A response: SUCCESS {metadata}, RECORD [values], IGNORED, FAILURE {metadata}.
struct Response {
  MessageTag tag = MessageTag::kSuccess;
  Dictionary metadata;  // SUCCESS and FAILURE
  List record;          // RECORD

  bool is(MessageTag t) const { return tag == t; }
};

// Reads a response from a decoded message; InvalidArgument naming what is
// wrong when it is not one of the four with the fields they take.
core::Result<Response> parse_response(Value message);

}  // namespace vesta::bolt
