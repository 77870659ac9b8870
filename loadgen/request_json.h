#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace vesta::loadgen {

// The JSON text of the requests `vesta bench` sends, written directly (no
// DOM): floats in their shortest float32 round-trip form (std::to_chars),
// checked to come back as the same bits from a server that reads each number
// as the nearest double, refuses one beyond float32's range and casts it to
// float, as Vesta does (where that would fail, the double's shortest form).
// -0 is written "-0.0" (a JSON integer "-0" is +0 to such parsers), NaN and
// infinities "null" (as nlohmann's dump writes them).

// Appends "[v0,v1,...]".
void append_float_array(std::string& out, std::span<const float> values);

// {"vector":[...],"limit":k} for POST .../points/search.
std::string search_request_json(std::span<const float> vector, size_t k);

// {"searches":[{"vector":[...],"limit":k},...]} for POST .../points/search/batch;
// `queries` holds the vectors one after another, `dim` floats each.
std::string search_batch_request_json(std::span<const float> queries, size_t dim, size_t k);

// {"batch":{"ids":[first_id,...],"vectors":[[...],...]}} for PUT .../points;
// `rows` holds the vectors one after another, `dim` floats each.
std::string upsert_batch_json(uint64_t first_id, std::span<const float> rows, size_t dim);

}  // namespace vesta::loadgen
