"""Bad input is refused at the call with a clear error, by the server's own rules."""

from __future__ import annotations

import argparse
import dataclasses
import re
from pathlib import Path

import pytest

import gapwatch
from gapwatch.client import MAX_ERROR_CHARS
from gapwatch.sdk import validation
from gapwatch.sdk.run import Run
from gapwatch.server.metrics import schemas as metric_schemas
from gapwatch.server.runs import schemas as run_schemas
from tests.sdk.test_offline import points_of


def test_the_bounds_the_server_states_itself_are_the_sdks() -> None:
    # The stored-data bounds are gapwatch.spec's on both sides; these two are the server's own.
    assert validation.MAX_PROGRESS_STEP == run_schemas.MAX_PROGRESS_STEP
    error_field = run_schemas.FinishRequest.model_fields["error"]
    assert any(getattr(m, "max_length", None) == MAX_ERROR_CHARS
               for m in error_field.metadata)  # fmt: skip
    longest = "k" * validation.MAX_KEY_CHARS
    assert re.match(metric_schemas.METRIC_KEY_PATTERN, longest)
    assert not re.match(metric_schemas.METRIC_KEY_PATTERN, longest + "k")


@pytest.fixture
def run(tmp_path: Path) -> Run:
    opened = gapwatch.init(mode="offline", dir=tmp_path, quiet=True)
    yield opened
    opened.finish()


@pytest.mark.parametrize(
    ("values", "step", "error", "message"),
    [
        ({"train/loss": float("nan")}, 1, ValueError, "train/loss is nan at step 1"),
        ({"train/loss": float("inf")}, 1, ValueError, "only finite"),
        ({"train/loss": "0.5"}, 1, TypeError, "must be a number, not str"),
        ({"train/loss": None}, 1, TypeError, "not NoneType"),
        ({"train/loss": 0.5}, -1, ValueError, r"step -1 is outside \[0, 2\*\*53\]"),
        ({"train/loss": 0.5}, 2**53 + 1, ValueError, "outside"),
        ({"train/loss": 0.5}, 3.0, TypeError, "step must be an int, not float"),
        ({"train/loss": 0.5}, True, TypeError, "not bool"),
        ({"train/loss": 0.5}, "3", TypeError, "not str"),
        ({"k" * 129: 0.5}, 1, ValueError, "1 to 128 characters"),
        ({"/leading": 0.5}, 1, ValueError, "metric key '/leading'"),
        ({"with space": 0.5}, 1, ValueError, "metric key"),
        ({7: 0.5}, 1, TypeError, "metric key must be a str"),
    ],
)
def test_log_refuses_bad_points_at_the_call(
    run: Run, values: dict, step: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        run.log(values, step=step)  # type: ignore[arg-type]


def test_a_refused_call_logs_none_of_its_points(run: Run) -> None:
    with pytest.raises(ValueError):
        run.log({"a": 1.0, "b": float("nan")}, step=1)
    run.log({"k" * 128: 1, "c": 2}, step=2**53)  # the largest key and step are fine
    run.flush()
    assert points_of(run.dir) == {"k" * 128: {2**53: 1.0}, "c": {2**53: 2.0}}


def test_log_eval_and_events_refuse_what_the_server_would(run: Run) -> None:
    with pytest.raises(ValueError, match=r"fractions in \[0, 1\]"):
        run.log_eval({0: 97.0}, step=1)  # a percentage
    with pytest.raises(ValueError, match="task must be >= 0"):
        run.log_eval({-1: 0.5}, step=1)
    with pytest.raises(TypeError, match="task must be an int"):
        run.task_start("0", step=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="event kind 'Task Start'"):
        run.event("Task Start", 0)
    with pytest.raises(ValueError, match="larger than 16384"):
        run.event("note", 0, {"text": "x" * 20_000})
    with pytest.raises(TypeError, match="event payload"):
        run.task_end(0, step=5, model=object())
    with pytest.raises(ValueError, match="event payload"):
        run.event("note", 0, {"x": float("nan")})
    # Text the server's JSON column refuses (its 422 would come at sync or flush).
    with pytest.raises(ValueError, match=r"event payload\.notes\[1\]: text must not hold a NUL"):
        run.event("note", 0, {"notes": ["ok", "a\x00"]})
    with pytest.raises(ValueError, match="lone surrogates"):
        run.event("note", 0, {"\ud800": 1})


@dataclasses.dataclass
class Options:
    lr: float = 0.1
    path: Path = Path("/data")
    sizes: tuple[int, ...] = (1, 2)


def test_configs_become_plain_json_or_are_refused_naming_the_problem(tmp_path: Path) -> None:
    check = validation.check_config
    assert check(Options()) == {"lr": 0.1, "path": "/data", "sizes": [1, 2]}
    assert check(argparse.Namespace(lr=0.1, seed=3)) == {"lr": 0.1, "seed": 3}
    assert check(None) == {}
    with pytest.raises(TypeError, match="config must be a mapping"):
        check([1, 2])
    with pytest.raises(TypeError, match="object .* is not JSON"):
        check({"model": object()})
    with pytest.raises(ValueError, match="config"):
        check({"lr": float("nan")})
    with pytest.raises(ValueError, match="at most 32768"):
        check({"blob": "x" * 40_000})
    nested: dict = {}
    inner = nested
    for _ in range(9):
        inner["a"] = {}
        inner = inner["a"]
    with pytest.raises(ValueError, match="deeper than 8"):
        check(nested)
    with pytest.raises(ValueError, match="NUL"):
        check({"name": "a\x00b"})
    with pytest.raises(ValueError, match="project 'CL Lab'"):
        gapwatch.init(project="CL Lab", mode="offline", dir=tmp_path, quiet=True)
    with pytest.raises(ValueError, match="tag: text must not hold a NUL"):
        gapwatch.init(tags=["ok", "a\x00"], mode="offline", dir=tmp_path, quiet=True)
    with pytest.raises(ValueError, match="group: text must be valid Unicode"):
        gapwatch.init(group="\udc00", mode="offline", dir=tmp_path, quiet=True)
    with pytest.raises(TypeError, match="tags must be a list"):
        gapwatch.init(tags="mnist", mode="offline", dir=tmp_path, quiet=True)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="mode must be"):
        gapwatch.init(mode="onlien", dir=tmp_path, quiet=True)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs mode='online'"):
        gapwatch.init(mode="offline", resume=3, dir=tmp_path, quiet=True)
    assert list(tmp_path.iterdir()) == []  # nothing was written for a refused init
