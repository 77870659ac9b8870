#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/lock_manager.h"
#include "core/status.h"
#include "index/alias_action.h"
#include "index/collection.h"
#include "index/searcher.h"
#include "index/write_journal.h"

namespace vesta::index {

// The named collections of one process and their aliases. Hands out
// shared_ptr<Collection> so that a collection dropped while a request still
// uses it lives until that request ends.
//
// Aliases (as Qdrant has them): another name for a collection. get() and
// exists() resolve an alias to its collection; create() and drop() take
// collection names only. One namespace: no alias has a collection's name.
// Every alias names an existing collection: drop() removes the collection's
// aliases with it.
//
// Thread-safe: one mutex guards both tables, held only to look up or change
// them, never while a collection lock is taken. A lookup sees the alias table
// before or after an update_aliases() call, never partway (so an alias swap,
// delete + create in one call, is atomic for concurrent queries).
class CollectionRegistry {
 public:
  // `journal` (optional, borrowed) makes every change of the catalog and
  // every write of the collections durable before it takes effect.
  CollectionRegistry(core::LockManager& locks, Searcher& searcher, BatchingOptions batching = {},
                     WriteJournal* journal = nullptr)
      : locks_(locks), searcher_(searcher), batching_(batching), journal_(journal) {}

  // AlreadyExists when the name is taken by a collection or an alias;
  // InvalidArgument for a bad name or size.
  core::Status create(CollectionConfig config);
  // The collection called `name`, or the one the alias `name` points to.
  // NotFound when neither exists.
  core::Result<std::shared_ptr<Collection>> get(const std::string& name) const;
  // True when a collection was dropped, with its aliases. An alias name is
  // not resolved (false): dropping data through an alias is too easy a slip.
  // An error only when the journal could not record the drop.
  core::Result<bool> drop(const std::string& name);
  // True for a collection or an alias.
  bool exists(const std::string& name) const;
  // Collection names (not aliases), sorted.
  std::vector<std::string> names() const;

  // Applies `actions` in order, all or nothing: each is checked against the
  // table as the actions before it left it (so delete + create of one alias
  // swaps it), and the first failure leaves the table unchanged. Errors name
  // the action's field, e.g. "actions[1].create_alias.collection_name":
  //  - InvalidArgument: an alias name that is not a valid name;
  //  - NotFound: create_alias of a collection that does not exist (an alias
  //    is not accepted there), delete_alias or rename_alias of an alias
  //    that does not exist;
  //  - AlreadyExists: an alias name that is a collection's name.
  // As in Qdrant, create_alias or rename_alias onto an existing alias name
  // re-points that alias.
  core::Status update_aliases(const std::vector<AliasAction>& actions);
  // The collections, aliases and next incarnation, for the journal.
  Catalog catalog() const;
  // Recovery: recreates the (empty) collections and the aliases of a saved
  // catalog in this registry, which must be empty. Not journaled.
  core::Status restore(const Catalog& catalog);
  // For a journal shared by several processes: makes the tables match
  // `catalog`, as a process changed it: creates the collections it names
  // that are missing here or of another incarnation (empty: their points
  // follow in the log), drops the others, replaces the aliases and the next
  // incarnation. Not journaled. `still_needed` is asked first, under the
  // writer lock that every change of the tables holds (journal_->
  // save_catalog() included): false leaves the tables as they are.
  core::Status sync(const Catalog& catalog, const std::function<bool()>& still_needed);

  // Every alias, sorted by alias name.
  std::vector<Alias> aliases() const;
  // The aliases of collection `name` (itself resolved if an alias), sorted
  // by alias name. NotFound when neither exists.
  core::Result<std::vector<Alias>> aliases_of(const std::string& name) const;

  // Collection and alias names: 1..255 bytes of letters, digits, '_', '-'
  // and '.'. `what` names the kind of name in the message.
  static core::Status validate_name(const std::string& name,
                                    std::string_view what = "collection name");
  // The largest vector dimension a collection may have.
  static constexpr size_t kMaxDim = 65536;

 private:
  using AliasTable = std::unordered_map<std::string, std::string>;  // alias -> collection

  // Checks one action against `table` and applies it there; mutex_ held.
  core::Status apply_alias_action(const AliasAction& action, const std::string& where,
                                  AliasTable& table) const;
  static std::vector<Alias> sorted(std::vector<Alias> aliases);
  static Catalog sorted(Catalog catalog);
  // The catalog of the tables as they are; mutex_ or writer_mutex_ held.
  Catalog catalog_locked() const;

  core::LockManager& locks_;
  Searcher& searcher_;
  BatchingOptions batching_;  // for every collection created
  WriteJournal* journal_;     // optional
  // Lock order: writer_mutex_, then mutex_. Changes of the tables hold both;
  // writer_mutex_ is held across journal_->save_catalog() so that catalogs
  // are saved in the order of the changes, mutex_ only briefly, so lookups
  // never wait for the journal.
  std::mutex writer_mutex_;
  mutable std::mutex mutex_;  // guards collections_, aliases_, next_incarnation_
  std::unordered_map<std::string, std::shared_ptr<Collection>> collections_;
  AliasTable aliases_;
  uint64_t next_incarnation_ = 1;
};

}  // namespace vesta::index
