#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace vesta::admin {

// The options of `vesta alias` (alias_usage() describes each).
struct AliasOptions {
  enum class Action { kSwap, kList };
  Action action = Action::kList;
  std::string alias;       // swap: the alias to point
  std::string collection;  // swap: --to; list: --collection (empty: every alias)
  std::string url = "http://127.0.0.1:6333";
  std::string api_key;  // sent as the api-key header when not empty
  bool help = false;
};

// Parses the arguments after "alias"; errors name the flag.
core::Result<AliasOptions> parse_alias_options(const std::vector<std::string_view>& args);

std::string_view alias_usage();

// The body of POST /collections/aliases that points `alias` at `collection`:
// one create_alias action, which the server applies as an atomic re-point
// when the alias exists (docs/api.md "Aliases").
std::string swap_request_json(const std::string& alias, const std::string& collection);

// `vesta alias swap|list`: 0 on success, 1 when the server refused or could
// not be reached (with its message), 2 for a usage error.
int run_alias_command(const std::vector<std::string_view>& args);

}  // namespace vesta::admin
