"""Bulk import rate and query latency during an import.

1. The same N points (d = 768 by default, real-looking: per-dimension scales,
   a shared direction, L2-normalised, float16-representable; a small payload
   each) are imported
   - into `vesta serve` with file storage (fsync always) through one binary
     import job (POST /collections/{name}/import), timed from the POST until
     the job says completed (durable);
   - the same into `vesta serve --postgres URL`, when given;
   - into milvus-lite (MilvusClient on a local file) with insert() in batches
     of 5,000, timed until the last insert returned and flush() did.
2. Query latency: 4 threads send JSON queries (/points/query, limit 10) to the
   loaded Vesta server for --query-seconds, first alone, then while a second
   import of N points runs into another collection; p50/p99 of each.

Prints a Markdown table for docs/benchmarks.md.
"""

import argparse
import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
import threading
import time

import httpx
import numpy as np


def embeddings(n, dim, seed=42):
    rng = np.random.default_rng(seed)
    scales = np.exp(rng.normal(0, 0.5, dim)).astype(np.float32)
    mean = rng.normal(0, 1, dim).astype(np.float32)
    x = rng.normal(0, 1, (n, dim)).astype(np.float32) * scales + 0.5 * mean
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float16).astype(np.float32)


def binary_body(ids, matrix, payloads):
    text = "\n".join(json.dumps(p) for p in payloads).encode()
    header = b"VIMP" + struct.pack("<HBBIQ", 1, 0, 1, matrix.shape[1], len(ids))
    return b"".join([header, np.asarray(ids, dtype="<u8").tobytes(),
                     matrix.astype("<f4").tobytes(), struct.pack("<Q", len(text)), text])


class Vesta:
    def __init__(self, binary, data_dir, *extra):
        self.proc = subprocess.Popen(
            [binary, "serve", "--port", "0", "--access-log", "off", "--data-dir", data_dir,
             "--max-import-bytes", "4G", *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.url = None
        for line in self.proc.stderr:
            m = re.search(r"listening on (http://[0-9.]+:[0-9]+)", line)
            if m:
                self.url = m.group(1)
                break
        assert self.url, "vesta serve did not start"
        threading.Thread(target=lambda: [None for _ in self.proc.stderr], daemon=True).start()
        self.http = httpx.Client(base_url=self.url, timeout=600)

    def create(self, name, dim):
        r = self.http.put(f"/collections/{name}", json={"vectors": {"size": dim, "distance": "Cosine"}})
        r.raise_for_status()

    def start_import(self, name, body):
        r = self.http.post(f"/collections/{name}/import", content=body,
                           params={"format": "binary"})
        assert r.status_code == 202, r.text
        return r.json()["result"]["id"]

    def wait(self, job_id):
        while True:
            job = self.http.get(f"/jobs/{job_id}").json()["result"]
            if job["state"] in ("completed", "failed", "cancelled"):
                assert job["state"] == "completed", job
                return job
            time.sleep(0.02)

    def import_rate(self, name, body, n):
        start = time.perf_counter()
        self.wait(self.start_import(name, body))
        return n / (time.perf_counter() - start)

    def anon_rss_mib(self):
        """The server's anonymous resident memory now (RssAnon: not the
        pages of files it maps, which the kernel may drop), MiB."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) / 1024
        return float("nan")

    def import_rate_and_peak(self, name, body, n):
        """import_rate, and the highest RssAnon growth seen (every 20 ms)
        while the body was sent (until the POST was answered) and while the
        whole import ran, MiB."""
        start = self.anon_rss_mib()
        peak = [start]
        done = threading.Event()

        def sample():
            while not done.is_set():
                peak[0] = max(peak[0], self.anon_rss_mib())
                time.sleep(0.02)

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            began = time.perf_counter()
            job = self.start_import(name, body)
            sending = max(peak[0], self.anon_rss_mib()) - start
            self.wait(job)
            return n / (time.perf_counter() - began), sending, peak[0] - start
        finally:
            done.set()
            sampler.join()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=120)


def milvus_rate(path, ids, matrix, payloads, batch=5000):
    from pymilvus import MilvusClient
    client = MilvusClient(path)
    client.create_collection("docs", dimension=matrix.shape[1], metric_type="COSINE")
    start = time.perf_counter()
    for b in range(0, len(ids), batch):
        rows = [{"id": int(ids[i]), "vector": matrix[i].tolist(), **payloads[i]}
                for i in range(b, min(b + batch, len(ids)))]
        client.insert("docs", rows)
    client.flush("docs")
    rate = len(ids) / (time.perf_counter() - start)
    client.close()
    return rate


def query_latencies(url, dim, seconds, threads=4):
    latencies = []
    lock = threading.Lock()
    stop = time.time() + seconds
    rng = np.random.default_rng(7)
    queries = embeddings(256, dim, seed=9)

    def run():
        client = httpx.Client(base_url=url, timeout=60)
        mine = []
        i = int(rng.integers(0, 256))
        while time.time() < stop:
            body = {"query": queries[i % 256].tolist(), "limit": 10}
            t = time.perf_counter()
            r = client.post("/collections/docs/points/query", json=body)
            mine.append(time.perf_counter() - t)
            assert r.status_code == 200, r.text
            i += 1
        with lock:
            latencies.extend(mine)

    ts = [threading.Thread(target=run) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return np.array(latencies)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vesta", required=True)
    ap.add_argument("--points", type=int, default=200_000)
    ap.add_argument("--dim", type=int, default=768)
    ap.add_argument("--postgres", default="")
    ap.add_argument("--query-seconds", type=float, default=10)
    ap.add_argument("--skip-milvus", action="store_true")
    a = ap.parse_args()

    n, dim = a.points, a.dim
    matrix = embeddings(n, dim)
    ids = np.arange(n, dtype=np.uint64)
    payloads = [{"doc": f"doc-{i % 1000}", "chunk": int(i)} for i in range(n)]
    body = binary_body(ids, matrix, payloads)
    print(f"{n} points x {dim}, import body {len(body) / 2**20:.0f} MiB, "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    tmp = tempfile.mkdtemp(prefix="vesta-import-bench-")
    rows = []
    try:
        vesta = Vesta(a.vesta, os.path.join(tmp, "files"))
        vesta.create("docs", dim)
        file_rate, sending_mib, import_mib = vesta.import_rate_and_peak("docs", body, n)
        rows.append(("Vesta, FileStore (fsync always), one binary import job", file_rate))
        print(f"vesta files: {file_rate:.0f} points/s", flush=True)

        alone = query_latencies(vesta.url, dim, a.query_seconds)
        vesta.create("other", dim)
        job = vesta.start_import("other", body)
        during = query_latencies(vesta.url, dim, a.query_seconds)
        second = vesta.wait(job)
        vesta.stop()

        if a.postgres:
            pg = Vesta(a.vesta, os.path.join(tmp, "pg"), "--postgres", a.postgres,
                       "--postgres-workspace", f"import-bench-{os.getpid()}")
            pg.create("docs", dim)
            pg_rate = pg.import_rate("docs", body, n)
            pg.http.delete("/collections/docs")
            pg.stop()
            rows.append(("Vesta, PostgreSQL, one binary import job", pg_rate))
            print(f"vesta postgres: {pg_rate:.0f} points/s", flush=True)

        if not a.skip_milvus:
            m_rate = milvus_rate(os.path.join(tmp, "milvus.db"), ids, matrix, payloads)
            rows.append(("milvus-lite, insert() in batches of 5,000", m_rate))
            print(f"milvus-lite: {m_rate:.0f} points/s", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    peer = rows[-1][1] if not a.skip_milvus else None
    print("\n| import (d = %d, %d points) | points/s | vs milvus-lite |\n|---|---|---|" % (dim, n))
    for name, rate in rows:
        print(f"| {name} | {rate:,.0f} | {rate / peer:.2f}x |" if peer else f"| {name} | {rate:,.0f} | |")
    p = lambda x, q: np.percentile(x, q) * 1000
    print("\n| queries (4 threads, JSON, limit 10) | count | p50 ms | p99 ms |\n|---|---|---|---|")
    print(f"| without an import | {len(alone)} | {p(alone, 50):.2f} | {p(alone, 99):.2f} |")
    print(f"| during an import of {n} points (which ran at {second['rate']:,.0f} points/s) | "
          f"{len(during)} | {p(during, 50):.2f} | {p(during, 99):.2f} |")
    print(f"\np99 during / without: {p(during, 99) / p(alone, 99):.2f}")
    print(f"\n| Vesta server's anonymous memory growth (peak RssAnon, sampled every 20 ms; "
          f"the body {len(body) / 2**20:.0f} MiB, the rows {n * dim * 2 / 2**20:.0f} MiB) | MiB |"
          f"\n|---|---|\n| while the body was sent (until the POST was answered) | "
          f"{sending_mib:.0f} |\n| during the whole first import | {import_mib:.0f} |")


if __name__ == "__main__":
    main()
