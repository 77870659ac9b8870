#include "persistence/mapped_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <random>
#include <string>
#include <utility>

#include "persistence/file_io.h"
#include "test_seed.h"

namespace vesta::persistence {
namespace {

namespace fs = std::filesystem;

fs::path scratch_file(const std::string& name) {
  return fs::path(::testing::TempDir()) /
         ("vesta_mapped_" + name + "_" + std::to_string(::getpid()));
}

TEST(MappedFile, MapsTheBytesOfFilesOfEverySize) {
  std::mt19937_64 rng(testing::test_seed("MappedFile.MapsTheBytesOfFilesOfEverySize"));
  const fs::path path = scratch_file("sizes");
  // Sizes around a page and one that is not a multiple of any page size.
  for (size_t size :
       {size_t{0}, size_t{1}, size_t{4095}, size_t{4096}, size_t{4097}, size_t{3'000'001}}) {
    std::string bytes(size, '\0');
    for (char& b : bytes) b = static_cast<char>(rng());
    ASSERT_TRUE(write_file_atomically(path, bytes).is_ok());
    core::Result<MappedFile> mapped = MappedFile::open(path);
    ASSERT_TRUE(mapped.is_ok()) << mapped.status().to_string();
    EXPECT_EQ(mapped.value().bytes(), bytes) << size << " bytes";
  }
  fs::remove(path);
}

TEST(MappedFile, AMissingFileIsNotFound) {
  core::Result<MappedFile> mapped = MappedFile::open(scratch_file("missing"));
  ASSERT_FALSE(mapped.is_ok());
  EXPECT_EQ(mapped.status().code(), core::StatusCode::kNotFound);
}

TEST(MappedFile, TheBytesStayWithTheMappingWhenMovedAndAfterTheFileIsRemoved) {
  const fs::path path = scratch_file("moved");
  ASSERT_TRUE(write_file_atomically(path, "snapshot bytes").is_ok());
  core::Result<MappedFile> opened = MappedFile::open(path);
  ASSERT_TRUE(opened.is_ok());
  MappedFile first = std::move(opened).value();
  fs::remove(path);  // a mapped file that is removed stays readable
  MappedFile second = std::move(first);
  EXPECT_EQ(second.bytes(), "snapshot bytes");
  EXPECT_TRUE(first.bytes().empty());  // NOLINT(bugprone-use-after-move): moved-from is empty
  // Assigning over a live mapping releases it and takes over the other.
  ASSERT_TRUE(write_file_atomically(path, "other").is_ok());
  core::Result<MappedFile> other = MappedFile::open(path);
  ASSERT_TRUE(other.is_ok());
  second = std::move(other).value();
  EXPECT_EQ(second.bytes(), "other");
  fs::remove(path);
}

}  // namespace
}  // namespace vesta::persistence
