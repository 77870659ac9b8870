"""The official neo4j Python driver's side of the Bolt client's
interoperability tests (tests/persistence/bolt/falkordb_test.cpp).

    python neo4j_driver_interop.py read URL LABEL    prints, as JSON, the nodes
        labelled LABEL and the relationships between them
    python neo4j_driver_interop.py write URL LABEL   writes a fixed small graph
        (the one the C++ test expects) under LABEL

Runs in the graph peer's virtual environment (tests/graph/requirements.txt).
"""

import json
import sys
import time

import neo4j

from falkordb_quirks import absorb_goodbye_quirk

# What `write` creates: property values of every type the graph stores.
NODES = [
    {"id": "py-1", "props": {"name": "Ada", "age": 36, "big": 2**40, "score": 0.25,
                             "active": True, "tags": ["a", "b"], "embedding": [0.5, -1.25, 3.0]}},
    {"id": "py-2", "props": {"name": "Grüße ☃", "age": -7}},
    {"id": "py-3", "props": {}},
]
EDGES = [
    {"source": "py-1", "target": "py-2", "props": {"weight": 0.75, "since": 1843}},
    {"source": "py-2", "target": "py-3", "props": {}},
]


def read(driver, label):
    with driver.session() as session:
        nodes = [
            {"id": record["id"], "labels": sorted(record["labels"]), "props": record["props"]}
            for record in session.run(
                f"MATCH (n:`{label}`) RETURN n.id AS id, labels(n) AS labels, "
                "properties(n) AS props ORDER BY id")
        ]
        edges = [
            {"source": record["source"], "target": record["target"], "type": record["type"],
             "props": record["props"]}
            for record in session.run(
                f"MATCH (a:`{label}`)-[r]->(b:`{label}`) RETURN a.id AS source, b.id AS target, "
                "type(r) AS type, properties(r) AS props ORDER BY source, target")
        ]
    print(json.dumps({"nodes": nodes, "edges": edges}, sort_keys=True))


def write(driver, label):
    with driver.session() as session:
        session.execute_write(lambda tx: tx.run(
            f"UNWIND $rows AS r MERGE (n:`{label}` {{id: r.id}}) SET n += r.props",
            rows=NODES).consume())
        session.execute_write(lambda tx: tx.run(
            f"UNWIND $rows AS r MATCH (a:`{label}` {{id: r.source}}) "
            f"MATCH (b:`{label}` {{id: r.target}}) MERGE (a)-[e:KNOWS]->(b) SET e += r.props",
            rows=EDGES).consume())


def main():
    command, url, label = sys.argv[1:4]
    driver = neo4j.GraphDatabase.driver(url, auth=None, connection_timeout=10,
                                        connection_acquisition_timeout=20)
    try:
        {"read": read, "write": write}[command](driver, label)
    finally:
        driver.close()
        time.sleep(0.05)
        absorb_goodbye_quirk(url)


if __name__ == "__main__":
    main()
