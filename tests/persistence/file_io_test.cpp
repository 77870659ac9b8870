// persistence/file_io: files replaced whole or not at all.

#include "persistence/file_io.h"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <system_error>

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

TEST(AdoptFile, MovesTheFileOrWritesItsBytesAcrossFileSystems) {
  const fs::path dir =
      fs::path(::testing::TempDir()) / ("vesta_adopt_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "in");
  fs::create_directories(dir / "kept");
  ASSERT_TRUE(write_file_atomically(dir / "in" / "body", "the body").is_ok());
  ASSERT_TRUE(adopt_file(dir / "in" / "body", dir / "kept" / "job.body", "the body").is_ok());
  EXPECT_EQ(read_whole_file(dir / "kept" / "job.body").value(), "the body");
  EXPECT_FALSE(fs::exists(dir / "in" / "body"));  // moved, not copied
  const core::Status missing = adopt_file(dir / "in" / "gone", dir / "kept" / "x", "");
  EXPECT_FALSE(missing.is_ok());
  EXPECT_NE(missing.message().find("gone"), std::string::npos) << missing.to_string();

  // /dev/shm is another file system where it exists: no rename, so the
  // bytes are written and the source stays for its owner to remove.
  const fs::path shm = fs::path("/dev/shm") / ("vesta_adopt_" + std::to_string(::getpid()));
  std::error_code ec;
  fs::create_directories(shm, ec);
  struct stat a {};
  struct stat b {};
  if (ec || ::stat(shm.c_str(), &a) != 0 || ::stat(dir.c_str(), &b) != 0 || a.st_dev == b.st_dev) {
    fs::remove_all(dir);
    fs::remove_all(shm, ec);
    GTEST_SKIP() << "no second file system at /dev/shm to move across";
  }
  ASSERT_TRUE(write_file_atomically(shm / "body", "across").is_ok());
  ASSERT_TRUE(adopt_file(shm / "body", dir / "kept" / "other.body", "across").is_ok());
  EXPECT_EQ(read_whole_file(dir / "kept" / "other.body").value(), "across");
  EXPECT_TRUE(fs::exists(shm / "body"));
  fs::remove_all(dir);
  fs::remove_all(shm);
}

}  // namespace
}  // namespace vesta::persistence
