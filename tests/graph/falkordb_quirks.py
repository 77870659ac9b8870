"""Work-arounds for the graph test peer (FalkorDB 4.16) that every Python
suite talking to it needs: tests/graph, tests/compat and the Python client's
tests import this file (standard library only, any virtual environment)."""

import socket


def absorb_goodbye_quirk(url: str) -> None:
    """FalkorDB 4.16 leaves the first Bolt handshake after a client's GOODBYE
    unanswered (docs/graph.md, "The graph test peer"); the neo4j driver and
    vesta serve send GOODBYE when they close. Take that connection ourselves
    and close it, so the next client is answered; harmless when none is due."""
    host, port = url.split("://", 1)[1].rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=1) as s:
            s.sendall(bytes([0x60, 0x60, 0xB0, 0x17, 0, 3, 4, 5]) + bytes(12))
            try:
                s.recv(4)
            except socket.timeout:
                pass
    except OSError:
        pass
