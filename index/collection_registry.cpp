#include "index/collection_registry.h"

#include <algorithm>

namespace vesta::index {

core::Status CollectionRegistry::validate_name(const std::string& name) {
  if (name.empty() || name.size() > 255) {
    return core::invalid_argument("collection name must be 1 to 255 bytes, got " +
                                  std::to_string(name.size()));
  }
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.';
    if (!ok) {
      return core::invalid_argument("collection name '" + name +
                                    "' may only contain letters, digits, '_', '-' and '.'");
    }
  }
  return core::Status::ok();
}

core::Status CollectionRegistry::create(CollectionConfig config) {
  VESTA_RETURN_IF_ERROR(validate_name(config.name));
  if (config.dim == 0 || config.dim > kMaxDim) {
    return core::invalid_argument("vectors.size must be from 1 to " + std::to_string(kMaxDim) +
                                  ", got " + std::to_string(config.dim));
  }
  std::lock_guard lock(mutex_);
  if (collections_.contains(config.name)) {
    return {core::StatusCode::kAlreadyExists, "collection '" + config.name + "' already exists"};
  }
  const std::string name = config.name;
  collections_.emplace(name, std::make_shared<Collection>(std::move(config), locks_, searcher_));
  return core::Status::ok();
}

core::Result<std::shared_ptr<Collection>> CollectionRegistry::get(const std::string& name) const {
  std::lock_guard lock(mutex_);
  auto it = collections_.find(name);
  if (it == collections_.end()) return core::not_found("collection '" + name + "' does not exist");
  return it->second;
}

bool CollectionRegistry::drop(const std::string& name) {
  std::lock_guard lock(mutex_);
  return collections_.erase(name) > 0;
}

bool CollectionRegistry::exists(const std::string& name) const {
  std::lock_guard lock(mutex_);
  return collections_.contains(name);
}

std::vector<std::string> CollectionRegistry::names() const {
  std::vector<std::string> out;
  {
    std::lock_guard lock(mutex_);
    out.reserve(collections_.size());
    for (const auto& [name, collection] : collections_) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace vesta::index
