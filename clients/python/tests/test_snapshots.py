"""Collection snapshots through VestaClient: create, list, download to a file,
recover from a path or file:// URL, upload into a new collection, delete."""

import hashlib

import numpy as np
import pytest

from vesta_client import BadRequest, Conflict, NotFound, PayloadSchemaType, Point

DIM = 8


def everything(client, name):
    return {r.id: (r.vector, r.payload) for r in client.scroll_all(name, with_vector=True)}


@pytest.fixture
def filled(client):
    rng = np.random.default_rng(11)
    client.create_collection("docs", dim=DIM)
    client.upsert_batch("docs", list(range(120)), rng.standard_normal((120, DIM)),
                        [{"i": i, "tag": f"t{i % 3}"} for i in range(120)])
    client.create_payload_index("docs", "tag", PayloadSchemaType.KEYWORD)
    client.create_alias("live", "docs")
    return client


def test_create_list_download_recover_upload_delete(filled, tmp_path):
    client = filled
    before = everything(client, "docs")

    snapshot = client.create_snapshot("docs")
    assert snapshot.name.startswith("docs-") and snapshot.name.endswith(".snapshot")
    assert snapshot.size > 0 and snapshot.creation_time
    assert client.list_snapshots("docs") == [snapshot]

    saved = client.download_snapshot("docs", snapshot.name, tmp_path / "copy.snapshot")
    assert saved.stat().st_size == snapshot.size

    # Change the collection, then recover the file over it (a path here).
    client.delete("docs", list(range(50)))
    client.upsert("docs", [Point(10_000, [1.0] * DIM)])
    client.recover_snapshot("docs", saved)
    assert everything(client, "docs") == before
    assert [a.alias_name for a in client.list_aliases("docs")] == ["live"]
    assert "tag" in client.get_collection("docs").payload_schema

    # The same as a file:// URL, through the alias.
    client.delete("docs", [1])
    client.recover_snapshot("live", saved.resolve().as_uri())
    assert everything(client, "docs") == before

    # Upload into a new collection.
    client.upload_snapshot("copy", saved)
    assert everything(client, "copy") == before

    # The checksum is the file's SHA-256; a recovery given another refuses.
    digest = hashlib.sha256(saved.read_bytes()).hexdigest()
    assert snapshot.checksum == digest
    with pytest.raises(BadRequest, match="checksum"):
        client.recover_snapshot("other", saved, checksum="ab" * 32)
    with pytest.raises(BadRequest, match="checksum"):
        client.upload_snapshot("other", saved, checksum="ab" * 32)
    assert not client.collection_exists("other")
    client.upload_snapshot("other", saved, checksum=digest)
    client.recover_snapshot("other", saved, checksum=digest)
    assert everything(client, "other") == before

    assert client.delete_snapshot("docs", snapshot.name) is True
    assert client.list_snapshots("docs") == []


def test_download_of_a_missing_snapshot_is_not_found_and_leaves_no_file(filled, tmp_path):
    target = tmp_path / "none.snapshot"
    with pytest.raises(NotFound):
        filled.download_snapshot("docs", "docs-1-2-20260101T000000Z.snapshot", target)
    assert not target.exists()


def test_memory_storage_refuses_snapshots_with_its_reason(keyed_client):
    keyed_client.create_collection("m", dim=2)
    with pytest.raises(Conflict) as err:
        keyed_client.create_snapshot("m")
    assert "file storage" in err.value.message
