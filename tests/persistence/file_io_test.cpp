// persistence/file_io: files replaced whole or not at all.

#include "persistence/file_io.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <string>

namespace vesta::persistence {
namespace {

namespace fs = std::filesystem;

TEST(AtomicFileWriter, ReplacesTheFileOnlyOnCommitAndLeavesNoTemporaryFileBehind) {
  const fs::path dir =
      fs::path(::testing::TempDir()) / ("vesta_file_io_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path path = dir / "data";
  ASSERT_TRUE(write_file_atomically(path, "old").is_ok());
  {
    AtomicFileWriter writer(path);
    ASSERT_TRUE(writer.open().is_ok());
    ASSERT_TRUE(writer.append("ne").is_ok());
    ASSERT_TRUE(writer.append("w").is_ok());
    EXPECT_EQ(read_whole_file(path).value(), "old");  // not yet
  }  // given up (an error while writing): the old file stays, nothing else
  EXPECT_EQ(read_whole_file(path).value(), "old");
  EXPECT_FALSE(fs::exists(dir / "data.tmp"));

  AtomicFileWriter writer(path);
  ASSERT_TRUE(writer.open().is_ok());
  ASSERT_TRUE(writer.append("ne").is_ok());
  ASSERT_TRUE(writer.append("w").is_ok());
  ASSERT_TRUE(writer.commit().is_ok());
  EXPECT_EQ(read_whole_file(path).value(), "new");
  EXPECT_FALSE(fs::exists(dir / "data.tmp"));
  EXPECT_FALSE(writer.append("more").is_ok());  // committed: closed
  EXPECT_FALSE(writer.commit().is_ok());

  AtomicFileWriter unopened(dir / "never");
  EXPECT_FALSE(unopened.append("x").is_ok());
  EXPECT_FALSE(fs::exists(dir / "never"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace vesta::persistence
