"""The binary batch search: the codec against docs/api.md's worked example
byte for byte, and VestaClient.search_raw against the JSON search on a real
server, with numpy and without it."""

import math

import numpy as np
import pytest

from vesta_client import PADDING_ID, BadRequest, Conflict, Point
from vesta_client import raw_search_codec as codec

DIM = 12
N = 150
K = 6

# docs/api.md, "Binary batch search", worked example: a Dot collection of
# size 2 with points 7 [1, 0], 3 [0, 1], 12 [-1, 0]; query [1.0, 0.5], k 4.
DOC_REQUEST = bytes.fromhex(
    "56535131 01 01 0000 01000000 02000000 04000000"
    "0000803f 0000003f".replace(" ", ""))
DOC_RESPONSE = bytes.fromhex((
    "56535231 01000000 04000000"
    "0700000000000000 0000803f"
    "0300000000000000 0000003f"
    "0c00000000000000 000080bf"
    "ffffffffffffffff 0000c07f").replace(" ", ""))


@pytest.mark.parametrize("use_numpy", [True, False])
def test_codec_writes_and_reads_the_documented_example(use_numpy):
    assert codec.encode_request([[1.0, 0.5]], 4, use_numpy=use_numpy) == DOC_REQUEST
    assert codec.encode_request([1.0, 0.5], 4, use_numpy=use_numpy) == DOC_REQUEST
    ids, scores = codec.decode_response(DOC_RESPONSE, use_numpy=use_numpy)
    assert [list(map(int, row)) for row in ids] == [[7, 3, 12, PADDING_ID]]
    assert [float(s) for s in scores[0][:3]] == [1.0, 0.5, -1.0]
    assert math.isnan(scores[0][3])


@pytest.mark.parametrize("use_numpy", [True, False])
def test_codec_float16_and_no_scores(use_numpy):
    body = codec.encode_request([[1.0, -2.0], [0.5, 65504.0]], 3, float16=True,
                                with_scores=False, use_numpy=use_numpy)
    assert body[:8] == b"VSQ1\x02\x00\x00\x00"
    assert np.frombuffer(body, dtype="<f2", offset=20).tolist() == [1.0, -2.0, 0.5, 65504.0]
    with pytest.raises(ValueError, match="float16 range"):
        codec.encode_request([[70000.0, 0.0]], 1, float16=True, use_numpy=use_numpy)
    response = b"VSR1" + (1).to_bytes(4, "little") + (2).to_bytes(4, "little") + \
        (5).to_bytes(8, "little") + (9).to_bytes(8, "little")
    ids, scores = codec.decode_response(response, with_scores=False, use_numpy=use_numpy)
    assert [list(map(int, r)) for r in ids] == [[5, 9]] and scores is None


def test_codec_refuses_malformed_responses():
    with pytest.raises(ValueError, match="shorter than the 12-byte header"):
        codec.decode_response(b"VSR1")
    with pytest.raises(ValueError, match="magic"):
        codec.decode_response(b"XXXX" + bytes(8))
    with pytest.raises(ValueError, match="48 bytes, its header says 60"):
        codec.decode_response(DOC_RESPONSE[:36 + 12])


@pytest.fixture
def seeded(client):
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((N, DIM)).astype(np.float32)
    client.create_collection("raw", dim=DIM, distance="Dot")
    client.upsert_batch("raw", list(range(N)), vectors)
    queries = rng.standard_normal((9, DIM)).astype(np.float32)
    return client, queries


def json_answers(client, queries, k):
    hits = [client.search("raw", q, limit=k) for q in queries]
    return [[h.id for h in row] for row in hits], [[h.score for h in row] for row in hits]


def test_search_raw_returns_numpy_arrays_equal_to_json_search(seeded):
    client, queries = seeded
    ids, scores = client.search_raw("raw", queries, K)
    assert ids.dtype == np.uint64 and ids.shape == (len(queries), K)
    assert scores.dtype == np.float32 and scores.shape == (len(queries), K)
    want_ids, want_scores = json_answers(client, queries, K)
    assert ids.tolist() == want_ids
    # Same float32 values either way: the JSON scores are those float32s.
    np.testing.assert_array_equal(scores, np.array(want_scores, dtype=np.float32))


def test_search_raw_without_numpy_returns_the_same_lists(seeded):
    client, queries = seeded
    ids, scores = client.search_raw("raw", queries.tolist(), K, as_numpy=False)
    assert isinstance(ids, list) and isinstance(ids[0], list) and isinstance(ids[0][0], int)
    want = client.search_raw("raw", queries, K)
    assert ids == want.ids.tolist()
    assert scores == want.scores.tolist()
    one_ids, _ = client.search_raw("raw", queries[0].tolist(), K, as_numpy=False)
    assert one_ids == [want.ids[0].tolist()]


def test_search_raw_splits_rows_into_batches(seeded):
    client, queries = seeded
    whole = client.search_raw("raw", queries, K)
    split = client.search_raw("raw", queries, K, batch_size=4)
    np.testing.assert_array_equal(split.ids, whole.ids)
    np.testing.assert_array_equal(split.scores, whole.scores)
    listed = client.search_raw("raw", queries, K, batch_size=2, as_numpy=False)
    assert listed.ids == whole.ids.tolist()


def test_search_raw_float16_queries_answer_as_their_float32_values(seeded):
    client, queries = seeded
    rounded = queries.astype(np.float16).astype(np.float32)
    half = client.search_raw("raw", queries, K, float16=True)
    full = client.search_raw("raw", rounded, K)
    np.testing.assert_array_equal(half.ids, full.ids)
    np.testing.assert_array_equal(half.scores, full.scores)


def test_search_raw_without_scores_and_with_padding(seeded):
    client, queries = seeded
    ids, scores = client.search_raw("raw", queries[:2], K, with_scores=False)
    assert scores is None and ids.shape == (2, K)
    client.create_collection("tiny", dim=DIM, distance="Dot")
    client.upsert("tiny", [Point(4, [1.0] * DIM), Point(2, [0.5] * DIM)])
    ids, scores = client.search_raw("tiny", np.ones((1, DIM)), 4)
    assert ids.tolist() == [[4, 2, PADDING_ID, PADDING_ID]]
    assert scores[0, :2].tolist() == [12.0, 6.0] and np.isnan(scores[0, 2:]).all()


def test_search_raw_of_no_queries_sends_nothing(seeded):
    client, _ = seeded
    ids, scores = client.search_raw("raw", np.empty((0, DIM), dtype=np.float32), K)
    assert ids.shape == (0, K) and scores.shape == (0, K)
    assert client.search_raw("raw", [], K, as_numpy=False) == ([], [])


def test_search_raw_errors(seeded):
    client, queries = seeded
    with pytest.raises(BadRequest) as err:
        client.search_raw("raw", queries[:, :5], K)
    assert err.value.message == f"dim 5 does not match the collection's {DIM}"
    client.create_collection("strings", dim=2, distance="Dot")
    client.upsert("strings", [Point("doc-7", [1, 0])])
    with pytest.raises(Conflict) as err:
        client.search_raw("strings", [[1.0, 0.0]], 1)
    assert "'doc-7'" in err.value.message and err.value.status_code == 409
