"""Vesta's CPU flat search against faiss-cpu, on the same data in the same run.

What it measures, for each batch size b (default 1, 16, 256): the median
wall-clock time of one search call that finds the k = 10 nearest neighbours by
inner product of b queries among N unit-length random rows (d = 768), for

  * Vesta:  float16 rows, float32 queries (bench/flat_bench.cpp, run as a
            subprocess: build it first with scripts/build.sh);
  * FAISS IndexFlatIP:                      float32 rows;
  * FAISS IndexScalarQuantizer(QT_fp16):    float16 rows;

and the recall@k of each against the exact top-k computed in float64
(recall@k = |found ∩ exact| / k, averaged over the Q = 256 queries).

Data: N rows and Q queries of d standard-normal float32 values, each row
normalised to unit length, from numpy's default_rng(--seed) (printed). They are
written as raw little-endian float32 files (rows.f32: N x d, queries.f32:
Q x d) into --work-dir (default: a fresh bench/data/tmp* dir, deleted at the
end unless --keep), which is how the Vesta binary reads them.

Timing protocol, the same for FAISS (here) and Vesta (in the C++ binary): for
batch size b, search consecutive blocks of b queries cycling through the Q
queries (block i = queries [(i*b) % Q, (i*b) % Q + b)); one untimed warm-up
call; then timed calls until at least --min-seconds have elapsed and at least
3 calls were made; report the median seconds per call. Result ids for recall
come from one untimed pass over all Q queries in blocks of b. Every side uses
--threads threads (default 2).

Run it on an otherwise idle machine: with --threads equal to the core count,
any other busy process slows both sides by several times, and unevenly (one
busy core beside a 2-thread run here slowed FAISS FlatIP at batch 256 8x and
Vesta 3x). The script measures the CPU time other processes used during each
timed phase and marks the report as untrustworthy (a WARNING line;
"timings_trustworthy": false in the JSON) when it exceeds 0.1 cores on average.

Run it through bench/run_faiss_compare.sh, which makes bench/.venv from the
pinned bench/requirements.txt and finds the binary:
  bench/run_faiss_compare.sh                         # N = 1,000,000, 3 s per timing
  bench/run_faiss_compare.sh --quick                 # N = 200,000, 1.5 s per timing
  bench/run_faiss_compare.sh --rows 20000 --json-out /tmp/r.json
Directly: bench/.venv/bin/python bench/faiss_compare.py --vesta-bench BINARY [options]

Peak memory is about 2x the float32 rows (3 GB each at N = 1M) plus ~1 GB of
float64 temporaries: the rows stay in this process while one FAISS index at a
time holds its own copy; both are freed before the Vesta binary runs.
"""

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

import faiss

QUERIES = 256
DEFAULT_SEED = 20_251_124
# Rows are generated and written this many at a time (~200 MB of float32 at d = 768).
GEN_CHUNK = 65_536
# Rows per block of the float64 exact search (~400 MB of float64 at d = 768).
EXACT_CHUNK = 65_536

# Targets marked PASS/MISS in the report.
TARGET_FLAT_RATIO = {1: 0.6, 256: 1.0}  # batch -> max Vesta/FlatIP time ratio (<=)
TARGET_SQ_RATIO = 1.0  # Vesta/SQfp16 time ratio must be < this at every batch
TARGET_RECALL = 0.99  # Vesta recall@k must be >= this
# Average cores used by other processes during a timed phase above which the
# report warns that its timings are not trustworthy.
MAX_OTHER_CORES = 0.1

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description="Side-by-side timing of Vesta's CPU flat search and faiss-cpu.",
        epilog="See the module docstring (bench/faiss_compare.py) for the protocol.")
    p.add_argument("--vesta-bench", required=True, help="path to the vesta_flat_bench binary")
    p.add_argument("--quick", action="store_true",
                   help="N = 200,000 and --min-seconds 1.5 (unless given)")
    p.add_argument("--rows", type=int, help="N rows (default 1,000,000; 200,000 with --quick)")
    p.add_argument("--dim", type=int, default=768, help="d (default 768)")
    p.add_argument("--k", type=int, default=10, help="neighbours per query (default 10)")
    p.add_argument("--batches", default="1,16,256",
                   help=f"comma-separated batch sizes, each dividing {QUERIES} (default 1,16,256)")
    p.add_argument("--threads", type=int, default=2, help="threads for every side (default 2)")
    p.add_argument("--min-seconds", type=float, help="timed seconds per measurement "
                   "(default 3; 1.5 with --quick)")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED,
                   help=f"numpy seed for rows and queries (default {DEFAULT_SEED})")
    p.add_argument("--work-dir", help="where the raw data files go (default: a new "
                   "bench/data/tmp* dir)")
    p.add_argument("--keep", action="store_true", help="keep the data files and Vesta's id files")
    p.add_argument("--json-out", help="also write the report (table + results + machine) here")
    a = p.parse_args(argv)
    if a.rows is None:
        a.rows = 200_000 if a.quick else 1_000_000
    if a.min_seconds is None:
        a.min_seconds = 1.5 if a.quick else 3.0
    try:
        a.batches = [int(b) for b in a.batches.split(",") if b.strip()]
    except ValueError:
        p.error(f"--batches: not a comma-separated list of integers: {a.batches!r}")
    for b in a.batches:
        # Both sides cycle through whole blocks of the Q queries, so every query
        # is searched exactly once in the id pass only when b divides Q.
        if b < 1 or QUERIES % b != 0:
            p.error(f"--batches: {b} does not divide {QUERIES}")
    if not a.batches:
        p.error("--batches: empty")
    if a.rows < a.k or a.k < 1 or a.dim < 1 or a.threads < 1:
        p.error("need rows >= k >= 1, dim >= 1, threads >= 1")
    if not os.access(a.vesta_bench, os.X_OK):
        p.error(f"--vesta-bench: {a.vesta_bench} is not an executable file "
                "(build it with scripts/build.sh)")
    return a


# --------------------------------------------------------------------------- data

def unit_rows(rng, n, d):
    """n standard-normal float32 rows of length d, each scaled to unit length."""
    x = rng.standard_normal((n, d), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def write_rows(path, rng, n, d):
    """Generates n unit rows chunk by chunk, appends each chunk to the raw
    float32 file at path, and returns all of them as one (n, d) array (FAISS
    and the exact search need them in memory; generating in chunks keeps the
    float32 temporaries of standard_normal/norm small)."""
    out = np.empty((n, d), dtype=np.float32)
    with open(path, "wb") as f:
        for start in range(0, n, GEN_CHUNK):
            stop = min(start + GEN_CHUNK, n)
            out[start:stop] = unit_rows(rng, stop - start, d)
            # numpy's float32 is native-endian; make the file little-endian everywhere.
            out[start:stop].astype("<f4", copy=False).tofile(f)
    return out


# ------------------------------------------------------------------ exact top-k

def exact_top_k(rows, queries, k):
    """Top-k row indices (best first) of every query by inner product in float64,
    over blocks of EXACT_CHUNK rows with a running top-k merge."""
    q64 = queries.astype(np.float64)
    nq = len(queries)
    best_scores = np.full((nq, 0), -np.inf)
    best_ids = np.zeros((nq, 0), dtype=np.int64)
    for start in range(0, len(rows), EXACT_CHUNK):
        block = rows[start:start + EXACT_CHUNK].astype(np.float64)
        scores = q64 @ block.T  # (nq, block rows)
        ids = np.arange(start, start + len(block), dtype=np.int64)
        cand_scores = np.concatenate([best_scores, scores], axis=1)
        cand_ids = np.concatenate([best_ids, np.broadcast_to(ids, scores.shape)], axis=1)
        kk = min(k, cand_scores.shape[1])
        keep = np.argpartition(-cand_scores, kk - 1, axis=1)[:, :kk]
        best_scores = np.take_along_axis(cand_scores, keep, axis=1)
        best_ids = np.take_along_axis(cand_ids, keep, axis=1)
    order = np.argsort(-best_scores, axis=1, kind="stable")
    return np.take_along_axis(best_ids, order, axis=1)


def recall_at_k(found, exact):
    """Mean over queries of |found ∩ exact| / k; -1 (no result) never matches."""
    assert found.shape == exact.shape, (found.shape, exact.shape)
    k = exact.shape[1]
    hits = sum(len(set(f[f >= 0].tolist()) & set(e.tolist())) for f, e in zip(found, exact))
    return hits / (len(exact) * k)


# ----------------------------------------------------------------------- timing

class OtherLoad:
    """Measures how many cores other processes (and the hypervisor, as steal
    time) kept busy on average during a phase: the machine's busy CPU time
    from /proc/stat minus this process's and its waited-for children's.

    Why: both FAISS (OpenMP, spinning barriers) and Vesta use every core at
    --threads = cores, so a compile or test running beside the benchmark
    can slow either side by several times, and unevenly; the report warns
    when that happened instead of printing such numbers as if clean."""

    def __init__(self):
        self.start = self._snapshot()

    @staticmethod
    def _snapshot():
        try:
            with open("/proc/stat") as f:
                fields = [int(v) for v in f.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        # user nice system idle iowait irq softirq steal (guest time is in user)
        busy = sum(fields[i] for i in (0, 1, 2, 5, 6, 7) if i < len(fields))
        own = os.times()
        return (busy / os.sysconf("SC_CLK_TCK"),
                own.user + own.system + own.children_user + own.children_system,
                time.perf_counter())

    def cores(self):
        """Average other-process cores since construction (None off Linux)."""
        end = self._snapshot()
        if self.start is None or end is None or end[2] <= self.start[2]:
            return None
        other = (end[0] - self.start[0]) - (end[1] - self.start[1])
        return max(0.0, other / (end[2] - self.start[2]))


def median_like_vesta(times):
    """The element at index len // 2 of the sorted times: the same "median" the
    C++ binary reports (the upper middle for an even count), so that both sides
    are summarised identically."""
    return sorted(times)[len(times) // 2]


def time_calls(search_block, min_seconds):
    """The protocol: block 0 untimed (warm-up), then blocks 1, 2, ... timed until
    min_seconds have elapsed and at least 3 calls were made. search_block(i)
    must search block i (it wraps i itself). Returns (median seconds, calls)."""
    search_block(0)
    times = []
    start = time.perf_counter()
    call = 1
    while len(times) < 3 or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        search_block(call)
        times.append(time.perf_counter() - t0)
        call += 1
    return median_like_vesta(times), len(times)


def measure_faiss(name, index, queries, k, batches, min_seconds):
    results = {}
    for batch in batches:
        blocks = len(queries) // batch

        def search_block(i, batch=batch, blocks=blocks):
            # Block i = queries [(i*b) % Q, ... + b); b divides Q, so no wrap inside.
            first = (i % blocks) * batch
            return index.search(queries[first:first + batch], k)[1]

        ids = np.concatenate([search_block(i) for i in range(blocks)]).astype(np.int64)
        seconds, calls = time_calls(search_block, min_seconds)
        results[batch] = {"seconds": seconds, "calls": calls, "ids": ids}
        print(f"  {name}: batch {batch}: {seconds:.6g} s/batch ({calls} calls)", flush=True)
    return results


def run_vesta(args, rows_path, queries_path, work_dir):
    """Runs the C++ binary; returns ({batch: result}, informational lines)."""
    prefix = os.path.join(work_dir, "vesta_ids")
    cmd = [args.vesta_bench, "--rows", rows_path, "--queries", queries_path,
           "--dim", str(args.dim), "--k", str(args.k),
           "--batches", ",".join(map(str, args.batches)), "--threads", str(args.threads),
           "--min-seconds", repr(float(args.min_seconds)), "--out-ids", prefix]
    print("+ " + " ".join(cmd), flush=True)
    results, info = {}, []
    # stdout is read line by line so progress shows while it runs; stderr goes
    # straight through to ours.
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, bufsize=1) as proc:
        for line in proc.stdout:
            line = line.rstrip("\n")
            if not line.startswith("{"):
                info.append(line)
                print(f"  vesta: {line}", flush=True)
                continue
            r = json.loads(line)
            batch = int(r["batch"])
            results[batch] = {"seconds": float(r["seconds_per_batch"]), "calls": int(r["calls"])}
            print(f"  vesta: batch {batch}: {results[batch]['seconds']:.6g} s/batch "
                  f"({results[batch]['calls']} calls)", flush=True)
    if proc.returncode != 0:
        sys.exit(f"faiss_compare: {args.vesta_bench} exited with status {proc.returncode}")
    for batch in args.batches:
        if batch not in results:
            sys.exit(f"faiss_compare: {args.vesta_bench} printed no JSON line for batch {batch}")
        path = f"{prefix}.b{batch}.i64"
        expected = QUERIES * args.k * 8
        if not os.path.exists(path) or os.path.getsize(path) != expected:
            size = os.path.getsize(path) if os.path.exists(path) else "missing"
            sys.exit(f"faiss_compare: {path}: {size} bytes, expected {expected} "
                     f"({QUERIES} x {args.k} int64)")
        results[batch]["ids"] = np.fromfile(path, dtype="<i8").reshape(QUERIES, args.k)
    return results, info


# ----------------------------------------------------------------------- report

def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info():
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    info = {"cpu": cpu_model(), "cores": os.cpu_count(), "cores_usable": usable,
            "python": platform.python_version(), "platform": platform.platform(),
            "faiss": faiss.__version__, "numpy": np.__version__}
    try:
        info["faiss_compile_options"] = faiss.get_compile_options()
    except AttributeError:
        pass
    try:
        with open("/proc/meminfo") as f:
            info["mem_total_kib"] = int(f.readline().split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return info


def report_load(name, load):
    cores = load.cores()
    if cores is not None:
        print(f"  {name}: other processes kept {cores:.2f} cores busy on average", flush=True)
    return cores


def build_report(args, measured, exact, vesta_info, other_load):
    k = args.k
    rows, checks = [], []
    for batch in args.batches:
        v, f, s = (measured[name][batch] for name in ("vesta", "faiss_flat_ip", "faiss_sq_fp16"))
        r = {
            "batch": batch,
            "vesta_seconds": v["seconds"], "vesta_calls": v["calls"],
            "faiss_flat_ip_seconds": f["seconds"], "faiss_flat_ip_calls": f["calls"],
            "faiss_sq_fp16_seconds": s["seconds"], "faiss_sq_fp16_calls": s["calls"],
            "ratio_vs_flat_ip": v["seconds"] / f["seconds"],
            "ratio_vs_sq_fp16": v["seconds"] / s["seconds"],
            "recall_vesta": recall_at_k(v["ids"], exact),
            "recall_faiss_flat_ip": recall_at_k(f["ids"], exact),
            "recall_faiss_sq_fp16": recall_at_k(s["ids"], exact),
        }
        marks = {}
        if batch in TARGET_FLAT_RATIO:
            limit = TARGET_FLAT_RATIO[batch]
            marks["flat"] = r["ratio_vs_flat_ip"] <= limit
            checks.append((f"batch {batch}: Vesta/FlatIP <= {limit}", r["ratio_vs_flat_ip"],
                           marks["flat"]))
        marks["sq"] = r["ratio_vs_sq_fp16"] < TARGET_SQ_RATIO
        checks.append((f"batch {batch}: Vesta/SQfp16 < {TARGET_SQ_RATIO}", r["ratio_vs_sq_fp16"],
                       marks["sq"]))
        marks["recall"] = r["recall_vesta"] >= TARGET_RECALL
        checks.append((f"batch {batch}: Vesta recall@{k} >= {TARGET_RECALL}", r["recall_vesta"],
                       marks["recall"]))
        r["targets"] = marks
        rows.append(r)

    def mark(ok):
        return "" if ok is None else (" PASS" if ok else " MISS")

    m = machine_info()
    lines = [
        f"N = {args.rows:,}, d = {args.dim}, k = {k}, Q = {QUERIES}, threads = {args.threads}, "
        f"seed = {args.seed}, min {args.min_seconds:g} s per timing",
        f"CPU: {m['cpu']} ({m['cores']} cores); faiss-cpu {m['faiss']}, numpy {m['numpy']}",
        "",
        f"| batch | Vesta s/batch | FAISS FlatIP s/batch | FAISS SQfp16 s/batch "
        f"| Vesta/FlatIP | Vesta/SQfp16 | recall@{k} Vesta | recall@{k} FlatIP "
        f"| recall@{k} SQfp16 |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        t = r["targets"]
        lines.append(
            f"| {r['batch']} | {r['vesta_seconds']:.4g} | {r['faiss_flat_ip_seconds']:.4g} "
            f"| {r['faiss_sq_fp16_seconds']:.4g} "
            f"| {r['ratio_vs_flat_ip']:.3f}{mark(t.get('flat'))} "
            f"| {r['ratio_vs_sq_fp16']:.3f}{mark(t['sq'])} "
            f"| {r['recall_vesta']:.4f}{mark(t['recall'])} "
            f"| {r['recall_faiss_flat_ip']:.4f} | {r['recall_faiss_sq_fp16']:.4f} |")
    busy = {k: v for k, v in other_load.items() if v is not None and v > MAX_OTHER_CORES}
    if busy:
        lines += ["", "WARNING: other processes were using the CPU during the measurements "
                  "(average cores: " + ", ".join(f"{k} {v:.2f}" for k, v in busy.items()) +
                  "); the timings are not trustworthy: rerun on an idle machine."]
    lines += ["", "Targets:"]
    lines += [f"- {'PASS' if ok else 'MISS'}: {what} (measured {value:.4g})"
              for what, value, ok in checks]
    markdown = "\n".join(lines) + "\n"

    report = {
        "machine": m,
        "config": {"rows": args.rows, "dim": args.dim, "k": k, "queries": QUERIES,
                   "threads": args.threads, "seed": args.seed, "batches": args.batches,
                   "min_seconds": args.min_seconds, "vesta_bench": args.vesta_bench},
        "vesta_info": vesta_info,
        # Average cores kept busy by other processes during each phase.
        "other_load_cores": other_load,
        "timings_trustworthy": not busy,
        "batches": rows,
        "targets": [{"target": what, "measured": value, "pass": ok} for what, value, ok in checks],
        "all_targets_pass": all(ok for _, _, ok in checks),
        "markdown": markdown,
    }
    return markdown, report


# ------------------------------------------------------------------------- main

def main(argv=None):
    args = parse_args(argv)
    faiss.omp_set_num_threads(args.threads)

    # Work dir: made here (and then removed whole) or given (then only the files
    # written here are removed), unless --keep.
    made_dir = args.work_dir is None
    if made_dir:
        data_dir = os.path.join(BENCH_DIR, "data")  # git-ignored
        os.makedirs(data_dir, exist_ok=True)
        work_dir = tempfile.mkdtemp(prefix="tmp", dir=data_dir)
    else:
        work_dir = os.path.abspath(args.work_dir)
        os.makedirs(work_dir, exist_ok=True)
    rows_path = os.path.join(work_dir, "rows.f32")
    queries_path = os.path.join(work_dir, "queries.f32")
    print(f"seed {args.seed}; N {args.rows:,}; d {args.dim}; k {args.k}; Q {QUERIES}; "
          f"batches {args.batches}; threads {args.threads} "
          f"(faiss omp max threads {faiss.omp_get_max_threads()}); work dir {work_dir}",
          flush=True)

    try:
        t0 = time.perf_counter()
        rng = np.random.default_rng(args.seed)
        rows = write_rows(rows_path, rng, args.rows, args.dim)
        queries = unit_rows(rng, QUERIES, args.dim)
        queries.astype("<f4", copy=False).tofile(queries_path)
        print(f"data: {args.rows:,} rows + {QUERIES} queries written "
              f"({os.path.getsize(rows_path) / 1e9:.2f} GB) in {time.perf_counter() - t0:.1f} s",
              flush=True)

        t0 = time.perf_counter()
        exact = exact_top_k(rows, queries, args.k)
        print(f"exact float64 top-{args.k}: {time.perf_counter() - t0:.1f} s", flush=True)

        measured, other_load = {}, {}
        # One index at a time, freed right after its measurement: each holds its
        # own copy of the rows (float32: as large as `rows`; fp16: half).
        t0 = time.perf_counter()
        index = faiss.IndexFlatIP(args.dim)
        index.add(rows)
        print(f"FAISS IndexFlatIP built in {time.perf_counter() - t0:.1f} s", flush=True)
        load = OtherLoad()
        measured["faiss_flat_ip"] = measure_faiss("FAISS FlatIP", index, queries, args.k,
                                                  args.batches, args.min_seconds)
        other_load["faiss_flat_ip"] = report_load("FAISS FlatIP", load)
        del index

        t0 = time.perf_counter()
        index = faiss.IndexScalarQuantizer(args.dim, faiss.ScalarQuantizer.QT_fp16,
                                           faiss.METRIC_INNER_PRODUCT)
        index.train(rows[:min(len(rows), 10_000)])  # a no-op for QT_fp16
        index.add(rows)
        print(f"FAISS IndexScalarQuantizer(QT_fp16) built in {time.perf_counter() - t0:.1f} s",
              flush=True)
        load = OtherLoad()
        measured["faiss_sq_fp16"] = measure_faiss("FAISS SQfp16", index, queries, args.k,
                                                  args.batches, args.min_seconds)
        other_load["faiss_sq_fp16"] = report_load("FAISS SQfp16", load)
        del index
        # The binary loads its own copy; ours is not needed any more, and this
        # process stays idle while the binary runs.
        del rows

        load = OtherLoad()  # includes the binary's loading of the rows: untimed, but harmless
        measured["vesta"], vesta_info = run_vesta(args, rows_path, queries_path, work_dir)
        other_load["vesta"] = report_load("Vesta", load)
    finally:
        if not args.keep:
            if made_dir:
                shutil.rmtree(work_dir, ignore_errors=True)
            else:
                for name in ["rows.f32", "queries.f32"] + \
                        [f"vesta_ids.b{b}.i64" for b in args.batches]:
                    try:
                        os.remove(os.path.join(work_dir, name))
                    except FileNotFoundError:
                        pass

    markdown, report = build_report(args, measured, exact, vesta_info, other_load)
    print()
    print(markdown, end="", flush=True)
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(report, f, indent=2)
            f.write("\n")
        print(f"\nreport written to {args.json_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
