"""Durability of `vesta serve` with file storage and with PostgreSQL
(--postgres $VESTA_TEST_POSTGRES_URL, each test in a workspace of its own;
skipped when the variable is unset): every acknowledged write survives
SIGKILL of the server mid-load, with each fsync policy and with snapshot
rounds (and log truncation) happening during the load; batches are
all-or-nothing; a graceful restart keeps everything; a second server on the
same data directory or workspace is refused. And the other way round:
PostgreSQL itself restarted (and crashed) under load, with vesta serve
staying up, answering 503 while it is gone and writing again once it is back
(needs VESTA_TEST_POSTGRES_DIR too, the cluster's directory)."""

import os
import random
import re
import signal
import subprocess
import tempfile
import threading
import time
import urllib.request
import uuid

import httpx
import numpy as np
import pytest
from qdrant_client import QdrantClient, models

from conftest import BINARY, ROOT

DIM = 16
BATCH = 10

POSTGRES_URL = os.environ.get("VESTA_TEST_POSTGRES_URL", "")
needs_postgres = pytest.mark.skipif(
    not POSTGRES_URL,
    reason="needs PostgreSQL: VESTA_TEST_POSTGRES_URL is not set (scripts/test.sh starts a "
           "cluster with scripts/pg-test-cluster.sh and sets it)")


def postgres_args():
    """--postgres with a workspace no other test uses."""
    return ["--postgres", POSTGRES_URL, "--postgres-workspace",
            f"durability-{uuid.uuid4().hex[:16]}"]


def store_args(store):
    return postgres_args() if store == "postgres" else []


class Server:
    def __init__(self, data_dir, *args):
        self.proc = subprocess.Popen(
            [BINARY, "serve", "--port", "0", "--threads", "2", "--access-log", "off",
             "--data-dir", str(data_dir), *args],
            stderr=subprocess.PIPE, text=True)
        self.lines = []
        self.url = None
        deadline = time.time() + 60
        while time.time() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            self.lines.append(line)
            match = re.search(r"listening on (http://[0-9.]+:[0-9]+)", line)
            if match:
                self.url = match.group(1)
                break
        assert self.url, f"vesta serve did not start: {''.join(self.lines)}"
        threading.Thread(target=lambda: self.lines.extend(self.proc.stderr), daemon=True).start()
        self.client = QdrantClient(url=self.url, timeout=30)

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self):
        self.proc.terminate()
        assert self.proc.wait(timeout=30) == 0


def metric(server, name):
    """The value of metric `name` of a Server (or of the server at a URL)."""
    url = getattr(server, "url", server)
    with urllib.request.urlopen(url + "/metrics", timeout=10) as response:
        text = response.read().decode()
    match = re.search(rf"^{name} ([0-9.e+]+)$", text, re.M)
    assert match, f"{name} missing from /metrics"
    return float(match.group(1))


def eventually(predicate, within=10.0):
    deadline = time.time() + within
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def vector_of(i):
    rng = np.random.default_rng(i)
    return rng.uniform(-1, 1, DIM).astype(np.float16).astype(np.float32)


def load_until_killed(server, writers=4, seconds=1.5, first_batch=0):
    """Upserts batches from several threads, kills the server mid-load;
    returns (acknowledged ids, ids of batches in flight when it died)."""
    acked, in_flight = [], []
    lock = threading.Lock()
    stop = threading.Event()

    def writer(w):
        client = QdrantClient(url=server.url, timeout=30)
        b = first_batch
        while not stop.is_set():
            ids = [w * 1_000_000 + b * BATCH + j for j in range(BATCH)]
            with lock:
                in_flight.append(ids)
            try:
                client.upsert("docs", wait=True, points=[
                    models.PointStruct(id=i, vector=vector_of(i).tolist(), payload={"i": i})
                    for i in ids])
            except Exception:
                return  # the server died under this request
            with lock:
                in_flight.remove(ids)
                acked.extend(ids)
            b += 1

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    time.sleep(seconds)
    server.kill()
    stop.set()
    for t in threads:
        t.join()
    return acked, in_flight


def check_recovered(client, acked, in_flight):
    """Every acknowledged point is there bit for bit, batches in flight are all
    or nothing, no other point exists; returns the points found by id."""
    found = {}
    offset = None
    while True:
        points, offset = client.scroll("docs", limit=1000, offset=offset, with_vectors=True,
                                       with_payload=True)
        for p in points:
            found[p.id] = p
        if offset is None:
            break
    missing = [i for i in acked if i not in found]
    assert not missing, f"{len(missing)} acknowledged points lost, e.g. {missing[:5]}"
    for i in acked:
        assert found[i].payload == {"i": i}
        np.testing.assert_array_equal(np.array(found[i].vector, dtype=np.float32), vector_of(i))
    for ids in in_flight:  # unacknowledged batches: all or nothing
        present = [i in found for i in ids]
        assert all(present) or not any(present), f"batch {ids[0]}.. partly applied"
    extra = set(found) - set(acked) - {i for ids in in_flight for i in ids}
    assert not extra, f"points nobody wrote: {sorted(extra)[:5]}"
    return found


SNAPSHOTS_DURING_LOAD = ["--snapshot-wal-bytes", "64K", "--snapshot-interval-s", "1"]


@pytest.mark.parametrize("store,args", [
    ("file", []),
    ("file", ["--wal-fsync", "group", "--wal-group-commit-ms", "5"]),
    ("file", SNAPSHOTS_DURING_LOAD),
    pytest.param("postgres", [], marks=needs_postgres),
    pytest.param("postgres", SNAPSHOTS_DURING_LOAD, marks=needs_postgres),
], ids=["fsync-always", "group-commit", "snapshots-during-load", "postgres",
        "postgres-snapshots-during-load"])
def test_acknowledged_writes_survive_sigkill(store, args):
    args = store_args(store) + args
    with tempfile.TemporaryDirectory(prefix="vesta-durability-") as data_dir:
        server = Server(data_dir, *args)
        server.client.create_collection(
            "docs", vectors_config=models.VectorParams(size=DIM, distance=models.Distance.DOT))
        acked, in_flight = load_until_killed(server)
        assert len(acked) >= 4 * BATCH, "the load acknowledged too little to test anything"

        restarted = Server(data_dir, *args)
        assert any("recovered 1 collections" in line for line in restarted.lines)
        check_recovered(restarted.client, acked, in_flight)
        # And once more, after a graceful stop of the recovered server.
        restarted.client.delete("docs", points_selector=models.PointIdsList(points=acked[:3]))
        restarted.stop()
        again = Server(data_dir, *args)
        check_recovered(again.client, acked[3:], in_flight)
        assert again.client.retrieve("docs", ids=acked[:3]) == []
        again.stop()


@pytest.mark.parametrize("store", ["file", pytest.param("postgres", marks=needs_postgres)])
def test_twenty_kills_at_random_moments_lose_nothing_acknowledged(store):
    # One data directory (or workspace) through 20 SIGKILLs at random moments of a
    # concurrent load, with snapshot rounds (and log truncation) every 32 KiB
    # of log: after each restart every point acknowledged so far is there,
    # bit for bit, and batches in flight are all or nothing.
    rng = random.Random()
    seed = rng.randrange(1 << 30)
    print(f"seed {seed}")
    rng.seed(seed)
    args = store_args(store) + ["--snapshot-wal-bytes", "32K", "--snapshot-interval-s", "1"]
    with tempfile.TemporaryDirectory(prefix="vesta-durability-") as data_dir:
        server = Server(data_dir, *args)
        server.client.create_collection(
            "docs", vectors_config=models.VectorParams(size=DIM, distance=models.Distance.DOT))
        acked, in_flight_all = [], []
        for kill in range(20):
            new_acked, in_flight = load_until_killed(
                server, writers=3, seconds=rng.uniform(0.05, 0.8), first_batch=kill * 10_000)
            acked += new_acked
            in_flight_all += in_flight
            server = Server(data_dir, *args)
            check_recovered(server.client, acked, in_flight_all)
            # Batches that were in flight and came back are now acknowledged.
            present = {p.id for p in server.client.retrieve(
                "docs", ids=[i for ids in in_flight_all for i in ids])}
            acked += [i for ids in in_flight_all for i in ids if i in present]
            in_flight_all = [ids for ids in in_flight_all if ids[0] not in present]
        assert len(acked) > 20 * BATCH
        server.stop()


@pytest.mark.parametrize("store", ["file", pytest.param("postgres", marks=needs_postgres)])
def test_catalog_aliases_payload_indexes_and_drops_survive_a_restart(store):
    args = store_args(store)
    with tempfile.TemporaryDirectory(prefix="vesta-durability-") as data_dir:
        server = Server(data_dir, *args)
        c = server.client
        c.create_collection("a", vectors_config=models.VectorParams(size=4, distance=models.Distance.COSINE))
        c.create_collection("b", vectors_config=models.VectorParams(size=2, distance=models.Distance.EUCLID))
        c.create_collection("gone", vectors_config=models.VectorParams(size=2, distance=models.Distance.DOT))
        c.upsert("a", points=[models.PointStruct(id=1, vector=[1, 2, 3, 4], payload={"city": "Oslo"})])
        c.create_payload_index("a", "city", models.PayloadSchemaType.KEYWORD)
        c.update_collection_aliases(change_aliases_operations=[
            models.CreateAliasOperation(create_alias=models.CreateAlias(collection_name="a", alias_name="live"))])
        c.set_payload("a", payload={"n": 5}, points=[1])
        c.delete_collection("gone")
        server.kill()

        again = Server(data_dir, *args)
        c = again.client
        assert sorted(x.name for x in c.get_collections().collections) == ["a", "b"]
        assert c.get_collection("b").config.params.vectors.distance == models.Distance.EUCLID
        assert [a.alias_name for a in c.get_aliases().aliases] == ["live"]
        assert c.retrieve("live", ids=[1])[0].payload == {"city": "Oslo", "n": 5}
        assert "city" in c.get_collection("a").payload_schema
        again.stop()


def test_a_second_server_on_the_same_data_directory_is_refused():
    with tempfile.TemporaryDirectory(prefix="vesta-durability-") as data_dir:
        server = Server(data_dir)
        second = subprocess.run([BINARY, "serve", "--port", "0", "--data-dir", data_dir],
                                capture_output=True, text=True, timeout=30)
        assert second.returncode == 1
        assert "in use by another vesta process" in second.stderr
        server.stop()


@needs_postgres
def test_a_second_server_on_the_same_workspace_is_refused_and_the_password_never_shown():
    args = postgres_args()
    # The test cluster trusts every local connection, so any password works.
    url = re.sub(r"^postgresql://([^@/:]+)@", r"postgresql://\1:hunter2-secret@", POSTGRES_URL)
    assert "hunter2-secret" in url
    args[1] = url
    with tempfile.TemporaryDirectory(prefix="vesta-durability-") as data_dir:
        server = Server(data_dir, *args)
        second = subprocess.run([BINARY, "serve", "--port", "0", "--data-dir", data_dir,
                                 "--postgres-connect-timeout-s", "1", *args],
                                capture_output=True, text=True, timeout=30)
        assert second.returncode == 1
        assert "in use by another vesta process" in second.stderr
        server.stop()
        assert any("recovered 0 collections from PostgreSQL" in line for line in server.lines)
        assert not any("hunter2" in line for line in server.lines + [second.stderr])


# The cluster of scripts/pg-test-cluster.sh that VESTA_TEST_POSTGRES_URL
# points at, for the test that restarts it.
POSTGRES_DIR = os.environ.get("VESTA_TEST_POSTGRES_DIR", "")
CLUSTER_SCRIPT = os.path.join(ROOT, "scripts", "pg-test-cluster.sh")
# A write is answered within this long, PostgreSQL up or down: a COMMIT that a
# shutdown interrupts fails at once, and a server that is down, shutting down
# or starting up refuses connections at once.
REQUEST_BOUND_S = 10
# Writes succeed again within this long after PostgreSQL accepts connections:
# PostgresStore's reconnection backoff is capped at 5 s (kMaxBackoff).
RECOVERY_BOUND_S = 10


class Attempt:
    """One upsert of a batch: its ids, when it started and ended
    (time.monotonic()), and its HTTP status (None: no answer, see error)."""

    def __init__(self, ids):
        self.ids = ids
        self.started = time.monotonic()
        self.ended = None
        self.status = None
        self.error = ""


class Writers:
    """Threads upserting batches of new points (wait=true) through plain HTTP,
    recording every attempt; a refused write is not retried (its ids are never
    written again), the thread backs off briefly and goes on."""

    def __init__(self, url, count):
        self.attempts = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._write, args=(url, w))
                         for w in range(count)]
        for t in self._threads:
            t.start()

    def _write(self, url, w):
        with httpx.Client(base_url=url, timeout=3 * REQUEST_BOUND_S) as http:
            b = 0
            while not self._stop.is_set():
                attempt = Attempt([w * 1_000_000 + b * BATCH + j for j in range(BATCH)])
                b += 1
                with self._lock:
                    self.attempts.append(attempt)
                try:
                    response = http.put("/collections/docs/points", params={"wait": "true"},
                                        json={"points": [
                                            {"id": i, "vector": vector_of(i).tolist(),
                                             "payload": {"i": i}} for i in attempt.ids]})
                    attempt.error = "" if response.status_code == 200 else response.text
                    attempt.status = response.status_code
                except httpx.HTTPError as e:
                    attempt.error = repr(e)
                attempt.ended = time.monotonic()
                if attempt.status != 200:
                    time.sleep(0.05)

    def acknowledged_since(self, t):
        """End times of the writes started at or after t that succeeded."""
        with self._lock:
            return [a.ended for a in self.attempts if a.started >= t and a.status == 200]

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join()


@pytest.mark.skipif(
    not (POSTGRES_URL and POSTGRES_DIR),
    reason="needs a PostgreSQL test cluster it may restart: VESTA_TEST_POSTGRES_URL and "
           "VESTA_TEST_POSTGRES_DIR are not both set (scripts/test.sh starts one with "
           "scripts/pg-test-cluster.sh and sets them)")
def test_postgres_restarted_and_crashed_under_load_loses_nothing_acknowledged():
    # Four writers upsert batches while PostgreSQL is restarted three times at
    # random moments: `pg_ctl -m fast` and `-m immediate` (every PostgreSQL
    # process killed at once: a crash, then crash recovery), each with a
    # second of downtime. vesta serve must stay up and keep serving reads,
    # answer every write with 200 or a 503 that says why within
    # REQUEST_BOUND_S, refuse writes during each outage and write again within
    # RECOVERY_BOUND_S of each return, and keep its workspace lock. At the end
    # every acknowledged point is there bit for bit and no point of a refused
    # batch is, in the running server and after a restart that recovers
    # everything from PostgreSQL.
    rng = random.Random()
    seed = rng.randrange(1 << 30)
    print(f"seed {seed}")
    rng.seed(seed)
    modes = ["fast", "immediate", rng.choice(["fast", "immediate"])]
    rng.shuffle(modes)
    port = re.search(r":([0-9]+)/", POSTGRES_URL).group(1)
    args = postgres_args() + SNAPSHOTS_DURING_LOAD

    servers = []
    with tempfile.TemporaryDirectory(prefix="vesta-durability-") as data_dir:
        try:
            server = Server(data_dir, *args)
            servers.append(server)
            server.client.create_collection(
                "docs", vectors_config=models.VectorParams(size=DIM, distance=models.Distance.DOT))
            writers = Writers(server.url, 4)
            outages = []  # (mode, went down, back up, a write acknowledged again)
            restart = None
            try:
                for mode in modes:
                    time.sleep(rng.uniform(0.3, 2.0))  # a random moment of the load
                    down = time.monotonic()
                    restart = subprocess.Popen(
                        [CLUSTER_SCRIPT, "restart", POSTGRES_DIR, mode, "1"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                    while restart.poll() is None:  # reads go on while PostgreSQL is gone
                        assert server.proc.poll() is None, "vesta serve died"
                        server.client.count("docs", exact=True)
                        time.sleep(0.1)
                    assert restart.returncode == 0, (
                        f"restart -m {mode} failed: {restart.stderr.read()}")
                    up = time.monotonic()
                    while (not writers.acknowledged_since(up) and
                           time.monotonic() < up + RECOVERY_BOUND_S):
                        time.sleep(0.05)
                    again = min(writers.acknowledged_since(up), default=None)
                    assert again is not None, (f"no write succeeded within {RECOVERY_BOUND_S} s "
                                               f"of PostgreSQL's return (restart -m {mode})")
                    outages.append((mode, down, up, again))
                    print(f"restart -m {mode}: PostgreSQL gone for {up - down:.1f} s, writes "
                          f"acknowledged again {again - up:.1f} s after its return")
                time.sleep(0.5)  # writes after the last restart too
            finally:
                writers.stop()
                if restart is not None:
                    restart.wait(timeout=120)
                # The shared cluster is up for the tests after this one, whatever happened.
                subprocess.run([CLUSTER_SCRIPT, "start", POSTGRES_DIR, port], check=True,
                               stdout=subprocess.DEVNULL, timeout=120)
            assert server.proc.poll() is None, "vesta serve died"

            attempts = writers.attempts
            statuses = {}
            for a in attempts:
                statuses[a.status] = statuses.get(a.status, 0) + 1
            print(f"writes answered: {statuses}")
            unexpected = [a for a in attempts if a.status not in (200, 503)]
            assert not unexpected, (
                f"{len(unexpected)} writes answered neither 200 nor 503, e.g. "
                f"{unexpected[0].status}: {unexpected[0].error[:300]}")
            slowest = max(attempts, key=lambda a: a.ended - a.started)
            assert slowest.ended - slowest.started <= REQUEST_BOUND_S, (
                f"a write took {slowest.ended - slowest.started:.1f} s "
                f"(status {slowest.status})")
            unclear = [a.error for a in attempts if a.status == 503 and not (
                "the write was not applied" in a.error and "PostgreSQL" in a.error)]
            assert not unclear, f"a 503 that does not say why: {unclear[0][:300]}"
            for mode, down, up, again in outages:
                assert any(a.status == 503 and down <= a.started <= again for a in attempts), (
                    f"no write was refused while PostgreSQL restarted (-m {mode})")

            acked = [i for a in attempts if a.status == 200 for i in a.ids]
            refused = [a.ids for a in attempts if a.status == 503]
            assert len(acked) >= 4 * len(modes) * BATCH, "too little acknowledged to test anything"

            def check(client):
                found = check_recovered(client, acked, refused)
                applied = [ids[0] for ids in refused if ids[0] in found]
                assert not applied, (f"{len(applied)} batches answered 503 were applied, e.g. "
                                     f"the one from id {applied[0]}")

            check(server.client)
            # The workspace lock, which each restart released, is held again.
            with tempfile.TemporaryDirectory(prefix="vesta-durability-") as other_dir:
                second = subprocess.run([BINARY, "serve", "--port", "0", "--data-dir", other_dir,
                                         "--postgres-connect-timeout-s", "1", *args],
                                        capture_output=True, text=True, timeout=30)
            assert second.returncode == 1, f"a second server took the workspace: {second.stderr}"
            assert f"workspace '{args[3]}'" in second.stderr
            assert "in use by another vesta process" in second.stderr

            # A snapshot round after the last write (one a second, with changes)
            # covers every write, the refused ones too, so the restart replays
            # no log record: a write that failed holds snapshots back only until
            # the store has made it void, not for the rest of the process.
            # (Waited for, not slept for: a round can take seconds on a loaded
            # machine.)
            assert eventually(
                lambda: metric(server, "vesta_collections_awaiting_snapshot") == 0, within=60), (
                "no snapshot round covered the last writes within 60 s; the server said:\n"
                + "".join(server.lines[-40:]))
            server.stop()  # no hang on the way out after the outages
            restarted = Server(data_dir, *args)
            servers.append(restarted)
            recovered = "".join(line for line in restarted.lines if "recovered" in line)
            assert "recovered 1 collections" in recovered
            assert re.search(r"\b0 log records replayed", recovered), recovered
            check(restarted.client)
            restarted.client.upsert("docs", wait=True, points=[  # and it writes
                models.PointStruct(id=7, vector=vector_of(7).tolist(), payload={"i": 7})])
            restarted.stop()
        finally:
            for s in servers:
                if s.proc.poll() is None:
                    s.proc.kill()
                    s.proc.wait(timeout=30)
