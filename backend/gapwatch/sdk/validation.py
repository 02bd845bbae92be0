"""What the SDK checks at the call, so that a bad point is a clear error in the training loop
and never a 422 that fails the sender minutes later. The bounds are the server's: both
take them from `gapwatch.spec`. The error text's bound is the client's
(`gapwatch.client.MAX_ERROR_CHARS`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import operator
import re
from collections.abc import Mapping, Sequence
from pathlib import PurePath
from typing import Any

from gapwatch.components import (
    EVENT_KIND_PATTERN,
    MAX_CONFIG_BYTES,
    MAX_CONFIG_DEPTH,
    MAX_CONFIG_KEY_CHARS,
    MAX_PAYLOAD_CHARS,
    MAX_STEP,
    METRIC_KEY_PATTERN,
    PROJECT_NAME_PATTERN,
    check_json,
)
from gapwatch.components import MAX_METRIC_KEY_CHARS as MAX_KEY_CHARS

MAX_NAME_CHARS = 200
MAX_TAGS = 32
MAX_TAG_CHARS = 64
# Heartbeat progress takes any metric step (64-bit columns since the server's revision 0006).
MAX_PROGRESS_STEP = MAX_STEP

_KEY = re.compile(METRIC_KEY_PATTERN)
_KIND = re.compile(EVENT_KIND_PATTERN)
_PROJECT = re.compile(PROJECT_NAME_PATTERN)


def check_step(step: object) -> int:
    """`step` as an int in [0, 2**53]; bools and floats (even 3.0) are refused, numpy and
    other integer types accepted."""
    if isinstance(step, bool) or isinstance(step, float):
        raise TypeError(f"step must be an int, not {type(step).__name__} {step!r}")
    try:
        value = operator.index(step)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"step must be an int, not {type(step).__name__}") from None
    if not 0 <= value <= MAX_STEP:
        raise ValueError(f"step {value} is outside [0, 2**53]")
    return value


def check_key(key: object) -> str:
    if not isinstance(key, str):
        raise TypeError(f"a metric key must be a str, not {type(key).__name__}")
    if not _KEY.match(key):
        raise ValueError(
            f"metric key {key[:60]!r} must be 1 to {MAX_KEY_CHARS} characters of letters, "
            "digits and _ . / - (not starting with . / -)"
        )
    return key


def check_value(key: str, value: object, step: int) -> float:
    """`value` as a finite float; text is refused even where float() would read it."""
    if isinstance(value, str | bytes) or value is None:
        raise TypeError(f"{key} at step {step} must be a number, not {type(value).__name__}")
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise TypeError(
            f"{key} at step {step} must be a number, not {type(value).__name__}"
        ) from None
    if not math.isfinite(number):
        raise ValueError(f"{key} is {number} at step {step}: only finite values are stored")
    return number


def check_task(task: object) -> int:
    if isinstance(task, bool):
        raise TypeError("task must be an int index, not a bool")
    try:
        index = operator.index(task)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"task must be an int index, not {type(task).__name__}") from None
    if index < 0:
        raise ValueError(f"task must be >= 0, not {index}")
    return index


def check_event(kind: object, payload: Mapping[str, Any] | None) -> dict[str, Any]:
    """The payload as plain JSON (a copy); refuses a kind or a payload the server would."""
    if not isinstance(kind, str) or not _KIND.match(kind):
        raise ValueError(
            f"event kind {kind!r} must be 1 to 64 characters of a-z, 0-9, _ . - "
            "(starting with a letter or _)"
        )
    if payload is not None and not isinstance(payload, Mapping):
        raise TypeError(f"an event payload must be a mapping, not {type(payload).__name__}")
    plain = as_json(dict(payload or {}), "event payload")
    # The server measures the payload as Python's repr of the parsed JSON.
    if len(repr(plain)) > MAX_PAYLOAD_CHARS:
        raise ValueError(f"event payload larger than {MAX_PAYLOAD_CHARS} characters")
    check_json(plain, "event payload")
    return plain


def check_config(config: object) -> dict[str, Any]:
    """A run's config as a plain JSON object of at most 32 KiB: a mapping, an
    argparse.Namespace or a dataclass instance; numpy scalars, paths, tuples and sets are
    converted, anything else JSON cannot hold is refused naming where it is."""
    if config is None:
        return {}
    if isinstance(config, argparse.Namespace):
        config = vars(config)
    elif dataclasses.is_dataclass(config) and not isinstance(config, type):
        config = dataclasses.asdict(config)
    if not isinstance(config, Mapping):
        raise TypeError(f"config must be a mapping, not {type(config).__name__}")
    plain = as_json(dict(config), "config")
    check_json(plain, "config", max_depth=MAX_CONFIG_DEPTH, max_key=MAX_CONFIG_KEY_CHARS)
    size = len(json.dumps(plain, separators=(",", ":")).encode())
    if size > MAX_CONFIG_BYTES:
        raise ValueError(f"config is {size} bytes as JSON; at most {MAX_CONFIG_BYTES}")
    return plain


def as_json(value: dict[str, Any], what: str) -> dict[str, Any]:
    """`value` converted to what JSON holds, through a round trip (a copy the caller cannot
    change afterwards)."""
    try:
        text = json.dumps(value, default=_jsonable, allow_nan=False)
    except ValueError as error:  # NaN or infinity
        raise ValueError(f"{what}: {error}") from None
    except TypeError as error:
        raise TypeError(f"{what}: {error}") from None
    result: dict[str, Any] = json.loads(text)
    return result


def _jsonable(value: object) -> Any:
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    item = getattr(value, "item", None)  # numpy and torch scalars
    if callable(item):
        return item()
    raise TypeError(f"{type(value).__name__} {value!r:.60} is not JSON")


def check_run_fields(
    project: str | None, name: str | None, group: str | None, tags: Sequence[str] | None
) -> list[str]:
    """Refuse at init what the server would refuse; returns the tags as a list."""
    if project is not None and (not isinstance(project, str) or not _PROJECT.match(project)):
        raise ValueError(f"project {project!r} must match {PROJECT_NAME_PATTERN}")
    for field, text in (("name", name), ("group", group)):
        if text is not None and (
            not isinstance(text, str) or not 1 <= len(text) <= MAX_NAME_CHARS or "\x00" in text
        ):
            raise ValueError(f"{field} must be a str of 1 to {MAX_NAME_CHARS} characters")
        if text is not None:
            check_json(text, field)
    if isinstance(tags, str):
        raise TypeError("tags must be a list of str, not one str")
    listed = list(tags or [])
    if len(listed) > MAX_TAGS:
        raise ValueError(f"{len(listed)} tags; at most {MAX_TAGS}")
    for tag in listed:
        if not isinstance(tag, str) or not 1 <= len(tag) <= MAX_TAG_CHARS:
            raise ValueError(f"tag {tag!r} must be a str of 1 to {MAX_TAG_CHARS} characters")
        check_json(tag, "tag")
    return listed
