#include "index/collection_registry.h"

#include <algorithm>
#include <type_traits>

namespace vesta::index {

core::Status CollectionRegistry::validate_name(const std::string& name, std::string_view what) {
  if (name.empty() || name.size() > 255) {
    return core::invalid_argument(std::string(what) + " must be 1 to 255 bytes, got " +
                                  std::to_string(name.size()));
  }
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.';
    if (!ok) {
      return core::invalid_argument(std::string(what) + " '" + name +
                                    "' may only contain letters, digits, '_', '-' and '.'");
    }
  }
  return core::Status::ok();
}

core::Status CollectionRegistry::create(CollectionConfig config) {
  VESTA_RETURN_IF_ERROR(validate_name(config.name));
  if (!config.vector_name.empty()) {
    VESTA_RETURN_IF_ERROR(validate_name(config.vector_name, "the vector's name"));
  }
  if (config.dim == 0 || config.dim > kMaxDim) {
    return core::invalid_argument("vectors.size must be from 1 to " + std::to_string(kMaxDim) +
                                  ", got " + std::to_string(config.dim));
  }
  // Only writers change the tables, one at a time (writer_mutex_), so this
  // writer reads them without mutex_ and takes it only to change them.
  std::lock_guard writer(writer_mutex_);
  if (collections_.contains(config.name)) {
    return {core::StatusCode::kAlreadyExists, "collection '" + config.name + "' already exists"};
  }
  if (auto alias = aliases_.find(config.name); alias != aliases_.end()) {
    return {
        core::StatusCode::kAlreadyExists,
        "'" + config.name + "' already exists as an alias of collection '" + alias->second + "'"};
  }
  config.incarnation = next_incarnation_;
  if (journal_ != nullptr) {
    Catalog next = catalog_locked();
    next.collections.push_back(config);
    next.next_incarnation = next_incarnation_ + 1;
    VESTA_RETURN_IF_ERROR(journal_->save_catalog(sorted(std::move(next))));
  }
  auto collection = std::make_shared<Collection>(config, locks_, searcher_, batching_, journal_);
  std::lock_guard lock(mutex_);
  ++next_incarnation_;
  collections_.emplace(config.name, std::move(collection));
  return core::Status::ok();
}

core::Result<std::shared_ptr<Collection>> CollectionRegistry::get(const std::string& name) const {
  std::lock_guard lock(mutex_);
  auto it = collections_.find(name);
  if (it == collections_.end()) {
    auto alias = aliases_.find(name);
    if (alias == aliases_.end()) return core::not_found("collection '" + name + "' does not exist");
    it = collections_.find(alias->second);
    VESTA_CHECK(it != collections_.end())
        << "alias '" << name << "' names the missing collection '" << alias->second << "'";
  }
  return it->second;
}

core::Result<bool> CollectionRegistry::drop(const std::string& name) {
  std::lock_guard writer(writer_mutex_);
  if (!collections_.contains(name)) return false;
  if (journal_ != nullptr) {
    Catalog next = catalog_locked();
    std::erase_if(next.collections, [&](const CollectionConfig& c) { return c.name == name; });
    std::erase_if(next.aliases, [&](const Alias& a) { return a.collection_name == name; });
    VESTA_RETURN_IF_ERROR(journal_->save_catalog(next));
  }
  std::lock_guard lock(mutex_);
  collections_.erase(name);
  std::erase_if(aliases_, [&name](const auto& alias) { return alias.second == name; });
  return true;
}

core::Status CollectionRegistry::restore(const Catalog& catalog) {
  std::lock_guard writer(writer_mutex_);
  std::lock_guard lock(mutex_);
  VESTA_CHECK(collections_.empty() && aliases_.empty()) << "restore into a used registry";
  for (const CollectionConfig& config : catalog.collections) {
    VESTA_RETURN_IF_ERROR(validate_name(config.name));
    if (config.dim == 0 || config.dim > kMaxDim || config.incarnation == 0 ||
        config.incarnation >= catalog.next_incarnation) {
      return core::invalid_argument("catalog: collection '" + config.name + "' has size " +
                                    std::to_string(config.dim) + " and incarnation " +
                                    std::to_string(config.incarnation));
    }
    collections_.emplace(
        config.name, std::make_shared<Collection>(config, locks_, searcher_, batching_, journal_));
  }
  for (const Alias& alias : catalog.aliases) {
    if (!collections_.contains(alias.collection_name)) {
      return core::invalid_argument("catalog: alias '" + alias.alias_name +
                                    "' names the missing collection '" + alias.collection_name +
                                    "'");
    }
    aliases_[alias.alias_name] = alias.collection_name;
  }
  next_incarnation_ = catalog.next_incarnation;
  return core::Status::ok();
}

core::Status CollectionRegistry::sync(const Catalog& catalog,
                                      const std::function<bool()>& still_needed) {
  std::lock_guard writer(writer_mutex_);
  if (!still_needed()) return core::Status::ok();
  std::unordered_map<std::string, std::shared_ptr<Collection>> next;
  for (const CollectionConfig& config : catalog.collections) {
    VESTA_RETURN_IF_ERROR(validate_name(config.name));
    if (config.dim == 0 || config.dim > kMaxDim || config.incarnation == 0) {
      return core::invalid_argument("catalog: collection '" + config.name + "' has size " +
                                    std::to_string(config.dim) + " and incarnation " +
                                    std::to_string(config.incarnation));
    }
    auto it = collections_.find(config.name);
    if (it != collections_.end() && it->second->config().incarnation == config.incarnation) {
      next.emplace(config.name, it->second);
    } else {
      next.emplace(config.name,
                   std::make_shared<Collection>(config, locks_, searcher_, batching_, journal_));
    }
  }
  AliasTable aliases;
  for (const Alias& alias : catalog.aliases) {
    if (!next.contains(alias.collection_name)) {
      return core::invalid_argument("catalog: alias '" + alias.alias_name +
                                    "' names the missing collection '" + alias.collection_name +
                                    "'");
    }
    aliases[alias.alias_name] = alias.collection_name;
  }
  std::lock_guard lock(mutex_);
  collections_ = std::move(next);
  aliases_ = std::move(aliases);
  next_incarnation_ = std::max(next_incarnation_, catalog.next_incarnation);
  return core::Status::ok();
}

Catalog CollectionRegistry::catalog() const {
  std::lock_guard lock(mutex_);
  return catalog_locked();
}

Catalog CollectionRegistry::catalog_locked() const {
  Catalog out;
  for (const auto& [name, collection] : collections_)
    out.collections.push_back(collection->config());
  for (const auto& [alias, collection] : aliases_) out.aliases.push_back({alias, collection});
  out.next_incarnation = next_incarnation_;
  return sorted(std::move(out));
}

Catalog CollectionRegistry::sorted(Catalog catalog) {
  std::sort(catalog.collections.begin(), catalog.collections.end(),
            [](const CollectionConfig& a, const CollectionConfig& b) { return a.name < b.name; });
  catalog.aliases = sorted(std::move(catalog.aliases));
  return catalog;
}

bool CollectionRegistry::exists(const std::string& name) const {
  std::lock_guard lock(mutex_);
  return collections_.contains(name) || aliases_.contains(name);
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

core::Status CollectionRegistry::apply_alias_action(const AliasAction& action,
                                                    const std::string& where,
                                                    AliasTable& table) const {
  // A new alias name: valid, and no collection's name.
  auto check_new_name = [&](const std::string& name, const std::string& field) -> core::Status {
    VESTA_RETURN_IF_ERROR(validate_name(name, field + ": alias name"));
    if (collections_.contains(name)) {
      return {core::StatusCode::kAlreadyExists,
              field + ": '" + name + "' is a collection's name; an alias may not shadow it"};
    }
    return core::Status::ok();
  };
  auto check_alias_exists = [&](const std::string& name, const std::string& field) {
    if (table.contains(name)) return core::Status::ok();
    return core::not_found(field + ": alias '" + name + "' does not exist");
  };
  return std::visit(
      [&](const auto& a) -> core::Status {
        using Action = std::decay_t<decltype(a)>;
        if constexpr (std::is_same_v<Action, CreateAlias>) {
          const std::string field = where + ".create_alias.";
          VESTA_RETURN_IF_ERROR(check_new_name(a.alias_name, field + "alias_name"));
          if (!collections_.contains(a.collection_name)) {
            return core::not_found(field + "collection_name: collection '" + a.collection_name +
                                   "' does not exist");
          }
          table[a.alias_name] = a.collection_name;
        } else if constexpr (std::is_same_v<Action, DeleteAlias>) {
          VESTA_RETURN_IF_ERROR(
              check_alias_exists(a.alias_name, where + ".delete_alias.alias_name"));
          table.erase(a.alias_name);
        } else {
          const std::string field = where + ".rename_alias.";
          VESTA_RETURN_IF_ERROR(check_alias_exists(a.old_alias_name, field + "old_alias_name"));
          VESTA_RETURN_IF_ERROR(check_new_name(a.new_alias_name, field + "new_alias_name"));
          std::string collection = table.at(a.old_alias_name);
          table.erase(a.old_alias_name);
          table[a.new_alias_name] = std::move(collection);
        }
        return core::Status::ok();
      },
      action);
}

core::Status CollectionRegistry::update_aliases(const std::vector<AliasAction>& actions) {
  std::lock_guard writer(writer_mutex_);
  AliasTable next = aliases_;
  for (size_t i = 0; i < actions.size(); ++i) {
    VESTA_RETURN_IF_ERROR(
        apply_alias_action(actions[i], "actions[" + std::to_string(i) + "]", next));
  }
  if (journal_ != nullptr) {
    Catalog catalog = catalog_locked();
    catalog.aliases.clear();
    for (const auto& [alias, collection] : next) catalog.aliases.push_back({alias, collection});
    VESTA_RETURN_IF_ERROR(journal_->save_catalog(sorted(std::move(catalog))));
  }
  std::lock_guard lock(mutex_);
  aliases_ = std::move(next);
  return core::Status::ok();
}

std::vector<Alias> CollectionRegistry::sorted(std::vector<Alias> aliases) {
  std::sort(aliases.begin(), aliases.end(),
            [](const Alias& a, const Alias& b) { return a.alias_name < b.alias_name; });
  return aliases;
}

std::vector<Alias> CollectionRegistry::aliases() const {
  std::vector<Alias> out;
  {
    std::lock_guard lock(mutex_);
    out.reserve(aliases_.size());
    for (const auto& [alias, collection] : aliases_) out.push_back({alias, collection});
  }
  return sorted(std::move(out));
}

core::Result<std::vector<Alias>> CollectionRegistry::aliases_of(const std::string& name) const {
  std::vector<Alias> out;
  {
    std::lock_guard lock(mutex_);
    std::string collection = name;
    if (!collections_.contains(name)) {
      auto alias = aliases_.find(name);
      if (alias == aliases_.end()) {
        return core::not_found("collection '" + name + "' does not exist");
      }
      collection = alias->second;
    }
    for (const auto& [alias, target] : aliases_) {
      if (target == collection) out.push_back({alias, target});
    }
  }
  return sorted(std::move(out));
}

}  // namespace vesta::index
