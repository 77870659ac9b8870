"""With --postgres, every point's payload is also in table vesta_points
(jsonb) in step with the collection, for inspection with SQL; with
--postgres-payload-table off it is not. Skipped when VESTA_TEST_POSTGRES_URL
is unset."""

import json
import shutil
import subprocess
import uuid

from qdrant_client import models

from test_durability import POSTGRES_URL, Server, needs_postgres

pytestmark = needs_postgres


def sql(query):
    psql = shutil.which("psql")
    assert psql, "psql (postgresql-client) is needed"
    out = subprocess.run([psql, POSTGRES_URL, "-tA", "-c", query], check=True,
                         capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if line]


def payloads(workspace, collection):
    rows = sql("SELECT id_type || ':' || id, coalesce(payload::text, 'null') FROM vesta_points "
               f"WHERE workspace = '{workspace}' AND collection = '{collection}'")
    return {key: json.loads(value) for key, value in (row.split("|", 1) for row in rows)}


def test_payloads_are_queryable_with_sql_in_step_with_the_collection(tmp_path):
    workspace = f"payloads-{uuid.uuid4().hex[:12]}"
    server = Server(tmp_path, "--postgres", POSTGRES_URL, "--postgres-workspace", workspace)
    try:
        client = server.client
        client.create_collection("chunks", vectors_config=models.VectorParams(
            size=4, distance=models.Distance.COSINE))
        client.upsert("chunks", wait=True, points=[
            models.PointStruct(id=i, vector=[1, i, 0, 0],
                               payload={"doc_id": f"doc-{i % 3}", "n": i}) for i in range(1, 10)])
        client.set_payload("chunks", payload={"reviewed": True},
                           points=models.Filter(must=[models.FieldCondition(
                               key="doc_id", match=models.MatchValue(value="doc-1"))]), wait=True)
        client.delete_payload("chunks", keys=["n"], points=[2], wait=True)
        client.delete("chunks", points_selector=models.PointIdsList(points=[9]), wait=True)

        table = payloads(workspace, "chunks")
        stored = {f"number:{p.id}": p.payload
                  for p in client.scroll("chunks", limit=100, with_payload=True)[0]}
        assert table == stored
        assert table["number:4"] == {"doc_id": "doc-1", "n": 4, "reviewed": True}
        assert table["number:2"] == {"doc_id": "doc-2"}
        # The kind of query a user runs.
        assert sorted(sql("SELECT id FROM vesta_points WHERE workspace = "
                          f"'{workspace}' AND payload @> '{{\"doc_id\": \"doc-1\"}}'"),
                      key=int) == ["1", "4", "7"]
        client.delete_collection("chunks")
        assert payloads(workspace, "chunks") == {}
    finally:
        server.stop()


def test_the_payload_table_can_be_turned_off(tmp_path):
    workspace = f"payloads-{uuid.uuid4().hex[:12]}"
    server = Server(tmp_path, "--postgres", POSTGRES_URL, "--postgres-workspace", workspace,
                    "--postgres-payload-table", "off")
    try:
        server.client.create_collection("chunks", vectors_config=models.VectorParams(
            size=4, distance=models.Distance.DOT))
        server.client.upsert("chunks", wait=True, points=[
            models.PointStruct(id=1, vector=[1, 0, 0, 0], payload={"a": 1})])
        assert payloads(workspace, "chunks") == {}
        assert len(server.client.retrieve("chunks", [1])) == 1
    finally:
        server.stop()
