"""Starts a real `vesta serve` on a free loopback port for the compatibility suite
(and a second one with API keys for the auth tests).

The binary comes from $VESTA_BINARY (default build/app/vesta)."""

import os
import re
import shutil
import subprocess
import tempfile
import threading
import time

import pytest
from qdrant_client import QdrantClient

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# The keys of the server that `vesta_keyed_url` starts.
API_KEY = "compat-read-write-key"
READ_ONLY_API_KEY = "compat-read-only-key"


BINARY = os.environ.get("VESTA_BINARY", os.path.join(ROOT, "build", "app", "vesta"))


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "graph: needs the graph test peer (FalkorDB over Bolt, "
        "scripts/graph-test-peer.sh), skips saying why without it; `-m graph` runs these "
        "tests, `-m \"not graph\"` leaves them out")


def serve(extra_args=(), env=None):
    """Yields the URL of a `vesta serve` started with `extra_args` on a data
    directory of its own (file storage, the default), then stops it."""
    data_dir = tempfile.mkdtemp(prefix="vesta-compat-")
    proc = subprocess.Popen([BINARY, "serve", "--port", "0", "--threads", "2",
                             "--data-dir", data_dir, *extra_args],
                            stderr=subprocess.PIPE, text=True, env=env)
    url = None
    deadline = time.time() + 30
    while time.time() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        match = re.search(r"listening on (https?://[0-9.]+:[0-9]+)", line)
        if match:
            url = match.group(1)
            break
    if url is None:
        proc.kill()
        pytest.fail(f"vesta serve did not start (exit code {proc.poll()})")
    # Keep reading its standard error (the access log goes there), so that a
    # full pipe never blocks the server; the lines are kept for debugging.
    log = []
    threading.Thread(target=lambda: log.extend(proc.stderr), daemon=True).start()
    yield url
    proc.terminate()
    assert proc.wait(timeout=30) == 0, "vesta serve did not stop cleanly on SIGTERM"
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def vesta_url():
    yield from serve()


@pytest.fixture(scope="session")
def vesta_keyed_url():
    # The read-write key from the environment, the read-only one as a flag:
    # both ways of configuring a key are exercised.
    env = dict(os.environ, VESTA_API_KEY=API_KEY)
    yield from serve(["--read-only-api-key", READ_ONLY_API_KEY], env=env)


# The TLS test certificate (CN=localhost, SAN 127.0.0.1) and its key.
TLS_CERT = os.path.join(ROOT, "tests", "server", "tls", "test-cert.pem")
TLS_KEY = os.path.join(ROOT, "tests", "server", "tls", "test-key.pem")


@pytest.fixture(scope="session")
def vesta_tls_url():
    yield from serve(["--tls-cert", TLS_CERT, "--tls-key", TLS_KEY])


@pytest.fixture
def client(vesta_url):
    c = QdrantClient(url=vesta_url, prefer_grpc=False, timeout=30, check_compatibility=False)
    yield c
    for collection in c.get_collections().collections:
        c.delete_collection(collection.name)
    c.close()
