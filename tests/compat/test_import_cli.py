"""`vesta import --format ndjson|binary` and `vesta alias` against a real
`vesta serve` started with a small --max-import-bytes, so that files split
into several jobs: NDJSON and binary (float16, payloads with gaps) round
trips checked through qdrant-client, plain progress lines when standard
error is not a terminal, bad lines under --on-error skip and abort (exit
status and the file's line numbers), idempotent re-runs, Ctrl-C cancelling
the jobs, and `vesta alias swap` / `list`."""

import json
import os
import re
import signal
import struct
import subprocess
import time

import httpx
import numpy as np
import pytest
from conftest import ROOT, serve
from qdrant_client import QdrantClient

DIM = 8
# The server's --max-import-bytes, passed to vesta import as well.
LIMIT = "64K"


def vesta_binary():
    return os.environ.get("VESTA_BINARY", os.path.join(ROOT, "build", "app", "vesta"))


@pytest.fixture(scope="module")
def url():
    yield from serve(["--max-import-bytes", LIMIT, "--wal-fsync", "group", "--access-log", "off"])


@pytest.fixture
def qdrant(url):
    c = QdrantClient(url=url, prefer_grpc=False, timeout=30, check_compatibility=False)
    yield c
    for collection in c.get_collections().collections:
        c.delete_collection(collection.name)
    c.close()


def run(url, *args, timeout=60):
    return subprocess.run([vesta_binary(), *args, "--url", url], capture_output=True, text=True,
                          timeout=timeout)


def vesta_import(url, path, fmt, collection, *args):
    return run(url, "import", "--format", fmt, str(path), "--collection", collection,
               "--max-import-bytes", LIMIT, *args)


def vector_of(i):
    return np.random.default_rng(i).uniform(-1, 1, DIM).astype(np.float16).astype(np.float32)


def write_ndjson(path, count, bad=None):
    """`count` points (ids 0..count-1) with payloads; `bad` maps a 1-based
    line number to the text that replaces it."""
    lines = [json.dumps({"id": i, "vector": vector_of(i).tolist(),
                         "payload": {"i": i, "text": "x" * (i % 50)}}) for i in range(count)]
    for line, text in (bad or {}).items():
        lines[line - 1] = text
    path.write_text("\n".join(lines) + "\n")
    return path


def write_binary(path, ids, payloads):
    matrix = np.stack([vector_of(int(i)) for i in ids]).astype("<f2")
    body = b"VIMP" + struct.pack("<HBBIQ", 1, 1, 1, DIM, len(ids))
    body += np.asarray(ids, dtype="<u8").tobytes() + matrix.tobytes()
    section = "".join(("" if p is None else json.dumps(p)) + "\n" for p in payloads).encode()
    path.write_bytes(body + struct.pack("<Q", len(section)) + section)
    return path


def jobs_of(stdout):
    match = re.search(r"with (\d+) jobs? \(([^)]*)\)", stdout)
    assert match, stdout
    return int(match.group(1)), match.group(2).split(", ")


def test_ndjson_file_over_the_limit_is_split_into_jobs_with_plain_progress(url, qdrant, tmp_path):
    path = write_ndjson(tmp_path / "points.ndjson", 3000)
    assert path.stat().st_size > 4 * 64 * 1024
    done = vesta_import(url, path, "ndjson", "docs", "--distance", "Euclid")
    assert done.returncode == 0, done.stderr
    jobs, ids = jobs_of(done.stdout)
    assert jobs >= 4 and len(set(ids)) == jobs
    assert "imported 3000 points from" in done.stdout
    assert "into collection 'docs' (created, dimension 8, Euclid)" in done.stdout
    # Standard error is a pipe: plain lines, never a bar redrawn with \r.
    assert "\r" not in done.stderr
    progress = re.findall(r"^vesta import: (\d+)/3000 points \((\d+)%\)", done.stderr, re.M)
    assert progress and progress[-1] == ("3000", "100"), done.stderr
    assert re.search(r"^vesta import: uploading part 2/\d+: lines \d+-\d+, \d+ bytes$",
                     done.stderr, re.M), done.stderr
    assert qdrant.count("docs").count == 3000
    info = qdrant.get_collection("docs").config.params.vectors
    assert (info.size, info.distance.value) == (DIM, "Euclid")
    [p] = qdrant.retrieve("docs", [2999], with_vectors=True)
    assert p.payload == {"i": 2999, "text": "x" * (2999 % 50)}
    assert p.vector == vector_of(2999).tolist()
    # Every job of the import exists and completed.
    for job_id in ids:
        job = httpx.get(f"{url}/jobs/{job_id}").json()["result"]
        assert job["state"] == "completed" and job["collection"] == "docs"


def test_binary_file_splits_by_rows_with_its_payloads(url, qdrant, tmp_path):
    ids = list(range(10_000, 15_000))
    payloads = [None if i % 10 == 0 else {"i": i} for i in ids]
    path = write_binary(tmp_path / "points.vimp", ids, payloads)
    qdrant.create_collection("bin", vectors_config={"size": DIM, "distance": "Dot"})
    done = vesta_import(url, path, "binary", "bin")
    assert done.returncode == 0, done.stderr
    jobs, _ = jobs_of(done.stdout)
    assert jobs >= 2
    assert "(existing, dimension 8, Dot)" in done.stdout
    assert re.search(r"uploading part 2/\d+: rows \d+-\d+", done.stderr), done.stderr
    assert qdrant.count("bin").count == 5000
    points = qdrant.retrieve("bin", [10_000, 10_001, 14_999], with_vectors=True)
    assert [p.payload for p in points] == [{}, {"i": 10_001}, {"i": 14_999}]
    assert points[2].vector == vector_of(14_999).tolist()


def test_a_bad_line_under_abort_fails_naming_its_line_in_the_file(url, qdrant, tmp_path):
    path = write_ndjson(tmp_path / "bad.ndjson", 3000,
                        bad={2500: json.dumps({"id": 2499, "vector": [1.0, 2.0]})})
    done = vesta_import(url, path, "ndjson", "abort", "--on-error", "abort")
    assert done.returncode == 1, done.stderr
    assert re.search(r"job import-\w+ \(part \d+/\d+, lines \d+-\d+\) failed: line 2500: vector "
                     r"has 2 values, the collection's size is 8", done.stderr), done.stderr
    assert "  line 2500: vector has 2 values" in done.stderr
    assert "2499 points were imported into 'abort' before it stopped" in done.stderr
    # Later parts were never submitted: nothing past the bad line.
    assert qdrant.count("abort").count == 2499
    assert "imported" not in done.stdout


def test_bad_lines_under_skip_are_listed_and_the_rest_imported(url, qdrant, tmp_path):
    path = write_ndjson(tmp_path / "skip.ndjson", 2000, bad={3: "{oops", 1999: "[1, 2]"})
    done = vesta_import(url, path, "ndjson", "skip")
    assert done.returncode == 0, done.stderr
    assert "skipped 2 bad points (--on-error skip)" in done.stderr
    assert re.search(r"^  line 3: ", done.stderr, re.M), done.stderr
    assert re.search(r"^  line 1999: a line must be a JSON object", done.stderr, re.M)
    assert "; skipped 2 bad points" in done.stdout
    assert qdrant.count("skip").count == 1998


def test_an_idempotency_key_makes_a_rerun_import_nothing_again(url, qdrant, tmp_path):
    path = write_ndjson(tmp_path / "once.ndjson", 1500)
    first = vesta_import(url, path, "ndjson", "once", "--idempotency-key", "once-1")
    assert first.returncode == 0, first.stderr
    again = vesta_import(url, path, "ndjson", "once", "--idempotency-key", "once-1")
    assert again.returncode == 0, again.stderr
    assert jobs_of(again.stdout)[1] == jobs_of(first.stdout)[1]
    assert "following the existing job" in again.stderr
    assert "idempotency key once-1-part1of" in again.stderr
    assert qdrant.count("once").count == 1500


def test_ctrl_c_cancels_the_jobs_and_says_so(url, qdrant, tmp_path):
    # Under abort the parts go one after another: a long series of jobs.
    path = write_ndjson(tmp_path / "long.ndjson", 60_000)
    proc = subprocess.Popen([vesta_binary(), "import", "--format", "ndjson", str(path),
                             "--collection", "long", "--max-import-bytes", LIMIT,
                             "--on-error", "abort", "--url", url],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 20
    lines = []
    while time.time() < deadline:
        line = proc.stderr.readline()
        lines.append(line)
        if not line or re.match(r"vesta import: job import-\w+ \(part 2/", line):
            break
    proc.send_signal(signal.SIGINT)
    stdout, rest = proc.communicate(timeout=30)
    stderr = "".join(lines) + rest
    assert proc.returncode == 130, stderr
    # The job in hand is cancelled, unless it completed before the signal
    # was seen (each job here holds a few hundred points).
    assert re.search(r"interrupted: (cancelled job|job) import-\w+ \(part \d+/\d+, lines "
                     r"\d+-\d+\)", stderr), stderr
    assert re.search(r"interrupted; \d+ points of .* were imported into 'long'; parts \d+-\d+ "
                     r"not submitted", stderr), stderr
    jobs = httpx.get(f"{url}/jobs").json()["result"]
    assert not [j for j in jobs if j["state"] in ("queued", "running")]
    assert qdrant.count("long").count < 60_000


def test_usage_and_file_errors(url, tmp_path):
    path = write_ndjson(tmp_path / "p.ndjson", 10)
    usage = run(url, "import", "--format", "ndjson", str(path), "--collection", "c",
                "--batch-points", "10")
    assert usage.returncode == 2
    assert "--batch-points applies to --format lightrag-nano only" in usage.stderr
    long_line = tmp_path / "long-line.ndjson"
    long_line.write_text("\n" + json.dumps({"id": 1, "vector": [0.5] * 20000}) + "\n")
    too_long = vesta_import(url, long_line, "ndjson", "c")
    assert too_long.returncode == 1
    assert "line 2 is" in too_long.stderr and "--max-import-bytes 65536" in too_long.stderr
    broken = tmp_path / "broken.vimp"
    broken.write_bytes(b"VIMP" + struct.pack("<HBBIQ", 1, 0, 0, DIM, 3) + b"\0" * 10)
    refused = vesta_import(url, broken, "binary", "c")
    assert refused.returncode == 1 and "does not fit" in refused.stderr
    missing = vesta_import(url, tmp_path / "nope.ndjson", "ndjson", "c")
    assert missing.returncode == 1 and "cannot open" in missing.stderr


def test_alias_swap_repoints_atomically_and_list_shows_it(url, qdrant, tmp_path):
    for name in ("docs_v1", "docs_v2"):
        qdrant.create_collection(name, vectors_config={"size": DIM, "distance": "Cosine"})
    created = run(url, "alias", "swap", "docs_live", "--to", "docs_v1")
    assert created.returncode == 0, created.stderr
    assert created.stdout == "alias docs_live: (none) -> docs_v1 (created)\n"
    swapped = run(url, "alias", "swap", "docs_live", "--to", "docs_v2")
    assert swapped.returncode == 0, swapped.stderr
    assert swapped.stdout == "alias docs_live: docs_v1 -> docs_v2\n"
    assert qdrant.get_aliases().aliases[0].collection_name == "docs_v2"
    run(url, "alias", "swap", "docs_old", "--to", "docs_v1")
    listed = run(url, "alias", "list")
    assert listed.returncode == 0
    assert listed.stdout == "docs_live -> docs_v2\ndocs_old  -> docs_v1\n"
    assert run(url, "alias", "list", "--collection", "docs_v1").stdout == "docs_old -> docs_v1\n"
    missing = run(url, "alias", "swap", "docs_live", "--to", "docs_v3")
    assert missing.returncode == 1
    assert "HTTP 404" in missing.stderr and "docs_v3" in missing.stderr
    assert qdrant.get_aliases().aliases[0].collection_name == "docs_v2"
    usage = run(url, "alias", "swap", "docs_live")
    assert usage.returncode == 2 and "--to COLLECTION is required" in usage.stderr
