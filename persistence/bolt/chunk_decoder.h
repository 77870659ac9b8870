#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>

#include "core/status.h"
#include "persistence/bolt/value.h"

// Bolt's chunked framing (the Bolt documentation's "Message exchange >
// Chunking"): a message goes out as chunks, each a 16-bit big-endian size
// and that many bytes, and ends with an empty chunk, 00 00. An empty chunk
// between messages is a NOOP (a keep-alive, Bolt 4.1+).
namespace vesta::bolt {

// The largest chunk the 16-bit header can announce.
inline constexpr size_t kMaxChunkBytes = 65535;

// Appends `message` to `out` as chunks of at most `max_chunk_bytes` (1 to
// 65535) followed by the 00 00 end marker.
void append_chunked(std::span<const std::uint8_t> message, Bytes* out,
                    size_t max_chunk_bytes = kMaxChunkBytes);

// Reassembles messages from the bytes of a connection, however they were cut
// by the network: a header split between reads, a message split across
// chunks, NOOP chunks between messages (skipped, counted). Not thread-safe.
class ChunkDecoder {
 public:
  // A message longer than `max_message_bytes` is refused before it is held
  // whole, so a peer cannot make the client buffer without bound.
  explicit ChunkDecoder(size_t max_message_bytes) : max_message_bytes_(max_message_bytes) {}

  // Takes the next bytes of the stream. InvalidArgument when a message grows
  // past the limit; the decoder is unusable afterwards (so is the stream).
  core::Status feed(std::span<const std::uint8_t> bytes);
  // The oldest complete message not taken yet, if any.
  std::optional<Bytes> next_message();

  // Whether part of a message (or of a chunk header) has been read.
  bool mid_message() const { return header_bytes_ > 0 || chunk_left_ > 0 || !partial_.empty(); }
  size_t noop_chunks() const { return noop_chunks_; }

 private:
  const size_t max_message_bytes_;
  std::deque<Bytes> complete_;
  Bytes partial_;                // the message being reassembled
  std::uint8_t header_[2] = {};  // a chunk header being read
  size_t header_bytes_ = 0;      // 0, 1 or 2 bytes of header_ read
  size_t chunk_left_ = 0;        // bytes of the current chunk still to come
  bool in_message_ = false;      // a non-empty chunk of the current message was read
  size_t noop_chunks_ = 0;
  bool failed_ = false;
};

}  // namespace vesta::bolt
