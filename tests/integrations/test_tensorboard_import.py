"""`gapwatch import tensorboard`: event files written by the real TensorBoard writer become runs
whose points, boundaries and gaps are those that were written."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

pytest.importorskip("tensorboard")
from torch.utils.tensorboard import SummaryWriter  # noqa: E402

from gapwatch.cli import main  # noqa: E402
from gapwatch.client import GapwatchClient  # noqa: E402
from gapwatch.tensorboard import import_logdir, key_for, parse_rule  # noqa: E402

pytestmark = pytest.mark.integration


def stability_gap_curves() -> dict[str, list[tuple[int, float]]]:
    """Two tasks of 50 steps: task 0 learnt, then dipping to 0.4 at step 53 and back to 0.9."""
    task0 = [(s, min(0.95, 0.2 + 0.02 * s)) for s in range(50)]
    task0 += [(s, 0.4 if s == 53 else 0.9) for s in range(50, 100)]
    task1 = [(s, min(0.9, 0.1 + 0.03 * (s - 50))) for s in range(50, 100)]
    return {"task0": task0, "task1": task1}


def write_event_files(directory: Path, *, percent: bool = False, avalanche: bool = False) -> None:
    curves = stability_gap_curves()
    writer = SummaryWriter(log_dir=str(directory))
    for step in range(100):
        writer.add_scalar("train loss", 1.0 / (1 + step), step)
        writer.add_scalar("task", 0 if step < 50 else 1, step)
    for name, points in curves.items():
        task = int(name[-1])
        tag = (
            f"Top1_Acc_Exp/eval_phase/test_stream/Task000/Exp{task:03d}"
            if avalanche
            else f"acc/task_{task}"
        )
        for step, value in points:
            writer.add_scalar(tag, value * (100 if percent else 1), step)
    writer.close()


def test_tag_mapping_rules() -> None:
    custom = [parse_rule(r"acc_exp(\d+)=eval/acc/task_{1}")]
    assert key_for("acc_exp07", custom) == "eval/acc/task_7"
    assert key_for("weird tag (x)", custom) == "weird_tag__x_"
    with pytest.raises(ValueError, match="group 2"):
        parse_rule(r"acc(\d+)=eval/acc/task_{2}")
    with pytest.raises(ValueError, match="REGEX=TEMPLATE"):
        parse_rule("no-equals-sign")


def test_event_files_become_a_run_with_the_written_points_and_gap(
    tmp_path: Path, live_api: str, live_key: str
) -> None:
    write_event_files(tmp_path / "logs" / "er-seed0", avalanche=True)
    write_event_files(tmp_path / "logs" / "er-seed1", percent=True)
    out = io.StringIO()
    with GapwatchClient(live_api, api_key=live_key) as client:
        seed0, seed1 = import_logdir(
            client, tmp_path / "logs", group="tb-import", tags=["tb"], out=out
        )
        # Percentages are only divided when asked; the second run is imported again as such.
        (seed1,) = import_logdir(
            client, tmp_path / "logs" / "er-seed1", name="pct", accuracy_percent=True, out=out
        )
        curves = stability_gap_curves()
        for run_id in (seed0, seed1):
            run = client.get_run(run_id)
            assert run["kind"] == "loop" and run["status"] == "succeeded"
            series = client.get_metrics(run_id)
            assert set(series) == {"eval/acc/task_0", "eval/acc/task_1", "train/loss"}
            for task in (0, 1):
                steps, values = series[f"eval/acc/task_{task}"]
                assert steps == [s for s, _ in curves[f"task{task}"]]
                assert values == pytest.approx([v for _, v in curves[f"task{task}"]], abs=1e-6)
            events = client.get_events(run_id)
            assert [(e["kind"], e["step"]) for e in events] == [
                ("task_start", 0),
                ("task_end", 50),
                ("task_start", 50),
            ]
            gaps = client.get_gaps(run_id)
            assert gaps["boundaries"], gaps
        assert client.get_run(seed0)["name"] == "er-seed0"
        assert client.get_run(seed0)["group"] == "tb-import"
    assert "run " in out.getvalue() and "3 boundary events" in out.getvalue()


def test_the_command_line_imports_and_refuses_an_empty_directory(
    tmp_path: Path, live_api: str, live_key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    write_event_files(tmp_path / "one")
    common = ["--url", live_api, "--api-key", live_key]
    assert (
        main(["import", "tensorboard", str(tmp_path / "one"), "--boundaries", "0,50", *common]) == 0
    )
    assert "2 task accuracies" in capsys.readouterr().out
    (tmp_path / "empty").mkdir()
    assert main(["import", "tensorboard", str(tmp_path / "empty"), *common]) == 2
    assert "no TensorBoard event files" in capsys.readouterr().err
