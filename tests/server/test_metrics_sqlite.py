"""The embedded mode's store: the same ingest, merge, M4 and analytics code on a SQLite file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pytest
from pydantic import SecretStr

from gapwatch.config import Settings
from gapwatch.server.metrics.chunks import SUMMARY_STEPS, Points, m4
from gapwatch.server.migrate import upgrade_database
from tests.conftest import WORKER_TOKEN
from tests.server.analytics_helpers import hand_computed_run
from tests.server.conftest import client_with_account

KEY = "eval/acc/task_0"


@pytest.fixture
def sqlite_api(tmp_path: Path):
    settings = Settings(data_dir=tmp_path, worker_token=SecretStr(WORKER_TOKEN))
    upgrade_database(settings.resolved_database_url)
    with client_with_account(settings) as client:
        yield client


def test_ingest_merge_downsample_and_export_on_sqlite(sqlite_api) -> None:
    api = sqlite_api
    assert api.get("/health").json()["database"] == "sqlite"
    run_id, auth = hand_computed_run(api)
    path = f"/api/v1/runs/{run_id}/metrics"
    headers = {**auth, "content-type": "application/json"}

    def post(steps: np.ndarray, values: np.ndarray) -> dict:
        body = {"series": [{"key": KEY, "steps": steps, "values": values}]}
        return api.post(
            path, content=orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY), headers=headers
        ).json()

    steps = np.arange(10, 40_000)
    values = np.round(np.random.default_rng(3).uniform(0.5, 1, steps.size), 3)
    values[30_000:30_020] = 0.05
    assert post(steps[:25_000], values[:25_000]) == {"received": 25_000, "stored": 25_000}
    # Overlapping, then many small batches into the same windows (merged on the way).
    assert post(steps[20_000:30_000], values[20_000:30_000])["stored"] == 5_000
    stored = sum(
        post(steps[lo : lo + 300], values[lo : lo + 300])["stored"]
        for lo in range(29_000, steps.size, 300)
    )
    assert stored == steps.size - 30_000

    everything = api.get(path, params={"keys": KEY}).json()["series"][0]
    assert everything["steps"] == [0, 2, 4, 6, *steps.tolist()]
    expected_values = [0.1, 0.9, 0.95, 0.7, *values.tolist()]
    assert everything["values"] == expected_values
    answer = api.get(path, params={"keys": KEY, "points": 300}).json()
    assert answer["downsampled"] and 0.05 in answer["series"][0]["values"]
    all_points = Points(np.array(everything["steps"]), np.array(expected_values))
    expected = m4(all_points, 0, int(steps[-1]) + 1, 75, SUMMARY_STEPS)
    assert answer["series"][0]["steps"] == expected.steps.tolist()

    summary = api.get(f"/api/v1/runs/{run_id}/summary").json()
    assert summary["forgetting"]["value"] == pytest.approx(0.225)  # as of e_T = 6
    export = api.get(f"/api/v1/runs/{run_id}/export", params={"format": "csv"}).text
    assert export.count("\n") == 1 + 12 + steps.size
