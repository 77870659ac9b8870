#include "admin/alias_command.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <utility>

#include <nlohmann/json.hpp>

#include "loadgen/http_client.h"

namespace vesta::admin {
namespace {

using nlohmann::json;

constexpr std::string_view kUsage =
    R"(vesta alias - aliases of a running vesta server

Usage:
  vesta alias swap ALIAS --to COLLECTION [options]
                         point ALIAS at COLLECTION in one atomic step (one
                         POST /collections/aliases with a create_alias action,
                         which re-points an existing alias): every request
                         through ALIAS sees the old collection or the new one,
                         never neither. Creates ALIAS when there is none.
                         Prints the collection it pointed to before and after
  vesta alias list [--collection NAME] [options]
                         every alias and its collection ("ALIAS -> COLLECTION",
                         sorted by alias), or only those of collection NAME

Options:
  --url URL              server (default http://127.0.0.1:6333)
  --api-key KEY          sent in the api-key header (env VESTA_API_KEY)

Exits 0 on success, 1 when the server refused (with its message, e.g. a
COLLECTION that does not exist) or could not be reached, 2 on a usage error.
)";

using Aliases = std::vector<std::pair<std::string, std::string>>;  // (alias, collection)

core::Result<Aliases> read_aliases(loadgen::HttpClient& client, const std::string& target) {
  core::Result<loadgen::HttpReply> reply = client.request("GET", target);
  if (!reply.is_ok()) {
    return core::Status(reply.status().code(), "GET " + target + ": " + reply.status().message());
  }
  if (reply.value().status != 200) {
    return core::Status(core::StatusCode::kUnavailable,
                        "GET " + target + ": " + loadgen::describe_http_failure(reply.value()));
  }
  const json body = json::parse(reply.value().body, nullptr, false);
  const json::json_pointer list_at("/result/aliases");
  if (!body.is_object() || !body.contains(list_at) || !body.at(list_at).is_array()) {
    return core::Status(core::StatusCode::kUnavailable,
                        "GET " + target + ": the answer has no result.aliases list");
  }
  Aliases aliases;
  for (const json& a : body.at(list_at)) {
    if (a.is_object() && a.contains("alias_name") && a["alias_name"].is_string() &&
        a.contains("collection_name") && a["collection_name"].is_string()) {
      aliases.emplace_back(a["alias_name"].get<std::string>(),
                           a["collection_name"].get<std::string>());
    }
  }
  return aliases;
}

int fail(const std::string& message) {
  std::fprintf(stderr, "vesta alias: %s\n", message.c_str());
  return 1;
}

int swap(loadgen::HttpClient& client, const AliasOptions& o) {
  // What the alias pointed to, for the report. Read just before the swap:
  // another client may re-point it in between, which the swap then overrides.
  core::Result<Aliases> before = read_aliases(client, "/aliases");
  if (!before.is_ok()) return fail(before.status().message());
  std::optional<std::string> old_collection;
  for (const auto& [alias, collection] : before.value()) {
    if (alias == o.alias) old_collection = collection;
  }
  core::Result<loadgen::HttpReply> reply =
      client.request("POST", "/collections/aliases", swap_request_json(o.alias, o.collection));
  if (!reply.is_ok()) return fail("POST /collections/aliases: " + reply.status().message());
  if (reply.value().status != 200) {
    return fail("pointing alias '" + o.alias + "' at '" + o.collection +
                "': " + loadgen::describe_http_failure(reply.value()));
  }
  if (!old_collection) {
    std::printf("alias %s: (none) -> %s (created)\n", o.alias.c_str(), o.collection.c_str());
  } else if (*old_collection == o.collection) {
    std::printf("alias %s: %s -> %s (unchanged)\n", o.alias.c_str(), old_collection->c_str(),
                o.collection.c_str());
  } else {
    std::printf("alias %s: %s -> %s\n", o.alias.c_str(), old_collection->c_str(),
                o.collection.c_str());
  }
  return 0;
}

int list(loadgen::HttpClient& client, const AliasOptions& o) {
  const std::string target =
      o.collection.empty() ? std::string("/aliases")
                           : "/collections/" + loadgen::url_path_segment(o.collection) + "/aliases";
  core::Result<Aliases> aliases = read_aliases(client, target);
  if (!aliases.is_ok()) return fail(aliases.status().message());
  if (aliases.value().empty()) {
    std::fprintf(stderr, "vesta alias: no aliases%s\n",
                 o.collection.empty() ? "" : (" of '" + o.collection + "'").c_str());
  }
  size_t width = 0;
  for (const auto& a : aliases.value()) width = std::max(width, a.first.size());
  for (const auto& [alias, collection] : aliases.value()) {
    std::printf("%-*s -> %s\n", static_cast<int>(width), alias.c_str(), collection.c_str());
  }
  return 0;
}

}  // namespace

std::string_view alias_usage() { return kUsage; }

core::Result<AliasOptions> parse_alias_options(const std::vector<std::string_view>& args) {
  AliasOptions o;
  if (const char* key = std::getenv("VESTA_API_KEY")) o.api_key = key;
  if (std::find_if(args.begin(), args.end(),
                   [](std::string_view a) { return a == "--help" || a == "-h"; }) != args.end()) {
    o.help = true;
    return o;
  }
  if (args.empty()) return core::invalid_argument("give an action: swap or list");
  if (args[0] == "swap") {
    o.action = AliasOptions::Action::kSwap;
  } else if (args[0] == "list") {
    o.action = AliasOptions::Action::kList;
  } else {
    return core::invalid_argument("unknown action '" + std::string(args[0]) +
                                  "' (known: swap, list)");
  }
  std::vector<std::string_view> names;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string_view flag = args[i];
    if (!flag.starts_with("-")) {
      names.push_back(flag);
      continue;
    }
    const bool swap_only = flag == "--to";
    const bool list_only = flag == "--collection";
    if (!swap_only && !list_only && flag != "--url" && flag != "--api-key") {
      return core::invalid_argument("unknown alias option '" + std::string(flag) + "'");
    }
    if (swap_only && o.action != AliasOptions::Action::kSwap) {
      return core::invalid_argument("--to applies to 'vesta alias swap' only");
    }
    if (list_only && o.action != AliasOptions::Action::kList) {
      return core::invalid_argument(
          "--collection applies to 'vesta alias list' only (swap takes --to)");
    }
    if (i + 1 >= args.size() || args[i + 1].empty()) {
      return core::invalid_argument(std::string(flag) + " needs a value");
    }
    const std::string value(args[++i]);
    if (flag == "--to" || flag == "--collection") {
      o.collection = value;
    } else if (flag == "--url") {
      o.url = value;
    } else {
      o.api_key = value;
    }
  }
  if (o.action == AliasOptions::Action::kSwap) {
    if (names.size() != 1) {
      return core::invalid_argument(names.empty()
                                        ? "give the ALIAS to swap"
                                        : "give one ALIAS, got '" + std::string(names[0]) +
                                              "' and '" + std::string(names[1]) + "'");
    }
    o.alias = std::string(names[0]);
    if (o.collection.empty()) return core::invalid_argument("--to COLLECTION is required");
  } else if (!names.empty()) {
    return core::invalid_argument("'vesta alias list' takes no name, got '" +
                                  std::string(names[0]) + "' (use --collection NAME)");
  }
  return o;
}

std::string swap_request_json(const std::string& alias, const std::string& collection) {
  const json body = {
      {"actions", json::array({{{"create_alias",
                                 {{"collection_name", collection}, {"alias_name", alias}}}}})}};
  return body.dump();
}

int run_alias_command(const std::vector<std::string_view>& args) {
  core::Result<AliasOptions> parsed = parse_alias_options(args);
  if (!parsed.is_ok()) {
    std::fprintf(stderr, "vesta alias: %s\nRun 'vesta alias --help' for usage.\n",
                 parsed.status().message().c_str());
    return 2;
  }
  const AliasOptions& o = parsed.value();
  if (o.help) {
    std::fputs(kUsage.data(), stdout);
    return 0;
  }
  core::Result<loadgen::HttpEndpoint> endpoint = loadgen::HttpEndpoint::parse_url(o.url);
  if (!endpoint.is_ok()) {
    std::fprintf(stderr, "vesta alias: %s\n", endpoint.status().message().c_str());
    return 2;
  }
  loadgen::HttpClient client(endpoint.value(), o.api_key);
  return o.action == AliasOptions::Action::kSwap ? swap(client, o) : list(client, o);
}

}  // namespace vesta::admin
