#include "index/write_journal.h"

namespace vesta::index {

void PayloadUpdate::apply(nlohmann::json& stored) const {
  switch (kind) {
    case Kind::kSet:
      for (const auto& [key, value] : payload.items()) stored[key] = value;
      break;
    case Kind::kOverwrite: stored = payload; break;
    case Kind::kDeleteKeys:
      for (const std::string& key : keys) stored.erase(key);
      break;
    case Kind::kClear: stored = nlohmann::json::object(); break;
  }
}

}  // namespace vesta::index
