#include "persistence/bolt/value.h"

#include <algorithm>
#include <cstdio>

namespace vesta::bolt {

Dictionary::Dictionary(std::initializer_list<DictionaryEntry> entries) {
  for (const DictionaryEntry& entry : entries) set(entry.key, entry.value);
}

void Dictionary::set(std::string key, Value value) {
  for (DictionaryEntry& entry : entries_) {
    if (entry.key == key) {
      entry.value = std::move(value);
      return;
    }
  }
  entries_.push_back(DictionaryEntry{std::move(key), std::move(value)});
}

const Value* Dictionary::find(std::string_view key) const {
  for (const DictionaryEntry& entry : entries_) {
    if (entry.key == key) return &entry.value;
  }
  return nullptr;
}

size_t Dictionary::size() const { return entries_.size(); }
bool Dictionary::empty() const { return entries_.empty(); }
std::vector<DictionaryEntry>::const_iterator Dictionary::begin() const { return entries_.begin(); }
std::vector<DictionaryEntry>::const_iterator Dictionary::end() const { return entries_.end(); }

bool operator==(const Dictionary& a, const Dictionary& b) {
  if (a.size() != b.size()) return false;
  return std::all_of(a.begin(), a.end(), [&b](const DictionaryEntry& entry) {
    const Value* other = b.find(entry.key);
    return other != nullptr && *other == entry.value;
  });
}

bool operator==(const Structure& a, const Structure& b) {
  return a.tag == b.tag && a.fields == b.fields;
}

std::string_view Value::type_name() const {
  static constexpr std::string_view kNames[] = {
      "Null", "Boolean", "Integer", "Float", "Bytes", "String", "List", "Dictionary", "Structure"};
  return kNames[data_.index()];
}

namespace {

void append_quoted(std::string* out, const std::string& text) {
  out->push_back('"');
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(c));
      out->append(escaped);
    } else {
      out->push_back(c);
    }
  }
  out->push_back('"');
}

void append(std::string* out, const Value& value) {
  struct Visitor {
    std::string* out;
    void operator()(std::nullptr_t) const { out->append("null"); }
    void operator()(bool b) const { out->append(b ? "true" : "false"); }
    void operator()(std::int64_t i) const { out->append(std::to_string(i)); }
    void operator()(double d) const {
      char text[32];
      std::snprintf(text, sizeof text, "%.17g", d);
      out->append(text);
    }
    void operator()(const Bytes& bytes) const {
      out->push_back('#');
      for (std::uint8_t b : bytes) {
        char hex[3];
        std::snprintf(hex, sizeof hex, "%02x", b);
        out->append(hex);
      }
    }
    void operator()(const std::string& s) const { append_quoted(out, s); }
    void operator()(const List& list) const {
      out->push_back('[');
      for (size_t i = 0; i < list.size(); ++i) {
        if (i > 0) out->append(", ");
        append(out, list[i]);
      }
      out->push_back(']');
    }
    void operator()(const Dictionary& dictionary) const {
      out->push_back('{');
      bool first = true;
      for (const DictionaryEntry& entry : dictionary) {
        if (!first) out->append(", ");
        first = false;
        out->append(entry.key);
        out->append(": ");
        append(out, entry.value);
      }
      out->push_back('}');
    }
    void operator()(const Structure& structure) const {
      char tag[24];
      std::snprintf(tag, sizeof tag, "Structure<0x%02X>", structure.tag);
      out->append(tag);
      (*this)(structure.fields);
    }
  };
  std::visit(Visitor{out}, value.variant());
}

}  // namespace

std::string Value::to_string() const {
  std::string out;
  append(&out, *this);
  return out;
}

}  // namespace vesta::bolt
