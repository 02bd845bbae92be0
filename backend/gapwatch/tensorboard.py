"""`gapwatch import tensorboard LOGDIR`: TensorBoard event files become Gapwatch runs.

Each directory under LOGDIR that holds `events.out.tfevents.*` files is one run (as TensorBoard
shows it). Its scalars are read with TensorBoard's own reader, their tags mapped to Gapwatch
keys, and the run is written through the same REST ingest as any other: opened as a loop run,
points in columnar batches, task boundaries as `task_start`/`task_end` events, then finished.

Tags are mapped by the first matching rule: the user's `--map REGEX=TEMPLATE` rules, then the
built-in ones below (Gapwatch's own keys, `acc/task_3`-style tags, Avalanche's per-experience
tags). A tag that no rule maps keeps its name, made a valid key. Boundaries come from
`--boundaries` (the step at which each task starts) or from a scalar tag holding the current
task id (`--task-tag`, default `task`), else the run has none.

Needs the `tensorboard` package (`pip install 'gapwatch[tensorboard]'`); it is imported only
when an import runs.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from gapwatch.client import GapwatchClient, Series, series_batches
from gapwatch.components import EVENT_TASK_END, EVENT_TASK_START
from gapwatch.sdk.validation import MAX_KEY_CHARS, METRIC_KEY_PATTERN

EVENT_FILE_MARK = "events.out.tfevents."
KEY_PATTERN = re.compile(METRIC_KEY_PATTERN)
MAX_POINTS_PER_POST = 100_000
DEFAULT_TASK_TAG = "task"

# (tag pattern, key template): `{1}` is the pattern's first group. Case-insensitive.
BUILTIN_RULES: tuple[tuple[str, str], ...] = (
    (r"^eval/(acc|loss)/task_(\d+)$", "eval/{1}/task_{2}"),
    (r"^(?:eval[/_])?(?:acc|accuracy)[/_ ]?task[_ -]?(\d+)$", "eval/acc/task_{1}"),
    (r"^(?:eval[/_])?loss[/_ ]?task[_ -]?(\d+)$", "eval/loss/task_{1}"),
    # Avalanche's TensorboardLogger: accuracy and loss of each experience on the test stream.
    (r"^Top1_Acc_Exp/eval_phase/test_stream/Task\d+/Exp(\d+)$", "eval/acc/task_{1}"),
    (r"^Loss_Exp/eval_phase/test_stream/Task\d+/Exp(\d+)$", "eval/loss/task_{1}"),
    (r"^(?:train[/_ ])?loss$", "train/loss"),
)


@dataclass(frozen=True)
class TagRule:
    pattern: re.Pattern[str]
    template: str

    def apply(self, tag: str) -> str | None:
        match = self.pattern.match(tag)
        if match is None:
            return None
        groups = (match.group(0), *match.groups())

        def group(reference: re.Match[str]) -> str:
            text = groups[int(reference.group(1))] or ""
            return str(int(text)) if text.isdigit() else text  # Exp003 is task 3

        return re.sub(r"\{(\d)\}", group, self.template)


def parse_rule(text: str) -> TagRule:
    """`REGEX=TEMPLATE` (the last `=` splits them), e.g. `acc_(\\d+)=eval/acc/task_{1}`."""
    pattern, sep, template = text.rpartition("=")
    if not sep or not pattern or not template:
        raise ValueError(f"a mapping is REGEX=TEMPLATE, got {text!r}")
    try:
        compiled = re.compile(pattern, re.IGNORECASE)
    except re.error as error:
        raise ValueError(f"{pattern!r} is not a regular expression: {error}") from error
    referenced = [int(n) for n in re.findall(r"\{(\d)\}", template)]
    if referenced and max(referenced) > compiled.groups:
        raise ValueError(
            f"{template!r} names group {max(referenced)}; {pattern!r} has {compiled.groups}"
        )
    return TagRule(compiled, template)


def key_for(tag: str, rules: Sequence[TagRule]) -> str:
    """The Gapwatch key of a TensorBoard tag: the first rule that matches, else the tag made a
    valid key (characters outside [A-Za-z0-9_./-] become `_`, at most 128 characters)."""
    for rule in rules:
        key = rule.apply(tag)
        if key is not None:
            return key
    key = re.sub(r"[^A-Za-z0-9_./\-]", "_", tag.strip())[:MAX_KEY_CHARS] or "_"
    return key if KEY_PATTERN.match(key) else f"_{key}"[:MAX_KEY_CHARS]


@dataclass
class ImportedRun:
    """What was read from one directory of event files."""

    directory: Path
    series: dict[str, dict[int, float]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)  # TensorBoard tag -> key

    @property
    def points(self) -> int:
        return sum(len(s) for s in self.series.values())


def run_directories(logdir: Path) -> list[Path]:
    """Every directory at or under `logdir` holding event files, sorted."""
    found = {
        Path(root)
        for root, _dirs, files in os.walk(logdir)
        if any(EVENT_FILE_MARK in name for name in files)
    }
    return sorted(found)


def read_scalars(directory: Path) -> dict[str, list[tuple[float, int, float]]]:
    """{tag: [(wall_time, step, value)]} of every scalar in the directory's event files, read
    by TensorBoard's own accumulator (every point kept: no reservoir sampling)."""
    from tensorboard.backend.event_processing.event_accumulator import (
        SCALARS,
        EventAccumulator,
    )

    accumulator = EventAccumulator(str(directory), size_guidance={SCALARS: 0})
    accumulator.Reload()
    return {
        tag: [(e.wall_time, int(e.step), float(e.value)) for e in accumulator.Scalars(tag)]
        for tag in accumulator.Tags()[SCALARS]
    }


def boundary_events(starts: Sequence[int]) -> list[dict[str, Any]]:
    """`task_start` at each start and `task_end` of the previous task at the same step."""
    events: list[dict[str, Any]] = []
    for task, step in enumerate(starts):
        if task > 0:
            events.append({"step": step, "kind": EVENT_TASK_END, "payload": {"task": task - 1}})
        events.append({"step": step, "kind": EVENT_TASK_START, "payload": {"task": task}})
    return events


def starts_from_task_tag(points: Iterable[tuple[float, int, float]]) -> list[int]:
    """The steps at which a scalar holding the current task id moves to a new task."""
    starts: list[int] = []
    current = None
    for _wall, step, value in sorted(points, key=lambda p: (p[1], p[0])):
        task = int(round(value))
        if task != current and task == len(starts):
            starts.append(step)
        current = task
    return starts


def collect(
    directory: Path,
    rules: Sequence[TagRule],
    *,
    boundaries: Sequence[int] | None = None,
    task_tag: str = DEFAULT_TASK_TAG,
    accuracy_percent: bool = False,
) -> ImportedRun:
    """Read one run directory into keys, points and boundary events.

    A step written twice under one tag (a resumed TensorBoard run) keeps its last value, as the
    last write is the one a restart meant. Accuracies in percent are divided by 100 when
    `accuracy_percent`: Gapwatch's accuracies are fractions.
    """
    scalars = read_scalars(directory)
    run = ImportedRun(directory)
    task_points = scalars.pop(task_tag, None)
    for tag, points in sorted(scalars.items()):
        key = key_for(tag, rules)
        run.tags[tag] = key
        scale = 0.01 if accuracy_percent and key.startswith("eval/acc/") else 1.0
        target = run.series.setdefault(key, {})
        for _wall, step, value in sorted(points, key=lambda p: p[0]):
            if step >= 0 and math.isfinite(value):
                target[step] = value * scale
    if boundaries is None and task_points:
        boundaries = starts_from_task_tag(task_points)
    run.events = boundary_events(list(boundaries or []))
    return run


def upload(
    client: GapwatchClient,
    imported: ImportedRun,
    *,
    project: str | None,
    name: str,
    group: str | None,
    tags: Sequence[str],
) -> int:
    """Open a loop run, send its events and points, finish it; returns its id."""
    opened = client.init_run(
        project=project,
        name=name,
        group=group,
        tags=list(tags),
        config={"imported_from": "tensorboard", "directory": str(imported.directory)},
        host="tensorboard-import",
    )
    if imported.events:
        client.post_events(opened.run_id, opened.token, imported.events)
    series: Series = {}
    for key, points in imported.series.items():
        steps = sorted(points)
        series[key] = (steps, [points[s] for s in steps])
    for batch in series_batches(series, MAX_POINTS_PER_POST):
        client.post_metrics(opened.run_id, opened.token, batch)
    client.finish_run(opened.run_id, opened.token)
    return opened.run_id


def import_logdir(
    client: GapwatchClient,
    logdir: Path,
    *,
    project: str | None = None,
    name: str | None = None,
    group: str | None = None,
    tags: Sequence[str] = (),
    rules: Sequence[TagRule] = (),
    boundaries: Sequence[int] | None = None,
    task_tag: str = DEFAULT_TASK_TAG,
    accuracy_percent: bool = False,
    out: TextIO | None = None,
) -> list[int]:
    """Import every run directory under `logdir`; returns the new run ids in directory order."""
    out = out or sys.stdout
    directories = run_directories(logdir)
    if not directories:
        raise FileNotFoundError(f"no TensorBoard event files under {logdir}")
    all_rules = [*rules, *(TagRule(re.compile(p, re.IGNORECASE), t) for p, t in BUILTIN_RULES)]
    created = []
    for directory in directories:
        imported = collect(
            directory,
            all_rules,
            boundaries=boundaries,
            task_tag=task_tag,
            accuracy_percent=accuracy_percent,
        )
        relative = directory.relative_to(logdir).as_posix()
        run_name = name if name and len(directories) == 1 else _run_name(name, relative, logdir)
        run_id = upload(client, imported, project=project, name=run_name, group=group, tags=tags)
        created.append(run_id)
        accuracy = sorted(k for k in imported.series if k.startswith("eval/acc/"))
        print(
            f"{relative}: run {run_id} '{run_name}': {len(imported.series)} series, "
            f"{imported.points} points, {len(imported.events)} boundary events, "
            f"{len(accuracy)} task accuracies",
            file=out,
        )
        unmapped = _unmapped(imported.tags)
        if unmapped:
            print(f"  kept as they are: {', '.join(unmapped[:8])}", file=out)
    return created


def _run_name(prefix: str | None, relative: str, logdir: Path) -> str:
    base = logdir.resolve().name if relative == "." else relative
    return f"{prefix}/{base}"[:200] if prefix else base[:200]


def _unmapped(tags: Mapping[str, str]) -> list[str]:
    return [tag for tag, key in tags.items() if not key.startswith(("eval/", "train/"))]


# --- the command line ----------------------------------------------------------------------


def register(subparsers: Any) -> None:
    """`gapwatch import tensorboard ...` under the CLI's subcommands."""
    importer = subparsers.add_parser("import", help="turn other trackers' logs into runs")
    sources = importer.add_subparsers(dest="source", required=True)
    tb = sources.add_parser("tensorboard", help="TensorBoard event files (one run per directory)")
    tb.add_argument("logdir", type=Path)
    tb.add_argument("--project", help="default: the key's project, else 'default'")
    tb.add_argument("--name", help="run name (prefix of each run's name for several runs)")
    tb.add_argument("--group")
    tb.add_argument("--tag", action="append", default=[], dest="tags")
    tb.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="REGEX=TEMPLATE",
        help="map tags to keys, e.g. 'acc_exp(\\d+)=eval/acc/task_{1}' (before built-in rules)",
    )
    tb.add_argument(
        "--boundaries",
        help="comma-separated steps at which tasks 0, 1, ... start (default: from --task-tag)",
    )
    tb.add_argument("--task-tag", default=DEFAULT_TASK_TAG, help="scalar tag holding the task id")
    tb.add_argument(
        "--accuracy-percent", action="store_true", help="accuracies are in 0-100: divide by 100"
    )
    tb.add_argument("--url", help="API base URL (default GAPWATCH_URL, then the login config)")
    tb.add_argument("--api-key", help="default GAPWATCH_API_KEY, then the login config")
    tb.set_defaults(func=cmd_import_tensorboard)


def _boundaries(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        steps = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as error:
        raise SystemExit(f"--boundaries: {error}") from error
    if steps != sorted(set(steps)) or any(s < 0 for s in steps):
        raise SystemExit("--boundaries: steps must be increasing and non-negative")
    return steps


def cmd_import_tensorboard(args: argparse.Namespace) -> int:
    from gapwatch.sdk.credentials import resolve

    try:
        rules = [parse_rule(text) for text in args.map]
    except ValueError as error:
        print(f"gapwatch import: {error}", file=sys.stderr)
        return 2
    url, api_key = resolve(args.url, args.api_key)
    with GapwatchClient(url, api_key=api_key) as client:
        try:
            import_logdir(
                client,
                args.logdir,
                project=args.project,
                name=args.name,
                group=args.group,
                tags=args.tags,
                rules=rules,
                boundaries=_boundaries(args.boundaries),
                task_tag=args.task_tag,
                accuracy_percent=args.accuracy_percent,
            )
        except FileNotFoundError as error:
            print(f"gapwatch import: {error}", file=sys.stderr)
            return 2
    return 0
