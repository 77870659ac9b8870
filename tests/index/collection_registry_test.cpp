#include "index/collection_registry.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <ostream>
#include <thread>
#include <vector>

#include "core/thread_pool.h"
#include "index/cpu_searcher.h"

namespace vesta::index {

// For readable failure messages (GoogleTest prints with operator<<).
std::ostream& operator<<(std::ostream& os, const Alias& alias) {
  return os << "{" << alias.alias_name << " -> " << alias.collection_name << "}";
}

namespace {

class CollectionRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(registry_.create({"v1", 2, Metric::kDot}).is_ok());
    ASSERT_TRUE(registry_.create({"v2", 2, Metric::kDot}).is_ok());
  }
  // The collection `name` resolves to, by its configured name.
  std::string resolved(const std::string& name) const {
    auto collection = registry_.get(name);
    return collection.is_ok() ? collection.value()->config().name : "<" + name + " unresolved>";
  }
  // Asserts the code and that the message mentions `words`.
  static void expect_error(const core::Status& status, core::StatusCode code,
                           const std::string& words) {
    EXPECT_EQ(status.code(), code) << status.to_string();
    EXPECT_NE(status.message().find(words), std::string::npos)
        << "'" << status.message() << "' lacks '" << words << "'";
  }

  core::ThreadPool pool_{2};
  core::LockManager locks_;
  CpuSearcher searcher_{pool_};
  CollectionRegistry registry_{locks_, searcher_};
};

TEST_F(CollectionRegistryTest, CreateResolveRenameDeleteAlias) {
  ASSERT_TRUE(registry_.update_aliases({CreateAlias{"v1", "live"}}).is_ok());
  EXPECT_EQ(resolved("live"), "v1");
  EXPECT_TRUE(registry_.exists("live"));
  EXPECT_EQ(registry_.names(), (std::vector<std::string>{"v1", "v2"}));  // aliases are not listed
  EXPECT_EQ(registry_.aliases(), (std::vector<Alias>{{"live", "v1"}}));

  ASSERT_TRUE(registry_.update_aliases({RenameAlias{"live", "prod"}}).is_ok());
  EXPECT_FALSE(registry_.exists("live"));
  EXPECT_EQ(resolved("prod"), "v1");

  ASSERT_TRUE(registry_.update_aliases({CreateAlias{"v1", "a"}, CreateAlias{"v2", "b"}}).is_ok());
  EXPECT_EQ(registry_.aliases_of("v1").value(), (std::vector<Alias>{{"a", "v1"}, {"prod", "v1"}}));
  EXPECT_EQ(registry_.aliases_of("prod").value(),  // an alias resolves to its collection
            (std::vector<Alias>{{"a", "v1"}, {"prod", "v1"}}));
  EXPECT_EQ(registry_.aliases_of("v2").value(), (std::vector<Alias>{{"b", "v2"}}));
  expect_error(registry_.aliases_of("none").status(), core::StatusCode::kNotFound,
               "collection 'none' does not exist");

  ASSERT_TRUE(registry_.update_aliases({DeleteAlias{"prod"}, DeleteAlias{"a"}}).is_ok());
  EXPECT_EQ(registry_.aliases(), (std::vector<Alias>{{"b", "v2"}}));
  expect_error(registry_.get("prod").status(), core::StatusCode::kNotFound, "does not exist");
}

TEST_F(CollectionRegistryTest, SwapInOneCallAndCreateOverAnAliasRepointsIt) {
  ASSERT_TRUE(registry_.update_aliases({CreateAlias{"v1", "live"}}).is_ok());
  ASSERT_TRUE(registry_.update_aliases({DeleteAlias{"live"}, CreateAlias{"v2", "live"}}).is_ok());
  EXPECT_EQ(resolved("live"), "v2");
  ASSERT_TRUE(registry_.update_aliases({CreateAlias{"v1", "live"}}).is_ok());  // as Qdrant
  EXPECT_EQ(resolved("live"), "v1");
  ASSERT_TRUE(registry_.update_aliases({CreateAlias{"v2", "other"}}).is_ok());
  ASSERT_TRUE(registry_.update_aliases({RenameAlias{"other", "live"}}).is_ok());
  EXPECT_EQ(registry_.aliases(), (std::vector<Alias>{{"live", "v2"}}));
  ASSERT_TRUE(registry_.update_aliases({RenameAlias{"live", "live"}}).is_ok());
  EXPECT_EQ(registry_.aliases(), (std::vector<Alias>{{"live", "v2"}}));
  ASSERT_TRUE(registry_.update_aliases({}).is_ok());
  EXPECT_EQ(registry_.aliases(), (std::vector<Alias>{{"live", "v2"}}));
}

TEST_F(CollectionRegistryTest, AFailingActionLeavesTheTableUnchanged) {
  ASSERT_TRUE(registry_.update_aliases({CreateAlias{"v1", "live"}}).is_ok());
  const std::vector<Alias> before = registry_.aliases();
  // The first two actions would succeed alone; the third fails, so none applies.
  expect_error(registry_.update_aliases(
                   {DeleteAlias{"live"}, CreateAlias{"v2", "new"}, CreateAlias{"missing", "x"}}),
               core::StatusCode::kNotFound,
               "actions[2].create_alias.collection_name: collection 'missing' does not exist");
  EXPECT_EQ(registry_.aliases(), before);
  EXPECT_EQ(resolved("live"), "v1");
  EXPECT_FALSE(registry_.exists("new"));
  // Later actions see the earlier ones: the alias deleted in action 0 is gone
  // for action 1.
  expect_error(registry_.update_aliases({DeleteAlias{"live"}, RenameAlias{"live", "x"}}),
               core::StatusCode::kNotFound,
               "actions[1].rename_alias.old_alias_name: alias 'live' does not exist");
  EXPECT_EQ(registry_.aliases(), before);
}

TEST_F(CollectionRegistryTest, ErrorsNameTheActionField) {
  expect_error(registry_.update_aliases({DeleteAlias{"nope"}}), core::StatusCode::kNotFound,
               "actions[0].delete_alias.alias_name: alias 'nope' does not exist");
  expect_error(registry_.update_aliases({RenameAlias{"nope", "x"}}), core::StatusCode::kNotFound,
               "actions[0].rename_alias.old_alias_name");
  expect_error(registry_.update_aliases({CreateAlias{"v1", "bad name"}}),
               core::StatusCode::kInvalidArgument,
               "actions[0].create_alias.alias_name: alias name 'bad name' may only contain");
  expect_error(registry_.update_aliases({CreateAlias{"v1", ""}}),
               core::StatusCode::kInvalidArgument, "alias name must be 1 to 255 bytes");
  ASSERT_TRUE(registry_.update_aliases({CreateAlias{"v1", "live"}}).is_ok());
  expect_error(registry_.update_aliases({RenameAlias{"live", std::string(256, 'a')}}),
               core::StatusCode::kInvalidArgument, "actions[0].rename_alias.new_alias_name");
  // An alias of an alias is not accepted: aliases name collections.
  expect_error(registry_.update_aliases({CreateAlias{"live", "second"}}),
               core::StatusCode::kNotFound, "collection 'live' does not exist");
}

TEST_F(CollectionRegistryTest, AliasesAndCollectionsShareOneNamespace) {
  expect_error(registry_.update_aliases({CreateAlias{"v1", "v2"}}),
               core::StatusCode::kAlreadyExists,
               "actions[0].create_alias.alias_name: 'v2' is a collection's name");
  ASSERT_TRUE(registry_.update_aliases({CreateAlias{"v1", "live"}}).is_ok());
  expect_error(registry_.update_aliases({RenameAlias{"live", "v2"}}),
               core::StatusCode::kAlreadyExists, "actions[0].rename_alias.new_alias_name");
  expect_error(registry_.create({"live", 2, Metric::kDot}), core::StatusCode::kAlreadyExists,
               "'live' already exists as an alias of collection 'v1'");
  EXPECT_EQ(resolved("live"), "v1");
}

TEST_F(CollectionRegistryTest, DropRemovesTheCollectionsAliasesAndNeverResolvesAnAlias) {
  ASSERT_TRUE(
      registry_
          .update_aliases({CreateAlias{"v1", "a"}, CreateAlias{"v1", "b"}, CreateAlias{"v2", "c"}})
          .is_ok());
  EXPECT_FALSE(registry_.drop("a").value());  // an alias: nothing dropped
  EXPECT_EQ(resolved("a"), "v1");
  EXPECT_TRUE(registry_.drop("v1").value());
  EXPECT_EQ(registry_.aliases(), (std::vector<Alias>{{"c", "v2"}}));
  EXPECT_FALSE(registry_.exists("a"));
  // The names are free again, for a collection or an alias.
  ASSERT_TRUE(registry_.create({"a", 2, Metric::kDot}).is_ok());
  ASSERT_TRUE(registry_.update_aliases({CreateAlias{"v2", "b"}}).is_ok());
  EXPECT_EQ(resolved("b"), "v2");
}

// Readers resolving "live" while a writer swaps it between v1 and v2: every
// lookup succeeds and sees one of the two, never a gap between delete and
// create.
TEST_F(CollectionRegistryTest, SwapIsAtomicForConcurrentLookups) {
  ASSERT_TRUE(registry_.update_aliases({CreateAlias{"v1", "live"}}).is_ok());
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::atomic<int> seen_v1{0};
  std::atomic<int> seen_v2{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&] {
      while (!stop.load()) {
        auto collection = registry_.get("live");
        if (!collection.is_ok()) {
          ++failures;
        } else if (collection.value()->config().name == "v1") {
          ++seen_v1;
        } else {
          ++seen_v2;
        }
      }
    });
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  int swaps = 0;
  while (swaps < 200 ||
         ((seen_v1 == 0 || seen_v2 == 0) && std::chrono::steady_clock::now() < deadline)) {
    const std::string target = swaps % 2 == 0 ? "v2" : "v1";
    ASSERT_TRUE(
        registry_.update_aliases({DeleteAlias{"live"}, CreateAlias{target, "live"}}).is_ok());
    ++swaps;
  }
  stop = true;
  for (std::thread& reader : readers) reader.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(seen_v1.load(), 0);
  EXPECT_GT(seen_v2.load(), 0);
}

}  // namespace
}  // namespace vesta::index
