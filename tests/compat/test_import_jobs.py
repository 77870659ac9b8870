"""Bulk import jobs (POST /collections/{name}/import, GET/DELETE /jobs/{id}):
200,000 points polled to completion, NDJSON and binary; a job killed mid-way
by SIGKILL resumes at the next start with no duplicates and reports exactly
how far it got; cancellation; bad lines reported with their line numbers under
on_error=skip and abort; idempotency keys; the body limit; and the
re-embedding switch-over (alias swap) under concurrent queries with no failed
query."""

import json
import struct
import threading
import time

import httpx
import numpy as np
import pytest
from qdrant_client import QdrantClient, models

from test_durability import Server

DIM = 8


def vector_of(i, dim=DIM):
    rng = np.random.default_rng(i)
    return rng.uniform(-1, 1, dim).astype(np.float16).astype(np.float32)


def ndjson(first, count, dim=DIM, bad=None):
    """Lines {"id", "vector", "payload"}; `bad` maps a 0-based index to a line."""
    lines = []
    for i in range(first, first + count):
        lines.append(json.dumps({"id": i, "vector": vector_of(i, dim).tolist(),
                                 "payload": {"i": i, "tag": f"t{i % 5}"}}))
    for index, line in (bad or {}).items():
        lines[index] = line
    return ("\n".join(lines) + "\n").encode()


def binary(ids, dim=DIM, payloads=None, dtype=np.float32):
    matrix = np.stack([vector_of(int(i), dim) for i in ids]).astype(dtype)
    flags = 1 if payloads is not None else 0
    out = b"VIMP" + struct.pack("<HBBIQ", 1, 0 if dtype == np.float32 else 1, flags, dim,
                                len(ids))
    out += np.asarray(ids, dtype="<u8").tobytes() + matrix.astype(matrix.dtype.newbyteorder("<")).tobytes()
    if payloads is not None:
        text = "\n".join(json.dumps(p) for p in payloads).encode()
        out += struct.pack("<Q", len(text)) + text
    return out


class Api:
    def __init__(self, server):
        self.http = httpx.Client(base_url=server.url, timeout=120)

    def create(self, name, dim=DIM):
        r = self.http.put(f"/collections/{name}",
                          json={"vectors": {"size": dim, "distance": "Euclid"}})
        assert r.status_code == 200, r.text

    def submit(self, name, body, expect=202, **params):
        r = self.http.post(f"/collections/{name}/import", content=body, params=params)
        assert r.status_code == expect, r.text
        return r.json()["result"]

    def job(self, job_id):
        r = self.http.get(f"/jobs/{job_id}")
        assert r.status_code == 200, r.text
        return r.json()["result"]

    def wait(self, job_id, timeout=180):
        seen = []
        deadline = time.time() + timeout
        while time.time() < deadline:
            job = self.job(job_id)
            seen.append(job)
            if job["state"] in ("completed", "failed", "cancelled"):
                return job, seen
            time.sleep(0.05)
        raise AssertionError(f"job {job_id} did not finish: {seen[-1]}")

    def count(self, name):
        r = self.http.post(f"/collections/{name}/points/count", json={"exact": True})
        return r.json()["result"]["count"]


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path / "data")
    yield s
    if s.proc.poll() is None:
        s.stop()


def test_an_import_of_200000_points_is_polled_to_completion(server):
    api = Api(server)
    api.create("docs")
    job = api.submit("docs", ndjson(0, 200_000), idempotency_key="load-1")
    assert job["state"] == "queued" and job["points_total"] == 200_000
    done, seen = api.wait(job["id"])
    assert done["state"] == "completed", done
    assert done["points_done"] == 200_000 and done["points_skipped"] == 0 and not done["errors"]
    progress = [j["points_done"] for j in seen]
    assert progress == sorted(progress), "progress went backwards"
    running = [j for j in seen if j["state"] == "running" and 0 < j["points_done"] < 200_000]
    assert running, "never saw the job mid-way"
    assert any(j["rate"] > 0 and j["eta_seconds"] is not None for j in running)
    assert done["rate"] > 0
    print(f"NDJSON import: {done['rate']:.0f} points/s")
    assert api.count("docs") == 200_000
    client = QdrantClient(url=server.url)
    for p in client.retrieve("docs", [0, 77_777, 199_999], with_vectors=True):
        np.testing.assert_array_equal(np.array(p.vector, dtype=np.float32), vector_of(p.id))
        assert p.payload == {"i": p.id, "tag": f"t{p.id % 5}"}
    # The same key again: the same job, not a second import.
    again = api.submit("docs", ndjson(0, 10), expect=200, idempotency_key="load-1")
    assert again["id"] == job["id"]
    assert any(j["id"] == job["id"] for j in api.http.get("/jobs").json()["result"])


@pytest.mark.parametrize("dtype", [np.float32, np.float16], ids=["float32", "float16"])
def test_a_binary_import_with_payloads(server, dtype):
    api = Api(server)
    api.create("docs")
    ids = list(range(1000, 51_000))
    payloads = [{"i": i} if i % 3 else None for i in ids]
    job = api.submit("docs", binary(ids, payloads=payloads, dtype=dtype), format="binary")
    done, _ = api.wait(job["id"])
    assert done["state"] == "completed" and done["points_done"] == 50_000, done
    client = QdrantClient(url=server.url)
    for p in client.retrieve("docs", [1000, 1001, 50_999], with_vectors=True):
        np.testing.assert_array_equal(np.array(p.vector, dtype=np.float32), vector_of(p.id))
        assert p.payload == ({"i": p.id} if p.id % 3 else {})


def test_bad_binary_bodies_are_refused_at_once(server):
    api = Api(server)
    api.create("docs")
    for body, words in [(b"nope", "header"), (binary([1, 2], dim=4), "size 8"),
                        (binary([1, 2])[:-3], "does not fit")]:
        r = api.http.post("/collections/docs/import", content=body, params={"format": "binary"})
        assert r.status_code == 400, r.text
        assert words in r.json()["status"]["error"], r.text
    r = api.http.post("/collections/missing/import", content=ndjson(0, 1))
    assert r.status_code == 404
    r = api.http.post("/collections/docs/import", content=ndjson(0, 1), params={"format": "csv"})
    assert r.status_code == 400 and "format" in r.text
    r = api.http.post("/collections/docs/import", content=ndjson(0, 1), params={"on_error": "x"})
    assert r.status_code == 400 and "on_error" in r.text
    assert api.http.get("/jobs/import-0000").status_code == 404


def test_bad_lines_are_reported_with_their_line_numbers(server):
    api = Api(server)
    api.create("docs")
    bad = {4: "{not json", 9: json.dumps({"id": 9, "vector": [1, 2]}),
           12: json.dumps({"vector": vector_of(1).tolist()}),
           15: json.dumps({"id": 15, "vector": [1e9] * DIM})}
    skip = api.submit("docs", ndjson(0, 20, bad=bad))
    done, _ = api.wait(skip["id"])
    assert done["state"] == "completed"
    assert done["points_done"] == 16 and done["points_skipped"] == 4
    assert [e["line"] for e in done["errors"]] == [5, 10, 13, 16]
    assert "size is 8" in done["errors"][1]["message"]
    assert "id is required" in done["errors"][2]["message"]
    assert api.count("docs") == 16

    api.create("strict")
    abort = api.submit("strict", ndjson(0, 20, bad=bad), on_error="abort")
    done, _ = api.wait(abort["id"])
    assert done["state"] == "failed"
    assert done["failure"].startswith("line 5: ") and "on_error=abort" in done["failure"]
    assert done["points_done"] == 4 and api.count("strict") == 4


def test_a_cancelled_job_stops_and_keeps_what_it_imported(server):
    api = Api(server)
    api.create("docs", dim=256)
    job = api.submit("docs", ndjson(0, 60_000, dim=256))
    deadline = time.time() + 60
    while api.job(job["id"])["points_done"] == 0 and time.time() < deadline:
        time.sleep(0.01)
    cancelled = api.http.delete(f"/jobs/{job['id']}").json()["result"]
    assert cancelled["id"] == job["id"]
    done, _ = api.wait(job["id"])
    assert done["state"] == "cancelled", done
    assert 0 < done["points_done"] < 60_000
    assert api.count("docs") == done["points_done"]


def test_an_import_killed_mid_way_resumes_at_the_next_start_without_duplicates(tmp_path):
    server = Server(tmp_path / "data")
    api = Api(server)
    api.create("docs", dim=256)
    total = 60_000
    job = api.submit("docs", ndjson(0, total, dim=256))
    deadline = time.time() + 60
    while time.time() < deadline:
        state = api.job(job["id"])
        if state["points_done"] >= 8192:
            break
        time.sleep(0.01)
    server.kill()
    assert state["points_done"] < total, "finished before the kill; make the import larger"

    server = Server(tmp_path / "data")
    try:
        api = Api(server)
        resumed = api.job(job["id"])
        assert resumed["restarts"] == 1
        # Never more than is durable: what it reported is there.
        assert resumed["points_done"] >= state["points_done"]
        assert api.count("docs") >= resumed["points_done"]
        done, _ = api.wait(job["id"])
        assert done["state"] == "completed", done
        assert done["points_done"] == total and done["points_skipped"] == 0
        assert api.count("docs") == total
        ids = set()
        client = QdrantClient(url=server.url)
        offset = None
        while True:
            points, offset = client.scroll("docs", limit=10_000, offset=offset)
            ids.update(p.id for p in points)
            if offset is None:
                break
        assert ids == set(range(total))
    finally:
        server.stop()


def test_an_import_over_the_limit_is_413_naming_the_option(tmp_path):
    server = Server(tmp_path / "data", "--max-import-bytes", "64K")
    try:
        api = Api(server)
        api.create("docs")
        r = api.http.post("/collections/docs/import", content=ndjson(0, 2000))
        assert r.status_code == 413 and "--max-import-bytes" in r.text
        # Other routes keep their own limit; a small import passes.
        api.submit("docs", ndjson(0, 10))
    finally:
        server.stop()


def test_an_import_body_is_written_to_a_file_that_the_job_takes_over(tmp_path):
    # Not held in memory: the body goes to DATA-DIR/uploads as it arrives
    # (so --max-body-bytes does not bound it), the job takes the file over,
    # and nothing is left behind; the API key is checked before the body is
    # read.
    data = tmp_path / "data"
    server = Server(data, "--max-body-bytes", "4K", "--api-key", "secret")
    try:
        api = Api(server)
        api.http.headers["api-key"] = "secret"
        api.create("docs")
        body = ndjson(0, 3000)
        assert len(body) > 100_000
        job = api.submit("docs", body)
        done, _ = api.wait(job["id"])
        assert done["state"] == "completed" and done["points_done"] == 3000, done
        assert api.count("docs") == 3000
        assert list((data / "uploads").iterdir()) == []
        r = httpx.post(f"{server.url}/collections/docs/import", content=body)
        assert r.status_code == 401, r.text
        assert list((data / "uploads").iterdir()) == []
        assert len(api.http.get("/jobs").json()["result"]) == 1
    finally:
        server.stop()


def anon_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no RssAnon")


def test_an_import_leaves_the_server_holding_little_more_than_the_points(tmp_path):
    # The import's megabyte buffers (chunks, log records) go back to the
    # system when freed, instead of staying in the heap behind the small
    # allocations that outlive them (glibc's default).
    server = Server(tmp_path / "data", "--wal-fsync", "group")
    try:
        api = Api(server)
        dim, n = 768, 50_000
        api.create("docs", dim=dim)
        rng = np.random.default_rng(3)
        matrix = rng.uniform(-1, 1, (n, dim)).astype(np.float32)
        body = (b"VIMP" + struct.pack("<HBBIQ", 1, 0, 0, dim, n)
                + np.arange(n, dtype="<u8").tobytes() + matrix.astype("<f4").tobytes())
        before = anon_rss_mib(server.proc.pid)
        done, _ = api.wait(api.submit("docs", body, format="binary")["id"])
        assert done["state"] == "completed", done
        rows_mib = n * dim * 2 / 2**20
        grown = anon_rss_mib(server.proc.pid) - before
        # Measured: 94 MiB now, 118 MiB with glibc's default (73 MiB of rows).
        assert grown < 1.45 * rows_mib, f"grew {grown:.0f} MiB for {rows_mib:.0f} MiB of rows"
    finally:
        server.stop()


def test_the_alias_swap_under_concurrent_queries_fails_no_query(server):
    """The re-embedding switch-over of docs/reembedding.md."""
    api = Api(server)
    api.create("docs")
    api.wait(api.submit("docs", ndjson(0, 5000))["id"])
    r = api.http.post("/collections/aliases", json={"actions": [
        {"create_alias": {"collection_name": "docs", "alias_name": "docs_live"}}]})
    assert r.status_code == 200, r.text
    api.create("docs_v2", dim=16)
    failures, answered = [], []
    stop = threading.Event()

    def query():
        client = httpx.Client(base_url=server.url, timeout=30)
        while not stop.is_set():
            r = client.get("/collections/docs_live")
            if r.status_code != 200:
                failures.append(r.text)
                continue
            dim = r.json()["result"]["config"]["params"]["vectors"]["size"]
            r = client.post("/collections/docs_live/points/query",
                            json={"query": [0.5] * dim, "limit": 3})
            # Between the two calls the alias may have moved: a 400 for the
            # other size is the client's race, not the server's; anything
            # else is a failure.
            if r.status_code == 200:
                answered.append(len(r.json()["result"]["points"]))
            elif not (r.status_code == 400 and "values" in r.text):
                failures.append(r.text)

    threads = [threading.Thread(target=query) for _ in range(4)]
    for t in threads:
        t.start()
    api.wait(api.submit("docs_v2", ndjson(0, 5000, dim=16))["id"])
    r = api.http.post("/collections/aliases", json={"actions": [
        {"delete_alias": {"alias_name": "docs_live"}},
        {"create_alias": {"collection_name": "docs_v2", "alias_name": "docs_live"}}]})
    assert r.status_code == 200, r.text
    time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join()
    assert not failures, failures[:3]
    assert answered and all(n == 3 for n in answered)
    info = api.http.get("/collections/docs_live").json()["result"]
    assert info["config"]["params"]["vectors"]["size"] == 16
    assert api.http.delete("/collections/docs").status_code == 200
