#include "importer/target_collection.h"

#include <cstdio>

#include <nlohmann/json.hpp>

namespace vesta::importer {

using nlohmann::json;

core::Result<TargetCollection> prepare_target_collection(loadgen::HttpClient& client,
                                                         const std::string& name,
                                                         std::optional<uint32_t> dim,
                                                         index::Metric metric) {
  const std::string path = "/collections/" + loadgen::url_path_segment(name);
  core::Result<loadgen::HttpReply> info = client.request("GET", path);
  if (!info.is_ok()) {
    return core::Status(info.status().code(), "GET " + path + ": " + info.status().message());
  }
  if (info.value().status == 200) {
    const json body = json::parse(info.value().body, nullptr, false);
    const json::json_pointer size_at("/result/config/params/vectors/size");
    const json::json_pointer distance_at("/result/config/params/vectors/distance");
    if (!body.is_object() || !body.contains(size_at) || !body.at(size_at).is_number_unsigned()) {
      return core::invalid_argument("collection '" + name + "' exists but GET " + path +
                                    " has no result.config.params.vectors.size (named vectors "
                                    "are not supported)");
    }
    const uint64_t size = body.at(size_at).get<uint64_t>();
    if (dim && size != *dim) {
      return core::invalid_argument("collection '" + name + "' exists with vectors of size " +
                                    std::to_string(size) + ", but the file's vectors have " +
                                    std::to_string(*dim) +
                                    " dimensions; import into another --collection or delete "
                                    "this one first");
    }
    TargetCollection existing{false, static_cast<uint32_t>(size), "unknown distance"};
    if (body.contains(distance_at) && body.at(distance_at).is_string()) {
      existing.distance = body.at(distance_at).get<std::string>();
    }
    if (existing.distance != index::metric_name(metric)) {
      std::fprintf(stderr,
                   "vesta import: collection '%s' exists with distance %s; --distance %s applies "
                   "only to a collection the import creates\n",
                   name.c_str(), existing.distance.c_str(), index::metric_name(metric).data());
    }
    return existing;
  }
  if (info.value().status != 404) {
    return core::Status(core::StatusCode::kUnavailable,
                        "GET " + path + ": " + loadgen::describe_http_failure(info.value()));
  }
  if (!dim) {
    return core::invalid_argument("collection '" + name +
                                  "' does not exist, and the file has no line with a \"vector\" "
                                  "array to take its size from; create it first");
  }
  const json config = {
      {"vectors", {{"size", *dim}, {"distance", std::string(index::metric_name(metric))}}}};
  core::Result<loadgen::HttpReply> created = client.request("PUT", path, config.dump());
  if (!created.is_ok()) {
    return core::Status(created.status().code(), "PUT " + path + ": " + created.status().message());
  }
  if (created.value().status != 200) {
    return core::Status(
        core::StatusCode::kUnavailable,
        "creating collection '" + name + "': " + loadgen::describe_http_failure(created.value()));
  }
  return TargetCollection{true, *dim, std::string(index::metric_name(metric))};
}

}  // namespace vesta::importer
