// The `vesta` command: serve, bench, import, alias, snapshot, and the informational flags.

#include <malloc.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "admin/alias_command.h"
#include "core/byte_size.h"
#include "core/float16.h"
#include "core/lock_manager.h"
#include "core/thread_pool.h"
#include "engine/engine.h"
#include "engine/snapshot_command.h"
#include "graph/dispatcher.h"
#include "importer/import_command.h"
#include "index/collection_registry.h"
#include "index/cpu_searcher.h"
#include "index/placement.h"
#include "kernels/cpu/isa.h"
#include "kernels/cpu/top_k.h"
#include "kernels/cuda/device_info.h"
#include "loadgen/bench_command.h"
#include "persistence/bolt/bolt_uri.h"
#include "persistence/file_store.h"
#include "persistence/postgres_store.h"
#include "server/http_server.h"
#include "server/rest_api.h"
#include "server/standard_metrics.h"

namespace {

constexpr std::string_view kUsage =
    R"(vesta - a vector store for float16 embeddings on GPUs and CPUs

Usage:
  vesta serve [options]   serve the Qdrant-shaped REST API over HTTP
  vesta bench [options]   load a running server with searches: QPS, latency,
                          recall (options: vesta bench --help)
  vesta import --format FORMAT FILE --collection NAME [options]
                          load a file into a running server; FORMAT ndjson or
                          binary: the bulk import formats, as jobs with
                          progress; lightrag-nano: LightRAG's NanoVectorDB
                          files (options: vesta import --help)
  vesta alias swap ALIAS --to COLLECTION [options]
  vesta alias list [--collection NAME] [options]
                          re-point an alias atomically, or list aliases, of a
                          running server (options: vesta alias --help)
  vesta snapshot create|list|restore --collection NAME [options]
                          collection snapshots of a stopped server's data
                          directory (options: vesta snapshot --help)
  vesta --version         print the version, CPU kernels and CUDA devices
  vesta --help            print this text

serve options:
  --config FILE          read options from FILE (see Configuration below)
  --host ADDR            IP address to listen on (default 127.0.0.1)
  --port N               TCP port (default 6333, Qdrant's; 0 picks a free one)
  --threads N            search threads (default: one per hardware thread)
  --io-threads N         HTTP I/O threads (default 2)
  --handler-threads N    threads that run the request handlers, apart from the
                         I/O threads; a search waiting for its batch holds one,
                         so dynamic batching gathers at most this many requests
                         (default 64)
  --max-body-bytes N     largest request body accepted, else 413 (default 64M;
                         K/M/G/T suffixes)
  --max-import-bytes N   largest body of a bulk import (POST .../import), else
                         413 (default 1G; K/M/G/T suffixes). Written to
                         DATA-DIR/uploads as it arrives (each piece within
                         30 s of the last), then kept in DATA-DIR/import-jobs
                         until the job ends; with --storage memory, read into
                         memory within 10 minutes
  --max-upload-bytes N   largest snapshot upload (POST .../snapshots/upload),
                         else 413 (default 1T; K/M/G/T suffixes). Written to
                         DATA-DIR/uploads as it arrives, not held in memory
                         (each piece within 30 s of the last; a full disk is
                         507), and removed once the collection is recovered
  --api-key KEY          require KEY on every route but /, /healthz, /livez and
                         /readyz, in the api-key header or as Authorization:
                         Bearer KEY; else 401 (env VESTA_API_KEY, which keeps the
                         key off the command line that other users can see)
  --read-only-api-key KEY
                         a second key that may call only the routes that change
                         nothing (GET, search, query, their batches, scroll,
                         count, retrieve); 403 elsewhere (env
                         VESTA_READ_ONLY_API_KEY)
  --max-batch-points N   points in one upsert, else 413 (default 10000)
  --max-dim N            largest vectors.size of a new collection, else 400
                         (default and most 65536)
  --max-limit N          largest search and query limit, else 400 (default and
                         most 1024; a request without one gets min(10, N))
  --max-filter-depth N   deepest nesting of payload filters, else 400 (default 16)
  --max-search-batch N   searches in one search/batch or query/batch request,
                         else 400 (default 1024)
  --device MODE          where searches run: auto (a GPU when one is found, else
                         the CPU), gpu (refuse to start without one), cpu
                         (default auto)
  --gpu-memory-budget N  device memory the collections may hold on the GPU, in
                         bytes or with a K/M/G/T suffix (binary units); a
                         collection that does not fit is searched on the CPU
                         (default: 90% of the free device memory at start)
  --gpu-devices LIST     the GPUs to use: all (default: every visible one) or
                         numbers such as 0,1; with several, each collection's
                         rows are sharded over them (blocks of 65536 rows in
                         turn), every shard searched on its device at once
                         and the results merged. The budget above is per
                         device
  --gpu-scratch-bytes N  device scratch per concurrent search for distance
                         tiles (default 256M)
  --tls-cert FILE        serve HTTPS (TLS 1.2+) with this PEM certificate chain;
                         needs --tls-key (default: plain HTTP)
  --tls-key FILE         the PEM private key of --tls-cert
  --access-log TARGET    one JSON line per request (time, method, path, route,
                         status, ms, bytes): - for standard error, a file to
                         append to, or off (default -)
  --batch-max-queries N  dynamic batching: concurrent unfiltered searches of
                         one collection share one search of up to N queries;
                         1 turns batching off (default 256)
  --batch-max-delay-us N the longest a search waits for others to join its
                         batch, in microseconds; a search that arrives while
                         its collection is idle never waits (default 1000).
                         Past it, a batch starts once its collection's
                         searcher has room (on the CPU one search at a time
                         unless the collection is small, on a GPU 4), and
                         gathers more requests while it waits

Durability (serve options):
  --storage KIND         file: collections survive restarts and crashes in
                         --data-dir (default); memory: nothing is kept (for
                         throwaway servers and benchmarks)
  --data-dir DIR         where file storage keeps the catalog, the write-ahead
                         log and snapshots; one server per directory (default
                         ./vesta-data)
  --wal-fsync POLICY     always: every write is fsynced before it is
                         acknowledged, concurrent writes sharing one fsync;
                         group: a thread fsyncs every --wal-group-commit-ms and
                         writes are acknowledged after the fsync that covers
                         them (default always)
  --wal-group-commit-ms N  the group commit period (default 2)
  --snapshot-wal-bytes N snapshot the changed collections once the log grew by
                         N bytes (K/M/G suffixes; 0: never by size), then
                         remove the log they cover (default 256M)
  --snapshot-interval-s N  ... or N seconds after the last round when
                         anything changed or that round failed (0: never by
                         time; default 600)
  --snapshots-dir DIR    where POST /collections/NAME/snapshots writes the
                         snapshots users ask for, kept until deleted (default
                         DATA-DIR/collection-snapshots, with --postgres too)
  --postgres URI         keep everything in PostgreSQL instead of --data-dir:
                         postgresql://USER[:PASSWORD]@HOST[:PORT]/DB[?PARAMS],
                         read by libpq, so every libpq parameter works (sslmode
                         up to verify-full, sslrootcert, sslcert, sslkey, host
                         lists, ...); a password is better kept out of the
                         command line: env VESTA_POSTGRES, or libpq's
                         PGPASSWORD or ~/.pgpass. The schema is created or
                         migrated at start
  --postgres-mode exclusive|shared  exclusive (default): one server per
                         workspace, a second is refused. shared: several
                         servers on one workspace (read replicas, any of them
                         writes): each applies every write in the log's order,
                         learning of others' writes by LISTEN/NOTIFY (a poll
                         every 0.5 s as well); one at a time is the leader,
                         which takes the snapshots and truncates the log, and
                         another takes over within a second or two when it
                         dies. All servers of a workspace use the same mode
  --postgres-payload-table on|off  on (default): every point's payload is
                         also in table vesta_points (jsonb), changed in the
                         transaction of its write, for inspection with SQL
                         (about 8% of PostgreSQL ingest speed); off: payloads
                         only inside the log records and snapshots
  --postgres-workspace NAME  the tenant: every row carries it, so servers of
                         different workspaces share a database unseen by each
                         other (default "default")
  --postgres-pool-size N connections, the log writer's included (default 4)
  --postgres-connect-timeout-s N  (default 5)
  --postgres-statement-timeout-s N  (default 30)
  An acknowledged write (wait=true or not) is in the log on disk (fsync) or in
  PostgreSQL (COMMIT; concurrent writes share one). At start the server loads
  each collection's newest snapshot and replays the log after it; a torn
  record at the log's end (a crash mid-write) is cut and logged. With
  PostgreSQL, a write whose COMMIT fails gets 503 and never takes effect; the
  server reconnects by itself (backoff with jitter).

Graph coordination (serve options; docs/graph.md):
  --neo4j-uri URI        the graph database (Neo4j 5, or any Bolt 5.x/4.4
                         server): bolt://HOST[:PORT], bolt+s:// (TLS,
                         verified), bolt+ssc:// (TLS, self-signed), neo4j://
                         (a direct connection to that host: no routing).
                         Enables POST /graph/WORKSPACE/upsert and /delete:
                         node vectors and graph operations are written in one
                         log record (the outbox), then shipped in batches of
                         idempotent Cypher by the leader, retried with backoff
                         while the graph database is away. Without it the
                         graph routes answer 503. Needs file or PostgreSQL
                         storage
  --neo4j-user NAME      basic auth user (with --neo4j-password)
  --neo4j-password PW    basic auth password; better in env VESTA_NEO4J_PASSWORD
  --neo4j-token TOKEN    bearer auth instead (env VESTA_NEO4J_TOKEN)
  --neo4j-database NAME  the database to write (default: the server's default)
  --neo4j-goodbye on|off say GOODBYE before closing a connection (default on;
                         FalkorDB 4.16 needs off)
  --graph-batch-operations N  most operations in one graph transaction
                         (default 5000)
  --graph-statement-bytes N  most parameter bytes in one Cypher statement
                         (K/M suffixes; default 1M; FalkorDB needs 3K at most)

A GPU failure moves the collection it met to the CPU path with one log line.
POST /collections/NAME/points/search/raw is the binary batch search; the
snapshot API (POST/GET /collections/NAME/snapshots, download, delete,
PUT .../snapshots/recover, POST .../snapshots/upload) is in docs/api.md.
Stop the server with Ctrl-C or SIGTERM: it finishes requests in flight first.

Configuration: every serve option above can also be set
  - in the environment as VESTA_<OPTION>, upper case with '-' as '_'
    (VESTA_PORT=6334, VESTA_GPU_MEMORY_BUDGET=64G, VESTA_API_KEY=...);
  - in a config file, --config FILE or VESTA_CONFIG=FILE, one 'option = value'
    per line ('port = 6334', 'device = "gpu"'; # starts a comment; an
    unknown option is an error naming the line).
  Precedence: command line, then environment, then config file, then the
  defaults. The server logs where its settings came from (never their values).

Environment, other:
  VESTA_CPU_ISA=scalar|avx2|avx512   use a lower CPU kernel than detected
)";

int usage_error(const std::string& message) {
  std::fprintf(stderr, "vesta: %s\nRun 'vesta --help' for usage.\n", message.c_str());
  return 2;
}

void print_version() {
  const vesta::kernels::cuda::DeviceProbe probe = vesta::kernels::cuda::probe_devices();
  std::printf("vesta %s\n", VESTA_VERSION);
  std::printf("cpu kernels: %s (detected %s), f16c: %s\n",
              vesta::kernels::isa_name(vesta::kernels::active_isa()).data(),
              vesta::kernels::isa_name(vesta::kernels::detected_isa()).data(),
              vesta::core::cpu_has_f16c() ? "yes" : "no");
  std::printf("cuda support: %s\n", probe.compiled ? "compiled in" : "not compiled in");
  std::printf("cuda devices: %d%s%s\n", probe.device_count, probe.reason.empty() ? "" : " - ",
              probe.reason.c_str());
  for (const std::string& d : probe.devices) std::printf("  %s\n", d.c_str());
}

std::optional<size_t> parse_count(std::string_view text) {
  if (text.empty() || text.size() > 15) return std::nullopt;
  size_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<size_t>(c - '0');
  }
  return value;
}

// Every `vesta serve` option that takes a value: the names a config file and
// the environment (VESTA_<NAME>, upper case, '-' as '_') may set.
constexpr std::string_view kServeSettings[] = {"host",
                                               "storage",
                                               "data-dir",
                                               "wal-fsync",
                                               "wal-group-commit-ms",
                                               "snapshot-wal-bytes",
                                               "snapshot-interval-s",
                                               "snapshots-dir",
                                               "postgres",
                                               "postgres-workspace",
                                               "postgres-mode",
                                               "postgres-payload-table",
                                               "postgres-pool-size",
                                               "postgres-connect-timeout-s",
                                               "postgres-statement-timeout-s",
                                               "port",
                                               "threads",
                                               "io-threads",
                                               "handler-threads",
                                               "max-body-bytes",
                                               "max-import-bytes",
                                               "max-upload-bytes",
                                               "access-log",
                                               "batch-max-queries",
                                               "batch-max-delay-us",
                                               "api-key",
                                               "read-only-api-key",
                                               "max-batch-points",
                                               "max-dim",
                                               "max-limit",
                                               "max-filter-depth",
                                               "max-search-batch",
                                               "device",
                                               "gpu-memory-budget",
                                               "gpu-devices",
                                               "gpu-scratch-bytes",
                                               "neo4j-uri",
                                               "neo4j-user",
                                               "neo4j-password",
                                               "neo4j-token",
                                               "neo4j-database",
                                               "neo4j-goodbye",
                                               "graph-batch-operations",
                                               "graph-statement-bytes"};

std::string env_name(std::string_view setting) {
  std::string name = "VESTA_";
  for (char c : setting) name += c == '-' ? '_' : static_cast<char>(std::toupper(c));
  return name;
}

bool known_setting(std::string_view name) {
  return std::find(std::begin(kServeSettings), std::end(kServeSettings), name) !=
         std::end(kServeSettings);
}

// The serve options in the order they apply, so that a later one wins: the
// config file (--config FILE, else $VESTA_CONFIG), then the environment, then
// the command line. `sources` says where settings came from (names only, never
// values: a key may be among them).
vesta::core::Result<std::vector<std::string>> gather_settings(
    const std::vector<std::string_view>& args, std::string* sources) {
  std::vector<std::string> out;
  std::vector<std::string> command_line;
  std::string config_path;
  if (const char* env = std::getenv("VESTA_CONFIG"); env != nullptr && *env != '\0') {
    config_path = env;
  }
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--config") {
      if (i + 1 >= args.size() || args[i + 1].empty()) {
        return vesta::core::invalid_argument("--config needs a file");
      }
      config_path = std::string(args[++i]);
    } else {
      command_line.emplace_back(args[i]);
    }
  }
  if (!config_path.empty()) {
    std::ifstream file(config_path);
    if (!file)
      return vesta::core::invalid_argument("cannot read config file '" + config_path + "'");
    std::string line;
    for (int number = 1; std::getline(file, line); ++number) {
      const std::string where = config_path + ":" + std::to_string(number) + ": ";
      auto trim = [](std::string_view t) {
        while (!t.empty() && std::isspace(static_cast<unsigned char>(t.front())))
          t.remove_prefix(1);
        while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.remove_suffix(1);
        return t;
      };
      std::string_view text = trim(line);
      if (text.empty() || text.front() == '#') continue;
      const size_t eq = text.find('=');
      if (eq == std::string_view::npos) {
        return vesta::core::invalid_argument(where + "expected 'name = value'");
      }
      std::string name(trim(text.substr(0, eq)));
      std::replace(name.begin(), name.end(), '_', '-');
      std::string_view value = trim(text.substr(eq + 1));
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        value = value.substr(1, value.size() - 2);
      }
      if (!known_setting(name)) {
        return vesta::core::invalid_argument(where + "unknown setting '" + name + "'");
      }
      out.push_back("--" + name);
      out.emplace_back(value);
    }
    *sources += "config file " + config_path;
  }
  std::string env_used;
  for (std::string_view setting : kServeSettings) {
    const std::string name = env_name(setting);
    if (const char* value = std::getenv(name.c_str()); value != nullptr && *value != '\0') {
      out.push_back("--" + std::string(setting));
      out.emplace_back(value);
      env_used += (env_used.empty() ? "" : ", ") + name;
    }
  }
  if (!env_used.empty()) *sources += (sources->empty() ? "" : "; ") + ("environment " + env_used);
  if (!command_line.empty())
    *sources += (sources->empty() ? "" : "; ") + std::string("command line");
  out.insert(out.end(), command_line.begin(), command_line.end());
  return out;
}

// Large blocks (import chunks, log records, snapshot groups: megabytes each)
// are given back to the system when freed. glibc's default raises its mmap
// threshold to the largest block freed so far, after which such blocks come
// from the heap, where the small allocations that outlive them (payloads)
// keep the freed memory from being returned: importing 200,000 × 768 points
// left the server holding 720 MB instead of 410 MB (docs/benchmarks.md).
// A fixed threshold keeps blocks of 4 MiB and more out of the heap.
void return_large_blocks_to_the_system() {
#ifdef __GLIBC__
  (void)::mallopt(M_MMAP_THRESHOLD, 4 << 20);
#endif
}

int serve(const std::vector<std::string_view>& raw_args) {
  return_large_blocks_to_the_system();
  size_t threads = 0;
  vesta::server::HttpServerOptions http;
  vesta::index::PlacementOptions placement;
  vesta::index::BatchingOptions batching;
  std::string access_log_target = "-";
  vesta::server::RestApiOptions rest;
  bool in_memory = false;
  vesta::persistence::FileStoreOptions file_store;
  vesta::persistence::PostgresStoreOptions postgres;
  vesta::engine::EngineOptions engine_options;
  vesta::graph::DispatcherOptions dispatcher_options;
  std::string graph_uri, graph_user, graph_password, graph_token;
  std::string sources;
  vesta::core::Result<std::vector<std::string>> settings = gather_settings(raw_args, &sources);
  if (!settings.is_ok()) return usage_error(settings.status().message());
  const std::vector<std::string_view> args(settings.value().begin(), settings.value().end());
  for (size_t i = 0; i < args.size(); ++i) {
    // Numeric options: name, destination, range.
    struct NumberOption {
      std::string_view name;
      size_t min;
      size_t max;
    };
    auto number = [&](NumberOption o, size_t* out) -> bool {
      if (i + 1 >= args.size()) {
        usage_error(std::string(o.name) + " needs a value");
        return false;
      }
      const std::optional<size_t> n = parse_count(args[++i]);
      if (!n || *n < o.min || *n > o.max) {
        usage_error(std::string(o.name) + " must be an integer from " + std::to_string(o.min) +
                    " to " + std::to_string(o.max) + ", got '" + std::string(args[i]) + "'");
        return false;
      }
      *out = *n;
      return true;
    };
    // Byte-size options: bytes or with a K/M/G/T suffix, from min to max
    // (`range` says so in the error: "from 1K to 1T").
    struct ByteOption {
      std::string_view name;
      size_t min;
      size_t max;
      std::string_view range;
    };
    auto byte_size = [&](ByteOption o, size_t* out) -> bool {
      if (i + 1 >= args.size()) {
        usage_error(std::string(o.name) + " needs a value");
        return false;
      }
      const std::optional<size_t> bytes = vesta::core::parse_byte_size(args[++i]);
      if (!bytes || *bytes < o.min || *bytes > o.max) {
        usage_error(std::string(o.name) + " must be " + std::string(o.range) +
                    ", in bytes or with a K/M/G/T suffix, got '" + std::string(args[i]) + "'");
        return false;
      }
      *out = *bytes;
      return true;
    };
    constexpr size_t kAny = std::numeric_limits<size_t>::max();
    size_t value = 0;
    if (args[i] == "--threads") {
      if (!number({"--threads", 1, 1024}, &threads)) return 2;
    } else if (args[i] == "--handler-threads") {
      if (!number({"--handler-threads", 1, 4096}, &http.handler_threads)) return 2;
    } else if (args[i] == "--io-threads") {
      if (!number({"--io-threads", 1, 256}, &http.io_threads)) return 2;
    } else if (args[i] == "--port") {
      if (!number({"--port", 0, 65535}, &value)) return 2;
      http.port = static_cast<uint16_t>(value);
    } else if (args[i] == "--max-import-bytes") {
      if (!byte_size({"--max-import-bytes", 1024, kAny, "at least 1K"},
                     &http.import_body_limit_bytes))
        return 2;
    } else if (args[i] == "--max-upload-bytes") {
      if (!byte_size({"--max-upload-bytes", 1024, kAny, "at least 1K"}, &value)) return 2;
      http.upload_body_limit_bytes = value;
    } else if (args[i] == "--max-body-bytes") {
      if (!byte_size({"--max-body-bytes", 1024, size_t{1} << 40, "from 1K to 1T"},
                     &http.body_limit_bytes))
        return 2;
    } else if (args[i] == "--tls-cert" || args[i] == "--tls-key") {
      const std::string_view name = args[i];
      if (i + 1 >= args.size() || args[i + 1].empty()) {
        return usage_error(std::string(name) + " needs a file");
      }
      (name == "--tls-cert" ? http.tls_certificate_file : http.tls_key_file) = args[++i];
    } else if (args[i] == "--access-log") {
      if (i + 1 >= args.size() || args[i + 1].empty()) {
        return usage_error("--access-log needs -, off or a file");
      }
      access_log_target = std::string(args[++i]);
    } else if (args[i] == "--batch-max-queries") {
      if (!number({"--batch-max-queries", 1, 4096}, &batching.max_batch)) return 2;
    } else if (args[i] == "--batch-max-delay-us") {
      if (!number({"--batch-max-delay-us", 0, 1000000}, &value)) return 2;
      batching.max_delay = std::chrono::microseconds(value);
    } else if (args[i] == "--api-key" || args[i] == "--read-only-api-key") {
      const std::string_view name = args[i];
      if (i + 1 >= args.size() || args[i + 1].empty()) {
        return usage_error(std::string(name) + " needs a non-empty key");
      }
      (name == "--api-key" ? rest.api_keys.read_write : rest.api_keys.read_only) = args[++i];
    } else if (args[i] == "--max-batch-points") {
      if (!number({"--max-batch-points", 1, 10'000'000}, &rest.limits.max_batch_points)) return 2;
    } else if (args[i] == "--max-dim") {
      if (!number({"--max-dim", 1, vesta::index::CollectionRegistry::kMaxDim},
                  &rest.limits.max_dim)) {
        return 2;
      }
    } else if (args[i] == "--max-limit") {
      if (!number({"--max-limit", 1, vesta::kernels::kMaxTopK}, &rest.limits.max_limit)) return 2;
    } else if (args[i] == "--max-filter-depth") {
      if (!number({"--max-filter-depth", 1, 128}, &rest.limits.max_filter_depth)) return 2;
    } else if (args[i] == "--max-search-batch") {
      if (!number({"--max-search-batch", 1, 1'000'000}, &rest.limits.max_search_batch)) return 2;
    } else if (args[i] == "--device") {
      if (i + 1 >= args.size()) return usage_error("--device needs a value");
      const std::optional<vesta::index::DeviceMode> mode =
          vesta::index::parse_device_mode(args[++i]);
      if (!mode) {
        return usage_error("--device must be auto, gpu or cpu, got '" + std::string(args[i]) + "'");
      }
      placement.mode = *mode;
    } else if (args[i] == "--gpu-devices") {
      if (i + 1 >= args.size()) return usage_error("--gpu-devices needs a value");
      const std::optional<std::vector<int>> devices = vesta::index::parse_gpu_devices(args[++i]);
      if (!devices) {
        return usage_error("--gpu-devices must be all or device numbers such as 0,1, got '" +
                           std::string(args[i]) + "'");
      }
      placement.gpu_devices = *devices;
    } else if (args[i] == "--gpu-memory-budget" || args[i] == "--gpu-scratch-bytes") {
      const std::string_view name = args[i];
      if (!byte_size({name, size_t{1} << 20, kAny, "at least 1M"}, &value)) return 2;
      (name == "--gpu-memory-budget" ? placement.gpu_memory_budget
                                     : placement.device.scratch_bytes) = value;
    } else if (args[i] == "--storage") {
      if (i + 1 >= args.size()) return usage_error("--storage needs a value");
      const std::string_view kind = args[++i];
      if (kind != "file" && kind != "memory") {
        return usage_error("--storage must be file or memory, got '" + std::string(kind) + "'");
      }
      in_memory = kind == "memory";
    } else if (args[i] == "--data-dir") {
      if (i + 1 >= args.size() || args[i + 1].empty()) {
        return usage_error("--data-dir needs a directory");
      }
      file_store.dir = std::string(args[++i]);
    } else if (args[i] == "--wal-fsync") {
      if (i + 1 >= args.size()) return usage_error("--wal-fsync needs a value");
      const std::string_view policy = args[++i];
      if (policy != "always" && policy != "group") {
        return usage_error("--wal-fsync must be always or group, got '" + std::string(policy) +
                           "'");
      }
      file_store.wal.fsync = policy == "always" ? vesta::persistence::FsyncPolicy::kAlways
                                                : vesta::persistence::FsyncPolicy::kGroup;
    } else if (args[i] == "--wal-group-commit-ms") {
      if (!number({"--wal-group-commit-ms", 1, 10'000}, &value)) return 2;
      file_store.wal.group_commit_interval = std::chrono::milliseconds(value);
    } else if (args[i] == "--snapshot-wal-bytes") {
      if (i + 1 >= args.size()) return usage_error("--snapshot-wal-bytes needs a value");
      const std::optional<size_t> bytes =
          args[i + 1] == "0" ? 0 : vesta::core::parse_byte_size(args[i + 1]);
      if (!bytes) {
        return usage_error("--snapshot-wal-bytes must be bytes or with a K/M/G/T suffix, got '" +
                           std::string(args[i + 1]) + "'");
      }
      ++i;
      engine_options.snapshot_wal_bytes = *bytes;
    } else if (args[i] == "--snapshots-dir") {
      if (i + 1 >= args.size() || args[i + 1].empty()) {
        return usage_error("--snapshots-dir needs a directory");
      }
      engine_options.snapshots_dir = std::string(args[++i]);
    } else if (args[i] == "--snapshot-interval-s") {
      if (!number({"--snapshot-interval-s", 0, 1'000'000}, &value)) return 2;
      engine_options.snapshot_interval = std::chrono::seconds(value);
    } else if (args[i] == "--postgres") {
      if (i + 1 >= args.size() || args[i + 1].empty()) {
        return usage_error("--postgres needs a postgresql:// URI");
      }
      postgres.uri = std::string(args[++i]);
    } else if (args[i] == "--postgres-mode") {
      const std::string_view mode = i + 1 < args.size() ? args[i + 1] : std::string_view();
      if (mode != "exclusive" && mode != "shared") {
        return usage_error("--postgres-mode must be exclusive or shared");
      }
      postgres.shared = mode == "shared";
      ++i;
    } else if (args[i] == "--postgres-payload-table") {
      const std::string_view on = i + 1 < args.size() ? args[i + 1] : std::string_view();
      if (on != "on" && on != "off") {
        return usage_error("--postgres-payload-table must be on or off");
      }
      postgres.payload_table = on == "on";
      ++i;
    } else if (args[i] == "--postgres-workspace") {
      if (i + 1 >= args.size() || args[i + 1].empty()) {
        return usage_error("--postgres-workspace needs a name");
      }
      postgres.workspace = std::string(args[++i]);
    } else if (args[i] == "--postgres-pool-size") {
      if (!number({"--postgres-pool-size", 1, 1024}, &postgres.pool_size)) return 2;
    } else if (args[i] == "--postgres-connect-timeout-s") {
      if (!number({"--postgres-connect-timeout-s", 1, 3600}, &value)) return 2;
      postgres.connect_timeout = std::chrono::seconds(value);
    } else if (args[i] == "--postgres-statement-timeout-s") {
      if (!number({"--postgres-statement-timeout-s", 1, 86400}, &value)) return 2;
      postgres.statement_timeout = std::chrono::seconds(value);
    } else if (args[i] == "--neo4j-uri" || args[i] == "--neo4j-user" ||
               args[i] == "--neo4j-password" || args[i] == "--neo4j-token" ||
               args[i] == "--neo4j-database") {
      if (i + 1 >= args.size() || args[i + 1].empty()) {
        return usage_error(std::string(args[i]) + " needs a value");
      }
      const std::string_view option = args[i];
      std::string& target = option == "--neo4j-uri"        ? graph_uri
                            : option == "--neo4j-user"     ? graph_user
                            : option == "--neo4j-password" ? graph_password
                            : option == "--neo4j-token"    ? graph_token
                                                           : dispatcher_options.database;
      target = std::string(args[++i]);
    } else if (args[i] == "--neo4j-goodbye") {
      const std::string_view on = i + 1 < args.size() ? args[i + 1] : std::string_view();
      if (on != "on" && on != "off") return usage_error("--neo4j-goodbye must be on or off");
      dispatcher_options.connection.send_goodbye = on == "on";
      ++i;
    } else if (args[i] == "--graph-batch-operations") {
      if (!number({"--graph-batch-operations", 1, 1'000'000}, &dispatcher_options.batch_operations))
        return 2;
    } else if (args[i] == "--graph-statement-bytes") {
      if (!byte_size({"--graph-statement-bytes", 256, size_t{1} << 30, "from 256 bytes to 1G"},
                     &dispatcher_options.statement_bytes))
        return 2;
    } else if (args[i] == "--host") {
      if (i + 1 >= args.size()) return usage_error("--host needs a value");
      http.host = std::string(args[++i]);
    } else if (args[i] == "--help" || args[i] == "-h") {
      std::fputs(kUsage.data(), stdout);
      return 0;
    } else {
      return usage_error("unknown serve option '" + std::string(args[i]) + "'");
    }
  }

  if (!rest.api_keys.read_write.empty() && rest.api_keys.read_write == rest.api_keys.read_only) {
    return usage_error("the API key and the read-only API key must differ");
  }
  if (in_memory && !postgres.uri.empty()) {
    return usage_error("--postgres and --storage memory exclude each other");
  }
  if (!graph_uri.empty()) {
    if (in_memory) {
      return usage_error(
          "--neo4j-uri needs durable storage (the outbox is in the log): not --storage memory");
    }
    if (vesta::core::Result<vesta::bolt::BoltUri> uri = vesta::bolt::BoltUri::parse(graph_uri);
        !uri.is_ok()) {
      return usage_error("--neo4j-uri: " + uri.status().message());
    }
    if (!graph_token.empty() && (!graph_user.empty() || !graph_password.empty())) {
      return usage_error("--neo4j-token and --neo4j-user/--neo4j-password exclude each other");
    }
    if (graph_user.empty() != graph_password.empty()) {
      return usage_error("--neo4j-user and --neo4j-password go together");
    }
    dispatcher_options.connection.uri = graph_uri;
    dispatcher_options.connection.read_timeout = std::chrono::seconds(10);
    if (!graph_token.empty()) {
      dispatcher_options.connection.auth = vesta::bolt::AuthToken::bearer(graph_token);
    } else if (!graph_user.empty()) {
      dispatcher_options.connection.auth =
          vesta::bolt::AuthToken::basic(graph_user, graph_password);
    }
  } else if (!graph_user.empty() || !graph_password.empty() || !graph_token.empty() ||
             !dispatcher_options.database.empty()) {
    return usage_error("the --neo4j-* options need --neo4j-uri");
  }

  // Block the stop signals before any thread starts, so only sigwait sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  vesta::core::ThreadPool pool(threads);
  vesta::core::LockManager locks;
  vesta::index::CpuSearcher cpu_searcher(pool);
  vesta::core::Result<std::unique_ptr<vesta::index::PlacementSearcher>> searcher =
      vesta::index::PlacementSearcher::create(cpu_searcher, placement);
  if (!searcher.is_ok()) {
    std::fprintf(stderr, "vesta serve: %s\n", searcher.status().message().c_str());
    return 1;
  }
  // The collections: durable through an Engine over a FileStore or a
  // PostgresStore, or in memory only.
  std::unique_ptr<vesta::persistence::Store> store;
  std::unique_ptr<vesta::engine::Engine> engine;
  std::unique_ptr<vesta::index::CollectionRegistry> memory_collections;
  std::string storage_line = "collections are kept in memory only (--storage memory)";
  if (in_memory) {
    memory_collections =
        std::make_unique<vesta::index::CollectionRegistry>(locks, *searcher.value(), batching);
  } else {
    const auto started = std::chrono::steady_clock::now();
    if (postgres.uri.empty()) {
      vesta::core::Result<std::unique_ptr<vesta::persistence::FileStore>> opened =
          vesta::persistence::FileStore::open(file_store);
      if (!opened.is_ok()) {
        std::fprintf(stderr, "vesta serve: %s\n", opened.status().message().c_str());
        return 1;
      }
      store = std::move(opened).value();
    } else {
      vesta::core::Result<std::unique_ptr<vesta::persistence::PostgresStore>> opened =
          vesta::persistence::PostgresStore::open(postgres);
      if (!opened.is_ok()) {
        std::fprintf(stderr, "vesta serve: %s\n", opened.status().message().c_str());
        return 1;
      }
      store = std::move(opened).value();
    }
    if (engine_options.snapshots_dir.empty()) {
      engine_options.snapshots_dir = file_store.dir / "collection-snapshots";
    }
    vesta::engine::RecoveryReport report;
    vesta::core::Result<std::unique_ptr<vesta::engine::Engine>> recovered =
        vesta::engine::Engine::open(*store, locks, *searcher.value(), batching, engine_options,
                                    &report);
    if (!recovered.is_ok()) {
      std::fprintf(stderr, "vesta serve: recovery from %s failed: %s\n", store->describe().c_str(),
                   recovered.status().message().c_str());
      return 1;
    }
    engine = std::move(recovered).value();
    std::fprintf(stderr,
                 "vesta serve: recovered %zu collections from %s in %.2f s (%llu points from %zu "
                 "snapshots, %llu log records replayed, %llu skipped; snapshots read %.2f s, "
                 "loaded %.2f s, log %.2f s)\n",
                 report.collections, store->describe().c_str(),
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(),
                 static_cast<unsigned long long>(report.points_loaded), report.snapshots_loaded,
                 static_cast<unsigned long long>(report.records_replayed),
                 static_cast<unsigned long long>(report.records_skipped), report.snapshot_read_s,
                 report.snapshot_load_s, report.log_replay_s);
    if (!postgres.uri.empty()) {
      storage_line = "writes are durable in " + store->describe() +
                     " (COMMIT before acknowledging, concurrent writes sharing one; " +
                     std::to_string(postgres.pool_size) + " connections" +
                     (postgres.shared ? "; shared with other servers of the workspace" : "") + ")";
    } else {
      storage_line =
          "writes are durable in " + store->describe() + " (fsync " +
          (file_store.wal.fsync == vesta::persistence::FsyncPolicy::kAlways
               ? std::string("always")
               : "group, every " +
                     std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        file_store.wal.group_commit_interval)
                                        .count()) +
                     " ms") +
          ")";
    }
  }
  vesta::index::CollectionRegistry& collections = engine ? engine->registry() : *memory_collections;
  vesta::core::Result<std::unique_ptr<vesta::server::AccessLog>> access_log =
      vesta::server::AccessLog::open(access_log_target);
  if (!access_log.is_ok()) {
    std::fprintf(stderr, "vesta serve: %s\n", access_log.status().message().c_str());
    return 1;
  }
  vesta::server::Metrics metrics;
  vesta::server::register_standard_metrics(metrics, collections, locks, *searcher.value());
  if (engine) vesta::server::register_engine_metrics(metrics, *engine);
  rest.metrics = &metrics;
  rest.access_log = access_log.value().get();
  rest.engine = engine.get();
  // Import jobs keep their bodies and states beside the data (memory only
  // when the server keeps nothing).
  vesta::server::ImportJobsOptions import_options;
  if (!in_memory) import_options.dir = file_store.dir / "import-jobs";
  vesta::core::Result<std::unique_ptr<vesta::server::ImportJobs>> import_jobs =
      vesta::server::ImportJobs::open(collections, import_options);
  if (!import_jobs.is_ok()) {
    std::fprintf(stderr, "vesta serve: import jobs: %s\n", import_jobs.status().message().c_str());
    return 1;
  }
  rest.import_jobs = import_jobs.value().get();
  // Graph coordination: the dispatcher ships the outbox while this process
  // is the leader.
  std::unique_ptr<vesta::graph::Dispatcher> dispatcher;
  if (!graph_uri.empty()) {
    dispatcher = std::make_unique<vesta::graph::Dispatcher>(*engine, dispatcher_options);
    dispatcher->start();
    rest.graph = dispatcher.get();
    const vesta::engine::OutboxStatus outbox = engine->outbox().status(std::nullopt);
    std::fprintf(stderr,
                 "vesta serve: graph coordination with %s (%s auth); outbox: %llu records "
                 "pending, %llu dead letters\n",
                 graph_uri.c_str(),
                 !graph_token.empty() ? "bearer" : (!graph_user.empty() ? "basic" : "no"),
                 static_cast<unsigned long long>(outbox.pending_records),
                 static_cast<unsigned long long>(outbox.dead_letters));
  }
  vesta::server::RestApi api(collections, VESTA_VERSION, rest);
  // Snapshot uploads are as large as their collections: written to a file
  // beside the data as they arrive, once their key is checked.
  if (!in_memory) {
    http.upload_directory = (file_store.dir / "uploads").string();
    http.admit_to_file = [&api](const vesta::server::HttpRequest& head) { return api.admit(head); };
  }
  vesta::server::HttpServer server(
      http, [&api](const vesta::server::HttpRequest& request) { return api.handle(request); });
  std::fprintf(stderr, "vesta serve: settings from %s\n",
               sources.empty() ? "defaults only" : sources.c_str());
  std::fprintf(stderr,
               "vesta serve: search on %s; CPU path: %s kernels, %zu threads; batching up to %zu "
               "queries, %lld us\n",
               searcher.value()->description().c_str(),
               vesta::kernels::isa_name(vesta::kernels::active_isa()).data(), pool.size(),
               batching.max_batch, static_cast<long long>(batching.max_delay.count()));
  if (vesta::core::Status status = server.start(); !status.is_ok()) {
    std::fprintf(stderr, "vesta serve: %s\n", status.message().c_str());
    return 1;
  }
  std::fprintf(stderr,
               "vesta serve: listening on %s://%s:%u (%zu I/O threads, body limit %zu bytes); "
               "%s\n",
               http.tls_certificate_file.empty() ? "http" : "https", http.host.c_str(),
               static_cast<unsigned>(server.port()), http.io_threads, http.body_limit_bytes,
               storage_line.c_str());
  if (!rest.api_keys.read_write.empty() || !rest.api_keys.read_only.empty()) {
    std::fprintf(stderr, "vesta serve: API keys required (read-write key: %s, read-only key: %s)\n",
                 rest.api_keys.read_write.empty() ? "no" : "yes",
                 rest.api_keys.read_only.empty() ? "no" : "yes");
  }
  int signal = 0;
  sigwait(&stop_signals, &signal);
  std::fprintf(stderr, "vesta serve: received %s, finishing requests in flight\n",
               signal == SIGINT ? "SIGINT" : "SIGTERM");
  // Requests waiting for graph deliveries (wait=delivered) answer now that
  // their writes are durable, rather than hold the shutdown up.
  if (engine) engine->stop_outbox_waiters();
  server.stop();
  if (dispatcher) dispatcher->stop();
  std::fprintf(stderr, "vesta serve: stopped\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::fputs(kUsage.data(), stderr);
    return 2;
  }
  const std::string_view command = args[0];
  if (command == "--help" || command == "-h" || command == "help") {
    std::fputs(kUsage.data(), stdout);
    return 0;
  }
  if (command == "--version" || command == "version") {
    print_version();
    return 0;
  }
  if (command == "serve") return serve({args.begin() + 1, args.end()});
  if (command == "bench") return vesta::loadgen::run_bench_command({args.begin() + 1, args.end()});
  if (command == "snapshot") {
    return vesta::engine::run_snapshot_command({args.begin() + 1, args.end()});
  }
  if (command == "import") {
    return vesta::importer::run_import_command({args.begin() + 1, args.end()});
  }
  if (command == "alias") return vesta::admin::run_alias_command({args.begin() + 1, args.end()});
  return usage_error("unknown command '" + std::string(command) + "'");
}
