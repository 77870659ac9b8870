"""Starts real `vesta serve` processes on free loopback ports for the client's
tests: one with file storage (snapshots need it), one with API keys and small
limits, and, for the graph tests, one connected to the graph test peer, all
stopped (SIGTERM, checked clean) at the end of the session.

The binary comes from $VESTA_BINARY (default build/app/vesta in the repository);
the graph peer's Bolt URL from $VESTA_TEST_BOLT_URL (scripts/test.sh starts
FalkorDB with scripts/graph-test-peer.sh; without it the graph tests skip)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field

import pytest

from vesta_client import VestaClient

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(ROOT, "tests", "graph"))
from falkordb_quirks import absorb_goodbye_quirk  # noqa: E402  (FalkorDB work-around, shared)

BINARY = os.environ.get("VESTA_BINARY", os.path.join(ROOT, "build", "app", "vesta"))

API_KEY = "client-read-write-key"
READ_ONLY_API_KEY = "client-read-only-key"
# The keyed server's --max-batch-points, small enough for a 413 test.
KEYED_MAX_BATCH_POINTS = 100


@dataclass
class Server:
    url: str
    data_dir: str
    process: subprocess.Popen = field(repr=False)
    log: list[str] = field(default_factory=list, repr=False)


def start_server(extra_args: list[str]) -> Server:
    if not os.path.exists(BINARY):
        pytest.fail(f"no vesta binary at {BINARY}: build it (scripts/build.sh) or set VESTA_BINARY")
    data_dir = tempfile.mkdtemp(prefix="vesta-client-test-")
    process = subprocess.Popen(
        [BINARY, "serve", "--port", "0", "--threads", "2", "--access-log", "off",
         "--data-dir", data_dir, *extra_args],
        stderr=subprocess.PIPE, text=True)
    url = None
    deadline = time.time() + 30
    while time.time() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        match = re.search(r"listening on (https?://[0-9.]+:[0-9]+)", line)
        if match:
            url = match.group(1)
            break
    if url is None:
        process.kill()
        pytest.fail(f"vesta serve did not start (exit code {process.poll()})")
    server = Server(url=url, data_dir=data_dir, process=process)
    # Keep draining its standard error so that a full pipe never blocks it.
    threading.Thread(target=lambda: server.log.extend(process.stderr), daemon=True).start()
    return server


def stop_server(server: Server) -> None:
    server.process.terminate()
    code = server.process.wait(timeout=30)
    shutil.rmtree(server.data_dir, ignore_errors=True)
    assert code == 0, f"vesta serve did not stop cleanly on SIGTERM: {''.join(server.log[-20:])}"


@pytest.fixture(scope="session")
def server():
    """File storage (the default), group commit to keep the suite fast."""
    s = start_server(["--wal-fsync", "group"])
    yield s
    stop_server(s)


@pytest.fixture(scope="session")
def keyed_server():
    """Memory storage, a read-write and a read-only key, small upserts."""
    s = start_server(["--storage", "memory", "--api-key", API_KEY,
                      "--read-only-api-key", READ_ONLY_API_KEY,
                      "--max-batch-points", str(KEYED_MAX_BATCH_POINTS)])
    yield s
    stop_server(s)


# The graph peer is FalkorDB, which crashes on a parameterised query of more
# than 4,096 bytes written out as Cypher text (docs/graph.md, "The graph test
# peer"); --graph-statement-bytes counts each row as the larger of its
# PackStream size and its Cypher text.
GRAPH_STATEMENT_BYTES = 3000


def bolt_url() -> str:
    url = os.environ.get("VESTA_TEST_BOLT_URL")
    if not url:
        pytest.skip("VESTA_TEST_BOLT_URL is not set: no graph test peer (scripts/test.sh starts "
                    "one with scripts/graph-test-peer.sh)")
    return url


@pytest.fixture(scope="session")
def graph_server():
    """File storage, connected to the graph test peer (bearer auth: FalkorDB
    takes any token and refuses basic auth without a Redis password). The
    peer is shared with the suites run before and after: whatever GOODBYE
    they or this server sent is absorbed at both ends."""
    url = bolt_url()
    absorb_goodbye_quirk(url)
    s = start_server(["--wal-fsync", "group", "--neo4j-uri", url, "--neo4j-token", "x",
                      "--graph-statement-bytes", str(GRAPH_STATEMENT_BYTES)])
    yield s
    stop_server(s)
    absorb_goodbye_quirk(url)


@pytest.fixture
def graph_client(graph_server):
    with VestaClient(graph_server.url, timeout=30) as c:
        yield c
        drop_everything(c)


def drop_everything(client: VestaClient) -> None:
    for name in client.list_collections():
        client.delete_collection(name)


@pytest.fixture
def client(server):
    """A client of the file-storage server, left without collections."""
    with VestaClient(server.url, timeout=30) as c:
        yield c
        drop_everything(c)


@pytest.fixture
def keyed_client(keyed_server):
    with VestaClient(keyed_server.url, api_key=API_KEY, timeout=30) as c:
        yield c
        drop_everything(c)
