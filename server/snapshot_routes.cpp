#include "server/snapshot_routes.h"

#include <filesystem>
#include <optional>
#include <string>
#include <system_error>

#include <nlohmann/json.hpp>

#include "persistence/mapped_file.h"
#include "server/envelope.h"
#include "server/json_codec.h"
#include "server/request_body.h"

namespace vesta::server {
namespace {

using nlohmann::json;

json info_json(const engine::SnapshotInfo& info) {
  return {{"name", info.name},
          {"creation_time", info.creation_time},
          {"size", info.size},
          {"checksum", info.checksum.empty() ? json(nullptr) : json(info.checksum)}};
}

core::Status no_storage() {
  return {core::StatusCode::kConflict,
          "snapshots need file storage; this server runs with --storage memory"};
}

// "file:///abs/path" -> "/abs/path"; other schemes are refused (the server
// fetches nothing over the network).
core::Result<std::string> local_path(const json& body) {
  auto it = body.find("location");
  if (it == body.end() || !it->is_string()) {
    return core::invalid_argument("location must be a string (file:///path/to/snapshot)");
  }
  const std::string location = it->get<std::string>();
  constexpr std::string_view kFile = "file://";
  if (!location.starts_with(kFile) || location.size() <= kFile.size() ||
      location[kFile.size()] != '/') {
    return core::invalid_argument("location '" + location +
                                  "' is not supported: give a file:///absolute/path on the "
                                  "server, or upload the file to …/snapshots/upload");
  }
  return location.substr(kFile.size());
}

// The SHA-256 a recovery must match: "checksum" of a recover body (a string,
// or null / absent for none).
core::Result<std::string> checksum_of(const json& body) {
  auto it = body.find("checksum");
  if (it == body.end() || it->is_null()) return std::string();
  if (!it->is_string()) return core::invalid_argument("checksum must be a string (SHA-256 in hex)");
  return it->get<std::string>();
}

}  // namespace

core::Result<std::string_view> uploaded_file(const HttpRequest& request, std::string_view body) {
  auto type = request.headers.find("content-type");
  if (type == request.headers.end() || !type->second.starts_with("multipart/form-data")) {
    return body;
  }
  const size_t b = type->second.find("boundary=");
  if (b == std::string::npos) return core::invalid_argument("multipart body without a boundary");
  std::string boundary = type->second.substr(b + 9);
  if (const size_t semi = boundary.find(';'); semi != std::string::npos) boundary.resize(semi);
  if (boundary.size() >= 2 && boundary.front() == '"' && boundary.back() == '"') {
    boundary = boundary.substr(1, boundary.size() - 2);
  }
  const std::string delimiter = "--" + boundary;
  const size_t first = body.find(delimiter);
  if (boundary.empty() || first == std::string_view::npos) {
    return core::invalid_argument("multipart body without its boundary");
  }
  // The part's headers end at the first empty line; its content at the next
  // delimiter, which a CRLF precedes.
  const size_t headers_end = body.find("\r\n\r\n", first);
  if (headers_end == std::string_view::npos) {
    return core::invalid_argument("multipart part without headers");
  }
  const size_t start = headers_end + 4;
  const size_t end = body.find("\r\n" + delimiter, start);
  if (end == std::string_view::npos) return core::invalid_argument("multipart part not closed");
  return body.substr(start, end - start);
}

void add_snapshot_routes(Router& r, engine::Engine* engine) {
  r.add("POST", "/collections/{name}/snapshots",
        [engine](const HttpRequest&, const RouteParams& p) {
          return respond([&]() -> core::Result<json> {
            if (engine == nullptr) return no_storage();
            core::Result<engine::SnapshotInfo> info = engine->create_snapshot(p.at("name"));
            if (!info.is_ok()) return info.status();
            return info_json(info.value());
          });
        });
  r.add("GET", "/collections/{name}/snapshots", [engine](const HttpRequest&, const RouteParams& p) {
    return respond([&]() -> core::Result<json> {
      if (engine == nullptr) return no_storage();
      core::Result<std::vector<engine::SnapshotInfo>> list = engine->list_snapshots(p.at("name"));
      if (!list.is_ok()) return list.status();
      json out = json::array();
      for (const engine::SnapshotInfo& info : list.value()) out.push_back(info_json(info));
      return out;
    });
  });
  r.add("GET", "/collections/{name}/snapshots/{snapshot}",
        [engine](const HttpRequest&, const RouteParams& p) {
          std::filesystem::path file;
          HttpResponse response = respond([&]() -> core::Result<json> {
            if (engine == nullptr) return no_storage();
            core::Result<std::filesystem::path> found =
                engine->snapshot_path(p.at("name"), p.at("snapshot"));
            if (!found.is_ok()) return found.status();
            file = std::move(found).value();
            return json();
          });
          if (response.status != 200) return response;
          // Sent from the file as it is read: a snapshot is as large as its
          // collection, too large to hold in memory for a download.
          std::error_code ec;
          const uintmax_t size = std::filesystem::file_size(file, ec);
          if (ec) return error_response(404, "snapshot '" + p.at("snapshot") + "' is gone");
          HttpResponse out{200, "application/octet-stream", ""};
          out.file = file.string();
          out.file_bytes = size;
          return out;
        });
  r.add("DELETE", "/collections/{name}/snapshots/{snapshot}",
        [engine](const HttpRequest&, const RouteParams& p) {
          return respond([&]() -> core::Result<json> {
            if (engine == nullptr) return no_storage();
            core::Result<bool> deleted = engine->delete_snapshot(p.at("name"), p.at("snapshot"));
            if (!deleted.is_ok()) return deleted.status();
            return json(deleted.value());
          });
        });
  r.add("PUT", "/collections/{name}/snapshots/recover",
        [engine](const HttpRequest& req, const RouteParams& p) {
          return respond([&]() -> core::Result<json> {
            if (engine == nullptr) return no_storage();
            core::Result<json> body = parse_json_body(req.body);
            if (!body.is_ok()) return body.status();
            if (!body.value().is_object()) {
              return core::invalid_argument("request body must be a JSON object");
            }
            core::Result<std::string> path = local_path(body.value());
            if (!path.is_ok()) return path.status();
            core::Result<std::string> checksum = checksum_of(body.value());
            if (!checksum.is_ok()) return checksum.status();
            // Mapped, not read into memory: the file is as large as its collection.
            core::Result<persistence::MappedFile> mapped =
                persistence::MappedFile::open(path.value());
            if (mapped.status().code() == core::StatusCode::kNotFound) {
              return core::invalid_argument("location: " + mapped.status().message());
            }
            if (!mapped.is_ok()) return mapped.status();
            VESTA_RETURN_IF_ERROR(engine->recover_from_snapshot(
                p.at("name"), mapped.value().bytes(), checksum.value()));
            return json(true);
          });
        });
  r.add("POST", "/collections/{name}/snapshots/upload",
        [engine](const HttpRequest& req, const RouteParams& p) {
          return respond([&]() -> core::Result<json> {
            if (engine == nullptr) return no_storage();
            // A large upload arrives as a file (HttpServerOptions::
            // upload_directory), mapped rather than read into memory.
            std::optional<persistence::MappedFile> mapped;
            core::Result<std::string_view> body = request_body(req, &mapped);
            if (!body.is_ok()) return body.status();
            core::Result<std::string_view> file = uploaded_file(req, body.value());
            if (!file.is_ok()) return file.status();
            const std::string checksum = query_param(req.query, "checksum").value_or("");
            VESTA_RETURN_IF_ERROR(
                engine->recover_from_snapshot(p.at("name"), file.value(), checksum));
            return json(true);
          });
        });
}

}  // namespace vesta::server
