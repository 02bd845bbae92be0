"""Strategies, models and benchmarks found through Python entry points.

A package adds a component by declaring, in its own pyproject.toml,

    [project.entry-points."gapwatch.strategies"]
    er_cosine = "my_package.er_cosine:ERCosineSpec"

The entry point names a pydantic spec class (a subclass of the kind's base class in
`gapwatch.components`) whose `name` field is a Literal holding the entry point's name, and
whose `implementation` class variable says, as "module:attribute", where the worker finds the
code that builds it. The spec class is all the API needs: it validates runs, and the JSON
schema (and so the dashboard's form) shows its options and bounds. Only a worker imports the
implementation, when a run names it.

The built-ins are declared the same way, in gapwatch's own pyproject.toml, but discovery takes
them from the classes `gapwatch.spec` passes in (a test keeps the declarations equal to them):
nothing then depends on how, or how recently, gapwatch was installed.

A plugin that fails to load (an import error, a class that breaks the rules above) is left out
with a warning and listed in `problems()`; the service starts without it. A plugin imports its
base classes from `gapwatch.components` (which discovers nothing), so it may import the engine
too, in any order.

This module imports no torch and no server: the API, the SDK and the worker all read it.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Annotated, Any, Literal, Union

log = logging.getLogger(__name__)

Kind = Literal["strategies", "models", "benchmarks"]
KINDS: tuple[Kind, ...] = ("strategies", "models", "benchmarks")
GROUP_PREFIX = "gapwatch."
# Comma-separated entry-point names or distribution names left out of discovery; "*" leaves out
# every component that gapwatch itself does not ship. For a worker that must not run a plugin,
# and for generating the dashboard's API types from the built-ins only.
DISABLED_ENV = "GAPWATCH_PLUGINS_DISABLED"
BUILTIN_DISTRIBUTION = "gapwatch"


@dataclass(frozen=True)
class Component:
    """One strategy, model or benchmark that a run spec may name.

    Attributes:
        kind: "strategies", "models" or "benchmarks".
        name: The value of the spec's `name` field.
        spec_class: The pydantic class that validates that part of a run spec.
        distribution: The package that declared it ("gapwatch" for the built-ins).
    """

    kind: Kind
    name: str
    spec_class: type
    distribution: str

    @property
    def builtin(self) -> bool:
        return self.distribution == BUILTIN_DISTRIBUTION


@dataclass(frozen=True)
class Problem:
    """A declared component that was left out, and why (shown by `gapwatch plugins`)."""

    kind: Kind
    name: str
    distribution: str
    error: str


_problems: list[Problem] = []


def problems() -> list[Problem]:
    """The components that failed to load in this process."""
    return list(_problems)


def spec_names(spec_class: type) -> tuple[str, ...]:
    """The values that a spec class's `name` Literal allows (DER's class allows two)."""
    fields = getattr(spec_class, "model_fields", None)
    if not fields or "name" not in fields:
        raise TypeError(f"{spec_class.__qualname__} has no `name` field")
    annotation = fields["name"].annotation
    if typing.get_origin(annotation) is not Literal:
        raise TypeError(f"{spec_class.__qualname__}.name must be a Literal of its names")
    return tuple(str(value) for value in typing.get_args(annotation))


def _normalized(name: str) -> str:
    """A distribution or entry-point name as packaging compares them (PEP 503): case, and runs
    of "-", "_" and "." do not matter."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _disabled() -> set[str]:
    return {
        _normalized(p.strip()) for p in os.environ.get(DISABLED_ENV, "").split(",") if p.strip()
    }


def _distribution(entry: EntryPoint) -> str:
    dist = getattr(entry, "dist", None)
    return dist.metadata["Name"] if dist is not None else "unknown"


def _check(name: str, spec_class: Any, base: type) -> None:
    """Raises TypeError (or pydantic's error) if `spec_class` cannot be a component of the kind
    whose spec classes derive from `base`: the union and RunSpec are built from it next, and a
    class that breaks them would stop every process that imports gapwatch.spec."""
    from pydantic import BaseModel, TypeAdapter

    if not isinstance(spec_class, type) or not issubclass(spec_class, BaseModel):
        raise TypeError(f"entry point {name!r} must name a pydantic model class")
    if not issubclass(spec_class, base):
        raise TypeError(
            f"{spec_class.__qualname__} must derive from gapwatch.components.{base.__name__}"
        )
    missing = [f for f in getattr(base, "required_fields", ()) if f not in spec_class.model_fields]
    if missing:
        raise TypeError(f"{spec_class.__qualname__} lacks the field(s) {', '.join(missing)}")
    if name not in spec_names(spec_class):
        raise TypeError(
            f"entry point {name!r} names {spec_class.__qualname__}, whose name field allows "
            f"{list(spec_names(spec_class))}"
        )
    implementation = getattr(spec_class, "implementation", None)
    if not isinstance(implementation, str) or ":" not in implementation:
        raise TypeError(
            f"{spec_class.__qualname__}.implementation must be 'module:attribute' (the code "
            "the worker runs)"
        )
    # A class whose annotations cannot be resolved fails here, not in RunSpec.model_rebuild().
    spec_class.model_rebuild(force=True)
    TypeAdapter(spec_class).json_schema()


def discover(kind: Kind, builtins: Sequence[type], base: type) -> list[Component]:
    """Every component of `kind`, one per name: the built-ins in their given order, then the
    plugins by name. A plugin class is left out whole (and recorded in `problems()`) if it fails
    to load or to check, or if any of its names is already taken.

    Args:
        kind: Which entry-point group ("gapwatch.<kind>") to read.
        builtins: gapwatch's own spec classes of that kind (its own entry points, which
            declare the same classes, are not loaded).
        base: The class every spec class of that kind derives from.
    """
    disabled = _disabled()
    found: dict[str, Component] = {}
    # The built-ins come from gapwatch's own classes: its entry points declare the same ones
    # (a test keeps the two equal), and stale install metadata must not decide them.
    for spec_class in builtins:
        for name in spec_names(spec_class):
            found[name] = Component(kind, name, spec_class, BUILTIN_DISTRIBUTION)
    for entry in sorted(entry_points(group=GROUP_PREFIX + kind), key=lambda e: e.name):
        distribution = _distribution(entry)
        if distribution == BUILTIN_DISTRIBUTION:
            continue
        if "*" in disabled or {_normalized(entry.name), _normalized(distribution)} & disabled:
            continue
        try:
            spec_class = entry.load()
            _check(entry.name, spec_class, base)
            names = spec_names(spec_class)
            taken = [n for n in names if n in found and found[n].spec_class is not spec_class]
            if taken:
                owners = ", ".join(f"{n!r} ({found[n].distribution})" for n in taken)
                raise TypeError(f"its name is taken: {owners}")
        except Exception as error:  # noqa: BLE001 - a broken plugin must not stop the service
            _record(kind, entry.name, distribution, f"{type(error).__name__}: {error}")
            continue
        for name in names:
            found[name] = Component(kind, name, spec_class, distribution)
    order = {cls: index for index, cls in enumerate(builtins)}
    return sorted(
        found.values(),
        key=lambda c: (not c.builtin, order.get(c.spec_class, 0), c.name),
    )


def _record(kind: Kind, name: str, distribution: str, error: str) -> None:
    error = (error.strip().splitlines() or [""])[0]  # one line: pydantic's errors run on
    log.warning("gapwatch plugin %s %r from %s left out: %s", kind, name, distribution, error)
    _problems.append(Problem(kind, name, distribution, error))


def distinct_classes(components: Sequence[Component]) -> tuple[type, ...]:
    """The spec classes of `components`, each once (one class may carry several names)."""
    seen: dict[type, None] = {}
    for component in components:
        seen.setdefault(component.spec_class, None)
    return tuple(seen)


def union_of(components: list[Component]) -> Any:
    """The discriminated union (on `name`) of the components' spec classes.

    A plugin class that the union still cannot take is dropped from `components` (in place)
    and recorded, so that one plugin never stops gapwatch.spec from importing.
    """
    from pydantic import Field, TypeAdapter

    def build(classes: tuple[type, ...]) -> Any:
        union = Annotated[Union[classes], Field(discriminator="name")]  # noqa: UP007
        TypeAdapter(union).json_schema()
        return union

    try:
        return build(distinct_classes(components))
    except Exception:  # noqa: BLE001 - find the plugin at fault below
        pass
    accepted = [c for c in components if c.builtin]
    for component in [c for c in components if not c.builtin]:
        try:
            build(distinct_classes([*accepted, component]))
        except Exception as error:  # noqa: BLE001
            _record(component.kind, component.name, component.distribution, str(error))
            continue
        accepted.append(component)
    components[:] = accepted
    return build(distinct_classes(accepted))


def load_implementation(spec: Any) -> Any:
    """Imports what a spec's class names as its `implementation` ("module:attribute").

    Raises:
        ImportError: If the module or the attribute is missing, naming the package to install.
    """
    target: str = type(spec).implementation
    module_name, _, attribute = target.partition(":")
    try:
        module = importlib.import_module(module_name)
        found = module
        for part in attribute.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError) as error:
        raise ImportError(
            f"{type(spec).__qualname__} {spec.name!r}: cannot import its implementation "
            f"{target} ({error})"
        ) from error
    return found
