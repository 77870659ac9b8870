// `vesta alias`: its options and the swap's request (the command runs end to
// end against a real `vesta serve` in tests/compat/test_import_cli.py).

#include "admin/alias_command.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace vesta::admin {
namespace {

core::Result<AliasOptions> parse(std::vector<std::string_view> args) {
  return parse_alias_options(args);
}

void expect_error(const core::Result<AliasOptions>& r, const std::string& words) {
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find(words), std::string::npos) << r.status().message();
}

TEST(AliasOptions, SwapAndListTakeTheirFlags) {
  auto s = parse(
      {"swap", "docs_live", "--to", "docs_v2", "--url", "http://10.0.0.2:7000", "--api-key", "k"});
  ASSERT_TRUE(s.is_ok()) << s.status().to_string();
  EXPECT_EQ(s.value().action, AliasOptions::Action::kSwap);
  EXPECT_EQ(s.value().alias, "docs_live");
  EXPECT_EQ(s.value().collection, "docs_v2");
  EXPECT_EQ(s.value().url, "http://10.0.0.2:7000");
  EXPECT_EQ(s.value().api_key, "k");

  auto l = parse({"list"});
  ASSERT_TRUE(l.is_ok());
  EXPECT_EQ(l.value().action, AliasOptions::Action::kList);
  EXPECT_EQ(l.value().collection, "");
  EXPECT_EQ(l.value().url, "http://127.0.0.1:6333");
  EXPECT_EQ(parse({"list", "--collection", "docs"}).value().collection, "docs");
  EXPECT_TRUE(parse({"swap", "--help"}).value().help);
  EXPECT_TRUE(parse({"-h"}).value().help);
}

TEST(AliasOptions, UsageErrorsNameWhatIsWrong) {
  expect_error(parse({}), "give an action: swap or list");
  expect_error(parse({"rename"}), "unknown action 'rename' (known: swap, list)");
  expect_error(parse({"swap", "--to", "docs_v2"}), "give the ALIAS to swap");
  expect_error(parse({"swap", "a", "b", "--to", "c"}), "give one ALIAS, got 'a' and 'b'");
  expect_error(parse({"swap", "docs_live"}), "--to COLLECTION is required");
  expect_error(parse({"swap", "docs_live", "--to"}), "--to needs a value");
  expect_error(parse({"swap", "docs_live", "--collection", "x"}),
               "--collection applies to 'vesta alias list' only");
  expect_error(parse({"list", "--to", "x"}), "--to applies to 'vesta alias swap' only");
  expect_error(parse({"list", "docs"}), "'vesta alias list' takes no name");
  expect_error(parse({"swap", "a", "--to", "b", "--force"}), "unknown alias option '--force'");
}

TEST(AliasSwap, IsOneCreateAliasAction) {
  // create_alias onto an existing alias re-points it in one step; a
  // delete_alias first would leave a moment without the alias.
  const nlohmann::json body = nlohmann::json::parse(swap_request_json("docs_live", "docs_v2"));
  EXPECT_EQ(body, nlohmann::json::parse(R"({"actions": [{"create_alias":
      {"collection_name": "docs_v2", "alias_name": "docs_live"}}]})"));
}

}  // namespace
}  // namespace vesta::admin
