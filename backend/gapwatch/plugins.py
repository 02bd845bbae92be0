"""Strategies, models and benchmarks found through Python entry points.

A package adds a component by declaring, in its own pyproject.toml,

    [project.entry-points."gapwatch.strategies"]
    er_cosine = "my_package.er_cosine:ERCosineSpec"

The entry point names a pydantic spec class (a subclass of `gapwatch.spec.ComponentSpec`) whose
`name` field is a Literal holding the entry point's name, and whose `implementation` class
variable says, as "module:attribute", where the worker finds the code that builds it. The spec
class is all the API needs: it validates runs, and the JSON schema (and so the dashboard's form)
shows its options and bounds. Only a worker imports the implementation, when a run names it.

The built-ins are declared the same way, in gapwatch's own pyproject.toml. A source tree that was
never installed has no entry-point metadata; its built-ins are then taken from the list that
`gapwatch.spec` passes in, so nothing depends on how gapwatch was installed.

A plugin that fails to load (an import error, a class that breaks the rules above) is left out
with a warning and listed in `problems()`; the service starts without it. A plugin may import
`gapwatch.spec` for its base classes: discovery runs after those are defined.

This module imports no torch and no server: the API, the SDK and the worker all read it.
"""

from __future__ import annotations

import importlib
import logging
import os
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Literal

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


def _disabled() -> set[str]:
    return {p.strip() for p in os.environ.get(DISABLED_ENV, "").split(",") if p.strip()}


def _distribution(entry: EntryPoint) -> str:
    dist = getattr(entry, "dist", None)
    return dist.metadata["Name"] if dist is not None else "unknown"


def _check(kind: Kind, name: str, spec_class: Any) -> None:
    from pydantic import BaseModel

    if not isinstance(spec_class, type) or not issubclass(spec_class, BaseModel):
        raise TypeError(f"entry point {name!r} must name a pydantic model class")
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


def discover(kind: Kind, builtins: Sequence[type]) -> list[Component]:
    """Every component of `kind`: the built-ins in their given order, then plugins by name.

    Args:
        kind: Which entry-point group ("gapwatch.<kind>") to read.
        builtins: gapwatch's own spec classes of that kind; used for any built-in whose entry
            point is missing (a source tree that was never installed).
    """
    disabled = _disabled()
    found: dict[str, Component] = {}
    # gapwatch's own entry points first, so that a plugin reusing a built-in's name is the one
    # reported, whatever the order of the environment's directories.
    entries = sorted(
        entry_points(group=GROUP_PREFIX + kind),
        key=lambda e: (_distribution(e) != BUILTIN_DISTRIBUTION, e.name),
    )
    for entry in entries:
        distribution = _distribution(entry)
        builtin = distribution == BUILTIN_DISTRIBUTION
        if not builtin and ("*" in disabled or entry.name in disabled or distribution in disabled):
            continue
        if entry.name in found:
            _record(kind, entry.name, distribution, "another package already declared it")
            continue
        try:
            spec_class = entry.load()
            _check(kind, entry.name, spec_class)
        except Exception as error:  # noqa: BLE001 - a broken plugin must not stop the service
            _record(kind, entry.name, distribution, f"{type(error).__name__}: {error}")
            continue
        found[entry.name] = Component(kind, entry.name, spec_class, distribution)
    for spec_class in builtins:
        for name in spec_names(spec_class):
            if name not in found or not found[name].builtin:
                if name in found:  # a plugin may not take a built-in's name
                    _record(kind, name, found[name].distribution, "a built-in has that name")
                found[name] = Component(kind, name, spec_class, BUILTIN_DISTRIBUTION)
    order = {cls: index for index, cls in enumerate(builtins)}
    return sorted(
        found.values(),
        key=lambda c: (not c.builtin, order.get(c.spec_class, 0), c.name),
    )


def _record(kind: Kind, name: str, distribution: str, error: str) -> None:
    log.warning("gapwatch plugin %s %r from %s left out: %s", kind, name, distribution, error)
    _problems.append(Problem(kind, name, distribution, error))


def distinct_classes(components: Sequence[Component]) -> tuple[type, ...]:
    """The spec classes of `components`, each once (one class may carry several names)."""
    seen: dict[type, None] = {}
    for component in components:
        seen.setdefault(component.spec_class, None)
    return tuple(seen)


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
