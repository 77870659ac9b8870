#include "server/router.h"

#include <nlohmann/json.hpp>

namespace vesta::server {

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    if (slash > start) out.emplace_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return out;
}

std::optional<std::string> query_param(std::string_view query, std::string_view name) {
  size_t start = 0;
  while (start <= query.size()) {
    const size_t amp = std::min(query.find('&', start), query.size());
    const std::string_view pair = query.substr(start, amp - start);
    const size_t eq = std::min(pair.find('='), pair.size());
    if (pair.substr(0, eq) == name) {
      return percent_decode(eq == pair.size() ? std::string_view() : pair.substr(eq + 1));
    }
    start = amp + 1;
  }
  return std::nullopt;
}

std::string percent_decode(std::string_view text) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      const int hi = hex(text[i + 1]);
      const int lo = hex(text[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(text[i]);
  }
  return out;
}

HttpResponse error_response(int status, const std::string& message) {
  nlohmann::json body = {{"status", {{"error", message}}}, {"time", 0}};
  return {status, "application/json",
          body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)};
}

void Router::add(std::string method, std::string_view pattern, RouteHandler handler,
                 RouteAccess access) {
  routes_.push_back(
      {std::move(method), split_path(pattern), std::string(pattern), std::move(handler), access});
}

void Router::add(std::string method, std::string_view pattern, RouteHandler handler) {
  const RouteAccess access = method == "GET" ? RouteAccess::kRead : RouteAccess::kWrite;
  add(std::move(method), pattern, std::move(handler), access);
}

bool Router::match(const Route& route, const std::vector<std::string>& path, RouteParams* params,
                   int* literal_count) {
  if (route.segments.size() != path.size()) return false;
  RouteParams found;
  int literals = 0;
  for (size_t i = 0; i < path.size(); ++i) {
    const std::string& seg = route.segments[i];
    if (seg.size() >= 2 && seg.front() == '{' && seg.back() == '}') {
      found[seg.substr(1, seg.size() - 2)] = percent_decode(path[i]);
    } else if (seg == path[i]) {
      ++literals;
    } else {
      return false;
    }
  }
  *params = std::move(found);
  *literal_count = literals;
  return true;
}

const Router::Route* Router::find(const HttpRequest& request, RouteParams* params,
                                  bool* path_known) const {
  const std::vector<std::string> path = split_path(request.path);
  const Route* best = nullptr;
  int best_literals = -1;
  *path_known = false;
  for (const Route& route : routes_) {
    RouteParams candidate;
    int literals = 0;
    if (!match(route, path, &candidate, &literals)) continue;
    *path_known = true;
    if (route.method != request.method || literals <= best_literals) continue;
    best = &route;
    *params = std::move(candidate);
    best_literals = literals;
  }
  return best;
}

HttpResponse Router::dispatch(const HttpRequest& request, const AccessCheck& check,
                              std::string* route) const {
  RouteParams params;
  bool path_known = false;
  const Route* best = find(request, &params, &path_known);
  if (route != nullptr) *route = best == nullptr ? "unmatched" : best->pattern;
  if (check) {
    std::optional<HttpResponse> denied =
        check(request, best == nullptr ? RouteAccess::kRead : best->access);
    if (denied) return std::move(*denied);
  }
  if (best == nullptr) {
    if (path_known) {
      return error_response(405, "method " + request.method + " is not allowed on " + request.path);
    }
    return error_response(404, "no route for " + request.method + " " + request.path);
  }
  return best->handler(request, params);
}

RouteAccess Router::access_of(const HttpRequest& request, std::string* route) const {
  RouteParams params;
  bool path_known = false;
  const Route* best = find(request, &params, &path_known);
  if (route != nullptr) *route = best == nullptr ? "unmatched" : best->pattern;
  return best == nullptr ? RouteAccess::kRead : best->access;
}

}  // namespace vesta::server
