"""Sweeps: planned into runs in one transaction; their results aggregated over seeds.

A sweep's runs are made by `runs.service.queue_runs`, the path of every submitted run, and are
each sent to the broker once the transaction has committed: a sweep with one invalid run
creates none. Results are read from the headline numbers each run stores when it ends.
"""

from __future__ import annotations

import dataclasses
import math
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi.exceptions import RequestValidationError
from sqlalchemy.orm import Session

from gapwatch import analytics
from gapwatch.analytics.registry import HEADLINE_METRICS
from gapwatch.analytics.uncertainty import mean_ci
from gapwatch.config import Settings
from gapwatch.queue import RunQueue
from gapwatch.resources import DatasetShape, check_limits
from gapwatch.server.access import service as access
from gapwatch.server.access.principal import Principal
from gapwatch.server.cache import AnalysisCache
from gapwatch.server.datasets import service as datasets
from gapwatch.server.errors import NotFound
from gapwatch.server.models import Project, Role, RunStatus, Sweep
from gapwatch.server.runs import service as runs
from gapwatch.server.summaries import service as summaries
from gapwatch.server.summaries.schemas import Definition
from gapwatch.server.sweeps import repository
from gapwatch.server.sweeps.schemas import (
    ConfigurationBand,
    ResultCell,
    ResultRow,
    SweepAligned,
    SweepPage,
    SweepProgress,
    SweepRead,
    SweepRequest,
    SweepResults,
)
from gapwatch.spec import MAX_SEED, RunSpec
from gapwatch.sweep_plan import (
    SEED_AXIS,
    PlannedRun,
    SweepPlanError,
    blamed_axis,
    configuration_key,
    format_value,
    plan,
)


def _invalid(errors: Sequence[Mapping[str, Any]]) -> RequestValidationError:
    """A 422 whose locations are in the body, as FastAPI's own are."""
    return RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors])


def axes_of(sweep: Sweep) -> dict[str, list[Any]]:
    """The sweep's axes in their order."""
    return {axis["path"]: axis["values"] for axis in sweep.axes}


def create_sweep(
    session: Session,
    caller: Principal,
    request: SweepRequest,
    run_queue: RunQueue,
    settings: Settings,
) -> Sweep:
    """Store the sweep and its queued runs; each is sent to the broker after the commit.

    Raises:
        NotFound: The caller is not in the project (or it does not exist).
        Forbidden: The caller is only a viewer there.
        RequestValidationError: Bounds, an unknown path, a budget that does not fit, a value
            that makes an invalid spec or a run over a resource cap (each naming its axis).
    """
    project = runs.submission_project(session, caller, request.project or request.base.project)
    base = request.base.model_dump(mode="json", exclude_unset=True)
    base["project"] = project.name
    seed = request.seed
    if request.method == "random" and seed is None:
        seed = secrets.randbelow(MAX_SEED + 1)
    sweep = repository.add(
        session,
        Sweep(
            project_id=project.id,
            name=request.name or "sweep",
            method=request.method,
            axes=[{"path": path, "values": values} for path, values in request.axes.items()],
            base=base,
            budget=request.budget,
            seed=seed,
        ),
    )
    if request.name is None:
        sweep.name = f"sweep-{sweep.id}"
    try:
        planned = plan(
            base,
            request.axes,
            request.method,
            budget=request.budget,
            seed=seed,
            sweep_name=sweep.name,
            project=project.name,
            tags=[f"sweep:{sweep.id}"],
        )
    except SweepPlanError as error:
        raise _invalid(error.errors) from None
    resolved = _resolve_datasets(session, project, planned)
    _check_resources(resolved, settings)
    runs.queue_runs(session, project, [r.spec for r, _ in resolved], run_queue, sweep_id=sweep.id)
    return sweep


def _blame(where: Sequence[Any], run: PlannedRun) -> tuple[Any, ...]:
    """A problem's location in the sweep request: the axis it is most tied to, else the base's
    part (`where` is a location within a run spec)."""
    path = blamed_axis(where, run.values)
    return ("base", *where) if path is None else ("axes", path)


def _described(run: PlannedRun) -> str:
    return ", ".join(f"{p}={format_value(v)}" for p, v in run.values.items())


def _resolve_datasets(
    session: Session, project: Project, planned: Sequence[PlannedRun]
) -> list[tuple[PlannedRun, DatasetShape | None]]:
    """The runs with their custom benchmarks' datasets resolved (`runs.resolve_datasets`),
    each with its dataset's shape (None for other benchmarks); a 422 naming the axis (else
    the base's part) of the first run that does not fit."""
    resolved = []
    for run in planned:
        try:
            spec, shape = datasets.resolve_spec(session, project, run.spec)
        except datasets.SpecInvalid as error:
            raise _invalid(
                [
                    {
                        **e,
                        "loc": _blame(e["loc"], run),
                        "msg": f"{e['msg']} (the run {_described(run)})",
                    }
                    for e in error.errors
                ]
            ) from None
        resolved.append((dataclasses.replace(run, spec=spec), shape))
    return resolved


def _check_resources(
    planned: Sequence[tuple[PlannedRun, DatasetShape | None]], settings: Settings
) -> None:
    """422 naming the axis (else the base's part) that brings a run over a GAPWATCH_MAX_* cap
    (a custom benchmark's estimated over its dataset); the first such run's problems."""
    for run, shape in planned:
        refused = check_limits(
            run.spec,
            max_parameters=settings.max_parameters,
            max_eval_rows=settings.max_eval_rows,
            max_memory_bytes=settings.max_memory_bytes,
            dataset=shape,
        )
        if not refused:
            continue
        errors = []
        for problem in refused:
            errors.append(
                {
                    "type": "resource_limit",
                    "loc": _blame(problem.loc[1:], run),  # ("body", "model") -> ("model",)
                    "msg": f"{problem.message} (the run {_described(run)})",
                    "input": problem.estimate,
                }
            )
        raise _invalid(errors)


def authorize_sweep(session: Session, caller: Principal, sweep_id: int) -> Sweep:
    """The sweep, if the caller may read its project (else 404)."""
    sweep = repository.get(session, sweep_id)
    if sweep is not None:
        try:
            access.authorize_project(session, caller, sweep.project.name, Role.viewer)
        except NotFound:
            sweep = None
    if sweep is None:
        raise NotFound(f"sweep {sweep_id} not found")
    return sweep


def _read(sweep: Sweep, states: Sequence[tuple[int, str]]) -> SweepRead:
    progress = SweepProgress()
    for _, status in states:
        setattr(progress, status, getattr(progress, status) + 1)
    return SweepRead(
        id=sweep.id,
        name=sweep.name,
        project=sweep.project.name,
        method=sweep.method,  # type: ignore[arg-type]
        axes=axes_of(sweep),
        base=RunSpec.model_validate(sweep.base),
        budget=sweep.budget,
        seed=sweep.seed,
        created_at=sweep.created_at,
        runs=len(states),
        progress=progress,
        run_ids=[run_id for run_id, _ in states],
    )


def read_sweep(session: Session, sweep: Sweep) -> SweepRead:
    return _read(sweep, repository.run_states(session, [sweep.id]).get(sweep.id, []))


def list_sweeps(
    session: Session, caller: Principal, *, project: str | None, limit: int, offset: int
) -> SweepPage:
    rows, total = repository.page(
        session,
        visible_projects=access.visible_project_ids(session, caller),
        project=project,
        limit=limit,
        offset=offset,
    )
    states = repository.run_states(session, [s.id for s in rows])
    return SweepPage(
        items=[_read(s, states.get(s.id, [])) for s in rows],
        total=total,
        limit=limit,
        offset=offset,
    )


# --- results ----------------------------------------------------------------------------------


def _at(document: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(document, dict):
            return None
        document = document.get(part)
    return document


def _axis_value(spec: Mapping[str, Any], path: str, values: Sequence[Any]) -> Any:
    """The run's value on an axis, as the axis gives it (a spec stores 1 for lr as 1.0)."""
    stored = _at(spec, path)
    for value in values:
        if value == stored and isinstance(value, bool) == isinstance(stored, bool):
            return value
    return stored


@dataclass
class Configuration:
    """The runs of one configuration (every axis but seed), in the sweep's order."""

    config: dict[str, Any]
    run_ids: list[int] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    # Whether each run's headline numbers were written (they are, just after it ends).
    written: list[bool] = field(default_factory=list)

    @property
    def provisional(self) -> bool:
        """A run has not ended, or has but its numbers are not written yet."""
        return any(
            not RunStatus(s).is_terminal or (s == RunStatus.succeeded and not w)
            for s, w in zip(self.statuses, self.written, strict=True)
        )

    def succeeded(self) -> list[int]:
        return [r for r, s in zip(self.run_ids, self.statuses, strict=True) if s == "succeeded"]


def configurations(session: Session, sweep: Sweep) -> list[Configuration]:
    """The sweep's runs grouped by configuration, in the order of their first run."""
    axes = axes_of(sweep)
    found: dict[str, Configuration] = {}
    for run_id, status, written, spec in repository.runs_with_specs(session, sweep.id):
        config = {p: _axis_value(spec, p, v) for p, v in axes.items() if p != SEED_AXIS}
        row = found.setdefault(configuration_key(config), Configuration(config))
        row.run_ids.append(run_id)
        row.seeds.append(int(spec.get("seed", 0)))
        row.statuses.append(status)
        row.written.append(written)
    return list(found.values())


def _finite(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def results(session: Session, sweep: Sweep, *, sort: str | None = None) -> SweepResults:
    """One row per configuration: each headline metric's mean ± 95% CI over the succeeded
    runs where it is defined (n counts them), provisional while a run of the row has not ended
    (or has, and its numbers are being written).
    `sort`: a headline metric id, descending with a leading '-'; rows without it come last."""
    groups = configurations(session, sweep)
    succeeded = [run_id for g in groups for run_id in g.succeeded()]
    stored = summaries.stored_headlines(session, succeeded)
    rows = []
    for group in groups:
        cells = {}
        for m in HEADLINE_METRICS:
            spread = mean_ci(stored.get(r, {}).get(m.id) for r in group.succeeded())
            cells[m.id] = ResultCell(
                mean=_finite(spread.mean),
                ci95=spread.half_width,
                n=spread.n,
                provisional=group.provisional,
            )
        rows.append(
            ResultRow(config=group.config, run_ids=group.run_ids, seeds=group.seeds, cells=cells)
        )
    if sort is not None:
        key = sort.removeprefix("-")
        descending = sort.startswith("-")
        with_value = [r for r in rows if r.cells[key].mean is not None]
        without = [r for r in rows if r.cells[key].mean is None]
        with_value.sort(key=lambda r: r.cells[key].mean or 0.0, reverse=descending)
        rows = with_value + without
    return SweepResults(
        sweep_id=sweep.id,
        axes=[p for p in axes_of(sweep) if p != SEED_AXIS],
        metrics=[Definition.model_validate(m, from_attributes=True) for m in HEADLINE_METRICS],
        rows=rows,
    )


# Runs whose curves the aligned view averages: those that have some and did not break off.
ALIGNED_STATUSES = frozenset({RunStatus.running, RunStatus.succeeded})


def aligned(
    session: Session,
    sweep: Sweep,
    cache: AnalysisCache,
    *,
    gap_window: int | None = None,
    margin: int = analytics.DEFAULT_MARGIN,
) -> SweepAligned:
    """Per configuration, the boundary-aligned band across its running and succeeded runs
    (each under `gap_window`, else its own setting)."""
    configs = []
    for group in configurations(session, sweep):
        chosen = [
            r for r, s in zip(group.run_ids, group.statuses, strict=True) if s in ALIGNED_STATUSES
        ]
        per_run, windows = [], []
        for run in repository.runs(session, chosen):
            window = summaries.gap_window_of(run, gap_window)
            windows.append(window)
            per_run.append(summaries.aligned_rows_of(session, run, cache, window, margin))
        band = summaries.band_read(
            analytics.aligned_band(per_run),
            rows=sum(int(rows.rows.shape[0]) for rows in per_run),
            gap_window=max(windows, default=gap_window or analytics.DEFAULT_GAP_WINDOW),
            margin=margin,
        )
        configs.append(ConfigurationBand(config=group.config, run_ids=chosen, band=band))
    return SweepAligned(sweep_id=sweep.id, configs=configs)
