"""The run page's Plasticity panel and Cost card, and the compare page's cost rows and
plasticity overlays, in a real browser: two loop runs of one group (a joint run and an ER run)
log diag/ and cost/ points through the REST ingest, as the engine and the SDK do.

Screenshots go to test-artifacts/e2e/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

STEPS = [0, 10, 20, 30, 40]
EVENTS = [
    {"step": 0, "kind": "task_start", "payload": {"task": 0}},
    {"step": 20, "kind": "task_end", "payload": {"task": 0}},
    {"step": 20, "kind": "task_start", "payload": {"task": 1}},
    {"step": 40, "kind": "task_end", "payload": {"task": 1}},
]


def loop_run(api: httpx.Client, strategy: str, series: dict[str, tuple[list, list]]) -> int:
    config = {"strategy": strategy, "benchmark": "split_digits", "seed": 0}
    opened = api.post("/runs/init", json={"group": "e2e-cost", "config": config})
    assert opened.status_code == 201, opened.text
    run_id, token = opened.json()["run"]["id"], opened.json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    body = {"series": [{"key": k, "steps": s, "values": v} for k, (s, v) in series.items()]}
    assert api.post(f"/runs/{run_id}/metrics", json=body, headers=auth).is_success
    assert api.post(f"/runs/{run_id}/events", json={"events": EVENTS}, headers=auth).is_success
    finished = api.post(f"/runs/{run_id}/finish", json={"status": "succeeded"}, headers=auth)
    assert finished.status_code == 200, finished.text
    return run_id


def costs(task: dict[str, tuple[float, float]]) -> dict[str, tuple[list, list]]:
    out: dict[str, tuple[list, list]] = {}
    for q, (first, second) in task.items():
        out[f"cost/task/{q}"] = ([20, 40], [first, second])
        out[f"cost/run/{q}"] = ([20, 40], [first, first + second])
    return out


def diagnostics(dormant: list[float]) -> dict[str, Any]:
    return {
        "eval/acc/task_0": (STEPS, [0.1, 0.8, 0.9, 0.7, 0.75]),
        "diag/dormant": (STEPS, dormant),
        "diag/dormant/hidden_0": (STEPS, dormant),
        "diag/eff_rank/hidden_0": (STEPS, [30.0, 28.0, 25.0, 22.0, 20.0]),
        "diag/stable_rank/hidden_0": (STEPS, [9.0, 8.0, 7.5, 7.0, 6.0]),
        "diag/w_abs/layer_0": (STEPS, [0.05, 0.06, 0.07, 0.08, 0.09]),
        "diag/grad_norm": (STEPS[1:], [1.0, 0.8, 0.9, 0.5]),
        "diag/plasticity": (STEPS[1:], [0.4, 0.3, 0.35, 0.2]),
    }


def test_plasticity_panel_and_cost_card_show_the_logged_numbers(
    page: Page, dashboard_url: str, api: httpx.Client, screenshots: Path
) -> None:
    joint = loop_run(
        api,
        "joint",
        costs({"train_flops": (4e9, 6e9), "wall_seconds": (2.0, 3.0), "replay_bytes": (0, 0)}),
    )
    er = loop_run(
        api,
        "er",
        {
            **diagnostics([0.0, 0.05, 0.1, 0.15, 0.2]),
            **costs(
                {
                    "train_flops": (1.1e9, 2e9),
                    "wall_seconds": (1.0, 1.5),
                    "replay_bytes": (512, 1024),
                }
            ),
        },
    )

    page.goto(f"{dashboard_url}/runs/{er}")
    panel = page.get_by_test_id("plasticity-panel")
    expect(panel).to_be_visible()
    for chart in ("dormant", "eff_rank", "stable_rank", "w_abs", "grad_norm", "plasticity"):
        expect(page.get_by_test_id(f"plasticity-chart-{chart}")).to_be_visible()
    expect(panel.locator("[data-ready='true']")).to_have_count(1)

    card = page.get_by_test_id("cost-card")
    expect(card).to_be_visible()
    # 3.1e9 FLOPs; 3.1e9 / 10e9 of the joint run: "0.31x retraining".
    expect(page.get_by_test_id("cost-total-train_flops")).to_contain_text("3.1 GFLOP")
    expect(page.get_by_test_id("cost-ratio-train_flops")).to_have_text("0.31× retraining")
    expect(page.get_by_test_id("cost-total-wall_seconds")).to_contain_text("2.5 s")
    expect(page.get_by_test_id("cost-ratio-wall_seconds")).to_have_text("0.50× retraining")
    expect(page.get_by_test_id("cost-total-replay_bytes")).to_contain_text("1.5 KiB")
    expect(page.get_by_test_id("cost-ratio-replay_bytes")).to_have_count(0)  # joint keeps none
    expect(page.get_by_test_id("cost-baseline")).to_have_text(f"vs joint run {joint}")
    page.get_by_test_id("cost-tasks-toggle").click()
    rows = page.get_by_test_id("cost-tasks").locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(1)).to_contain_text("2.0 GFLOP")
    panel.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / "run-plasticity-cost.png"), full_page=True)

    # The joint run logged no diagnostics: no Plasticity panel; its ratios are 1.
    # The panel is decided by the run's metric keys: wait for them before asserting its absence.
    keys_of_joint = f"/api/v1/runs/{joint}/metrics/keys"
    with page.expect_response(lambda response: keys_of_joint in response.url) as keys:
        page.goto(f"{dashboard_url}/runs/{joint}")
    assert keys.value.ok and not any(k.startswith("diag/") for k in keys.value.json()["keys"])
    expect(page.get_by_test_id("cost-ratio-train_flops")).to_have_text("1.00× retraining")
    expect(page.get_by_test_id("plasticity-panel")).to_have_count(0)

    # Compare: the cost rows and one overlay per diagnostic key.
    page.goto(f"{dashboard_url}/compare?runs={er},{joint}")
    flops = page.get_by_test_id("compare-cost-table").locator("tr[data-cost='train_flops']")
    expect(flops.locator(f"td[data-column='run:{er}']")).to_contain_text("0.31× retraining")
    expect(flops.locator(f"td[data-column='run:{joint}']")).to_contain_text("10.0 GFLOP")
    overlays = page.get_by_test_id("compare-plasticity")
    expect(overlays).to_have_attribute("data-ready", "true")
    expect(page.get_by_test_id("compare-diag-diag-eff_rank-hidden_0")).to_be_visible()
    page.screenshot(path=str(screenshots / "compare-plasticity-cost.png"), full_page=True)
