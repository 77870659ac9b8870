#pragma once

#include <string>

#include "index/write_journal.h"
#include "persistence/store.h"

namespace vesta::engine {

// What a collection write does to the payloads of its points, for a store
// that keeps them queryable (persistence::PayloadChange). Payload texts are
// JSON with any \u0000 escape replaced by \ufffd (PostgreSQL's jsonb refuses
// U+0000).
persistence::PayloadChanges payload_changes(const index::CollectionConfig& collection,
                                            const index::CollectionWrite& write);

// Every point of a snapshot as one upsert (for Store::replace_payload_rows).
persistence::PayloadChange all_payloads(const index::CollectionConfig& collection,
                                        const index::CollectionSnapshot& snapshot);

// `json` with each \u0000 escape (outside an escaped backslash) as \ufffd.
std::string without_nul_escapes(std::string json);

}  // namespace vesta::engine
