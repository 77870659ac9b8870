#include "persistence/bolt/chunk_decoder.h"

#include <algorithm>
#include <string>
#include <utility>

namespace vesta::bolt {

void append_chunked(std::span<const std::uint8_t> message, Bytes* out, size_t max_chunk_bytes) {
  VESTA_CHECK(max_chunk_bytes >= 1 && max_chunk_bytes <= kMaxChunkBytes)
      << "chunk size " << max_chunk_bytes;
  for (size_t at = 0; at < message.size(); at += max_chunk_bytes) {
    const size_t size = std::min(max_chunk_bytes, message.size() - at);
    out->push_back(static_cast<std::uint8_t>(size >> 8));
    out->push_back(static_cast<std::uint8_t>(size));
    out->insert(out->end(), message.begin() + static_cast<std::ptrdiff_t>(at),
                message.begin() + static_cast<std::ptrdiff_t>(at + size));
  }
  out->push_back(0);
  out->push_back(0);
}

core::Status ChunkDecoder::feed(std::span<const std::uint8_t> bytes) {
  VESTA_CHECK(!failed_) << "ChunkDecoder fed after it failed";
  size_t at = 0;
  while (at < bytes.size()) {
    if (chunk_left_ > 0) {
      const size_t take = std::min(chunk_left_, bytes.size() - at);
      partial_.insert(partial_.end(), bytes.begin() + static_cast<std::ptrdiff_t>(at),
                      bytes.begin() + static_cast<std::ptrdiff_t>(at + take));
      at += take;
      chunk_left_ -= take;
      continue;
    }
    header_[header_bytes_++] = bytes[at++];
    if (header_bytes_ < 2) continue;
    header_bytes_ = 0;
    const size_t size = (static_cast<size_t>(header_[0]) << 8) | header_[1];
    if (size == 0) {
      if (in_message_) {
        complete_.push_back(std::move(partial_));
        partial_.clear();
        in_message_ = false;
      } else {
        ++noop_chunks_;
      }
      continue;
    }
    if (partial_.size() + size > max_message_bytes_) {
      failed_ = true;
      return core::invalid_argument("Bolt: a message of more than " +
                                    std::to_string(max_message_bytes_) +
                                    " bytes (the limit) is coming in");
    }
    in_message_ = true;
    chunk_left_ = size;
  }
  return core::Status::ok();
}

std::optional<Bytes> ChunkDecoder::next_message() {
  if (complete_.empty()) return std::nullopt;
  Bytes message = std::move(complete_.front());
  complete_.pop_front();
  return message;
}

}  // namespace vesta::bolt
