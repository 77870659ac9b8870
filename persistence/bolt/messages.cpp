#include "persistence/bolt/messages.h"

#include <cstdio>
#include <utility>

namespace vesta::bolt {

// The driver name in bolt_agent: Bolt 5.3+ requires it to name the driver
// (not the application, which is user_agent's job).
constexpr std::string_view kBoltAgentProduct = "vesta-bolt/0.1";

Dictionary TransactionConfig::to_extra() const {
  Dictionary extra;
  if (!bookmarks.empty()) {
    List list;
    for (const std::string& bookmark : bookmarks) list.emplace_back(bookmark);
    extra.set("bookmarks", std::move(list));
  }
  if (timeout_ms) extra.set("tx_timeout", *timeout_ms);
  if (!metadata.empty()) extra.set("tx_metadata", metadata);
  if (read_only) extra.set("mode", "r");
  if (!database.empty()) extra.set("db", database);
  return extra;
}

namespace {

Structure message(MessageTag tag, List fields) {
  return Structure{static_cast<std::uint8_t>(tag), std::move(fields)};
}

}  // namespace

Structure hello_message(BoltVersion version, std::string_view user_agent, const AuthToken& auth) {
  Dictionary extra{{"user_agent", user_agent}};
  if (version.at_least(5, 3)) {
    extra.set("bolt_agent", Dictionary{{"product", kBoltAgentProduct}, {"language", "C++/20"}});
  }
  if (!version.at_least(5, 1)) {
    for (const DictionaryEntry& entry : auth.to_dictionary()) extra.set(entry.key, entry.value);
  }
  return message(MessageTag::kHello, {std::move(extra)});
}

Structure logon_message(const AuthToken& auth) {
  return message(MessageTag::kLogon, {auth.to_dictionary()});
}

Structure begin_message(const TransactionConfig& config) {
  return message(MessageTag::kBegin, {config.to_extra()});
}

Structure run_message(std::string_view query, const Dictionary& parameters, Dictionary extra) {
  return message(MessageTag::kRun, {query, parameters, std::move(extra)});
}

Structure pull_message(std::int64_t n) {
  return message(MessageTag::kPull, {Dictionary{{"n", n}}});
}

Structure bare_message(MessageTag tag) { return message(tag, {}); }

std::string message_name(std::uint8_t tag) {
  switch (static_cast<MessageTag>(tag)) {
    case MessageTag::kHello: return "HELLO";
    case MessageTag::kGoodbye: return "GOODBYE";
    case MessageTag::kReset: return "RESET";
    case MessageTag::kRun: return "RUN";
    case MessageTag::kBegin: return "BEGIN";
    case MessageTag::kCommit: return "COMMIT";
    case MessageTag::kRollback: return "ROLLBACK";
    case MessageTag::kDiscard: return "DISCARD";
    case MessageTag::kPull: return "PULL";
    case MessageTag::kLogon: return "LOGON";
    case MessageTag::kLogoff: return "LOGOFF";
    case MessageTag::kSuccess: return "SUCCESS";
    case MessageTag::kRecord: return "RECORD";
    case MessageTag::kIgnored: return "IGNORED";
    case MessageTag::kFailure: return "FAILURE";
  }
  char hex[24];
  std::snprintf(hex, sizeof hex, "message 0x%02X", tag);
  return hex;
}

core::Result<Response> parse_response(Value message) {
  const Structure* structure = message.get_if<Structure>();
  if (structure == nullptr) {
    return core::invalid_argument("Bolt: a message is a Structure, not a " +
                                  std::string(message.type_name()));
  }
  Response response;
  response.tag = static_cast<MessageTag>(structure->tag);
  const size_t fields = structure->fields.size();
  switch (response.tag) {
    case MessageTag::kSuccess:
    case MessageTag::kFailure:
      if (fields != 1 || !structure->fields[0].is<Dictionary>()) {
        return core::invalid_argument("Bolt: " + message_name(structure->tag) +
                                      " takes one Dictionary: " + message.to_string());
      }
      response.metadata = structure->fields[0].as<Dictionary>();
      return response;
    case MessageTag::kRecord:
      if (fields != 1 || !structure->fields[0].is<List>()) {
        return core::invalid_argument("Bolt: RECORD takes one List: " + message.to_string());
      }
      response.record = structure->fields[0].as<List>();
      return response;
    case MessageTag::kIgnored:
      // Fields are tolerated: nothing is read from them.
      return response;
    default:
      return core::invalid_argument("Bolt: " + message_name(structure->tag) + " is not a response");
  }
}

}  // namespace vesta::bolt
