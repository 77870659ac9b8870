"""API keys, time limits and errors: every failure is a VestaError carrying
the HTTP status (or None without an answer) and the server's message."""

import socket
import threading
import time

import pytest

from conftest import KEYED_MAX_BATCH_POINTS, READ_ONLY_API_KEY
from vesta_client import (
    ApiError,
    Forbidden,
    PayloadTooLarge,
    Point,
    Timeout,
    TransportError,
    Unauthorized,
    VestaClient,
    VestaError,
)


def test_without_a_key_every_route_but_the_root_is_401(keyed_server):
    with VestaClient(keyed_server.url) as anonymous:
        assert anonymous.server_info()["version"]
        assert anonymous.is_ready()
        with pytest.raises(Unauthorized) as err:
            anonymous.list_collections()
    assert err.value.status_code == 401
    assert err.value.message.startswith("missing API key")
    with VestaClient(keyed_server.url, api_key="wrong") as wrong:
        with pytest.raises(Unauthorized) as err:
            wrong.list_collections()
    assert err.value.message == "invalid API key"


def test_read_only_key_reads_and_is_refused_writes(keyed_client, keyed_server):
    keyed_client.create_collection("k", dim=2)
    keyed_client.upsert("k", [Point(1, [1, 0])])
    with VestaClient(keyed_server.url, api_key=READ_ONLY_API_KEY) as reader:
        assert [h.id for h in reader.search("k", [1, 0])] == [1]
        assert reader.count("k") == 1
        assert reader.search_raw("k", [[1.0, 0.0]], 1, as_numpy=False).ids == [[1]]
        with pytest.raises(Forbidden) as err:
            reader.upsert("k", [Point(2, [0, 1])])
    assert err.value.status_code == 403
    assert keyed_client.count("k") == 1


def test_upsert_over_the_servers_batch_limit_is_payload_too_large(keyed_client):
    keyed_client.create_collection("k", dim=2)
    points = [Point(i, [1, float(i)]) for i in range(KEYED_MAX_BATCH_POINTS + 1)]
    with pytest.raises(PayloadTooLarge) as err:
        keyed_client.upsert("k", points, batch_size=len(points))
    assert err.value.status_code == 413 and "more than one upsert may carry" in err.value.message
    # The client's own batching keeps under it.
    keyed_client.upsert("k", points, batch_size=KEYED_MAX_BATCH_POINTS)
    assert keyed_client.count("k") == len(points)


def test_errors_are_vesta_errors_with_status_and_message(client):
    with pytest.raises(VestaError) as err:
        client.count("absent")
    assert isinstance(err.value, ApiError)
    assert (err.value.status_code, err.value.message) == (404, "collection 'absent' does not exist")
    assert str(err.value) == "HTTP 404: collection 'absent' does not exist"


def test_request_reaches_any_json_route(client):
    client.create_collection("r", dim=2)
    assert client.request("GET", "/collections") == {"collections": [{"name": "r"}]}
    assert client.request("POST", "/collections/r/points/count", json={}) == {"count": 0}
    with pytest.raises(ApiError) as err:
        client.request("GET", "/no/such/route")
    assert err.value.status_code == 404


@pytest.fixture
def silent_port():
    """A loopback port that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                pass

    thread = threading.Thread(target=accept)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    listener.close()


def test_a_server_that_does_not_answer_times_out(silent_port):
    with VestaClient(f"http://127.0.0.1:{silent_port}", timeout=0.3) as c:
        started = time.monotonic()
        with pytest.raises(Timeout) as err:
            c.list_collections()
        assert time.monotonic() - started < 5
    assert isinstance(err.value, TransportError) and err.value.status_code is None
    assert "GET /collections: timed out" in err.value.message


def test_a_closed_port_is_a_transport_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with VestaClient(f"http://127.0.0.1:{port}", timeout=5) as c:
        with pytest.raises(TransportError) as err:
            c.list_collections()
        assert not c.is_ready()
    assert err.value.status_code is None and not isinstance(err.value, Timeout)
