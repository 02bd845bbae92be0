"""The chunked point store through the API on PostgreSQL: idempotent merges, M4 reads that keep
every dip at every zoom, raw pages, and the streamed export."""

from __future__ import annotations

import csv
import io

import numpy as np
import orjson
import pytest
from sqlalchemy import func, select

from gapwatch.server.metrics.chunks import MAX_CHUNKS_PER_WINDOW, SUMMARY_STEPS, Points, m4
from gapwatch.server.models import MetricChunk, MetricSeries
from tests.server.conftest import claim, create_run, python_client

KEY = "eval/acc/task_0"


def _post(api, run_id: int, auth: dict, key: str, steps, values) -> dict:
    body = {"series": [{"key": key, "steps": list(map(int, steps)), "values": list(values)}]}
    response = api.post(
        f"/api/v1/runs/{run_id}/metrics",
        content=orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY),
        headers={**auth, "content-type": "application/json"},
    )
    assert response.status_code == 200, response.text
    return response.json()


def _get(api, run_id: int, **params) -> dict:
    response = api.get(f"/api/v1/runs/{run_id}/metrics", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def _chunk_rows(factory, run_id: int, key: str) -> int:
    with factory() as session:
        return session.scalar(
            select(func.count())
            .select_from(MetricChunk)
            .join(MetricSeries, MetricSeries.id == MetricChunk.series_id)
            .where(MetricSeries.run_id == run_id, MetricSeries.key == key)
        )


@pytest.fixture
def running(api):
    run = create_run(api)
    return run["id"], claim(api, run["id"])


def test_overlapping_batches_across_windows_store_each_step_once(api, running) -> None:
    run_id, auth = running
    first = np.arange(0, 5000)
    assert _post(api, run_id, auth, KEY, first, first / 10_000) == {
        "received": 5000, "stored": 5000,
    }  # fmt: skip
    second = np.arange(4000, 9000)
    assert _post(api, run_id, auth, KEY, second, np.zeros(5000)) == {
        "received": 5000, "stored": 4000,
    }  # fmt: skip
    assert _post(api, run_id, auth, KEY, second, np.zeros(5000))["stored"] == 0
    got = _get(api, run_id, keys=KEY)["series"][0]
    assert got["steps"] == list(range(9000))
    assert got["values"][:5000] == (first / 10_000).tolist()  # stored values are kept
    assert got["values"][5000:] == [0.0] * 4000


def test_gap_filling_batches_interleave_and_small_batches_are_merged(
    api, running, db_session_factory
) -> None:
    run_id, auth = running
    evens, odds = np.arange(0, 4096, 2), np.arange(1, 4096, 2)
    _post(api, run_id, auth, KEY, evens, evens / 4096)
    _post(api, run_id, auth, KEY, odds, odds / 4096)  # same window, interleaved
    page = _get(api, run_id, keys=KEY, limit=1000)
    assert page["series"][0]["steps"] == list(range(1000))
    assert page["next_start"] == {KEY: 1000} and page["points_in_range"] == {KEY: 4096}
    # Many small appends into one window: the store merges them, never more than the cap.
    stored = 0
    for lo in range(4096, 8192, 100):
        steps = np.arange(lo, min(lo + 100, 8192))
        stored += _post(api, run_id, auth, KEY, steps, steps / 8192)["stored"]
        assert _chunk_rows(db_session_factory, run_id, KEY) <= 2 + MAX_CHUNKS_PER_WINDOW
    assert stored == 4096
    got = _get(api, run_id, keys=KEY)["series"][0]
    steps = np.arange(8192)
    assert got["steps"] == steps.tolist()
    assert got["values"] == np.where(steps < 4096, steps / 4096, steps / 8192).tolist()


def test_raw_reads_are_paged_and_the_client_follows_the_pages(api, running) -> None:
    run_id, auth = running
    steps = np.arange(0, 30_000, 3)
    _post(api, run_id, auth, KEY, steps, steps / 30_000)
    first = _get(api, run_id, keys=KEY, limit=4000, start=10)
    assert first["series"][0]["steps"][:2] == [12, 15] and len(first["series"][0]["steps"]) == 4000
    next_start = first["next_start"][KEY]
    assert next_start == first["series"][0]["steps"][-1] + 3
    assert first["points_in_range"] == {KEY: 9996} and first["downsampled"] is False
    client = python_client(api)
    series = client.get_metrics(run_id, [KEY], start=10)
    assert series[KEY][0] == steps[4:].tolist()
    assert client.get_metrics(run_id, [KEY], end=9)[KEY] == ([0, 3, 6], [0.0, 1e-4, 2e-4])


def test_downsampling_keeps_a_dip_at_every_zoom(api, running) -> None:
    run_id, auth = running
    rng = np.random.default_rng(1)
    n = 200_000
    values = np.round(rng.uniform(0.85, 0.95, n), 3)
    dip = 123_457
    values[dip : dip + 20] = 0.2
    values[dip + 7] = 0.15
    for lo in range(0, n, 50_000):
        _post(api, run_id, auth, KEY, np.arange(lo, lo + 50_000), values[lo : lo + 50_000])
    zooms = ((None, None), (100_000, 150_000), (dip - 1000, dip + 1000), (dip + 5, dip + 9))
    for start, end in zooms:
        params = {k: v for k, v in {"start": start, "end": end}.items() if v is not None}
        answer = _get(api, run_id, keys=KEY, points=300, **params)
        got = answer["series"][0]
        assert len(got["steps"]) <= 300
        assert answer["downsampled"] is ((end or n) - (start or 0) > 300)
        at = got["values"].index(0.15)
        assert got["steps"][at] == dip + 7, (start, end)
        assert set(got["steps"]) <= set(range(start or 0, end or n))
    whole = _get(api, run_id, keys=KEY, points=2000)["series"][0]
    assert max(whole["values"]) == values.max() and whole["steps"][0] == 0
    assert whole["steps"][-1] == n - 1
    raw = _get(api, run_id, keys=KEY, points=300, raw="true")["series"][0]
    assert len(raw["steps"]) == n


def test_the_summary_read_is_the_same_m4_as_from_every_point(api, running) -> None:
    """A wide bucket reads the stored 64-step summaries; the answer must not change."""
    run_id, auth = running
    rng = np.random.default_rng(2)
    steps = np.sort(rng.choice(300_000, 120_000, replace=False))
    values = np.round(rng.uniform(0, 1, steps.size), 2)
    for lo in range(0, steps.size, 7_000):  # windows get several chunks
        _post(api, run_id, auth, KEY, steps[lo : lo + 7_000], values[lo : lo + 7_000])
    everything = Points(steps, values)
    for start, end, points in ((None, None, 400), (1_234, 250_001, 200), (70_001, 90_000, 40)):
        answer = _get(
            api, run_id, keys=KEY, points=points,
            **{k: v for k, v in {"start": start, "end": end}.items() if v is not None},
        )  # fmt: skip
        inside = everything.window(start, end)
        expected = m4(inside, int(inside.steps[0]), int(inside.steps[-1]) + 1, points // 4,
                      SUMMARY_STEPS)  # fmt: skip
        got = answer["series"][0]
        assert got["steps"] == expected.steps.tolist(), (start, end)
        assert got["values"] == expected.values.tolist()
        assert answer["points_in_range"][KEY] == len(inside)


def test_query_parameters_are_checked(api, running) -> None:
    run_id, _ = running
    for params, field in (
        ({"points": 3}, "points"),
        ({"points": 100_001}, "points"),
        ({"limit": 0}, "limit"),
        ({"start": -1}, "start"),
    ):
        response = api.get(f"/api/v1/runs/{run_id}/metrics", params=params)
        assert response.status_code == 422 and response.json()["detail"][0]["loc"] == [
            "query", field,
        ], params  # fmt: skip
    assert api.get("/api/v1/runs/987654/metrics", params={"points": 300}).status_code == 404
    empty = _get(api, run_id, keys=KEY, start=10, end=5)
    assert empty["series"] == [{"key": KEY, "steps": [], "values": []}]


def test_export_streams_every_point_as_csv_and_json(api, running) -> None:
    run_id, auth = running
    steps = np.arange(0, 20_000, 2)
    _post(api, run_id, auth, "train/loss", steps, steps / 7)
    _post(api, run_id, auth, KEY, [0, 1, 5], [0.25, 0.5, 1.0])
    response = api.get(f"/api/v1/runs/{run_id}/export", params={"format": "csv"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["key", "step", "value"] and len(rows) == 1 + 10_000 + 3
    assert rows[1:4] == [[KEY, "0", "0.25"], [KEY, "1", "0.5"], [KEY, "5", "1.0"]]
    losses = [(int(s), float(v)) for k, s, v in rows[4:]]
    assert losses == list(zip(steps.tolist(), (steps / 7).tolist(), strict=True))
    document = api.get(f"/api/v1/runs/{run_id}/export", params={"format": "json"}).json()
    assert document["run_id"] == run_id
    assert [s["key"] for s in document["series"]] == [KEY, "train/loss"]
    assert document["series"][1]["values"] == (steps / 7).tolist()
    assert api.get(f"/api/v1/runs/{run_id}/export", params={"format": "xml"}).status_code == 422
    client = python_client(api)
    assert b"".join(client.export_metrics(run_id)).decode() == response.text


def test_canonical_bodies_take_the_fast_parser(api, running) -> None:
    from gapwatch.server.metrics.schemas import _fast_parse

    body = orjson.dumps({"series": [{"key": KEY, "steps": [3, 1, 2], "values": [0.3, 0.1, 1]}]})
    (parsed,) = _fast_parse(body)
    assert parsed.points.steps.tolist() == [1, 2, 3]
    assert parsed.points.values.tolist() == [0.1, 1.0, 0.3]
    # Lax input (a step written 2.0, a value as a string) goes through the model, as before.
    run_id, auth = running
    lax = b'{"series": [{"key": "k", "steps": [2.0, 1], "values": ["0.5", 1]}]}'
    assert _fast_parse(lax) is None
    response = api.post(
        f"/api/v1/runs/{run_id}/metrics",
        content=lax,
        headers={**auth, "content-type": "application/json"},
    )
    assert response.json() == {"received": 2, "stored": 2}
    assert _get(api, run_id, keys="k")["series"][0] == {
        "key": "k",
        "steps": [1, 2],
        "values": [1.0, 0.5],
    }
    not_json = api.post(
        f"/api/v1/runs/{run_id}/metrics",
        content=b"{",
        headers={**auth, "content-type": "application/json"},
    )
    assert not_json.status_code == 422 and not_json.json()["detail"][0]["type"] == "json_invalid"
    text = api.post(
        f"/api/v1/runs/{run_id}/metrics",
        content=body,
        headers={**auth, "content-type": "text/plain"},
    )
    assert text.status_code == 422
    assert api.post(f"/api/v1/runs/{run_id}/metrics", headers=auth).status_code == 422


def test_openapi_documents_the_new_operations(api) -> None:
    schema = api.get("/openapi.json").json()
    ids = {op["operationId"] for ops in schema["paths"].values() for op in ops.values()}
    assert {"runs-summary", "runs-gaps", "runs-compare", "metrics-export", "metrics-read"} <= ids
    ingest = schema["paths"]["/api/v1/runs/{run_id}/metrics"]["post"]
    body = ingest["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["series"]
    assert body["properties"]["series"]["items"]["properties"]["key"]["pattern"]
    binary = ingest["requestBody"]["content"]["application/x-gapwatch-columnar"]["schema"]
    assert binary["format"] == "binary" and "int64 steps" in binary["description"]
    assert {p["name"] for p in ingest["parameters"]} == {"run_id", "authorization"}
