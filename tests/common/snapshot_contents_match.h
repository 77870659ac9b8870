#pragma once

#include <gtest/gtest.h>

#include "persistence/snapshot_codec.h"

namespace vesta::testing {

// Every field of two snapshot contents equal, each failure naming its field
// (rows compared as float16 bit patterns).
inline void expect_same_snapshot(const persistence::SnapshotContents& a,
                                 const persistence::SnapshotContents& b) {
  EXPECT_EQ(a.collection, b.collection);
  EXPECT_EQ(a.dim, b.dim);
  EXPECT_EQ(a.metric, b.metric);
  EXPECT_EQ(a.incarnation, b.incarnation);
  EXPECT_EQ(a.wal_sequence, b.wal_sequence);
  EXPECT_EQ(a.vector_name, b.vector_name);
  EXPECT_EQ(a.payload_indexes, b.payload_indexes);
  EXPECT_EQ(a.ids, b.ids);
  EXPECT_EQ(a.rows, b.rows);
  EXPECT_EQ(a.payloads, b.payloads);
}

}  // namespace vesta::testing
