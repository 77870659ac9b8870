#include "server/rest_api.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <functional>
#include <optional>
#include <string_view>

#include <nlohmann/json.hpp>

#include "index/mmr.h"
#include "index/payload_filter.h"
#include "kernels/cpu/top_k.h"
#include "server/envelope.h"
#include "server/graph_routes.h"
#include "server/import_routes.h"
#include "server/json_codec.h"
#include "server/payload_selector.h"
#include "server/raw_search_codec.h"
#include "server/snapshot_routes.h"
#include "server/vector_body_parser.h"

namespace vesta::server {
namespace {

using nlohmann::json;

// The most points one scroll page may return.
constexpr size_t kMaxScrollLimit = 10000;

// Where each route's body holds its vectors (VectorBodyParser).
const VectorBodyParser kSearchVectors{"vector"};
const VectorBodyParser kSearchBatchVectors{"searches[].vector"};
const VectorBodyParser kQueryVectors{"query", "query.nearest"};
const VectorBodyParser kQueryBatchVectors{"searches[].query", "searches[].query.nearest"};
const VectorBodyParser kUpsertVectors{"points[].vector", "batch.vectors[]"};

// The request body as a JSON object; `vectors`, when given, reads the
// route's vectors from the text (parse_json_body's result otherwise).
core::Result<json> object_body(const HttpRequest& request,
                               const VectorBodyParser* vectors = nullptr) {
  core::Result<json> body =
      vectors != nullptr ? vectors->parse(request.body) : parse_json_body(request.body);
  if (!body.is_ok()) return body;
  if (!body.value().is_object()) {
    return core::invalid_argument("request body must be a JSON object, got " +
                                  std::string(body.value().type_name()));
  }
  return body;
}

// The optional "filter" member of a request body: an empty function when
// absent or null. `indexable`, when given, receives the conditions a payload
// index may narrow down.
core::Result<index::PointFilter> filter_from(
    const json& body, const std::string& where, const RequestLimits& limits,
    std::vector<index::IndexableCondition>* indexable = nullptr) {
  auto it = body.find("filter");
  if (it == body.end() || it->is_null()) return index::PointFilter();
  core::Result<index::PayloadFilter> filter =
      index::PayloadFilter::parse(*it, static_cast<int>(limits.max_filter_depth));
  if (!filter.is_ok()) return core::invalid_argument(where + filter.status().message());
  if (indexable != nullptr) *indexable = filter.value().indexable_conditions();
  return index::PointFilter(
      [f = std::move(filter).value()](const core::PointId& id, const json& payload) {
        return f.matches(id, payload);
      });
}

// A point id in a URL path: digits that fit 64 bits are a numeric id, any
// other text a UUID or string id.
core::Result<core::PointId> path_point_id(const std::string& text) {
  uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error == std::errc() && end == text.data() + text.size()) {
    return core::PointId::number(value);
  }
  return core::PointId::from_text(text);
}

// A nearest query's maximal-marginal-relevance reranking (Qdrant's "mmr").
struct MmrOptions {
  float diversity = 0.5f;  // 0: relevance only, 1: diversity only
  size_t candidates = 0;   // the nearest points it picks from
};

// Parsed Qdrant search options shared by search and search/batch.
struct SearchOptions {
  std::vector<float> vector;
  index::SearchParams params;  // params.with_vector: whether the answer shows vectors
  size_t offset = 0;
  size_t limit = 10;
  std::optional<float> score_threshold;
  PayloadSelector payload = PayloadSelector::none();
  std::optional<MmrOptions> mmr;
};

// The optional "with_payload" member of a request body.
core::Result<PayloadSelector> payload_selector_from(const json& body, const std::string& where,
                                                    const PayloadSelector& fallback) {
  auto it = body.find("with_payload");
  if (it == body.end()) return fallback;
  return PayloadSelector::parse(*it, where + "with_payload", fallback);
}

// A vector input of the query API: a vector in any form vector_from_json
// reads, or the id of a stored point (a number or a string), whose vector it
// stands for; such ids are added to `examples`. 404 when the point does not
// exist.
core::Result<std::vector<float>> query_vector_input(const json& value, const std::string& where,
                                                    index::Collection& collection,
                                                    std::vector<core::PointId>* examples) {
  if (!value.is_number() && !value.is_string()) {
    return vector_from_json(value, where, collection.config().vector_name);
  }
  core::Result<core::PointId> id = point_id_from_json(value, where);
  if (!id.is_ok()) return id.status();
  auto point = collection.get(id.value());
  if (!point.is_ok()) return point.status();
  if (!point.value()) {
    return core::not_found(where + ": no point with id " + id.value().to_string());
  }
  examples->push_back(id.value());
  return std::move(point.value()->vector);
}

// Qdrant's recommendation {"positive": [...], "negative": [...], "strategy":
// "average_vector"}: each example an id or a vector; the query is
// avg(positive) + avg(positive) - avg(negative), or avg(positive) without
// negatives (vectors given as such are normalised first for Cosine, as stored
// ones are). `prefix` names its members in errors ("query.recommend.", or ""
// where the recommendation is the request body itself).
core::Result<std::vector<float>> recommend_vector(const json& value, const std::string& prefix,
                                                  index::Collection& collection,
                                                  std::vector<core::PointId>* examples) {
  if (!value.is_object()) {
    return core::invalid_argument(prefix.substr(0, prefix.size() - 1) + " must be an object");
  }
  if (auto s = value.find("strategy"); s != value.end() && !s->is_null()) {
    if (!s->is_string() || s->get_ref<const std::string&>() != "average_vector") {
      return core::invalid_argument(prefix + "strategy " + s->dump() +
                                    " is not supported; use \"average_vector\"");
    }
  }
  const size_t dim = collection.config().dim;
  auto average = [&](const char* key, std::vector<float>* out) -> core::Result<size_t> {
    auto list = value.find(key);
    if (list == value.end() || list->is_null()) return size_t{0};
    const std::string list_where = prefix + key;
    if (!list->is_array()) return core::invalid_argument(list_where + " must be an array");
    out->assign(dim, 0.0f);
    for (size_t i = 0; i < list->size(); ++i) {
      const std::string item_where = list_where + "[" + std::to_string(i) + "]";
      const bool stored = (*list)[i].is_number() || (*list)[i].is_string();
      core::Result<std::vector<float>> v =
          query_vector_input((*list)[i], item_where, collection, examples);
      if (!v.is_ok()) return v.status();
      std::vector<float>& x = v.value();
      if (x.size() != dim) {
        return core::invalid_argument(item_where + " has " + std::to_string(x.size()) +
                                      " values, the collection's size is " + std::to_string(dim));
      }
      if (!stored && collection.config().metric == index::Metric::kCosine) index::normalise(x);
      for (size_t d = 0; d < dim; ++d) (*out)[d] += x[d];
    }
    for (float& f : *out) f /= static_cast<float>(std::max<size_t>(1, list->size()));
    return list->size();
  };
  std::vector<float> positive;
  std::vector<float> negative;
  core::Result<size_t> positives = average("positive", &positive);
  if (!positives.is_ok()) return positives.status();
  core::Result<size_t> negatives = average("negative", &negative);
  if (!negatives.is_ok()) return negatives.status();
  if (positives.value() == 0) {
    return core::invalid_argument(prefix +
                                  "positive needs at least one example (strategy average_vector)");
  }
  if (negatives.value() > 0) {
    for (size_t d = 0; d < dim; ++d) positive[d] = 2.0f * positive[d] - negative[d];
  }
  return positive;
}

// Where a search's vector comes from: the "vector" member (the search API),
// the "query" member (the query API: a vector, a point id, {"nearest": ...} or
// {"recommend": {...}}), or the body itself as a recommendation (the legacy
// recommend API).
enum class QueryInput { kVector, kQuery, kRecommendation };

// The options of one search of `collection`, its vector taken from `input`.
// Points named by id in the query are left out of the answer, as in Qdrant.
// `cancel` (the request's, optional) ends the search's waits once its client
// has gone away.
core::Result<SearchOptions> search_options(const json& body, const std::string& where,
                                           const RequestLimits& limits,
                                           index::Collection& collection, QueryInput input,
                                           const core::CancellationToken* cancel) {
  const char* vector_key = input == QueryInput::kVector ? "vector" : "query";
  const std::string& vector_name = collection.config().vector_name;
  SearchOptions o;
  o.params.lock.cancel = cancel;
  auto vector = body.find(vector_key);
  if (input != QueryInput::kRecommendation && vector == body.end()) {
    return core::invalid_argument(where + vector_key + " is required");
  }
  std::string vector_where = where + vector_key;
  const json* vector_json = input == QueryInput::kRecommendation ? &body : &*vector;
  const json* mmr = nullptr;
  if (input != QueryInput::kRecommendation && vector->is_object() && vector->contains("nearest")) {
    vector_json = &(*vector)["nearest"];
    if (auto m = vector->find("mmr"); m != vector->end() && !m->is_null()) mmr = &*m;
    vector_where += ".nearest";
  }
  std::vector<core::PointId> examples;
  core::Result<std::vector<float>> v = [&]() -> core::Result<std::vector<float>> {
    if (input == QueryInput::kVector) {
      return vector_from_json(*vector_json, vector_where, vector_name);
    }
    if (input == QueryInput::kRecommendation) {
      return recommend_vector(body, where, collection, &examples);
    }
    if (vector_json->is_object() && vector_json->size() == 1) {
      const std::string& kind = vector_json->begin().key();
      if (kind == "recommend") {
        return recommend_vector((*vector_json)["recommend"], vector_where + ".recommend.",
                                collection, &examples);
      }
      for (const char* other :
           {"discover", "context", "order_by", "fusion", "rrf", "formula", "sample"}) {
        if (kind == other) {
          return core::invalid_argument(vector_where + "." + kind +
                                        " is not supported; Vesta answers nearest and recommend "
                                        "queries");
        }
      }
    }
    return query_vector_input(*vector_json, vector_where, collection, &examples);
  }();
  if (!v.is_ok()) return v.status();
  o.vector = std::move(v).value();
  // Qdrant's default of 10, unless the server allows fewer.
  core::Result<size_t> limit =
      optional_count(body, "limit", std::min<size_t>(10, limits.max_limit), where);
  if (!limit.is_ok()) return limit.status();
  core::Result<size_t> offset = optional_count(body, "offset", 0, where);
  if (!offset.is_ok()) return offset.status();
  o.limit = limit.value();
  o.offset = offset.value();
  if (o.limit > limits.max_limit) {
    return core::invalid_argument(where + "limit must be at most " +
                                  std::to_string(limits.max_limit) +
                                  " (the server's --max-limit), got " + std::to_string(o.limit));
  }
  if (o.limit + o.offset > kernels::kMaxTopK) {
    return core::invalid_argument(where + "limit + offset must be at most " +
                                  std::to_string(kernels::kMaxTopK) + ", got " +
                                  std::to_string(o.limit + o.offset));
  }
  o.params.limit = o.limit + o.offset;
  if (mmr != nullptr) {
    const std::string mmr_where = where + vector_key + ".mmr.";
    if (!mmr->is_object())
      return core::invalid_argument(where + vector_key + ".mmr must be an object");
    MmrOptions m;
    if (auto d = mmr->find("diversity"); d != mmr->end() && !d->is_null()) {
      if (!d->is_number() || d->get<double>() < 0.0 || d->get<double>() > 1.0) {
        return core::invalid_argument(mmr_where + "diversity must be a number from 0 to 1, got " +
                                      d->dump());
      }
      m.diversity = d->get<float>();
    }
    // Qdrant's default: the limit, which leaves MMR only the order to change.
    core::Result<size_t> candidates = optional_count(*mmr, "candidates_limit", o.limit, mmr_where);
    if (!candidates.is_ok()) return candidates.status();
    m.candidates = std::max(candidates.value(), o.params.limit);
    if (m.candidates > kernels::kMaxTopK) {
      return core::invalid_argument(mmr_where + "candidates_limit must be at most " +
                                    std::to_string(kernels::kMaxTopK) + ", got " +
                                    std::to_string(m.candidates));
    }
    o.mmr = m;
  }
  core::Result<bool> with_vector = optional_bool(body, "with_vector", false, where);
  if (!with_vector.is_ok()) return with_vector.status();
  o.params.with_vector = with_vector.value();
  core::Result<PayloadSelector> payload =
      payload_selector_from(body, where, PayloadSelector::none());
  if (!payload.is_ok()) return payload.status();
  o.payload = std::move(payload).value();
  o.params.with_payload = o.payload.wants_payload();
  core::Result<index::PointFilter> filter = filter_from(body, where, limits, &o.params.indexable);
  if (!filter.is_ok()) return filter.status();
  o.params.filter = std::move(filter).value();
  if (!examples.empty()) {
    // The points the query named by id are not among its answers (Qdrant).
    o.params.filter = [inner = std::move(o.params.filter), examples = std::move(examples)](
                          const core::PointId& id, const json& payload) {
      if (std::find(examples.begin(), examples.end(), id) != examples.end()) return false;
      return !inner || inner(id, payload);
    };
  }
  if (auto t = body.find("score_threshold"); t != body.end() && !t->is_null()) {
    if (!t->is_number()) return core::invalid_argument(where + "score_threshold must be a number");
    o.score_threshold = t->get<float>();
  }
  return o;
}

json scored_to_json(const index::ScoredPoint& p, const PayloadSelector& payload, bool with_vector,
                    const std::string& vector_name) {
  json out = {{"id", point_id_to_json(p.id)}, {"version", 0}, {"score", p.score}};
  out["payload"] = payload.apply(p.payload);
  out["vector"] = with_vector ? vector_to_json(p.vector, vector_name) : json();
  return out;
}

// Whether `score` is worse than the request's score_threshold, if any.
bool past_threshold(const SearchOptions& o, float score, index::Metric metric) {
  if (!o.score_threshold) return false;
  return index::higher_is_better(metric) ? score < *o.score_threshold : score > *o.score_threshold;
}

// Applies offset and score_threshold to one query's hits.
json hits_to_json(const std::vector<index::ScoredPoint>& hits, const SearchOptions& o,
                  const index::CollectionConfig& config) {
  json out = json::array();
  const size_t end = std::min(hits.size(), o.offset + o.limit);
  for (size_t i = o.offset; i < end; ++i) {
    if (past_threshold(o, hits[i].score, config.metric)) break;  // hits are sorted best first
    out.push_back(scored_to_json(hits[i], o.payload, o.params.with_vector, config.vector_name));
  }
  return out;
}

json stored_to_json(const index::StoredPoint& p, const PayloadSelector& payload, bool with_vector,
                    const std::string& vector_name) {
  json out = {{"id", point_id_to_json(p.id)}};
  out["payload"] = payload.apply(p.payload);
  out["vector"] = with_vector ? vector_to_json(p.vector, vector_name) : json();
  return out;
}

core::Result<std::vector<core::PointId>> ids_from_json(const json& body, const char* key) {
  auto it = body.find(key);
  if (it == body.end() || !it->is_array()) {
    return core::invalid_argument(std::string(key) + " must be an array of point ids");
  }
  std::vector<core::PointId> ids;
  for (size_t i = 0; i < it->size(); ++i) {
    core::Result<core::PointId> id =
        point_id_from_json((*it)[i], std::string(key) + "[" + std::to_string(i) + "]");
    if (!id.is_ok()) return id.status();
    ids.push_back(std::move(id).value());
  }
  return ids;
}

// PayloadTooLarge when one upsert carries more than limits.max_batch_points;
// `field` names the list.
core::Status check_batch_size(size_t count, const char* field, const RequestLimits& limits) {
  if (count <= limits.max_batch_points) return core::Status::ok();
  return {core::StatusCode::kPayloadTooLarge,
          std::string(field) + " holds " + std::to_string(count) +
              " points, more than one upsert may carry (" +
              std::to_string(limits.max_batch_points) +
              ", the server's --max-batch-points); split it into several requests"};
}

// Points in Qdrant's list form {"points": [...]} or batch form {"batch": {...}};
// `vector_name` is the collection's name for its vector.
core::Result<std::vector<index::PointWrite>> points_from_json(const json& body,
                                                              const RequestLimits& limits,
                                                              const std::string& vector_name) {
  std::vector<index::PointWrite> out;
  if (auto points = body.find("points"); points != body.end()) {
    if (!points->is_array()) return core::invalid_argument("points must be an array");
    VESTA_RETURN_IF_ERROR(check_batch_size(points->size(), "points", limits));
    for (size_t i = 0; i < points->size(); ++i) {
      const json& p = (*points)[i];
      const std::string where = "points[" + std::to_string(i) + "]";
      if (!p.is_object()) return core::invalid_argument(where + " must be an object");
      if (!p.contains("id")) return core::invalid_argument(where + ".id is required");
      if (!p.contains("vector")) return core::invalid_argument(where + ".vector is required");
      core::Result<core::PointId> id = point_id_from_json(p["id"], where + ".id");
      if (!id.is_ok()) return id.status();
      core::Result<std::vector<float>> v =
          vector_from_json(p["vector"], where + ".vector", vector_name);
      if (!v.is_ok()) return v.status();
      json payload = p.value("payload", json());
      if (!payload.is_null() && !payload.is_object()) {
        return core::invalid_argument(where + ".payload must be a JSON object");
      }
      out.push_back({std::move(id).value(), std::move(v).value(), std::move(payload)});
    }
    return out;
  }
  auto batch = body.find("batch");
  if (batch == body.end() || !batch->is_object()) {
    return core::invalid_argument("body must have \"points\" (a list) or \"batch\" (an object)");
  }
  if (auto ids = batch->find("ids"); ids != batch->end() && ids->is_array()) {
    VESTA_RETURN_IF_ERROR(check_batch_size(ids->size(), "batch.ids", limits));
  }
  core::Result<std::vector<core::PointId>> ids = ids_from_json(*batch, "ids");
  if (!ids.is_ok()) return core::invalid_argument("batch." + ids.status().message());
  const auto found = batch->find("vectors");
  const json* vectors = found == batch->end() ? nullptr : &*found;
  // Qdrant's named form {"<name>": [[...], ...]} of the one vector.
  if (vectors != nullptr && vectors->is_object()) {
    if (vectors->size() != 1 || !vectors->contains(vector_name)) {
      return unknown_vector_name(
          "batch.vectors", vectors->empty() ? std::string() : vectors->begin().key(), vector_name);
    }
    vectors = &(*vectors)[vector_name];
  }
  if (vectors == nullptr || !vectors->is_array() || vectors->size() != ids.value().size()) {
    return core::invalid_argument("batch.vectors must be an array with one vector per id (" +
                                  std::to_string(ids.value().size()) + ")");
  }
  const json payloads = batch->value("payloads", json());
  if (!payloads.is_null() && (!payloads.is_array() || payloads.size() != ids.value().size())) {
    return core::invalid_argument("batch.payloads must be null or an array with one per id");
  }
  for (size_t i = 0; i < ids.value().size(); ++i) {
    const std::string where = "batch.vectors[" + std::to_string(i) + "]";
    core::Result<std::vector<float>> v = vector_from_json((*vectors)[i], where, vector_name);
    if (!v.is_ok()) return v.status();
    json payload = payloads.is_null() ? json() : payloads[i];
    if (!payload.is_null() && !payload.is_object()) {
      return core::invalid_argument("batch.payloads[" + std::to_string(i) +
                                    "] must be a JSON object or null");
    }
    out.push_back({ids.value()[i], std::move(v).value(), std::move(payload)});
  }
  return out;
}

// Qdrant's scroll: {offset, limit (10), filter, with_payload (`payload_default`:
// true for scroll), with_vector (false)} -> {"points": [...], "next_page_offset":
// id or null}. Errors name the field after `where` ("searches[1].").
core::Result<json> scroll_json(index::Collection& collection, const json& body,
                               const PayloadSelector& payload_default, const std::string& where,
                               const RequestLimits& limits) {
  std::optional<core::PointId> offset;
  if (auto it = body.find("offset"); it != body.end() && !it->is_null()) {
    core::Result<core::PointId> id = point_id_from_json(*it, where + "offset");
    if (!id.is_ok()) return id.status();
    offset = std::move(id).value();
  }
  core::Result<size_t> limit = optional_count(body, "limit", 10, where);
  if (!limit.is_ok()) return limit.status();
  if (limit.value() > kMaxScrollLimit) {
    return core::invalid_argument(where + "limit must be at most " +
                                  std::to_string(kMaxScrollLimit) + ", got " +
                                  std::to_string(limit.value()));
  }
  core::Result<PayloadSelector> payload = payload_selector_from(body, where, payload_default);
  if (!payload.is_ok()) return payload.status();
  core::Result<bool> with_vector = optional_bool(body, "with_vector", false, where);
  if (!with_vector.is_ok()) return with_vector.status();
  std::vector<index::IndexableCondition> indexable;
  core::Result<index::PointFilter> filter = filter_from(body, where, limits, &indexable);
  if (!filter.is_ok()) return filter.status();
  auto page = collection.scroll(offset, limit.value(), filter.value(), indexable,
                                payload.value().wants_payload(), with_vector.value());
  if (!page.is_ok()) return page.status();
  json points = json::array();
  for (const index::StoredPoint& point : page.value().points) {
    points.push_back(stored_to_json(point, payload.value(), with_vector.value(),
                                    collection.config().vector_name));
  }
  return json{
      {"points", points},
      {"next_page_offset",
       page.value().next_page_offset ? point_id_to_json(*page.value().next_page_offset) : json()}};
}

// Nearest-vector hits for parsed options; a search error names the entry
// (`where`) it came from.
core::Result<json> nearest_json(index::Collection& collection, const SearchOptions& options,
                                const std::string& where) {
  const index::Metric metric = collection.config().metric;
  if (options.mmr) {
    // The nearest candidates with their vectors (and within the threshold),
    // reranked by maximal marginal relevance; scores stay the query's.
    index::SearchParams params = options.params;
    params.limit = options.mmr->candidates;
    params.with_vector = true;
    auto hits = collection.search(options.vector, params);
    if (!hits.is_ok()) return core::Status(hits.status().code(), where + hits.status().message());
    std::vector<index::ScoredPoint> candidates;
    for (index::ScoredPoint& p : hits.value()) {
      if (past_threshold(options, p.score, metric)) break;  // best first
      candidates.push_back(std::move(p));
    }
    std::vector<float> scores;
    std::vector<std::vector<float>> vectors;
    for (const index::ScoredPoint& p : candidates) {
      scores.push_back(p.score);
      vectors.push_back(p.vector);
    }
    std::vector<index::ScoredPoint> picked;
    for (size_t i : index::select_mmr(scores, vectors, metric, options.mmr->diversity,
                                      options.offset + options.limit)) {
      picked.push_back(std::move(candidates[i]));
    }
    return hits_to_json(picked, options, collection.config());
  }
  auto hits = collection.search(options.vector, options.params);
  if (!hits.is_ok()) return core::Status(hits.status().code(), where + hits.status().message());
  return hits_to_json(hits.value(), options, collection.config());
}

// Qdrant's search for one request: a list of hits.
core::Result<json> search_json(index::Collection& collection, const json& body,
                               const std::string& where, const RequestLimits& limits,
                               const core::CancellationToken* cancel) {
  auto options = search_options(body, where, limits, collection, QueryInput::kVector, cancel);
  if (!options.is_ok()) return options.status();
  return nearest_json(collection, options.value(), where);
}

// The query API's members Vesta does not support (400 naming the member).
// `using` may name the collection's one vector (`vector_name`; "" when it is
// unnamed, as Qdrant's default vector is).
core::Status check_query_keys(const json& body, const std::string& where,
                              const std::string& vector_name) {
  for (const char* unsupported : {"prefetch", "lookup_from"}) {
    if (body.contains(unsupported) && !body[unsupported].is_null()) {
      return core::invalid_argument(where + unsupported + " is not supported");
    }
  }
  if (auto named = body.find("using"); named != body.end() && !named->is_null()) {
    if (!named->is_string()) {
      return core::invalid_argument(where + "using must be a string, got " +
                                    std::string(named->type_name()));
    }
    if (named->get_ref<const std::string&>() != vector_name) {
      return unknown_vector_name(where + "using", named->get<std::string>(), vector_name);
    }
  }
  return core::Status::ok();
}

// Qdrant's query API for one request: nearest-vector search when "query" is
// given, else points in id order. Returns {"points": [...]}.
core::Result<json> query_json(index::Collection& collection, const json& body,
                              const std::string& where, const RequestLimits& limits,
                              const core::CancellationToken* cancel) {
  VESTA_RETURN_IF_ERROR(check_query_keys(body, where, collection.config().vector_name));
  if (!body.contains("query") || body["query"].is_null()) {
    // Qdrant's query defaults to no payload, unlike its scroll.
    core::Result<json> page = scroll_json(collection, body, PayloadSelector::none(), where, limits);
    if (!page.is_ok()) return page;
    return json{{"points", page.value()["points"]}};
  }
  auto options = search_options(body, where, limits, collection, QueryInput::kQuery, cancel);
  if (!options.is_ok()) return options.status();
  core::Result<json> points = nearest_json(collection, options.value(), where);
  if (!points.is_ok()) return points;
  return json{{"points", std::move(points).value()}};
}

// Qdrant's legacy recommend API for one request: the body is the
// recommendation ({"positive", "negative", "strategy"}) with the search
// options; answers a list of hits, as the search API does.
core::Result<json> recommend_json(index::Collection& collection, const json& body,
                                  const std::string& where, const RequestLimits& limits,
                                  const core::CancellationToken* cancel) {
  VESTA_RETURN_IF_ERROR(check_query_keys(body, where, collection.config().vector_name));
  auto options =
      search_options(body, where, limits, collection, QueryInput::kRecommendation, cancel);
  if (!options.is_ok()) return options.status();
  return nearest_json(collection, options.value(), where);
}

// The "searches" array of a batch route, each entry (an object) answered by
// `one`; an entry's error names it ("searches[1].vector ..."). At most
// limits.max_search_batch entries.
core::Result<json> each_search(
    const json& body, const RequestLimits& limits, const char* entry_kind,
    const std::function<core::Result<json>(const json& entry, const std::string& where)>& one) {
  auto searches = body.find("searches");
  if (searches == body.end() || !searches->is_array()) {
    return core::invalid_argument(std::string("searches must be an array of ") + entry_kind);
  }
  if (searches->size() > limits.max_search_batch) {
    return core::invalid_argument("searches holds " + std::to_string(searches->size()) + " " +
                                  entry_kind + ", more than one request may carry (" +
                                  std::to_string(limits.max_search_batch) +
                                  ", the server's --max-search-batch)");
  }
  json out = json::array();
  for (size_t i = 0; i < searches->size(); ++i) {
    const std::string entry = "searches[" + std::to_string(i) + "]";
    if (!(*searches)[i].is_object()) return core::invalid_argument(entry + " must be an object");
    core::Result<json> result = one((*searches)[i], entry + ".");
    if (!result.is_ok()) return result;
    out.push_back(std::move(result).value());
  }
  return out;
}

// Qdrant's query groups: the best `limit` groups of points that share a value
// of the payload key `group_by` (a point with several values there is in each
// of their groups), each with its best `group_size` points, best group first.
// The search reads ever more of the nearest points (4 times more each round)
// until the groups are full, the collection has no more, or 1024 were read.
core::Result<json> query_groups_json(index::Collection& collection, const json& body,
                                     const RequestLimits& limits,
                                     const core::CancellationToken* cancel) {
  VESTA_RETURN_IF_ERROR(check_query_keys(body, "", collection.config().vector_name));
  if (auto lookup = body.find("with_lookup"); lookup != body.end() && !lookup->is_null()) {
    return core::invalid_argument("with_lookup is not supported");
  }
  auto group_by = body.find("group_by");
  if (group_by == body.end() || !group_by->is_string() ||
      group_by->get_ref<const std::string&>().empty()) {
    return core::invalid_argument("group_by is required: a payload key");
  }
  const std::vector<std::string> path =
      index::split_payload_key(group_by->get_ref<const std::string&>());
  core::Result<size_t> group_size = optional_count(body, "group_size", 3, "");
  if (!group_size.is_ok()) return group_size.status();
  core::Result<size_t> groups_wanted =
      optional_count(body, "limit", std::min<size_t>(10, limits.max_limit), "");
  if (!groups_wanted.is_ok()) return groups_wanted.status();
  if (group_size.value() == 0 || groups_wanted.value() == 0) {
    return core::invalid_argument("limit and group_size must be at least 1");
  }
  if (groups_wanted.value() > limits.max_limit || group_size.value() > limits.max_limit) {
    return core::invalid_argument("limit and group_size must be at most " +
                                  std::to_string(limits.max_limit) + " (the server's --max-limit)");
  }
  if (!body.contains("query") || body["query"].is_null()) {
    return core::invalid_argument("query is required");
  }
  // The search options of the query itself; limit and offset are the groups'.
  json search = body;
  for (const char* key : {"limit", "offset", "group_by", "group_size"}) search.erase(key);
  core::Result<SearchOptions> parsed =
      search_options(search, "", limits, collection, QueryInput::kQuery, cancel);
  if (!parsed.is_ok()) return parsed.status();
  const SearchOptions& o = parsed.value();
  if (o.mmr) return core::invalid_argument("query.mmr is not supported with groups");
  index::SearchParams params = o.params;
  params.with_payload = true;  // the groups are read from it
  const size_t wanted = groups_wanted.value() * group_size.value();
  size_t read = std::min(kernels::kMaxTopK, std::max<size_t>(64, 2 * wanted));
  struct Group {
    json id;
    json hits = json::array();
  };
  for (;;) {
    params.limit = read;
    auto hits = collection.search(o.vector, params);
    if (!hits.is_ok()) return hits.status();
    std::vector<Group> groups;
    size_t filled = 0;
    for (const index::ScoredPoint& p : hits.value()) {
      if (past_threshold(o, p.score, collection.config().metric)) break;
      std::vector<json> ids;
      for (const json* v : index::payload_values(p.payload, path)) {
        if ((v->is_string() || v->is_number_integer()) &&
            std::find(ids.begin(), ids.end(), *v) == ids.end()) {
          ids.push_back(*v);
        }
      }
      for (const json& id : ids) {
        auto g = std::find_if(groups.begin(), groups.end(),
                              [&](const Group& group) { return group.id == id; });
        if (g == groups.end()) {
          if (groups.size() == groups_wanted.value()) continue;
          groups.push_back({id});
          g = groups.end() - 1;
        }
        if (g->hits.size() == group_size.value()) continue;
        g->hits.push_back(
            scored_to_json(p, o.payload, o.params.with_vector, collection.config().vector_name));
        if (g->hits.size() == group_size.value()) ++filled;
      }
    }
    const bool complete = filled == groups_wanted.value();
    if (complete || hits.value().size() < read || read == kernels::kMaxTopK) {
      json out = json::array();
      for (Group& g : groups) out.push_back({{"id", std::move(g.id)}, {"hits", std::move(g.hits)}});
      return json{{"groups", std::move(out)}};
    }
    read = std::min(kernels::kMaxTopK, read * 4);
  }
}

// The batch routes (search/batch, query/batch): every entry is parsed first
// (errors name the entry), then the unfiltered nearest-vector entries run as
// one Collection::search_batch call — one pass over the rows for all of them —
// and each gets its own offset, limit, threshold and payload selection.
// Filtered entries, and query entries without a query (id order), run alone.
// Should the shared call fail, the entries run one by one, so that an error
// still names its entry.
core::Result<json> batched_nearest(index::Collection& collection, const json& body,
                                   const RequestLimits& limits, bool query_api,
                                   const core::CancellationToken* cancel) {
  std::vector<SearchOptions> parsed;
  std::vector<std::string> wheres;
  std::vector<size_t> slots;
  size_t entry = 0;
  core::Result<json> out = each_search(
      body, limits, query_api ? "query requests" : "search requests",
      [&](const json& e, const std::string& where) -> core::Result<json> {
        const size_t slot = entry++;
        if (query_api && (!e.contains("query") || e["query"].is_null())) {
          return query_json(collection, e, where, limits, cancel);
        }
        if (query_api) {
          VESTA_RETURN_IF_ERROR(check_query_keys(e, where, collection.config().vector_name));
        }
        core::Result<SearchOptions> o =
            search_options(e, where, limits, collection,
                           query_api ? QueryInput::kQuery : QueryInput::kVector, cancel);
        if (!o.is_ok()) return o.status();
        parsed.push_back(std::move(o).value());
        wheres.push_back(where);
        slots.push_back(slot);
        return json(nullptr);  // filled in below
      });
  if (!out.is_ok()) return out;
  json& results = out.value();
  auto place = [&](size_t k, json hits) {
    results[slots[k]] = query_api ? json{{"points", std::move(hits)}} : std::move(hits);
  };
  std::vector<size_t> shared;
  for (size_t k = 0; k < parsed.size(); ++k) {
    if (!parsed[k].params.filter && !parsed[k].mmr &&
        parsed[k].vector.size() == collection.config().dim) {
      shared.push_back(k);
    }
  }
  std::vector<bool> done(parsed.size(), false);
  if (shared.size() > 1) {
    const size_t dim = collection.config().dim;
    std::vector<float> stacked;
    stacked.reserve(shared.size() * dim);
    index::SearchParams params;
    params.limit = 0;
    params.lock.cancel = cancel;
    for (size_t k : shared) {
      const SearchOptions& o = parsed[k];
      stacked.insert(stacked.end(), o.vector.begin(), o.vector.end());
      params.limit = std::max(params.limit, o.params.limit);
      params.with_payload = params.with_payload || o.params.with_payload;
      params.with_vector = params.with_vector || o.params.with_vector;
    }
    auto hits = collection.search_batch(stacked, shared.size(), params);
    if (!hits.is_ok() && hits.status().code() == core::StatusCode::kCancelled) {
      return hits.status();  // the client is gone: no entry runs alone
    }
    if (hits.is_ok()) {
      for (size_t j = 0; j < shared.size(); ++j) {
        place(shared[j], hits_to_json(hits.value()[j], parsed[shared[j]], collection.config()));
        done[shared[j]] = true;
      }
    }
  }
  for (size_t k = 0; k < parsed.size(); ++k) {
    if (done[k]) continue;
    core::Result<json> hits = nearest_json(collection, parsed[k], wheres[k]);
    if (!hits.is_ok()) return hits;
    place(k, std::move(hits).value());
  }
  return out;
}

// The answer of a write that has been applied (every write is, before the
// response).
json completed_operation() { return json{{"operation_id", 0}, {"status", "completed"}}; }

core::Result<json> upsert_json(index::Collection& collection, const json& body,
                               const RequestLimits& limits) {
  auto points = points_from_json(body, limits, collection.config().vector_name);
  if (!points.is_ok()) return points.status();
  VESTA_RETURN_IF_ERROR(collection.upsert(std::move(points).value()));
  return completed_operation();
}

// One point by the id in the URL path; 404 when absent. Payload and vector
// by default, as in Qdrant; `?with_payload=` (true, false or comma-separated
// key paths) and `?with_vector=` (true or false) choose otherwise.
core::Result<json> point_json(index::Collection& collection, const std::string& id_text,
                              const std::string& query) {
  PayloadSelector payload = PayloadSelector::all();
  if (std::optional<std::string> text = query_param(query, "with_payload")) {
    core::Result<PayloadSelector> parsed = PayloadSelector::parse_text(*text, "with_payload");
    if (!parsed.is_ok()) return parsed.status();
    payload = std::move(parsed).value();
  }
  bool with_vector = true;
  if (std::optional<std::string> text = query_param(query, "with_vector")) {
    if (*text != "true" && *text != "false") {
      return core::invalid_argument("with_vector: expected true or false, got '" + *text + "'");
    }
    with_vector = *text == "true";
  }
  core::Result<core::PointId> id = path_point_id(id_text);
  if (!id.is_ok()) return id.status();
  auto point = collection.get(id.value());
  if (!point.is_ok()) return point.status();
  if (!point.value()) return core::not_found("point " + id_text + " does not exist");
  return stored_to_json(*point.value(), payload, with_vector, collection.config().vector_name);
}

// Points by "ids"; missing ids are skipped.
core::Result<json> retrieve_json(index::Collection& collection, const json& body) {
  auto ids = ids_from_json(body, "ids");
  if (!ids.is_ok()) return ids.status();
  core::Result<PayloadSelector> payload = payload_selector_from(body, "", PayloadSelector::all());
  if (!payload.is_ok()) return payload.status();
  core::Result<bool> with_vector = optional_bool(body, "with_vector", false, "");
  if (!with_vector.is_ok()) return with_vector.status();
  json out = json::array();
  for (const core::PointId& id : ids.value()) {
    auto point = collection.get(id);
    if (!point.is_ok()) return point.status();
    if (point.value()) {
      out.push_back(stored_to_json(*point.value(), payload.value(), with_vector.value(),
                                   collection.config().vector_name));
    }
  }
  return out;
}

// Deletes the points chosen by "filter" or, without one, by "points" (ids).
core::Result<json> delete_points_json(index::Collection& collection, const json& body,
                                      const RequestLimits& limits) {
  if (body.contains("filter")) {
    std::vector<index::IndexableCondition> indexable;
    core::Result<index::PointFilter> filter = filter_from(body, "", limits, &indexable);
    if (!filter.is_ok()) return filter.status();
    if (!filter.value()) return core::invalid_argument("filter must not be null");
    auto removed = collection.remove_matching(filter.value(), indexable);
    if (!removed.is_ok()) return removed.status();
    return completed_operation();
  }
  auto ids = ids_from_json(body, "points");
  if (!ids.is_ok()) return ids.status();
  auto removed = collection.remove(ids.value());
  if (!removed.is_ok()) return removed.status();
  return completed_operation();
}

// {"count": n}, of the points an optional "filter" keeps.
core::Result<json> count_json(index::Collection& collection, const json& body,
                              const RequestLimits& limits) {
  std::vector<index::IndexableCondition> indexable;
  core::Result<index::PointFilter> filter = filter_from(body, "", limits, &indexable);
  if (!filter.is_ok()) return filter.status();
  auto count =
      filter.value() ? collection.count_matching(filter.value(), indexable) : collection.count();
  if (!count.is_ok()) return count.status();
  return json{{"count", count.value()}};
}

core::Result<json> collection_info_json(index::Collection& collection) {
  const index::CollectionConfig& config = collection.config();
  core::Result<size_t> count = collection.count();
  if (!count.is_ok()) return count.status();
  core::Result<std::map<std::string, index::Collection::PayloadIndexInfo>> schema =
      collection.payload_schema();
  if (!schema.is_ok()) return schema.status();
  json payload_schema = json::object();
  for (const auto& [key, info] : schema.value()) {
    payload_schema[key] = {{"data_type", index::payload_schema_name(info.schema)},
                           {"params", nullptr},
                           {"points", info.points}};
  }
  json vectors = {{"size", config.dim}, {"distance", index::metric_name(config.metric)}};
  if (!config.vector_name.empty()) vectors = json{{config.vector_name, vectors}};
  return json{{"status", "green"},
              {"optimizer_status", "ok"},
              {"points_count", count.value()},
              {"indexed_vectors_count", count.value()},
              {"segments_count", 1},
              {"config",
               {{"params", {{"vectors", vectors}}},
                // Vesta searches exhaustively: no HNSW graph (m = 0). The
                // optimizer values are its compaction policy.
                {"hnsw_config", {{"m", 0}, {"ef_construct", 0}, {"full_scan_threshold", 0}}},
                {"optimizer_config",
                 {{"deleted_threshold", 0.25},
                  {"vacuum_min_vector_number", 1024},
                  {"default_segment_number", 1},
                  {"flush_interval_sec", 0}}}}},
              {"payload_schema", payload_schema}};
}

// PUT /collections/{name}/index: {"field_name": "a.b", "field_schema":
// "keyword" | "integer" | "float" | {"type": ...}}.
core::Result<json> create_index_json(index::Collection& collection, const json& body) {
  auto name = body.find("field_name");
  if (name == body.end() || !name->is_string() || name->get<std::string>().empty()) {
    return core::invalid_argument("field_name must be a non-empty string");
  }
  auto schema = body.find("field_schema");
  if (schema == body.end() || schema->is_null()) {
    return core::invalid_argument("field_schema is required (keyword, integer or float)");
  }
  const json* type = &*schema;
  if (schema->is_object()) {
    auto t = schema->find("type");
    if (t == schema->end()) return core::invalid_argument("field_schema.type is required");
    type = &*t;
  }
  if (!type->is_string()) {
    return core::invalid_argument("field_schema must be keyword, integer or float");
  }
  const std::optional<index::PayloadSchema> parsed =
      index::parse_payload_schema(type->get<std::string>());
  if (!parsed) {
    return core::invalid_argument("field_schema '" + type->get<std::string>() +
                                  "' is not supported (keyword, integer or float)");
  }
  VESTA_RETURN_IF_ERROR(collection.create_payload_index(name->get<std::string>(), *parsed));
  return completed_operation();
}

// Payload updates: set (merge keys), overwrite, delete keys, clear; each on
// the points chosen by "points" (ids) or "filter".
using PayloadOp = index::PayloadUpdate::Kind;

core::Result<json> update_payload_json(index::Collection& collection, const json& body,
                                       PayloadOp op, const RequestLimits& limits) {
  if (body.contains("key") && !body["key"].is_null()) {
    return core::invalid_argument("key (a nested payload path) is not supported");
  }
  index::PayloadUpdate update;
  update.kind = op;
  if (op == PayloadOp::kSet || op == PayloadOp::kOverwrite) {
    auto it = body.find("payload");
    if (it == body.end() || !it->is_object()) {
      return core::invalid_argument("payload must be a JSON object");
    }
    update.payload = *it;
  } else if (op == PayloadOp::kDeleteKeys) {
    auto it = body.find("keys");
    if (it == body.end() || !it->is_array()) {
      return core::invalid_argument("keys must be an array of strings");
    }
    for (size_t i = 0; i < it->size(); ++i) {
      if (!(*it)[i].is_string()) {
        return core::invalid_argument("keys[" + std::to_string(i) + "] must be a string");
      }
      update.keys.push_back((*it)[i].get<std::string>());
    }
  }
  std::vector<core::PointId> ids;
  if (body.contains("points") && !body["points"].is_null()) {
    auto parsed_ids = ids_from_json(body, "points");
    if (!parsed_ids.is_ok()) return parsed_ids.status();
    ids = std::move(parsed_ids).value();
  } else if (body.contains("filter") && !body["filter"].is_null()) {
    std::vector<index::IndexableCondition> indexable;
    core::Result<index::PointFilter> filter = filter_from(body, "", limits, &indexable);
    if (!filter.is_ok()) return filter.status();
    auto matching = collection.ids_matching(filter.value(), indexable);
    if (!matching.is_ok()) return matching.status();
    ids = std::move(matching).value();
  } else {
    return core::invalid_argument("points (ids) or filter is required");
  }
  auto updated = collection.update_payloads(ids, update);
  if (!updated.is_ok()) return updated.status();
  return completed_operation();
}

// A string member of an alias action, named by its path for errors.
core::Result<std::string> alias_field(const json& action, const char* key,
                                      const std::string& where) {
  auto it = action.find(key);
  if (it == action.end() || !it->is_string()) {
    return core::invalid_argument(where + key + " must be a string");
  }
  return it->get<std::string>();
}

// Qdrant's {"actions": [{"create_alias": {...}}, {"delete_alias": {...}},
// {"rename_alias": {...}}]}; each action is an object with exactly one of them.
core::Result<std::vector<index::AliasAction>> alias_actions_from_json(const json& body) {
  auto actions = body.find("actions");
  if (actions == body.end() || !actions->is_array()) {
    return core::invalid_argument("actions must be an array of alias actions");
  }
  std::vector<index::AliasAction> out;
  for (size_t i = 0; i < actions->size(); ++i) {
    const json& action = (*actions)[i];
    const std::string where = "actions[" + std::to_string(i) + "]";
    if (!action.is_object() || action.size() != 1) {
      return core::invalid_argument(
          where + " must be an object with one of create_alias, delete_alias, rename_alias");
    }
    const std::string& kind = action.begin().key();
    const json& fields = action.begin().value();
    const std::string field_where = where + "." + kind + ".";
    if (kind != "create_alias" && kind != "delete_alias" && kind != "rename_alias") {
      return core::invalid_argument(where + ": unknown alias action '" + kind +
                                    "'; use create_alias, delete_alias or rename_alias");
    }
    if (!fields.is_object()) {
      return core::invalid_argument(where + "." + kind + " must be an object");
    }
    if (kind == "create_alias") {
      core::Result<std::string> collection = alias_field(fields, "collection_name", field_where);
      if (!collection.is_ok()) return collection.status();
      core::Result<std::string> alias = alias_field(fields, "alias_name", field_where);
      if (!alias.is_ok()) return alias.status();
      out.emplace_back(index::CreateAlias{std::move(collection).value(), std::move(alias).value()});
    } else if (kind == "delete_alias") {
      core::Result<std::string> alias = alias_field(fields, "alias_name", field_where);
      if (!alias.is_ok()) return alias.status();
      out.emplace_back(index::DeleteAlias{std::move(alias).value()});
    } else {
      core::Result<std::string> old_name = alias_field(fields, "old_alias_name", field_where);
      if (!old_name.is_ok()) return old_name.status();
      core::Result<std::string> new_name = alias_field(fields, "new_alias_name", field_where);
      if (!new_name.is_ok()) return new_name.status();
      out.emplace_back(
          index::RenameAlias{std::move(old_name).value(), std::move(new_name).value()});
    }
  }
  return out;
}

json aliases_json(const std::vector<index::Alias>& aliases) {
  json list = json::array();
  for (const index::Alias& a : aliases) {
    list.push_back({{"alias_name", a.alias_name}, {"collection_name", a.collection_name}});
  }
  return json{{"aliases", list}};
}

// What a collection route reads from the request body.
enum class BodyUse {
  kNone,      // nothing: the handler sees {}
  kRequired,  // a JSON object
  kOptional,  // a JSON object, or an empty body read as {}
};

// What a collection route's handler sees: the collection named by the {name}
// path parameter, the body as BodyUse says, and every path parameter.
struct CollectionRequest {
  const HttpRequest& request;
  const RequestLimits& limits;
  index::Collection& collection;
  const json& body;
  const RouteParams& params;
};

using CollectionHandler = std::function<core::Result<json>(const CollectionRequest&)>;

// A route on one collection: looks the collection up, an alias resolving to
// its collection (404 when neither exists, before the body is read), reads
// the body, runs `handler` and answers in Qdrant's envelope. The collection
// stays alive until the handler returns, even if it is dropped meanwhile.
RouteHandler with_collection(index::CollectionRegistry& registry, const RequestLimits& limits,
                             BodyUse use, CollectionHandler handler,
                             const VectorBodyParser* vectors = nullptr) {
  return [&registry, &limits, use, handler = std::move(handler), vectors](
             const HttpRequest& req, const RouteParams& params) {
    return respond([&]() -> core::Result<json> {
      auto collection = registry.get(params.at("name"));
      if (!collection.is_ok()) return collection.status();
      json body = json::object();
      if (use == BodyUse::kRequired || (use == BodyUse::kOptional && !req.body.empty())) {
        core::Result<json> parsed = object_body(req, vectors);
        if (!parsed.is_ok()) return parsed.status();
        body = std::move(parsed).value();
      }
      return handler({req, limits, *collection.value(), body, params});
    });
  };
}

// POST /collections/{name}/points/search/raw: the binary batch search
// (raw_search_codec.h). Errors answer in the JSON envelope like every route.
HttpResponse raw_search(index::CollectionRegistry& registry, const RequestLimits& limits,
                        const HttpRequest& req, const RouteParams& params) {
  std::string answer;
  HttpResponse response = respond([&]() -> core::Result<json> {
    auto collection = registry.get(params.at("name"));
    if (!collection.is_ok()) return collection.status();
    index::Collection& c = *collection.value();
    core::Result<RawSearchRequest> request = decode_raw_search_request(
        req.body, {c.config().dim, limits.max_search_batch, limits.max_limit});
    if (!request.is_ok()) return request.status();
    std::vector<std::vector<index::ScoredPoint>> hits;
    if (request.value().rows > 0) {
      index::SearchParams search;
      search.limit = request.value().k;
      search.lock.cancel = req.cancel.get();
      auto found = c.search_batch(request.value().queries, request.value().rows, search);
      if (!found.is_ok()) return found.status();
      hits = std::move(found).value();
    }
    core::Result<std::string> encoded = encode_raw_search_response(request.value(), hits);
    if (!encoded.is_ok()) return encoded.status();
    answer = std::move(encoded).value();
    return json();
  });
  if (response.status != 200) return response;
  return {200, "application/octet-stream", std::move(answer)};
}

}  // namespace

RestApi::RestApi(index::CollectionRegistry& collections, std::string version,
                 RestApiOptions options)
    : collections_(collections),
      version_(std::move(version)),
      auth_(std::move(options.api_keys)),
      limits_(options.limits),
      metrics_(options.metrics),
      access_log_(options.access_log),
      engine_(options.engine),
      import_jobs_(options.import_jobs),
      graph_(options.graph),
      graph_limits_(options.graph_limits),
      fast_json_vectors_(options.fast_json_vectors) {
  add_routes();
}

HttpResponse RestApi::handle(const HttpRequest& request) const {
  const auto start = std::chrono::steady_clock::now();
  std::string route;
  HttpResponse response = auth_.enabled() ? router_.dispatch(
                                                request,
                                                [this](const HttpRequest& req, RouteAccess access) {
                                                  return auth_.check(req, access);
                                                },
                                                &route)
                                          : router_.dispatch(request, nullptr, &route);
  observe(request, response, route, start);
  return response;
}

std::optional<HttpResponse> RestApi::admit(const HttpRequest& head) const {
  if (!auth_.enabled()) return std::nullopt;
  const auto start = std::chrono::steady_clock::now();
  std::string route;
  const RouteAccess access = router_.access_of(head, &route);
  std::optional<HttpResponse> refused = auth_.check(head, access);
  if (refused) observe(head, *refused, route, start);
  return refused;
}

void RestApi::observe(const HttpRequest& request, const HttpResponse& response,
                      const std::string& route, std::chrono::steady_clock::time_point start) const {
  if (metrics_ == nullptr && access_log_ == nullptr) return;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (metrics_ != nullptr)
    metrics_->observe_request(request.method, route, response.status, seconds);
  if (access_log_ != nullptr) access_log_->write(request, response, route, seconds);
}

void RestApi::add_routes() {
  Router& r = router_;
  index::CollectionRegistry& registry = collections_;
  const RequestLimits& limits = limits_;
  // The reader for a route's vectors, unless turned off.
  auto vectors = [this](const VectorBodyParser& parser) {
    return fast_json_vectors_ ? &parser : nullptr;
  };

  // Routes of methods other than GET write unless marked kRead (Router::add).
  r.add(
      "GET", "/",
      [this](const HttpRequest&, const RouteParams&) {
        json body = {{"title", "vesta - vector store"}, {"version", version_}};
        return HttpResponse{200, "application/json", body.dump()};
      },
      RouteAccess::kPublic);
  auto health = [](const HttpRequest&, const RouteParams&) {
    return HttpResponse{200, "text/plain", "healthz check passed"};
  };
  r.add("GET", "/healthz", health, RouteAccess::kPublic);
  if (metrics_ != nullptr) {
    r.add(
        "GET", "/metrics",
        [this](const HttpRequest&, const RouteParams&) {
          return HttpResponse{200, "text/plain; version=0.0.4", metrics_->render()};
        },
        RouteAccess::kRead);
  }
  r.add("GET", "/livez", health, RouteAccess::kPublic);
  r.add(
      "GET", "/readyz",
      [](const HttpRequest&, const RouteParams&) {
        return HttpResponse{200, "text/plain", "all shards are ready"};
      },
      RouteAccess::kPublic);

  r.add("GET", "/collections", [&registry](const HttpRequest&, const RouteParams&) {
    return respond([&]() -> core::Result<json> {
      json list = json::array();
      for (const std::string& name : registry.names()) list.push_back({{"name", name}});
      return json{{"collections", list}};
    });
  });

  r.add("PUT", "/collections/{name}",
        [&registry, &limits](const HttpRequest& req, const RouteParams& p) {
          return respond([&]() -> core::Result<json> {
            core::Result<json> body = object_body(req);
            if (!body.is_ok()) return body.status();
            const auto found = body.value().find("vectors");
            const json* vectors = found == body.value().end() ? nullptr : &*found;
            // Qdrant's named form {"<name>": {size, distance}} of the one
            // vector; "" is its default vector's name (LangChain creates
            // collections so) and leaves the vector unnamed.
            std::string vector_name;
            if (vectors != nullptr && vectors->is_object() && !vectors->contains("size") &&
                !vectors->empty() && vectors->begin().value().is_object()) {
              if (vectors->size() != 1) {
                std::string names;
                for (const auto& [key, value] : vectors->items()) {
                  names += (names.empty() ? "\"" : ", \"") + key + "\"";
                }
                return core::invalid_argument("vectors names " + std::to_string(vectors->size()) +
                                              " vectors (" + names +
                                              "); a Vesta collection holds one vector");
              }
              vector_name = vectors->begin().key();
              vectors = &vectors->begin().value();
            }
            if (vectors == nullptr || !vectors->is_object()) {
              return core::invalid_argument(
                  "vectors must be an object {\"size\": N, \"distance\": ...}");
            }
            core::Result<size_t> size = optional_count(*vectors, "size", 0, "vectors.");
            if (!size.is_ok()) return size.status();
            if (!vectors->contains("size"))
              return core::invalid_argument("vectors.size is required");
            if (size.value() > limits.max_dim) {
              return core::invalid_argument(
                  "vectors.size must be at most " + std::to_string(limits.max_dim) +
                  " (the server's --max-dim), got " + std::to_string(size.value()));
            }
            auto distance = vectors->find("distance");
            if (distance == vectors->end() || !distance->is_string()) {
              return core::invalid_argument("vectors.distance must be one of Cosine, Dot, Euclid");
            }
            std::optional<index::Metric> metric = index::parse_metric(distance->get<std::string>());
            if (!metric) {
              return core::invalid_argument("vectors.distance '" + distance->get<std::string>() +
                                            "' is not supported; use Cosine, Dot or Euclid");
            }
            VESTA_RETURN_IF_ERROR(
                registry.create({p.at("name"), size.value(), *metric, 0, vector_name}));
            return json(true);
          });
        });

  r.add("GET", "/collections/{name}",
        with_collection(registry, limits, BodyUse::kNone, [](const CollectionRequest& q) {
          return collection_info_json(q.collection);
        }));

  r.add("DELETE", "/collections/{name}", [&registry](const HttpRequest&, const RouteParams& p) {
    return respond([&]() -> core::Result<json> {
      core::Result<bool> dropped = registry.drop(p.at("name"));
      if (!dropped.is_ok()) return dropped.status();
      return json(dropped.value());
    });
  });

  r.add("PUT", "/collections/{name}/index",
        with_collection(registry, limits, BodyUse::kRequired, [](const CollectionRequest& q) {
          return create_index_json(q.collection, q.body);
        }));
  r.add("DELETE", "/collections/{name}/index/{field}",
        with_collection(
            registry, limits, BodyUse::kNone, [](const CollectionRequest& q) -> core::Result<json> {
              core::Result<bool> dropped = q.collection.delete_payload_index(q.params.at("field"));
              if (!dropped.is_ok()) return dropped.status();
              return completed_operation();
            }));

  r.add("GET", "/collections/{name}/exists", [&registry](const HttpRequest&, const RouteParams& p) {
    return respond([&]() -> core::Result<json> {
      return json{{"exists", registry.exists(p.at("name"))}};
    });
  });

  r.add("PUT", "/collections/{name}/points",
        with_collection(
            registry, limits, BodyUse::kRequired,
            [](const CollectionRequest& q) { return upsert_json(q.collection, q.body, q.limits); },
            vectors(kUpsertVectors)));

  r.add("GET", "/collections/{name}/points/{id}",
        with_collection(registry, limits, BodyUse::kNone, [](const CollectionRequest& q) {
          return point_json(q.collection, q.params.at("id"), q.request.query);
        }));

  r.add("POST", "/collections/{name}/points",
        with_collection(
            registry, limits, BodyUse::kRequired,
            [](const CollectionRequest& q) { return retrieve_json(q.collection, q.body); }),
        RouteAccess::kRead);

  r.add("POST", "/collections/{name}/points/delete",
        with_collection(registry, limits, BodyUse::kRequired, [](const CollectionRequest& q) {
          return delete_points_json(q.collection, q.body, q.limits);
        }));

  r.add("POST", "/collections/{name}/points/count",
        with_collection(
            registry, limits, BodyUse::kOptional,
            [](const CollectionRequest& q) { return count_json(q.collection, q.body, q.limits); }),
        RouteAccess::kRead);

  r.add("POST", "/collections/{name}/points/search",
        with_collection(
            registry, limits, BodyUse::kRequired,
            [](const CollectionRequest& q) {
              return search_json(q.collection, q.body, "", q.limits, q.request.cancel.get());
            },
            vectors(kSearchVectors)),
        RouteAccess::kRead);

  r.add("POST", "/collections/{name}/points/recommend",
        with_collection(registry, limits, BodyUse::kRequired,
                        [](const CollectionRequest& q) {
                          return recommend_json(q.collection, q.body, "", q.limits,
                                                q.request.cancel.get());
                        }),
        RouteAccess::kRead);

  r.add("POST", "/collections/{name}/points/recommend/batch",
        with_collection(registry, limits, BodyUse::kRequired,
                        [](const CollectionRequest& q) {
                          return each_search(q.body, q.limits, "recommend requests",
                                             [&](const json& e, const std::string& where) {
                                               return recommend_json(q.collection, e, where,
                                                                     q.limits,
                                                                     q.request.cancel.get());
                                             });
                        }),
        RouteAccess::kRead);

  r.add("POST", "/collections/{name}/points/search/batch",
        with_collection(
            registry, limits, BodyUse::kRequired,
            [](const CollectionRequest& q) {
              return batched_nearest(q.collection, q.body, q.limits, false, q.request.cancel.get());
            },
            vectors(kSearchBatchVectors)),
        RouteAccess::kRead);

  r.add(
      "POST", "/collections/{name}/points/search/raw",
      [&registry, &limits](const HttpRequest& req, const RouteParams& p) {
        return raw_search(registry, limits, req, p);
      },
      RouteAccess::kRead);

  auto payload_route = [&registry, &limits](PayloadOp op) {
    return with_collection(registry, limits, BodyUse::kRequired, [op](const CollectionRequest& q) {
      return update_payload_json(q.collection, q.body, op, q.limits);
    });
  };
  r.add("POST", "/collections/{name}/points/payload", payload_route(PayloadOp::kSet));
  r.add("PUT", "/collections/{name}/points/payload", payload_route(PayloadOp::kOverwrite));
  r.add("POST", "/collections/{name}/points/payload/delete", payload_route(PayloadOp::kDeleteKeys));
  r.add("POST", "/collections/{name}/points/payload/clear", payload_route(PayloadOp::kClear));

  r.add("POST", "/collections/{name}/points/scroll",
        with_collection(registry, limits, BodyUse::kOptional,
                        [](const CollectionRequest& q) {
                          return scroll_json(q.collection, q.body, PayloadSelector::all(), "",
                                             q.limits);
                        }),
        RouteAccess::kRead);

  r.add("POST", "/collections/{name}/points/query",
        with_collection(
            registry, limits, BodyUse::kRequired,
            [](const CollectionRequest& q) {
              return query_json(q.collection, q.body, "", q.limits, q.request.cancel.get());
            },
            vectors(kQueryVectors)),
        RouteAccess::kRead);

  r.add("POST", "/collections/{name}/points/query/groups",
        with_collection(
            registry, limits, BodyUse::kRequired,
            [](const CollectionRequest& q) {
              return query_groups_json(q.collection, q.body, q.limits, q.request.cancel.get());
            },
            vectors(kQueryVectors)),
        RouteAccess::kRead);

  r.add("POST", "/collections/{name}/points/query/batch",
        with_collection(
            registry, limits, BodyUse::kRequired,
            [](const CollectionRequest& q) {
              return batched_nearest(q.collection, q.body, q.limits, true, q.request.cancel.get());
            },
            vectors(kQueryBatchVectors)),
        RouteAccess::kRead);

  // Aliases live in the registry; the collection routes above resolve them
  // through with_collection (collection create and delete do not).
  r.add("POST", "/collections/aliases", [&registry](const HttpRequest& req, const RouteParams&) {
    return respond([&]() -> core::Result<json> {
      core::Result<json> body = object_body(req);
      if (!body.is_ok()) return body.status();
      auto actions = alias_actions_from_json(body.value());
      if (!actions.is_ok()) return actions.status();
      VESTA_RETURN_IF_ERROR(registry.update_aliases(actions.value()));
      return json(true);
    });
  });

  r.add("GET", "/aliases", [&registry](const HttpRequest&, const RouteParams&) {
    return respond([&]() -> core::Result<json> { return aliases_json(registry.aliases()); });
  });

  r.add("GET", "/collections/{name}/aliases",
        [&registry](const HttpRequest&, const RouteParams& p) {
          return respond([&]() -> core::Result<json> {
            auto aliases = registry.aliases_of(p.at("name"));
            if (!aliases.is_ok()) return aliases.status();
            return aliases_json(aliases.value());
          });
        });

  add_snapshot_routes(r, engine_);
  if (import_jobs_ != nullptr) add_import_routes(r, *import_jobs_);
  add_graph_routes(r, collections_, engine_, graph_, graph_limits_);
}

}  // namespace vesta::server
