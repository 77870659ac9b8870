#include "importer/import_splitter.h"

#include <algorithm>
#include <charconv>
#include <cstring>

namespace vesta::importer {
namespace {

// As the server reads NDJSON (server/import_jobs.cpp): a line of only
// spaces, tabs and '\r' is no point.
bool blank(std::string_view line) {
  return std::all_of(line.begin(), line.end(),
                     [](char c) { return c == ' ' || c == '\t' || c == '\r'; });
}

std::string limit_text(uint64_t max_body_bytes) {
  return "--max-import-bytes " + std::to_string(max_body_bytes);
}

}  // namespace

core::Result<ImportSplitter> ImportSplitter::split(Format format, std::string_view file,
                                                   uint64_t max_body_bytes) {
  ImportSplitter splitter(format, file);
  VESTA_RETURN_IF_ERROR(format == Format::kNdjson ? splitter.split_ndjson(max_body_bytes)
                                                  : splitter.split_binary(max_body_bytes));
  return splitter;
}

core::Status ImportSplitter::split_ndjson(uint64_t max_body_bytes) {
  ImportPart part;
  part.first = 1;
  auto flush = [&] {
    // A part of blank lines only would be a job of no points.
    if (part.points > 0) {
      part.body_bytes = part.bytes;
      parts_.push_back(part);
    }
  };
  uint64_t line = 1;
  size_t pos = 0;
  while (pos < file_.size()) {
    const size_t stop = file_.find('\n', pos);
    const size_t text_end = stop == std::string_view::npos ? file_.size() : stop;
    const size_t end = stop == std::string_view::npos ? file_.size() : stop + 1;
    const uint64_t bytes = end - pos;
    if (bytes > max_body_bytes) {
      return core::invalid_argument(
          "line " + std::to_string(line) + " is " + std::to_string(bytes) +
          " bytes, more than one import request may carry (" + limit_text(max_body_bytes) + ")");
    }
    if (part.bytes + bytes > max_body_bytes) {
      flush();
      part = ImportPart();
      part.first = line;
      part.offset = pos;
    }
    ++part.count;
    part.bytes += bytes;
    if (!blank(file_.substr(pos, text_end - pos))) ++part.points;
    pos = end;
    ++line;
  }
  flush();
  return core::Status::ok();
}

core::Status ImportSplitter::split_binary(uint64_t max_body_bytes) {
  core::Result<server::BinaryImportHeader> header = server::read_binary_import_header(file_);
  if (!header.is_ok()) return header.status();
  header_ = header.value();
  const server::BinaryImportHeader& h = header_;
  if (h.rows == 0) return core::Status::ok();
  if (file_.size() <= max_body_bytes) {
    ImportPart whole;
    whole.count = h.rows;
    whole.points = h.rows;
    whole.bytes = h.payload_bytes;
    whole.body_bytes = file_.size();
    parts_.push_back(whole);
    return core::Status::ok();
  }
  const uint64_t fixed_bytes = server::BinaryImportHeader::kBytes + (h.payloads ? 8 : 0);
  const uint64_t row_bytes = 8 + uint64_t{h.dim} * h.value_bytes();
  const std::string_view section =
      h.payloads ? file_.substr(h.payloads_offset, h.payload_bytes) : std::string_view();
  ImportPart part;
  part.body_bytes = fixed_bytes;
  size_t pos = 0;  // the next row's payload line in `section`
  for (uint64_t row = 0; row < h.rows; ++row) {
    uint64_t line_bytes = 0;  // its line and '\n' in the part's payload NDJSON
    size_t next = pos;
    if (h.payloads) {
      if (pos < section.size()) {
        size_t stop = section.find('\n', pos);
        if (stop == std::string_view::npos) stop = section.size();
        line_bytes = stop - pos + 1;
        next = stop + 1;
      } else {
        line_bytes = 1;  // a row past the last line has no payload: a blank line
      }
    }
    const uint64_t need = row_bytes + line_bytes;
    if (fixed_bytes + need > max_body_bytes) {
      return core::invalid_argument(
          "row " + std::to_string(row) + " takes " + std::to_string(need) +
          " bytes with its payload; with the header that is more than one import request may "
          "carry (" +
          limit_text(max_body_bytes) + ")");
    }
    if (part.count > 0 && part.body_bytes + need > max_body_bytes) {
      parts_.push_back(part);
      part = ImportPart();
      part.first = row;
      part.offset = std::min<uint64_t>(pos, section.size());
      part.body_bytes = fixed_bytes;
    }
    ++part.count;
    ++part.points;
    part.bytes += line_bytes;
    part.body_bytes += need;
    pos = next;
  }
  parts_.push_back(part);
  return core::Status::ok();
}

uint64_t ImportSplitter::points() const {
  uint64_t total = 0;
  for (const ImportPart& part : parts_) total += part.points;
  return total;
}

std::string ImportSplitter::body(size_t index) const {
  const ImportPart& part = parts_.at(index);
  if (format_ == Format::kNdjson) return std::string(file_.substr(part.offset, part.bytes));
  if (parts_.size() == 1) return std::string(file_);
  const server::BinaryImportHeader& h = header_;
  server::BinaryImportHeader part_header = h;
  part_header.rows = part.count;
  std::string out = server::encode_binary_import_header(part_header);
  out.reserve(part.body_bytes);
  const uint64_t values_per_row = uint64_t{h.dim} * h.value_bytes();
  out.append(file_.substr(h.ids_offset + part.first * 8, part.count * 8));
  out.append(
      file_.substr(h.values_offset + part.first * values_per_row, part.count * values_per_row));
  if (h.payloads) {
    char count[8];
    const uint64_t bytes = part.bytes;
    std::memcpy(count, &bytes, sizeof(count));  // little-endian hosts
    out.append(count, sizeof(count));
    // The rows' lines are contiguous in the file's payload NDJSON; where it
    // ends early (a last line without '\n', rows without a line) the part
    // gets the missing '\n's.
    const std::string_view section = file_.substr(h.payloads_offset, h.payload_bytes);
    const uint64_t start = std::min<uint64_t>(part.offset, section.size());
    const uint64_t present = std::min<uint64_t>(part.bytes, section.size() - start);
    out.append(section.substr(start, present));
    out.append(part.bytes - present, '\n');
  }
  return out;
}

uint64_t ImportSplitter::file_position(size_t index, uint64_t position_in_part) const {
  const ImportPart& part = parts_.at(index);
  if (format_ == Format::kNdjson) return part.first + position_in_part - 1;
  return part.first + position_in_part;
}

std::string ImportSplitter::in_file_terms(size_t index, std::string_view message) const {
  const std::string_view word = format_ == Format::kNdjson ? "line " : "row ";
  if (!message.starts_with(word)) return std::string(message);
  const char* digits = message.data() + word.size();
  const char* end = message.data() + message.size();
  uint64_t position = 0;
  const auto [past, error] = std::from_chars(digits, end, position);
  if (error != std::errc() || past == digits) return std::string(message);
  return std::string(word) + std::to_string(file_position(index, position)) +
         std::string(past, end);
}

}  // namespace vesta::importer
