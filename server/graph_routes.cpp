#include "server/graph_routes.h"

#include <chrono>
#include <cmath>
#include <optional>
#include <set>
#include <string>

#include "server/envelope.h"
#include "server/json_codec.h"

namespace vesta::server {
namespace {

using nlohmann::json;

constexpr double kDefaultDeliveryTimeoutS = 30;
constexpr double kMaxDeliveryTimeoutS = 300;

core::Status not_configured() {
  return core::Status(core::StatusCode::kUnavailable,
                      "graph coordination is not configured: start vesta serve with --neo4j-uri "
                      "(and --neo4j-user/--neo4j-password or --neo4j-token)");
}

struct WaitOptions {
  bool delivered = false;
  std::chrono::milliseconds timeout{0};
};

core::Result<WaitOptions> wait_options(const HttpRequest& request) {
  WaitOptions out;
  const std::string wait = query_param(request.query, "wait").value_or("durable");
  if (wait == "delivered") {
    out.delivered = true;
  } else if (wait != "durable") {
    return core::invalid_argument("wait must be durable or delivered, got '" + wait + "'");
  }
  double seconds = kDefaultDeliveryTimeoutS;
  if (std::optional<std::string> text = query_param(request.query, "timeout")) {
    char* end = nullptr;
    seconds = std::strtod(text->c_str(), &end);
    if (text->empty() || end != text->c_str() + text->size() || !std::isfinite(seconds) ||
        seconds <= 0 || seconds > kMaxDeliveryTimeoutS) {
      return core::invalid_argument("timeout must be a number of seconds in (0, " +
                                    std::to_string(static_cast<int>(kMaxDeliveryTimeoutS)) +
                                    "], got '" + *text + "'");
    }
  }
  out.timeout = std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
  return out;
}

// Upsert and delete: parse, write (vectors and outbox in one log record),
// then wait for delivery when asked. `status` receives 502 or 504 for the
// answers the envelope's codes do not cover.
core::Result<json> graph_write(index::CollectionRegistry& collections, engine::Engine& engine,
                               const HttpRequest& request, const std::string& workspace,
                               bool upsert, const graph::GraphLimits& limits, int* status) {
  core::Result<WaitOptions> wait = wait_options(request);
  if (!wait.is_ok()) return wait.status();
  core::Result<json> body = parse_json_body(request.body);
  if (!body.is_ok()) return body.status();
  core::Result<graph::GraphWrite> parsed =
      upsert ? graph::parse_upsert(workspace, body.value(), limits)
             : graph::parse_delete(workspace, body.value(), limits);
  if (!parsed.is_ok()) return parsed.status();
  graph::GraphWrite& write = parsed.value();
  core::Result<std::shared_ptr<index::Collection>> collection = collections.get(write.collection);
  if (!collection.is_ok()) return collection.status();
  VESTA_RETURN_IF_ERROR(graph::check_vectors(write, collection.value()->config().dim));
  core::Result<uint64_t> sequence = collection.value()->write_attached(std::move(write.write));
  if (!sequence.is_ok()) return sequence.status();
  json result = {{"sequence", sequence.value()},
                 {"status", "durable"},
                 {"nodes", write.nodes},
                 {"edges", write.edges}};
  if (!wait.value().delivered) return result;
  std::string error;
  switch (engine.outbox().wait_delivered(sequence.value(), wait.value().timeout, &error,
                                         request.cancel.get())) {
    case engine::Delivery::kDelivered: result["status"] = "delivered"; return result;
    case engine::Delivery::kCancelled:  // nobody reads this answer
      return core::Status(core::StatusCode::kCancelled,
                          "the client went away while waiting for delivery; the write is durable "
                          "(log sequence " +
                              std::to_string(sequence.value()) + ") and will be delivered");
    case engine::Delivery::kDead:
      *status = 502;
      return core::Status(core::StatusCode::kUnavailable,
                          "the graph database refused the operations (kept as dead letter " +
                              std::to_string(sequence.value()) +
                              "; the vectors are written): " + error);
    case engine::Delivery::kPending: break;
  }
  *status = 504;
  return core::Status(core::StatusCode::kUnavailable,
                      "the write is durable (log sequence " + std::to_string(sequence.value()) +
                          ") but not delivered to the graph database yet; it will be: see GET "
                          "/graph/" +
                          workspace + "/status");
}

json dead_letter_json(const engine::DeadLetter& dead) {
  json operations = json::parse(dead.item.text, nullptr, false);
  if (operations.is_discarded()) operations = dead.item.text;
  return {{"sequence", dead.sequence},
          {"workspace", dead.item.workspace},
          {"error", dead.error},
          {"operations", std::move(operations)}};
}

}  // namespace

void add_graph_routes(Router& r, index::CollectionRegistry& collections, engine::Engine* engine,
                      graph::Dispatcher* dispatcher, graph::GraphLimits limits) {
  const bool configured = engine != nullptr && dispatcher != nullptr;
  for (const bool upsert : {true, false}) {
    r.add("POST", upsert ? "/graph/{workspace}/upsert" : "/graph/{workspace}/delete",
          [&collections, engine, configured, upsert, limits](const HttpRequest& req,
                                                             const RouteParams& p) {
            int status = 0;
            HttpResponse response = respond([&]() -> core::Result<json> {
              if (!configured) return not_configured();
              return graph_write(collections, *engine, req, p.at("workspace"), upsert, limits,
                                 &status);
            });
            if (status != 0) response.status = status;
            return response;
          });
  }
  r.add("GET", "/graph/{workspace}/status",
        [engine, dispatcher, configured](const HttpRequest&, const RouteParams& p) {
          return respond([&]() -> core::Result<json> {
            if (!configured) return not_configured();
            const std::string& workspace = p.at("workspace");
            VESTA_RETURN_IF_ERROR(graph::check_workspace(workspace));
            const engine::OutboxStatus outbox = engine->outbox().status(workspace);
            const graph::DispatcherState state = dispatcher->state();
            return json{{"workspace", workspace},
                        {"pending_records", outbox.pending_records},
                        {"pending_operations", outbox.pending_operations},
                        {"last_delivered_sequence", outbox.last_delivered},
                        {"lag_seconds", outbox.oldest_pending_s},
                        {"dead_letters", outbox.dead_letters},
                        {"leader", engine->is_leader()},
                        {"graph",
                         {{"uri", state.uri},
                          {"connected", state.connected},
                          {"last_error", state.last_error ? json(*state.last_error) : json()},
                          {"transactions", state.transactions},
                          {"retries", state.retries}}}};
          });
        });
  r.add("GET", "/graph/dead-letters", [engine, configured](const HttpRequest&, const RouteParams&) {
    return respond([&]() -> core::Result<json> {
      if (!configured) return not_configured();
      json list = json::array();
      for (const engine::DeadLetter& dead : engine->outbox().dead_letters()) {
        list.push_back(dead_letter_json(dead));
      }
      return json{{"dead_letters", std::move(list)}};
    });
  });
  r.add("POST", "/graph/dead-letters/retry",
        [engine, configured](const HttpRequest& req, const RouteParams&) {
          return respond([&]() -> core::Result<json> {
            if (!configured) return not_configured();
            json body = json::object();
            if (!req.body.empty()) {
              core::Result<json> parsed = parse_json_body(req.body);
              if (!parsed.is_ok()) return parsed.status();
              body = std::move(parsed).value();
            }
            if (!body.is_object()) return core::invalid_argument("the body must be a JSON object");
            std::set<uint64_t> dead;
            for (const engine::DeadLetter& d : engine->outbox().dead_letters()) {
              dead.insert(d.sequence);
            }
            engine::OutboxChange change;
            if (body.contains("sequences") && !body["sequences"].is_null()) {
              if (!body["sequences"].is_array()) {
                return core::invalid_argument("sequences must be an array of log sequences");
              }
              for (const json& s : body["sequences"]) {
                if (!s.is_number_unsigned()) {
                  return core::invalid_argument("sequences must hold non-negative integers");
                }
                if (!dead.contains(s.get<uint64_t>())) {
                  return core::not_found("sequence " + std::to_string(s.get<uint64_t>()) +
                                         " is not a dead letter");
                }
                change.retry.push_back(s.get<uint64_t>());
              }
            } else {
              change.retry.assign(dead.begin(), dead.end());
            }
            if (!change.retry.empty()) VESTA_RETURN_IF_ERROR(engine->change_outbox(change));
            return json{{"retried", change.retry.size()}};
          });
        });
}

}  // namespace vesta::server
