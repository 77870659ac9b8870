"""Graph coordination (docs/graph.md): graph_upsert / graph_delete through a
real `vesta serve` connected to the graph test peer (FalkorDB over Bolt),
read back with the official neo4j driver, and each node's vector through the
points API at `node_point_id`. Without $VESTA_TEST_BOLT_URL the tests that
need the peer skip; those that need no graph database run anyway."""

from __future__ import annotations

import socket
import time
import uuid

import numpy as np
import pytest

from conftest import absorb_goodbye_quirk, bolt_url, start_server, stop_server
from vesta_client import (
    BadGateway,
    BadRequest,
    DeadLetter,
    Distance,
    GatewayTimeout,
    GraphDelivery,
    GraphEdge,
    GraphNode,
    GraphStatus,
    NotFound,
    ServiceUnavailable,
    UnprocessableEntity,
    VestaClient,
    node_point_id,
)

# How long a test waits for the dispatcher to deliver a durable write.
DELIVERY_WAIT_S = 30.0


class GraphReader:
    """Reads what reached the graph with the official driver: one connection
    (each GOODBYE would cost the peer's next handshake), small records only
    (FalkorDB never sends a record over 64 KiB), no failing queries (after a
    FAILURE it answers only once more bytes arrive)."""

    def __init__(self, driver) -> None:
        self.driver = driver

    def rows(self, query: str) -> list[dict]:
        with self.driver.session() as session:
            return [record.data() for record in session.run(query)]

    def nodes(self, workspace: str) -> dict:
        """Node id -> (labels without the workspace's, properties)."""
        return {r["id"]: (sorted(set(r["labels"]) - {workspace}), r["props"])
                for r in self.rows(f"MATCH (n:`{workspace}`) RETURN n.id AS id, "
                                   "labels(n) AS labels, properties(n) AS props")}

    def edges(self, workspace: str) -> list:
        """(source, type, target, properties), sorted."""
        return sorted(
            ((r["source"], r["type"], r["target"], r["props"])
             for r in self.rows(f"MATCH (a:`{workspace}`)-[e]->(b:`{workspace}`) "
                                "RETURN a.id AS source, type(e) AS type, b.id AS target, "
                                "properties(e) AS props")),
            key=lambda e: (str(e[0]), e[1], str(e[2])))

    def count(self, workspace: str) -> int:
        return self.rows(f"MATCH (n:`{workspace}`) RETURN count(n) AS c")[0]["c"]


@pytest.fixture(scope="session")
def graph(graph_server):
    neo4j = pytest.importorskip("neo4j", reason="the official neo4j driver reads the graph back "
                                "(clients/python/requirements-test.txt)")
    url = bolt_url()
    # Vesta connects at its first delivery, after this: clear what the suites
    # before may have left, so that the driver's handshake is answered.
    absorb_goodbye_quirk(url)
    driver = neo4j.GraphDatabase.driver(url, auth=None, connection_timeout=10,
                                        connection_acquisition_timeout=20,
                                        max_connection_pool_size=1)
    yield GraphReader(driver)
    driver.close()
    time.sleep(0.05)
    absorb_goodbye_quirk(url)


@pytest.fixture
def ws():
    """A workspace (and graph label) of its own for each test."""
    return f"t_{uuid.uuid4().hex[:16]}"


def wait_delivered(client: VestaClient, workspace: str) -> GraphStatus:
    deadline = time.monotonic() + DELIVERY_WAIT_S
    while True:
        status = client.graph_status(workspace)
        if status.pending_records == 0:
            return status
        assert time.monotonic() < deadline, f"not delivered in {DELIVERY_WAIT_S} s: {status}"
        time.sleep(0.05)


# ---------------------------------------------------------------- node_point_id


def test_node_point_id_is_the_node_id_as_the_server_echoes_it():
    assert node_point_id("Alice") == "Alice"
    assert node_point_id("Grüße ☃") == "Grüße ☃"
    assert node_point_id("42") == "42"  # a string id, not the number
    assert node_point_id(42) == 42
    assert node_point_id(np.int64(2**63 - 1)) == 2**63 - 1
    u = uuid.UUID("6ba7b810-9dad-11d1-80b4-00c04fd430c8")
    # A UUID in any form the server reads as one is that point, canonical.
    for text in (str(u), str(u).upper(), u.hex, "{" + str(u) + "}", "urn:uuid:" + str(u)):
        assert node_point_id(text) == str(u), text
    assert node_point_id(u) == str(u)
    # Not quite a UUID: a string id like any other.
    assert node_point_id("{" + str(u)) == "{" + str(u)
    assert node_point_id("é" * 128) == "é" * 128  # 256 bytes
    for bad in (-1, 2**63, "", "é" * 129):
        with pytest.raises(ValueError):
            node_point_id(bad)
    with pytest.raises(TypeError):
        node_point_id(True)


def test_bad_wait_and_timeout_are_refused_before_sending():
    # No server at this address: the checks come first.
    with VestaClient("http://127.0.0.1:9") as client:
        with pytest.raises(ValueError, match="wait must be"):
            client.graph_upsert("ws", "c", [], wait="eventually")
        with pytest.raises(ValueError, match="timeout must be"):
            client.graph_delete("ws", "c", ["a"], timeout=0)
        with pytest.raises(TypeError, match="single string"):
            client.graph_upsert("ws", "c", [GraphNode("a", [1.0], labels="Person")])
        with pytest.raises(TypeError, match="edge to delete"):
            client.graph_delete("ws", "c", edges=["a->b"])


# ---------------------------------------------------------------- without a graph


def test_graph_routes_answer_503_without_a_graph_database(client):
    client.create_collection("entities", dim=2)
    for call in (lambda: client.graph_status("ws"),
                 lambda: client.graph_upsert("ws", "entities", [GraphNode("a", [1.0, 0.0])]),
                 lambda: client.graph_delete("ws", "entities", ["a"]),
                 client.graph_dead_letters,
                 client.retry_graph_dead_letters):
        with pytest.raises(ServiceUnavailable) as err:
            call()
        assert err.value.status_code == 503
        assert "graph coordination is not configured" in err.value.message
    assert client.count("entities") == 0


# ---------------------------------------------------------------- against the peer


def test_upsert_delivered_reaches_the_graph_and_the_points(graph_client, graph, ws):
    graph_client.create_collection("entities", dim=4, distance=Distance.DOT)
    person = uuid.UUID("6ba7b810-9dad-11d1-80b4-00c04fd430c8")
    nodes = [
        GraphNode("Alice", [0.5, -0.25, 1.0, 2.0], labels=["Person"],
                  properties={"name": "Alice", "age": 33, "score": 0.75, "active": True,
                              "tags": ["a", "b"]}),
        # numpy vectors, and a dict as well as a GraphNode.
        {"id": "Grüße ☃", "vector": np.array([1, 0, 0, 0], dtype=np.float32),
         "labels": ["Person", "Poet"], "properties": {"name": "Grüße ☃"}},
        GraphNode(42, np.array([0.0, 1.0, 0.0, 0.0]), labels=["Thing"]),
        GraphNode(person, [0.0, 0.0, 1.0, 0.0], properties={"big": 2**40}),
    ]
    edges = [
        GraphEdge("Alice", "Grüße ☃", "KNOWS", {"weight": 0.5, "since": 1843}),
        {"source": "Grüße ☃", "target": 42, "type": "OWNS"},
        GraphEdge(42, str(person), "PART_OF"),
    ]
    result = graph_client.graph_upsert(ws, "entities", nodes, edges, wait="delivered",
                                       timeout=30)
    assert result.status == GraphDelivery.DELIVERED
    assert (result.nodes, result.edges) == (4, 3) and result.sequence > 0

    assert graph.nodes(ws) == {
        "Alice": (["Person"], {"id": "Alice", "name": "Alice", "age": 33, "score": 0.75,
                               "active": True, "tags": ["a", "b"]}),
        "Grüße ☃": (["Person", "Poet"], {"id": "Grüße ☃", "name": "Grüße ☃"}),
        42: (["Thing"], {"id": 42}),
        str(person): ([], {"id": str(person), "big": 2**40}),
    }
    assert graph.edges(ws) == [
        (42, "PART_OF", str(person), {}),
        ("Alice", "KNOWS", "Grüße ☃", {"weight": 0.5, "since": 1843}),
        ("Grüße ☃", "OWNS", 42, {}),
    ]

    # Each node's vector and properties are a point of the collection.
    ids = [node_point_id(n) for n in ("Alice", "Grüße ☃", 42, person)]
    assert ids[2] == 42 and ids[3] == str(person)
    records = {r.id: r for r in graph_client.retrieve("entities", ids, with_vector=True)}
    assert sorted(records, key=str) == sorted(ids, key=str)
    alice = records[ids[0]]
    assert alice.vector == [0.5, -0.25, 1.0, 2.0]  # float16-exact values, Dot keeps them
    assert alice.payload == {"name": "Alice", "age": 33, "score": 0.75, "active": True,
                             "tags": ["a", "b"], "vesta_node_id": "Alice"}
    assert records[ids[1]].payload == {"name": "Grüße ☃", "vesta_node_id": "Grüße ☃"}
    assert records[42].payload == {"vesta_node_id": 42}
    assert records[42].vector == [0.0, 1.0, 0.0, 0.0]
    # The nearest point to Alice's vector is Alice.
    assert graph_client.search("entities", [0.5, -0.25, 1.0, 2.0], limit=1)[0].id == ids[0]


def test_upsert_again_merges_properties_and_adds_labels(graph_client, graph, ws):
    graph_client.create_collection("entities", dim=2)
    graph_client.graph_upsert(ws, "entities", [
        GraphNode("a", [1, 0], ["Person"], {"name": "A", "age": 1}),
        GraphNode("b", [0, 1], properties={"name": "B"})],
        [GraphEdge("a", "b", "KNOWS", {"weight": 1})], wait="delivered")
    # Again: a null removes a property, labels are added, the edge is the
    # same edge (one per source, type and target); b is already a point.
    graph_client.graph_upsert(ws, "entities", [
        GraphNode("a", [1, 1], ["Employee"], {"age": None, "city": "Oslo"})],
        [GraphEdge("a", "b", "KNOWS", {"weight": 2})], wait="delivered")
    assert graph.nodes(ws) == {"a": (["Employee", "Person"], {"id": "a", "name": "A",
                                                              "city": "Oslo"}),
                               "b": ([], {"id": "b", "name": "B"})}
    assert graph.edges(ws) == [("a", "KNOWS", "b", {"weight": 2})]
    assert graph_client.count("entities") == 2


def test_durable_write_is_delivered_and_status_says_so(graph_client, graph, ws):
    graph_client.create_collection("entities", dim=2)
    fresh = graph_client.graph_status(ws)
    assert isinstance(fresh, GraphStatus)
    assert (fresh.workspace, fresh.pending_records, fresh.pending_operations) == (ws, 0, 0)

    result = graph_client.graph_upsert(ws, "entities", [GraphNode("x", [1, 0])])
    assert result.status == GraphDelivery.DURABLE and (result.nodes, result.edges) == (1, 0)
    # The vector is there at once, the node once the dispatcher delivered it.
    assert graph_client.count("entities") == 1
    status = wait_delivered(graph_client, ws)
    assert status.pending_operations == 0
    assert status.last_delivered_sequence is not None
    assert status.last_delivered_sequence >= result.sequence
    assert status.graph.uri == bolt_url() and status.graph.connected
    assert status.dead_letters == 0
    assert graph.nodes(ws) == {"x": ([], {"id": "x"})}


def test_delete_removes_nodes_their_edges_and_points(graph_client, graph, ws):
    graph_client.create_collection("entities", dim=2)
    graph_client.graph_upsert(ws, "entities", [
        GraphNode("a", [1, 0]), GraphNode("b", [0, 1]), GraphNode("c", [1, 1]),
        GraphNode("d", [1, 2])], [
        GraphEdge("a", "b", "KNOWS"), GraphEdge("a", "b", "LIKES"), GraphEdge("b", "c", "KNOWS"),
        GraphEdge("a", "c", "KNOWS"), GraphEdge("c", "d", "KNOWS"), GraphEdge("a", "d", "KNOWS"),
        GraphEdge("a", "d", "LIKES")], wait="delivered")

    result = graph_client.graph_delete(ws, "entities", nodes=["c"], edges=[
        ("a", "b"),                              # every edge from a to b
        GraphEdge("a", "d", "LIKES", {"ignored": 1}),  # just that type
    ], wait="delivered")
    assert result.status == GraphDelivery.DELIVERED and (result.nodes, result.edges) == (1, 2)
    assert sorted(graph.nodes(ws)) == ["a", "b", "d"]
    assert graph.edges(ws) == [("a", "KNOWS", "d", {})]
    assert graph_client.retrieve("entities", [node_point_id("c")]) == []
    assert graph_client.count("entities") == 3

    # Durable (the default): gone from the graph once delivered.
    graph_client.graph_delete(ws, "entities", nodes=["a", "b", "d"])
    wait_delivered(graph_client, ws)
    assert graph.count(ws) == 0 and graph_client.count("entities") == 0


def test_invalid_requests_name_the_field_and_write_nothing(graph_client, graph, ws):
    graph_client.create_collection("entities", dim=2)
    good = GraphNode("a", [1, 0])
    with pytest.raises(UnprocessableEntity) as err:
        graph_client.graph_upsert(ws, "entities", [
            good, GraphNode("b", [0, 1], properties={"ok": 1, "meta": {"nested": True}})])
    assert err.value.status_code == 422 and "nodes[1].properties.meta" in err.value.message

    with pytest.raises(UnprocessableEntity) as err:
        graph_client.graph_upsert(ws, "entities", [good],
                                  [GraphEdge("a", "a", "SELF"), GraphEdge("a", "nobody", "KNOWS")])
    assert "edges[1]" in err.value.message

    # Malformed requests are BadRequests (UnprocessableEntity is one too),
    # each naming what is wrong.
    with pytest.raises(BadRequest) as err:
        graph_client.graph_upsert(ws, "entities", [good, GraphNode("b", [1, 0, 0])])
    assert "nodes[1].vector" in err.value.message
    with pytest.raises(BadRequest) as err:
        graph_client.graph_upsert(ws, "entities", [{"id": "a", "vector": [1, 0],
                                                    "labels": ["Bad`Label"]}])
    assert "nodes[0].labels[0]" in err.value.message
    with pytest.raises(BadRequest) as err:
        graph_client.graph_upsert(ws, "entities", [good], [GraphEdge("a", "a")])
    assert "edges[0].type" in err.value.message
    with pytest.raises(BadRequest) as err:
        graph_client.graph_upsert("bad-workspace", "entities", [good])
    assert "workspace" in err.value.message

    # All or nothing: neither the vectors nor the graph got anything.
    assert graph_client.count("entities") == 0
    assert graph_client.graph_status(ws).pending_records == 0
    assert graph.count(ws) == 0


def test_many_nodes_go_out_in_small_statements(graph_client, graph, ws):
    # The server has a small --graph-statement-bytes (FalkorDB crashes past
    # about 4 KB of parameters), so 300 nodes and edges take many statements.
    n = 300
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(n, 8)).astype(np.float32)
    graph_client.create_collection("entities", dim=8)
    nodes = [GraphNode(f"entity-{i}", vectors[i], ["Entity"],
                       {"name": f"Entity number {i}", "rank": i}) for i in range(n)]
    edges = [GraphEdge(f"entity-{i}", f"entity-{(i + 1) % n}", "NEXT", {"step": i})
             for i in range(n)]
    result = graph_client.graph_upsert(ws, "entities", nodes, edges, wait="delivered")
    assert (result.nodes, result.edges) == (n, n)
    assert graph.count(ws) == n
    assert graph.rows(f"MATCH (:`{ws}`)-[e:NEXT]->(:`{ws}`) RETURN count(e) AS c")[0]["c"] == n
    assert graph.rows(f"MATCH (n:`{ws}` {{id: 'entity-123'}})-[e]->(m) "
                      "RETURN n.rank AS rank, e.step AS step, m.id AS next") == [
        {"rank": 123, "step": 123, "next": "entity-124"}]
    assert graph_client.count("entities") == n


def test_refused_operations_are_dead_letters_until_retried(graph_client, graph, ws):
    # FalkorDB writes string parameters into its query text unescaped, so a
    # string with an apostrophe is a SyntaxError there (docs/graph.md, "The
    # graph test peer"): a refusal for good, as Neo4j gives for other input.
    graph_client.create_collection("entities", dim=2)
    with pytest.raises(BadGateway) as err:
        graph_client.graph_upsert(ws, "entities", [GraphNode("quote", [1, 0],
                                                             properties={"text": "it's"})],
                                  wait="delivered")
    assert err.value.status_code == 502 and "dead letter" in err.value.message
    # The vector is written all the same.
    assert graph_client.retrieve("entities", ["quote"])[0].payload == {
        "text": "it's", "vesta_node_id": "quote"}
    letters = [d for d in graph_client.graph_dead_letters() if d.workspace == ws]
    assert len(letters) == 1 and letters[0].error
    assert graph_client.graph_status(ws).dead_letters == 1

    # Later writes go on.
    result = graph_client.graph_upsert(ws, "entities", [GraphNode("plain", [0, 1])],
                                       wait="delivered")
    assert result.status == GraphDelivery.DELIVERED
    assert sorted(graph.nodes(ws)) == ["plain"]

    # Retried, it is refused again, and is a dead letter again.
    assert graph_client.retry_graph_dead_letters([letters[0].sequence]) == 1
    deadline = time.monotonic() + DELIVERY_WAIT_S
    while True:
        status = graph_client.graph_status(ws)
        if status.pending_records == 0 and status.dead_letters == 1:
            break
        assert time.monotonic() < deadline, status
        time.sleep(0.05)
    assert [d.sequence for d in graph_client.graph_dead_letters()
            if d.workspace == ws] == [letters[0].sequence]
    with pytest.raises(NotFound) as err:
        graph_client.retry_graph_dead_letters([987654321])
    assert "987654321 is not a dead letter" in err.value.message


def test_dead_letter_from_json():
    letter = DeadLetter.from_json({"sequence": 17, "workspace": "ws", "error": "SyntaxError: x",
                                   "operations": {"nodes": []}})
    assert letter == DeadLetter(17, "ws", "SyntaxError: x", {"nodes": []})


# ---------------------------------------------------------------- graph database down


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def unreachable_graph_server():
    """A server whose graph database never answers (nothing listens there)."""
    s = start_server(["--wal-fsync", "group", "--neo4j-uri", f"bolt://127.0.0.1:{closed_port()}",
                      "--neo4j-token", "x"])
    yield s
    stop_server(s)


def test_delivered_write_times_out_durable_while_the_graph_is_down(unreachable_graph_server, ws):
    with VestaClient(unreachable_graph_server.url, timeout=30) as client:
        client.create_collection("entities", dim=2)
        start = time.monotonic()
        with pytest.raises(GatewayTimeout) as err:
            client.graph_upsert(ws, "entities", [GraphNode("a", [1, 0])], wait="delivered",
                                timeout=1)
        assert err.value.status_code == 504 and "durable" in err.value.message
        assert time.monotonic() - start < 10
        # The vector is written; the graph operations wait for the database.
        assert client.count("entities") == 1
        status = client.graph_status(ws)
        assert status.pending_records == 1 and status.pending_operations >= 1
        assert not status.graph.connected and status.graph.last_error
        assert status.lag_seconds > 0
