"""The collection snapshot API with the official qdrant-client against a real
`vesta serve`: create, list, download, delete; recover from a file:// location
and from an upload (multipart, as Qdrant takes it); the recovered collection
survives SIGKILL; bad names, locations and bodies are 4xx naming the problem."""

import hashlib
import json
import pathlib
import subprocess
import tempfile

import numpy as np
import pytest
import httpx
from qdrant_client import models
from qdrant_client.http.exceptions import UnexpectedResponse

from conftest import BINARY, TLS_CERT
from test_durability import Server

DIM = 8


def fill(client, name, n=300):
    client.create_collection(name, vectors_config=models.VectorParams(
        size=DIM, distance=models.Distance.COSINE))
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(n, DIM)).astype(np.float32)
    client.upsert(name, points=[
        models.PointStruct(id=i, vector=vectors[i].tolist(), payload={"i": i, "tag": f"t{i % 3}"})
        for i in range(n)])
    client.create_payload_index(name, "tag", models.PayloadSchemaType.KEYWORD)
    return vectors


def everything(client, name):
    points, offset, out = None, None, {}
    while True:
        points, offset = client.scroll(name, limit=1000, offset=offset, with_vectors=True,
                                       with_payload=True)
        out.update({p.id: (p.vector, p.payload) for p in points})
        if offset is None:
            return out


def test_create_list_download_recover_and_delete():
    with tempfile.TemporaryDirectory(prefix="vesta-snap-") as data_dir:
        server = Server(data_dir)
        c = server.client
        fill(c, "docs")
        c.update_collection_aliases(change_aliases_operations=[
            models.CreateAliasOperation(create_alias=models.CreateAlias(
                collection_name="docs", alias_name="live"))])
        before = everything(c, "docs")

        info = c.create_snapshot("docs")
        assert info.name.startswith("docs-") and info.name.endswith(".snapshot")
        assert info.size > 0
        assert [s.name for s in c.list_snapshots("docs")] == [info.name]
        downloaded = httpx.get(f"{server.url}/collections/docs/snapshots/{info.name}")
        assert downloaded.status_code == 200
        assert downloaded.headers["content-type"] == "application/octet-stream"
        assert len(downloaded.content) == info.size
        saved = pathlib.Path(data_dir) / "copy.snapshot"
        saved.write_bytes(downloaded.content)

        # Change the collection, then recover the snapshot over it.
        c.delete("docs", points_selector=models.PointIdsList(points=list(range(100))))
        c.upsert("docs", points=[models.PointStruct(id=10_000, vector=[1.0] * DIM)])
        assert c.recover_snapshot("docs", location=f"file://{saved}") is True
        assert everything(c, "docs") == before
        assert [a.alias_name for a in c.get_collection_aliases("docs").aliases] == ["live"]
        assert "tag" in c.get_collection("docs").payload_schema

        # Upload into a new collection, as a multipart form like Qdrant's.
        with open(saved, "rb") as f:
            uploaded = httpx.post(f"{server.url}/collections/copy/snapshots/upload",
                                     files={"snapshot": ("copy.snapshot", f)})
        assert uploaded.status_code == 200, uploaded.text
        assert everything(c, "copy") == before

        # Recovered collections are durable: they survive SIGKILL.
        server.kill()
        server = Server(data_dir)
        assert everything(server.client, "docs") == before
        assert everything(server.client, "copy") == before
        assert server.client.delete_snapshot("docs", info.name) is True
        assert server.client.list_snapshots("docs") == []
        server.stop()


def test_a_snapshot_carries_its_sha256_and_recovery_checks_a_given_one():
    # As Qdrant: the description's checksum is the file's SHA-256, and
    # recover (a location) and upload take one to check the bytes against.
    with tempfile.TemporaryDirectory(prefix="vesta-snap-") as data_dir:
        server = Server(data_dir)
        c = server.client
        fill(c, "docs", n=50)
        info = c.create_snapshot("docs")
        data = httpx.get(f"{server.url}/collections/docs/snapshots/{info.name}").content
        digest = hashlib.sha256(data).hexdigest()
        assert info.checksum == digest
        assert [s.checksum for s in c.list_snapshots("docs")] == [digest]
        saved = pathlib.Path(data_dir) / "docs.snapshot"
        saved.write_bytes(data)
        wrong = "0" * 64
        with pytest.raises(UnexpectedResponse) as refused:
            c.recover_snapshot("copy", location=f"file://{saved}", checksum=wrong)
        assert refused.value.status_code == 400
        message = json.loads(refused.value.content)["status"]["error"]
        assert message == f"checksum: the snapshot's SHA-256 is {digest}, not {wrong}"
        assert not c.collection_exists("copy")
        assert c.recover_snapshot("copy", location=f"file://{saved}",
                                  checksum=digest.upper()) is True
        assert c.count("copy").count == 50
        uploads = c.http.snapshots_api
        with open(saved, "rb") as f:
            with pytest.raises(UnexpectedResponse) as refused:
                uploads.recover_from_uploaded_snapshot("other", snapshot=f, checksum=wrong)
        assert refused.value.status_code == 400
        with open(saved, "rb") as f:
            assert uploads.recover_from_uploaded_snapshot("other", snapshot=f,
                                                          checksum=digest).result is True
        r = httpx.put(f"{server.url}/collections/docs/snapshots/recover",
                      json={"location": f"file://{saved}", "checksum": 7})
        assert r.status_code == 400 and "checksum must be a string" in r.text, r.text
        # Deleting a snapshot deletes its checksum too.
        assert c.delete_snapshot("docs", info.name) is True
        assert list((pathlib.Path(data_dir) / "collection-snapshots" / "docs").iterdir()) == []
        server.stop()


def test_a_large_download_streams_from_the_file_over_tls_and_keeps_the_connection(
        vesta_tls_url):
    # A snapshot is sent from its file a piece at a time (it can be as large
    # as its collection); over TLS too, and the connection serves the next
    # request afterwards.
    with httpx.Client(verify=TLS_CERT, timeout=60) as http:
        http.put(f"{vesta_tls_url}/collections/big",
                 json={"vectors": {"size": 64, "distance": "Dot"}}).raise_for_status()
        rng = np.random.default_rng(11)
        for first in range(0, 20_000, 2000):
            http.put(f"{vesta_tls_url}/collections/big/points?wait=true", json={"points": [
                {"id": i, "vector": rng.normal(size=64).tolist()}
                for i in range(first, first + 2000)]}).raise_for_status()
        info = http.post(f"{vesta_tls_url}/collections/big/snapshots").json()["result"]
        assert info["size"] > 1 << 20, info  # many of the sender's pieces
        first = http.get(f"{vesta_tls_url}/collections/big/snapshots/{info['name']}")
        again = http.get(f"{vesta_tls_url}/collections/big/snapshots/{info['name']}")
        assert first.status_code == again.status_code == 200
        assert len(first.content) == info["size"]
        assert first.content == again.content
        assert first.content[:4] == b"VSNP"
        count = http.post(f"{vesta_tls_url}/collections/big/points/count",
                          json={"exact": True}).json()["result"]["count"]
        assert count == 20_000
        http.delete(f"{vesta_tls_url}/collections/big").raise_for_status()


def test_an_upload_larger_than_the_body_limit_is_written_to_a_file_not_memory():
    # A snapshot is as large as its collection, far beyond --max-body-bytes:
    # the server writes an upload to DATA-DIR/uploads as it arrives (up to
    # --max-upload-bytes) and removes it once the collection is recovered.
    # The API key is checked before the body is read.
    with tempfile.TemporaryDirectory(prefix="vesta-snap-") as data_dir:
        server = Server(data_dir)
        before = fill(server.client, "docs", n=2000)
        info = server.client.create_snapshot("docs")
        assert 4096 < info.size < 1 << 20, info
        saved = pathlib.Path(data_dir) / "docs.snapshot"
        saved.write_bytes(httpx.get(
            f"{server.url}/collections/docs/snapshots/{info.name}").content)
        server.stop()

        server = Server(data_dir, "--max-body-bytes", "4K", "--max-upload-bytes", "1M")
        # Any other route still answers a body over the limit with 413.
        r = httpx.put(f"{server.url}/collections/docs/points", content=b" " * 8192)
        assert r.status_code == 413, r.text
        with open(saved, "rb") as f:  # qdrant-client's multipart upload
            answer = server.client.http.snapshots_api.recover_from_uploaded_snapshot(
                "copy", snapshot=f)
        assert answer.result is True
        assert server.client.count("copy").count == 2000
        got = server.client.retrieve("copy", ids=[5], with_vectors=True)[0].vector
        assert np.allclose(got, before[5] / np.linalg.norm(before[5]), atol=1e-3)
        uploads = pathlib.Path(data_dir) / "uploads"
        assert uploads.is_dir() and list(uploads.iterdir()) == []
        # Over --max-upload-bytes: 413 naming the option, nothing left behind.
        r = httpx.post(f"{server.url}/collections/copy/snapshots/upload",
                       content=b"x" * (2 << 20))
        assert r.status_code == 413 and "--max-upload-bytes" in r.text, r.text
        assert list(uploads.iterdir()) == []
        server.stop()

        server = Server(data_dir, "--api-key", "secret")
        with open(saved, "rb") as f:
            r = httpx.post(f"{server.url}/collections/other/snapshots/upload",
                           files={"snapshot": ("docs.snapshot", f)})
        assert r.status_code == 401, r.text
        assert list(uploads.iterdir()) == []
        with open(saved, "rb") as f:
            r = httpx.post(f"{server.url}/collections/other/snapshots/upload",
                           files={"snapshot": ("docs.snapshot", f)},
                           headers={"api-key": "secret"})
        assert r.status_code == 200, r.text
        assert list(uploads.iterdir()) == []
        server.stop()


@pytest.mark.parametrize("method,path,body,status,words", [
    ("GET", "/collections/docs/snapshots/nope.snapshot", None, 404, "does not exist"),
    ("GET", "/collections/docs/snapshots/..%2Fcatalog.json", None, 404, "does not exist"),
    ("DELETE", "/collections/docs/snapshots/nope.snapshot", None, 404, "does not exist"),
    ("POST", "/collections/missing/snapshots", None, 404, "does not exist"),
    ("PUT", "/collections/docs/snapshots/recover", {"location": "http://example.com/x"}, 400,
     "not supported"),
    ("PUT", "/collections/docs/snapshots/recover", {"location": "file:///no/such/file"}, 400,
     "location"),
    ("PUT", "/collections/docs/snapshots/recover", {}, 400, "location"),
    ("POST", "/collections/docs/snapshots/upload", b"not a snapshot", 400, "cannot be read"),
])
def test_bad_requests_name_the_problem(method, path, body, status, words):
    with tempfile.TemporaryDirectory(prefix="vesta-snap-") as data_dir:
        server = Server(data_dir)
        fill(server.client, "docs", n=10)
        kwargs = {"content": body} if isinstance(body, bytes) else {"json": body}
        r = httpx.request(method, server.url + path, **kwargs)
        assert r.status_code == status, r.text
        assert words in r.json()["status"]["error"]
        assert server.client.count("docs").count == 10  # nothing changed
        server.stop()


def test_a_memory_only_server_says_it_keeps_no_snapshots():
    with tempfile.TemporaryDirectory(prefix="vesta-snap-") as data_dir:
        server = Server(data_dir, "--storage", "memory")
        fill(server.client, "docs", n=5)
        r = httpx.post(f"{server.url}/collections/docs/snapshots")
        assert r.status_code == 409
        assert "--storage memory" in r.json()["status"]["error"]
        server.stop()


def test_vesta_snapshot_works_offline_and_refuses_a_directory_in_use():
    with tempfile.TemporaryDirectory(prefix="vesta-snap-") as data_dir:
        server = Server(data_dir)
        fill(server.client, "docs", n=50)
        before = everything(server.client, "docs")
        busy = subprocess.run([BINARY, "snapshot", "list", "--collection", "docs",
                               "--data-dir", data_dir], capture_output=True, text=True)
        assert busy.returncode == 1 and "in use by another vesta process" in busy.stderr
        server.stop()

        out = pathlib.Path(data_dir) / "offline.snapshot"
        created = subprocess.run([BINARY, "snapshot", "create", "--collection", "docs",
                                  "--data-dir", data_dir, "--out", str(out)],
                                 capture_output=True, text=True)
        assert created.returncode == 0, created.stderr
        assert created.stdout.strip() == str(out) and out.stat().st_size > 0
        kept = pathlib.Path(data_dir) / "collection-snapshots" / "docs"
        assert not kept.exists() or list(kept.iterdir()) == []  # nothing left behind
        listed = subprocess.run([BINARY, "snapshot", "list", "--collection", "docs",
                                 "--data-dir", data_dir], capture_output=True, text=True)
        assert listed.returncode == 0 and listed.stdout == "", listed
        kept_one = subprocess.run([BINARY, "snapshot", "create", "--collection", "docs",
                                   "--data-dir", data_dir], capture_output=True, text=True)
        assert kept_one.returncode == 0, kept_one.stderr
        path = pathlib.Path(kept_one.stdout.strip())
        listed = subprocess.run([BINARY, "snapshot", "list", "--collection", "docs",
                                 "--data-dir", data_dir], capture_output=True, text=True)
        name, _, size, checksum = listed.stdout.rstrip("\n").split("\t")
        assert (name, size) == (path.name, f"{path.stat().st_size} bytes")
        assert checksum == "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
        restored = subprocess.run([BINARY, "snapshot", "restore", "--collection", "twin", str(out),
                                   "--data-dir", data_dir], capture_output=True, text=True)
        assert restored.returncode == 0, restored.stderr
        bad = subprocess.run([BINARY, "snapshot", "restore", "--collection", "x",
                              "--data-dir", data_dir], capture_output=True, text=True)
        assert bad.returncode == 2 and "needs a snapshot FILE" in bad.stderr

        server = Server(data_dir)
        assert everything(server.client, "twin") == before
        server.stop()
