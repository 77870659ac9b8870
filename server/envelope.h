#pragma once

#include <chrono>
#include <utility>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "server/http_message.h"

namespace vesta::server {

// Runs a handler body that produces a result or a Status, and wraps either in
// Qdrant's envelope with the elapsed time: {"result": …, "status": "ok",
// "time": s}, or {"status": {"error": …}, "time": s} with the HTTP status of
// the Status code.
template <typename Body>
HttpResponse respond(Body&& body) {
  const auto start = std::chrono::steady_clock::now();
  core::Result<nlohmann::json> result = body();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  nlohmann::json out;
  int status = 200;
  if (result.is_ok()) {
    out = {{"result", std::move(result).value()}, {"status", "ok"}, {"time", seconds}};
  } else {
    status = core::http_status_for(result.status().code());
    out = {{"status", {{"error", result.status().message()}}}, {"time", seconds}};
  }
  return {status, "application/json",
          out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)};
}

}  // namespace vesta::server
