"""Graph writes through Vesta's graph API against the official neo4j driver,
both into the same Bolt graph database (the graph test peer, FalkorDB) in the
same run.

N entities (a d-dimensional vector and 2 properties each: a name and a score)
and N edges (each entity to an earlier one, one weight property) are written

(a) through `vesta serve --neo4j-uri ...` (file storage, fsync always): POST
    /graph/{workspace}/upsert in requests of --batch nodes and the edges
    from them, each answered once delivered (wait=delivered), one after the
    other on one keep-alive connection; the vectors go to a collection in
    the same requests. Timed from the first request until a status poll
    says nothing of the workspace is pending;
(b) with the official neo4j driver, the way an application that writes its
    graph itself does: one managed transaction (execute_write) per entity
    (MERGE the node by id, SET its properties and label) and then one per
    edge (MATCH both ends, MERGE the relationship, SET its property), after
    CREATE INDEX on the label's id (what Vesta's MATCHes need too). The
    vectors are not written anywhere.

Both write the peer's default graph (FalkorDB ignores BEGIN's database in
explicit transactions, so neither can be given a graph of its own), each
under its own label. The driver runs first, on the empty graph; Vesta's run
then meets the driver's nodes, which can only slow it.

Prints entities/s for both and their ratio as a Markdown table for
docs/benchmarks.md, and checks that both wrote N nodes and N edges.

Runs in the graph peer's virtual environment (tests/graph/requirements.txt:
the pinned driver), with the standard library for HTTP; bench/run_graph_bench.sh
starts the peer and runs it. FalkorDB crashes on a parameterised query past
4,096 bytes of Cypher text (docs/graph.md, "The graph test peer"), so Vesta
runs with --graph-statement-bytes 3000 (which counts rows as the larger of
PackStream and Cypher text).
"""

import argparse
import http.client
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

import neo4j

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "graph"))
from neo4j_driver_interop import absorb_goodbye_quirk  # noqa: E402  (the peer's GOODBYE quirk)

STATUS_POLL_S = 0.01


def entities(n, dim, seed=42):
    """(id, vector, properties, edge target, edge properties) for each entity:
    an edge from entity i goes to an earlier one (entity 0's to entity 1), so
    both ends exist once a request of Vesta's is in (same request or earlier)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        vector = [round(rng.gauss(0, 1), 5) for _ in range(dim)]
        target = 1 if i == 0 else rng.randrange(i)
        properties = {"name": f"entity number {i}", "score": round(rng.random(), 6)}
        out.append((f"e{i}", vector, properties, f"e{target}", {"weight": round(rng.random(), 4)}))
    return out


class Vesta:
    def __init__(self, binary, data_dir, bolt_url, statement_bytes):
        self.proc = subprocess.Popen(
            [binary, "serve", "--port", "0", "--access-log", "off", "--data-dir", data_dir,
             "--neo4j-uri", bolt_url, "--neo4j-token", "x",
             "--graph-statement-bytes", str(statement_bytes)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.log = []
        address = None
        for line in self.proc.stderr:
            self.log.append(line)
            m = re.search(r"listening on http://([0-9.]+):([0-9]+)", line)
            if m:
                address = (m.group(1), int(m.group(2)))
                break
        assert address, "vesta serve did not start:\n" + "".join(self.log[-20:])
        threading.Thread(target=lambda: self.log.extend(self.proc.stderr), daemon=True).start()
        self.http = http.client.HTTPConnection(*address, timeout=600)

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body, separators=(",", ":")).encode()
        self.http.request(method, path, body=data,
                          headers={"content-type": "application/json"} if data else {})
        response = self.http.getresponse()
        text = response.read()
        if response.status != 200:
            raise RuntimeError(f"{method} {path}: {response.status} {text[:500]!r}")
        return json.loads(text)["result"]

    def stop(self):
        self.http.close()
        self.proc.terminate()
        self.proc.wait(timeout=120)


def vesta_rate(vesta, workspace, rows, dim, batch, wait, timeout_s):
    vesta.call("PUT", "/collections/entities",
               {"vectors": {"size": dim, "distance": "Cosine"}})
    requests = []
    for b in range(0, len(rows), batch):
        chunk = rows[b:b + batch]
        requests.append({
            "collection": "entities",
            "nodes": [{"id": i, "labels": ["Entity"], "properties": p, "vector": v}
                      for i, v, p, _, _ in chunk],
            "edges": [{"source": i, "target": t, "type": "RELATED", "properties": ep}
                      for i, _, _, t, ep in chunk]})
    query = urllib.parse.urlencode({"wait": wait, "timeout": timeout_s})
    path = f"/graph/{workspace}/upsert?{query}"
    latencies = []
    start = time.perf_counter()
    for body in requests:
        t = time.perf_counter()
        result = vesta.call("POST", path, body)
        latencies.append(time.perf_counter() - t)
        assert result["status"] == wait, result
    polls = 0
    while True:
        status = vesta.call("GET", f"/graph/{workspace}/status")
        polls += 1
        if status["pending_records"] == 0:
            break
        time.sleep(STATUS_POLL_S)
    elapsed = time.perf_counter() - start
    latencies.sort()
    return len(rows) / elapsed, elapsed, latencies, polls, status


def driver_rate(driver, label, rows):
    with driver.session() as session:
        session.run(f"CREATE INDEX FOR (n:`{label}`) ON (n.id)").consume()
        node = f"MERGE (n:`{label}` {{id: $id}}) SET n += $props, n:Entity"
        edge = (f"MATCH (a:`{label}` {{id: $source}}) MATCH (b:`{label}` {{id: $target}}) "
                "MERGE (a)-[e:RELATED]->(b) SET e += $props")
        start = time.perf_counter()
        for i, _, props, _, _ in rows:
            session.execute_write(lambda tx: tx.run(node, id=i, props=props).consume())
        for i, _, _, target, props in rows:
            session.execute_write(
                lambda tx: tx.run(edge, source=i, target=target, props=props).consume())
        elapsed = time.perf_counter() - start
    return len(rows) / elapsed, elapsed


def graph_counts(driver, label):
    with driver.session() as session:
        nodes = session.run(f"MATCH (n:`{label}`) RETURN count(n) AS c").single()["c"]
        edges = session.run(f"MATCH (:`{label}`)-[e:RELATED]->(:`{label}`) "
                            "RETURN count(e) AS c").single()["c"]
        indexed = [r.data() for r in session.run("CALL db.indexes()")]
    return nodes, edges, [r for r in indexed if r.get("label") == label]


def open_driver(url):
    return neo4j.GraphDatabase.driver(url, auth=None, connection_timeout=10,
                                      connection_acquisition_timeout=30,
                                      max_connection_pool_size=1)


def close_driver(driver, url):
    driver.close()
    time.sleep(0.05)
    absorb_goodbye_quirk(url)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vesta", required=True)
    ap.add_argument("--bolt", required=True, help="the peer's Bolt URL")
    ap.add_argument("--entities", type=int, default=5000)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--batch", type=int, default=100, help="nodes (and edges) per Vesta request")
    ap.add_argument("--wait", choices=["delivered", "durable"], default="delivered")
    ap.add_argument("--graph-statement-bytes", type=int, default=3000,
                    help="Vesta's --graph-statement-bytes (FalkorDB: see above)")
    ap.add_argument("--delivery-timeout", type=int, default=60,
                    help="each request's timeout= (seconds) with wait=delivered")
    a = ap.parse_args()
    assert a.batch >= 2 and a.entities >= 2

    rows = entities(a.entities, a.dim)
    run = f"{os.getpid()}_{int(time.time())}"
    workspace, label = f"bench_vesta_{run}", f"bench_driver_{run}"
    print(f"{a.entities} entities (d = {a.dim}, 2 properties) + {a.entities} edges; "
          f"Vesta requests of {a.batch} + {a.batch}, wait={a.wait}, --graph-statement-bytes "
          f"{a.graph_statement_bytes}; peer {a.bolt}; "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}", flush=True)

    driver = open_driver(a.bolt)
    try:
        d_rate, d_s = driver_rate(driver, label, rows)
    finally:
        close_driver(driver, a.bolt)
    print(f"driver: {d_rate:,.0f} entities/s ({d_s:.2f} s, {2 * a.entities} transactions)",
          flush=True)

    tmp = tempfile.mkdtemp(prefix="vesta-graph-bench-")
    try:
        vesta = Vesta(a.vesta, os.path.join(tmp, "data"), a.bolt, a.graph_statement_bytes)
        try:
            v_rate, v_s, latencies, polls, status = vesta_rate(
                vesta, workspace, rows, a.dim, a.batch, a.wait, a.delivery_timeout)
        except Exception:
            print("".join(vesta.log[-30:]), file=sys.stderr)
            raise
        finally:
            vesta.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"vesta: {v_rate:,.0f} entities/s ({v_s:.2f} s, {len(latencies)} requests, "
          f"p50 {latencies[len(latencies) // 2] * 1000:.1f} ms, "
          f"max {latencies[-1] * 1000:.1f} ms; {polls} status poll(s) after the last; "
          f"graph {status['graph']})", flush=True)
    # Vesta's connections said GOODBYE as it stopped: the peer leaves the next
    # handshake unanswered.
    absorb_goodbye_quirk(a.bolt)

    driver = open_driver(a.bolt)
    try:
        v_nodes, v_edges, v_index = graph_counts(driver, workspace)
        d_nodes, d_edges, d_index = graph_counts(driver, label)
    finally:
        close_driver(driver, a.bolt)

    print(f"in the graph: Vesta's workspace {v_nodes} nodes, {v_edges} edges, index on id: "
          f"{'yes' if v_index else 'no'}; the driver's {d_nodes} nodes, {d_edges} edges, "
          f"index on id: {'yes' if d_index else 'no'}")
    ok = (v_nodes, v_edges, d_nodes, d_edges) == (a.entities,) * 4
    print(f"\n| graph writes ({a.entities} entities, d = {a.dim}, + {a.entities} edges) "
          "| entities/s | vs driver |\n|---|---|---|")
    print(f"| Vesta graph upsert, {a.batch} nodes + {a.batch} edges per request, wait={a.wait}, "
          f"with the vectors (fsync always; --graph-statement-bytes {a.graph_statement_bytes}) "
          f"| {v_rate:,.0f} | **{v_rate / d_rate:.2f}x** |")
    print(f"| neo4j driver {neo4j.__version__}, one transaction per entity and per edge "
          f"| {d_rate:,.0f} | 1.00x |")
    if not ok:
        sys.exit("the graph does not hold what was written (counts above)")


if __name__ == "__main__":
    main()
