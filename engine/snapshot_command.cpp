#include "engine/snapshot_command.h"

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "core/lock_manager.h"
#include "core/thread_pool.h"
#include "engine/engine.h"
#include "index/cpu_searcher.h"
#include "persistence/file_store.h"
#include "persistence/mapped_file.h"

namespace vesta::engine {
namespace {

constexpr std::string_view kSnapshotUsage =
    R"(vesta snapshot - collection snapshots of a stopped server's data directory

Usage:
  vesta snapshot create  --collection NAME [--out FILE] [--data-dir DIR]
  vesta snapshot list    --collection NAME [--data-dir DIR]
  vesta snapshot restore --collection NAME FILE [--data-dir DIR]

  create   writes a snapshot of collection NAME (or of the collection an alias
           names) to FILE, or to the snapshots directory where the snapshot API
           keeps them (DIR/collection-snapshots/NAME/), and prints its path
  list     prints the snapshots the snapshot API keeps for NAME: name, time,
           size and SHA-256
  restore  replaces collection NAME (or creates it) with FILE's points; the
           server finds it there at its next start

  --data-dir DIR   the server's data directory (default ./vesta-data). It must
                   not be in use: stop the server first (the snapshot API does
                   the same while it runs).
The files are those of POST /collections/NAME/snapshots (docs/api.md).
)";

int usage_error(const std::string& message) {
  std::fprintf(stderr, "vesta snapshot: %s\nRun 'vesta snapshot --help' for usage.\n",
               message.c_str());
  return 2;
}

int failure(const core::Status& status) {
  std::fprintf(stderr, "vesta snapshot: %s\n", status.message().c_str());
  return 1;
}

}  // namespace

int run_snapshot_command(const std::vector<std::string_view>& args) {
  if (args.empty()) return usage_error("needs create, list or restore");
  for (std::string_view a : args) {
    if (a == "--help" || a == "-h") {
      std::fputs(kSnapshotUsage.data(), stdout);
      return 0;
    }
  }
  const std::string_view action = args[0];
  if (action != "create" && action != "list" && action != "restore") {
    return usage_error("unknown action '" + std::string(action) + "' (create, list or restore)");
  }
  std::filesystem::path data_dir = "vesta-data";
  std::string collection, out, file;
  for (size_t i = 1; i < args.size(); ++i) {
    auto value = [&](std::string* target) {
      if (i + 1 >= args.size() || args[i + 1].empty()) return false;
      *target = std::string(args[++i]);
      return true;
    };
    std::string dir;
    if (args[i] == "--data-dir") {
      if (!value(&dir)) return usage_error("--data-dir needs a directory");
      data_dir = dir;
    } else if (args[i] == "--collection") {
      if (!value(&collection)) return usage_error("--collection needs a name");
    } else if (args[i] == "--out" && action == "create") {
      if (!value(&out)) return usage_error("--out needs a file");
    } else if (action == "restore" && file.empty() && !args[i].starts_with("--")) {
      file = std::string(args[i]);
    } else {
      return usage_error("unexpected argument '" + std::string(args[i]) + "' for " +
                         std::string(action));
    }
  }
  if (collection.empty()) return usage_error("--collection is required");
  if (action == "restore" && file.empty()) return usage_error("restore needs a snapshot FILE");

  persistence::FileStoreOptions store_options;
  store_options.dir = data_dir;
  core::Result<std::unique_ptr<persistence::FileStore>> store =
      persistence::FileStore::open(store_options);
  if (!store.is_ok()) return failure(store.status());
  core::ThreadPool pool(1);
  core::LockManager locks;
  index::CpuSearcher searcher(pool);
  EngineOptions options;
  options.snapshot_wal_bytes = 0;
  options.snapshot_interval = std::chrono::seconds(0);
  options.snapshots_dir = data_dir / "collection-snapshots";
  core::Result<std::unique_ptr<Engine>> engine =
      Engine::open(*store.value(), locks, searcher, {}, options);
  if (!engine.is_ok()) return failure(engine.status());

  if (action == "list") {
    core::Result<std::vector<SnapshotInfo>> list = engine.value()->list_snapshots(collection);
    if (!list.is_ok()) return failure(list.status());
    for (const SnapshotInfo& s : list.value()) {
      std::printf("%s\t%s\t%llu bytes\t%s\n", s.name.c_str(), s.creation_time.c_str(),
                  static_cast<unsigned long long>(s.size),
                  s.checksum.empty() ? "-" : ("sha256:" + s.checksum).c_str());
    }
    return 0;
  }
  if (action == "restore") {
    // Mapped, not read into memory (a snapshot is as large as its collection).
    core::Result<persistence::MappedFile> mapped = persistence::MappedFile::open(file);
    if (!mapped.is_ok()) return failure(mapped.status());
    const core::Status restored =
        engine.value()->recover_from_snapshot(collection, mapped.value().bytes());
    if (!restored.is_ok()) return failure(restored);
    std::printf("restored collection %s from %s\n", collection.c_str(), file.c_str());
    return 0;
  }
  core::Result<SnapshotInfo> created = engine.value()->create_snapshot(collection);
  if (!created.is_ok()) return failure(created.status());
  std::filesystem::path path = options.snapshots_dir /
                               engine.value()->registry().get(collection).value()->config().name /
                               created.value().name;
  if (!out.empty()) {
    std::error_code ec;
    std::filesystem::rename(path, out, ec);
    if (ec)
      std::filesystem::copy_file(path, out, std::filesystem::copy_options::overwrite_existing, ec);
    if (ec) return failure(core::internal_error("cannot write " + out + ": " + ec.message()));
    std::filesystem::remove(path, ec);
    std::filesystem::path checksum = path;  // the API's record of a file it no longer keeps
    checksum += ".checksum";
    std::filesystem::remove(checksum, ec);
    path = out;
  }
  std::printf("%s\n", path.c_str());
  return 0;
}

}  // namespace vesta::engine
