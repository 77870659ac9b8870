"""Vesta's CPU flat search against faiss-cpu, on the same data in the same run.

Measures, for each batch size (default 1, 16, 256), the median time of one
search call of k = 10 nearest neighbours by inner product over N unit-length
random rows (d = 768):

  * Vesta: float16 rows, float32 queries (bench/flat_bench.cpp, a subprocess);
  * FAISS IndexFlatIP: float32 rows;
  * FAISS IndexScalarQuantizer QT_fp16: float16 rows;

and recall@k of each against the exact top-k computed in float64.

Timing protocol (the same on both sides): consecutive blocks of `batch`
queries, cycling through the Q = 256 queries; one untimed warm-up call; then
timed calls until --min-seconds have passed and at least 3 calls were made;
the median is reported. Every side uses --threads threads.

Run it through bench/run_faiss_compare.sh (it makes the virtual environment):
  bench/run_faiss_compare.sh            # N = 1,000,000
  bench/run_faiss_compare.sh --quick    # N = 200,000
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


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--vesta-bench", required=True, help="path to vesta_flat_bench")
    p.add_argument("--quick", action="store_true", help="N = 200,000 and shorter timing")
    p.add_argument("--rows", type=int, help="N (default 1,000,000; 200,000 with --quick)")
    p.add_argument("--dim", type=int, default=768)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--batches", default="1,16,256")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--min-seconds", type=float, help="default 3 (1.5 with --quick)")
    p.add_argument("--seed", type=int, default=None, help="numpy seed (default: random, printed)")
    p.add_argument("--work-dir", help="where the raw data files go (default: bench/data/tmp*)")
    p.add_argument("--keep", action="store_true", help="keep the work dir")
    p.add_argument("--json-out", help="write the results as JSON here")
    a = p.parse_args()
    if a.rows is None:
        a.rows = 200_000 if a.quick else 1_000_000
    if a.min_seconds is None:
        a.min_seconds = 1.5 if a.quick else 3.0
    if a.seed is None:
        a.seed = int.from_bytes(os.urandom(4), "little")
    a.batches = [int(b) for b in a.batches.split(",")]
    return a


def unit_rows(rng, n, d):
    x = rng.standard_normal((n, d), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def write_rows(path, rng, n, d, chunk=100_000):
    """Writes n unit rows to a raw float32 file, chunk by chunk; returns them."""
    out = np.empty((n, d), dtype=np.float32)
    with open(path, "wb") as f:
        for start in range(0, n, chunk):
            block = unit_rows(rng, min(chunk, n - start), d)
            out[start:start + len(block)] = block
            f.write(block.tobytes())
    return out


def exact_top_k(rows, queries, k, chunk=65_536):
    """Top-k row indices by inner product, computed in float64."""
    q64 = queries.astype(np.float64)
    best_scores = np.full((len(queries), 0), -np.inf)
    best_ids = np.zeros((len(queries), 0), dtype=np.int64)
    for start in range(0, len(rows), chunk):
        scores = q64 @ rows[start:start + chunk].astype(np.float64).T
        ids = np.arange(start, start + scores.shape[1], dtype=np.int64)
        all_scores = np.concatenate([best_scores, scores], axis=1)
        all_ids = np.concatenate([best_ids, np.broadcast_to(ids, scores.shape)], axis=1)
        keep = np.argsort(-all_scores, axis=1, kind="stable")[:, :k]
        best_scores = np.take_along_axis(all_scores, keep, axis=1)
        best_ids = np.take_along_axis(all_ids, keep, axis=1)
    return best_ids


def recall(found, exact):
    k = exact.shape[1]
    hits = sum(len(set(f[f >= 0]) & set(e)) for f, e in zip(found, exact))
    return hits / (len(exact) * k)


def time_calls(search, batch, min_seconds):
    """The protocol of the module docstring; returns (median seconds, calls)."""
    blocks = QUERIES // batch
    search(0)  # warm-up
    times = []
    start = time.perf_counter()
    call = 1
    while len(times) < 3 or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        search(call % blocks)
        times.append(time.perf_counter() - t0)
        call += 1
    return float(np.median(times)), len(times)


def measure_faiss(index, queries, k, batches, min_seconds):
    results = {}
    for batch in batches:
        blocks = QUERIES // batch
        ids = np.concatenate(
            [index.search(queries[b * batch:(b + 1) * batch], k)[1] for b in range(blocks)])
        seconds, calls = time_calls(
            lambda b: index.search(queries[b * batch:(b + 1) * batch], k), batch, min_seconds)
        results[batch] = {"seconds": seconds, "calls": calls, "ids": ids}
    return results


def measure_vesta(args, rows_path, queries_path, work_dir):
    prefix = os.path.join(work_dir, "vesta_ids")
    cmd = [args.vesta_bench, "--rows", rows_path, "--queries", queries_path,
           "--dim", str(args.dim), "--k", str(args.k),
           "--batches", ",".join(map(str, args.batches)), "--threads", str(args.threads),
           "--min-seconds", str(args.min_seconds), "--out-ids", prefix]
    print("+ " + " ".join(cmd), flush=True)
    proc = subprocess.run(cmd, check=True, capture_output=True, text=True)
    results = {}
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            r = json.loads(line)
            ids = np.fromfile(f"{prefix}.b{r['batch']}.i64", dtype=np.int64)
            results[r["batch"]] = {"seconds": r["seconds_per_batch"], "calls": r["calls"],
                                   "ids": ids.reshape(QUERIES, args.k)}
        else:
            print("  vesta: " + line, flush=True)
    return results


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main():
    args = parse_args()
    for b in args.batches:
        if b < 1 or b > QUERIES or QUERIES % b != 0:
            sys.exit(f"batch {b}: batch sizes must divide {QUERIES}")
    faiss.omp_set_num_threads(args.threads)
    os.makedirs(os.path.join(os.path.dirname(__file__), "data"), exist_ok=True)
    work_dir = args.work_dir or tempfile.mkdtemp(
        prefix="tmp", dir=os.path.join(os.path.dirname(__file__), "data"))
    os.makedirs(work_dir, exist_ok=True)
    print(f"seed {args.seed}; N {args.rows:,}; d {args.dim}; k {args.k}; threads {args.threads}; "
          f"work dir {work_dir}", flush=True)
    try:
        rng = np.random.default_rng(args.seed)
        rows_path = os.path.join(work_dir, "rows.f32")
        queries_path = os.path.join(work_dir, "queries.f32")
        rows = write_rows(rows_path, rng, args.rows, args.dim)
        queries = unit_rows(rng, QUERIES, args.dim)
        queries.tofile(queries_path)

        t0 = time.perf_counter()
        exact = exact_top_k(rows, queries, args.k)
        print(f"exact float64 top-{args.k}: {time.perf_counter() - t0:.1f} s", flush=True)

        measured = {}
        flat = faiss.IndexFlatIP(args.dim)
        flat.add(rows)
        measured["faiss_flat_ip"] = measure_faiss(flat, queries, args.k, args.batches,
                                                  args.min_seconds)
        del flat
        sq = faiss.IndexScalarQuantizer(args.dim, faiss.ScalarQuantizer.QT_fp16,
                                        faiss.METRIC_INNER_PRODUCT)
        sq.train(rows[:1000])
        sq.add(rows)
        measured["faiss_sq_fp16"] = measure_faiss(sq, queries, args.k, args.batches,
                                                  args.min_seconds)
        del sq
        del rows
        measured["vesta"] = measure_vesta(args, rows_path, queries_path, work_dir)
    finally:
        if not args.keep:
            shutil.rmtree(work_dir, ignore_errors=True)

    report = {
        "machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "python": platform.python_version(),
                    "faiss": faiss.__version__, "numpy": np.__version__},
        "config": {"rows": args.rows, "dim": args.dim, "k": args.k, "threads": args.threads,
                   "seed": args.seed, "queries": QUERIES, "min_seconds": args.min_seconds},
        "batches": [],
    }
    print()
    print(f"N = {args.rows:,}, d = {args.dim}, k = {args.k}, threads = {args.threads}, "
          f"faiss-cpu {faiss.__version__}, {cpu_model()}")
    print()
    print("| batch | Vesta s/batch | FAISS FlatIP s/batch | FAISS SQfp16 s/batch "
          "| Vesta/FlatIP | Vesta/SQfp16 | recall@k Vesta | FlatIP | SQfp16 |")
    print("|---|---|---|---|---|---|---|---|---|")
    for batch in args.batches:
        v = measured["vesta"][batch]
        f = measured["faiss_flat_ip"][batch]
        s = measured["faiss_sq_fp16"][batch]
        row = {
            "batch": batch,
            "vesta_s": v["seconds"], "faiss_flat_ip_s": f["seconds"], "faiss_sq_fp16_s": s["seconds"],
            "ratio_flat_ip": v["seconds"] / f["seconds"], "ratio_sq_fp16": v["seconds"] / s["seconds"],
            "recall_vesta": recall(v["ids"], exact), "recall_flat_ip": recall(f["ids"], exact),
            "recall_sq_fp16": recall(s["ids"], exact),
        }
        target_flat = {1: 0.6, 256: 1.0}.get(batch)
        marks = []
        if target_flat is not None:
            marks.append(("PASS" if row["ratio_flat_ip"] <= target_flat else "MISS") +
                         f" (target <= {target_flat})")
        marks.append("PASS" if row["ratio_sq_fp16"] < 1.0 else "MISS")
        marks.append("PASS" if row["recall_vesta"] >= 0.99 else "MISS")
        row["targets"] = marks
        report["batches"].append(row)
        print(f"| {batch} | {v['seconds']:.4g} | {f['seconds']:.4g} | {s['seconds']:.4g} "
              f"| {row['ratio_flat_ip']:.3f} {marks[0] if target_flat else ''} "
              f"| {row['ratio_sq_fp16']:.3f} {marks[-2]} "
              f"| {row['recall_vesta']:.4f} {marks[-1]} | {row['recall_flat_ip']:.4f} "
              f"| {row['recall_sq_fp16']:.4f} |")
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(report, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
