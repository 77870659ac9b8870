#pragma once

#include <string>
#include <variant>

namespace vesta::index {

// The alias actions of Qdrant's POST /collections/aliases, applied in order
// and all or nothing by CollectionRegistry::update_aliases. Field names are
// Qdrant's, so errors can name them.
struct CreateAlias {
  std::string collection_name;
  std::string alias_name;
};
struct DeleteAlias {
  std::string alias_name;
};
struct RenameAlias {
  std::string old_alias_name;
  std::string new_alias_name;
};
using AliasAction = std::variant<CreateAlias, DeleteAlias, RenameAlias>;

// One row of the alias table: `alias_name` resolves to `collection_name`.
struct Alias {
  std::string alias_name;
  std::string collection_name;

  bool operator==(const Alias&) const = default;
};

}  // namespace vesta::index
