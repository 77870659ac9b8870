"""The graph routes over HTTP (docs/graph.md): answers, every error code, and
the flags. Delivery itself is tested against the graph test peer (FalkorDB,
$VESTA_TEST_BOLT_URL) here and in tests/graph (C++), the outage in
test_graph_outage.py."""

import os
import socket
import subprocess
import time

import pytest
import httpx

from conftest import BINARY, serve
from test_durability import eventually, metric

BOLT_URL = os.environ.get("VESTA_TEST_BOLT_URL")
# httpx comes with qdrant-client.
http = httpx.Client(timeout=60)

needs_peer = pytest.mark.skipif(
    not BOLT_URL, reason="needs the graph test peer: VESTA_TEST_BOLT_URL is not set "
                         "(scripts/test.sh starts FalkorDB with scripts/graph-test-peer.sh)")

ROUTES = [("POST", "/graph/ws/upsert"), ("POST", "/graph/ws/delete"),
          ("GET", "/graph/ws/status"), ("GET", "/graph/dead-letters"),
          ("POST", "/graph/dead-letters/retry")]


@pytest.fixture(scope="module")
def graph_url():
    if not BOLT_URL:
        pytest.skip("needs the graph test peer: VESTA_TEST_BOLT_URL is not set")
    # FalkorDB: no GOODBYE, small statements (docs/graph.md).
    yield from serve(["--neo4j-uri", BOLT_URL, "--neo4j-token", "x", "--neo4j-goodbye", "off",
                      "--graph-statement-bytes", "3000"])


def test_without_neo4j_uri_every_graph_route_answers_503(vesta_url):
    for method, path in ROUTES:
        r = http.request(method, vesta_url + path, json={})
        assert r.status_code == 503, (path, r.text)
        assert "graph coordination is not configured" in r.json()["status"]["error"]
        assert "--neo4j-uri" in r.json()["status"]["error"]


@pytest.mark.parametrize("args, says", [
    (["--storage", "memory", "--neo4j-uri", "bolt://127.0.0.1:7687"], "needs durable storage"),
    (["--neo4j-uri", "http://127.0.0.1:7687"], "--neo4j-uri"),
    (["--neo4j-uri", "bolt://127.0.0.1:7687", "--neo4j-user", "u"], "go together"),
    (["--neo4j-uri", "bolt://127.0.0.1:7687", "--neo4j-token", "t", "--neo4j-user", "u",
      "--neo4j-password", "p"], "exclude each other"),
    (["--neo4j-user", "u", "--neo4j-password", "p"], "need --neo4j-uri"),
    (["--neo4j-uri", "bolt://127.0.0.1:7687", "--graph-statement-bytes", "10"],
     "--graph-statement-bytes"),
    (["--neo4j-uri", "bolt://127.0.0.1:7687", "--neo4j-goodbye", "maybe"], "on or off"),
])
def test_bad_graph_flags_are_refused_at_start(tmp_path, args, says):
    r = subprocess.run([BINARY, "serve", "--port", "0", "--data-dir", str(tmp_path), *args],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2, r.stderr
    assert says in r.stderr


def test_a_delivery_wait_whose_client_went_away_ends_at_once():
    # The graph database is unreachable (nothing listens on the port), so the
    # write stays durable and undelivered. A client that asked to wait for
    # delivery (up to 120 s) gives up after 1 s and closes its connection: the
    # server ends that wait then and there (counted), not 119 s later, and
    # the write is still pending, to be delivered.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    for url in serve(["--neo4j-uri", f"bolt://127.0.0.1:{closed_port}", "--neo4j-token", "x"]):
        http.put(url + "/collections/gone", json={"vectors": {"size": 4, "distance": "Dot"}})
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(url + "/graph/gone_ws/upsert?wait=delivered&timeout=120",
                       json={"collection": "gone", "nodes": [node("a")]}, timeout=1)
        assert eventually(
            lambda: metric(url, "vesta_graph_delivery_waits_cancelled_total") == 1, within=10), (
            "the server kept waiting")
        status = http.get(url + "/graph/gone_ws/status").json()["result"]
        assert status["pending_records"] == 1, status


def test_help_explains_the_graph_flags():
    r = subprocess.run([BINARY, "serve", "--help"], capture_output=True, text=True, timeout=30)
    for flag in ["--neo4j-uri", "--neo4j-user", "--neo4j-password", "--neo4j-token",
                 "--neo4j-database", "--graph-batch-operations", "--graph-statement-bytes"]:
        assert flag in r.stdout


def node(i, **props):
    return {"id": i, "labels": ["Thing"], "properties": props,
            "vector": [1.0, float(len(str(i))), 0.5, 0]}


@needs_peer
def test_upsert_delivered_status_and_delete(graph_url):
    http.put(graph_url + "/collections/gapi", json={"vectors": {"size": 4, "distance": "Dot"}})
    r = http.post(graph_url + "/graph/gapi_ws/upsert?wait=delivered",
                      json={"collection": "gapi", "nodes": [node("a", x=1), node("b")],
                            "edges": [{"source": "a", "target": "b", "type": "T"}]})
    assert r.status_code == 200, r.text
    result = r.json()["result"]
    assert result["status"] == "delivered"
    assert (result["nodes"], result["edges"]) == (2, 1)
    durable = http.post(graph_url + "/graph/gapi_ws/upsert",
                            json={"collection": "gapi", "nodes": [node("c")]}).json()["result"]
    assert durable["status"] == "durable" and durable["sequence"] > result["sequence"]
    # The vector store has the nodes, their properties as payload.
    points = http.post(graph_url + "/collections/gapi/points",
                           json={"ids": ["a"], "with_payload": True}).json()["result"]
    assert points[0]["payload"] == {"x": 1, "vesta_node_id": "a"}
    deadline = time.time() + 30
    while True:
        status = http.get(graph_url + "/graph/gapi_ws/status").json()["result"]
        if status["pending_records"] == 0 or time.time() > deadline:
            break
        time.sleep(0.1)
    assert status["pending_records"] == 0 and status["pending_operations"] == 0
    assert status["last_delivered_sequence"] >= durable["sequence"]
    assert status["dead_letters"] == 0 and status["leader"] is True
    assert status["graph"]["connected"] is True and status["graph"]["uri"] == BOLT_URL
    r = http.post(graph_url + "/graph/gapi_ws/delete?wait=delivered&timeout=20",
                      json={"collection": "gapi", "nodes": ["b"]})
    assert r.status_code == 200 and r.json()["result"]["status"] == "delivered", r.text
    assert http.get(graph_url + "/collections/gapi/points/b").status_code == 404
    metrics = http.get(graph_url + "/metrics").text
    assert "vesta_graph_outbox_records 0" in metrics
    assert "vesta_graph_dead_letters 0" in metrics
    assert http.get(graph_url + "/graph/dead-letters").json()["result"] == {"dead_letters": []}


@needs_peer
@pytest.mark.parametrize("path, body, code, says", [
    ("/graph/ws/upsert", "{not json", 400, ""),
    ("/graph/ws/upsert", {"nodes": [node(1)]}, 400, "collection"),
    ("/graph/ws/upsert", {"collection": "nope", "nodes": [node(1)]}, 404, "nope"),
    ("/graph/ws/upsert", {"collection": "gerr", "nodes": [node(1)], "edgez": []}, 400, "edgez"),
    ("/graph/ws/upsert", {"collection": "gerr", "nodes": [{"id": 1, "vector": [1, 2]}]}, 400,
     "nodes[0].vector has 2 values, expected 4"),
    ("/graph/ws/upsert", {"collection": "gerr", "nodes": [{"id": 1, "vector": [1, 2, 3, "x"]}]},
     400, "nodes[0].vector[3]"),
    ("/graph/ws/upsert", {"collection": "gerr", "nodes": [{"id": 1, "vector": [1, 2, 3, 1e39]}]},
     400, "nodes[0].vector"),
    ("/graph/ws/upsert", {"collection": "gerr",
                          "nodes": [dict(node(1), properties={"m": {"k": 1}})]}, 422,
     "nodes[0].properties.m"),
    ("/graph/ws/upsert", {"collection": "gerr",
                          "edges": [{"source": 1, "target": 99, "type": "T"}]}, 422,
     "edges[0].source: node '1'"),
    ("/graph/bad-ws/upsert", {"collection": "gerr", "nodes": [node(1)]}, 400, "workspace"),
    ("/graph/ws/upsert?wait=later", {"collection": "gerr", "nodes": [node(1)]}, 400, "wait"),
    ("/graph/ws/upsert?wait=delivered&timeout=0", {"collection": "gerr", "nodes": [node(1)]},
     400, "timeout"),
    ("/graph/ws/delete", {"collection": "gerr", "nodes": [{"id": 1}]}, 400, "nodes[0]"),
    ("/graph/dead-letters/retry", {"sequences": [123456]}, 404, "not a dead letter"),
    ("/graph/dead-letters/retry", {"sequences": "all"}, 400, "sequences"),
])
def test_bad_requests_get_a_clear_4xx(graph_url, path, body, code, says):
    http.put(graph_url + "/collections/gerr", json={"vectors": {"size": 4, "distance": "Dot"}})
    if isinstance(body, str):
        r = http.post(graph_url + path, content=body, headers={"content-type": "application/json"})
    else:
        r = http.post(graph_url + path, json=body)
    assert r.status_code == code, r.text
    assert says in r.json()["status"]["error"]
    assert http.post(graph_url + "/collections/gerr/points/count",
                         json={}).json()["result"]["count"] == 0
