"""A sweep's runs, planned from a base run spec and axes of values (no database, no server).

    plan(base, {"strategy.name": ["er", "der"], "seed": [0, 1, 2]}, method="grid", ...)

An axis is a dotted path into the run spec (`strategy.name`, `optimizer.lr`, `seed`) and the
values it takes. A grid is the cartesian product of the axes, in the order they are given
(the first axis varies slowest); a random sweep draws `budget` distinct configurations of the
axes other than `seed`, seeded so that the same request plans the same runs, and runs each
with every value of the `seed` axis (mean ± CI per configuration needs the seeds). Each planned
spec is validated as a `RunSpec`; a value that makes an invalid spec is an error naming its axis
(`axes.<path>`).

Setting a union's `name` (`strategy.name`, `model.name`, `benchmark.name`) switches the variant:
the options of the base that the new variant also has are kept (a replay buffer's size from
`er` to `der`), the others are dropped (`finetune` has none). Axes that switch a variant are
applied before the others, so an axis of an option the new variant lacks is an error, never
silently dropped.

Errors are `SweepPlanError`, whose `errors` have FastAPI's validation shape with locations
relative to the request body (`("axes", "optimizer.lr")`, `("budget",)`, `("base", ...)`).
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from math import prod
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from gapwatch.spec import RunSpec, check_json

MAX_AXES = 16
MAX_VALUES_PER_AXIS = 100
MAX_RUNS = 500
SEED_AXIS = "seed"
# Parts of a run spec that the sweep itself sets.
RESERVED_PATHS = {
    "project": "the sweep's project is the request's `project`",
    "group": "the sweep groups its runs itself (its name and the configuration)",
}
MAX_GROUP_CHARS = 200
MAX_PATH_CHARS = 200

Method = Literal["grid", "random"]


class SweepPlanError(Exception):
    """The request cannot be planned; `errors` as FastAPI's validation errors (loc, msg, type,
    input), locations relative to the body."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors))
        self.errors = errors


def _error(loc: tuple[Any, ...], msg: str, value: Any = None) -> SweepPlanError:
    return SweepPlanError([{"type": "value_error", "loc": loc, "msg": msg, "input": value}])


@dataclass(frozen=True)
class PlannedRun:
    """One run of the sweep.

    Attributes:
        values: Every axis's value for this run, in the order of the axes.
        config: The values of the axes but `seed`: the configuration the run repeats.
        spec: The validated run spec (its group and tags set by the sweep).
    """

    values: dict[str, Any]
    config: dict[str, Any]
    spec: RunSpec


# --- the run spec's shape ---------------------------------------------------------------------


def _models_of(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models a field's annotation may hold (the variants of a union)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _models_of(typing.get_args(annotation)[0])
    if origin is typing.Union or origin is types.UnionType:
        return [m for arg in typing.get_args(annotation) for m in _models_of(arg)]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return []


def _models_at(parts: Sequence[str]) -> list[type[BaseModel]] | None:
    """The models the object at `parts` may be (RunSpec for the root); None if `parts` is not
    a path of the spec."""
    models: list[type[BaseModel]] = [RunSpec]
    for part in parts:
        fields = [m.model_fields[part] for m in models if part in m.model_fields]
        if not fields:
            return None
        models = [sub for field in fields for sub in _models_of(field.annotation)]
    return models


def known_path(path: str) -> bool:
    """Whether `path` names a field of the run spec (of any variant of a union on the way)."""
    parts = path.split(".")
    if any(not part for part in parts):
        return False
    parent = _models_at(parts[:-1])
    return bool(parent) and any(parts[-1] in m.model_fields for m in parent or ())


def _variant(parts: Sequence[str], name: Any) -> type[BaseModel] | None:
    """The variant of the union at `parts` whose `name` is `name`; None if there is no union
    there or no such variant."""
    models = _models_at(parts) or []
    if len(models) < 2:
        return None
    for model in models:
        field = model.model_fields.get("name")
        if field is not None and name in typing.get_args(field.annotation):
            return model
    return None


def switches_variant(path: str) -> bool:
    """Whether setting `path` chooses a union's variant (`strategy.name`, not `optimizer.name`)."""
    parts = path.split(".")
    return parts[-1] == "name" and len(_models_at(parts[:-1]) or []) > 1


# --- axes and their combinations --------------------------------------------------------------


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def check_axes(axes: Mapping[str, Sequence[Any]]) -> None:
    """Bounds, known paths, storable and distinct values.

    Raises:
        SweepPlanError: Naming `axes` or `axes.<path>`.
    """
    if not axes:
        raise _error(("axes",), "give at least one axis: {'<spec path>': [values, ...]}")
    if len(axes) > MAX_AXES:
        raise _error(("axes",), f"{len(axes)} axes; at most {MAX_AXES}")
    for path, values in axes.items():
        loc = ("axes", path)
        if len(path) > MAX_PATH_CHARS:
            raise _error(("axes",), f"an axis path has at most {MAX_PATH_CHARS} characters")
        if path in RESERVED_PATHS:
            raise _error(loc, f"{path} cannot be an axis: {RESERVED_PATHS[path]}", path)
        if not known_path(path):
            raise _error(loc, f"{path!r} is not a field of the run spec", path)
        if not isinstance(values, list) or not values:
            raise _error(loc, "an axis takes a non-empty list of values", values)
        if len(values) > MAX_VALUES_PER_AXIS:
            raise _error(loc, f"{len(values)} values; at most {MAX_VALUES_PER_AXIS} per axis")
        try:
            check_json(values, path)
        except ValueError as error:
            raise _error(loc, str(error)) from None
        seen: set[str] = set()
        for value in values:
            key = _canonical(value)
            if key in seen:
                raise _error(loc, f"the value {key[:100]} is given twice", value)
            seen.add(key)


def grid_size(axes: Mapping[str, Sequence[Any]]) -> int:
    return prod(len(values) for values in axes.values())


def _point(index: int, sizes: Sequence[int]) -> tuple[int, ...]:
    """The grid point (one value index per axis) of `index`, the first axis the slowest."""
    digits = []
    for size in reversed(sizes):
        index, digit = divmod(index, size)
        digits.append(digit)
    return tuple(reversed(digits))


def combinations(
    axes: Mapping[str, Sequence[Any]],
    method: Method,
    *,
    budget: int | None = None,
    seed: int | None = None,
) -> list[tuple[int, ...]]:
    """The value indices of each run, in grid order.

    grid: every point of the product; a `budget` below its size is an error (a grid is not
    cut short silently). random: `budget` distinct configurations of the non-seed axes drawn
    with `random.Random(seed)`, each with every value of the seed axis.

    Raises:
        SweepPlanError: Naming `budget`, `seed` or `axes`.
    """
    sizes = [len(values) for values in axes.values()]
    total = prod(sizes)
    if method == "grid":
        if budget is not None and budget < total:
            raise _error(
                ("budget",),
                f"the grid has {total} runs, more than the budget of {budget}; remove values, "
                "raise the budget or use method 'random'",
                budget,
            )
        if total > MAX_RUNS:
            raise _error(("axes",), f"the grid has {total} runs; a sweep has at most {MAX_RUNS}")
        return [_point(i, sizes) for i in range(total)]
    if budget is None:
        raise _error(("budget",), "a random sweep needs a budget: how many configurations to draw")
    # Configurations are drawn over the axes other than `seed`; each drawn one runs with every
    # seed, so that every configuration's numbers have a mean ± CI over the same seeds.
    names = list(axes)
    seeds = sizes[names.index(SEED_AXIS)] if SEED_AXIS in axes else 1
    config_sizes = [size for name, size in zip(names, sizes, strict=True) if name != SEED_AXIS]
    configs = prod(config_sizes)
    if budget > configs:
        raise _error(
            ("budget",),
            f"a budget of {budget} is more than the {configs} distinct configurations of the "
            "axes; use method 'grid'",
            budget,
        )
    if budget * seeds > MAX_RUNS:
        raise _error(
            ("budget",),
            f"{budget} configurations × {seeds} seeds is {budget * seeds} runs; a sweep has "
            f"at most {MAX_RUNS}",
            budget,
        )
    if seed is None:
        raise _error(("seed",), "a random sweep needs a seed to draw from")
    rng = random.Random(seed)
    drawn: set[int] = set()
    while len(drawn) < budget:  # the product may be far too large to enumerate
        drawn.add(rng.randrange(configs))
    points = []
    for index in sorted(drawn):
        config = list(_point(index, config_sizes))
        for s in range(seeds):
            point = list(config)
            if SEED_AXIS in axes:
                point.insert(names.index(SEED_AXIS), s)
            points.append(tuple(point))
    return points


# --- specs ------------------------------------------------------------------------------------


def apply(base: Mapping[str, Any], assignments: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the spec document `base` with each `path: value` of `assignments` set
    (variant switches first, see the module)."""
    document = copy.deepcopy(dict(base))
    ordered = sorted(assignments.items(), key=lambda item: not switches_variant(item[0]))
    for path, value in ordered:
        *parents, leaf = path.split(".")
        node = document
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        if switches_variant(path) and node.get(leaf) != value:
            variant = _variant(parents, value)
            kept = {k: v for k, v in node.items() if variant and k in variant.model_fields}
            node.clear()
            node.update(kept)
        node[leaf] = copy.deepcopy(value)
    return document


def format_value(value: Any) -> str:
    """An axis value as a group name and a table show it: text bare, the rest as JSON."""
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def group_name(sweep_name: str, config: Mapping[str, Any]) -> str:
    """`<sweep name> path=value ...`, at most MAX_GROUP_CHARS (a longer one ends in a hash of
    the whole, so two configurations never share a group)."""
    name = " ".join([sweep_name, *(f"{p}={format_value(v)}" for p, v in config.items())])
    if len(name) <= MAX_GROUP_CHARS:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    return f"{name[: MAX_GROUP_CHARS - 14]}... {digest}"


def _normalized(loc: Sequence[Any], document: Any) -> tuple[Any, ...]:
    """A validation error's location in the spec document: the union tags pydantic puts in it
    (`strategy.er.buffer_size`) left out."""
    out: list[Any] = []
    node = document
    for part in loc:
        if isinstance(node, dict) and part in node:
            out.append(part)
            node = node[part]
        elif isinstance(node, dict) and node.get("name") == part:
            continue
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            out.append(part)
            node = node[part]
        else:
            out.append(part)
            node = None
    return tuple(out)


def _shared(a: Sequence[Any], b: Sequence[Any]) -> int:
    count = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        count += 1
    return count


def blamed_axis(loc: Sequence[Any], values: Mapping[str, Any]) -> str | None:
    """The axis (of those in `values`) that a problem at spec location `loc` is most tied to:
    the one sharing the longest leading part of the path, ties to an axis that contains the
    location, then to a variant switch, then the first. None if none shares any part."""
    best: tuple[int, int, int, int] | None = None
    chosen = None
    for order, path in enumerate(values):
        parts = tuple(path.split("."))
        shared = _shared(parts, loc)
        if shared == 0:
            continue
        score = (shared, parts == tuple(loc[: len(parts)]), switches_variant(path), -order)
        if best is None or score > best:
            best, chosen = score, path
    return chosen


class _Planner:
    def __init__(
        self,
        base: Mapping[str, Any],
        *,
        project: str | None,
        sweep_name: str,
        tags: Sequence[str],
    ) -> None:
        self.base = base
        self.project = project
        self.sweep_name = sweep_name
        self.tags = list(tags)

    def document(self, values: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
        document = apply(self.base, values)
        document["project"] = self.project
        document["group"] = group_name(self.sweep_name, config)
        document["tags"] = list(dict.fromkeys([*document.get("tags", []), *self.tags]))
        return document

    def valid(self, values: Mapping[str, Any]) -> bool:
        config = {p: v for p, v in values.items() if p != SEED_AXIS}
        try:
            RunSpec.model_validate(self.document(values, config))
        except ValidationError:
            return False
        return True

    def spec(self, values: Mapping[str, Any], config: Mapping[str, Any]) -> RunSpec:
        document = self.document(values, config)
        try:
            return RunSpec.model_validate(document)
        except ValidationError as error:
            raise SweepPlanError(self.blame(error, document, values)) from None

    def blame(
        self, error: ValidationError, document: Mapping[str, Any], values: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        found: dict[tuple[Any, ...], dict[str, Any]] = {}
        for problem in error.errors(include_url=False):
            where = _normalized(problem["loc"], document)
            path = blamed_axis(where, values)
            if path is None:
                path = self.culprit(values)
            loc: tuple[Any, ...] = ("base", *where) if path is None else ("axes", path)
            at = ".".join(map(str, where)) or "the spec"
            if path is None:
                msg = f"the base spec is invalid: {at}: {problem['msg']}"
            else:
                run = ", ".join(f"{p}={format_value(v)}" for p, v in values.items())
                msg = (
                    f"{path}={format_value(values[path])} makes an invalid run spec "
                    f"({at}: {problem['msg']}) in the run {run}"
                )
            found.setdefault(
                loc,
                {
                    "type": "value_error",
                    "loc": loc,
                    "msg": msg,
                    "input": None if path is None else values[path],
                },
            )
        return list(found.values())

    def culprit(self, values: Mapping[str, Any]) -> str | None:
        """For a problem tied to no axis's path (a rule of the whole spec): None if the base
        alone has it, else the first axis whose value alone brings it, else the first axis."""
        if not self.valid({}):
            return None
        for path, value in values.items():
            if not self.valid({path: value}):
                return path
        return next(iter(values), None)


def plan(
    base: RunSpec | Mapping[str, Any],
    axes: Mapping[str, Sequence[Any]],
    method: Method,
    *,
    budget: int | None = None,
    seed: int | None = None,
    sweep_name: str,
    project: str | None = None,
    tags: Sequence[str] = (),
) -> list[PlannedRun]:
    """The sweep's runs, each spec validated, grouped `<sweep_name> path=value ...` and tagged
    with `tags` besides the base's own.

    `base` is the spec as the user gave it: a RunSpec's fields that were set (its defaults are
    the variant's own after a switch), or a document.

    Raises:
        SweepPlanError: Bounds, an unknown path, a budget that does not fit, or a value that
            makes an invalid spec (naming `axes.<path>`).
    """
    check_axes(axes)
    document = (
        base.model_dump(mode="json", exclude_unset=True)
        if isinstance(base, RunSpec)
        else dict(base)
    )
    planner = _Planner(document, project=project, sweep_name=sweep_name, tags=tags)
    paths = list(axes)
    runs = []
    for point in combinations(axes, method, budget=budget, seed=seed):
        values = {path: axes[path][i] for path, i in zip(paths, point, strict=True)}
        config = {p: v for p, v in values.items() if p != SEED_AXIS}
        runs.append(PlannedRun(values=values, config=config, spec=planner.spec(values, config)))
    return runs


def configuration_key(config: Mapping[str, Any]) -> str:
    """A configuration's identity (its axis values as canonical JSON)."""
    return _canonical(list(config.items()))
