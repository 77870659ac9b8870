#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace vesta::index {

// How the rows of one index are spread over several devices: in blocks of
// `block_rows` rows (a multiple of 64), block b on shard b % shards, where it
// takes local rows (b / shards) * block_rows onwards. Appended rows fill the
// blocks in turn, so shards stay within a block of each other, and each
// shard's local rows are contiguous and grow in order (an append to a shard
// is always at its end). Block boundaries fall on 64-row words, so a shard's
// part of a row bitmap is whole words of the index's bitmap.
struct ShardLayout {
  size_t shards = 1;
  size_t block_rows = 65536;

  size_t shard_of(uint64_t row) const { return (row / block_rows) % shards; }
  uint64_t local_row(uint64_t row) const {
    return (row / block_rows) / shards * block_rows + row % block_rows;
  }
  uint64_t global_row(size_t shard, uint64_t local) const {
    return ((local / block_rows) * shards + shard) * block_rows + local % block_rows;
  }
  // How many of the first `total` rows are on `shard`.
  uint64_t local_rows(size_t shard, uint64_t total) const {
    const uint64_t full = total / block_rows;
    const uint64_t partial = total % block_rows;
    const uint64_t blocks = full / shards + (shard < full % shards ? 1 : 0);
    return blocks * block_rows + (full % shards == shard ? partial : 0);
  }
  // `shard`'s bits of a bitmap of the first `total` rows (bit r of word
  // r / 64), as a bitmap of its local rows. Bits past its local rows are
  // those of the index's bitmap beyond `total` (callers ignore them).
  std::vector<uint64_t> gather_bits(size_t shard, const uint64_t* bits, uint64_t total) const {
    const uint64_t local = local_rows(shard, total);
    std::vector<uint64_t> out((local + 63) / 64, 0);
    for (uint64_t first = 0; first < local; first += block_rows) {
      const uint64_t global_word = global_row(shard, first) / 64;
      const uint64_t words = (std::min<uint64_t>(block_rows, local - first) + 63) / 64;
      std::copy(bits + global_word, bits + global_word + words,
                out.begin() + static_cast<ptrdiff_t>(first / 64));
    }
    return out;
  }
};

}  // namespace vesta::index
