"""Reads back a whole graph with the official neo4j Python driver, for
test_graph_outage.py:

    python graph_read_back.py URL LABEL

prints, as JSON: every node (its `id` property, labels and properties),
every relationship (its ends' `id`s, type and properties), whatever their
labels, and the graph database's own counts per node id and per
(source, type, target) among the nodes labelled LABEL.

Runs in the graph peer's virtual environment (scripts/graph-test-peer.sh
python; the driver is pinned in tests/graph/requirements.txt), as
tests/graph/neo4j_driver_interop.py does, and copes with FalkorDB's GOODBYE
quirk the same way (docs/graph.md, "The graph test peer")."""

import json
import os
import sys
import time

import neo4j

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "graph"))
from falkordb_quirks import absorb_goodbye_quirk  # noqa: E402


def read_all(driver, label):
    with driver.session() as session:
        nodes = [{"id": r["id"], "labels": sorted(r["labels"]), "props": r["props"]}
                 for r in session.run("MATCH (n) RETURN n.id AS id, labels(n) AS labels, "
                                      "properties(n) AS props")]
        edges = [{"source": r["source"], "type": r["type"], "target": r["target"],
                  "props": r["props"]}
                 for r in session.run("MATCH (a)-[r]->(b) RETURN a.id AS source, type(r) AS type, "
                                      "b.id AS target, properties(r) AS props")]
        node_counts = [[r["id"], r["c"]] for r in session.run(
            f"MATCH (n:`{label}`) RETURN n.id AS id, count(*) AS c")]
        edge_counts = [[r["source"], r["type"], r["target"], r["c"]] for r in session.run(
            f"MATCH (a:`{label}`)-[r]->(b:`{label}`) RETURN a.id AS source, type(r) AS type, "
            "b.id AS target, count(*) AS c")]
    return {"nodes": nodes, "edges": edges, "node_counts": node_counts,
            "edge_counts": edge_counts}


def main():
    url, label = sys.argv[1:3]
    driver = neo4j.GraphDatabase.driver(url, auth=None, connection_timeout=10,
                                        connection_acquisition_timeout=20)
    try:
        graph = read_all(driver, label)
    finally:
        driver.close()
        time.sleep(0.05)
        absorb_goodbye_quirk(url)
    json.dump(graph, sys.stdout)


if __name__ == "__main__":
    main()
